import Testing

@testable import WebSockets

/// A ``StreamSocketListener`` on loopback with a task that serves each accepted connection in
/// turn with `serve` (an echo by default); torn down by closing the listener, cancelling the task
/// (which resets a connection still being served) and awaiting it.
final class StreamSocketServer: ScopedTeardown, Sendable {
    let listener: StreamSocketListener
    private let task: Task<Void, Never>

    init(
        address: String = "127.0.0.1", control: StreamSocketControl = .init(), tls: TLSServerConfiguration? = nil,
        serve: @escaping @Sendable (StreamSocket) async throws -> Void = StreamSocketServer.echo
    ) async throws {
        let listener = try await StreamSocketListener.bind(port: 0, address: address, control: control, tls: tls)
        self.listener = listener
        task = Task {
            do {
                for try await socket in listener.connections {
                    try? await serve(socket)
                    await socket.close()
                }
            } catch {}
        }
    }

    /// Echoes every byte until the peer ends its side, then ends this side.
    static func echo(_ socket: StreamSocket) async throws {
        for try await chunk in socket.chunks() { try await socket.write(chunk) }
        try await socket.shutdownWrite()
    }

    var endpoint: SocketEndpoint { listener.localEndpoint }

    func tearDown() async {
        listener.close()
        task.cancel()
        await task.value
    }
}

extension StreamSocket {
    /// Reads until the peer ends its side; returns everything read.
    func readToEnd() async throws -> [UInt8] {
        var bytes: [UInt8] = []
        for try await chunk in chunks() { bytes += chunk }
        return bytes
    }
}

/// A connected client with awaited teardown: runs `body`, then closes the socket either way.
func withStreamSocket<Result>(
    isolation: isolated (any Actor)? = #isolation,
    host: String, port: Int, tls: Bool = false, control: StreamSocketControl = .init(),
    _ body: (StreamSocket) async throws -> Result
) async throws -> Result {
    let socket = StreamSocket(control: control)
    try await socket.connect(host: host, port: port, tls: tls)
    return try await withTeardown(socket, tearDown: { await $0.close() }, body)
}

/// Expects `body` to throw a ``SocketError`` with `status`; returns it.
@discardableResult
func expectSocketError(
    _ status: SocketError.Status, sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> Void
) async -> SocketError? {
    do {
        try await body()
        Issue.record("expected SocketError \(status), nothing was thrown", sourceLocation: sourceLocation)
    } catch let error as SocketError {
        #expect(error.status == status, "\(error)", sourceLocation: sourceLocation)
        return error
    } catch {
        Issue.record("expected SocketError \(status), got \(error)", sourceLocation: sourceLocation)
    }
    return nil
}
