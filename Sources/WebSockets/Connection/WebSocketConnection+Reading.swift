/// Reading: the connection's one reader task, transport → core → inbox.
///
/// Backpressure is exact: the core is asked for at most ``Inbox/room`` more messages from each
/// chunk, so the reader stops right after the message that fills the inbox and keeps the rest of
/// the chunk in its buffer until the application made room. TCP flow control then pushes back on
/// the peer.
extension WebSocketConnection {
    func readLoop(startingWith initial: [UInt8]) async {
        var buffer = [UInt8](repeating: 0, count: max(Self.readBufferSize, initial.count))
        buffer.replaceSubrange(0..<initial.count, with: initial)
        counters.bytesReceived += initial.count
        // The bytes of `buffer` not yet fed to the core.
        var start = 0
        var end = initial.count
        while ending != .finished {
            let room = inbox.room
            if room == 0 {
                readerAwaitsApplication = true
                await inbox.waitForSpace()
                readerAwaitsApplication = false
                lastReceived = .now  // the idle time starts again: the application held the reader
                continue
            }
            if start < end {
                start += buffer.withUnsafeBytes { core.receive(UnsafeRawBufferPointer(rebasing: $0[start..<end]), maxMessages: room) }
                await process()
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
                await process()
                // The peer ended the stream: after a close handshake that is the expected end
                // (RFC 6455 §7.1.1, the server closes first); otherwise the core says `.aborted`.
                return await closeTransportOnceFlushed()
            }
            counters.bytesReceived += count
            if idleTimeout != nil { lastReceived = .now }
            start = 0
            end = count
        }
    }

    /// Hands the core's events to the application and writes what the core produced (pongs, the
    /// reply to a close frame).
    func process() async {
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
                await peerClosed(frame)
            case .failed:
                await peerFailed()
            case .aborted:
                break  // the reader saw the end of the stream and ends the connection
            }
        }
        if core.hasOutput { await flushOutput() }
    }
}
