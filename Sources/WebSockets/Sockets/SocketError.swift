#if canImport(Glibc)
    import Glibc
#endif

/// The error of the plain sockets (stream, listener and datagram
/// sockets), the non-HTTP counterpart of ``WebSocketError`` (WinRT `SocketError.GetStatus`).
///
/// Switch on ``status``, a stable classification mapped from the system's `errno`; ``message``
/// says what was being done and why it failed, for a log or a person. ``code`` keeps the raw
/// `errno` (0 when the failure did not come from the system) for whoever needs the exact cause.
public struct SocketError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of failure this is (WinRT `SocketErrorStatus`).
    public enum Status: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
        /// The call is not allowed in the socket's current state (for example a write before
        /// connect, or a control setting changed after connect or bind).
        case invalidState
        /// An argument was rejected (a port outside 0...65535, a malformed address, ...).
        case invalidArgument
        /// The socket has been closed by this side; nothing more can be done with it.
        case closed
        /// The host name did not resolve to any address (`EAI_NONAME`, `EAI_FAIL`).
        case hostNotFound
        /// The peer refused the connection (`ECONNREFUSED`).
        case connectionRefused
        /// The operation did not complete in time (`ETIMEDOUT` or a timeout of ours).
        case timedOut
        /// The peer reset the connection (`ECONNRESET`, `EPIPE`).
        case connectionReset
        /// The connection was aborted on this host (`ECONNABORTED`).
        case connectionAborted
        /// No route to the network (`ENETUNREACH`, `ENETDOWN`).
        case networkUnreachable
        /// No route to the host (`EHOSTUNREACH`, `EHOSTDOWN`).
        case hostUnreachable
        /// The local address and port are in use (`EADDRINUSE`).
        case addressAlreadyInUse
        /// The local address is not one of this host's (`EADDRNOTAVAIL`).
        case addressNotAvailable
        /// The address family is not supported here (`EAFNOSUPPORT`, e.g. IPv6 disabled).
        case addressFamilyNotSupported
        /// Permission denied (`EACCES`, `EPERM`: a privileged port, a firewall rule).
        case accessDenied
        /// A datagram was larger than the path or the buffer allows (`EMSGSIZE`).
        case messageTooLong
        /// The process or system ran out of descriptors or buffers (`EMFILE`, `ENFILE`, `ENOBUFS`,
        /// `ENOMEM`).
        case noResources
        /// The operation was cancelled (task cancellation).
        case operationCanceled
        /// The TLS connection could not be established or failed (OpenSSL's reason in the message).
        case secureConnectionFailed
        /// The server's certificate failed validation (the problems are in the message).
        case serverCertificateInvalid
        /// Anything else; ``SocketError/code`` has the `errno`.
        case unknown

        /// The case name, stable for scripts: `connectionRefused`.
        public var description: String { rawValue }

        /// The classification of a system error number.
        public init(errno code: CInt) {
            switch code {
            case ECONNREFUSED: self = .connectionRefused
            case ETIMEDOUT: self = .timedOut
            case ECONNRESET, EPIPE: self = .connectionReset
            case ECONNABORTED: self = .connectionAborted
            case ENETUNREACH, ENETDOWN, ENETRESET: self = .networkUnreachable
            case EHOSTUNREACH, EHOSTDOWN: self = .hostUnreachable
            case EADDRINUSE: self = .addressAlreadyInUse
            case EADDRNOTAVAIL: self = .addressNotAvailable
            case EAFNOSUPPORT, EPFNOSUPPORT, EPROTONOSUPPORT: self = .addressFamilyNotSupported
            case EACCES, EPERM: self = .accessDenied
            case EMSGSIZE: self = .messageTooLong
            case EMFILE, ENFILE, ENOBUFS, ENOMEM: self = .noResources
            case EINVAL: self = .invalidArgument
            case EBADF, ENOTCONN, EISCONN, EALREADY: self = .invalidState
            case ECANCELED: self = .operationCanceled
            default: self = .unknown
            }
        }
    }

    /// The classification to switch on.
    public var status: Status
    /// What was being done and what went wrong: `connect to 127.0.0.1:9: Connection refused`.
    public var message: String
    /// The system's `errno` behind this error, or 0 when it did not come from a system call.
    public var code: CInt

    /// An error with a status and a message, not from a system call.
    public init(_ status: Status, _ message: String) {
        self.status = status
        self.message = message
        self.code = 0
    }

    /// The error of a failed system call: `operation` says what was being done
    /// (`"connect to 127.0.0.1:9"`), `strerror` gives the reason.
    public init(errno code: CInt, _ operation: String) {
        self.status = Status(errno: code)
        self.code = code
        if let text = strerror(code) {
            self.message = "\(operation): \(String(cString: text))"
        } else {
            self.message = "\(operation): errno \(code)"
        }
    }

    /// `"<status>: <message>"`, the form the CLI prints after `error `.
    public var description: String { "\(status): \(message)" }
}
