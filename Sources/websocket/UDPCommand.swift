import WebSockets

/// `websocket udp HOST PORT`
///
/// A UDP pipe through ``DatagramSocket`` connected to `HOST:PORT`: each stdin line is sent as one
/// datagram (without its newline), and each datagram received is printed as one line (its bytes
/// as UTF-8, invalid sequences replaced). At stdin EOF it waits one second for late replies,
/// closes the socket and exits 0; any failure prints `error <status>: <message>` on stderr and
/// exits 1. Only the peer's datagrams are printed: a connected UDP socket receives from no one else.
enum UDPCommand {
    static let usage = "usage: websocket udp HOST PORT"

    static func run(_ arguments: Arguments) async -> Int32 {
        do {
            try arguments.rejectUnknown([])
            guard arguments.positionals.count == 2 else { throw CLIError("expected HOST and PORT\n\(usage)") }
            let host = arguments.positionals[0]
            guard let port = Int(arguments.positionals[1]) else {
                throw CLIError("PORT must be a number, got \"\(arguments.positionals[1])\"\n\(usage)")
            }
            let socket = DatagramSocket()
            try await socket.connect(host: host, port: port)
            // The sender ends the conversation: it closes the socket (which ends `datagrams`)
            // a second after stdin's EOF, or at once when a send fails (its error is rethrown).
            let sender = Task {
                do {
                    for await line in StandardInput.lines() {
                        try await socket.send(Array(line.utf8))
                    }
                    // Replies to the last lines may still be on their way: give them a second.
                    try await Task.sleep(for: .seconds(1))
                } catch {
                    await socket.close()
                    throw error
                }
                await socket.close()
            }
            do {
                for try await datagram in socket.datagrams {
                    Output.out(String(decoding: datagram.bytes, as: UTF8.self))
                }
            } catch {
                sender.cancel()
                throw error
            }
            try await sender.value
            return 0
        } catch {
            Output.fail(error)
        }
    }
}
