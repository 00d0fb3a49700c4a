// WebSocketTesting: drive a WebSocket in your own tests, without a network.
//
// ``InMemoryTransport`` is a pair of connected ``Transport`` ends that live in memory: what one end
// writes, the other end reads, in order. Hand one end to the code under test (a client or a server
// connection) and drive the other end yourself, or connect a client and a server to each other.
//
//     import Testing
//     import WebSockets
//     import WebSocketTesting
//
//     @Test func survivesFragmentedDelivery() async throws {
//         let (client, server) = InMemoryTransport.makePair()
//         server.faults = .init(splitWritesInto: 1)          // every byte arrives on its own
//         try await server.write([[0x81, 0x02, 0x68, 0x69]])  // an unmasked text frame "hi"
//
//         var buffer = [UInt8](repeating: 0, count: 64)
//         let count = try await client.read(into: &buffer)    // 1: the first byte only
//         #expect(buffer[..<count] == [0x81])
//     }
//
// Faults are set per end and apply to what that end writes; they can be changed at any time:
//
//     server.faults = .init(writeDelay: .milliseconds(20))  // latency; writes stay in order
//     server.faults = .init(dropAfterBytes: 10)             // an abrupt drop mid-stream
//     server.updateFaults { $0.failNextWrite = WebSocketError(.timeout, "injected") }
//     client.abort()                                        // the network goes away, right now
//     server.closeWrite()                                   // half-close: the client reads EOF
//
// Errors are always ``WebSocketError``: `.closed` after a local ``InMemoryTransport/close()``,
// `.connectionAborted` after a drop, `.operationCanceled` when the reading task is cancelled.

import Synchronization
import WebSockets

/// One end of an in-memory, full-duplex byte stream. Create connected ends with ``makePair(clientAddress:serverAddress:)``.
///
/// Delivery model (a small, deterministic model of TCP):
/// - Every write, or every piece of a split write, is delivered as one *segment*. A read copies from
///   one segment only: it returns at most `buffer.count` bytes and never joins two segments, so what
///   the peer sees per read is exactly controlled by how you write (and by ``Faults/splitWritesInto``).
/// - A write never waits for the reader: the medium buffers without limit. With a
///   ``Faults/writeDelay`` the write returns at once and the bytes arrive after the delay.
/// - ``close()`` and ``closeWrite()`` send an end-of-stream behind the bytes already written; the
///   peer reads those bytes, then 0.
/// - A drop (``abort()``, ``Faults/dropAfterBytes``) loses what is still in flight; bytes that had
///   already arrived can still be read, after which reads throw `.connectionAborted`.
///
/// Thread-safe: every member may be called from any task or thread. As the `Transport` contract
/// says, one task reads at a time and one task writes at a time.
public final class InMemoryTransport: Transport {
    let pipe: InMemoryPipe
    let end: Int

    /// The address given to ``makePair(clientAddress:serverAddress:)`` for this end.
    public let localAddress: String?
    /// The address of the other end.
    public let remoteAddress: String?

    init(pipe: InMemoryPipe, end: Int, localAddress: String, remoteAddress: String) {
        self.pipe = pipe
        self.end = end
        self.localAddress = localAddress
        self.remoteAddress = remoteAddress
    }

    deinit {
        // A dropped end behaves like a closed socket: the peer reads end-of-stream.
        pipe.close(end: end)
    }

    /// Creates two connected ends: bytes written to `client` are read from `server`, and back.
    ///
    /// Keep both ends alive for as long as the connection is used: an end that is deinitialized
    /// closes, like a socket whose owner went away (`let (client, _) = makePair()` gives a client
    /// whose writes throw `.connectionAborted`).
    public static func makePair(
        clientAddress: String = "client:1",
        serverAddress: String = "server:2"
    ) -> (client: InMemoryTransport, server: InMemoryTransport) {
        let pipe = InMemoryPipe()
        return (
            InMemoryTransport(pipe: pipe, end: 0, localAddress: clientAddress, remoteAddress: serverAddress),
            InMemoryTransport(pipe: pipe, end: 1, localAddress: serverAddress, remoteAddress: clientAddress)
        )
    }

    // MARK: Transport

    /// Copies bytes that arrived from the peer into the front of `buffer` and returns how many.
    ///
    /// Reads at most `buffer.count` bytes, from one segment (see the type's delivery model); suspends
    /// while nothing has arrived.
    /// - Returns: the number of bytes read; 0 once the peer closed (or half-closed) and every byte
    ///   before that has been read.
    /// - Throws: `WebSocketError` `.invalidArgument` for an empty `buffer`, at once and consuming
    ///   nothing (as for every `Transport`: 0 would mean end of stream); `.closed` after a local
    ///   ``close()``, `.connectionAborted` after a drop, `.operationCanceled` if the task is
    ///   cancelled while suspended, `.invalidState` if another read on this end is already suspended.
    public func read(into buffer: inout [UInt8], isolation: isolated (any Actor)? = #isolation) async throws -> Int {
        guard !buffer.isEmpty else {
            throw WebSocketError(.invalidArgument, "read needs a buffer of at least one byte")
        }
        while true {
            switch pipe.read(end: end, into: &buffer) {
            case .bytes(let count):
                return count
            case .failed(let error):
                throw error
            case .wouldBlock:
                try await waitUntilReadable(isolation: isolation)
            }
        }
    }

