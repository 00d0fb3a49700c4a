/// How a connection ends: the one file that answers "when does the close frame go out?" and
/// "when does the application learn that the connection ended?".
///
/// The protocol's side of it is the core's ``ConnectionCore/Lifecycle``; this file executes it:
///
/// | what happened                         | close frame goes out                  | transport closes                     |
/// |---------------------------------------|---------------------------------------|--------------------------------------|
/// | `close(code:reason:)`                 | at once                               | after the peer's close (server: at once; client: when the server closes TCP) or `closeTimeout` |
/// | the peer's close frame                | our echo, at once                     | server: once the echo is written; client: when the server closes TCP, or `closeTimeout` |
/// | a violation (§7.1.7)                  | once the application has taken the messages before it and come back for more (or `closeTimeout`) | once the close frame is written |
/// | keep-alive pong missing               | 1011, at once                         | once it is written                   |
/// | nothing received for `idleTimeout`    | 1001, at once                         | as for `close`                       |
/// | the application stopped reading       | 1001, at once                         | as for `close`                       |
/// | the stream ended / failed, `abort`    | none                                  | at once                              |
/// | a write failed                        | none (nothing more is written)        | while open, once the input is read: the stream ends or fails, the application closes, or `closeTimeout`; otherwise at once |
///
/// The application learns of the end only afterwards, in ``finalize()``: `messages` finishes (or
/// throws the outcome), `close()` returns, and every waiting operation resumes, once the transport
/// is closed. So when `messages` throws, our close frame (if the protocol calls for one) has already
/// been accepted by the kernel, and a program that exits in its `catch` has told the peer why.

import WebSocketCore

extension WebSocketConnection {
    /// The engine's part of the ending, beside the core's protocol lifecycle.
    enum Ending: Equatable {
        /// The transport is open; the core decides what happens next.
        case running
        /// The protocol is over: the transport closes once the queued frames are written.
        case closingTransport
        /// The transport is closed and everybody was told (``finalize()``).
        case finished
    }

    // MARK: - Closing on the application's request

    /// Starts the close handshake (if still open) and waits until the connection has ended: the
    /// peer's close frame arrived (and, for a client, the server closed TCP), or ``closeTimeout``
    /// passed and the transport was dropped. While the connection is failing, the violation's close
    /// frame goes out instead of `code`: the peer must learn what it did wrong.
    ///
    /// - Parameter code: `nil` sends an empty close frame (the peer sees 1005).
    /// - Throws: `.invalidArgument` for a code that may not be sent or a reason over 123 bytes,
    ///   whatever the state.
    package func close(code: CloseCode?, reason: String) async throws {
        try await startClose(code: code, reason: reason)
        await waitUntilFinalized()
    }

    /// Starts the close handshake without waiting for it to end (IIS `SendConnectionClose`): the
    /// peer's answer is read like any other input. Does nothing once the connection is no longer
    /// open (the peer closed first and was answered, or it failed and its close frame went out).
    /// - Throws: `.invalidArgument` for a code that may not be sent or a reason over 123 bytes.
    package func startClose(code: CloseCode?, reason: String) async throws {
        do { try ConnectionCore.validateClose(code: code, reason: reason) } catch { throw Self.map(error) }
        guard ending == .running else { return }
        // No close frame can go out after a failed write: closing ends the connection now.
        guard !writesFailed else { return finalize() }
        switch core.lifecycle {
        case .open:
            try? core.close(code: code, reason: reason)
            reportClosing(code: code, reason: reason, by: .local)
            await flushOutput()
            await followTransportDirective()  // the close timeout starts
        case .failing:
            await sendFailureClose()
        case .closing, .closed:
            break
        }
    }

    /// Closes without waiting (1001 by default): the application stopped reading or dropped the socket.
    package func shutDown(code: CloseCode) async {
        try? await startClose(code: code, reason: "")
        armCloseDeadline()
    }

    /// Closes the TCP connection (IIS `CloseTcpConnection`): after a completed close handshake,
    /// once the queued frames are written; otherwise at once, and pending operations throw
    /// `error`. Returns when the transport is closed.
    package func closeTransport(error: WebSocketError) async {
        if case .closed(.handshakeCompleted) = core.lifecycle {
            armCloseDeadline()
            await closeTransportOnceFlushed()
        } else {
            abort(with: error)
        }
        await waitUntilFinalized()
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
        guard ending != .finished else { return }
        endError = endError ?? error
        finalize()
    }

    /// Suspends until the connection has ended.
    package func waitUntilFinalized() async {
        guard ending != .finished else { return }
        await withCheckedContinuation { finishWaiters.append($0) }
    }

    // MARK: - Closing on the peer's account

    /// The peer's close frame arrived; the core has queued our echo if we had not closed first.
    func peerClosed(_ frame: WebSocketCloseStatus) async {
        closeStatus = frame
        reportClosing(code: frame.code, reason: frame.reason, by: .peer)  // unless we closed first
        await followTransportDirective()
    }

    /// Does with the transport what the core's lifecycle calls for: close it once flushed (the
    /// server after the close handshake, anyone after a failure), or wait, bounded by the close
    /// timeout, for the peer's close frame or for the server to close TCP (§7.1.1).
    func followTransportDirective() async {
        switch core.transportDirective {
        case .keepOpen: break
        case .awaitCloseFrame, .awaitPeerClose:
            // After a failed write the peer never gets our close frame (or echo): nothing to wait for.
            if writesFailed { await closeTransportOnceFlushed() } else { armCloseDeadline() }
        case .closeWhenFlushed: await closeTransportOnceFlushed()
        }
    }

