import Testing
import WebSocketCore
import WebSocketTesting

@testable import WebSockets

/// The pure rules: which variable a URL takes, curl's `no_proxy` matching, proxy URL parsing.
@Suite("Proxy settings: environment variables, no_proxy (curl's rules), proxy URLs")
struct ProxyEnvironmentTests {
    func bypasses(_ host: String, _ port: Int, _ noProxy: String) -> Bool {
        ProxyEnvironment.bypasses(host: host, port: port, noProxy: noProxy)
    }

    func bypasses(_ host: String, _ noProxy: String) -> Bool { bypasses(host, 80, noProxy) }

    @Test("no_proxy: a name matches itself and its subdomains, with or without a leading dot, case-insensitively")
    func domains() {
        #expect(bypasses("example.com", "example.com"))
        #expect(bypasses("www.example.com", "example.com"))
        #expect(bypasses("WWW.Example.COM", ".example.com"))
        #expect(bypasses("example.com", ".example.com"))
        #expect(bypasses("example.com.", "example.com"))
        #expect(!bypasses("badexample.com", "example.com"))
        #expect(!bypasses("example.org", "example.com"))
        #expect(!bypasses("example.com", "www.example.com"))
    }

    @Test("no_proxy: comma-separated with spaces, '*' matches everything, empty entries are ignored")
    func listsAndWildcard() {
        #expect(bypasses("b.test", " a.test , b.test "))
        #expect(bypasses("anything.example", "*"))
        #expect(!bypasses("a.test", ", ,"))
        #expect(!bypasses("a.test", "*.test"))  // curl: '*' is only special alone
    }

    @Test("no_proxy: IP literals match the address (IPv6 bracketed or not), CIDR blocks match addresses in them, never names")
    func addresses() {
        #expect(bypasses("127.0.0.1", "127.0.0.1"))
        #expect(!bypasses("127.0.0.2", "127.0.0.1"))
        #expect(bypasses("10.1.2.3", "10.0.0.0/8"))
        #expect(!bypasses("11.1.2.3", "10.0.0.0/8"))
        #expect(bypasses("192.168.1.77", "192.168.1.64/26"))
        #expect(!bypasses("192.168.1.128", "192.168.1.64/26"))
        #expect(bypasses("::1", "::1"))
        #expect(bypasses("::1", "[::1]"))
        #expect(bypasses("fd00::5", "fd00::/8"))
        #expect(!bypasses("fe80::1", "fd00::/8"))
        #expect(!bypasses("10.1.2.3", "::/0"))  // families never mix
        #expect(!bypasses("localhost", "127.0.0.0/8"))  // nothing is resolved
        #expect(!bypasses("127.0.0.1", "localhost"))
    }

    @Test("no_proxy: an entry with a port matches only that port")
    func ports() {
        #expect(bypasses("example.com", 8080, "example.com:8080"))
        #expect(!bypasses("example.com", 443, "example.com:8080"))
        #expect(bypasses("127.0.0.1", 9000, "127.0.0.1:9000"))
        #expect(bypasses("::1", 9000, "[::1]:9000"))
        #expect(!bypasses("::1", 9001, "[::1]:9000"))
    }

    func proxy(_ url: String, _ variables: [String: String]) throws -> String? {
        try ProxyEnvironment(variables).proxy(for: WebSocketURL(parsing: url))?.description
    }

