import WebSocketCore

/// The decisions between opening attempts, pure: after a non-101 answer, whether to follow a
/// redirect (RFC 9110 §15.4), answer a Basic challenge (RFC 9110 §11.6.1, RFC 7617), or fail;
/// and which headers the next request carries. ``ClientConnector`` does the I/O it asks for.
///
/// The rules:
/// - 301, 302, 303, 307 and 308 with a `Location` are followed, at most `maxRedirects` times
///   (0: none, the 3xx fails `connect` as any other status); other 3xx fail. The method stays
///   `GET`, so 303's "change to GET" changes nothing.
/// - `wss://` → `ws://` fails with `.httpsToHttpOnRedirection` unless `allowsInsecureRedirects`.
/// - A redirect to a URL already visited fails with `.redirectFailed` (a loop), before any
///   connection to it, so a loop costs one round trip per URL, not `maxRedirects`.
/// - When the host (or port) changes, `Authorization` and `Cookie` set by the application are
///   dropped and the server credential is no longer sent.
/// - A `401` offering Basic is answered once per host with the credential, if there is one for
///   that host; a second `401` fails.
struct OpeningNavigator: Sendable {
    /// What to do next.
    enum Step: Sendable {
        /// Open a new connection to ``OpeningNavigator/current`` with ``OpeningNavigator/headers``.
        case retry
        /// Give up with this error.
        case fail(WebSocketError)
    }

    let origin: WebSocketURL
    let credential: ServerCredential?
    let maxRedirects: Int
    let allowsInsecureRedirects: Bool
    private let applicationHeaders: [(String, String)]
    /// Where the next (or last) request goes.
    private(set) var current: WebSocketURL
    /// The URLs visited, the origin first.
    private(set) var visited: [WebSocketURL]
    /// Whether the credential was sent to ``current``'s host.
    private(set) var sentCredential = false

    init(
        url: WebSocketURL, headers: [(String, String)], credential: ServerCredential?, maxRedirects: Int,
        allowsInsecureRedirects: Bool
    ) {
        origin = url
        current = url
        visited = [url]
        applicationHeaders = headers
        let fromURL = url.user.map { ServerCredential(user: $0, password: url.password ?? "") }
        self.credential = credential ?? fromURL
        self.maxRedirects = maxRedirects
        self.allowsInsecureRedirects = allowsInsecureRedirects
    }

    /// Whether ``current`` is the host the credential and the application's credentials were given for.
    var isOriginHost: Bool { current.host == origin.host && current.port == origin.port }

    /// The redirects followed so far.
    var redirectCount: Int { visited.count - 1 }

    /// The headers of the next request: the application's (without `Authorization` and `Cookie`
    /// once on another host), then ours.
    var headers: [(String, String)] {
        var headers = applicationHeaders
        if !isOriginHost {
            headers.removeAll {
                HTTPSyntax.equalsIgnoringASCIICase($0.0, "Authorization") || HTTPSyntax.equalsIgnoringASCIICase($0.0, "Cookie")
            }
        }
        if sentCredential, let credential, isOriginHost {
            headers.removeAll { HTTPSyntax.equalsIgnoringASCIICase($0.0, "Authorization") }
            headers.append(("Authorization", credential.basicAuthorization))
        }
        return headers
    }

    /// Decides what follows `error`, the failure of the attempt to ``current``.
    mutating func next(after error: WebSocketError) -> Step {
        guard case .handshakeFailed(let status) = error.status, let response = error.handshakeResponse else {
            return .fail(error)
        }
        func header(_ name: String) -> [String] {
            response.headers.filter { HTTPSyntax.equalsIgnoringASCIICase($0.name, name) }.map(\.value)
        }
        switch status {
        case 301, 302, 303, 307, 308:
            guard maxRedirects > 0 else { return .fail(annotated(error, "redirects are disabled (maxRedirects is 0)")) }
            guard let location = header("Location").first else {
                return .fail(annotated(error, "the redirect has no Location header"))
            }
            return redirect(to: location, status: status, error: error)
        case 401:
            guard !sentCredential, credential != nil, isOriginHost, ServerCredential.offersBasic(header("WWW-Authenticate"))
            else {
                let why =
                    sentCredential
                    ? "the server refused the credential"
                    : credential == nil
                        ? "no serverCredential was set"
                        : !isOriginHost
                            ? "the credential is not sent to \(current.host) (it was given for \(origin.host))"
                            : "the server did not offer Basic authentication"
                return .fail(annotated(error, why))
            }
            sentCredential = true
            return .retry
        default:
            return .fail(error)
        }
    }

    private mutating func redirect(to location: String, status: Int, error: WebSocketError) -> Step {
        let response = error.handshakeResponse
        let target: WebSocketURL
        do {
            target = try current.resolving(redirect: location)
        } catch {
            return .fail(
                WebSocketError(
                    .redirectFailed, "cannot follow the \(status) redirect from \(current): \(error.description)",
                    handshakeResponse: response))
        }
        func failure(_ status: WebSocketError.Status, _ message: String) -> Step {
            .fail(WebSocketError(status, message, handshakeResponse: response))
        }
        if current.isSecure && !target.isSecure && !allowsInsecureRedirects {
            return failure(
                .httpsToHttpOnRedirection,
                "the server redirected (\(status)) from \(current) to \(target), from wss:// to ws://; refused (set allowsInsecureRedirects to follow)"
            )
        }
        if visited.contains(target) {
            let path = (visited + [target]).map(\.description).joined(separator: " → ")
            return failure(.redirectFailed, "redirect loop: \(path)")
        }
        if redirectCount >= maxRedirects {
            return failure(
                .redirectFailed,
                "too many redirects: gave up after \(redirectCount) (maxRedirects), the last answer was \(status) to \(target)")
        }
        let previousHost = (current.host, current.port)
        current = target
        visited.append(target)
        if previousHost != (target.host, target.port) { sentCredential = false }
        return .retry
    }

    private func annotated(_ error: WebSocketError, _ why: String) -> WebSocketError {
        var error = error
        error.message += " (\(why))"
        return error
    }
}
