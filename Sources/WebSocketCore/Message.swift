/// A complete WebSocket message.
///
/// Text messages are delivered as `String` (their UTF-8 was validated incrementally while they
/// arrived, RFC 6455 §8.1); binary messages as bytes. An empty message is a real message
/// (`.text("")` or `.binary([])`), never skipped.
public enum Message: Sendable, Hashable {
    case text(String)
    case binary([UInt8])

    /// The kind of message, for code that handles both alike.
    public var kind: MessageKind {
        switch self {
        case .text: return .text
        case .binary: return .binary
        }
    }

    /// The payload bytes (the UTF-8 encoding for text).
    public var bytes: [UInt8] {
        switch self {
        case .text(let string): return Array(string.utf8)
        case .binary(let bytes): return bytes
        }
    }

    /// The text of a text message, `nil` for a binary one.
    public var text: String? {
        if case .text(let string) = self { return string }
        return nil
    }
}

/// Whether a message carries UTF-8 text or arbitrary bytes (WinRT `SocketMessageType`).
public enum MessageKind: Sendable, Hashable {
    case binary
    case text
}