    /// Hands all bytes of `buffers` to the medium as one write and returns without waiting for the
    /// reader (or for a ``Faults/writeDelay``).
    ///
    /// Applies this end's ``faults`` to writes with bytes. A write with no bytes (`[]`, or only
    /// empty buffers) returns at once, as for every `Transport`: it delivers nothing, throws
    /// nothing (even after ``close()``), and applies no fault (``Faults/failNextWrite`` stays set
    /// for the next write with bytes).
    /// - Throws: `WebSocketError` `.closed` after a local ``close()`` or ``closeWrite()``;
    ///   `.connectionAborted` after the peer closed or the connection dropped (including the write
    ///   that crosses ``Faults/dropAfterBytes``, of which only the bytes up to the limit arrive); the
    ///   error in ``Faults/failNextWrite`` once, with nothing delivered.
    public func write(_ buffers: [[UInt8]], isolation: isolated (any Actor)? = #isolation) async throws {
        guard buffers.contains(where: { !$0.isEmpty }) else { return }
        let outcome = pipe.write(end: end, buffers)
        if let tap = outcome.tap, !outcome.delivered.isEmpty {
            tap(outcome.delivered)
        }
        if let error = outcome.error {
            throw error
        }
    }

    /// Closes both directions of this end. Idempotent.
    ///
    /// A suspended read on this end throws `.closed`, as do later reads and writes. The peer reads
    /// what was written before (after any ``Faults/writeDelay``), then 0; its writes throw
    /// `.connectionAborted`. Bytes that arrived here but were not read are discarded.
    public func close() {
        pipe.close(end: end)
    }

    // MARK: Beyond Transport

    /// Shuts down the sending direction only (a TCP half-close). Idempotent.
    ///
    /// The peer reads what was written before, then 0. This end can still read; its writes throw `.closed`.
    public func closeWrite() {
        pipe.closeWrite(end: end)
    }

    /// Simulates an abrupt network drop of the whole connection, now, as seen by both ends.
    ///
    /// Bytes still in flight (delayed) in either direction are lost. Each end can still read the
    /// bytes that had already arrived; after that, and right away for a suspended read, reads throw
    /// `.connectionAborted` (unless that direction had already ended cleanly: then they keep
    /// returning 0). Writes on both ends throw `.connectionAborted`. No effect on an end that
    /// was closed locally (its reads keep throwing `.closed`).
    public func abort() {
        pipe.abort()
    }

    /// The faults applied to what this end writes. Assigning replaces all of them; use
    /// ``updateFaults(_:)`` to change one atomically. Reading returns the current state:
    /// ``Faults/dropAfterBytes`` counts down as this end writes and ``Faults/failNextWrite`` is
    /// cleared once used.
    ///
    /// - Precondition: `splitWritesInto` is at least 1, `dropAfterBytes` at least 0, `writeDelay` not negative.
    public var faults: Faults {
        get { pipe.faults(end: end) }
        set { pipe.updateFaults(end: end) { $0 = newValue } }
    }

    /// Changes this end's faults atomically (with respect to concurrent writes and updates).
    ///
    /// `body` runs under this connection's lock: it must not call back into either end.
    public func updateFaults(_ body: (inout Faults) -> Void) {
        pipe.updateFaults(end: end, body)
    }

    /// Called with the bytes of every successful write of this end, after they were handed to the
    /// medium, on the writing task. For a write cut short by ``Faults/dropAfterBytes``, with the
    /// bytes that were delivered.
    public var onWrite: (@Sendable ([UInt8]) -> Void)? {
        get { pipe.onWrite(end: end) }
        set { pipe.setOnWrite(end: end, newValue) }
    }

    /// How many bytes this end has handed to the medium (delivered or in flight).
    public var bytesWritten: Int { pipe.counters(end: end).written }

    /// How many bytes reads on this end have returned.
    public var bytesRead: Int { pipe.counters(end: end).read }

    /// Whether ``close()`` was called on this end (or it was deinitialized).
    public var isClosed: Bool { pipe.isClosed(end: end) }

    /// Whether a read on this end is suspended, waiting for bytes. For tests that must act only once
    /// the reader is parked.
    public var hasPendingRead: Bool { pipe.hasPendingRead(end: end) }

    /// Test hook: returns once a read on this end is suspended, waiting for bytes (at once if one
    /// is now): ``hasPendingRead`` without polling.
    package func waitUntilReadIsPending() async {
        await pipe.waitUntilReadIsPending(end: end)
    }

    /// Test hook: returns once nothing the peer wrote is still in flight towards this end (delayed
    /// by its ``Faults/writeDelay``) and no delivery task for this direction runs any more (at
    /// once if so now): from then on, nothing arrives here that has not arrived already.
    package func waitUntilNothingInFlight() async {
        await pipe.waitUntilNothingInFlight(towards: end)
    }

    // MARK: Waiting

    private func waitUntilReadable(isolation: isolated (any Actor)?) async throws {
        let pipe = self.pipe
        let end = self.end
        let id = pipe.makeWaiterID(end: end)
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation(isolation: isolation) {
                (continuation: CheckedContinuation<Void, any Error>) in
                if let immediate = pipe.park(end: end, id: id, continuation) {
                    continuation.resume(with: immediate)
                }
            }
        } onCancel: {
            pipe.cancelWaiter(end: end, id: id)?.resume(
                throwing: WebSocketError(.operationCanceled, "the read was cancelled")
            )
        }
    }
}
