import Foundation
import WebSockets

/// `websocket URL --stream [--protocol P]... [--header 'Name: value']... [--open-timeout S]
/// [--close-timeout S] [--ping-interval S [--pong-timeout S]] [TLS options] [--user USER:PASS]
/// [--max-redirects N] [--verbose]`
///
/// A byte pipe through ``StreamWebSocket`` (like `websocat --binary`): each read from stdin (up
/// to 64 KiB) is written as one binary message; received bytes go to stdout unchanged, with no
/// framing and nothing else on stdout. At stdin EOF the client closes with 1000 and exits 0 once
/// the close handshake completed (`closed <code> <reason>` on stderr); any failure prints
/// `error <status>: <message>` on stderr and exits 1 (a text message from the peer is one:
/// `error protocolViolation(1003): ...`).
enum StreamClientCommand {
    static func run(_ arguments: Arguments, url: String) async -> Int32 {
        do {
            try arguments.rejectUnknown(
                ([
                    "stream", "protocol", "header", "open-timeout", "close-timeout",
                    "ping-interval", "pong-timeout", "ca-file", "client-cert", "client-key", "pin-sha256",
                    "ignore-cert-error", "verbose",
                ] as Set<String>).union(NetworkOptions.names))
            var shared = MessageWebSocketControl()
            try TLSOptions.apply(arguments, to: &shared)
            try NetworkOptions.apply(arguments, to: &shared)
            var control = StreamWebSocketControl(sharing: shared)
            control.supportedProtocols = arguments.all("protocol")
            if let timeout = try arguments.seconds("open-timeout") { control.openTimeout = timeout }
            if let timeout = try arguments.seconds("close-timeout") { control.closeTimeout = timeout }
            control.pingInterval = try arguments.seconds("ping-interval")
            control.pongTimeout = try arguments.seconds("pong-timeout")
            if arguments.flag("verbose") {
                control.eventHandler = { event in Output.err("event \(event.level) \(event)") }
            }
            let socket = StreamWebSocket(control: control)
            try await ClientCommand.forEachHeader(in: arguments) { try await socket.setRequestHeader($0, $1) }
            try await socket.connect(to: url)

            try await ClientCommand.converse(
                send: {
                    let stdin = StandardInput.chunks()
                    for await chunk in stdin.stream {
                        try await socket.write(chunk)
                        stdin.taken.signal()
                    }
                    try await socket.close(code: .normalClosure)
                },
                receive: {
                    for try await chunk in socket.input {
                        guard StandardOutput.writeAll(chunk) else {
                            throw CLIError("cannot write to stdout")
                        }
                    }
                })
            return try ClientCommand.exitStatus(closeStatus: await socket.closeStatus)
        } catch {
            Output.fail(error)
        }
    }
}

extension StandardInput {
    /// Standard input as raw chunks of up to 64 KiB, read on a dedicated thread. The thread reads
    /// the next chunk only once the consumer signalled `taken` for the previous one, so a slow
    /// connection holds stdin back instead of buffering it.
    static func chunks() -> (stream: AsyncStream<[UInt8]>, taken: DispatchSemaphore) {
        let (stream, continuation) = AsyncStream.makeStream(of: [UInt8].self, bufferingPolicy: .unbounded)
        let taken = DispatchSemaphore(value: 0)
        let thread = Thread {
            var buffer = [UInt8](repeating: 0, count: 64 * 1024)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(STDIN_FILENO, $0.baseAddress!, $0.count) }
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else { break }
                continuation.yield(Array(buffer[..<count]))
                taken.wait()  // the consumer signals once it wrote the chunk
            }
            continuation.finish()
        }
        thread.start()
        return (stream, taken)
    }
}
