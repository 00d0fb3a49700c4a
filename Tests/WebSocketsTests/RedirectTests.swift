import Foundation
import Testing
import WebSocketServer

@testable import WebSockets

/// Redirects and HTTP Basic authentication during the opening handshake (RFC 6455 §4.1: "the
/// client handles the response per HTTP procedures"; RFC 9110 §15.4, §11.6; RFC 7617), against
/// a real server on loopback, over `ws://` and `wss://`.
@Suite("Opening handshake: redirects and server credentials", .timeLimit(.minutes(2)))
struct RedirectTests {
    /// `ws://` (false) and `wss://` (true).
    static let schemes = [false, true]

    static func server(
        secure: Bool, _ answer: @escaping @Sendable (UpgradeRequest, Int) -> ScriptedHTTPServer.Answer
    ) async throws -> ScriptedHTTPServer {
        let tls = secure ? TLSServerConfiguration(identity: TLSFixtures.shared.identity("server")) : nil
        return try await ScriptedHTTPServer(tls: tls, answer)
    }

    static func client(_ update: (inout MessageWebSocketControl) -> Void = { _ in }) -> MessageWebSocket {
        var control = MessageWebSocketControl()
        control.additionalTrustRoots = [TLSFixtures.shared.caRoot]
        control.openTimeout = .loadTolerantOpenTimeout
        update(&control)
        return MessageWebSocket(control: control)
    }

    /// Connects, checks the connection works (an echo), closes; returns the information.
    static func connectAndEcho(_ socket: MessageWebSocket, _ url: String) async throws -> MessageWebSocketInformation {
        try await socket.connect(to: url)
        try await socket.send(text: "ping")
        var messages = socket.messages.makeAsyncIterator()
        #expect(try await messages.next() == .text("ping"))
        let information = await socket.information
        try await socket.close()
        return information
    }

    @Test(
        "a relative Location is resolved and followed; information.url is where we ended up (RFC 9110 §15.4)", arguments: schemes)
    func relativeRedirectIsFollowed(secure: Bool) async throws {
        try await withTeardown(
            await Self.server(secure: secure) { request, _ in
                switch request.path {
                case "/a/old": return .status(301, [("Location", "new?x=1")])
                case "/a/new": return .status(307, [("Location", "/final")])
                default: return .accept
                }
            }
        ) { server in
            let information = try await Self.connectAndEcho(Self.client(), server.url("/a/old"))
            #expect(server.requests.map(\.path) == ["/a/old", "/a/new", "/final"])
            #expect(server.requests[1].query == "x=1")
            #expect(information.url == server.url("/final"))
        }
    }

    @Test("every redirect status is followed: 301, 302, 303, 307, 308", arguments: [301, 302, 303, 307, 308])
    func eachRedirectStatusIsFollowed(status: Int) async throws {
        try await withTeardown(
            await Self.server(secure: false) { request, _ in
                request.path == "/from" ? .status(status, [("Location", "/to")]) : .accept
            }
        ) { server in
            let information = try await Self.connectAndEcho(Self.client(), server.url("/from"))
            #expect(information.url == server.url("/to"))
        }
    }

    @Test("a redirect loop fails with redirectFailed before revisiting a URL")
    func loopIsDetected() async throws {
        try await withTeardown(
            await Self.server(secure: false) { request, _ in
                .status(302, [("Location", request.path == "/a" ? "/b" : "/a")])
            }
        ) { server in
            let error = await #expect(throws: WebSocketError.self) { try await Self.client().connect(to: server.url("/a")) }
            #expect(error?.status == .redirectFailed)
            #expect(error?.message.contains("loop") == true, "\(error?.message ?? "")")
            #expect(error?.handshakeResponse?.status == 302)
            #expect(server.requests.map(\.path) == ["/a", "/b"])
        }
    }

