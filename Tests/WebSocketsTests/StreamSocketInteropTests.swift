import Testing

@testable import WebSockets

/// `StreamSocket` against Python's `socket` and `ssl` (`Scripts/python/stream_peer.py`): an
/// independent TCP and TLS stack at the other end. Skipped without the Python peers, unless
/// `WEBSOCKETS_INTEROP=1` (see ``PythonPeer``).
@Suite("StreamSocket interop with Python socket/ssl", .enabled(if: PythonPeer.shouldRun, PythonPeer.skipMessage))
struct StreamSocketInteropTests {
    @Test("Echo through a Python socket server, half-closed at the end", arguments: ["127.0.0.1", "::1"])
    func echoWithPythonSocket(address: String) async throws {
        let peer = try await PythonPeer(script: "stream_peer.py", arguments: ["--host", address, "--mode", "echo"])
        try await withStreamSocket(host: address, port: peer.port) { socket in
            let sent = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 * 7) }
            async let received = socket.readToEnd()
            try await socket.write(sent)
            try await socket.shutdownWrite()
            #expect(try await received == sent)  // the peer ended its side after ours: exactly our bytes
        }
    }

    @Test("STARTTLS: a plaintext exchange, then upgradeToTLS against Python's ssl, then TLS both ways")
    func startTLS() async throws {
        let fixtures = TLSFixtures.shared
        let peer = try await PythonPeer(
            script: "stream_peer.py",
            arguments: [
                "--mode", "starttls", "--tls-cert", fixtures.path("server.pem"), "--tls-key", fixtures.path("server.key"),
            ])
        var control = StreamSocketControl()
        control.tls.usesSystemTrustStore = false
        control.tls.additionalTrustRoots = [fixtures.caRoot]
        try await withStreamSocket(host: "127.0.0.1", port: peer.port, control: control) { socket in
            try await socket.write(Array("STARTTLS\r\n".utf8))
            var answer: [UInt8] = []
            while answer.count < 4 { answer += try await socket.read(upTo: 4 - answer.count) }
            #expect(answer == Array("OK\r\n".utf8))
            #expect(await socket.information.isSecure == false)

            try await socket.upgradeToTLS(validationHostName: "localhost")
            let info = await socket.information
            #expect(info.isSecure && info.tlsVersion != nil)
            #expect(info.serverCertificate?.subject.contains("localhost") == true)
            try await socket.write(Array("secret".utf8))
            try await socket.shutdownWrite()  // close_notify, then FIN
            #expect(try await socket.readToEnd() == Array("secret".utf8))
        }
    }

    @Test("minimumTLSVersion: a TLS 1.2-only server is accepted by default and refused with a TLS 1.3 minimum")
    func minimumTLSVersion() async throws {
        let fixtures = TLSFixtures.shared
        let peer = try await PythonPeer(
            script: "stream_peer.py",
            arguments: [
                "--mode", "starttls", "--max-tls", "1.2",
                "--tls-cert", fixtures.path("server.pem"), "--tls-key", fixtures.path("server.key"),
            ])
        for minimum in [TLSVersion.tls12, .tls13] {
            var control = StreamSocketControl()
            control.tls.usesSystemTrustStore = false
            control.tls.additionalTrustRoots = [fixtures.caRoot]
            control.minimumTLSVersion = minimum
            try await withStreamSocket(host: "127.0.0.1", port: peer.port, control: control) { socket in
                try await socket.write(Array("STARTTLS\r\n".utf8))
                var answer: [UInt8] = []
                while answer.count < 4 { answer += try await socket.read(upTo: 4 - answer.count) }
                if minimum == .tls12 {
                    try await socket.upgradeToTLS(validationHostName: "localhost")
                    #expect(await socket.information.tlsVersion == "TLSv1.2")
                } else {
                    await expectSocketError(.secureConnectionFailed) {
                        try await socket.upgradeToTLS(validationHostName: "localhost")
                    }
                }
            }
        }
    }
}
