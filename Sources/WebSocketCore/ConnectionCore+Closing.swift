/// How a connection ends: the one place that decides it (RFC 6455 §7).
///
/// ```
///            close(code:reason:)                      peer's close frame
///   open ─────────────────────────▶ closing(sent)  ───────────────────▶ closed(.handshakeCompleted)
///    │  peer's close frame (we echo it at once)                         ▲
///    ├──────────────────────────────────────────────────────────────────┘
///    │  violation (§7.1.7)              closeAfterFailure()
///    ├─────────────────────▶ failing(v) ────────────────────────────────▶ closed(.failed(v))
///    │  end of stream before the close handshake completed
///    └──────────────────────────────────────────────────────────────────▶ closed(.aborted)
/// ```
/// (`closing` and `failing` also end in `closed(.aborted)` / `closed(.failed)` at end of stream.)
///
/// When does the close frame go out? After ``ConnectionCore/close(code:reason:)``, and in reply to
/// the peer's close frame, it is queued at once. After a violation it is queued by
/// ``ConnectionCore/closeAfterFailure()``: the driver calls it once the application has handled the
/// messages that arrived before the violation, so that its answers to them go out first.
extension ConnectionCore {
    /// Where the connection is in its life. Each case carries what its ending needs.
    public enum Lifecycle: Sendable, Hashable {
        /// Messages flow both ways (§4.1 OPEN).
        case open
        /// The peer broke the protocol (§7.1.7). Input stopped at the violation and `.failed` was
        /// reported after the messages before it; the close frame with the violation's code is
        /// queued by ``ConnectionCore/closeAfterFailure()``. Sending stays possible until then, so
        /// that the application can answer those messages.
        case failing(ProtocolViolation)
        /// Our close frame is queued; waiting for the peer's (§7.1.2). `sent` is what we sent
        /// (`nil`: an empty close frame).
        case closing(sent: WebSocketCloseStatus?)
        /// Terminal: nothing more is read or sent.
        case closed(Ending)
    }

    /// How a connection ended.
    public enum Ending: Sendable, Hashable {
        /// The close handshake completed. `peer` is the peer's close frame; `initiatedLocally`
        /// tells whether we sent ours first (otherwise we echoed the peer's code, §5.5.1).
        case handshakeCompleted(peer: WebSocketCloseStatus, initiatedLocally: Bool)
        /// The peer broke the protocol; our close frame, if the stream was still there to take it,
        /// carried the violation's code.
        case failed(ProtocolViolation)
        /// The stream ended before the close handshake completed (§7.1.5: 1006).
        case aborted
    }

    /// What the driver should do with the transport, given the lifecycle (RFC 6455 §7.1.1, §7.1.7).
    public enum TransportDirective: Sendable, Hashable {
        /// Keep reading and writing (open; or failing, until ``ConnectionCore/closeAfterFailure()``).
        case keepOpen
        /// We sent a close frame: wait for the peer's, bounded by a close timeout.
        case awaitCloseFrame
        /// The close handshake completed and we are the client: the server closes TCP first
        /// (§7.1.1); wait for that, bounded by a close timeout, then close it ourselves.
        case awaitPeerClose
        /// Close the transport once the queued frames are written: the server after the close
        /// handshake (§7.1.1), either side after a failure (§7.1.7) or the end of the stream.
        case closeWhenFlushed
    }

    /// What to do with the transport now; see ``TransportDirective``.
    public var transportDirective: TransportDirective {
        switch lifecycle {
        case .open, .failing: return .keepOpen
        case .closing: return .awaitCloseFrame
        case .closed(.handshakeCompleted): return role == .client ? .awaitPeerClose : .closeWhenFlushed
        case .closed(.failed), .closed(.aborted): return .closeWhenFlushed
        }
    }

    /// The summary the application sees: `failing` and `closing` are both `.closing`.
    public var state: State {
        switch lifecycle {
        case .open: return .open
        case .failing, .closing: return .closing
        case .closed: return .closed
        }
    }

    /// True while we wait for the peer's close frame: the caller should run a close timeout.
    public var closeExpected: Bool {
        if case .closing = lifecycle { return true }
        return false
    }

    /// The violation that failed the connection, while its close frame waits for
    /// ``closeAfterFailure()``.
    public var pendingFailure: ProtocolViolation? {
        if case .failing(let violation) = lifecycle { return violation }
        return nil
    }

    /// Whether input is still parsed: not once the connection is failing or closed.
    var acceptsInput: Bool {
        switch lifecycle {
        case .open, .closing: return true
        case .failing, .closed: return false
        }
    }

    /// Whether sends are accepted: while open, and while failing (answers to earlier messages).
    var acceptsSends: Bool {
        switch lifecycle {
        case .open, .failing: return true
        case .closing, .closed: return false
        }
    }

    // MARK: - Transitions

