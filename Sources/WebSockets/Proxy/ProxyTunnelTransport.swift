/// The transport a proxy tunnel hands the handshake when the bare transport underneath will not do:
/// it first returns bytes the proxy sent after its answer (read along with it, so they must not be
/// lost), and it hides a TLS transport to an `https://` proxy, so that a `ws://` connection through
/// it is not reported as secure (``MessageWebSocketInformation`` and the `connected` event look
/// for a ``TLSTransport`` end to end).
///
/// Used only in those two cases: over plain TCP with nothing left over, the tunnel hands on the
/// ``TCPTransport`` itself, which keeps its immediate-read fast path.
final class ProxyTunnelTransport: Transport {
    private let inner: any Transport
    /// What the proxy sent after its answer, returned by the first reads.
    private let pending: Lock<[UInt8]>

    init(over inner: any Transport, leftover: [UInt8]) {
        self.inner = inner
        self.pending = Lock(leftover)
    }

    var localAddress: String? { inner.localAddress }
    var remoteAddress: String? { inner.remoteAddress }
    func tcpInfo() -> TCPInfo? { inner.tcpInfo() }

    func read(into buffer: inout [UInt8], isolation: isolated (any Actor)?) async throws -> Int {
        guard !buffer.isEmpty else {
            throw WebSocketError(.invalidArgument, "read needs a buffer of at least one byte")
        }
        let count = pending.withLock { pending -> Int in
            let count = min(pending.count, buffer.count)
            guard count > 0 else { return 0 }
            buffer.replaceSubrange(0..<count, with: pending[0..<count])
            pending.removeFirst(count)
            return count
        }
        if count > 0 { return count }
        return try await inner.read(into: &buffer, isolation: isolation)
    }

    func write(_ buffers: [[UInt8]], isolation: isolated (any Actor)?) async throws {
        try await inner.write(buffers, isolation: isolation)
    }

    func close() {
        inner.close()
    }
}
