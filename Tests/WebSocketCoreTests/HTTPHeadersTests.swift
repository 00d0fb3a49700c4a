import Testing

@testable import WebSocketCore

@Suite("RFC 9110 §5 header fields")
struct HTTPHeadersTests {
    /// RFC 9110 §5.1: field names are case-insensitive.
    @Test func lookupIgnoresASCIICase() {
        let headers: HTTPHeaders = ["Sec-WebSocket-Accept": "abc", "X-Other": "1"]
        #expect(headers.first("sec-websocket-accept") == "abc")
        #expect(headers.first("SEC-WEBSOCKET-ACCEPT") == "abc")
        #expect(headers.first("Sec-WebSocket-Acceptx") == nil)
        #expect(headers.contains("x-other"))
        #expect(!headers.contains("x-missing"))
    }

    @Test func firstReturnsTheEarliestOfRepeatedFields() {
        let headers: HTTPHeaders = ["A": "1", "B": "2", "a": "3"]
        #expect(headers.first("A") == "1")
        #expect(headers.all("A") == ["1", "3"])
        #expect(headers.count == 3)
        #expect(headers.map(\.name) == ["A", "B", "a"])
    }

    /// RFC 9110 §5.3 and §5.6.1: repeated fields are one list, elements are trimmed and empty
    /// elements are ignored.
    @Test func valuesSplitsListsAcrossRepeatedFields() {
        let headers: HTTPHeaders = ["Connection": " keep-alive ,\tUpgrade ", "connection": ",, close,"]
        #expect(headers.values("Connection") == ["keep-alive", "Upgrade", "close"])
        #expect(headers.values("Missing") == [])
    }

    /// RFC 9110 §7.6.1: connection options are case-insensitive tokens; substrings don't count.
    @Test func containsTokenMatchesWholeElementsIgnoringCase() {
        let headers: HTTPHeaders = ["Connection": "keep-alive, UPGRADE"]
        #expect(headers.containsToken("connection", token: "upgrade"))
        #expect(!headers.containsToken("Connection", token: "upgra"))
        let substring: HTTPHeaders = ["Connection": "upgraded"]
        #expect(!substring.containsToken("Connection", token: "upgrade"))
    }

    /// Folding only applies to ASCII letters; other bytes must match exactly.
    @Test func caseFoldingIsASCIIOnly() {
        #expect(HTTPSyntax.equalsIgnoringASCIICase("Straße", "STRAßE"))
        #expect(!HTTPSyntax.equalsIgnoringASCIICase("é", "É"))
        #expect(!HTTPSyntax.equalsIgnoringASCIICase("a", "ab"))
    }

    /// RFC 9110 §5.6.2: tchar.
    @Test func tokensAllowOnlyTcharBytes() {
        #expect(HTTPSyntax.isToken("Sec-WebSocket-Key"))
        #expect(HTTPSyntax.isToken("!#$%&'*+-.^_`|~09azAZ"))
        for bad in ["", "a b", "a:b", "a,b", "a/b", "a\"b", "a(b)", "a\tb", "é", "a\u{7F}"] {
            #expect(!HTTPSyntax.isToken(bad), "\(bad)")
        }
    }
}
