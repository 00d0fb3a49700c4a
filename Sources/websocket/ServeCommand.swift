import Foundation
import WebSocketServer
import WebSockets

/// `websocket serve [--port N] [--host H] [--tls-cert PATH --tls-key PATH] [--compression on|off]
/// [--compression-level 1...9]
/// [--mode message|fragment] [--max-message-size BYTES] [--ping-interval SECONDS]
/// [--max-connections N] [--max-concurrent-handshakes N] [--max-header-count N]
/// [--handshake-timeout SECONDS] [--idle-timeout SECONDS] [--executor loop|pool]`: the echo
/// server (`wss://` with a certificate chain and key; permessage-deflate accepted with the server
/// defaults unless `--compression off`; `--compression-level` sets zlib's level, default 6).
/// Prints `LISTENING <port>` once bound, then serves until interrupted (SIGINT/SIGTERM), when it
/// closes every connection with 1001.
///
/// `--mode message` (default) echoes whole messages; `--mode fragment` echoes through the
/// IIS-style fragment context, piece by piece as bytes arrive (64 KiB reads), without assembling
/// messages. `--max-message-size` defaults to 16 MiB here (the library's server default is IIS's
/// 4 MiB), so the Autobahn suite's 16 MiB messages are echoed. The other limits default to the
/// library's (``WebSocketServerConfiguration``). `--executor loop` (default) runs each connection's
/// echo loop on the event loop (``MessageWebSocket/eventLoopExecutor``: a round trip stays on one
/// thread, safe here because the echo never blocks); `pool` runs it on Swift's global pool, as a
/// plain `Task` does. The open-descriptor limit is raised to its hard
/// limit (`setrlimit`), so one server can hold as many connections as the system allows.
enum ServeCommand {
    static func run(_ arguments: Arguments) async -> Int32 {
        do {
            try arguments.rejectUnknown([
                "port", "host", "tls-cert", "tls-key", "compression", "mode",
                "max-message-size", "ping-interval", "max-connections",
                "max-concurrent-handshakes", "max-header-count", "handshake-timeout",
                "idle-timeout", "compression-level", "executor",
            ])
            var configuration = WebSocketServerConfiguration()
            configuration.port = try arguments.int("port") ?? 8080
            if let host = arguments.string("host") { configuration.host = host }
            switch (arguments.string("tls-cert"), arguments.string("tls-key")) {
            case (nil, nil): break
            case (let certificate?, let key?):
                configuration.tls = TLSServerConfiguration(identity: .pemFiles(certificateChain: certificate, privateKey: key))
            default: throw CLIError("--tls-cert and --tls-key go together")
            }
            switch arguments.string("compression") ?? "on" {
            case "on": configuration.compression = try arguments.compression(.serverDefault)
            case "off": configuration.compression = try arguments.compression(.disabled)
            default: throw CLIError("--compression must be on or off")
            }
            configuration.receiveBufferLimit = try arguments.int("max-message-size") ?? 16 * 1024 * 1024
            if let seconds = arguments.string("ping-interval") {
                guard let value = Double(seconds), value > 0 else {
                    throw CLIError("--ping-interval must be a positive number of seconds")
                }
                configuration.pingInterval = .milliseconds(Int64(value * 1000))
            }
            if let count = try arguments.int("max-connections") { configuration.maxConnections = count }
            if let count = try arguments.int("max-concurrent-handshakes") { configuration.maxConcurrentHandshakes = count }
            if let count = try arguments.int("max-header-count") { configuration.maxRequestHeaderCount = count }
            if let timeout = try arguments.seconds("handshake-timeout") { configuration.handshakeTimeout = timeout }
            if let timeout = try arguments.seconds("idle-timeout") { configuration.idleTimeout = timeout }
            let fragmentMode: Bool
            switch arguments.string("mode") ?? "message" {
            case "message": fragmentMode = false
            case "fragment": fragmentMode = true
            default: throw CLIError("--mode must be message or fragment")
            }
            let executor = try arguments.executor()
            ProcessResources.raiseDescriptorLimit()
            let listener = try await WebSocketListener.bind(configuration: configuration)
            Output.out("LISTENING \(listener.port)")
            let serving = Task {
                for await upgrade in listener {
                    Task(executorPreference: executor) {
                        fragmentMode ? await echoFragments(upgrade) : await echoMessages(upgrade)
                    }
                }
            }
            await Signals.waitForTermination()
            await listener.shutDown(timeout: .seconds(2))
            serving.cancel()
            return 0
        } catch {
            Output.fail(error)
        }
    }

    private static func echoMessages(_ upgrade: WebSocketUpgrade) async {
        guard let socket = try? await upgrade.accept() else { return }
        do {
            for try await message in socket.messages { try await socket.send(message) }
        } catch {}
        try? await socket.close()
    }

    private static func echoFragments(_ upgrade: WebSocketUpgrade) async {
        guard let context = try? await upgrade.acceptFragments() else { return }
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        do {
            while true {
                let read = try await context.readFragment(into: &buffer)
                if read.isConnectionClose { break }
                _ = try await context.writeFragment(
                    Array(buffer[..<read.byteCount]), isUTF8: read.isUTF8,
                    isFinalFragment: read.isFinalFragment)
            }
        } catch {}
        await context.closeTCPConnection()
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
        for source in sources { source.cancel() }
    }
}
