/// Reading: the connection's one reader task, transport → core → inbox.
///
/// Memory: an idle connection holds no read buffer. Over a transport that can read without
/// waiting (``ImmediateReading``: TCP, and TLS over TCP) the reader waits for readability holding
/// nothing, then reads into the event loop's shared buffer (``EventLoop/withReadBuffer(_:)``) and
/// hands the bytes to the core in the same synchronous span; the core copies what it keeps. Any
/// other transport needs a buffer of its own while it waits: it is allocated on the first read.
///
/// A large payload (``ConnectionCore/directPayloadCapacity``) is read straight into the message it
/// becomes, not through the loop's buffer: no copy after the kernel's, and one read for as much of
/// it as the socket holds. The message is allocated at its final size when its header arrives, and
/// its pages are mapped in one call before the first read (``PayloadPrefault``).
///
/// Backpressure is exact: the core is asked for at most ``Inbox/room`` more messages from each
/// chunk, so the reader stops right after the message that fills the inbox. The rest of the chunk
/// is copied into ``unreadBytes`` (owned by the connection only until the application made room)
/// and TCP flow control pushes back on the peer.

import WebSocketCore

extension WebSocketConnection {
    /// How many bytes one read may take, with a buffer of the connection's own (transports that
    /// cannot read without waiting).
    static let ownReadBufferCapacity = LoopReadBuffer.size

    /// Test hook: the read memory this connection owns now (its own read buffer and bytes waiting
    /// for room in the inbox). 0 while idle over TCP or TLS over TCP.
    package var readMemoryHeld: Int { ownReadBufferSize + unreadBytes.capacity }

    func readLoop(startingWith initial: [UInt8]) async {
        counters.bytesReceived += initial.count
        unreadBytes = initial
        unreadOffset = 0
        let source = transport as? any ImmediateReading
        var ownReadBuffer: [UInt8] = []
        // False after a read that drained the medium (or found nothing): wait before the next.
        var mayHaveBytes = true
        // Maps a large message's pages before its payload is read into it (see the type).
        var prefault = PayloadPrefault()
        while ending != .finished {
            let room = delivery.room
            if room == 0 {
                readerAwaitsApplication = true
                await inbox.waitForSpace(isolation: self)
                readerAwaitsApplication = false
                lastReceived = .now  // the idle time starts again: the application held the reader
                continue
            }
            if unreadOffset < unreadBytes.count {
                unreadOffset += unreadBytes.withUnsafeBytes {
                    core.receive(UnsafeRawBufferPointer(rebasing: $0[unreadOffset...]), maxMessages: room)
                }
                if unreadOffset == unreadBytes.count { releaseUnreadBytes() }
                let event = deliverEvents()
                if event != nil || core.hasOutput { await process(startingWith: event) }
                continue
            }
            let count: Int
            do {
                if let source {
                    if !mayHaveBytes { try await source.waitUntilReadable(isolation: self) }
                    let read: Int?
                    let direct = core.directPayloadCapacity
                    if direct > 0 {
                        // The rest of a large payload, read straight into its message (one copy
                        // fewer, and as many bytes as the socket has in one call).
                        read = try core.receivePayload { buffer in
                            prefault.prepare(buffer, message: counters.messagesReceived)
                            return try source.readAvailable(into: buffer)
                        }
                        mayHaveBytes = read == direct
                    } else {
                        read = try EventLoop.shared.withReadBuffer { buffer -> Int? in
                            guard let count = try source.readAvailable(into: buffer) else { return nil }
                            receive(UnsafeRawBufferPointer(rebasing: buffer[..<count]), maxMessages: room)
                            mayHaveBytes = count == buffer.count
                            return count
                        }
                    }
                    guard let read else {
                        mayHaveBytes = false
                        continue
                    }
                    count = read
                } else {
                    if ownReadBuffer.isEmpty {
                        ownReadBuffer = [UInt8](repeating: 0, count: Self.ownReadBufferCapacity)
                        ownReadBufferSize = ownReadBuffer.count
                    }
                    count = try await transport.read(into: &ownReadBuffer, isolation: self)
                    ownReadBuffer.withUnsafeBytes { receive(UnsafeRawBufferPointer(rebasing: $0[..<count]), maxMessages: room) }
                }
            } catch {
                return transportFailed(error)
            }
            if count == 0 {
                core.receiveEndOfStream()
                await process(startingWith: deliverEvents())
                // The peer ended the stream: after a close handshake that is the expected end
                // (RFC 6455 §7.1.1, the server closes first); otherwise the core says `.aborted`.
                return await closeTransportOnceFlushed()
            }
            counters.bytesReceived += count
            if idleTimeout != nil { lastReceived = .now }
            let event = deliverEvents()
            if event != nil || core.hasOutput { await process(startingWith: event) }
        }
    }

    /// Feeds freshly read bytes to the core; what it does not take (the inbox filled up) is copied
    /// into ``unreadBytes``, because the read buffer is lent only for this call.
    private func receive(_ bytes: UnsafeRawBufferPointer, maxMessages: Int) {
        guard !bytes.isEmpty else { return }
        let consumed = core.receive(bytes, maxMessages: maxMessages)
        if consumed < bytes.count {
            unreadBytes = [UInt8](UnsafeRawBufferPointer(rebasing: bytes[consumed...]))
            unreadOffset = 0
        }
    }

    private func releaseUnreadBytes() {
        unreadBytes = []
        unreadOffset = 0
    }

    /// Hands the core's events to the application and writes what the core produced (pongs, the
    /// reply to a close frame), starting with `first`, an event ``deliverEvents()`` returned.
    ///
    /// The reader calls this only when there is something to wait for: the common case, messages
    /// and nothing to write, is ``deliverEvents()`` alone, synchronous, because an async call
    /// allocates a frame on the task's stack even when it never suspends, and this runs per read.
    func process(startingWith first: ConnectionCore.Event?) async {
        var next = first
        while let event = next {
            switch event {
            case .closed(let frame): await peerClosed(frame)
            case .failed: await peerFailed()
            default: break
            }
            next = deliverEvents()
        }
        if core.hasOutput { await flushOutput() }
    }

    /// Delivers the core's events up to the first one that needs waiting for (the peer's close, a
    /// failure), which it returns; `nil` once all are delivered. Then, if that returned an event
    /// or the core has output, call ``process(startingWith:)``.
    func deliverEvents() -> ConnectionCore.Event? {
        while let event = core.nextEvent() {
            switch event {
            case .message(let message):
                counters.messagesReceived += 1
                if let events { events.emit(.messageReceived(message.kind, size: message.payloadSize)) }
                if case .messages(let inbox) = delivery { inbox.push(message) }
            case .fragment(let fragment):
                if fragment.isFinal { counters.messagesReceived += 1 }
                if let events {
                    events.emit(.fragmentReceived(fragment.kind, size: fragment.bytes.count, isFinal: fragment.isFinal))
                }
                if case .fragments(let inbox) = delivery { inbox.push(fragment) }
            case .pong(let payload):
                pongArrived(payload)
            case .ping(let payload):
                if let events { events.emit(.pingReceived(size: payload.count)) }  // answered by the core already
            case .closed, .failed:
                return event
            case .aborted:
                break  // the reader saw the end of the stream and ends the connection
            }
        }
        return nil
    }
}
