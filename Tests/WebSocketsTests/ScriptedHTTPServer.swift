import Synchronization
import WebSocketServer

@testable import WebSockets

/// A real server on loopback (our `WebSocketListener`, TLS optional) whose answer to each
/// upgrade request is scripted: any HTTP status with any headers (redirects, 401 challenges, 503
/// with `Retry-After`), or a real WebSocket upgrade that greets with `greeting` and then echoes.
/// Records every request it saw, in order.
final class ScriptedHTTPServer: Sendable, ScopedTeardown {
    enum Answer: Sendable {
        /// Refuse with this status and these headers (the listener adds `Content-Length` etc.).
        case status(Int, [(String, String)])
        /// Accept the upgrade, send `greeting` if any, then echo until the client closes.
        case accept(greeting: String?)
        /// Accept, send `greeting`, then close at once with `code`.
        case acceptAndClose(greeting: String?, code: CloseCode)

        static let accept = Answer.accept(greeting: nil)
    }

    let listener: WebSocketListener
    private let recorded = Lock<[UpgradeRequest]>([])
    private let serving = Lock<Task<Void, Never>?>(nil)

    /// The requests seen so far.
    var requests: [UpgradeRequest] { recorded.withLock { $0 } }

    /// Binds 127.0.0.1 (`port` 0: the kernel's choice) and answers each request with
    /// `answer(request, index)`, `index` counting from 0.
    init(
        tls: TLSServerConfiguration? = nil, port: Int = 0,
        _ answer: @escaping @Sendable (UpgradeRequest, Int) -> Answer
    ) async throws {
        var configuration = WebSocketServerConfiguration()
        configuration.port = port
        configuration.tls = tls
        listener = try await WebSocketListener.bind(configuration: configuration)
        let listener = listener
        let task = Task { [self] in
            await withTaskGroup(of: Void.self) { group in
                for await upgrade in listener {
                    let index = self.recorded.withLock {
                        $0.append(upgrade.request)
                        return $0.count - 1
                    }
                    switch answer(upgrade.request, index) {
                    case .status(let status, let headers):
                        await upgrade.reject(status: status, headers: headers)
                    case .accept(let greeting):
                        group.addTask {
                            guard let socket = try? await upgrade.accept() else { return }
                            if let greeting { try? await socket.send(.text(greeting)) }
                            do {
                                for try await message in socket.messages { try await socket.send(message) }
                            } catch {}
                        }
                    case .acceptAndClose(let greeting, let code):
                        group.addTask {
                            guard let socket = try? await upgrade.accept() else { return }
                            if let greeting { try? await socket.send(.text(greeting)) }
                            try? await socket.close(code: code, reason: "scripted")
                        }
                    }
                }
            }
        }
        serving.withLock { $0 = task }
    }

    var port: Int { listener.port }

    /// `ws://127.0.0.1:<port><path>` (`wss://` with TLS).
    func url(_ path: String = "/", host: String = "127.0.0.1") -> String {
        "\(listener.configuration.tls == nil ? "ws" : "wss")://\(host):\(port)\(path)"
    }

    /// Shuts the listener down (closing accepted connections with 1001) and waits for the script.
    func tearDown() async {
        await listener.shutDown()
        await serving.withLock { $0 }?.value
    }
}
