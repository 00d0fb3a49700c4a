import Testing

@testable import WebSocketCore

@Suite("RFC 6455 §3 WebSocket URIs")
struct WebSocketURLTests {
    @Test func plainURLUsesPort80AndRootResource() throws {
        let url = try WebSocketURL(parsing: "ws://example.com")
        #expect(!url.isSecure)
        #expect(url.host == "example.com")
        #expect(url.port == 80)
        #expect(url.resource == "/")
        #expect(url.hostHeader == "example.com")
        #expect(url.description == "ws://example.com/")
    }

    @Test func secureURLUsesPort443AndKeepsPathAndQuery() throws {
        let url = try WebSocketURL(parsing: "wss://example.com/chat/room?id=7&x")
        #expect(url.isSecure)
        #expect(url.port == 443)
        #expect(url.resource == "/chat/room?id=7&x")
        #expect(url.hostHeader == "example.com")
    }

    /// RFC 3986 §3.1 and §3.2.2: scheme and host are case-insensitive; the path is not.
    @Test func schemeAndHostAreCaseInsensitive() throws {
        let url = try WebSocketURL(parsing: "WsS://Example.COM/Path")
        #expect(url.isSecure)
        #expect(url.host == "example.com")
        #expect(url.resource == "/Path")
        #expect(url == (try WebSocketURL(parsing: "wss://example.com:443/Path")))
    }

    /// RFC 6455 §4.1 item 4 / RFC 9110 §7.2: the Host header omits the scheme's default port.
    @Test func explicitPortAppearsInHostHeaderOnlyWhenNotDefault() throws {
        #expect(try WebSocketURL(parsing: "ws://h:80/").hostHeader == "h")
        #expect(try WebSocketURL(parsing: "ws://h:443/").hostHeader == "h:443")
        #expect(try WebSocketURL(parsing: "wss://h:443/").hostHeader == "h")
        let url = try WebSocketURL(parsing: "ws://h:9001")
        #expect(url.port == 9001)
        #expect(url.hostHeader == "h:9001")
        #expect(url.resource == "/")
    }

    /// RFC 3986 §3.2.3: an empty port means the default.
    @Test func emptyPortMeansDefault() throws {
        #expect(try WebSocketURL(parsing: "wss://h:/x").port == 443)
    }

    /// RFC 3986 §3.2.2: IPv6 literals are bracketed in the URL and the Host header, not in `host`.
    @Test func ipv6LiteralIsUnbracketedInHostAndBracketedInHostHeader() throws {
        let url = try WebSocketURL(parsing: "ws://[::1]:9001/x")
        #expect(url.host == "::1")
        #expect(url.port == 9001)
        #expect(url.hostHeader == "[::1]:9001")
        #expect(url.resource == "/x")
        let defaultPort = try WebSocketURL(parsing: "wss://[2001:DB8::ffff:192.0.2.1]")
        #expect(defaultPort.host == "2001:db8::ffff:192.0.2.1")
        #expect(defaultPort.hostHeader == "[2001:db8::ffff:192.0.2.1]")
    }

    @Test func ipv4AddressIsAHost() throws {
        let url = try WebSocketURL(parsing: "ws://127.0.0.1:8080/")
        #expect(url.host == "127.0.0.1")
        #expect(url.hostHeader == "127.0.0.1:8080")
    }

    /// RFC 6455 §3: the query is appended with "?" only when non-empty.
    @Test func emptyQueryIsDroppedFromTheResource() throws {
        #expect(try WebSocketURL(parsing: "ws://h/p?").resource == "/p")
        #expect(try WebSocketURL(parsing: "ws://h?a=1").resource == "/?a=1")
        #expect(try WebSocketURL(parsing: "ws://h/a?b?c/d").resource == "/a?b?c/d")
    }

    @Test func nonASCIIAndUnsafeCharactersArePercentEncoded() throws {
        let url = try WebSocketURL(parsing: "ws://h/caf\u{E9}/{x}?q=\"a|b\"&e=%41")
        #expect(url.resource == "/caf%C3%A9/%7Bx%7D?q=%22a%7Cb%22&e=%41")
    }

