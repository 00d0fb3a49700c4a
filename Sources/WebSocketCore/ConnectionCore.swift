/// The WebSocket protocol (RFC 6455) after the opening handshake, for either role, as a value type
/// with no I/O: bytes in, events out; calls in, bytes out.
///
/// Drive it like this (the actor layer does exactly this):
/// - Feed every chunk read from the transport to ``receive(_:)-(UnsafeRawBufferPointer)``, then
///   pull ``nextEvent()`` until it returns `nil` and hand the events to the application.
/// - At end of stream call ``receiveEndOfStream()`` and pull events again.
/// - After *every* call (receiving included: pongs and close replies are produced there), write
///   ``takeOutput()`` to the transport in order.
/// - When ``closeExpected`` turns true, start the close timeout; when a terminal event
///   (`.closed`, `.failed`, `.aborted`) arrives, the protocol is over (RFC 6455 §7.1.1 says who
///   closes the TCP connection: the server at once, the client after the server did or a timeout).
///
/// Receiving never throws: a peer's violation fails the connection with the close code the RFC
/// demands (1002, 1007, 1009), queues that close frame, and surfaces as `.failed`. Sending throws
/// ``UsageError`` for misuse only. After a terminal event all further input is ignored (§1.4, §7.1.1).
///
/// Time and randomness are injected: the core never reads a clock, and masking keys come from the
/// generator passed to ``init(role:configuration:randomNumberGenerator:)``.
public struct ConnectionCore: Sendable {
    /// Which end of the connection this is: clients mask what they send, servers require masks (§5.1).
    public enum Role: Sendable, Hashable {
        case client
        case server
    }

    /// The connection's state as the application sees it (§4.1 CONNECTING is the handshake's business).
    public enum State: Sendable, Hashable, CustomStringConvertible {
        /// Messages flow both ways.
        case open
        /// We sent a close frame and wait for the peer's (§7.1.2).
        case closing
        /// Terminal: the close handshake completed, the connection failed, or the stream ended.
        case closed

        public var description: String {
            switch self {
            case .open: return "open"
            case .closing: return "closing"
            case .closed: return "closed"
            }
        }
    }

    /// Limits and policies, fixed for the connection's life.
    public struct Configuration: Sendable, Hashable {
        /// The largest message accepted, in bytes, checked against each frame header *before* its
        /// payload is buffered. `Int.max` means unlimited. Default 16 MiB.
        public var maxMessageSize: Int = 16 * 1024 * 1024
        /// RSV bits a negotiated extension allows on data frames (0x4 = RSV1). Default none (§5.2).
        public var allowedReservedBits: UInt8 = 0
        /// Whether a ping is answered with a pong automatically (§5.5.2). Default yes.
        public var answersPings = true
        /// Holds back the close frame that fails the connection (§7.1.7) until
        /// ``ConnectionCore/closeAfterFailure()``: input stops at the violation and `.failed` is
        /// reported after the messages before it, but sending stays possible so the application
        /// can still answer those messages, in order, before the close goes out. Default `false`
        /// (the close frame is queued at once).
        public var holdsFailureClose = false
        /// The negotiated permessage-deflate parameters (RFC 7692), or `nil` when not negotiated.
        /// With them, RSV1 marks a compressed message on its first frame and ``maxMessageSize``
        /// applies to the decompressed size, enforced while inflating.
        public var deflate: PerMessageDeflate.Parameters?
        /// How this end compresses when ``deflate`` is set: memory level, compression level and
        /// the minimum size of a compressed message (the window and context-takeover fields are
        /// taken from ``deflate``, not from here).
        public var deflateOptions = PerMessageDeflate.Options()
        /// Delivers data as ``Event/fragment(_:)`` events as it arrives instead of assembling
        /// whole messages: at the end of every data frame and at the end of every
        /// ``ConnectionCore/receive(_:)-(UnsafeRawBufferPointer)`` call that left a frame's bytes
        /// pending, so nothing waits for the rest of a message. ``maxMessageSize`` still bounds a
        /// message's total size (streaming does not lift the limit; set `Int.max` for none), and
        /// UTF-8 is still validated across the whole message. Default `false`.
        public var deliversFragments = false

        public init() {}
    }

    /// The contents of a close frame (§5.5.1).
    public struct CloseFrame: Sendable, Hashable {
        /// The status code; 1005 (``CloseCode/noStatusReceived``) when the frame carried none.
        public var code: CloseCode
        public var reason: String

