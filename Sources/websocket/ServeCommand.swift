import Foundation
import WebSocketServer
import WebSockets

/// `websocket serve [--port N] [--host H]`: the loopback echo server. Prints `LISTENING <port>`
/// once bound, then serves until interrupted (SIGINT/SIGTERM).
enum ServeCommand {
    static func run(_ arguments: Arguments) async -> Int32 {
        do {
            try arguments.rejectUnknown(["port", "host"])
            var configuration = WebSocketServer.Configuration()
            configuration.port = try arguments.int("port") ?? 8080
            if let host = arguments.string("host") { configuration.host = host }
            configuration.runsHandlersOnEventLoop = true  // an echo handler never blocks
            let server = try await WebSocketServer.start(configuration: configuration) { socket in
                for try await message in socket.messages {
                    try await socket.send(message)
                }
            }
            Output.out("LISTENING \(server.port)")
            await Signals.waitForTermination()
            await server.shutDown(timeout: .seconds(2))
            return 0
        } catch {
            Output.fail(error)
        }
    }
}

/// Waits for SIGINT or SIGTERM.
enum Signals {
    static func waitForTermination() async {
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        let (stream, continuation) = AsyncStream.makeStream(of: Void.self)
        let sources = [SIGINT, SIGTERM].map { number in
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { continuation.yield() }
            source.resume()
            return source
        }
        for await _ in stream { break }
        sources.forEach { $0.cancel() }
    }
}
