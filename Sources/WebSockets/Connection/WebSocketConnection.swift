/// One open WebSocket connection, in either role: the engine that executes what the protocol core
/// (``ConnectionCore``) decides, over a ``Transport``. The client (``MessageWebSocket``) and the
/// server share it.
///
/// Which thread runs this? Every method runs on the actor's executor, the event loop
/// (``EventLoop``): socket reads, protocol work and socket writes happen on the loop thread, without
/// hops between them. A *reader* task runs for the connection's life
/// (`WebSocketConnection+Reading.swift`: transport → core → inbox). Writes have no task of their
/// own unless they must wait (`WebSocketConnection+Writing.swift`). Every method that touches
/// `core` queues its output before any suspension point, so actor reentrancy cannot reorder frames.
///
/// When does the close frame go out, and when does the application learn that the connection
/// ended? `WebSocketConnection+Closing.swift` answers both, in one place: the application learns
/// it (``messages`` ends, `close()` returns) only once our close frame, if the protocol calls for
/// one, was accepted by the kernel and the transport is closed.

import WebSocketCore

package actor WebSocketConnection {
    /// Connections run on the event loop: the reader's socket reads, the protocol work and inline
    /// socket writes then happen on one thread, without executor hops between them.
    package nonisolated var unownedExecutor: UnownedSerialExecutor { EventLoop.shared.asUnownedSerialExecutor() }

    package nonisolated let role: ConnectionCore.Role
    package nonisolated let transport: any Transport
    /// `transport` when it can write without waiting (the immediate send path), cast once: a
    /// dynamic cast per send costs a conformance lookup.
    nonisolated let immediateWriter: (any ImmediateFrameWriting)?

    // `@exclusivity(unchecked)` on the state a round trip touches (`core`, the read and write
    // bookkeeping, `ending`, `counters`, `lastReceived`): a class's stored `var` is otherwise checked
    // at run time on every access (`swift_beginAccess`, ~130 instructions, a dozen per round trip:
    // 5 % of one). Why it is safe: every access runs on the actor's executor (isolated methods, or
    // `assumeIsolated` on the loop thread), so no two threads ever touch them; and each is a value
    // mutated only by synchronous code that does not call back into the connection (the core is
    // sans-I/O, the queue and counters are plain values), so no access overlaps another of the same
    // property on one thread either. The compiler still checks exclusivity statically.
    @exclusivity(unchecked) var core: ConnectionCore
    let delivery: Delivery
    let inbox: any InboxControl
    let closeTimeout: Duration
    let outboundBufferSize: Int
    let pingInterval: Duration?
    let pingTimeout: Duration?
    let idleTimeout: Duration?

    /// Where received data goes: whole messages, or fragments as they arrive
    /// (``ConnectionCore/Configuration/deliversFragments`` is set to match).
    package enum Delivery: Sendable {
        case messages(MessageInbox)
        case fragments(Inbox<MessageFragment>)

        /// The inbox's ``Inbox/room``, through its concrete type. The reader asks before every
        /// read; through `any InboxControl` that call ran the unspecialized generic code, which
        /// looks up the metadata of `Inbox<Element>`'s state and lock each time (~1,500
        /// instructions of a ~30,000-instruction round trip).
        var room: Int {
            switch self {
            case .messages(let inbox): inbox.room
            case .fragments(let inbox): inbox.room
            }
        }
    }

    /// Outgoing message type for byte sends (`Control.messageType`): the one runtime-mutable setting.
    package var messageType: MessageKind

    // Reading (WebSocketConnection+Reading.swift). Both empty while idle over TCP or TLS.
    /// The size of the reader's own buffer: only a transport that cannot read without waiting needs
    /// one (allocated on the first read), so this is 0 over TCP and TLS.
    var ownReadBufferSize = 0
    /// Bytes read but not yet taken by the core (the inbox was full), from `unreadOffset` on.
    @exclusivity(unchecked) var unreadBytes: [UInt8] = []
    @exclusivity(unchecked) var unreadOffset = 0

    // Writing (WebSocketConnection+Writing.swift).
    @exclusivity(unchecked) var outbound = OutboundQueue()
    /// Whether a write is in progress (inline in a caller, or in the background writer).
    @exclusivity(unchecked) var isWriting = false
    /// Whether sends made on the loop thread queued frames that the end of this loop turn writes
    /// (WebSocketConnection+ImmediateSend.swift).
    @exclusivity(unchecked) var gatheredWriteScheduled = false
    /// How many gathered writes were made (a test hook: sends of one turn share one).
    @exclusivity(unchecked) package internal(set) var gatheredWriteCount = 0
    var drainWaiters: [CheckedContinuation<Void, Never>] = []
    /// Set when a write failed: nothing more is written, but input that arrived is still read
    /// (``writeFailed(_:)``).
    @exclusivity(unchecked) var writesFailed = false

    // Ending (WebSocketConnection+Closing.swift).
    @exclusivity(unchecked) var ending = Ending.running
    /// What ends the connection when the core's lifecycle does not say it: a local abort, a
    /// transport failure, a timeout. The first one wins.
    var endError: WebSocketError?
    var finishWaiters: [CheckedContinuation<Void, Never>] = []
    var closeDeadline: Task<Void, Never>?

    // Keep-alive (WebSocketConnection+KeepAlive.swift).
    var pingTask: Task<Void, Never>?
    /// Sends an unsolicited pong every `unsolicitedPongInterval` (WebSocketConnection+KeepAlive.swift).
    var pongTask: Task<Void, Never>?
    let unsolicitedPongInterval: Duration?
    /// Set when a pong arrives; cleared by each keep-alive ping.
    var pongReceived = false
    /// The payload and send time of the keep-alive ping whose pong is awaited, for ``latency``.
    var keepAlivePing: (payload: [UInt8], sentAt: ContinuousClock.Instant)?
    /// Keep-alive pings sent so far (their payloads count them, so that a pong names its ping).
    var keepAlivePingCount: UInt32 = 0
    /// The round-trip time of the last answered ping (keep-alive or ``ping(_:)``).
    package internal(set) var latency: Duration?
    /// Pings of ``ping(_:)`` awaiting their pong, oldest first (WebSocketConnection+Ping.swift).
    var pendingPings: [PendingPing] = []
    var pingCount: UInt64 = 0
    /// Tests waiting for a ping of ``ping(_:)`` to be queued (``waitUntilPingQueued()``).
    var pingWatchers: [CheckedContinuation<Void, Never>] = []

    // Idle timeout (WebSocketConnection+IdleTimeout.swift).
    var idleTask: Task<Void, Never>?
    /// When the reader last got bytes from the peer (or resumed after the application made room).
    @exclusivity(unchecked) var lastReceived = ContinuousClock.now
    /// Whether the reader waits for the application to take messages, not for the peer.
    var readerAwaitsApplication = false

    /// The peer's close frame, once received (WinRT `Closed` / IIS `GetCloseStatus`).
    package internal(set) var closeStatus: WebSocketCloseStatus?
    @exclusivity(unchecked) var counters = WebSocketStatistics()
    package var statistics: WebSocketStatistics {
        var statistics = counters
        statistics.compression = core.compressionStatistics
        return statistics
    }
    /// Derives the TCP statistics (WebSocketConnection+Statistics.swift); `nil` when the transport
    /// has no TCP connection underneath.
    var tcpSampler: TCPStatisticsSampler?
    /// Where events go (WebSocketConnection+Events.swift); `nil` costs one branch per event site.
    let events: EventEmitter?
    /// Whether the start of the close handshake was reported (it is, once).
    var closingReported = false

    /// - Parameters:
    ///   - pingInterval: send a ping this often while open (keep-alive; IIS `pingInterval`);
    ///     `nil` sends none.
    ///   - pingTimeout: with `pingInterval`, fail the connection (1011, `.timeout`) when no pong
    ///     arrived this long after a keep-alive ping; at most `pingInterval`. `nil`: pongs are not
    ///     awaited.
    ///   - unsolicitedPongInterval: send an unsolicited pong this often while open (a
    ///     unidirectional heartbeat, RFC 6455 §5.5.3; WinRT `DesiredUnsolicitedPongInterval`);
    ///     `nil` sends none.
    ///   - idleTimeout: close with 1001 (`.timeout`) when nothing arrived from the peer for this
    ///     long while the reader waited for it; `nil`: never.
    ///   - events: where the connection reports what happens (``WebSocketEvent``); `nil`: nowhere.
    package init(
        transport: any Transport, role: ConnectionCore.Role, configuration: ConnectionCore.Configuration,
        delivery: Delivery, closeTimeout: Duration, outboundBufferSize: Int, messageType: MessageKind,
        pingInterval: Duration? = nil, pingTimeout: Duration? = nil, idleTimeout: Duration? = nil,
        unsolicitedPongInterval: Duration? = nil, events: EventEmitter? = nil
    ) {
        self.transport = transport
        self.events = events
        self.tcpSampler = transport.tcpInfo().map { TCPStatisticsSampler(baseline: $0, at: .now) }
        self.immediateWriter = transport as? any ImmediateFrameWriting
        self.role = role
        var configuration = configuration
        switch delivery {
        case .messages(let inbox):
            configuration.deliversFragments = false
            self.inbox = inbox
        case .fragments(let inbox):
            configuration.deliversFragments = true
            self.inbox = inbox
        }
        self.delivery = delivery
        self.core = ConnectionCore(role: role, configuration: configuration, randomNumberGenerator: MaskingKeySource())
        self.closeTimeout = closeTimeout
        self.outboundBufferSize = outboundBufferSize
        self.messageType = messageType
        self.pingInterval = pingInterval
        self.pingTimeout = pingTimeout.map { timeout in pingInterval.map { min(timeout, $0) } ?? timeout }
        self.idleTimeout = idleTimeout
        self.unsolicitedPongInterval = unsolicitedPongInterval
    }

    package init(
        transport: any Transport, role: ConnectionCore.Role, configuration: ConnectionCore.Configuration,
        inbox: MessageInbox, closeTimeout: Duration, outboundBufferSize: Int, messageType: MessageKind
    ) {
        self.init(
            transport: transport, role: role, configuration: configuration, delivery: .messages(inbox),
            closeTimeout: closeTimeout, outboundBufferSize: outboundBufferSize, messageType: messageType)
    }

    /// Changes the type of later byte sends.
    package func setMessageType(_ type: MessageKind) {
        messageType = type
    }

    /// The protocol state (open, closing, closed); `.closed` once the transport is closed.
    package var state: ConnectionCore.State { ending == .finished ? .closed : core.state }

    /// Whether the connection has fully ended (transport closed).
    package var isClosed: Bool { ending == .finished }

    /// Starts the reader (and the keep-alive pings). `bufferedBytes` are bytes that arrived with
    /// the handshake and already belong to the frame stream.
    package func start(bufferedBytes: [UInt8]) {
        inbox.setConsumerCancellationHandler { [weak self] in
            guard let self else { return }
            Task { await self.shutDown(code: .goingAway) }
        }
        Task { await self.readLoop(startingWith: bufferedBytes) }
        if let pingInterval { startPinging(every: pingInterval) }
        if let unsolicitedPongInterval { startSendingUnsolicitedPongs(every: unsolicitedPongInterval) }
        if let idleTimeout { startIdleTimer(idleTimeout) }
    }

    // MARK: - Sending

    /// Queues a text message; returns once it was written, or queued behind a write in progress
    /// while the queue is under ``outboundBufferSize``.
    package func send(text: String) async throws {
        do { try core.send(text: text) } catch { throw Self.map(error) }
        counters.messagesSent += 1
        if let events { events.emit(.messageSent(.text, size: text.utf8.count)) }
        try await writeOutput()
    }

    /// Queues a message of `kind` (the socket's ``messageType`` when `nil`).
    package func send(_ bytes: [UInt8], kind: MessageKind?) async throws {
        let kind = kind ?? messageType
        do { try bytes.withUnsafeBytes { buffer in try core.send(buffer, kind: kind) } } catch { throw Self.map(error) }
        counters.messagesSent += 1
        if let events { events.emit(.messageSent(kind, size: bytes.count)) }
        try await writeOutput()
    }

    /// Queues one frame of a fragmented message; the first frame's type is `kind ?? messageType`.
    package func sendFrame(_ bytes: [UInt8], kind: MessageKind?, isFinal: Bool) async throws {
        let kind = kind ?? messageType
        do {
            try bytes.withUnsafeBytes { buffer in try core.sendFrame(buffer, kind: kind, isFinal: isFinal) }
        } catch { throw Self.map(error) }
        if isFinal { counters.messagesSent += 1 }
        if let events { events.emit(.frameSent(kind, size: bytes.count, isFinal: isFinal)) }
        try await writeOutput()
    }

    /// Queues an unsolicited pong (a unidirectional heartbeat, RFC 6455 §5.5.3).
    package func sendPong(_ payload: [UInt8]) async throws {
        do { try core.sendPong(payload) } catch { throw Self.map(error) }
        try await writeOutput()
    }

    static func map(_ error: any Error) -> WebSocketError {
        guard let error = error as? UsageError else {
            return error as? WebSocketError ?? WebSocketError(.invalidArgument, "\(error)")
        }
        switch error {
        case .notOpen(.closing):
            return WebSocketError(.closed, "the connection is closing (a close frame was sent); nothing more can be sent")
        case .notOpen:
            return WebSocketError(.closed, "the connection is closed; nothing more can be sent")
        default:
            return WebSocketError(.invalidArgument, error.description)
        }
    }
}
