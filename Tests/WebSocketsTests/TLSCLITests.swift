import Foundation
import Testing
import WebSocketServer

@testable import WebSockets

/// The CLI's TLS flags: `--ca-file`, `--client-cert/--client-key`, `--pin-sha256`,
/// `--ignore-cert-error`, and `serve --tls-cert/--tls-key`.
@Suite("websocket CLI over TLS", .serialized)
struct TLSCLITests {
    let fixtures = TLSFixtures.shared

    @Test("--ca-file trusts the test CA; without it the failure prints every problem and exits 1")
    func caFile() async throws {
        try await withTeardown(await fixtures.server()) { server in
            let trusted = try await runCLI(
                [server.url(), "--ca-file", fixtures.caFile], input: "hello\n",
                closeInputWhen: { $0.contains("hello") })
            #expect(trusted.status == 0)
            #expect(trusted.stdout == "hello\n")
            let untrusted = try await runCLI([server.url()])
            #expect(untrusted.status == 1)
            #expect(untrusted.stderr.hasPrefix("error serverCertificateInvalid: "))
            #expect(untrusted.stderr.contains("untrusted: "))
        }
    }

    @Test("--ignore-cert-error tolerates the named problems and rejects unknown names")
    func ignoreCertError() async throws {
        try await withTeardown(await fixtures.server("wronghost")) { server in
            let ignored = try await runCLI(
                [server.url(), "--ignore-cert-error", "untrusted", "--ignore-cert-error", "invalidName"],
                input: "x\n", closeInputWhen: { $0.contains("x") })
            #expect(ignored.status == 0)
            let partly = try await runCLI([server.url(), "--ignore-cert-error", "untrusted"])
            #expect(partly.stderr.hasPrefix("error serverCertificateInvalid: "))
            #expect(partly.stderr.contains("invalidName"))
            let unknown = try await runCLI([server.url(), "--ignore-cert-error", "nonsense"])
            #expect(unknown.status == 1)
            #expect(unknown.stderr.hasPrefix("error invalidArgument: "))
        }
    }

    @Test("--pin-sha256 accepts the pinned leaf (colon form from openssl works) and rejects any other")
    func pinSHA256() async throws {
        try await withTeardown(await fixtures.server()) { server in
            let colons =
                try fixtures.run(["x509", "-in", "server.pem", "-noout", "-fingerprint", "-sha256"])
                .split(separator: "=").last.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) } ?? ""
            let pinned = try await runCLI(
                [server.url(), "--ca-file", fixtures.caFile, "--pin-sha256", colons],
                input: "pin\n", closeInputWhen: { $0.contains("pin") })
            #expect(pinned.status == 0)
            let wrong = try await runCLI([
                server.url(), "--ca-file", fixtures.caFile, "--pin-sha256", String(repeating: "0", count: 64),
            ])
            #expect(wrong.status == 1)
            #expect(wrong.stderr.hasPrefix("error serverCertificateRejected: "))
        }
    }

    @Test("--client-cert and --client-key present a client certificate to a server that requires one")
    func clientCertificate() async throws {
        try await withTeardown(await fixtures.server(clientCertificates: .require)) { server in
            let result = try await runCLI(
                [
                    server.url(), "--ca-file", fixtures.caFile,
                    "--client-cert", fixtures.path("client.pem"), "--client-key", fixtures.path("client.key"),
                ],
                input: "mtls\n", closeInputWhen: { $0.contains("mtls") })
            #expect(result.status == 0)
            #expect(result.stdout == "mtls\n")
        }
    }

    @Test("serve --tls-cert --tls-key serves wss:// on loopback")
    func serveOverTLS() async throws {
        try await withTeardown(
            await ServeProcess(["--tls-cert", fixtures.path("server.pem"), "--tls-key", fixtures.path("server.key")])
        ) { serve in
            let port = serve.port
            var control = MessageWebSocketControl()
            control.additionalTrustRoots = [fixtures.caRoot]
            let socket = MessageWebSocket(control: control)
            try await socket.connect(to: "wss://localhost:\(port)/")
            try await socket.send(text: "served")
            var iterator = socket.messages.makeAsyncIterator()
            #expect(try await iterator.next() == .text("served"))
            #expect(await socket.information.tlsVersion != nil)
            try await socket.close(code: .normalClosure)
            await serve.stop()
        }
    }
}
