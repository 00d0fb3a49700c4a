/// A WebSocket close code (RFC 6455 §7.4).
///
/// Any `UInt16` is representable so that whatever a peer sends can be reported faithfully; whether a
/// code may appear *on the wire* is a separate question answered by ``isValidOnWire``.
///
/// Ranges (RFC 6455 §7.4.2): 0–999 unused; 1000–2999 reserved for the protocol and its extensions;
/// 3000–3999 registered with IANA for libraries, frameworks and applications; 4000–4999 private use.
///
/// An integer literal is a close code: `try await socket.close(code: 4000, reason: "done")`. Whether
/// it may be sent is checked where it is sent (an invalid code there is an `invalidArgument` error).
public struct CloseCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible, ExpressibleByIntegerLiteral {
    /// The code as carried on the wire.
    public var rawValue: UInt16
    /// The code `rawValue`.
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    /// The code `rawValue`.
    public init(_ rawValue: UInt16) { self.rawValue = rawValue }
    /// The code written as an integer literal (`4000`).
    public init(integerLiteral value: UInt16) { self.rawValue = value }

    /// 1000: the purpose for which the connection was established has been fulfilled.
    public static let normalClosure = CloseCode(1000)
    /// 1001: an endpoint is going away (server shutdown, the application stopped reading).
    public static let goingAway = CloseCode(1001)
    /// 1002: the endpoint is terminating the connection due to a protocol error.
    public static let protocolError = CloseCode(1002)
    /// 1003: the endpoint received a type of data it cannot accept.
    public static let unsupportedData = CloseCode(1003)
    /// 1005: reported locally when a close frame carried no status code. Never sent on the wire.
    public static let noStatusReceived = CloseCode(1005)
    /// 1006: reported locally when the connection closed without a close frame. Never sent on the wire.
    public static let abnormalClosure = CloseCode(1006)
    /// 1007: a message's data was not consistent with its type (for example invalid UTF-8 in text).
    public static let invalidPayload = CloseCode(1007)
    /// 1008: a message violated the endpoint's policy.
    public static let policyViolation = CloseCode(1008)
    /// 1009: a message was too big to process.
    public static let messageTooBig = CloseCode(1009)
    /// 1010: the client expected the server to negotiate an extension it did not.
    public static let mandatoryExtension = CloseCode(1010)
    /// 1011: the server met an unexpected condition.
    public static let internalError = CloseCode(1011)
    /// 1012: the service is restarting (IANA registry).
    public static let serviceRestart = CloseCode(1012)
    /// 1013: try again later (IANA registry).
    public static let tryAgainLater = CloseCode(1013)
    /// 1014: bad gateway (IANA registry).
    public static let badGateway = CloseCode(1014)
    /// 1015: reported locally when the TLS handshake failed. Never sent on the wire.
    public static let tlsHandshakeFailure = CloseCode(1015)

    /// Whether this code may be carried in a close frame (RFC 6455 §7.4.1, §7.4.2 and the IANA registry).
    ///
    /// 1005, 1006 and 1015 are for local reporting only; 1004 and 1016–2999 are reserved without a
    /// meaning; codes below 1000 or above 4999 are not defined. A close frame carrying any of those
    /// is a protocol error, and this library refuses to send one.
    public var isValidOnWire: Bool {
        switch rawValue {
        case 1000...1003, 1007...1014: return true
        case 3000...4999: return true
        default: return false
        }
    }

    /// The code as a decimal number, for example `1000`: what a log line or an error message shows.
    public var description: String { String(rawValue) }

    /// The name of a code this library knows (`normalClosure`, `goingAway`, ...), or nil.
    public var name: String? {
        switch rawValue {
        case 1000: return "normalClosure"
        case 1001: return "goingAway"
        case 1002: return "protocolError"
        case 1003: return "unsupportedData"
        case 1005: return "noStatusReceived"
        case 1006: return "abnormalClosure"
        case 1007: return "invalidPayload"
        case 1008: return "policyViolation"
        case 1009: return "messageTooBig"
        case 1010: return "mandatoryExtension"
        case 1011: return "internalError"
        case 1012: return "serviceRestart"
        case 1013: return "tryAgainLater"
        case 1014: return "badGateway"
        case 1015: return "tlsHandshakeFailure"
        default: return nil
        }
    }
}
