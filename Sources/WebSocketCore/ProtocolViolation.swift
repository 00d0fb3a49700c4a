/// Why the peer's input failed the connection, and the close code that tells the peer so.
///
/// ``closeCode`` is sent on the wire; ``detail`` is for the local application and logs only. It is
/// never put into the outgoing close reason, since it may echo untrusted input.
public struct ProtocolViolation: Error, Sendable, Hashable, CustomStringConvertible {
    /// 1002 (protocol error), 1003 (unsupported data), 1007 (invalid payload) or 1009 (message too big).
    public var closeCode: CloseCode
    /// What exactly was wrong, for example "reserved opcode 0x3".
    public var detail: String

    /// A violation that fails the connection with `closeCode`, explained by `detail`.
    public init(_ closeCode: CloseCode, _ detail: String) {
        self.closeCode = closeCode
        self.detail = detail
    }

    /// The detail and the close code, for example `invalid UTF-8 (close code 1007)`.
    public var description: String { "\(detail) (close code \(closeCode.rawValue))" }
}

/// Misuse of the connection by the local application (not the peer's fault): thrown by the sending
/// methods of ``ConnectionCore``.
public enum UsageError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The connection is not open for this operation (a close frame was sent or it is closed).
    case notOpen(ConnectionCore.State)
    /// The close code may not be sent on the wire (RFC 6455 §7.4; 1005, 1006, 1015 are local-only).
    case invalidCloseCode(CloseCode)
    /// A close reason longer than 123 UTF-8 bytes does not fit in a control frame (§5.5).
    case closeReasonTooLong(Int)
    /// A ping or pong payload longer than 125 bytes (§5.5).
    case controlPayloadTooLong(Int)
    /// A whole message or a fragment of another type was sent while a fragmented message is open
    /// (§5.4: the fragments of one message must not be interleaved with another data message).
    case fragmentedMessageInProgress
    /// Outgoing text that is not valid UTF-8 (§5.6).
    case invalidUTF8

    /// What was misused, in a sentence, for error messages.
    public var description: String {
        switch self {
        case .notOpen(let state): return "the connection is \(state), not open"
        case .invalidCloseCode(let code): return "close code \(code.rawValue) may not be sent on the wire"
        case .closeReasonTooLong(let count): return "close reason of \(count) UTF-8 bytes exceeds the 123-byte limit"
        case .controlPayloadTooLong(let count): return "control frame payload of \(count) bytes exceeds the 125-byte limit"
        case .fragmentedMessageInProgress: return "a fragmented message is in progress; finish it with a final frame first"
        case .invalidUTF8: return "text is not valid UTF-8"
        }
    }
}
