import Foundation
import WebSockets

/// `websocket URL [--protocol P]... [--header 'Name: value']... [--binary] [--max-message-size N]
/// [--open-timeout S] [--close-timeout S] [--ping-interval S [--pong-timeout S]] [--ca-file PATH]
/// [--client-cert PATH --client-key PATH] [--pin-sha256 HEX] [--ignore-cert-error NAME]...
/// [--user USER:PASS] [--max-redirects N] [--proxy URL | --no-proxy] [--reconnect] [--verbose]`
///
/// Every stdin line is sent as one message (binary with `--binary`); every received text message
/// is printed as one line, binary ones as `binary <N> bytes <hex of the first 32 bytes>`. At stdin
/// EOF the client closes with 1000 and waits for the close handshake. A close prints
/// `closed <code> <reason>` on stderr (exit 0); any failure `error <status>: <message>` (exit 1).
/// `--verbose` also prints every ``WebSocketEvent`` on stderr as `event <level> #<connection> <what>`
/// (for example `event info #1 connected to 127.0.0.1:8080, plain`); stdout is unchanged.
/// `--stream` pipes raw bytes instead (``StreamClientCommand``). `--user` answers a `401` (HTTP
/// Basic) once, `--max-redirects` bounds the redirects followed (default 5, 0 follows none),
/// `--reconnect` keeps reconnecting (``ReconnectingClient``).
enum ClientCommand {
    static let usage = """
        usage: websocket URL [--protocol P]... [--header 'Name: value']... [--binary]
                             [--max-message-size N] [--open-timeout S] [--close-timeout S]
                             [--ping-interval S [--pong-timeout S]] [--ca-file PATH] [--client-cert PATH --client-key PATH]
                             [--pin-sha256 HEX] [--ignore-cert-error NAME]... [--user USER:PASS]
                             [--max-redirects N] [--proxy URL | --no-proxy] [--reconnect] [--verbose]
               websocket URL --stream [--protocol P]... [--header 'Name: value']... [--open-timeout S]
                             [--close-timeout S] [--ping-interval S [--pong-timeout S]] [TLS options as above]
                             [--user USER:PASS] [--max-redirects N] [--proxy URL | --no-proxy] [--verbose]
        """

    static func run(_ arguments: Arguments) async -> Int32 {
        if arguments.flag("stream") {
            guard arguments.positionals.count == 1, let url = arguments.positionals.first else {
                Output.fail(CLIError("expected exactly one URL\n\(usage)"))
            }
            return await StreamClientCommand.run(arguments, url: url)
        }
        do {
            try arguments.rejectUnknown(
                ([
                    "protocol", "header", "binary", "max-message-size", "open-timeout", "close-timeout",
                    "ping-interval", "pong-timeout", "ca-file", "client-cert", "client-key", "pin-sha256", "ignore-cert-error",
                    "verbose", "reconnect",
                ] as Set<String>).union(NetworkOptions.names))
            guard arguments.positionals.count == 1, let url = arguments.positionals.first else {
                throw CLIError("expected exactly one URL\n\(usage)")
            }
            var control = MessageWebSocketControl()
            try NetworkOptions.apply(arguments, to: &control)
            control.supportedProtocols = arguments.all("protocol")
            if let size = try arguments.int("max-message-size") { control.maxMessageSize = size }
            if let timeout = try arguments.seconds("open-timeout") { control.openTimeout = timeout }
            if let timeout = try arguments.seconds("close-timeout") { control.closeTimeout = timeout }
            control.pingInterval = try arguments.seconds("ping-interval")
            control.pongTimeout = try arguments.seconds("pong-timeout")
            try TLSOptions.apply(arguments, to: &control)
            if arguments.flag("verbose") {
                // One unbuffered write per event: ordered, and never held back in a buffer.
                control.eventHandler = { event in Output.err("event \(event.level) \(event)") }
            }
            let binary = arguments.flag("binary")
            if arguments.flag("reconnect") {
                var headers: [(name: String, value: String)] = []
                try await forEachHeader(in: arguments) { headers.append(($0, $1)) }
                return try await ReconnectingClient.run(url: url, control: control, headers: headers, binary: binary)
            }
            let socket = MessageWebSocket(control: control)
            try await forEachHeader(in: arguments) { try await socket.setRequestHeader($0, $1) }
            try await socket.connect(to: url)

            try await converse(
                send: {
                    for await line in StandardInput.lines() {
                        if binary {
                            try await socket.send(.binary(Array(line.utf8)))
                        } else {
                            try await socket.send(text: line)
                        }
                    }
                    try await socket.close(code: .normalClosure)
                },
                receive: {
                    for try await message in socket.messages {
                        switch message {
                        case .text(let text): Output.out(text)
                        case .binary(let bytes): Output.out(Output.describeBinary(bytes))
                        }
                    }
                })
            return try exitStatus(closeStatus: await socket.closeStatus)
        } catch {
            Output.fail(error)
        }
    }

