import Foundation
import Testing

@testable import WebSockets

/// Redirects (RFC 9110 §15.4) and the HTTP Basic challenge (RFC 9110 §11.6, RFC 7617) against an
/// independent server: Python `websockets` answering from its own `process_request` hook and
/// `basic_auth` (`Scripts/python/redirect_server.py`), over `ws://` and `wss://`. The same
/// behaviours against our own ``ScriptedHTTPServer`` are in ``RedirectTests``; these check that
/// the client reads another implementation's 3xx and 401 responses, not just ours. Enabled like
/// the other interop suites (see ``PythonPeer``).
@Suite(
    "Redirects and 401 against a Python websockets server", .enabled(if: PythonPeer.shouldRun, PythonPeer.skipMessage),
    .serialized, .timeLimit(.minutes(2)))
struct RedirectInteropTests {
    /// `ws://` (false) and `wss://` (true).
    static let schemes = [false, true]
    static let fixtures = TLSFixtures.shared

    /// What redirect_server.py sends first on every accepted connection.
    struct Greeting: Decodable, Equatable {
        var path: String
        var user: String?
    }

    /// Runs `body` with a started redirect_server.py (TLS with the test CA's `server` certificate
    /// when `secure`), given the function that makes its URLs from paths; the peer stops when `body` returns.
    static func withPeer<Result>(
        secure: Bool, _ body: (_ url: @escaping @Sendable (String) -> String) async throws -> Result
    ) async throws -> Result {
        let tls = secure ? ["--tls-cert", fixtures.path("server.pem"), "--tls-key", fixtures.path("server.key")] : []
        let peer = try await PythonPeer(script: "redirect_server.py", arguments: tls)
        let scheme = secure ? "wss" : "ws"
        let port = peer.port
        let result = try await body { "\(scheme)://127.0.0.1:\(port)\($0)" }
        withExtendedLifetime(peer) {}  // the peer exits when released
        return result
    }

    static func client(_ update: (inout MessageWebSocketControl) -> Void = { _ in }) -> MessageWebSocket {
        var control = MessageWebSocketControl()
        control.additionalTrustRoots = [fixtures.caRoot]
        control.openTimeout = .loadTolerantOpenTimeout
        update(&control)
        return MessageWebSocket(control: control)
    }

    /// Connects, reads the server's greeting, checks an echo, closes; returns the greeting and
    /// the information.
    static func connectAndEcho(
        _ socket: MessageWebSocket, _ url: String
    ) async throws -> (greeting: Greeting?, information: MessageWebSocketInformation) {
        try await socket.connect(to: url)
        var messages = socket.messages.makeAsyncIterator()
        var greeting: Greeting?
        if case .text(let json) = try await messages.next() {
            greeting = try JSONDecoder().decode(Greeting.self, from: Data(json.utf8))
        }
        try await socket.send(text: "ping")
        #expect(try await messages.next() == .text("ping"))
        let information = await socket.information
        try await socket.close()
        return (greeting, information)
    }

    @Test(
        "a 301, 302, 307 or 308 with a relative Location is followed; information.url is the final URL (RFC 9110 §15.4)",
        arguments: schemes, [301, 302, 307, 308])
    func relativeRedirectIsFollowed(secure: Bool, status: Int) async throws {
        try await Self.withPeer(secure: secure) { url in
            // Location: ../landing?from=<status>, resolved against /old/<status> (RFC 3986 §5.2).
            let (greeting, information) = try await Self.connectAndEcho(Self.client(), url("/old/\(status)"))
            #expect(greeting == Greeting(path: "/landing?from=\(status)", user: nil))
            #expect(information.url == url("/landing?from=\(status)"))
        }
    }

