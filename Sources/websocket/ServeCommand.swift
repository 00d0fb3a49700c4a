import Foundation
import WebSocketServer
import WebSockets

/// `websocket serve [--port N] [--host H] [--tls-cert PATH --tls-key PATH] [--compression on|off]`:
/// the loopback echo server (`wss://` with a certificate chain and key; permessage-deflate accepted
/// with the server defaults unless `--compression off`). Prints `LISTENING <port>`
/// once bound, then serves until interrupted (SIGINT/SIGTERM).
enum ServeCommand {
    static func run(_ arguments: Arguments) async -> Int32 {
        do {
            try arguments.rejectUnknown(["port", "host", "tls-cert", "tls-key", "compression"])
            var configuration = WebSocketServer.Configuration()
            configuration.port = try arguments.int("port") ?? 8080
            if let host = arguments.string("host") { configuration.host = host }
            switch (arguments.string("tls-cert"), arguments.string("tls-key")) {
            case (nil, nil): break
            case (let certificate?, let key?):
                configuration.tls = TLSServerConfiguration(identity: .pemFiles(certificateChain: certificate, privateKey: key))
            default: throw CLIError("--tls-cert and --tls-key go together")
            }
            switch arguments.string("compression") ?? "on" {
            case "on": configuration.compression = .serverDefault
            case "off": configuration.compression = .disabled
            default: throw CLIError("--compression must be on or off")
            }
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
