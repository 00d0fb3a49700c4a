import Synchronization
import WebSockets

/// `websocket URL --reconnect`: the client of ``ClientCommand``, reconnecting whenever the
/// connection ends (``ReconnectingMessageWebSocket`` with the default ``ReconnectPolicy``) until
/// stdin ends.
///
/// Stdin lines go to the socket connected at the time (a line read while reconnecting is
/// dropped). Each ending that leads to a reconnection prints `reconnecting after <status>:
/// <message>` (a failure) or `reconnecting after close <code> <reason>` (a close handshake) on
/// stderr. At stdin EOF the client closes with 1000 and exits as without `--reconnect`; a failure
/// that is not retried prints `error <status>: <message>` (exit 1).
enum ReconnectingClient {
    static func run(
        url: String, control: MessageWebSocketControl, headers: [(name: String, value: String)], binary: Bool
    ) async throws -> Int32 {
        let current = Mutex<MessageWebSocket?>(nil)
        let inputEnded = Atomic<Bool>(false)
        let sender = Task {
            for await line in StandardInput.lines() {
                guard let socket = current.withLock({ $0 }) else { continue }
                if binary {
                    try? await socket.send(.binary(Array(line.utf8)))
                } else {
                    try? await socket.send(text: line)
                }
            }
            inputEnded.store(true, ordering: .sequentiallyConsistent)
            try? await current.withLock({ $0 })?.close(code: .normalClosure)
        }
        defer { sender.cancel() }
        for try await socket in ReconnectingMessageWebSocket(url: url, control: control, requestHeaders: headers) {
            current.withLock { $0 = socket }
            if inputEnded.load(ordering: .sequentiallyConsistent) { try? await socket.close(code: .normalClosure) }
            do {
                for try await message in socket.messages {
                    switch message {
                    case .text(let text): Output.out(text)
                    case .binary(let bytes): Output.out(Output.describeBinary(bytes))
                    }
                }
            } catch {
                Output.err("reconnecting after \(error)")
                continue
            }
            if inputEnded.load(ordering: .sequentiallyConsistent) {
                return try ClientCommand.exitStatus(closeStatus: await socket.closeStatus)
            }
            let status = await socket.closeStatus
            Output.err("reconnecting after close \(status.map { "\($0.code.rawValue) \($0.reason)" } ?? "(none)")")
        }
        return 1
    }
}
