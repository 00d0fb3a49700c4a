import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The drop counts a socket's reader updates and ``DatagramSocket/information`` reads.
final class DatagramCounters: Sendable {
    /// Datagrams discarded because ``DatagramSocketControl/maxPendingDatagrams`` waited unread.
    let dropped = Atomic<Int>(0)
    /// The kernel's latest `SO_RXQ_OVFL` count.
    let kernelDrops = Atomic<Int>(0)
    /// Datagrams taken from the kernel (queued or dropped), and tests waiting for a count of them.
    private let handled = Lock<(count: Int, watchers: [(Int, CheckedContinuation<Void, Never>)])>((0, []))

    /// Counts one datagram taken from the kernel and wakes the tests waiting for that many.
    func countHandled() {
        let ready = handled.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.count += 1
            guard !state.watchers.isEmpty else { return [] }
            let count = state.count
            let ready = state.watchers.filter { $0.0 <= count }.map(\.1)
            state.watchers.removeAll { $0.0 <= count }
            return ready
        }
        for continuation in ready { continuation.resume() }
    }

    /// Returns once `count` datagrams have been taken from the kernel (at once if they have).
    func waitUntilHandled(_ count: Int) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = handled.withLock { state -> Bool in
                if state.count >= count { return true }
                state.watchers.append((count, continuation))
                return false
            }
            if now { continuation.resume() }
        }
    }
}

extension DatagramSocket {
    /// Starts the socket's reader: one task, on the event loop, that moves datagrams from the
    /// kernel into ``datagrams`` until the socket is closed. It runs whether or not anyone
    /// iterates, so the kernel's buffer never fills behind a slow reader; the inbox's bound then
    /// decides what is kept.
    func startReceiving(on channel: DatagramChannel) {
        let local = channel.localEndpoint ?? SocketEndpoint(address: channel.family == AF_INET6 ? "::" : "0.0.0.0", port: 0)!
        let (inbox, counters, size) = (inbox, counters, control.maxDatagramSize)
        Task(executorPreference: EventLoop.shared.taskExecutor) {
            await Self.receive(from: channel, local: local, size: size, into: inbox, counters: counters)
        }
    }

    /// Errors that the kernel reports on a socket from ICMP messages about earlier sends: they say
    /// something about one datagram's path, not about the socket, so receiving goes on.
    private static let transientErrors: Set<CInt> = [
        ECONNREFUSED, EHOSTUNREACH, EHOSTDOWN, ENETUNREACH, ENETDOWN, EMSGSIZE, ECONNRESET,
    ]

    private static func receive(
        from channel: DatagramChannel, local: SocketEndpoint, size: Int, into inbox: Inbox<Datagram>,
        counters: DatagramCounters
    ) async {
        var buffer = [UInt8](repeating: 0, count: size)
        while true {
            let received: DatagramChannel.Received
            do {
                received = try await channel.receive(into: &buffer, localPort: local.port)
            } catch  where error.status == .closed {
                inbox.finish()
                return
            } catch  where transientErrors.contains(error.code) {
                continue
            } catch {
                inbox.finish(throwing: error)
                channel.close()
                return
            }
            if let drops = received.kernelDrops { counters.kernelDrops.store(drops, ordering: .relaxed) }
            defer { counters.countHandled() }
            guard inbox.room > 0 else {
                counters.dropped.add(1, ordering: .relaxed)
                continue
            }
            let oversized = received.length > buffer.count
            inbox.push(
                Datagram(
                    bytes: oversized ? [] : Array(buffer[..<received.length]),
                    remote: received.remote,
                    local: received.destination ?? local,
                    length: received.length))
        }
    }
}
