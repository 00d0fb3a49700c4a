import Testing
import WebSocketServer

@testable import WebSockets

/// Connections through real proxies on loopback: tinyproxy (HTTP CONNECT, RFC 9110 §9.3.6),
/// microsocks (SOCKS5, RFC 1928/1929) and `https_proxy.py` (TLS to the proxy), to the package's
/// own servers over `ws://` and `wss://` (TLS end to end through the tunnel).
@Suite(
    "Proxies: HTTP CONNECT, https proxy, SOCKS5 against real proxies", .enabled(if: ProxyPeer.shouldRun, ProxyPeer.skipMessage))
struct ProxyTunnelTests {
    let fixtures = TLSFixtures.shared

    func control(_ proxy: ProxySetting, credential: ProxyCredential? = nil) -> MessageWebSocketControl {
        var control = MessageWebSocketControl()
        control.proxy = proxy
        control.proxyCredential = credential
        control.additionalTrustRoots = [fixtures.caRoot]
        control.openTimeout = .loadTolerantOpenTimeout
        return control
    }

    func explicit(_ url: String) throws -> ProxySetting { .explicit(try ProxyServer(parsing: url)) }

    /// Connects, echoes one message, closes; returns the information seen while open.
    @discardableResult
    func echo(_ url: String, control: MessageWebSocketControl) async throws -> MessageWebSocketInformation {
        let socket = MessageWebSocket(control: control)
        try await socket.connect(to: url)
        try await socket.send(text: "through the proxy")
        var iterator = socket.messages.makeAsyncIterator()
        #expect(try await iterator.next() == .text("through the proxy"))
        let information = await socket.information
        try await socket.close(code: .normalClosure)
        return information
    }

    func connectError(_ url: String, control: MessageWebSocketControl) async -> WebSocketError? {
        let socket = MessageWebSocket(control: control)
        do {
            try await socket.connect(to: url)
            try await socket.close()
            Issue.record("connect through the proxy succeeded, expected a failure")
            return nil
        } catch let error as WebSocketError {
            return error
        } catch {
            Issue.record("unexpected error type: \(error)")
            return nil
        }
    }

    // MARK: HTTP CONNECT (tinyproxy)

    @Test("HTTP CONNECT: ws:// and wss:// through tinyproxy; wss:// keeps TLS end to end with the server's certificate")
    func connectTunnel() async throws {
        let proxy = try await ProxyPeer(.httpConnect)
        try await withTeardown(await WebSocketServer.echo()) { server in
            let information = try await echo("ws://127.0.0.1:\(server.port)/", control: control(try explicit(proxy.url("http"))))
            #expect(information.remoteAddress == "127.0.0.1:\(proxy.port)")
            #expect(information.serverCertificate == nil)
        }
        try await withTeardown(await fixtures.server()) { server in
            let information = try await echo("wss://127.0.0.1:\(server.port)/", control: control(try explicit(proxy.url("http"))))
            #expect(information.remoteAddress == "127.0.0.1:\(proxy.port)")
            #expect(information.serverCertificate != nil)
        }
    }

    @Test("HTTP CONNECT with Basic auth (RFC 7617): the 407 is answered once, from the URL's userinfo or proxyCredential")
    func connectWithCredential() async throws {
        let proxy = try await ProxyPeer(.httpConnect, user: "alice", password: "s3cret")
        try await withTeardown(await WebSocketServer.echo()) { server in
            try await echo(
                "ws://127.0.0.1:\(server.port)/",
                control: control(try explicit(proxy.url("http", user: "alice", password: "s3cret"))))
        }
        try await withTeardown(await fixtures.server()) { server in
            try await echo(
                "wss://127.0.0.1:\(server.port)/",
                control: control(
                    try explicit(proxy.url("http")), credential: ProxyCredential(userName: "alice", password: "s3cret")))
        }
    }

    @Test("HTTP CONNECT: 407 without a credential, and with a wrong one, is proxyAuthenticationRequired")
    func connectAuthenticationFailures() async throws {
        let proxy = try await ProxyPeer(.httpConnect, user: "alice", password: "s3cret")
        try await withTeardown(await WebSocketServer.echo()) { server in
            let url = "ws://127.0.0.1:\(server.port)/"
            let missing = await connectError(url, control: control(try explicit(proxy.url("http"))))
            #expect(missing?.status == .proxyAuthenticationRequired)
            #expect(missing?.message.contains("no proxy credential") == true)
            let wrong = await connectError(
                url, control: control(try explicit(proxy.url("http", user: "alice", password: "wrong"))))
            #expect(wrong?.status == .proxyAuthenticationRequired)
            #expect(wrong?.message.contains("rejected the credential for user \"alice\"") == true)
            #expect(wrong?.message.contains("wrong") == false)
        }
    }

    @Test("HTTP CONNECT refused by the proxy is proxyTunnelRefused with its status (tinyproxy's ConnectPort gives 403)")
    func connectRefused() async throws {
        let proxy = try await ProxyPeer(.httpConnect, allowedConnectPort: 443)
        try await withTeardown(await WebSocketServer.echo()) { server in
            let error = await connectError("ws://127.0.0.1:\(server.port)/", control: control(try explicit(proxy.url("http"))))
            #expect(error?.status == .proxyTunnelRefused(status: 403))
            #expect(error?.status.description == "proxyTunnelRefused(403)")
            #expect(error?.message.contains("127.0.0.1:\(server.port)") == true)
        }
    }

