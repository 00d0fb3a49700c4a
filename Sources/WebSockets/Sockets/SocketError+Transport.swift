#if canImport(Glibc)
    import Glibc
#endif

extension SocketError {
    /// The system errors a transport's message may end with, most specific first.
    private static let recognisedErrors: [CInt] = [
        ECONNRESET, EPIPE, ETIMEDOUT, ECONNREFUSED, ECONNABORTED, ENETUNREACH, ENETDOWN, EHOSTUNREACH,
        EHOSTDOWN, EADDRINUSE, EADDRNOTAVAIL, EAFNOSUPPORT, EACCES, EPERM, EMFILE, ENFILE, ENOBUFS, ENOMEM,
    ]

    /// The socket error for a failure of the shared machinery (``TCPTransport``, ``TLSTransport``,
    /// name resolution, the internal listener), which report ``WebSocketError``s: `operation`
    /// says what the socket was doing (`"read"`, `"connect to example.com:443"`).
    ///
    /// Those errors carry `strerror`'s text rather than the number, so the `errno` is recovered by
    /// matching the message's end against the errors a socket can meet; a message that matches
    /// none keeps the WebSocket status's closest equivalent.
    init(_ error: any Error, _ operation: String) {
        if let error = error as? SocketError {
            self = error
            return
        }
        guard let error = error as? WebSocketError else {
            self.init(.unknown, "\(operation): \(error)")
            return
        }
        if [.connectionAborted, .cannotConnect, .invalidArgument].contains(error.status),
            let code = Self.recognisedErrors.first(where: { error.message.hasSuffix(": " + errnoDescription($0)) })
        {
            self.init(errno: code, operation)
            return
        }
        let status: Status
        switch error.status {
        case .closed: status = .closed
        case .invalidArgument: status = .invalidArgument
        case .invalidState: status = .invalidState
        case .hostNameNotResolved: status = .hostNotFound
        case .timeout: status = .timedOut
        case .operationCanceled: status = .operationCanceled
        case .connectionAborted: status = .connectionAborted
        case .serverCertificateInvalid, .serverCertificateRejected: status = .serverCertificateInvalid
        case .secureConnectionFailed: status = .secureConnectionFailed
        default: status = .unknown
        }
        self.init(status, "\(operation): \(error.message)")
    }
}
