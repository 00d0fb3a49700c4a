import Testing

@testable import WebSocketCore

@Suite("RFC 6455 §4 handshake rules")
struct HandshakeTests {
    /// RFC 6455 §1.3 worked example: the key "dGhlIHNhbXBsZSBub25jZQ==" gives this accept value.
    @Test func acceptValueMatchesRFC6455Example() {
        #expect(Handshake.acceptValue(forKey: "dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    }

    /// The key is hashed as sent; it is not decoded or normalized first.
    @Test func acceptValueDependsOnTheExactKeyText() {
        #expect(
            Handshake.acceptValue(forKey: "dGhlIHNhbXBsZSBub25jZQ==")
                != Handshake.acceptValue(forKey: "DGhlIHNhbXBsZSBub25jZQ=="))
        #expect(Handshake.acceptValue(forKey: "x").utf8.count == 28)
    }

    @Test(arguments: [
        "Host", "upgrade", "CONNECTION", "Sec-WebSocket-Key", "sec-websocket-version",
        "Sec-WebSocket-Accept", "Sec-WebSocket-Protocol", "SEC-WEBSOCKET-EXTENSIONS",
        "Content-Length", "transfer-encoding",
    ])
    func handshakeOwnedHeadersAreRecognizedInAnyCase(_ name: String) {
        #expect(Handshake.isHandshakeOwnedHeader(name))
        #expect(Handshake.problem(withHeaderName: name, value: "x")?.contains("set by the WebSocket handshake") == true)
    }

    @Test(arguments: ["Origin", "Authorization", "Cookie", "User-Agent", "X-Host", "Hosts"])
    func applicationHeadersAreNotHandshakeOwned(_ name: String) {
        #expect(!Handshake.isHandshakeOwnedHeader(name))
        #expect(Handshake.problem(withHeaderName: name, value: "Bearer abc") == nil)
    }

    /// RFC 9110 §5.5: CR, LF and NUL would end or corrupt the line (header injection).
    @Test func headerValuesWithLineBreaksOrNULAreRefused() {
        #expect(Handshake.isValidHeaderValue("a value, with \"quotes\"\tand tabs \u{E9}"))
        #expect(Handshake.isValidHeaderValue(""))
        for bad in ["a\r\nX-Injected: 1", "a\nb", "a\rb", "a\u{0}b"] {
            #expect(!Handshake.isValidHeaderValue(bad))
            #expect(
                Handshake.problem(withHeaderName: "X-Test", value: bad) == "the value of the X-Test header contains CR, LF or NUL"
            )
        }
    }

    /// RFC 9110 §5.1: a field name is a token.
    @Test func headerNamesMustBeTokens() {
        #expect(Handshake.isValidHeaderName("X-Request-ID"))
        for bad in ["", "X Test", "X:Test", "X-Tést", "X\r\n"] {
            #expect(!Handshake.isValidHeaderName(bad))
            #expect(Handshake.problem(withHeaderName: bad, value: "v")?.contains("not a valid HTTP header name") == true)
        }
    }

    /// RFC 6455 §4.1 item 10: U+0021–U+007E without separators.
    @Test func subprotocolNamesMustBeTokens() {
        #expect(Handshake.isValidSubprotocol("chat.v2"))
        #expect(Handshake.isValidSubprotocol("graphql-transport-ws"))
        for bad in ["", "a b", "a,b", "a/b", "a;b", "a=b", "é", "{a}"] {
            #expect(!Handshake.isValidSubprotocol(bad), "\(bad)")
        }
    }
}
