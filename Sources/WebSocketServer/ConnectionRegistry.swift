import WebSockets

/// What a listener has done so far, for tests that wait for it (``WebSocketListener/waitUntil(_:)``)
/// and for the listener's own accept loop, which waits on it for a handshake slot or a released
/// descriptor.
package struct ListenerProgress: Sendable {
    /// TCP connections accepted whose handshake (TLS, then the upgrade request) started.
    package var handshakesStarted = 0
    /// Handshakes started and not yet handed to the application (or ended): what
    /// ``WebSocketServerConfiguration/maxConcurrentHandshakes`` bounds.
    package var handshakesInProgress = 0
    /// Upgrades put in the queue for the application (not refused because it was full or closed).
    package var upgradesQueued = 0
    /// Accepted WebSocket connections that have not ended yet (``WebSocketListener/connectionCount``).
    package var openConnections = 0
    /// Times something of the listener's ended (a handshake, an upgrade's answer, a connection),
    /// each of which may have released a descriptor.
    package var releases = 0
    /// Times the accept loop found every handshake slot taken and waited for one.
    package var slotWaits = 0
    /// Times `accept` failed (descriptors or memory exhausted) and the accept loop paused.
    package var acceptPauses = 0
}

/// The listener's bookkeeping: handshakes in progress and upgrades not yet answered (by their TCP
/// transport, so that a shutdown can drop them), the handshake slots, the connection limit, and
/// accepted connections until they end. Every change re-checks the waiters on
/// ``ListenerProgress`` (the accept loop and tests).
final class ConnectionRegistry: Sendable {
    private struct Waiter {
        var id: Int
        var condition: @Sendable (ListenerProgress) -> Bool
        var continuation: CheckedContinuation<Bool, Never>
    }

    private struct State {
        var connections: [ObjectIdentifier: WebSocketConnection] = [:]
        var handshakes: [ObjectIdentifier: TCPTransport] = [:]
        /// Upgrades accepted by the application whose 101 is being written: they hold a place
        /// under the connection limit before they are ``connections``.
        var reservedConnections = 0
        var isShuttingDown = false
        var progress = ListenerProgress()
        var nextWaiterID = 0
        /// Empty unless the accept loop or a test waits: the paths that check it pay one
        /// `isEmpty` under the lock they hold anyway.
        var waiters: [Waiter] = []

        /// Records a change of ``progress``; returns the waiters whose condition now holds.
        mutating func changed() -> [CheckedContinuation<Bool, Never>] {
            progress.openConnections = connections.count
            guard !waiters.isEmpty else { return [] }
            var satisfied: [CheckedContinuation<Bool, Never>] = []
            waiters.removeAll { waiter in
                guard waiter.condition(progress) else { return false }
                satisfied.append(waiter.continuation)
                return true
            }
            return satisfied
        }
    }
    private let state = Lock(State())
    /// The most connections open at once (``WebSocketServerConfiguration/maxConnections``).
    let maxConnections: Int

    init(maxConnections: Int) {
        self.maxConnections = maxConnections
    }

    var isShuttingDown: Bool { state.withLock { $0.isShuttingDown } }
    var connectionCount: Int { state.withLock { $0.connections.count } }
    var progress: ListenerProgress { state.withLock { $0.progress } }

    /// Whether a new connection would fit under the limit now (the answer may change before the
    /// application accepts; ``reserveConnection()`` decides).
    var hasRoomForConnection: Bool {
        state.withLock { $0.connections.count + $0.reservedConnections < maxConnections }
    }

    /// Applies `change` under the lock, then resumes the waiters it satisfied.
    private func update<T>(_ change: (inout State) -> T) -> T {
        let (result, ready) = state.withLock { state in
            let result = change(&state)
            return (result, state.changed())
        }
        for continuation in ready { continuation.resume(returning: true) }
        return result
    }

    // MARK: - Waiting

