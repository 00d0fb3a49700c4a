import Testing

@testable import WebSockets

/// A TLS handshake is bounded by `StreamSocketControl.tlsHandshakeTimeout`: a peer that connects and
/// never speaks TLS cannot hold a socket (or, on a listener, a task of the application) forever.
@Suite("StreamSocket: the TLS handshake deadline", .timeLimit(.minutes(1)))
struct StreamSocketTLSDeadlineTests {
    static var quick: StreamSocketControl {
        var control = StreamSocketControl()
        control.tlsHandshakeTimeout = .milliseconds(200)
        return control
    }

    @Test("an accepted TLS socket whose client never sends a ClientHello: its first read throws timedOut")
    func acceptedSocketTimesOut() async throws {
        let fixtures = TLSFixtures.shared
        let listener = try await StreamSocketListener.bind(
            port: 0, address: "127.0.0.1", control: Self.quick, tls: TLSServerConfiguration(identity: fixtures.identity("server"))
        )
        try await withTeardown(listener, tearDown: { $0.close() }) { listener in
            // A plain TCP client: connects, then says nothing.
            try await withStreamSocket(host: "127.0.0.1", port: listener.localEndpoint.port) { silent in
                let accepted = try await listener.accept()
                let error = await expectSocketError(.timedOut) { _ = try await accepted.read(upTo: 100) }
                #expect(error?.message.contains("tlsHandshakeTimeout") == true, "\(error?.message ?? "")")
                await accepted.close()
                #expect(try await silent.readToEnd() == [])  // the server side closed the connection
            }
        }
    }

    @Test("connect(tls: true) to a server that accepts and never answers throws timedOut")
    func clientHandshakeTimesOut() async throws {
        // A plain listener that accepts and keeps the connection without a word of TLS.
        try await withTeardown(await StreamSocketServer(serve: { socket in _ = try await socket.readToEnd() })) { server in
            let socket = StreamSocket(control: Self.quick)
            await expectSocketError(.timedOut) {
                try await socket.connect(host: "127.0.0.1", port: server.endpoint.port, tls: true)
            }
            await socket.close()
        }
    }

    @Test("tlsHandshakeTimeout must be positive")
    func timeoutIsValidated() async throws {
        var control = StreamSocketControl()
        control.tlsHandshakeTimeout = .zero
        await expectSocketError(.invalidArgument) { try await StreamSocket(control: control).connect(host: "127.0.0.1", port: 1) }
    }
}
