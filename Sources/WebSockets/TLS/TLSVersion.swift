/// A TLS protocol version, as a floor for what a connection may negotiate
/// (``TLSClientConfiguration/minimumVersion``, ``StreamSocketControl/minimumTLSVersion``).
///
/// Nothing older than TLS 1.2 is offered: 1.0 and 1.1 are deprecated (RFC 8996).
public enum TLSVersion: Sendable, Hashable, CaseIterable {
    /// TLS 1.2 (RFC 5246) or newer: the default.
    case tls12
    /// TLS 1.3 (RFC 8446) only.
    case tls13
}
