import Foundation
import Testing
import WebSocketServer

@testable import WebSockets

/// `websocket URL --proxy URL` and `--no-proxy`, and the environment's proxy, as a user runs them.
@Suite("CLI: --proxy and --no-proxy", .enabled(if: ProxyPeer.shouldRun, ProxyPeer.skipMessage))
struct ProxyCLITests {
    /// The test process's environment without any proxy variable, plus `extra`.
    func environment(_ extra: [String: String] = [:]) -> [String: String] {
        ProcessInfo.processInfo.environment.filter { !$0.key.lowercased().hasSuffix("_proxy") }.merging(extra) { $1 }
    }

    @Test("--proxy socks5h://user:pw@127.0.0.1:PORT carries the session through an authenticating SOCKS5 proxy")
    func socksProxyFlag() async throws {
        let proxy = try await ProxyPeer(.socks5, user: "dave", password: "pa:ss")
        try await withTeardown(await WebSocketServer.echo()) { server in
            let result = try await runCLI(
                ["ws://localhost:\(server.port)/", "--proxy", "socks5h://dave:pa%3Ass@127.0.0.1:\(proxy.port)"],
                input: "hello via socks\n", environment: environment()
            ) { $0.contains("hello via socks") }
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout == "hello via socks\n")
        }
    }

    @Test("http_proxy in the environment is used, and a failure prints 'error proxyAuthenticationRequired: ...'")
    func environmentProxy() async throws {
        let proxy = try await ProxyPeer(.httpConnect, user: "erin", password: "pw")
        try await withTeardown(await WebSocketServer.echo()) { server in
            let result = try await runCLI(
                ["ws://127.0.0.1:\(server.port)/"], environment: environment(["http_proxy": proxy.url("http")]))
            #expect(result.status == 1)
            #expect(
                result.stderr.hasPrefix("error proxyAuthenticationRequired: the proxy http://127.0.0.1:\(proxy.port)"),
                "\(result.stderr)")
            let authenticated = try await runCLI(
                ["ws://127.0.0.1:\(server.port)/"], input: "env\n",
                environment: environment(["http_proxy": proxy.url("http", user: "erin", password: "pw")])
            ) { $0.contains("env") }
            #expect(authenticated.status == 0, "\(authenticated.stderr)")
            #expect(authenticated.stdout == "env\n")
        }
    }

    @Test("--no-proxy ignores the environment; --proxy overrides it; a dead proxy prints 'error proxyUnreachable: ...'")
    func noProxyAndOverride() async throws {
        let refusing = try RefusingPort()
        defer { refusing.close() }
        let deadProxy = environment([
            "http_proxy": "http://127.0.0.1:\(refusing.port)", "all_proxy": "http://127.0.0.1:\(refusing.port)",
        ])
        try await withTeardown(await WebSocketServer.echo()) { server in
            let url = "ws://127.0.0.1:\(server.port)/"
            let direct = try await runCLI([url, "--no-proxy"], input: "direct\n", environment: deadProxy) {
                $0.contains("direct")
            }
            #expect(direct.status == 0, "\(direct.stderr)")
            #expect(direct.stdout == "direct\n")
            let failed = try await runCLI([url], environment: deadProxy)
            #expect(failed.status == 1)
            #expect(
                failed.stderr.hasPrefix("error proxyUnreachable: could not reach the proxy http://127.0.0.1:\(refusing.port)"),
                "\(failed.stderr)")
            let overridden = try await runCLI(
                [url, "--proxy", "socks5://127.0.0.1:\(refusing.port)"], environment: environment())
            #expect(
                overridden.stderr.hasPrefix(
                    "error proxyUnreachable: could not reach the proxy socks5://127.0.0.1:\(refusing.port)"))
        }
    }

    @Test("--proxy with a bad URL, or with --no-proxy, is 'error invalidArgument: ...' (exit 1)")
    func badFlags() async throws {
        let bad = try await runCLI(["ws://127.0.0.1:1/", "--proxy", "ftp://p:1"], environment: environment())
        #expect(bad.status == 1)
        #expect(bad.stderr.hasPrefix("error invalidArgument: invalid proxy URL \"ftp://p:1\": unsupported scheme"))
        let both = try await runCLI(["ws://127.0.0.1:1/", "--proxy", "http://p:1", "--no-proxy"], environment: environment())
        #expect(both.status == 1)
        #expect(both.stderr.hasPrefix("error invalidArgument: --proxy and --no-proxy exclude each other"))
    }
}
