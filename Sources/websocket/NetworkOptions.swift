import WebSockets

/// How the clients (message and `--stream`) reach the server: `--user USER:PASS`,
/// `--max-redirects N`, `--proxy URL` and `--no-proxy`.
///
/// `--proxy` takes what curl's does: `http://`, `https://`, `socks5://` or `socks5h://`, with
/// `user:password@` for the credential (percent-encoded); it overrides the environment. `--no-proxy`
/// connects directly whatever the environment says. Neither: the environment's proxy
/// (`https_proxy`, `http_proxy`, `all_proxy`, `no_proxy`), the library's default.
enum NetworkOptions {
    /// The option names this handles (for `Arguments.rejectUnknown`).
    static let names: Set<String> = ["user", "max-redirects", "proxy", "no-proxy"]

    static func apply(_ arguments: Arguments, to control: inout MessageWebSocketControl) throws {
        if let user = arguments.string("user") {
            guard let colon = user.firstIndex(of: ":") else {
                throw CLIError("--user expects USER:PASS, got \"\(user)\"")
            }
            control.serverCredential = ServerCredential(
                user: String(user[..<colon]), password: String(user[user.index(after: colon)...]))
        }
        if let count = try arguments.int("max-redirects") {
            guard count >= 0 else { throw CLIError("--max-redirects expects a count ≥ 0, got \(count)") }
            control.maxRedirects = count
        }
        control.proxy = try proxySetting(arguments)
    }

    /// The proxy setting the options ask for, `.system` when none is given.
    static func proxySetting(_ arguments: Arguments) throws -> ProxySetting {
        let url = arguments.string("proxy")
        if arguments.flag("no-proxy") {
            guard url == nil else { throw CLIError("--proxy and --no-proxy exclude each other") }
            return .none
        }
        guard let url else { return .system }
        return .explicit(try ProxyServer(parsing: url))
    }
}