    /// Runs `send` in a task of its own while `receive` runs here; the sender is cancelled once
    /// receiving ended, normally or not.
    static func converse(send: @escaping @Sendable () async throws -> Void, receive: () async throws -> Void) async throws {
        let sender = Task { try await send() }
        defer { sender.cancel() }
        try await receive()
    }

    /// Passes each `--header 'Name: value'` to `set`, in order, split at its first colon and trimmed.
    static func forEachHeader(in arguments: Arguments, _ set: (String, String) async throws -> Void) async throws {
        for header in arguments.all("header") {
            guard let colon = header.firstIndex(of: ":") else {
                throw CLIError("--header expects 'Name: value', got \"\(header)\"")
            }
            let name = header[..<colon].trimmingCharacters(in: .whitespaces)
            let value = header[header.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            try await set(name, value)
        }
    }

    /// After the receive loop ended normally: prints the peer's close status on stderr and returns
    /// 0; throws `.connectionAborted` when there was no close handshake.
    static func exitStatus(closeStatus: WebSocketCloseStatus?) throws -> Int32 {
        guard let status = closeStatus else {
            throw WebSocketError(.connectionAborted, "the connection ended without a close handshake")
        }
        Output.err("closed \(status.code.rawValue) \(status.reason)")
        return 0
    }
}

/// Standard input as an async sequence of lines, read on a dedicated thread so that a blocking
/// `readLine` never occupies a thread of Swift's cooperative pool.
enum StandardInput {
    static func lines() -> AsyncStream<String> {
        let (stream, continuation) = AsyncStream.makeStream(of: String.self, bufferingPolicy: .bufferingNewest(1024))
        let thread = Thread {
            while let line = readLine(strippingNewline: true) {
                continuation.yield(line)
            }
            continuation.finish()
        }
        thread.start()
        return stream
    }
}

/// The client's TLS options (`wss://`).
enum TLSOptions {
    static func apply(_ arguments: Arguments, to control: inout MessageWebSocketControl) throws {
        for path in arguments.all("ca-file") {
            control.additionalTrustRoots.append(.pemFile(path))
        }
        switch (arguments.string("client-cert"), arguments.string("client-key")) {
        case (nil, nil): break
        case (let certificate?, let key?): control.clientIdentity = .pemFiles(certificateChain: certificate, privateKey: key)
        default: throw CLIError("--client-cert and --client-key go together")
        }
        for name in arguments.all("ignore-cert-error") {
            guard let error = ChainValidationResult(rawValue: name), error != .success else {
                let names = ChainValidationResult.allCases.filter { $0 != .success }.map(\.rawValue)
                throw CLIError("--ignore-cert-error: unknown name \"\(name)\" (one of \(names.joined(separator: ", ")))")
            }
            control.ignorableServerCertificateErrors.insert(error)
        }
        if let hex = arguments.string("pin-sha256") {
            guard let pin = Certificate.parseSHA256(hex) else {
                throw CLIError("--pin-sha256 expects 64 hex digits (colons allowed), got \"\(hex)\"")
            }
            // Reject unless the server's own certificate has this SHA-256 (after default validation).
            control.serverCustomValidation = { request in
                request.serverCertificate.sha256Fingerprint == pin ? .accept : .reject
            }
        }
    }
}