    /// Checks a close code and reason the application wants to send, whatever the state (§7.4,
    /// §5.5: at most 123 bytes of reason, and only with a code).
    public static func validateClose(code: CloseCode?, reason: String) throws(UsageError) {
        if let code {
            guard code.isValidOnWire else { throw .invalidCloseCode(code) }
            guard reason.utf8.count <= 123 else { throw .closeReasonTooLong(reason.utf8.count) }
        } else if !reason.isEmpty {
            throw .invalidCloseCode(.noStatusReceived)
        }
    }

    /// Starts the close handshake (§7.1.2): queues a close frame and moves to `closing`.
    ///
    /// The arguments are checked first, whatever the state. While failing, the violation's close
    /// frame is sent instead (the peer must learn what it did wrong) and this does not throw.
    /// - Parameters:
    ///   - code: the status code, or `nil` for an empty close frame (the peer then reports 1005).
    ///   - reason: at most 123 UTF-8 bytes; must be empty when `code` is `nil`.
    /// - Throws: ``UsageError`` for an invalid code or reason, `.notOpen` once closing or closed.
    public mutating func close(code: CloseCode? = .normalClosure, reason: String = "") throws(UsageError) {
        try Self.validateClose(code: code, reason: reason)
        switch lifecycle {
        case .open:
            enqueueClose(code, reason: reason)
            lifecycle = .closing(sent: code.map { WebSocketCloseStatus(code: $0, reason: reason) })
        case .failing:
            closeAfterFailure()
        case .closing, .closed:
            throw .notOpen(state)
        }
    }

    /// Queues the close frame of the violation that failed the connection and ends it (§7.1.7:
    /// the endpoint may then close the TCP connection without waiting). Call it once the
    /// application has handled the messages received before the violation. Does nothing unless
    /// ``lifecycle`` is `failing`.
    public mutating func closeAfterFailure() {
        guard case .failing(let violation) = lifecycle else { return }
        enqueueClose(violation.closeCode, reason: Self.genericReason(for: violation.closeCode))
        lifecycle = .closed(.failed(violation))
    }

    /// Reports that the transport's input ended. Idempotent.
    ///
    /// Before the close handshake completed this is an abnormal closure (§7.1.5: 1006) and produces
    /// `.aborted`; a failure already reported stays the ending; afterwards it produces nothing.
    public mutating func receiveEndOfStream() {
        switch lifecycle {
        case .open, .closing:
            lifecycle = .closed(.aborted)
            events.append(.aborted)
        case .failing(let violation):
            lifecycle = .closed(.failed(violation))  // `.failed` was reported; the peer is gone
        case .closed:
            break
        }
    }

    /// The peer's close frame arrived (§5.5.1): validate it, echo it if we had not closed, end.
    mutating func receivedClose(_ payload: [UInt8]) {
        var frame = WebSocketCloseStatus(code: .noStatusReceived, reason: "")
        if payload.count == 1 {
            return fail(.init(.protocolError, "close frame with a 1-byte payload"))
        }
        if payload.count >= 2 {
            let code = CloseCode(UInt16(payload[0]) << 8 | UInt16(payload[1]))
            guard code.isValidOnWire else {
                return fail(.init(.protocolError, "close frame with invalid close code \(code.rawValue)"))
            }
            var validator = UTF8Validator()
            let reason = payload[2...]
            guard validator.validate(reason), validator.isComplete else {
                return fail(.init(.invalidPayload, "invalid UTF-8 in a close reason"))
            }
            frame = WebSocketCloseStatus(code: code, reason: String(decoding: reason, as: UTF8.self))
        }
        switch lifecycle {
        case .open:
            // §5.5.1: reply with a close frame, "typically echoing the status code it received".
            enqueueClose(frame.code == .noStatusReceived ? nil : frame.code, reason: "")
            lifecycle = .closed(.handshakeCompleted(peer: frame, initiatedLocally: false))
        case .closing:
            lifecycle = .closed(.handshakeCompleted(peer: frame, initiatedLocally: true))
        case .failing, .closed:
            return  // input is not parsed in these states
        }
        events.append(.closed(frame))
    }

    /// Fails the connection (§7.1.7): stops reading at the violation and reports it. The close
    /// frame follows with ``closeAfterFailure()``, unless we had sent ours already.
    mutating func fail(_ violation: ProtocolViolation) {
        inPayload = false
        messagePayload = []
        payloadFilled = nil
        events.append(.failed(violation))
        switch lifecycle {
        case .open: lifecycle = .failing(violation)
        case .closing, .failing, .closed: lifecycle = .closed(.failed(violation))
        }
    }

    /// A fixed reason per code: the detail may echo untrusted input, so it never goes on the wire.
    static func genericReason(for code: CloseCode) -> String {
        switch code {
        case .unsupportedData: return "binary data only"
        case .invalidPayload: return "invalid payload data"
        case .messageTooBig: return "message too big"
        default: return "protocol error"
        }
    }
}
