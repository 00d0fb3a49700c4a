/// One open WebSocket connection, in either role: the actor that owns the protocol core
/// (``ConnectionCore``) and drives it over a ``Transport``.
///
/// A *reader* task runs on the actor for the connection's life (transport → core → inbox). Writes
/// have no task of their own: the `send` that finds no write in progress writes the queued frames
/// itself (one gathered write, usually completing at once without suspending), and frames queued
/// meanwhile ride along with it; frames the reader produces (pongs, close replies) start a short
/// background write. Every method that touches `core` queues its output before any suspension
/// point, so actor reentrancy cannot reorder frames. The client (``MessageWebSocket``) and the
/// server share this type.
///
/// Cancelling a task while its send is blocked on a full socket buffer aborts the connection: a
/// half-written frame cannot be taken back.
///
/// Ending, in every case, goes through ``finalize()``: the transport is closed exactly once (the
/// file descriptor released), the inbox finished, and everybody waiting is resumed.
package actor WebSocketConnection {
    /// Connections run on the event loop: the reader's socket reads, the protocol work and inline
    /// socket writes then happen on one thread, without executor hops between them.
    package nonisolated var unownedExecutor: UnownedSerialExecutor { EventLoop.shared.asUnownedSerialExecutor() }

    /// How many bytes one read may take from the transport (the reader's reusable buffer).
    static let readBufferSize = 64 * 1024

    package nonisolated let role: ConnectionCore.Role
    package nonisolated let transport: any Transport
    private var core: ConnectionCore
    private let delivery: Delivery
    private let inbox: any InboxControl
    private let closeTimeout: Duration
    private let outboundBufferSize: Int
    private let pingInterval: Duration?
    private let pingTimeout: Duration?
    private var pingTask: Task<Void, Never>?
    /// Set when a pong arrives; cleared by each keep-alive ping.
    private var pongReceived = false
    /// Set by ``abort(with:)``: what operations that were pending when the connection was torn
    /// down locally throw (for example `.operationCanceled` from `cancelOutstandingIO`).
    private var abortError: WebSocketError?

    /// Where received data goes: whole messages, or fragments as they arrive
    /// (``ConnectionCore/Configuration/deliversFragments`` is set to match).
    package enum Delivery: Sendable {
        case messages(MessageInbox)
        case fragments(Inbox<MessageFragment>)
    }

    /// Outgoing message type for byte sends (`Control.messageType`): the one runtime-mutable setting.
    package var messageType: MessageKind

    private var pendingWrites: [[UInt8]] = []
    /// The batch being written; swapped with `pendingWrites` so neither array reallocates per write.
    private var writingBatch: [[UInt8]] = []
    /// Bytes queued or being written: what `send` backpressure is measured against.
    private var queuedBytes = 0
    /// Whether a write is in progress (inline in a `send`, or in a background task).
    private var isWriting = false
    private var drainWaiters: [CheckedContinuation<Void, Never>] = []
    private var finalizeWaiters: [CheckedContinuation<Void, Never>] = []
    /// Set once the protocol is over and the transport should close once the queue is written.
    private var closeTransportWhenFlushed = false
    private var isFinalized = false
    private var protocolEnded = false
    private var closeDeadline: Task<Void, Never>?

    /// The peer's close frame, once received (WinRT `Closed` / IIS `GetCloseStatus`).
    package private(set) var closeStatus: ConnectionCore.CloseFrame?
    private var counters = WebSocketStatistics()
    package var statistics: WebSocketStatistics {
        var statistics = counters
        statistics.compression = core.compressionStatistics
        return statistics
    }

    /// - Parameters:
    ///   - pingInterval: send a ping this often while open (keep-alive; IIS `pingInterval`);
    ///     `nil` sends none.
    ///   - pingTimeout: with `pingInterval`, fail the connection (1011, `.timeout`) when no pong
    ///     arrived this long after a keep-alive ping; at most `pingInterval`. `nil`: pongs are not
    ///     awaited.
    package init(
        transport: any Transport, role: ConnectionCore.Role, configuration: ConnectionCore.Configuration,
        delivery: Delivery, closeTimeout: Duration, outboundBufferSize: Int, messageType: MessageKind,
        pingInterval: Duration? = nil, pingTimeout: Duration? = nil
    ) {
        self.transport = transport
        self.role = role
        var configuration = configuration
        configuration.holdsFailureClose = true  // see `process()`: answers go out before the failure's close
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
    }

    package init(
        transport: any Transport, role: ConnectionCore.Role, configuration: ConnectionCore.Configuration,
        inbox: MessageInbox, closeTimeout: Duration, outboundBufferSize: Int, messageType: MessageKind
    ) {
        self.init(transport: transport, role: role, configuration: configuration, delivery: .messages(inbox),
                  closeTimeout: closeTimeout, outboundBufferSize: outboundBufferSize, messageType: messageType)
    }

    /// Changes the type of later byte sends.
    package func setMessageType(_ type: MessageKind) {
        messageType = type
    }

    /// The protocol state (open, closing, closed).
    package var state: ConnectionCore.State { core.state }

    /// Whether the connection has fully ended (transport closed).
    package var isClosed: Bool { isFinalized }

    /// Starts the reader and writer. `bufferedBytes` are bytes that arrived with the handshake
    /// response and already belong to the frame stream.
    package func start(bufferedBytes: [UInt8]) {
        inbox.setConsumerCancellationHandler { [weak self] in
            guard let self else { return }
            Task { await self.shutDown(code: .goingAway) }
        }
        if !bufferedBytes.isEmpty {
            counters.bytesReceived += bufferedBytes.count
            core.receive(bufferedBytes)
            process()
        }
        Task { await self.readLoop() }
        if let pingInterval { startPinging(every: pingInterval) }
    }

    /// Keep-alive pings (RFC 6455 §5.5.2) while the connection is open, one per `interval`.
    /// With ``pingTimeout``, a ping not answered by a pong (any pong: §5.5.3 lets a peer answer
    /// only the latest ping) within it fails the connection, as Python `websockets` does;
    /// without, a dead peer shows up only as a failed write.
    private func startPinging(every interval: Duration) {
        let timeout = pingTimeout
        pingTask = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: interval - (timeout ?? .zero))
                guard !Task.isCancelled, let self, await self.sendKeepAlivePing() else { return }
                guard let timeout else { continue }
                try? await Task.sleep(for: timeout)
                guard !Task.isCancelled, await self.pongArrived(within: timeout) else { return }
            }
        }
    }

    /// Queues a keep-alive ping; `false` once the connection is no longer open.
    private func sendKeepAlivePing() -> Bool {
        guard !isFinalized, core.state == .open, (try? core.sendPing([])) != nil else { return false }
        pongReceived = false
        queueOutput()
        return true
    }

    /// Whether a pong came since the last keep-alive ping; if not, fails the connection with
    /// 1011 and closes it without waiting for a peer that stopped answering.
    private func pongArrived(within timeout: Duration) -> Bool {
        guard !isFinalized, core.state == .open else { return false }
        if pongReceived { return true }
        protocolEnded = true
        inbox.finish(throwing: WebSocketError(.timeout, "no pong within \(timeout) of a keep-alive ping; connection closed with 1011"))
        if core.isFailurePending {
            core.closeAfterFailure()
        } else {
            try? core.close(code: .internalError, reason: "keepalive ping timeout")
        }
        closeTransportWhenFlushed = true
        queueOutput()
        armCloseDeadline()  // a peer that stopped reading could keep the close frame from going out
        return false
    }

    // MARK: - Sending

    /// Queues a text message.
    package func send(text: String) async throws {
        do { try core.send(text: text) } catch { throw Self.map(error) }
        counters.messagesSent += 1
        try await queueOutputAndWait()
    }

    /// Queues a message of `kind` (the socket's ``messageType`` when `nil`).
    package func send(_ bytes: [UInt8], kind: MessageKind?) async throws {
        let kind = kind ?? messageType
        do { try bytes.withUnsafeBytes { buffer in try core.send(buffer, kind: kind) } } catch { throw Self.map(error) }
        counters.messagesSent += 1
        try await queueOutputAndWait()
    }

    /// Queues one frame of a fragmented message; the first frame's type is `kind ?? messageType`.
    package func sendFrame(_ bytes: [UInt8], kind: MessageKind?, isFinal: Bool) async throws {
        let kind = kind ?? messageType
        do {
            try bytes.withUnsafeBytes { buffer in try core.sendFrame(buffer, kind: kind, isFinal: isFinal) }
        } catch { throw Self.map(error) }
        if isFinal { counters.messagesSent += 1 }
        try await queueOutputAndWait()
    }

    /// Queues a ping with up to 125 bytes of application data.
    package func sendPing(_ payload: [UInt8]) async throws {
        do { try core.sendPing(payload) } catch { throw Self.map(error) }
        try await queueOutputAndWait()
    }

    /// Queues an unsolicited pong (a unidirectional heartbeat, RFC 6455 §5.5.3).
    package func sendPong(_ payload: [UInt8]) async throws {
        do { try core.sendPong(payload) } catch { throw Self.map(error) }
        try await queueOutputAndWait()
    }

    private func queueOutputAndWait() async throws {
        takeCoreOutput()
        if !isWriting {
            // The fast path: write now, on this thread; usually no suspension at all.
            isWriting = true
            try await writeQueued()
            return
        }
        // Another write is in progress and will take these frames along. Backpressure: the
        // message is queued either way; wait while the queue is over its limit.
        while queuedBytes > outboundBufferSize && !isFinalized {
            await withCheckedContinuation { drainWaiters.append($0) }
        }
        if isFinalized, let abortError { throw abortError }
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

    // MARK: - Closing

    /// Starts the close handshake (if still open) and waits until the connection has ended: the
    /// peer's close frame arrived (and, for a client, the server closed TCP), or ``closeTimeout``
    /// passed and the transport was dropped.
    ///
    /// - Parameter code: `nil` sends an empty close frame (the peer sees 1005).
    /// - Throws: `.invalidArgument` for a code that may not be sent or a reason over 123 bytes.
    package func close(code: CloseCode?, reason: String) async throws {
        if core.isFailurePending {
            // A protocol violation already failed the connection: its close frame (1002, 1007,
            // 1009) goes out now instead of `code`; the violation is what the peer must learn.
            closeAfterFailure()
        } else if core.state == .open {
            do { try core.close(code: code, reason: reason) } catch { throw Self.map(error) }
            queueOutput()
            armCloseDeadline()
        }
        await waitUntilFinalized()
    }

    /// Starts the close handshake without waiting for it to end (IIS `SendConnectionClose`): the
    /// peer's answer is read like any other input. Does nothing once the connection is no longer
    /// open (the peer closed first and was answered, or it failed).
    /// - Throws: `.invalidArgument` for a code that may not be sent or a reason over 123 bytes.
    package func startClose(code: CloseCode?, reason: String) throws {
        if core.isFailurePending { return closeAfterFailure() }
        guard core.state == .open, !isFinalized else { return }
        do { try core.close(code: code, reason: reason) } catch { throw Self.map(error) }
        queueOutput()
        armCloseDeadline()
    }

    /// Closes the TCP connection (IIS `CloseTcpConnection`): after a completed close handshake,
    /// once the queued frames are written; otherwise at once, and pending operations throw
    /// `error`. Returns when the transport is closed.
    package func closeTransport(error: WebSocketError) async {
        if core.state == .closed && protocolEnded && !core.isFailurePending {
            closeTransportWhenFlushed = true
            queueOutput()
            armCloseDeadline()
        } else {
            abort(with: error)
        }
        await waitUntilFinalized()
    }

    /// Closes without waiting: used when the application stopped reading or dropped the socket.
    package func shutDown(code: CloseCode) {
        guard !isFinalized else { return }
        if core.isFailurePending {
            closeAfterFailure()
        } else if core.state == .open {
            try? core.close(code: code, reason: "")
            queueOutput()
        }
        armCloseDeadline()
    }

    /// Drops the transport now, without a close handshake.
    package func abort() {
        abort(with: WebSocketError(.operationCanceled, "the connection was aborted locally"))
    }

    /// Drops the transport now, without a close handshake, and completes every pending operation:
    /// a waiting receive and every send not yet written throw `error`. When this returns, nothing
    /// is pending any more (sends suspended in the transport are resumed and throw as soon as
    /// they run).
    package func abort(with error: WebSocketError) {
        if abortError == nil && !isFinalized { abortError = error }
        inbox.finish(throwing: error)
        finalize()
    }

    /// Suspends until the connection has ended.
    package func waitUntilFinalized() async {
        guard !isFinalized else { return }
        await withCheckedContinuation { finalizeWaiters.append($0) }
    }

    private func armCloseDeadline() {
        guard closeDeadline == nil, !isFinalized else { return }
        let timeout = closeTimeout
        closeDeadline = Task { [weak self] in
            try? await Task.sleep(for: timeout)
            guard !Task.isCancelled else { return }
            await self?.closeDeadlineExpired(timeout)
        }
    }

    /// Sends the held-back close frame of a failure, then closes the transport once it is written.
    private func closeAfterFailure() {
        guard !isFinalized else { return }
        core.closeAfterFailure()
        closeTransportWhenFlushed = true
        queueOutput()
    }

    private func closeDeadlineExpired(_ timeout: Duration) {
        guard !isFinalized else { return }
        if core.isFailurePending { return closeAfterFailure() }
        if !protocolEnded {
            inbox.finish(throwing: WebSocketError(.timeout, "the peer did not answer the close frame within \(timeout); connection dropped"))
        }
        finalize()
    }

    // MARK: - Reading

    private func readLoop() async {
        var buffer = [UInt8](repeating: 0, count: Self.readBufferSize)
        while !isFinalized {
            if inbox.isFull {
                // Backpressure: stop reading until the application consumed some messages.
                await inbox.waitForSpace()
                continue
            }
            let count: Int
            do {
                count = try await transport.read(into: &buffer, isolation: self)
            } catch {
                return transportFailed(error)
            }
            if count == 0 {
                core.receiveEndOfStream()
                process()
                // The peer ended the stream: after a close handshake that is the expected end
                // (RFC 6455 §7.1.1, the server closes first); otherwise `.aborted` was reported.
                return finalize()
            }
            counters.bytesReceived += count
            buffer.withUnsafeBytes { core.receive(UnsafeRawBufferPointer(rebasing: $0[..<count])) }
            process()
        }
    }

    /// Hands the core's events to the application and its output to the writer.
    private func process() {
        while let event = core.nextEvent() {
            switch event {
            case .message(let message):
                counters.messagesReceived += 1
                if case .messages(let inbox) = delivery { inbox.push(message) }
            case .fragment(let fragment):
                if fragment.isFinal { counters.messagesReceived += 1 }
                if case .fragments(let inbox) = delivery { inbox.push(fragment) }
            case .pong:
                pongReceived = true
            case .ping:
                break  // answered by the core already
            case .closed(let frame):
                closeStatus = frame
                protocolEnded = true
                inbox.finish()
                if role == .server {
                    closeTransportWhenFlushed = true  // §7.1.1: the server closes TCP first
                } else {
                    armCloseDeadline()  // wait (bounded) for the server to close TCP
                }
            case .failed(let violation):
                protocolEnded = true
                let status: WebSocketError.Status =
                    violation.closeCode == .messageTooBig ? .messageTooBig : .protocolViolation(violation.closeCode)
                // The close frame waits until the application has taken (and could answer) the
                // messages that arrived before the violation, bounded by the close timeout.
                inbox.finish(throwing: WebSocketError(status, violation.description)) { [weak self] in
                    guard let self else { return }
                    Task { await self.closeAfterFailure() }
                }
                armCloseDeadline()
            case .aborted:
                protocolEnded = true
                inbox.finish(throwing: WebSocketError(.connectionAborted, "the connection was dropped without a close handshake"))
                closeTransportWhenFlushed = true
            }
        }
        queueOutput()
    }

    private func transportFailed(_ error: any Error) {
        guard !isFinalized else { return }
        let failure = (error as? WebSocketError)
            ?? WebSocketError(.connectionAborted, "the transport failed: \(error)")
        inbox.finish(throwing: failure.status == .closed
            ? WebSocketError(.connectionAborted, failure.message) : failure)
        core.receiveEndOfStream()
        while core.nextEvent() != nil {}
        finalize()
    }

    // MARK: - Writing

    private func takeCoreOutput() {
        guard core.hasOutput else { return }
        for frame in core.takeOutput() {
            queuedBytes += frame.count
            pendingWrites.append(frame)
        }
    }

    /// Queues the core's output and makes sure it gets written (for output not produced by a
    /// `send`: pongs, close frames), then closes the transport if the protocol is over.
    private func queueOutput() {
        takeCoreOutput()
        guard !isWriting, !isFinalized else { return }
        if pendingWrites.isEmpty {
            if closeTransportWhenFlushed { finalize() }
            return
        }
        isWriting = true
        Task { try? await self.writeQueued() }
    }

    /// Writes queued frames until none are left. The caller has set `isWriting`.
    private func writeQueued() async throws {
        defer { isWriting = false }
        while !pendingWrites.isEmpty && !isFinalized {
            swap(&pendingWrites, &writingBatch)
            var batchBytes = 0
            for frame in writingBatch { batchBytes += frame.count }
            do {
                try await transport.write(writingBatch, isolation: self)
                writingBatch.removeAll(keepingCapacity: true)
            } catch {
                transportFailed(error)
                throw abortError ?? WebSocketError(.connectionAborted, "the connection failed while sending: \(error)")
            }
            counters.bytesSent += batchBytes
            queuedBytes -= batchBytes
            if queuedBytes <= outboundBufferSize && !drainWaiters.isEmpty {
                let waiters = drainWaiters
                drainWaiters.removeAll()
                for waiter in waiters { waiter.resume() }
            }
        }
        if closeTransportWhenFlushed && pendingWrites.isEmpty { finalize() }
    }

    // MARK: - Ending

    /// Closes the transport once and resumes everyone waiting. Idempotent.
    private func finalize() {
        guard !isFinalized else { return }
        isFinalized = true
        transport.close()
        closeDeadline?.cancel()
        closeDeadline = nil
        pingTask?.cancel()
        pingTask = nil
        if !protocolEnded {
            inbox.finish(throwing: WebSocketError(.connectionAborted, "the connection was dropped without a close handshake"))
        }
        if core.state != .closed {
            core.receiveEndOfStream()
            while core.nextEvent() != nil {}
        }
        pendingWrites.removeAll()
        for waiter in drainWaiters { waiter.resume() }
        drainWaiters.removeAll()
        for waiter in finalizeWaiters { waiter.resume() }
        finalizeWaiters.removeAll()
    }
}