    /// The peer broke the protocol. The close frame waits until the application has taken (and
    /// could answer) the messages that arrived before the violation, bounded by the close timeout.
    func peerFailed() async {
        let caughtUp = inbox.notifyWhenCaughtUp { [weak self] in
            guard let self else { return }
            Task { await self.sendFailureClose() }
        }
        if caughtUp {
            await sendFailureClose()
        } else {
            armCloseDeadline()
        }
    }

    /// Queues the violation's close frame (1002, 1007, 1009) and closes the transport once it is written.
    func sendFailureClose() async {
        guard ending == .running, case .failing(let violation) = core.lifecycle else { return }
        core.closeAfterFailure()
        reportClosing(code: violation.closeCode, reason: violation.detail, by: .local)
        armCloseDeadline()  // a peer that does not read could keep the frame from going out
        await followTransportDirective()  // closes the transport once the frame is written
    }

    // MARK: - The end

    /// The protocol is over: write what is queued, then close the transport.
    func closeTransportOnceFlushed() async {
        guard ending == .running else { return }
        ending = .closingTransport
        await flushOutput()
    }

    /// Finishes once the last queued frame was written, if the transport is to close.
    func closeTransportIfFlushed() {
        if ending == .closingTransport && !isWriting && outbound.isEmpty { finalize() }
    }

    /// A read failed: the connection ends now. Unless the core had decided the outcome already,
    /// the failure is what the application sees.
    func transportFailed(_ error: any Error) {
        guard ending != .finished else { return }
        recordFailure(error)
        finalize()
    }

    /// A write failed. Nothing more can be written (the stream may end inside a frame), but what
    /// the peer sent before may already have arrived, unread: while the connection is open, the
    /// reader goes on, so those messages are delivered before the error. The connection then ends
    /// when reading does (the stream ends or fails, as it soon does after a real network failure),
    /// when the application closes, or after ``closeTimeout``. Sends throw the write's error.
    func writeFailed(_ error: any Error) {
        guard ending != .finished else { return }
        recordFailure(error)
        writesFailed = true
        // A ping may not have gone out, so no pong is to be waited for.
        failPendingPings(endError ?? WebSocketError(.connectionAborted, "the connection failed while sending: \(error)"))
        outbound.removeAll()
        _ = core.takeOutput()
        for waiter in drainWaiters { waiter.resume() }
        drainWaiters.removeAll()
        guard ending == .running, case .open = core.lifecycle else { return finalize() }
        armCloseDeadline()
    }

    /// Keeps `error` as the outcome, unless the core had decided it already (a violation, a
    /// completed close handshake) or an earlier failure was recorded.
    private func recordFailure(_ error: any Error) {
        switch core.lifecycle {
        case .failing, .closed(.failed), .closed(.handshakeCompleted):
            break
        case .open, .closing, .closed(.aborted):
            let failure = (error as? WebSocketError) ?? WebSocketError(.connectionAborted, "the transport failed: \(error)")
            endError = endError ?? (failure.status == .closed ? WebSocketError(.connectionAborted, failure.message) : failure)
        }
    }

    func armCloseDeadline() {
        guard closeDeadline == nil, ending != .finished else { return }
        let timeout = closeTimeout
        closeDeadline = Task { [weak self] in
            try? await releasingSleep(for: timeout)
            guard !Task.isCancelled else { return }
            await self?.closeDeadlineExpired()
        }
    }

    private func closeDeadlineExpired() async {
        closeDeadline = nil
        guard ending != .finished else { return }
        switch core.lifecycle {
        case .failing:
            await sendFailureClose()  // the application did not come back in time; re-arms
        case .open, .closing:
            endError =
                endError
                ?? WebSocketError(
                    .timeout, "the peer did not answer the close frame within \(closeTimeout); connection dropped")
            finalize()
        case .closed:
            finalize()  // waited long enough for the peer to close TCP, or to take our frames
        }
    }

    /// Closes the transport once and tells everyone: the inbox ends with the outcome, waiting
    /// sends and closes resume. Idempotent.
    func finalize() {
        guard ending != .finished else { return }
        sampleTransport()  // the last TCP figures, readable after the end
        ending = .finished
        transport.close()
        closeDeadline?.cancel()
        closeDeadline = nil
        pingTask?.cancel()
        pingTask = nil
        pongTask?.cancel()
        pongTask = nil
        failPendingPings(outcome ?? WebSocketError(.closed, "the connection closed before the pong arrived"))
        idleTask?.cancel()
        idleTask = nil
        core.receiveEndOfStream()
        while core.nextEvent() != nil {}
        outbound.removeAll()
        inbox.finish(throwing: outcome)
        if events != nil { reportEnd(outcome) }
        for waiter in drainWaiters { waiter.resume() }
        drainWaiters.removeAll()
        for waiter in finishWaiters { waiter.resume() }
        finishWaiters.removeAll()
    }

    /// What `messages` ends with: `nil` after a completed close handshake, else the error.
    private var outcome: WebSocketError? {
        if let endError { return endError }
        switch core.lifecycle {
        case .closed(.handshakeCompleted):
            return nil
        case .closed(.failed(let violation)), .failing(let violation):
            let status: WebSocketError.Status =
                violation.closeCode == .messageTooBig ? .messageTooBig : .protocolViolation(violation.closeCode)
            return WebSocketError(status, violation.description)
        case .open, .closing, .closed(.aborted):
            return WebSocketError(.connectionAborted, "the connection was dropped without a close handshake")
        }
    }
}
