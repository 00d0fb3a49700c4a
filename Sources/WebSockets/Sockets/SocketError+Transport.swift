#if canImport(Glibc)
    import Glibc
#endif

extension SocketError {
    /// The socket error for a failure of the shared machinery (``TCPTransport``, ``TLSTransport``,
    /// name resolution, the internal listener), which report ``WebSocketError``s: `operation`
    /// says what the socket was doing (`"read"`, `"connect to example.com:443"`).
    ///
    /// A failure of a system call keeps its `errno` (``WebSocketError``'s package
    /// `systemErrorCode`), which gives the status; any other keeps the WebSocket status's closest
    /// equivalent.
    init(_ error: any Error, _ operation: String) {
        if let error = error as? SocketError {
            self = error
            return
        }
        guard let error = error as? WebSocketError else {
            self.init(.unknown, "\(operation): \(error)")
            return
        }
        if error.systemErrorCode != 0 {
            self.init(errno: error.systemErrorCode, operation)
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