    @Test("Variables: https_proxy for wss://, http_proxy for ws://, lower case before upper, all_proxy last, empty is unset")
    func precedence() throws {
        let all = [
            "https_proxy": "http://secure:1", "HTTPS_PROXY": "http://SECURE:1", "http_proxy": "http://plain:2",
            "HTTP_PROXY": "http://PLAIN:2", "all_proxy": "socks5h://all:3", "ALL_PROXY": "socks5://ALL:3",
        ]
        #expect(try proxy("wss://a.test/", all) == "http://secure:1")
        #expect(try proxy("ws://a.test/", all) == "http://plain:2")
        #expect(try proxy("wss://a.test/", ["HTTPS_PROXY": "http://upper:1"]) == "http://upper:1")
        #expect(
            try proxy("ws://a.test/", ["https_proxy": "http://secure:1", "all_proxy": "socks5h://all:3"]) == "socks5h://all:3")
        #expect(try proxy("wss://a.test/", ["http_proxy": "http://plain:2", "ALL_PROXY": "socks5://ALL:3"]) == "socks5://ALL:3")
        #expect(try proxy("ws://a.test/", ["http_proxy": " ", "all_proxy": "socks5h://all:3"]) == "socks5h://all:3")
        #expect(try proxy("ws://a.test/", [:]) == nil)
    }

    @Test("Variables: no_proxy (then NO_PROXY) sends a listed host direct")
    func noProxyVariable() throws {
        #expect(try proxy("ws://a.test/", ["http_proxy": "http://p:1", "no_proxy": "a.test"]) == nil)
        #expect(try proxy("ws://a.test/", ["http_proxy": "http://p:1", "NO_PROXY": "*"]) == nil)
        #expect(try proxy("ws://b.test/", ["http_proxy": "http://p:1", "no_proxy": "a.test"]) == "http://p:1")
    }

    @Test("Variables: an invalid proxy URL is invalidArgument naming the variable")
    func invalidVariable() throws {
        #expect {
            _ = try proxy("ws://a.test/", ["http_proxy": "ftp://p:1"])
        } throws: { error in
            guard let error = error as? WebSocketError else { return false }
            return error.status == .invalidArgument && error.message.contains("http_proxy")
                && error.message.contains("unsupported scheme")
        }
    }

    @Test("Proxy URLs as curl takes them: schemes, default ports, percent-decoded userinfo, IPv6, no scheme means http")
    func parsing() throws {
        let socks = try ProxyServer(parsing: "socks5h://us%40r:p%3Aw@127.0.0.1:1081")
        #expect(socks.scheme == .socks5h && socks.host == "127.0.0.1" && socks.port == 1081)
        #expect(socks.credential == ProxyCredential(userName: "us@r", password: "p:w"))
        #expect(try ProxyServer(parsing: "proxy.test").port == 80)
        #expect(try ProxyServer(parsing: "proxy.test").scheme == .http)
        #expect(try ProxyServer(parsing: "https://proxy.test/").port == 443)
        #expect(try ProxyServer(parsing: "SOCKS5://proxy.test").port == 1080)
        let v6 = try ProxyServer(parsing: "http://[::1]:3128")
        #expect(v6.host == "::1" && v6.port == 3128 && v6.description == "http://[::1]:3128")
        #expect(try ProxyServer(parsing: "http://user:secret@p.test:1").description == "http://user@p.test:1")
        for bad in ["ftp://p.test", "http://", "http://p.test:0", "http://p.test:99999", "http://p.test/path", "http://[::1"] {
            #expect(throws: WebSocketError.self, "\(bad)") { try ProxyServer(parsing: bad) }
        }
        #expect {
            try ProxyServer(parsing: "http://u:topsecret@p.test:x")
        } throws: { error in
            (error as? WebSocketError)?.message.contains("topsecret") == false
        }
    }
}

@Suite("Proxy tunnel transport: bytes after the proxy's answer")
struct ProxyTunnelTransportTests {
    @Test(
        "Bytes the proxy sent after its 2xx head are read first, then the stream continues (RFC 9110 §9.3.6: they belong to the tunnel)"
    )
    func leftoverBytesComeFirst() async throws {
        let (client, server) = InMemoryTransport.makePair()
        let tunnel = ProxyTunnelTransport(over: client, leftover: [1, 2, 3, 4, 5])
        try await server.write([[6, 7]], isolation: nil)
        /// One read of at most `count` bytes; a read that never returns fails the test, not hangs it.
        func read(_ count: Int) async throws -> [UInt8] {
            try await awaitState("a read of the tunnel returns", within: .seconds(10)) {
                var buffer = [UInt8](repeating: 0, count: count)
                let read = try await tunnel.read(into: &buffer, isolation: nil)
                return Array(buffer.prefix(read))
            }
        }
        #expect(try await read(3) == [1, 2, 3])
        #expect(try await read(3) == [4, 5])
        #expect(try await read(3) == [6, 7])
        var empty: [UInt8] = []
        await #expect(throws: WebSocketError.self) { try await tunnel.read(into: &empty, isolation: nil) }
        tunnel.close()
        server.close()
    }
}