        public init(code: CloseCode, reason: String) {
            self.code = code
            self.reason = reason
        }
    }

    /// What the peer's bytes amounted to.
    public enum Event: Sendable, Hashable {
        /// A complete message.
        case message(Message)
        /// A piece of a message (only with ``Configuration/deliversFragments``).
        case fragment(MessageFragment)
        /// A ping arrived (already answered when ``Configuration/answersPings``).
        case ping([UInt8])
        /// A pong arrived.
        case pong([UInt8])
        /// Terminal: the close handshake completed. `frame` is the peer's close frame.
        case closed(CloseFrame)
        /// Terminal: the peer broke the protocol; a close frame with the violation's code is queued.
        case failed(ProtocolViolation)
        /// Terminal: the stream ended before the close handshake completed (reported as 1006).
        case aborted
    }

    public let role: Role
    public let configuration: Configuration
    public private(set) var state: State = .open
    /// Payload bytes of compressed messages before and after compression, both directions.
    public private(set) var compressionStatistics = PerMessageDeflate.Statistics()

    /// True while we wait for the peer's close frame: the caller should run a close timeout.
    public var closeExpected: Bool { state == .closing }

    // Receive side: the frame being read.
    private var headerBuffer: [UInt8] = []
    private var inPayload = false
    private var frameRemaining: UInt64 = 0
    private var frameOpcode: Opcode = .continuation
    private var frameIsFinal = false
    private var frameKey: MaskingKey?
    private var maskPhase = 0
    private var controlPayload: [UInt8] = []
    // Receive side: the message being assembled (nil kind: none in progress).
    private var messageKind: MessageKind?
    private var messagePayload: [UInt8] = []
    /// Bytes of the current message already delivered as fragments (``Configuration/deliversFragments``).
    private var messageDelivered = 0
    private var messageValidator = UTF8Validator()
    /// A violation whose close frame is held back (see ``Configuration/holdsFailureClose``).
    private var pendingFailure: ProtocolViolation?
    // permessage-deflate (RFC 7692): streams created on first use, copied before mutation when shared.
    private var messageCompressed = false
    private var inflater: Inflater?
    private var deflater: Deflater?
    private var unmaskScratch: [UInt8] = []
    // Send side.
    private var outboundFragmentKind: MessageKind?
    private var outboundCompressed = false
    private var outboundValidator = UTF8Validator()
    private var randomNumberGenerator: any RandomNumberGenerator & Sendable
    // Queues, drained by the caller.
    private var events: [Event] = []
    private var eventIndex = 0
    private var output: [[UInt8]] = []

    /// Creates the protocol state for an open connection.
    /// - Parameter randomNumberGenerator: the source of masking keys (clients only). Use
    ///   `SystemRandomNumberGenerator()` in production: §5.3 requires unpredictable keys.
    public init(role: Role, configuration: Configuration = .init(),
                randomNumberGenerator: any RandomNumberGenerator & Sendable = SystemRandomNumberGenerator()) {
        self.role = role
        self.configuration = configuration
        self.randomNumberGenerator = randomNumberGenerator
    }

    // MARK: - Draining

    /// The next event produced by the input so far, or `nil` when there is none.
    public mutating func nextEvent() -> Event? {
        guard eventIndex < events.count else {
            if !events.isEmpty {
                events.removeAll(keepingCapacity: true)
                eventIndex = 0
            }
            return nil
        }
        let event = events[eventIndex]
        eventIndex += 1
        return event
    }

    /// The frames to write, in order, since the last call. Write them before anything taken later.
    public mutating func takeOutput() -> [[UInt8]] {
        guard !output.isEmpty else { return [] }
        defer { output = [] }
        return output
    }

    /// Whether ``takeOutput()`` has anything.
    public var hasOutput: Bool { !output.isEmpty }

    // MARK: - Receiving