    @Test("A proxy that cannot be reached is proxyUnreachable naming the proxy, for MessageWebSocket and StreamWebSocket")
    func unreachable() async throws {
        let refusing = try RefusingPort()
        defer { refusing.close() }
        for scheme in ["http", "socks5h"] {
            let error = await connectError(
                "ws://127.0.0.1:1/", control: control(try explicit("\(scheme)://127.0.0.1:\(refusing.port)")))
            #expect(error?.status == .proxyUnreachable)
            #expect(error?.message.contains("\(scheme)://127.0.0.1:\(refusing.port)") == true)
        }
        // StreamWebSocket takes the same setting.
        var streamControl = StreamWebSocketControl()
        streamControl.proxy = try explicit("http://127.0.0.1:\(refusing.port)")
        let stream = StreamWebSocket(control: streamControl)
        await #expect {
            try await stream.connect(to: "ws://127.0.0.1:1/")
        } throws: { error in
            (error as? WebSocketError)?.status == .proxyUnreachable
        }
    }

    // MARK: https:// proxy (TLS to the proxy)

    @Test(
        "An https:// proxy: TLS to the proxy, CONNECT inside, and for wss:// a second TLS end to end; ws:// is not reported secure"
    )
    func httpsProxy() async throws {
        let proxy = try await ProxyPeer(.https, user: "bob", password: "pw")
        let setting = try explicit(proxy.url("https", user: "bob", password: "pw"))
        try await withTeardown(await WebSocketServer.echo()) { server in
            let information = try await echo("ws://127.0.0.1:\(server.port)/", control: control(setting))
            #expect(information.serverCertificate == nil)
        }
        try await withTeardown(await fixtures.server()) { server in
            let information = try await echo("wss://127.0.0.1:\(server.port)/", control: control(setting))
            #expect(information.serverCertificate != nil)
        }
    }

    // MARK: SOCKS5 (microsocks)

    @Test("SOCKS5: socks5h sends the name (ATYP 3) and socks5 an address resolved here, over ws:// and wss://")
    func socks() async throws {
        let proxy = try await ProxyPeer(.socks5)
        try await withTeardown(await WebSocketServer.echo()) { server in
            try await echo("ws://localhost:\(server.port)/", control: control(try explicit(proxy.url("socks5h"))))
            try await echo("ws://localhost:\(server.port)/", control: control(try explicit(proxy.url("socks5"))))
        }
        try await withTeardown(await fixtures.server()) { server in
            let information = try await echo(
                "wss://127.0.0.1:\(server.port)/", control: control(try explicit(proxy.url("socks5h"))))
            #expect(information.remoteAddress == "127.0.0.1:\(proxy.port)")
            #expect(information.serverCertificate != nil)
        }
    }

    @Test("SOCKS5 username/password (RFC 1929): accepted when right; missing or wrong is proxyAuthenticationRequired")
    func socksCredential() async throws {
        let proxy = try await ProxyPeer(.socks5, user: "carol", password: "hunter2")
        try await withTeardown(await WebSocketServer.echo()) { server in
            let url = "ws://127.0.0.1:\(server.port)/"
            try await echo(url, control: control(try explicit(proxy.url("socks5h", user: "carol", password: "hunter2"))))
            try await echo(
                url,
                control: control(
                    try explicit(proxy.url("socks5")), credential: ProxyCredential(userName: "carol", password: "hunter2")))
            let missing = await connectError(url, control: control(try explicit(proxy.url("socks5h"))))
            #expect(missing?.status == .proxyAuthenticationRequired)
            let wrong = await connectError(
                url, control: control(try explicit(proxy.url("socks5h", user: "carol", password: "nope"))))
            #expect(wrong?.status == .proxyAuthenticationRequired)
            #expect(wrong?.message.contains("rejected the user name and password") == true)
        }
    }

    @Test("SOCKS5 reply codes (RFC 1928 §6): a target that refuses is socksTunnelRefused(5) naming the target")
    func socksRefusedTarget() async throws {
        let proxy = try await ProxyPeer(.socks5)
        let refusing = try RefusingPort()
        defer { refusing.close() }
        let error = await connectError("ws://127.0.0.1:\(refusing.port)/", control: control(try explicit(proxy.url("socks5h"))))
        #expect(error?.status == .socksTunnelRefused(reply: 5))
        #expect(error?.status.description == "socksTunnelRefused(5)")
        #expect(error?.message.contains("connection refused") == true)
        #expect(error?.message.contains("127.0.0.1:\(refusing.port)") == true)
    }

    // MARK: The environment

    @Test("ProxySetting.environment: http_proxy carries ws://, all_proxy wss://, and no_proxy sends a host direct")
    func environment() async throws {
        let http = try await ProxyPeer(.httpConnect)
        let socks = try await ProxyPeer(.socks5)
        try await withTeardown(await WebSocketServer.echo()) { server in
            let url = "ws://127.0.0.1:\(server.port)/"
            let variables = ["http_proxy": http.url("http"), "all_proxy": socks.url("socks5h")]
            let proxied = try await echo(url, control: control(.environment(ProxyEnvironment(variables))))
            #expect(proxied.remoteAddress == "127.0.0.1:\(http.port)")
            var bypassing = variables
            bypassing["no_proxy"] = "example.com, 127.0.0.0/8"
            let direct = try await echo(url, control: control(.environment(ProxyEnvironment(bypassing))))
            #expect(direct.remoteAddress == "127.0.0.1:\(server.port)")
            let none = try await echo(url, control: control(.none))
            #expect(none.remoteAddress == "127.0.0.1:\(server.port)")
        }
        try await withTeardown(await fixtures.server()) { server in
            let variables = ["http_proxy": http.url("http"), "all_proxy": socks.url("socks5h")]
            let information = try await echo(
                "wss://127.0.0.1:\(server.port)/", control: control(.environment(ProxyEnvironment(variables))))
            #expect(information.remoteAddress == "127.0.0.1:\(socks.port)")
        }
    }
}
