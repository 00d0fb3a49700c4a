import Testing

@testable import WebSocketCore

@Suite("RFC 6455 §4.1 client handshake")
struct ClientHandshakeTests {
    /// The RFC 6455 §1.3 nonce: base64 "dGhlIHNhbXBsZSBub25jZQ==".
    static let sampleKey = Array("the sample nonce".utf8)
    static let sampleAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

    static func makeHandshake(
        url: String = "ws://server.example.com/chat",
        protocols: [String] = ["chat", "superchat"],
        extraHeaders: [(String, String)] = [],
        extensionOffer: String? = nil
    ) throws -> ClientHandshake {
        ClientHandshake(
            url: try WebSocketURL(parsing: url),
            protocols: protocols,
            extraHeaders: extraHeaders,
            extensionOffer: extensionOffer,
            key: sampleKey
        )
    }

    /// The fields of a valid 101 response to ``makeHandshake(url:protocols:extraHeaders:extensionOffer:)``.
    static let validFields: [(String, String)] = [
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Accept", sampleAccept),
    ]

    /// A response head with the given status and fields (by default, a valid 101).
    static func response(status: Int = 101, _ fields: [(String, String)] = validFields) -> HTTPResponseHead {
        HTTPResponseHead(status: status, reason: status == 101 ? "Switching Protocols" : "Nope", headers: HTTPHeaders(fields))
    }

    @Test func keyIsEncodedAndExpectedAcceptComputedFromIt() throws {
        let handshake = try Self.makeHandshake()
        #expect(handshake.encodedKey == "dGhlIHNhbXBsZSBub25jZQ==")
        #expect(handshake.expectedAccept == Self.sampleAccept)
    }

    /// RFC 6455 §4.1 items 1–10 and §1.3's sample request, byte for byte.
    @Test func requestBytesAreExactForAFixedKey() throws {
        let handshake = try Self.makeHandshake(extraHeaders: [("Origin", "http://example.com")])
        let expected =
            "GET /chat HTTP/1.1\r\n"
            + "Host: server.example.com\r\n"
            + "Upgrade: websocket\r\n"
            + "Connection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            + "Sec-WebSocket-Version: 13\r\n"
            + "Sec-WebSocket-Protocol: chat, superchat\r\n"
            + "Origin: http://example.com\r\n"
            + "\r\n"
        #expect(String(decoding: handshake.requestBytes(), as: UTF8.self) == expected)
    }

    @Test func requestOmitsOptionalFieldsAndIncludesPortAndQuery() throws {
        let handshake = try Self.makeHandshake(
            url: "wss://[::1]:9001/a?b=1", protocols: [],
            extensionOffer: "permessage-deflate; client_max_window_bits")
        let expected =
            "GET /a?b=1 HTTP/1.1\r\n"
            + "Host: [::1]:9001\r\n"
            + "Upgrade: websocket\r\n"
            + "Connection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            + "Sec-WebSocket-Version: 13\r\n"
            + "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
            + "\r\n"
        #expect(String(decoding: handshake.requestBytes(), as: UTF8.self) == expected)
    }

    /// RFC 6455 §4.1 item 7: the nonce is 16 bytes from the injected generator.
    @Test func makeKeyDrawsSixteenBytesFromTheGenerator() {
        var rng = SeededGenerator(seed: 1)
        let first = ClientHandshake.makeKey(using: &rng)
        let second = ClientHandshake.makeKey(using: &rng)
        #expect(first.count == 16 && second.count == 16)
        #expect(first != second)
        var replay = SeededGenerator(seed: 1)
        #expect(ClientHandshake.makeKey(using: &replay) == first)
    }

    @Test func validResponseIsAcceptedWithoutSubprotocolOrExtensions() throws {
        let result = try Self.makeHandshake().validate(Self.response())
        #expect(result.subprotocol == nil)
        #expect(result.extensions == nil)
        #expect(result.headers.first("Sec-WebSocket-Accept") == Self.sampleAccept)
    }

    /// RFC 6455 §4.1 items 2 and 3: token comparisons are ASCII case-insensitive.
    @Test func upgradeAndConnectionAreMatchedCaseInsensitively() throws {
        let response = Self.response([
            ("upgrade", "WebSocket"),
            ("connection", "keep-alive, UPGRADE"),
            ("sec-websocket-accept", Self.sampleAccept),
        ])
        #expect(throws: Never.self) { try Self.makeHandshake().validate(response) }
    }