    @Test(arguments: [
        ("ws://h/a#frag", WebSocketURLError.fragmentNotAllowed),
        ("ws://h#", .fragmentNotAllowed),
        ("http://h/", .unsupportedScheme("http")),
        ("HTTPS://h/", .unsupportedScheme("HTTPS")),
        ("ftp://h/", .unsupportedScheme("ftp")),
        ("example.com/chat", .missingScheme),
        ("//example.com", .missingScheme),
        ("", .missingScheme),
        ("1ws://h", .unsupportedScheme("1ws")),
        ("localhost:8080/chat", .missingScheme),
        ("mailto:someone", .missingScheme),
        ("ws:h/path", .missingHost),
        ("ws:/h/path", .missingHost),
        ("ws://", .missingHost),
        ("ws:///path", .missingHost),
        ("ws://:80/", .missingHost),
        ("ws://[]/", .invalidHost("")),
        ("ws://h:0/", .invalidPort("0")),
        ("ws://h:65536/", .invalidPort("65536")),
        ("ws://h:123456/", .invalidPort("123456")),
        ("ws://h:99999999999999999999999/", .invalidPort("99999999999999999999999")),
        ("ws://h:8o/", .invalidPort("8o")),
        ("ws://h:-1/", .invalidPort("-1")),
        ("ws://h:+80/", .invalidPort("+80")),
        ("ws://h:80:81/", .invalidPort("80:81")),
        ("ws://us%zzer:pass@h/", .invalidUserInfo),
        ("ws://user:%FF@h/", .invalidUserInfo),
        ("ws://exa mple.com/", .invalidCharacter(" ", offset: 8)),
        (" ws://h/", .invalidCharacter(" ", offset: 0)),
        ("ws://h/a b", .invalidCharacter(" ", offset: 8)),
        ("ws://h/\r\nX: y", .invalidCharacter("\r", offset: 7)),
        ("ws://h/\u{0}", .invalidCharacter("\u{0}", offset: 7)),
        ("ws://h/\u{7F}", .invalidCharacter("\u{7F}", offset: 7)),
        ("ws://caf\u{E9}.fr/", .invalidHost("caf\u{E9}.fr")),
        ("ws://h<x>/", .invalidHost("h<x>")),
        ("ws://[::1/", .invalidHost("[::1")),
        ("ws://[::1]x/", .invalidHost("[::1]x")),
        ("ws://[v1.zz]/", .invalidHost("v1.zz")),
        ("ws://[fe80::1%25eth0]/", .invalidHost("fe80::1%25eth0")),
        ("ws://[127.0.0.1]/", .invalidHost("127.0.0.1")),
    ])
    func invalidURLIsRejectedWithAPreciseError(input: String, expected: WebSocketURLError) {
        #expect(throws: expected) { try WebSocketURL(parsing: input) }
    }

    @Test func errorMessagesAreActionable() {
        #expect(WebSocketURLError.fragmentNotAllowed.description.contains("%23"))
        #expect(WebSocketURLError.userInfoNotAllowed.description.contains("Authorization"))
        #expect(
            WebSocketURLError.invalidCharacter(" ", offset: 3).description
                == "the URL contains a space or control character (U+0020) at offset 3; percent-encode it")
        #expect(WebSocketURLError.unsupportedScheme("http").description.contains("ws://"))
        #expect(WebSocketURLError.invalidPort("0").description.contains("1 to 65535"))
    }

    @Test func randomStringsNeverTrapAndValidOnesAreConsistent() {
        var rng = SeededGenerator(seed: 3986)
        let pieces = [
            "ws", "wss", "://", ":", "/", "?", "#", "@", "[", "]", "::1", "h", "80", "0",
            "65535", "%", " ", "\u{E9}", ".", "x=1", "\r",
        ]
        for _ in 0..<5000 {
            let input = (0..<Int.random(in: 0...8, using: &rng))
                .map { _ in pieces.randomElement(using: &rng)! }.joined()
            guard let url = try? WebSocketURL(parsing: input) else { continue }
            #expect(!url.host.isEmpty)
            #expect((1...65535).contains(url.port))
            #expect(url.resource.hasPrefix("/"))
            // The normal form parses back to the same value.
            #expect((try? WebSocketURL(parsing: url.description)) == url, "\(input)")
        }
    }
}