    /// Feeds bytes read from the transport. Never throws; see the type's documentation.
    public mutating func receive(_ bytes: UnsafeRawBufferPointer) {
        let count = bytes.count
        var offset = 0
        reading: while acceptsInput {
            if inPayload {
                guard offset < count else { break reading }
                let available = count - offset
                let take = frameRemaining < UInt64(available) ? Int(frameRemaining) : available
                consumePayload(UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + take)]))
                offset += take
                frameRemaining -= UInt64(take)
                if frameRemaining == 0 && acceptsInput { finishFrame() }
                continue
            }
            let result: FrameHeader.DecodeResult
            if headerBuffer.isEmpty {
                guard offset < count else { break reading }
                // Fast path: the whole header is in this chunk, decode it in place.
                result = FrameHeader.decode(UnsafeRawBufferPointer(rebasing: bytes[offset...]))
                if case .header(_, let size) = result { offset += size }
            } else {
                result = headerBuffer.withUnsafeBytes { FrameHeader.decode($0) }
            }
            switch result {
            case .header(let header, _):
                headerBuffer.removeAll(keepingCapacity: true)
                if let size = deliverInPlace(header, from: UnsafeRawBufferPointer(rebasing: bytes[offset...])) {
                    offset += size
                } else {
                    startFrame(header)
                }
            case .needBytes(let needed):
                guard offset < count else { break reading }
                // Buffer exactly up to what the header needs: the payload must stay in `bytes`.
                let take = min(needed - headerBuffer.count, count - offset)
                headerBuffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + take)]))
                offset += take
            case .invalid(let violation):
                fail(violation)
            }
        }
        if configuration.deliversFragments && inPayload && !messagePayload.isEmpty && acceptsInput {
            deliverFragment(isFinal: false)
        }
    }

    /// Feeds bytes from any collection (convenience for tests and scripted peers).
    public mutating func receive(_ bytes: some Collection<UInt8>) {
        if bytes.withContiguousStorageIfAvailable({ receive(UnsafeRawBufferPointer($0)) }) == nil {
            Array(bytes).withUnsafeBytes { receive($0) }
        }
    }

    /// Reports that the transport's input ended. Idempotent.
    ///
    /// Before the close handshake completed this is an abnormal closure (§7.1.5: 1006) and produces
    /// `.aborted`; afterwards it is the expected end and produces nothing.
    public mutating func receiveEndOfStream() {
        guard state != .closed else { return }
        state = .closed
        if pendingFailure != nil {
            pendingFailure = nil  // `.failed` was reported already; the peer is gone
            return
        }
        events.append(.aborted)
    }

    /// Whether input is still parsed: not after a terminal event, nor after a held-back failure.
    private var acceptsInput: Bool { state != .closed && pendingFailure == nil }

    /// Sends the close frame of a failure that ``Configuration/holdsFailureClose`` held back, and
    /// closes. Call it once the application has handled the messages received before the
    /// violation. Does nothing when no failure is pending.
    public mutating func closeAfterFailure() {
        guard let violation = pendingFailure else { return }
        pendingFailure = nil
        closeForFailure(violation)
    }

    /// Whether a failure is held back, waiting for ``closeAfterFailure()``.
    public var isFailurePending: Bool { pendingFailure != nil }

    /// The fast path for the common case: a whole unfragmented, unmasked data message that is
    /// already entirely in `bytes` (which start at its payload) becomes a `Message` with a single
    /// copy, straight from the caller's buffer. Returns the payload size consumed, or `nil` when
    /// the frame needs the general path (fragments, masks, extensions, limits, partial payloads).
    private mutating func deliverInPlace(_ header: FrameHeader, from bytes: UnsafeRawBufferPointer) -> Int? {
        guard role == .client, !configuration.deliversFragments, header.isFinal, header.maskingKey == nil, header.reservedBits == 0,
              messageKind == nil, header.payloadLength <= UInt64(bytes.count),
              header.payloadLength <= UInt64(configuration.maxMessageSize)
        else { return nil }
        let size = Int(header.payloadLength)
        let payload = UnsafeRawBufferPointer(rebasing: bytes[..<size])
        switch header.opcode {
        case .text:
            var validator = UTF8Validator()
            guard validator.validate(payload), validator.isComplete else { return nil }  // the general path fails it
            events.append(.message(.text(String(decoding: payload, as: UTF8.self))))
        case .binary:
            events.append(.message(.binary([UInt8](payload))))
        default:
            return nil
        }
        return size
    }

    private mutating func startFrame(_ header: FrameHeader) {
        // §5.2: "If a nonzero value is received and none of the negotiated extensions defines the
        // meaning of such a nonzero value, the receiving endpoint MUST _Fail the WebSocket Connection_."
        var allowedBits = header.opcode.isControl ? 0 : configuration.allowedReservedBits
        if configuration.deflate != nil {
            // RFC 7692 §6.1: RSV1 is the "Per-Message Compressed" bit of a message's first frame;
            // §6: never on control frames, and continuation frames MUST have it clear.
            if header.opcode == .continuation && header.reservedBits & 0x4 != 0 {
                return fail(.init(.protocolError, "RSV1 set on a continuation frame (RFC 7692 §6.1)"))
            }
            if header.opcode == .text || header.opcode == .binary { allowedBits |= 0x4 }
        }
        guard header.reservedBits & ~allowedBits == 0 else {
            return fail(.init(.protocolError, "reserved bits 0x\(String(header.reservedBits, radix: 16)) set without a negotiated extension"))
        }
        // §5.1: servers MUST close on an unmasked frame; clients on a masked one.
        switch role {
        case .server where header.maskingKey == nil:
            return fail(.init(.protocolError, "unmasked frame from a client"))
        case .client where header.maskingKey != nil:
            return fail(.init(.protocolError, "masked frame from a server"))
        default:
            break
        }
        switch header.opcode {
        case .continuation:
            guard messageKind != nil else {
                return fail(.init(.protocolError, "continuation frame without a message in progress"))
            }
        case .text, .binary:
            guard messageKind == nil else {
                return fail(.init(.protocolError, "new data frame while a fragmented message is in progress"))
            }
        case .close, .ping, .pong:
            break
        }
        if !header.opcode.isControl {
            if messageKind == nil {
                messageCompressed = configuration.deflate != nil && header.reservedBits & 0x4 != 0
            }
            let limit = UInt64(configuration.maxMessageSize)
            let size = UInt64(messageDelivered + messagePayload.count) + header.payloadLength
            // Checked before anything is buffered: a header claiming exabytes allocates nothing.
            // A compressed message is never buffered compressed: its limit applies to the inflated
            // bytes, while inflating (consumePayload).
            guard messageCompressed || size <= limit else {
                return fail(.init(.messageTooBig, "message of at least \(size) bytes exceeds the limit of \(limit) bytes"))
            }
            if messageKind == nil {
                messageKind = header.opcode == .text ? .text : .binary
                // Reserve what the frame announces, but not more than 1 MiB ahead of the bytes
                // actually arriving, so a lying header cannot make us allocate.
                if !messageCompressed { messagePayload.reserveCapacity(Int(min(header.payloadLength, 1 << 20))) }
            }
        }
        frameOpcode = header.opcode
        frameIsFinal = header.isFinal
        frameKey = header.maskingKey
        maskPhase = 0
        frameRemaining = header.payloadLength
        inPayload = true
        if frameRemaining == 0 { finishFrame() }
    }

    private mutating func consumePayload(_ chunk: UnsafeRawBufferPointer) {
        if frameOpcode.isControl {
            let start = controlPayload.count
            controlPayload.append(contentsOf: chunk)
            if let key = frameKey {
                maskPhase = controlPayload.withUnsafeMutableBytes {
                    key.apply(to: UnsafeMutableRawBufferPointer(rebasing: $0[start...]), phase: maskPhase)
                }
            }
            return
        }
        if messageCompressed { return inflatePayload(chunk) }
        let start = messagePayload.count
        messagePayload.append(contentsOf: chunk)
        let key = frameKey
        let isText = messageKind == .text
        let phase = maskPhase
        let valid = messagePayload.withUnsafeMutableBytes { buffer -> Bool in
            let appended = UnsafeMutableRawBufferPointer(rebasing: buffer[start...])
            if let key { key.apply(to: appended, phase: phase) }
            // §8.1: fail as soon as invalid UTF-8 arrives, not when the message completes.
            return !isText || messageValidator.validate(UnsafeRawBufferPointer(appended))
        }
        maskPhase = (phase + chunk.count) & 3
        if !valid { fail(.init(.invalidPayload, "invalid UTF-8 in a text message")) }
    }

    private mutating func finishFrame() {
        inPayload = false
        switch frameOpcode {
        case .ping:
            let payload = controlPayload
            controlPayload.removeAll(keepingCapacity: true)
            if configuration.answersPings && state == .open {
                // §5.5.3: a pong in response to a ping carries the ping's application data.
                enqueueFrame(.pong, payload: payload)
            }
            events.append(.ping(payload))
        case .pong:
            let payload = controlPayload
            controlPayload.removeAll(keepingCapacity: true)
            events.append(.pong(payload))
        case .close:
            let payload = controlPayload
            controlPayload.removeAll(keepingCapacity: true)
            receivedClose(payload)
        case .text, .binary, .continuation:
            guard frameIsFinal else {
                if configuration.deliversFragments && !messagePayload.isEmpty { deliverFragment(isFinal: false) }
                return
            }
            if messageCompressed {
                // RFC 7692 §7.2.2: append 00 00 ff ff to the payload of the whole message, inflate.
                let done = DeflateCodec.tail.withUnsafeBytes { inflate($0, countsAsReceived: false) }
                guard done, state != .closed else { return }
                compressionStatistics.uncompressedBytesReceived += messageDelivered + messagePayload.count
                if peerNoContextTakeover { uniqueInflater().reset() }
                messageCompressed = false
            }
            if messageKind == .text {
                guard messageValidator.isComplete else {
                    return fail(.init(.invalidPayload, "text message ends inside a UTF-8 sequence"))
                }
            }
            if configuration.deliversFragments {
                deliverFragment(isFinal: true)
            } else if messageKind == .text {
                events.append(.message(.text(String(decoding: messagePayload, as: UTF8.self))))
            } else {
                events.append(.message(.binary(messagePayload)))
            }
            messagePayload = []
            messageDelivered = 0
            messageKind = nil
            messageValidator = UTF8Validator()
        }
    }

    /// Hands the message bytes received so far to the application as a fragment.
    private mutating func deliverFragment(isFinal: Bool) {
        guard let kind = messageKind else { return }
        messageDelivered += messagePayload.count
        events.append(.fragment(MessageFragment(kind: kind, bytes: messagePayload, isFinal: isFinal)))
        messagePayload = []
    }

    private mutating func receivedClose(_ payload: [UInt8]) {
        var frame = CloseFrame(code: .noStatusReceived, reason: "")
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
            frame = CloseFrame(code: code, reason: String(decoding: reason, as: UTF8.self))
        }
        if state == .open {
            // §5.5.1: reply with a close frame, "typically echoing the status code it received".
            enqueueClose(frame.code == .noStatusReceived ? nil : frame.code, reason: "")
        }
        state = .closed
        events.append(.closed(frame))
    }

    /// Fails the connection (§7.1.7): sends a close frame with the violation's code unless one was
    /// sent already, and ignores all further input.
    private mutating func fail(_ violation: ProtocolViolation) {
        inPayload = false
        messagePayload = []
        events.append(.failed(violation))
        if configuration.holdsFailureClose && state == .open {
            pendingFailure = violation
        } else {
            closeForFailure(violation)
        }
    }

    private mutating func closeForFailure(_ violation: ProtocolViolation) {
        if state == .open {
            enqueueClose(violation.closeCode, reason: Self.genericReason(for: violation.closeCode))
        }
        state = .closed
    }

    /// A fixed reason per code: the detail may echo untrusted input, so it never goes on the wire.
    private static func genericReason(for code: CloseCode) -> String {
        switch code {
        case .invalidPayload: return "invalid payload data"
        case .messageTooBig: return "message too big"
        default: return "protocol error"
        }
    }

    // MARK: - Sending

    /// Queues a complete text message (one frame).
    public mutating func send(text: String) throws(UsageError) {
        try checkCanSendMessage()
        var text = text
        text.withUTF8 { enqueueMessage(.text, payload: UnsafeRawBufferPointer($0)) }
    }

    /// Queues a complete binary message (one frame).
    public mutating func send(binary payload: UnsafeRawBufferPointer) throws(UsageError) {
        try checkCanSendMessage()
        enqueueMessage(.binary, payload: payload)
    }

    /// Queues a complete message of `kind` from raw bytes; text must be valid UTF-8.
    public mutating func send(_ payload: UnsafeRawBufferPointer, kind: MessageKind) throws(UsageError) {
        try checkCanSendMessage()
        if kind == .text {
            var validator = UTF8Validator()
            guard validator.validate(payload), validator.isComplete else { throw .invalidUTF8 }
        }
        enqueueMessage(kind == .text ? .text : .binary, payload: payload)
    }

    /// Queues one frame of a fragmented message (§5.4).
    ///
    /// The first frame carries `kind`'s opcode, later ones are continuations; `isFinal` ends the
    /// message. Text may split UTF-8 sequences between frames, but the whole must be valid.
    public mutating func sendFrame(_ payload: UnsafeRawBufferPointer, kind: MessageKind, isFinal: Bool) throws(UsageError) {
        guard state == .open else { throw .notOpen(state) }
        let opcode: Opcode
        if let inProgress = outboundFragmentKind {
            guard inProgress == kind else { throw .fragmentedMessageInProgress }
            opcode = .continuation
        } else {
            opcode = kind == .text ? .text : .binary
            outboundValidator = UTF8Validator()
            // A fragmented message is compressed as one message whenever deflate was negotiated
            // (its total size is unknown here, so the minimum size does not apply).
            outboundCompressed = configuration.deflate != nil
        }
        if kind == .text {
            guard outboundValidator.validate(payload), !isFinal || outboundValidator.isComplete else {
                throw .invalidUTF8
            }
        }
        outboundFragmentKind = isFinal ? nil : kind
        guard outboundCompressed else { return enqueueFrame(opcode, isFinal: isFinal, payload: payload) }
        // RFC 7692 §6.1: RSV1 on the first frame only; each fragment is sync-flushed so the peer
        // can inflate it at once, and the tail is removed at the end of the message (§7.2.1).
        let compressed = compress(payload, endOfMessage: isFinal)
        compressed.withUnsafeBytes {
            enqueueFrame(opcode, isFinal: isFinal, reservedBits: opcode == .continuation ? 0 : 0x4, payload: $0)
        }
    }

    /// Queues a ping (§5.5.2) with at most 125 bytes of application data.
    public mutating func sendPing(_ payload: [UInt8] = []) throws(UsageError) {
        try sendControl(.ping, payload)
    }

    /// Queues an unsolicited pong (§5.5.3: a unidirectional heartbeat).
    public mutating func sendPong(_ payload: [UInt8] = []) throws(UsageError) {
        try sendControl(.pong, payload)
    }

    /// Starts the close handshake (§7.1.2): queues a close frame and moves to `.closing`.
    ///
    /// - Parameters:
    ///   - code: the status code, or `nil` for an empty close frame (the peer then reports 1005).
    ///   - reason: at most 123 UTF-8 bytes; must be empty when `code` is `nil`.
    public mutating func close(code: CloseCode? = .normalClosure, reason: String = "") throws(UsageError) {
        guard state == .open else { throw .notOpen(state) }
        if let code {
            guard code.isValidOnWire else { throw .invalidCloseCode(code) }
            guard reason.utf8.count <= 123 else { throw .closeReasonTooLong(reason.utf8.count) }
        } else if !reason.isEmpty {
            throw .invalidCloseCode(.noStatusReceived)
        }
        enqueueClose(code, reason: reason)
        state = .closing
    }

    private func checkCanSendMessage() throws(UsageError) {
        guard state == .open else { throw .notOpen(state) }
        guard outboundFragmentKind == nil else { throw .fragmentedMessageInProgress }
    }

    private mutating func sendControl(_ opcode: Opcode, _ payload: [UInt8]) throws(UsageError) {
        guard state == .open else { throw .notOpen(state) }
        guard payload.count <= 125 else { throw .controlPayloadTooLong(payload.count) }
        enqueueFrame(opcode, payload: payload)
    }

    private mutating func enqueueClose(_ code: CloseCode?, reason: String) {
        guard let code else { return enqueueFrame(.close, payload: [UInt8]()) }
        var payload: [UInt8] = [UInt8(code.rawValue >> 8), UInt8(code.rawValue & 0xFF)]
        payload.append(contentsOf: reason.utf8.prefix(123))
        enqueueFrame(.close, payload: payload)
    }

    private mutating func enqueueFrame(_ opcode: Opcode, isFinal: Bool = true, reservedBits: UInt8 = 0, payload: UnsafeRawBufferPointer) {
        let key: MaskingKey? = role == .client ? .random(using: &randomNumberGenerator) : nil
        output.append(FrameEncoder.encode(opcode: opcode, isFinal: isFinal, reservedBits: reservedBits,
                                          payload: payload, maskingKey: key))
    }

    private mutating func enqueueFrame(_ opcode: Opcode, payload: [UInt8]) {
        payload.withUnsafeBytes { enqueueFrame(opcode, payload: $0) }
    }

    // MARK: - permessage-deflate (RFC 7692)

    /// Queues a whole message, compressed (RSV1 set, §6.1) when deflate was negotiated and the
    /// message is at least ``PerMessageDeflate/Options/minimumMessageSize`` bytes.
    private mutating func enqueueMessage(_ opcode: Opcode, payload: UnsafeRawBufferPointer) {
        guard configuration.deflate != nil, payload.count >= configuration.deflateOptions.minimumMessageSize else {
            return enqueueFrame(opcode, payload: payload)
        }
        let compressed = compress(payload, endOfMessage: true)
        compressed.withUnsafeBytes { enqueueFrame(opcode, reservedBits: 0x4, payload: $0) }
    }

    private var ownNoContextTakeover: Bool {
        role == .client ? configuration.deflate?.clientNoContextTakeover == true : configuration.deflate?.serverNoContextTakeover == true
    }

    private var peerNoContextTakeover: Bool {
        role == .client ? configuration.deflate?.serverNoContextTakeover == true : configuration.deflate?.clientNoContextTakeover == true
    }

    private mutating func compress(_ payload: UnsafeRawBufferPointer, endOfMessage: Bool) -> [UInt8] {
        if deflater == nil {
            let parameters = configuration.deflate ?? .init()
            let options = configuration.deflateOptions
            deflater = Deflater(windowBits: role == .client ? parameters.clientMaxWindowBits : parameters.serverMaxWindowBits,
                                memoryLevel: options.memoryLevel, level: options.compressionLevel)
        } else if !isKnownUniquelyReferenced(&deflater) {
            deflater = deflater!.copy()  // value semantics: a copy of this core shares the stream
        }
        let compressed = deflater!.compress(payload, endOfMessage: endOfMessage)
        // §7.1.1: without context takeover every message starts from an empty window.
        if endOfMessage && ownNoContextTakeover { deflater!.reset() }
        compressionStatistics.uncompressedBytesSent += payload.count
        compressionStatistics.compressedBytesSent += compressed.count
        return compressed
    }

    private mutating func uniqueInflater() -> Inflater {
        if inflater == nil {
            let parameters = configuration.deflate ?? .init()
            inflater = Inflater(windowBits: role == .client ? parameters.serverMaxWindowBits : parameters.clientMaxWindowBits)
        } else if !isKnownUniquelyReferenced(&inflater) {
            inflater = inflater!.copy()  // value semantics: a copy of this core shares the stream
        }
        return inflater!
    }

    /// Unmasks (server role) and inflates a chunk of a compressed message's payload.
    private mutating func inflatePayload(_ chunk: UnsafeRawBufferPointer) {
        guard let key = frameKey else {
            _ = inflate(chunk, countsAsReceived: true)
            return
        }
        unmaskScratch.removeAll(keepingCapacity: true)
        unmaskScratch.append(contentsOf: chunk)
        var scratch = unmaskScratch
        unmaskScratch = []
        maskPhase = scratch.withUnsafeMutableBytes { key.apply(to: $0, phase: maskPhase) }
        _ = scratch.withUnsafeBytes { inflate($0, countsAsReceived: true) }
        unmaskScratch = scratch
    }

    /// Inflates compressed bytes into the message, at most up to ``Configuration/maxMessageSize``
    /// (decompression-bomb protection: stops at the limit, fails with 1009), validating text as it
    /// is produced (§8.1 of RFC 6455 applies to the inflated bytes). Returns `false` on failure.
    private mutating func inflate(_ compressed: UnsafeRawBufferPointer, countsAsReceived: Bool) -> Bool {
        if countsAsReceived { compressionStatistics.compressedBytesReceived += compressed.count }
        let start = messagePayload.count
        let outcome = uniqueInflater().inflate(compressed, appendingTo: &messagePayload,
                                               limit: configuration.maxMessageSize - messageDelivered)
        if messageKind == .text {
            let valid = messagePayload.withUnsafeBytes { messageValidator.validate(UnsafeRawBufferPointer(rebasing: $0[start...])) }
            guard valid else {
                fail(.init(.invalidPayload, "invalid UTF-8 in a text message"))
                return false
            }
        }
        switch outcome {
        case .ok:
            return true
        case .tooBig:
            fail(.init(.messageTooBig, "message inflates beyond the limit of \(configuration.maxMessageSize) bytes"))
            return false
        case .invalid(let detail):
            fail(.init(.invalidPayload, detail))
            return false
        }
    }
}
