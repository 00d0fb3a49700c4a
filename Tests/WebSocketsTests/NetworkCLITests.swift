import Testing
import WebSocketServer

@testable import WebSockets

/// The CLI's network flags: `--user USER:PASS`, `--max-redirects N`, `--reconnect`; failures
/// name the HTTP status (`error <status>: <message>`).
@Suite("websocket CLI: network flags", .serialized)
struct NetworkCLITests {
    @Test("--user answers a 401 Basic challenge; without it the failure names the 401")
    func userAnswersTheChallenge() async throws {
        let expected = ServerCredential(user: "ann", password: "secret").basicAuthorization
        try await withTeardown(
            await ScriptedHTTPServer { request, _ in
                request.header("Authorization") == expected
                    ? .accept(greeting: "welcome") : .status(401, [("WWW-Authenticate", "Basic realm=\"cli\"")])
            }
        ) { server in
            let result = try await runCLI([server.url(), "--user", "ann:secret"]) { $0 == "welcome\n" }
            #expect(result.stdout == "welcome\n")
            #expect(result.status == 0)
            let refused = try await runCLI([server.url()])
            #expect(refused.stderr.hasPrefix("error handshakeFailed(401): "), "\(refused.stderr)")
            #expect(refused.status == 1)
            let malformed = try await runCLI([server.url(), "--user", "no-colon"])
            #expect(malformed.stderr.hasPrefix("error invalidArgument: --user expects USER:PASS"), "\(malformed.stderr)")
        }
    }

    @Test("--max-redirects bounds the redirects: 0 reports the 302, the default follows")
    func maxRedirectsIsApplied() async throws {
        try await withTeardown(
            await ScriptedHTTPServer { request, _ in
                request.path == "/old" ? .status(302, [("Location", "/new")]) : .accept(greeting: "moved")
            }
        ) { server in
            let followed = try await runCLI([server.url("/old")]) { $0 == "moved\n" }
            #expect(followed.stdout == "moved\n")
            #expect(followed.status == 0)
            let disabled = try await runCLI([server.url("/old"), "--max-redirects", "0"])
            #expect(disabled.stderr.hasPrefix("error handshakeFailed(302): "), "\(disabled.stderr)")
            #expect(disabled.status == 1)
            let stream = try await runCLI([server.url("/old"), "--stream", "--max-redirects", "0"])
            #expect(stream.stderr.hasPrefix("error handshakeFailed(302): "), "\(stream.stderr)")
            #expect(stream.status == 1)
        }
    }

    @Test("--reconnect reconnects after the server closes, and stops at stdin EOF")
    func reconnectKeepsGoing() async throws {
        try await withTeardown(
            await ScriptedHTTPServer { _, index in
                index == 0
                    ? .acceptAndClose(greeting: "connection 1", code: .goingAway) : .accept(greeting: "connection \(index + 1)")
            }
        ) { server in
            let result = try await runCLI([server.url(), "--reconnect"]) { $0.hasSuffix("connection 2\n") }
            #expect(result.stdout == "connection 1\nconnection 2\n")
            #expect(result.stderr.contains("reconnecting after close 1001 scripted\n"), "\(result.stderr)")
            #expect(result.stderr.hasSuffix("closed 1000 \n"), "\(result.stderr)")
            #expect(result.status == 0)
        }
    }
}
