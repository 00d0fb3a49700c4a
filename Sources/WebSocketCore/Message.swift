/// A complete WebSocket message.
///
/// Text messages are delivered as `String` (their UTF-8 was validated incrementally while they
/// arrived, RFC 6455 §8.1); binary messages as bytes. An empty message is a real message
/// (`.text("")` or `.binary([])`), never skipped.
public enum Message: Sendable, Hashable {
    /// A text message (opcode 0x1): its payload decoded as UTF-8, which the receiver has validated (1007 otherwise).
    case text(String)
    /// A binary message (opcode 0x2): its payload bytes, unmasked and decompressed.
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
    /// Arbitrary bytes (opcode 0x2; WinRT `SocketMessageType.Binary`).
    case binary
    /// UTF-8 text (opcode 0x1; WinRT `SocketMessageType.Utf8`), validated across the whole message.
    case text
}

/// A piece of a message as it arrived, for applications that stream messages instead of
/// receiving them whole (``ConnectionCore/Configuration/deliversFragments``, the server's
/// fragment context).
///
/// Fragments are not wire frames: one frame may arrive as several fragments (as its bytes come
/// in), and a fragment never spans two frames. The UTF-8 of a text message is validated across
/// fragments. Whether a text fragment may end inside a multi-byte character depends on who
/// delivers it: never from a client in partial receive mode
/// (``ConnectionCore/Configuration/fragmentsEndOnCharacterBoundaries``: each piece decodes on its
/// own), possibly from the server's fragment context, which hands over raw bytes as IIS does. The
/// message as a whole is valid once its final fragment arrived.
public struct MessageFragment: Sendable, Hashable {
    /// The kind of the message this fragment belongs to.
    public var kind: MessageKind
    /// The payload bytes (unmasked, decompressed).
    public var bytes: [UInt8]
    /// Whether this fragment ends its message.
    public var isFinal: Bool

    /// A fragment of a message of `kind` holding `bytes`; `isFinal` when it ends the message.
    public init(kind: MessageKind, bytes: [UInt8], isFinal: Bool) {
        self.kind = kind
        self.bytes = bytes
        self.isFinal = isFinal
    }
}

extension MessageFragment {
    /// Whether this fragment ends its message (WinRT `IsMessageComplete`; the same as ``isFinal``).
    public var isMessageComplete: Bool { isFinal }

    /// The fragment's text for a text message, `nil` for a binary one. Exact when fragments end
    /// on character boundaries (the client's partial receive); a fragment cut inside a character
    /// (the server's fragment context) decodes with U+FFFD in place of the cut sequence.
    public var text: String? {
        kind == .text ? String(decoding: bytes, as: UTF8.self) : nil
    }
}
