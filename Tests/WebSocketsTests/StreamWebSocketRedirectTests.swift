import Testing
import WebSocketServer

@testable import WebSockets

/// `StreamWebSocket` reaches servers the way `MessageWebSocket` does: its control carries the same
/// redirect limit and server credential (RFC 9110 §15.4, RFC 7617), applied by the same opening code.
@Suite("StreamWebSocket: redirects and server credentials", .timeLimit(.minutes(1)))
struct StreamWebSocketRedirectTests {
    @Test("maxRedirects on the stream control bounds the redirects followed")
    func streamControlLimitsRedirects() async throws {
        try await withTeardown(
            await RedirectTests.server(secure: false) { _, index in .status(302, [("Location", "/hop\(index + 1)")]) }
        ) { server in
            var control = StreamWebSocketControl()
            control.maxRedirects = 1
            let error = await #expect(throws: WebSocketError.self) {
                try await StreamWebSocket(control: control).connect(to: server.url("/hop0"))
            }
            #expect(error?.status == .redirectFailed)
            #expect(server.requests.count == 2)  // the first request and the one redirect allowed
        }
    }

    @Test("serverCredential on the stream control answers a 401 offering Basic once")
    func streamControlAnswersTheChallenge() async throws {
        try await withTeardown(
            await RedirectTests.server(secure: false) { request, _ in
                request.header("Authorization") == "Basic YW5uOnNlY3JldA=="  // ann:secret
                    ? .accept : .status(401, [("WWW-Authenticate", "Basic realm=\"test\"")])
            }
        ) { server in
            var control = StreamWebSocketControl()
            control.serverCredential = ServerCredential(user: "ann", password: "secret")
            let socket = StreamWebSocket(control: control)
            try await socket.connect(to: server.url("/private"))
            #expect(server.requests.count == 2)
            try await socket.close()
        }
    }
}