    @Test("maxRedirects bounds the redirects followed; 0 follows none and reports the 3xx")
    func limitIsEnforced() async throws {
        try await withTeardown(
            await Self.server(secure: false) { request, index in
                .status(302, [("Location", "/hop\(index + 1)")])
            }
        ) { server in
            let limited = await #expect(throws: WebSocketError.self) {
                try await Self.client { $0.maxRedirects = 2 }.connect(to: server.url("/hop0"))
            }
            #expect(limited?.status == .redirectFailed)
            #expect(limited?.message.contains("too many redirects") == true)
            #expect(server.requests.count == 3)
            let disabled = await #expect(throws: WebSocketError.self) {
                try await Self.client { $0.maxRedirects = 0 }.connect(to: server.url("/hop0"))
            }
            #expect(disabled?.status == .handshakeFailed(httpStatus: 302))
            #expect(server.requests.count == 4)
        }
    }

    @Test("wss:// redirected to ws:// is refused (httpsToHttpOnRedirection) unless allowed")
    func downgradeIsRefused() async throws {
        try await withTeardown(await Self.server(secure: false) { _, _ in .accept }) { plain in
            let target = plain.url("/plain")
            try await withTeardown(await Self.server(secure: true) { _, _ in .status(302, [("Location", target)]) }) { secure in
                let error = await #expect(throws: WebSocketError.self) { try await Self.client().connect(to: secure.url("/")) }
                #expect(error?.status == .httpsToHttpOnRedirection)
                #expect(plain.requests.isEmpty)
                let information = try await Self.connectAndEcho(
                    Self.client { $0.allowsInsecureRedirects = true }, secure.url("/"))
                #expect(information.url == target)
                #expect(plain.requests.count == 1)
            }
        }
    }

    @Test("an http(s):// Location maps to ws(s)://", arguments: schemes)
    func httpLocationMapsToWebSocket(secure: Bool) async throws {
        try await withTeardown(
            await Self.server(secure: secure) { request, _ in
                request.path == "/"
                    ? .status(
                        308,
                        [
                            (
                                "Location",
                                "\(secure ? "https" : "http")://localhost:\(request.host.split(separator: ":").last!)/next"
                            )
                        ]) : .accept
            }
        ) { server in
            let information = try await Self.connectAndEcho(Self.client(), server.url("/"))
            #expect(information.url == server.url("/next", host: "localhost"))
        }
    }

    @Test("a 401 offering Basic is answered once with the credential (RFC 7617), from the control or the URL", arguments: schemes)
    func basicChallengeIsAnswered(secure: Bool) async throws {
        let expected = ServerCredential(user: "ann", password: "pa:ss wörd").basicAuthorization
        try await withTeardown(
            await Self.server(secure: secure) { request, _ in
                request.header("Authorization") == expected
                    ? .accept : .status(401, [("WWW-Authenticate", "Bearer realm=\"x\", Basic realm=\"test\"")])
            }
        ) { server in
            _ = try await Self.connectAndEcho(
                Self.client { $0.serverCredential = ServerCredential(user: "ann", password: "pa:ss wörd") }, server.url("/"))
            #expect(server.requests.map { $0.header("Authorization") } == [nil, expected])
            let withUserInfo = server.url("/").replacingOccurrences(of: "://", with: "://ann:pa%3Ass%20w%C3%B6rd@")
            let information = try await Self.connectAndEcho(Self.client(), withUserInfo)
            #expect(server.requests.map { $0.header("Authorization") } == [nil, expected, nil, expected])
            #expect(information.url == server.url("/"), "no credentials in information.url")
        }
    }

    @Test("a second 401 fails with handshakeFailed(401); no credential, no retry")
    func refusedCredentialFails() async throws {
        try await withTeardown(
            await Self.server(secure: false) { _, _ in .status(401, [("WWW-Authenticate", "Basic realm=\"test\"")]) }
        ) { server in
            let refused = await #expect(throws: WebSocketError.self) {
                try await Self.client { $0.serverCredential = .init(user: "ann", password: "wrong") }.connect(to: server.url())
            }
            #expect(refused?.status == .handshakeFailed(httpStatus: 401))
            #expect(refused?.message.contains("refused the credential") == true)
            #expect(server.requests.count == 2)
            let none = await #expect(throws: WebSocketError.self) { try await Self.client().connect(to: server.url()) }
            #expect(none?.status == .handshakeFailed(httpStatus: 401))
            #expect(server.requests.count == 3)
        }
    }

    @Test("on a host change, Authorization and the credential are not sent to the new host", arguments: schemes)
    func credentialsStayWithTheirHost(secure: Bool) async throws {
        try await withTeardown(
            await Self.server(secure: secure) { request, _ in
                if request.host.hasPrefix("127.0.0.1") {
                    return .status(302, [("Location", "//localhost:\(request.host.split(separator: ":").last!)/other")])
                }
                return .status(401, [("WWW-Authenticate", "Basic realm=\"other\"")])
            }
        ) { server in
            let socket = Self.client { $0.serverCredential = .init(user: "ann", password: "secret") }
            try await socket.setRequestHeader("Authorization", "Bearer token")
            try await socket.setRequestHeader("X-Kept", "yes")
            let error = await #expect(throws: WebSocketError.self) { try await socket.connect(to: server.url("/")) }
            #expect(error?.status == .handshakeFailed(httpStatus: 401))
            #expect(error?.message.contains("not sent to localhost") == true, "\(error?.message ?? "")")
            #expect(server.requests.map { $0.header("Authorization") } == ["Bearer token", nil])
            #expect(server.requests.map { $0.header("X-Kept") } == ["yes", "yes"])
        }
    }
}
