import Testing

@testable import WebSocketCore

@Suite("RFC 6455 §4.2 server handshake")
struct ServerHandshakeTests {
    /// The sample request of RFC 6455 §1.2, with `fields` replacing its header fields.
    static func request(
        method: String = "GET",
        target: String = "/chat",
        version: HTTPVersion = .http11,
        _ fields: [(String, String)] = sampleFields
    ) -> HTTPRequestHead {
        HTTPRequestHead(method: method, target: target, version: version, headers: HTTPHeaders(fields))
    }

    static let sampleFields: [(String, String)] = [
        ("Host", "server.example.com"),
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("Origin", "http://example.com"),
        ("Sec-WebSocket-Protocol", "chat, superchat"),
        ("Sec-WebSocket-Version", "13"),
    ]

    /// `sampleFields` without the field called `name` (case-insensitively) and with `extra` added.
    static func fields(without name: String? = nil, adding extra: [(String, String)] = []) -> [(String, String)] {
        sampleFields.filter { field in name.map { !HTTPSyntax.equalsIgnoringASCIICase(field.0, $0) } ?? true } + extra
    }

    @Test func sampleRequestIsAccepted() throws {
        let upgrade = try ServerHandshake.validate(request: Self.request())
        #expect(upgrade.path == "/chat")
        #expect(upgrade.query == nil)
        #expect(upgrade.host == "server.example.com")
        #expect(upgrade.key == "dGhlIHNhbXBsZSBub25jZQ==")
        #expect(upgrade.protocols == ["chat", "superchat"])
        #expect(upgrade.extensions == nil)
        #expect(upgrade.headers.first("origin") == "http://example.com")
    }

    /// RFC 6455 §4.2.1 item 1: origin-form or absolute-form targets.
    @Test(
        arguments: [
            ("/chat?room=1&x", "/chat", "room=1&x"),
            ("/?", "/", ""),
            ("/a/b", "/a/b", nil),
            ("ws://server.example.com/chat?x=1", "/chat", "x=1"),
            ("HTTPS://server.example.com", "/", nil),
            ("wss://server.example.com?q", "/", "q"),
        ] as [(String, String, String?)])
    func targetIsSplitIntoPathAndQuery(target: String, path: String, query: String?) throws {
        let upgrade = try ServerHandshake.validate(request: Self.request(target: target))
        #expect(upgrade.path == path)
        #expect(upgrade.query == query)
    }

    /// RFC 6455 §4.2.2 step 5: 101, Upgrade, Connection, Sec-WebSocket-Accept (§1.3 example).
    @Test func responseBytesAreExactForTheRFCExample() throws {
        let upgrade = try ServerHandshake.validate(request: Self.request())
        let bytes = ServerHandshake.responseBytes(for: upgrade, subprotocol: "chat", extraHeaders: [("Set-Cookie", "id=1")])
        let expected =
            "HTTP/1.1 101 Switching Protocols\r\n"
            + "Upgrade: websocket\r\n"
            + "Connection: Upgrade\r\n"
            + "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
            + "Sec-WebSocket-Protocol: chat\r\n"
            + "Set-Cookie: id=1\r\n"
            + "\r\n"
        #expect(String(decoding: bytes, as: UTF8.self) == expected)
    }

    @Test func responseBytesIncludeNegotiatedExtensions() throws {
        let upgrade = try ServerHandshake.validate(
            request: Self.request(Self.fields(adding: [("Sec-WebSocket-Extensions", "permessage-deflate")])))
        #expect(upgrade.extensions == "permessage-deflate")
        let bytes = ServerHandshake.responseBytes(for: upgrade, extensions: "permessage-deflate")
        #expect(String(decoding: bytes, as: UTF8.self).contains("\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n"))
        #expect(!String(decoding: bytes, as: UTF8.self).contains("Sec-WebSocket-Protocol"))
    }

