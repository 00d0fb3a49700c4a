import Foundation
import WebSockets

/// `websocket tcp HOST PORT [--tls] [--ca-file PATH]...` and `websocket tcp --listen PORT`
///
/// A byte pipe through ``StreamSocket`` (like `nc`): stdin goes to the socket and the socket to
/// stdout, unchanged, with nothing else on stdout. At stdin EOF the command half-closes its side
/// (FIN, `close_notify` first with TLS) and keeps reading; it exits 0 once the peer has ended its
/// side too. Any failure prints `error <status>: <message>` on stderr (the status is a
/// ``SocketError/Status``: `error connectionRefused: connect to 127.0.0.1:9: Connection refused`)
/// and exits 1.
///
/// `--listen PORT` listens on 127.0.0.1 (PORT 0: the system chooses), prints
/// `listening 127.0.0.1:PORT` on stderr, accepts one connection, stops listening, and does the same.
enum TCPCommand {
    static let usage = """
               websocket tcp HOST PORT [--tls] [--ca-file PATH]...
               websocket tcp --listen PORT
        """

    static func run(_ arguments: Arguments) async -> Int32 {
        do {
            try arguments.rejectUnknown(["tls", "ca-file", "listen"])
            let socket: StreamSocket
            if let listen = try arguments.int("listen") {
                guard arguments.positionals.isEmpty, !arguments.flag("tls"), arguments.all("ca-file").isEmpty else {
                    throw CLIError("tcp --listen PORT takes no host, port or TLS option\n\(usage)")
                }
                let listener = try await StreamSocketListener.bind(port: listen, address: "127.0.0.1")
                Output.err("listening \(listener.localEndpoint)")
                socket = try await listener.accept()
                listener.close()
            } else {
                guard arguments.positionals.count == 2, let port = Int(arguments.positionals[1]) else {
                    throw CLIError("expected HOST PORT\n\(usage)")
                }
                var control = StreamSocketControl()
                control.tls.additionalTrustRoots = arguments.all("ca-file").map { .pemFile($0) }
                socket = StreamSocket(control: control)
                try await socket.connect(host: arguments.positionals[0], port: port, tls: arguments.flag("tls"))
            }
            try await pipe(socket)
            await socket.close()
            return 0
        } catch {
            Output.fail(error)
        }
    }

    /// Copies stdin to `socket` (half-closing at EOF) and `socket` to stdout, until both ended.
    private static func pipe(_ socket: StreamSocket) async throws {
        let sender = Task {
            let stdin = StandardInput.chunks()
            for await chunk in stdin.stream {
                try await socket.write(chunk)
                stdin.taken.signal()
            }
            try await socket.shutdownWrite()
        }
        do {
            for try await chunk in socket.chunks() {
                guard StandardOutput.writeAll(chunk) else { throw CLIError("cannot write to stdout") }
            }
            try await sender.value
        } catch {
            sender.cancel()
            throw error
        }
    }
}

enum StandardOutput {
    /// Writes all of `bytes` to stdout (retrying short writes and EINTR); `false` when it failed.
    static func writeAll(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = write(STDOUT_FILENO, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 && errno == EINTR { continue }
                guard written > 0 else { return false }
                offset += written
            }
            return true
        }
    }
}
