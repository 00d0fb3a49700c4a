/// The WebSocket protocol (RFC 6455) after the opening handshake, for either role, as a value type
/// with no I/O: bytes in, events out; calls in, bytes out.
///
/// Drive it like this (the engine, `WebSocketConnection`, does exactly this):
/// - Feed every chunk read from the transport to ``receive(_:maxMessages:)``, then pull
///   ``nextEvent()`` until it returns `nil` and hand the events to the application. `receive`
///   returns how many bytes it consumed: it stops early after `maxMessages` messages, so a reader
///   can stop at the exact message that fills its queue and feed the rest later.
/// - At end of stream call ``receiveEndOfStream()`` and pull events again.
/// - After *every* call (receiving included: pongs and close replies are produced there), write
///   ``takeOutput()`` to the transport in order.
/// - On `.failed`, call ``closeAfterFailure()`` once the application has handled the messages
///   reported before it (at once, if it does not answer messages): that queues the close frame
///   with the violation's code. Until then, answers to those messages can still be sent.
///
/// How the connection ends is one value, ``lifecycle``; its transitions are all in
/// `ConnectionCore+Closing.swift`. Receiving never throws: a peer's violation fails the connection
/// with the close code the RFC demands (1002, 1007, 1009) and surfaces as `.failed`. Sending throws
/// ``UsageError`` for misuse only. After a terminal event all further input is ignored (§1.4, §7.1.1).
///
/// Time and randomness are injected: the core never reads a clock, and masking keys come from the
/// generator passed to ``init(role:configuration:randomNumberGenerator:)``.
public struct ConnectionCore: Sendable {
    /// Which end of the connection this is: clients mask what they send, servers require masks (§5.1).
    public enum Role: Sendable, Hashable {
        /// The client end: masks every frame it sends, and fails the connection (1002) on a masked frame from the server (§5.1).
        case client
        /// The server end: sends unmasked frames, and fails the connection (1002) on an unmasked frame from the client (§5.1).
        case server
    }

    /// The connection's state as the application sees it, a summary of ``Lifecycle``
    /// (§4.1 CONNECTING is the handshake's business).
    public enum State: Sendable, Hashable, CustomStringConvertible {
        /// Messages flow both ways.
        case open
        /// The connection is ending: we sent (or are about to send) a close frame.
        case closing
        /// Terminal: the close handshake completed, the connection failed, or the stream ended.
        case closed

        /// The state's name (`open`, `closing`, ...), for messages and logs.
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
        /// ``ConnectionCore/receive(_:maxMessages:)`` call that left a frame's bytes pending, so
        /// nothing waits for the rest of a message. ``maxMessageSize`` still bounds a message's
        /// total size (streaming does not lift the limit; set `Int.max` for none), and UTF-8 is
        /// still validated across the whole message. Default `false`.
        public var deliversFragments = false
        /// Whether text messages are accepted. `false` for an endpoint that only understands binary
        /// data (a stream socket): a text frame then fails the connection with 1003 (unsupported
        /// data), the code RFC 6455 §7.4.1 names for exactly this case. Default `true`.
        public var acceptsText = true
        /// With ``deliversFragments``: a non-final fragment of a text message never ends inside a
        /// UTF-8 sequence. The incomplete tail (at most 3 bytes) waits for the bytes that complete
        /// it and starts the next fragment, so each fragment decodes on its own; a fragment that
        /// would hold only such a tail is not delivered (no empty non-final fragments). The
        /// client's partial receive (WinRT `PartialMessage`) sets it; the server's fragment
        /// context, which hands raw bytes to a caller's buffer as IIS does, does not. Default
        /// `false`.
        public var fragmentsEndOnCharacterBoundaries = false

        /// The defaults given on each property: 16 MiB messages, whole messages, no compression.
        public init() {}
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
        case closed(WebSocketCloseStatus)
        /// Terminal: the peer broke the protocol. Call ``ConnectionCore/closeAfterFailure()`` to
        /// queue the close frame with the violation's code.
        case failed(ProtocolViolation)
        /// Terminal: the stream ended before the close handshake completed (reported as 1006).
        case aborted
    }

    /// Which end this core is, fixed at creation: decides masking in both directions (§5.1).
    public let role: Role
    /// The limits and policies the core was created with, fixed for the connection's life.
    public let configuration: Configuration
    /// Where the connection is in its life; see ``Lifecycle``.
    public internal(set) var lifecycle: Lifecycle = .open
    /// Payload bytes of compressed messages before and after compression, both directions.
    public internal(set) var compressionStatistics = PerMessageDeflate.Statistics()

    // Receive side: the frame being read (ConnectionCore+FrameReader.swift).
    var headerBuffer: [UInt8] = []
    var inPayload = false
    var frameRemaining: UInt64 = 0
    var frameOpcode: Opcode = .continuation
    var frameIsFinal = false
    var frameKey: MaskingKey?
    var maskPhase = 0
    var controlPayload: [UInt8] = []
    // Receive side: the message being assembled (ConnectionCore+MessageAssembler.swift; nil kind: none).
    var messageKind: MessageKind?
    var messagePayload: [UInt8] = []
    /// Bytes of `messagePayload` received so far when it was allocated at its final size for a
    /// direct read (`ConnectionCore+DirectPayload.swift`); `nil` when its count is what it holds.
    var payloadFilled: Int?
    /// Bytes of the current message already delivered as fragments (``Configuration/deliversFragments``).
    var messageDelivered = 0
    var messageValidator = UTF8Validator()
    /// Messages and fragments produced by the current `receive` call (for its `maxMessages`).
    var deliveredInCall = 0
    // permessage-deflate (RFC 7692): streams created on first use, copied before mutation when shared.
    var messageCompressed = false
    var inflater: Inflater?
    var deflater: Deflater?
    // Send side (ConnectionCore+Sending.swift).
    var outboundFragmentKind: MessageKind?
    var outboundCompressed = false
    var outboundValidator = UTF8Validator()
    var randomNumberGenerator: any RandomNumberGenerator & Sendable
    // Queues, drained by the caller.
    var events: [Event] = []
    var eventIndex = 0
    var output: [[UInt8]] = []

    /// Creates the protocol state for an open connection.
    /// - Parameters:
    ///   - role: which side we are: a client masks what it sends, a server what it receives (§5.1).
    ///   - configuration: limits, extensions and delivery options, fixed for the connection's life.
    ///   - randomNumberGenerator: the source of masking keys (clients only). Use
    ///     `SystemRandomNumberGenerator()` in production: §5.3 requires unpredictable keys.
    public init(
        role: Role, configuration: Configuration = .init(),
        randomNumberGenerator: any RandomNumberGenerator & Sendable = SystemRandomNumberGenerator()
    ) {
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
}
