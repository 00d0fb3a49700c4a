import Synchronization
import WebSocketCore

@testable import WebSockets

/// A client's transport that counts the pings the server sends, so that a test can wait for
/// keep-alive pings by count instead of by clock. Everything passes straight through to `inner`;
/// what a read returns is also fed, after the opening handshake's response head, to a client-role
/// ``ConnectionCore`` of its own that only watches the frames.
final class PingCountingTransport: Transport {
    private struct State {
        /// Bytes of the HTTP response head seen so far, until its end.
        var head: [UInt8] = []
        var headDone = false
        var watcher = ConnectionCore(role: .client, randomNumberGenerator: SystemRandomNumberGenerator())
        var pings = 0
        var ended = false
    }

    let inner: any Transport
    private let state = Lock(State())
    private let changes = StateSignal()

    init(_ inner: any Transport) { self.inner = inner }

    /// Pings received so far.
    var pings: Int { state.withLock { $0.pings } }

    /// Returns the number of pings received once it reaches `count`, or (smaller) once the
    /// stream ended or failed first.
    func waitUntilPings(_ count: Int) async -> Int {
        _ = await changes.wait { self.state.withLock { $0.pings >= count || $0.ended } }
        return pings
    }

    func read(into buffer: inout [UInt8], isolation: isolated (any Actor)? = #isolation) async throws -> Int {
        let count: Int
        do {
            count = try await inner.read(into: &buffer, isolation: isolation)
        } catch {
            state.withLock { $0.ended = true }
            changes.notify()
            throw error
        }
        let bytes = Array(buffer[..<count])
        state.withLock { state in
            guard count > 0 else {
                state.ended = true
                return
            }
            var frames = bytes[...]
            if !state.headDone {
                state.head += bytes
                guard let end = state.head.firstRange(of: Array("\r\n\r\n".utf8)) else { return }
                state.headDone = true
                frames = state.head[end.upperBound...]
                state.head = []
            }
            state.watcher.receive(frames)
            while let event = state.watcher.nextEvent() {
                switch event {
                case .ping: state.pings += 1
                case .closed, .failed, .aborted: state.ended = true
                default: break
                }
            }
            _ = state.watcher.takeOutput()  // its own answers: the real client sends those
        }
        changes.notify()
        return count
    }

    func write(_ buffers: [[UInt8]], isolation: isolated (any Actor)? = #isolation) async throws {
        try await inner.write(buffers, isolation: isolation)
    }

    func close() { inner.close() }

    var localAddress: String? { inner.localAddress }
    var remoteAddress: String? { inner.remoteAddress }
}
