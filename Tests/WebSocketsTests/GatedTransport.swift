import Synchronization
import WebSocketTesting

@testable import WebSockets

/// A transport whose writes can be held at a gate, to see what a connection does while a write
/// is blocked (a full socket buffer, in effect). Reads pass straight through to `inner`.
final class GatedTransport: Transport {
    private struct State {
        var isGateOpen = true
        var held: [CheckedContinuation<Void, Never>] = []
        var heldWatchers: [(count: Int, continuation: CheckedContinuation<Void, Never>)] = []
        var completedWrites: [[UInt8]] = []
    }

    let inner: InMemoryTransport
    private let state = Lock(State())

    init(_ inner: InMemoryTransport) { self.inner = inner }

    /// Every write that went through, each as the bytes it carried.
    var completedWrites: [[UInt8]] { state.withLock { $0.completedWrites } }

    /// From now on, writes wait at the gate until released.
    func closeGate() { state.withLock { $0.isGateOpen = false } }

    /// Lets the oldest held write through.
    func releaseOne() {
        let first = state.withLock { state in state.held.isEmpty ? nil : state.held.removeFirst() }
        first?.resume()
    }

    /// Opens the gate: held writes and all later ones go through.
    func openGate() {
        let held = state.withLock { state in
            state.isGateOpen = true
            defer { state.held = [] }
            return state.held
        }
        for write in held { write.resume() }
    }

    /// Returns once `count` writes are held at the gate.
    func waitUntilHeld(_ count: Int) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { state -> Bool in
                if state.held.count >= count { return true }
                state.heldWatchers.append((count, continuation))
                return false
            }
            if now { continuation.resume() }
        }
    }

    func read(into buffer: inout [UInt8], isolation: isolated (any Actor)? = #isolation) async throws -> Int {
        try await inner.read(into: &buffer, isolation: isolation)
    }

    func write(_ buffers: [[UInt8]], isolation: isolated (any Actor)? = #isolation) async throws {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let (passNow, watchers) = state.withLock { state -> (Bool, [CheckedContinuation<Void, Never>]) in
                if state.isGateOpen { return (true, []) }
                state.held.append(continuation)
                let count = state.held.count
                let ready = state.heldWatchers.filter { $0.count <= count }.map(\.continuation)
                state.heldWatchers.removeAll { $0.count <= count }
                return (false, ready)
            }
            if passNow { continuation.resume() }
            for watcher in watchers { watcher.resume() }
        }
        try await inner.write(buffers, isolation: isolation)
        state.withLock { $0.completedWrites.append(buffers.flatMap { $0 }) }
    }

    func close() {
        openGate()
        inner.close()
    }

    var localAddress: String? { inner.localAddress }
    var remoteAddress: String? { inner.remoteAddress }
}