    /// RFC 6455 §4.1: "If the status code received from the server is not 101, the client handles
    /// the response per HTTP procedures"; the head is kept for that.
    @Test func nonSwitchingStatusIsReportedWithTheWholeHead() throws {
        let redirect = Self.response(status: 302, [("Location", "wss://elsewhere/")])
        let error = #expect(throws: HandshakeError.unexpectedStatus(redirect)) {
            try Self.makeHandshake().validate(redirect)
        }
        #expect(error?.description == "the server answered 302 Nope instead of 101 Switching Protocols")
        #expect(throws: HandshakeError.self) { try Self.makeHandshake().validate(Self.response(status: 200)) }
    }

    @Test func switchingProtocolsOverHTTP10IsRejected() throws {
        var response = Self.response()
        response.version = HTTPVersion(major: 1, minor: 0)
        #expect(throws: HandshakeError.malformedResponse("101 Switching Protocols sent as HTTP/1.0")) {
            try Self.makeHandshake().validate(response)
        }
    }

    /// RFC 6455 §4.1 item 2.
    @Test(arguments: [
        ([("Connection", "Upgrade"), ("Sec-WebSocket-Accept", sampleAccept)], HandshakeError.missingUpgrade(got: nil)),
        ([("Upgrade", "h2c"), ("Connection", "Upgrade"), ("Sec-WebSocket-Accept", sampleAccept)], .missingUpgrade(got: "h2c")),
        (
            [("Upgrade", "websocket, h2c"), ("Connection", "Upgrade"), ("Sec-WebSocket-Accept", sampleAccept)],
            .missingUpgrade(got: "websocket, h2c")
        ),
        (
            [("Upgrade", "websockets"), ("Connection", "Upgrade"), ("Sec-WebSocket-Accept", sampleAccept)],
            .missingUpgrade(got: "websockets")
        ),
    ])
    func responseWithoutWebSocketUpgradeIsRejected(fields: [(String, String)], expected: HandshakeError) throws {
        #expect(throws: expected) { try Self.makeHandshake().validate(Self.response(fields)) }
    }

    /// RFC 6455 §4.1 item 3.
    @Test func responseWithoutConnectionUpgradeIsRejected() throws {
        let handshake = try Self.makeHandshake()
        #expect(throws: HandshakeError.missingConnectionUpgrade(got: nil)) {
            try handshake.validate(Self.response([("Upgrade", "websocket"), ("Sec-WebSocket-Accept", Self.sampleAccept)]))
        }
        #expect(throws: HandshakeError.missingConnectionUpgrade(got: "keep-alive")) {
            try handshake.validate(
                Self.response([
                    ("Upgrade", "websocket"), ("Connection", "keep-alive"), ("Sec-WebSocket-Accept", Self.sampleAccept),
                ]))
        }
    }

    /// RFC 6455 §4.1 item 4.
    @Test func responseWithWrongAcceptKeyIsRejected() throws {
        let wrong = Handshake.acceptValue(forKey: "AAAAAAAAAAAAAAAAAAAAAA==")
        let fields = [("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Accept", wrong)]
        let error = #expect(throws: HandshakeError.invalidAccept(expected: Self.sampleAccept, got: wrong)) {
            try Self.makeHandshake().validate(Self.response(fields))
        }
        #expect(error?.description.contains("does not match the key sent") == true)
    }

    @Test func responseWithoutAcceptIsRejected() throws {
        #expect(throws: HandshakeError.invalidAccept(expected: Self.sampleAccept, got: nil)) {
            try Self.makeHandshake().validate(Self.response([("Upgrade", "websocket"), ("Connection", "Upgrade")]))
        }
    }

    /// RFC 6455 §11.3.3: Sec-WebSocket-Accept MUST NOT appear more than once.
    @Test func responseWithTwoAcceptHeadersIsRejected() throws {
        let fields = Self.validFields + [("Sec-WebSocket-Accept", Self.sampleAccept)]
        #expect(throws: HandshakeError.malformedResponse("more than one Sec-WebSocket-Accept header")) {
            try Self.makeHandshake().validate(Self.response(fields))
        }
    }

    /// RFC 6455 §4.1 item 6: the server picks one of the offered subprotocols.
    @Test func offeredSubprotocolIsReturned() throws {
        let result = try Self.makeHandshake().validate(
            Self.response(Self.validFields + [("Sec-WebSocket-Protocol", "superchat")]))
        #expect(result.subprotocol == "superchat")
    }

    @Test func unofferedSubprotocolIsRejected() throws {
        let handshake = try Self.makeHandshake()
        #expect(throws: HandshakeError.unrequestedSubprotocol("smtp")) {
            try handshake.validate(Self.response(Self.validFields + [("Sec-WebSocket-Protocol", "smtp")]))
        }
        // Subprotocol names are compared exactly.
        #expect(throws: HandshakeError.unrequestedSubprotocol("Chat")) {
            try handshake.validate(Self.response(Self.validFields + [("Sec-WebSocket-Protocol", "Chat")]))
        }
        let noOffer = try Self.makeHandshake(protocols: [])
        #expect(throws: HandshakeError.unrequestedSubprotocol("chat")) {
            try noOffer.validate(Self.response(Self.validFields + [("Sec-WebSocket-Protocol", "chat")]))
        }
    }

    /// RFC 6455 §11.3.4: the response carries at most one subprotocol.
    @Test func severalSubprotocolsInTheResponseAreRejected() throws {
        let handshake = try Self.makeHandshake()
        let expected = HandshakeError.malformedResponse("the server selected several subprotocols: chat, superchat")
        #expect(throws: expected) {
            try handshake.validate(Self.response(Self.validFields + [("Sec-WebSocket-Protocol", "chat, superchat")]))
        }
        #expect(throws: expected) {
            try handshake.validate(
                Self.response(Self.validFields + [("Sec-WebSocket-Protocol", "chat"), ("Sec-WebSocket-Protocol", "superchat")]))
        }
    }

    /// RFC 6455 §4.1 item 5: an extension the client did not offer fails the connection.
    @Test func extensionsWithoutAnOfferAreRejected() throws {
        #expect(throws: HandshakeError.unrequestedExtension("permessage-deflate")) {
            try Self.makeHandshake().validate(
                Self.response(Self.validFields + [("Sec-WebSocket-Extensions", "permessage-deflate")]))
        }
    }

    /// With an offer, the raw answer is handed to extension negotiation; repeated fields are one
    /// list (RFC 6455 §9.1, erratum 3433).
    @Test func extensionsAnswerIsReturnedRawWhenOffered() throws {
        let handshake = try Self.makeHandshake(extensionOffer: "permessage-deflate")
        let result = try handshake.validate(
            Self.response(
                Self.validFields + [
                    ("Sec-WebSocket-Extensions", "permessage-deflate; server_no_context_takeover"),
                    ("Sec-WebSocket-Extensions", "x-other"),
                ]))
        #expect(result.extensions == "permessage-deflate; server_no_context_takeover, x-other")
    }

    @Test func parseErrorsMapToResponseErrors() {
        #expect(HandshakeError(response: .tooLarge(limit: 10)) == .responseTooLarge(limit: 10))
        #expect(HandshakeError(response: .malformed("x")) == .malformedResponse("x"))
        #expect(
            HandshakeError.responseTooLarge(limit: 10).description
                == "the server's handshake response is larger than the limit of 10 bytes")
    }

    /// Random response heads (built from plausible pieces) are either accepted or rejected with
    /// an error; an accepted one always satisfies the §4.1 rules.
    @Test func randomResponsesNeverTrapAndAcceptedOnesFollowTheRules() throws {
        let handshake = try Self.makeHandshake(extensionOffer: "permessage-deflate")
        var rng = SeededGenerator(seed: 41)
        let names = [
            "Upgrade", "Connection", "Sec-WebSocket-Accept", "Sec-WebSocket-Protocol",
            "Sec-WebSocket-Extensions", "X-Other",
        ]
        let values = ["websocket", "Upgrade", Self.sampleAccept, "chat", "smtp", "", "a, b", "permessage-deflate"]
        var accepted = 0
        for _ in 0..<3000 {
            var headers = HTTPHeaders()
            for _ in 0..<Int.random(in: 0...6, using: &rng) {
                headers.append(name: names.randomElement(using: &rng)!, value: values.randomElement(using: &rng)!)
            }
            let status = [101, 101, 101, 200].randomElement(using: &rng)!
            let head = HTTPResponseHead(status: status, reason: "", headers: headers)
            guard let result = try? handshake.validate(head) else { continue }
            accepted += 1
            #expect(status == 101)
            #expect(headers.all("Sec-WebSocket-Accept") == [Self.sampleAccept])
            #expect(result.subprotocol == nil || handshake.protocols.contains(result.subprotocol!))
        }
        #expect(accepted > 0)
    }
}