    @Test("a redirect loop fails with redirectFailed (RFC 9110 §15.4)", arguments: schemes)
    func loopFails(secure: Bool) async throws {
        try await Self.withPeer(secure: secure) { url in
            let error = await #expect(throws: WebSocketError.self) { try await Self.client().connect(to: url("/loop/a")) }
            #expect(error?.status == .redirectFailed)
            #expect(error?.message.contains("loop") == true, "\(error?.message ?? "")")
            #expect(error?.handshakeResponse?.status == 302)
        }
    }

    @Test("maxRedirects = 0 follows none: the 302 fails with handshakeFailed(302)", arguments: schemes)
    func disabledRedirectsReportTheStatus(secure: Bool) async throws {
        try await Self.withPeer(secure: secure) { url in
            let error = await #expect(throws: WebSocketError.self) {
                try await Self.client { $0.maxRedirects = 0 }.connect(to: url("/old/302"))
            }
            #expect(error?.status == .handshakeFailed(httpStatus: 302))
            let location = error?.handshakeResponse?.headers.first { $0.name.lowercased() == "location" }?.value
            #expect(location == "../landing?from=302")
        }
    }

    @Test(
        "a 401 Basic challenge is answered with the credential from the control or the URL (RFC 7617)",
        arguments: schemes)
    func basicChallengeIsAnswered(secure: Bool) async throws {
        try await Self.withPeer(secure: secure) { url in
            let fromControl = try await Self.connectAndEcho(
                Self.client { $0.serverCredential = ServerCredential(user: "ann", password: "secret") }, url("/private"))
            #expect(fromControl.greeting == Greeting(path: "/private", user: "ann"))
            let withUserInfo = url("/private").replacingOccurrences(of: "://", with: "://ann:secret@")
            let fromURL = try await Self.connectAndEcho(Self.client(), withUserInfo)
            #expect(fromURL.greeting == Greeting(path: "/private", user: "ann"))
            #expect(fromURL.information.url == url("/private"), "no credentials in information.url")
        }
    }

    @Test(
        "without a credential (or with a wrong one) the 401 fails with handshakeFailed(401) and its headers (RFC 7617)",
        arguments: schemes)
    func missingCredentialFails(secure: Bool) async throws {
        try await Self.withPeer(secure: secure) { url in
            let none = await #expect(throws: WebSocketError.self) { try await Self.client().connect(to: url("/private")) }
            #expect(none?.status == .handshakeFailed(httpStatus: 401))
            #expect(none?.handshakeResponse?.status == 401)
            let challenge = none?.handshakeResponse?.headers.first { $0.name.lowercased() == "www-authenticate" }?.value
            #expect(challenge == "Basic realm=\"x\", charset=\"UTF-8\"")
            let wrong = await #expect(throws: WebSocketError.self) {
                try await Self.client { $0.serverCredential = ServerCredential(user: "ann", password: "wrong") }
                    .connect(to: url("/private"))
            }
            #expect(wrong?.status == .handshakeFailed(httpStatus: 401))
            #expect(wrong?.message.contains("refused the credential") == true, "\(wrong?.message ?? "")")
        }
    }

    @Test("the CLI: --user answers the challenge, without it the 401 is named; a redirect is followed", arguments: schemes)
    func cliUserAndRedirect(secure: Bool) async throws {
        try await Self.withPeer(secure: secure) { url in
            let trust = secure ? ["--ca-file", Self.fixtures.caFile] : []
            let greeted = "{\"path\": \"/private\", \"user\": \"ann\"}\n"
            let answered = try await runCLI([url("/private"), "--user", "ann:secret"] + trust) { $0 == greeted }
            #expect(answered.stdout == greeted)
            #expect(answered.status == 0)
            let refused = try await runCLI([url("/private")] + trust)
            #expect(refused.stderr.hasPrefix("error handshakeFailed(401): "), "\(refused.stderr)")
            #expect(refused.status == 1)
            let landed = "{\"path\": \"/landing?from=308\", \"user\": null}\n"
            let followed = try await runCLI([url("/old/308")] + trust) { $0 == landed }
            #expect(followed.stdout == landed)
            #expect(followed.status == 0)
        }
    }
}
