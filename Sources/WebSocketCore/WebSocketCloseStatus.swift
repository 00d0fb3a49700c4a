/// How a connection ended: the close code and reason of a close frame (RFC 6455 §5.5.1, §7.1.5),
/// WinRT's `CloseStatus` + `CloseReason` as one value.
///
/// The code is 1005 (``CloseCode/noStatusReceived``) when the peer's close frame carried none, and
/// 1006 (``CloseCode/abnormalClosure``) when the connection dropped without a close handshake
/// (RFC 6455 §7.1.5: those two are never sent, only reported).
public struct WebSocketCloseStatus: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The status code.
    public var code: CloseCode
    /// The reason text (UTF-8, at most 123 bytes on the wire; empty when none was given).
    public var reason: String

    /// A status from its code and reason.
    public init(code: CloseCode, reason: String = "") {
        self.code = code
        self.reason = reason
    }

    /// `1000` or `1000 reason text`: the code, then the reason if there is one (the form the CLI
    /// prints after `closed `).
    public var description: String { reason.isEmpty ? "\(code.rawValue)" : "\(code.rawValue) \(reason)" }

    /// `WebSocketCloseStatus(1001 goingAway, reason: "bye")`: readable in `print` of an optional and
    /// in test failure messages.
    public var debugDescription: String {
        let name = code.name.map { " \($0)" } ?? ""
        return "WebSocketCloseStatus(\(code.rawValue)\(name), reason: \(String(reflecting: reason)))"
    }
}