    /// RFC 6455 §4.2.1 item 1.
    @Test func nonGetMethodIsRejected() {
        #expect(throws: HandshakeError.invalidMethod("POST")) {
            try ServerHandshake.validate(request: Self.request(method: "POST"))
        }
    }

    @Test func requestOlderThanHTTP11IsRejected() {
        #expect(throws: HandshakeError.unsupportedHTTPVersion(HTTPVersion(major: 1, minor: 0))) {
            try ServerHandshake.validate(request: Self.request(version: HTTPVersion(major: 1, minor: 0)))
        }
    }

    @Test(arguments: ["*", "server.example.com:80", "/a#b", "ws:///x", "ftp://h/x"])
    func unusableTargetIsRejected(_ target: String) {
        #expect(throws: HandshakeError.self) { try ServerHandshake.validate(request: Self.request(target: target)) }
    }

    /// RFC 6455 §4.2.1 item 2; RFC 9112 §3.2: exactly one Host.
    @Test func missingOrRepeatedHostIsRejected() {
        #expect(throws: HandshakeError.missingHost) {
            try ServerHandshake.validate(request: Self.request(Self.fields(without: "Host")))
        }
        #expect(throws: HandshakeError.missingHost) {
            try ServerHandshake.validate(request: Self.request(Self.fields(adding: [("host", "evil.example")])))
        }
    }

    /// RFC 6455 §4.2.1 items 3 and 4.
    @Test func requestWithoutUpgradeOrConnectionIsRejected() {
        #expect(throws: HandshakeError.missingUpgrade(got: nil)) {
            try ServerHandshake.validate(request: Self.request(Self.fields(without: "Upgrade")))
        }
        #expect(throws: HandshakeError.missingUpgrade(got: "h2c")) {
            try ServerHandshake.validate(request: Self.request(Self.fields(without: "Upgrade", adding: [("Upgrade", "h2c")])))
        }
        #expect(throws: HandshakeError.missingConnectionUpgrade(got: "keep-alive")) {
            try ServerHandshake.validate(
                request: Self.request(Self.fields(without: "Connection", adding: [("Connection", "keep-alive")])))
        }
    }

    /// Firefox sends "Connection: keep-alive, Upgrade"; tokens are case-insensitive.
    @Test func connectionListAndTokenCaseAreTolerated() throws {
        let fields = Self.fields(without: "Connection", adding: [("connection", "keep-alive, UPGRADE")])
        #expect(throws: Never.self) { try ServerHandshake.validate(request: Self.request(fields)) }
    }

    /// RFC 6455 §4.2.1 item 6 and §4.4: a version other than 13 gets a 426 naming 13.
    @Test func unsupportedWebSocketVersionIsRejectedWith426() throws {
        let error = #expect(throws: HandshakeError.unsupportedWebSocketVersion("8")) {
            try ServerHandshake.validate(
                request: Self.request(Self.fields(without: "Sec-WebSocket-Version", adding: [("Sec-WebSocket-Version", "8")])))
        }
        #expect(throws: HandshakeError.unsupportedWebSocketVersion(nil)) {
            try ServerHandshake.validate(request: Self.request(Self.fields(without: "Sec-WebSocket-Version")))
        }
        #expect(throws: HandshakeError.unsupportedWebSocketVersion("13, 8")) {
            try ServerHandshake.validate(
                request: Self.request(Self.fields(without: "Sec-WebSocket-Version", adding: [("Sec-WebSocket-Version", "13, 8")]))
            )
        }

        let rejection = try #require(error.map { ServerHandshake.rejectionBytes(for: $0) })
        let (head, body) = try #require(try parseHead([rejection], as: HTTPResponseHead.self))
        #expect(head.status == 426)
        #expect(head.headers.values("Sec-WebSocket-Version") == ["13"])
        #expect(head.headers.containsToken("Upgrade", token: "websocket"))
        #expect(head.headers.containsToken("Connection", token: "close"))
        #expect(head.headers.first("Content-Length") == String(body.count))
    }

    /// RFC 6455 §4.2.1 item 5 and §11.3.1: one key, base64 of 16 bytes.
    @Test(arguments: [
        [] as [String],
        ["dGhlIHNhbXBsZSBub25jZQ"],  // unpadded
        ["dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZSBub25jZQ=="],
        ["c2hvcnQ="],  // 5 bytes
        ["dGhlIHNhbXBsZSBub25jZSEh"],  // 18 bytes
        ["not base64 at all!!!!!!!"],
    ])
    func invalidKeyIsRejected(keys: [String]) {
        let fields = Self.fields(without: "Sec-WebSocket-Key", adding: keys.map { ("Sec-WebSocket-Key", $0) })
        #expect(throws: HandshakeError.invalidKey(keys.isEmpty ? nil : keys.joined(separator: ", "))) {
            try ServerHandshake.validate(request: Self.request(fields))
        }
    }

    /// A body would be read as WebSocket frames by us and as content by an intermediary.
    @Test func requestWithABodyIsRejected() throws {
        let expected = HandshakeError.malformedRequest("an upgrade request must not have a body")
        #expect(throws: expected) {
            try ServerHandshake.validate(request: Self.request(Self.fields(adding: [("Content-Length", "5")])))
        }
        #expect(throws: expected) {
            try ServerHandshake.validate(request: Self.request(Self.fields(adding: [("Transfer-Encoding", "chunked")])))
        }
        #expect(throws: Never.self) {
            try ServerHandshake.validate(request: Self.request(Self.fields(adding: [("Content-Length", "0")])))
        }
    }

    @Test func invalidOfferedSubprotocolIsRejected() {
        let fields = Self.fields(without: "Sec-WebSocket-Protocol", adding: [("Sec-WebSocket-Protocol", "chat, bad/name")])
        #expect(throws: HandshakeError.malformedRequest("invalid subprotocol \"bad/name\" in Sec-WebSocket-Protocol")) {
            try ServerHandshake.validate(request: Self.request(fields))
        }
    }

    @Test func rejectionBytesAreExact() {
        let bytes = ServerHandshake.rejectionBytes(
            status: 403, reason: "Forbidden", headers: [("Content-Type", "text/plain")], body: Array("no\n".utf8)
        )
        let expected =
            "HTTP/1.1 403 Forbidden\r\n"
            + "Content-Type: text/plain\r\n"
            + "Connection: close\r\n"
            + "Content-Length: 3\r\n"
            + "\r\n"
            + "no\n"
        #expect(String(decoding: bytes, as: UTF8.self) == expected)
    }

    @Test(arguments: [
        (HandshakeError.invalidMethod("PUT"), 405, "Allow", "GET"),
        (.requestTooLarge(limit: 16384), 431, "Connection", "close"),
        (.tooManyRequestHeaderFields(limit: 100), 431, "Connection", "close"),
        (.missingHost, 400, "Connection", "close"),
        (.invalidKey(nil), 400, "Content-Type", "text/plain; charset=utf-8"),
        (.malformedRequest("secret detail"), 400, "Connection", "close"),
    ])
    func rejectionStatusFollowsTheError(error: HandshakeError, status: Int, header: String, value: String) throws {
        let bytes = ServerHandshake.rejectionBytes(for: error)
        let (head, body) = try #require(try parseHead([bytes], as: HTTPResponseHead.self))
        #expect(head.status == status)
        #expect(head.headers.first(header) == value)
        #expect(head.headers.first("Content-Length") == String(body.count))
        // The body names the problem without echoing what the client sent.
        #expect(!String(decoding: body, as: UTF8.self).contains("secret"))
    }

    @Test func parseErrorsMapToRequestErrors() {
        #expect(HandshakeError(request: .tooLarge(limit: 10)) == .requestTooLarge(limit: 10))
        #expect(HandshakeError(request: .tooManyFields(limit: 100)) == .tooManyRequestHeaderFields(limit: 100))
        #expect(HandshakeError(request: .malformed("x")) == .malformedRequest("x"))
    }

    /// Both roles together, through real bytes: the client's request parses and validates on the
    /// server, and the server's answer (with a frame behind it) validates on the client.
    @Test func clientAndServerCompleteTheHandshakeOverBytes() throws {
        var rng = SeededGenerator(seed: 6455)
        for _ in 0..<50 {
            let client = ClientHandshake(
                url: try WebSocketURL(parsing: "ws://localhost:9001/echo?x=1"),
                protocols: ["v1.chat", "v2.chat"],
                extraHeaders: [("Origin", "http://localhost")],
                key: ClientHandshake.makeKey(using: &rng)
            )
            let (request, requestRest) = try #require(try parseHead([client.requestBytes()], as: HTTPRequestHead.self))
            #expect(requestRest.isEmpty)
            let upgrade = try ServerHandshake.validate(request: request)
            #expect(upgrade.path == "/echo" && upgrade.query == "x=1" && upgrade.host == "localhost:9001")
            #expect(upgrade.key == client.encodedKey)

            let frame: [UInt8] = [0x81, 0x00]
            let answer = ServerHandshake.responseBytes(for: upgrade, subprotocol: upgrade.protocols.last) + frame
            let (response, rest) = try #require(try parseHead([answer], as: HTTPResponseHead.self))
            #expect(rest == frame)
            let result = try client.validate(response)
            #expect(result.subprotocol == "v2.chat")
        }
    }
}
