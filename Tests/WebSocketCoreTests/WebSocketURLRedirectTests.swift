import Testing

@testable import WebSocketCore

/// User information in WebSocket URLs (RFC 3986 §3.2.1) and redirect targets resolved against
/// the URL that answered (RFC 9110 §10.2.2, RFC 3986 §5.2).
@Suite("WebSocket URLs: credentials and redirect Locations")
struct WebSocketURLRedirectTests {
    @Test("user:password@ is split off, percent-decoded, and kept out of description and Host")
    func userInfoIsParsed() throws {
        let url = try WebSocketURL(parsing: "wss://ann:p%3Ass%40w%C3%B6rd@example.com:8443/x")
        #expect(url.user == "ann")
        #expect(url.password == "p:ss@wörd")
        #expect(url.host == "example.com")
        #expect(url.hostHeader == "example.com:8443")
        #expect(url.description == "wss://example.com:8443/x")
        let userOnly = try WebSocketURL(parsing: "ws://ann@h/")
        #expect(userOnly.user == "ann" && userOnly.password == nil)
        let emptyPassword = try WebSocketURL(parsing: "ws://ann:@h/")
        #expect(emptyPassword.password == "")
        let plain = try WebSocketURL(parsing: "ws://h/")
        #expect(plain.user == nil && plain.password == nil)
    }

    @Test(
        "Locations resolve like a browser's: absolute, http(s) mapped to ws(s), scheme-relative, absolute and relative paths",
        arguments: [
            ("ws://a.test/x/y?q=1", "wss://b.test/z", "wss://b.test/z"),
            ("ws://a.test/x/y", "http://b.test:8080/z", "ws://b.test:8080/z"),
            ("wss://a.test/x/y", "https://b.test/z", "wss://b.test/z"),
            ("wss://a.test/x/y", "HTTP://b.test/z", "ws://b.test/z"),
            ("wss://a.test:444/x/y", "//c.test/p", "wss://c.test/p"),
            ("ws://a.test:81/x/y?q=1", "/p?r=2", "ws://a.test:81/p?r=2"),
            ("ws://a.test/x/y", "z", "ws://a.test/x/z"),
            ("ws://a.test/x/y/", "z", "ws://a.test/x/y/z"),
            ("ws://a.test/x/y", "../z", "ws://a.test/z"),
            ("ws://a.test/x/y", "./", "ws://a.test/x/"),
            ("ws://a.test/x/y", "/a/./b/../c", "ws://a.test/a/c"),
            ("ws://a.test/x/y", "?page=2", "ws://a.test/x/y?page=2"),
            ("ws://a.test/x/y", "/z#fragment", "ws://a.test/z"),
            ("ws://a.test/", "../../../up", "ws://a.test/up"),
        ])
    func locationIsResolved(base: String, location: String, expected: String) throws {
        let resolved = try WebSocketURL(parsing: base).resolving(redirect: location)
        #expect(resolved.description == expected)
    }

    @Test("a Location with another scheme, or none at all, is refused with the Location named")
    func badLocationsAreRefused() throws {
        let base = try WebSocketURL(parsing: "ws://a.test/")
        #expect(throws: WebSocketURLError.invalidRedirectLocation("ftp://b.test/")) {
            try base.resolving(redirect: "ftp://b.test/")
        }
        #expect(throws: WebSocketURLError.invalidRedirectLocation("")) { try base.resolving(redirect: "") }
        #expect(throws: WebSocketURLError.invalidRedirectLocation("#only")) { try base.resolving(redirect: "#only") }
    }

    @Test("a redirect does not carry the original URL's credentials")
    func resolvedURLHasNoCredentials() throws {
        let base = try WebSocketURL(parsing: "ws://ann:secret@a.test/x")
        let resolved = try base.resolving(redirect: "/y")
        #expect(resolved.user == nil && resolved.password == nil)
    }
}
