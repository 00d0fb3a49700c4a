import Synchronization
import Testing

@testable import WebSockets

#if canImport(Glibc)
    import Glibc
#endif

/// `StreamSocket` ↔ `StreamSocketListener` over loopback TCP, IPv4 and IPv6 (seed §13).
@Suite("StreamSocket over loopback")
struct StreamSocketLoopbackTests {
    static let addresses = ["127.0.0.1", "::1"]

    static func payload(_ count: Int) -> [UInt8] { (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 8) } }

    @Test("Echo through StreamSocket and StreamSocketListener: every byte back, in order, then the end", arguments: addresses)
    func echo(address: String) async throws {
        try await withTeardown(await StreamSocketServer(address: address)) { server in
            try await withStreamSocket(host: address, port: server.endpoint.port) { client in
                let sent = Self.payload(300_000)
                async let received = client.readToEnd()
                for start in stride(from: 0, to: sent.count, by: 70_000) {
                    try await client.write(Array(sent[start..<min(start + 70_000, sent.count)]))
                }
                try await client.shutdownWrite()
                #expect(try await received == sent)
                let info = await client.information
                #expect(info.remoteEndpoint == server.endpoint)
                #expect(info.localEndpoint?.family == (address == "::1" ? .ipv6 : .ipv4))
                #expect(info.remoteHostName == address)
                #expect(info.isSecure == false && info.tlsVersion == nil)
                #expect(info.roundTripTimeStatistics != nil)
                #expect(info.bandwidthStatistics != nil)
            }
        }
    }

    @Test("Echo over TLS: connect(tls: true) validates the listener's certificate; both ends report TLS", arguments: addresses)
    func echoOverTLS(address: String) async throws {
        let fixtures = TLSFixtures.shared
        let serverInfo = Mutex<StreamSocketInformation?>(nil)
        try await withTeardown(
            await StreamSocketServer(address: address, tls: TLSServerConfiguration(identity: fixtures.identity("server"))) {
                socket in
                try await StreamSocketServer.echo(socket)
                let info = await socket.information
                serverInfo.withLock { $0 = info }
            }
        ) { server in
            var control = StreamSocketControl()
            control.tls.usesSystemTrustStore = false
            control.tls.additionalTrustRoots = [fixtures.caRoot]
            try await withStreamSocket(host: address, port: server.endpoint.port, tls: true, control: control) { client in
                let info = await client.information
                #expect(info.isSecure)
                #expect(info.tlsVersion == "TLSv1.3")
                #expect(info.serverCertificate?.subject.contains("localhost") == true)
                try await client.write(Array("over TLS".utf8))
                try await client.shutdownWrite()
                #expect(try await client.readToEnd() == Array("over TLS".utf8))
            }
        }
        #expect(serverInfo.withLock { $0 }?.isSecure == true)
        #expect(serverInfo.withLock { $0 }?.cipher != nil)
    }

    @Test("TLS against a certificate the client does not trust fails with serverCertificateInvalid")
    func untrustedCertificate() async throws {
        let fixtures = TLSFixtures.shared
        try await withTeardown(await StreamSocketServer(tls: TLSServerConfiguration(identity: fixtures.identity("server")))) {
            server in
            var control = StreamSocketControl()
            control.tls.usesSystemTrustStore = false
            let socket = StreamSocket(control: control)
            let error = await expectSocketError(.serverCertificateInvalid) {
                try await socket.connect(host: "127.0.0.1", port: server.endpoint.port, tls: true)
            }
            #expect(error?.message.hasPrefix("TLS handshake with 127.0.0.1:\(server.endpoint.port)") == true)
            await expectSocketError(.closed) { _ = try await socket.read(upTo: 1) }
        }
    }

    @Test("Half-close: after shutdownWrite the peer reads the end, and can still answer")
    func halfClose() async throws {
        let server = try await StreamSocketServer { socket in
            let request = try await socket.readToEnd()  // ends only because the client half-closed
            try await socket.write(Array("got \(request.count) bytes".utf8))
        }
        try await withTeardown(server) { server in
            try await withStreamSocket(host: "127.0.0.1", port: server.endpoint.port) { client in
                try await client.write(Array("ping".utf8))
                try await client.shutdownWrite()
                await expectSocketError(.invalidState) { try await client.write([1]) }
                let answer = try await awaitState("the server answered after reading the end") { try await client.readToEnd() }
                #expect(String(decoding: answer, as: UTF8.self) == "got 4 bytes")
            }
        }
    }

    @Test("close() with unread bytes resets the connection (RST): the peer's read fails with connectionReset")
    func closeWithUnreadBytesResets() async throws {
        let server = try await StreamSocketServer { socket in
            _ = try await socket.read(upTo: 1)  // the client's 6 bytes arrived; 5 stay unread
        }
        // (Linux itself resets a connection closed with unread bytes, RFC 2525 §2.17; close()
        // also sets SO_LINGER 0 then, which the cancellation test below needs and checks.)
        try await withTeardown(server) { server in
            try await withStreamSocket(host: "127.0.0.1", port: server.endpoint.port) { client in
                try await client.write(Array("unread".utf8))
                let error = await expectSocketError(.connectionReset) { _ = try await client.readToEnd() }
                #expect(error?.message == "read: Connection reset by peer")
            }
        }
    }

    @Test("close() with nothing unread ends with FIN: the peer reads the end of the stream")
    func closeWithNothingUnreadEndsOrderly() async throws {
        let server = try await StreamSocketServer { socket in
            _ = try await socket.read(upTo: 100)  // everything the client sent
        }
        try await withTeardown(server) { server in
            try await withStreamSocket(host: "127.0.0.1", port: server.endpoint.port) { client in
                try await client.write(Array("read".utf8))
                #expect(try await client.readToEnd() == [])
            }
        }
    }

    @Test("A write to a peer that does not read suspends until the peer reads (backpressure)")
    func backpressure() async throws {
        let accepted = try await StreamSocketListener.bind(port: 0, address: "127.0.0.1")
        try await withTeardown(accepted, tearDown: { $0.close() }) { listener in
            var control = StreamSocketControl()
            control.outboundBufferSize = 4096
            try await withStreamSocket(host: "127.0.0.1", port: listener.localEndpoint.port, control: control) { client in
                let peer = try await listener.accept()
                let payload = Self.payload(1 << 20)
                let written = Flag()
                let writer = Task {
                    try await client.write(payload)
                    written.set()
                }
                #expect(try await awaitState("the write waits for room") { await client.waitUntilWriteIsPending() })
                #expect(!written.isSet)  // 1 MiB cannot fit in the buffers (8 KiB here, ~128 KiB at the peer) while nobody reads
                var received: [UInt8] = []
                while received.count < payload.count { received += try await peer.read(upTo: 1 << 16) }
                try await writer.value
                #expect(written.isSet)
                #expect(received == payload)
                await peer.close()
            }
        }
    }

    @Test("Cancelling a pending read tears the connection down: operationCanceled here, a reset at the peer")
    func cancellingAReadTearsDown() async throws {
        let listener = try await StreamSocketListener.bind(port: 0, address: "127.0.0.1")
        try await withTeardown(listener, tearDown: { $0.close() }) { listener in
            let client = StreamSocket()
            try await client.connect(host: "127.0.0.1", port: listener.localEndpoint.port)
            let peer = try await listener.accept()
            let reader = Task { try await client.read(upTo: 100) }
            #expect(try await awaitState("the read waits for bytes") { await client.waitUntilReadIsPending() })
            reader.cancel()
            do {
                _ = try await reader.value
                Issue.record("the cancelled read returned")
            } catch let error as SocketError {
                #expect(error.status == .operationCanceled, "\(error)")
            }
            // RST, not FIN (nor silence): the cancelled read closed the connection with SO_LINGER 0.
            let seen = try await awaitState("the peer sees the connection end") { await Self.outcomeOfRead(peer) }
            #expect(seen == "connectionReset")
            await expectSocketError(.closed) { _ = try await client.read(upTo: 1) }
            await peer.close()
        }
    }

    @Test("Cancelling a write waiting for room tears the connection down: operationCanceled here, a reset at the peer")
    func cancellingAWriteTearsDown() async throws {
        let listener = try await StreamSocketListener.bind(port: 0, address: "127.0.0.1")
        try await withTeardown(listener, tearDown: { $0.close() }) { listener in
            var control = StreamSocketControl()
            control.outboundBufferSize = 4096
            let client = StreamSocket(control: control)
            try await client.connect(host: "127.0.0.1", port: listener.localEndpoint.port)
            let peer = try await listener.accept()
            let writer = Task { try await client.write(Self.payload(1 << 20)) }
            #expect(try await awaitState("the write waits for room") { await client.waitUntilWriteIsPending() })
            writer.cancel()
            do {
                try await writer.value
                Issue.record("the cancelled write returned")
            } catch let error as SocketError {
                #expect(error.status == .operationCanceled, "\(error)")
            }
            // The peer reads what arrived, then the reset (not an orderly end).
            let seen = try await awaitState("the peer sees the connection end") { () -> String in
                while true {
                    let outcome = await Self.outcomeOfRead(peer)
                    if outcome != "bytes" { return outcome }
                }
            }
            #expect(seen == "connectionReset")
            await expectSocketError(.closed) { try await client.write([1]) }
            await peer.close()
        }
    }

    /// What one read of `socket` gives: `"bytes"`, `"end"` or the error's status.
    static func outcomeOfRead(_ socket: StreamSocket) async -> String {
        do {
            return try await socket.read(upTo: 1 << 16).isEmpty ? "end" : "bytes"
        } catch {
            return error.status.rawValue
        }
    }

    @Test("Setting the control after connect throws invalidState; a field out of range, invalidArgument")
    func controlIsFixedAtConnect() async throws {
        let socket = StreamSocket()
        var control = StreamSocketControl()
        control.hopLimit = 0
        await expectSocketError(.invalidArgument) { try await socket.configure(control) }
        control.hopLimit = 32
        control.keepAlive = true
        control.keepAliveIdle = .seconds(30)
        try await socket.configure(control)
        try await withTeardown(await StreamSocketServer()) { server in
            try await socket.connect(host: "127.0.0.1", port: server.endpoint.port)
            await expectSocketError(.invalidState) { try await socket.configure(StreamSocketControl()) }
            #expect(await socket.control.hopLimit == 32)
            await expectSocketError(.invalidState) {
                try await socket.connect(host: "127.0.0.1", port: server.endpoint.port)
            }
            await socket.close()
        }
    }

    @Test("A refused connect says what was being done: connect to 127.0.0.1:PORT: Connection refused")
    func connectionRefused() async throws {
        let refusing = try RefusingPort()  // bound, not listening: a closed listener's port can be reused meanwhile
        defer { refusing.close() }
        let port = refusing.port
        let error = await expectSocketError(.connectionRefused) {
            try await StreamSocket().connect(host: "127.0.0.1", port: port)
        }
        #expect(error?.message == "connect to 127.0.0.1:\(port): Connection refused")
        #expect(error?.code == ECONNREFUSED)
    }

    @Test("Binding a port in use fails with addressAlreadyInUse; port 0 reports the chosen port", arguments: addresses)
    func bindErrors(address: String) async throws {
        let listener = try await StreamSocketListener.bind(port: 0, address: address)
        defer { listener.close() }
        #expect(listener.localEndpoint.port > 0)
        #expect(listener.localEndpoint.address == address)
        await expectSocketError(.addressAlreadyInUse) {
            _ = try await StreamSocketListener.bind(port: listener.localEndpoint.port, address: address)
        }
        await expectSocketError(.invalidArgument) { _ = try await StreamSocketListener.bind(port: 0, address: "localhost") }
    }

    @Test("Closing the listener ends its connections sequence and leaves accepted sockets working")
    func listenerCloseLeavesAcceptedSockets() async throws {
        let listener = try await StreamSocketListener.bind(port: 0, address: "127.0.0.1")
        let client = StreamSocket()
        try await client.connect(host: "127.0.0.1", port: listener.localEndpoint.port)
        var iterator = listener.connections.makeAsyncIterator()
        let accepted = try #require(try await iterator.next())
        listener.close()
        #expect(try await iterator.next() == nil)
        try await accepted.write(Array("still open".utf8))
        #expect(try await client.read(upTo: 100) == Array("still open".utf8))
        // No longer listening: accept throws `.closed`. (Not "a connect is refused": the freed
        // ephemeral port may already be another parallel test's listener.)
        await expectSocketError(.closed) { _ = try await listener.accept() }
        await accepted.close()
        await client.close()
    }

    @Test("upgradeToTLS is client-side only, and needs a connection")
    func upgradeNeedsAClientConnection() async throws {
        await expectSocketError(.invalidState) { try await StreamSocket().upgradeToTLS() }
        let listener = try await StreamSocketListener.bind(port: 0, address: "127.0.0.1")
        defer { listener.close() }
        let client = StreamSocket()
        try await client.connect(host: "127.0.0.1", port: listener.localEndpoint.port)
        let accepted = try await listener.accept()
        await expectSocketError(.invalidState) { try await accepted.upgradeToTLS(validationHostName: "localhost") }
        await accepted.close()
        await client.close()
    }
}
