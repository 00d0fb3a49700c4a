import Synchronization
import WebSocketCore

@testable import WebSockets

/// Collects the ``WebSocketEvent``s a handler receives, from any thread, and lets a test wait until
/// they satisfy a condition (synchronizing on state, not on time).
final class EventRecorder: Sendable {
    private struct State {
        var events: [WebSocketEvent] = []
        var waiters: [(condition: @Sendable ([WebSocketEvent]) -> Bool, continuation: CheckedContinuation<Void, Never>)] = []
    }
    private let state = Mutex(State())

    /// The handler to install (``MessageWebSocketControl/eventHandler``, the server's).
    var handler: WebSocketEventHandler {
        { [self] event in record(event) }
    }

    private func record(_ event: WebSocketEvent) {
        let ready = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.events.append(event)
            let events = state.events
            let (ready, waiting) = (state.waiters.filter { $0.condition(events) }, state.waiters.filter { !$0.condition(events) })
            state.waiters = waiting
            return ready.map(\.continuation)
        }
        for continuation in ready { continuation.resume() }
    }

    /// The events so far, in the order they arrived.
    var events: [WebSocketEvent] { state.withLock { $0.events } }

    /// The kinds of the events so far.
    var kinds: [WebSocketEvent.Kind] { events.map(\.kind) }

    /// Returns once the events satisfy `condition` (at once if they do).
    func waitUntil(_ condition: @escaping @Sendable ([WebSocketEvent]) -> Bool) async {
        await withCheckedContinuation { continuation in
            let now = state.withLock { state -> Bool in
                if condition(state.events) { return true }
                state.waiters.append((condition, continuation))
                return false
            }
            if now { continuation.resume() }
        }
    }

    /// Returns once a `closed` event (always the last of a connection) was recorded.
    func waitUntilClosed() async {
        await waitUntil { $0.contains { if case .closed = $0.kind { true } else { false } } }
    }
}