    /// Returns `true` once `condition` holds for the progress (at once if it does now), or
    /// `false` if the task is cancelled first.
    @discardableResult
    func waitUntil(_ condition: @escaping @Sendable (ListenerProgress) -> Bool) async -> Bool {
        let id = state.withLock { state in
            defer { state.nextWaiterID += 1 }
            return state.nextWaiterID
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                let now = state.withLock { state -> Bool? in
                    if condition(state.progress) { return true }
                    if Task.isCancelled { return false }
                    state.waiters.append(Waiter(id: id, condition: condition, continuation: continuation))
                    return nil
                }
                if let now { continuation.resume(returning: now) }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Bool, Never>? in
                guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                return state.waiters.remove(at: index).continuation
            }
            waiter?.resume(returning: false)
        }
    }

    /// For the accept loop: returns once fewer than `limit` handshakes are in progress (`false`
    /// if the task is cancelled first), counting a ``ListenerProgress/slotWaits`` if it waits.
    func waitForHandshakeSlot(limit: Int) async -> Bool {
        let free = update { state -> Bool in
            if state.progress.handshakesInProgress < limit { return true }
            state.progress.slotWaits += 1
            return false
        }
        return free ? true : await waitUntil { $0.handshakesInProgress < limit }
    }

    /// For the accept loop, after a failed `accept`: counts the pause and returns the number of
    /// releases so far, to wait for the next one.
    func acceptPaused() -> Int {
        update { state in
            state.progress.acceptPauses += 1
            return state.progress.releases
        }
    }

    // MARK: - Handshakes

    /// Records a handshake in progress (it takes a slot until ``endHandshakeSlot()``); `nil`
    /// when shutting down (the caller drops the connection).
    func beginHandshake(_ transport: TCPTransport) -> ObjectIdentifier? {
        let id = ObjectIdentifier(transport)
        return update { state -> ObjectIdentifier? in
            guard !state.isShuttingDown else { return nil }
            state.handshakes[id] = transport
            state.progress.handshakesStarted += 1
            state.progress.handshakesInProgress += 1
            return id
        }
    }

    /// The handshake is over (handed to the application, answered, or failed): its slot is free.
    func endHandshakeSlot() {
        update { state in
            state.progress.handshakesInProgress -= 1
            state.progress.releases += 1
        }
    }

    /// Records that an upgrade went into the application's queue (for ``ListenerProgress``).
    func upgradeQueued() {
        update { $0.progress.upgradesQueued += 1 }
    }

    /// The connection of a handshake or an upgrade was answered or closed: shutdown no longer
    /// has to drop it.
    func endHandshake(_ id: ObjectIdentifier) {
        update { state in
            if state.handshakes.removeValue(forKey: id) != nil { state.progress.releases += 1 }
        }
    }

    /// Drops every handshake in progress and every unanswered upgrade.
    func closeHandshakes() {
        let handshakes = state.withLock { state in
            defer { state.handshakes.removeAll() }
            return Array(state.handshakes.values)
        }
        for transport in handshakes { transport.close() }
    }

    // MARK: - Connections

    /// Takes a place under the connection limit for an upgrade being accepted; `false` at the
    /// limit. Followed by ``add(_:)`` or ``releaseReservation()``.
    func reserveConnection() -> Bool {
        state.withLock { state in
            guard state.connections.count + state.reservedConnections < maxConnections else { return false }
            state.reservedConnections += 1
            return true
        }
    }

    /// Gives back a place taken by ``reserveConnection()`` that did not become a connection.
    func releaseReservation() {
        update { state in
            state.reservedConnections -= 1
            state.progress.releases += 1
        }
    }

    /// Turns a reservation into an accepted connection, recorded until it ends; `false` (and the
    /// reservation given back) when shutting down.
    func add(_ connection: WebSocketConnection) -> Bool {
        let id = ObjectIdentifier(connection)
        let added = update { state -> Bool in
            state.reservedConnections -= 1
            guard !state.isShuttingDown else {
                state.progress.releases += 1
                return false
            }
            state.connections[id] = connection
            return true
        }
        if added {
            // `self` strongly: the task ends when the connection does, and nothing the registry
            // holds refers to the task, so there is no cycle; the registry lives at most until its
            // last connection ended. A `[weak self]` would buy nothing and give the registry a
            // Swift side table that, once the task is gone, only the registry's encoded reference
            // count points to: LeakSanitizer cannot decode it and reported a registry still alive
            // at exit as a 32-byte leak.
            Task {
                await connection.waitUntilFinalized()
                self.update { state in
                    state.connections.removeValue(forKey: id)
                    state.progress.releases += 1
                }
            }
        }
        return added
    }

    /// Marks the registry as shutting down and returns the open connections.
    func beginShutdown() -> [WebSocketConnection] {
        state.withLock { state in
            state.isShuttingDown = true
            return Array(state.connections.values)
        }
    }
}
