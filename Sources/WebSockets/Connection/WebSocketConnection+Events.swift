import WebSocketCore

/// The life-cycle events a connection reports (``WebSocketEvent``) that need more than one line at
/// their site: the start of the close handshake (reported once, whoever starts it) and the end.
/// Per-message events are emitted where they happen, behind `if let events`.
extension WebSocketConnection {
    /// Reports the start of the close handshake, once: the first of our close frame or the peer's.
    func reportClosing(code: CloseCode?, reason: String, by side: WebSocketEvent.Side) {
        guard let events, !closingReported else { return }
        closingReported = true
        events.emit(.closing(code: code, reason: reason, initiatedBy: side))
    }

    /// Reports how the connection ended (from ``finalize()``): the failure, if any, then `closed`.
    func reportEnd(_ outcome: WebSocketError?) {
        guard let events else { return }
        if let outcome { events.emit(.failed(outcome)) }
        var wasClean = false
        if case .closed(.handshakeCompleted) = core.lifecycle { wasClean = outcome == nil }
        events.emit(.closed(code: closeStatus?.code, reason: closeStatus?.reason ?? "", wasClean: wasClean))
    }
}
