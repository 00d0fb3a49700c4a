import WebSockets

/// `--proxy URL` and `--no-proxy`, shared by the message and stream clients.
///
/// `--proxy` takes what curl's does: `http://`, `https://`, `socks5://` or `socks5h://`, with
/// `user:password@` for the credential (percent-encoded); it overrides the environment. `--no-proxy`
/// connects directly whatever the environment says. Neither: the environment's proxy
/// (`https_proxy`, `http_proxy`, `all_proxy`, `no_proxy`), the library's default.
enum ProxyOptions {
    static let names: Set<String> = ["proxy", "no-proxy"]

    /// The setting the options ask for, `.system` when none is given.
    static func setting(_ arguments: Arguments) throws -> ProxySetting {
        let url = arguments.string("proxy")
        if arguments.flag("no-proxy") {
            guard url == nil else { throw CLIError("--proxy and --no-proxy exclude each other") }
            return .none
        }
        guard let url else { return .system }
        return .explicit(try ProxyServer(parsing: url))
    }
}
