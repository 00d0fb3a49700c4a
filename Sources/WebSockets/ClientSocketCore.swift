/// The connection bookkeeping both client socket actors share (``MessageWebSocket`` and
/// ``StreamWebSocket``): the open connection, the request headers, whether connect is in progress
/// or the socket was closed before connecting, and what is known about the connection; with the
/// life-cycle rules built on them (idle checks, closing, state, close status, information, closing
/// on drop). What differs between the sockets (their settings, inboxes and how the connection is
/// configured) stays in the actors, which call this from their own isolation.
///
/// Everything sits behind one lock so that the nonisolated paths (sending, reading, writing)
/// reach the connection without a hop through the actor.

import WebSocketCore

final class ClientSocketCore: Sendable {
    private struct Record {
        var connection: WebSocketConnection?
        var requestHeaders: [(String, String)] = []
        var isConnecting = false
        var closedBeforeConnecting = false
        var information = MessageWebSocketInformation()
    }

    private let record = Lock(Record())
    /// The actor's type name, for the message that tells to make a new socket to reconnect.
    private let socketName: String
    /// Ends the socket's receive streams when it is closed before it ever connected.
    private let finishInputs: @Sendable () -> Void

    init(socketName: String, finishInputs: @escaping @Sendable () -> Void) {
        self.socketName = socketName
        self.finishInputs = finishInputs
    }

    /// Dropping the last reference to a socket closes the connection (1001) and releases the
    /// descriptor; the connection's own tasks keep it alive until the close completes or times out.
    func shutDownOnDrop() {
        if let connection {
            Task { await connection.shutDown(code: .goingAway) }
        }
    }

    /// The open connection, if any.
    var connection: WebSocketConnection? { record.withLock { $0.connection } }

    var requestHeaders: [(String, String)] { record.withLock { $0.requestHeaders } }

    /// Throws `.invalidState` with `message` once connect started (or the socket was closed).
    func requireIdle(_ message: String) throws(WebSocketError) {
        let busy = record.withLock { $0.isConnecting || $0.connection != nil || $0.closedBeforeConnecting }
        if busy { throw WebSocketError(.invalidState, message) }
    }

    /// Adds a header to the opening handshake request: only while idle, and only one the
    /// application may set (see ``ClientConnector/validateRequestHeader(_:_:)``).
    func addRequestHeader(_ name: String, _ value: String) throws(WebSocketError) {
        try requireIdle("request headers can only be set before connecting")
        try ClientConnector.validateRequestHeader(name, value)
        record.withLock { $0.requestHeaders.append((name, value)) }
    }

    // MARK: - Connecting

    /// Throws `.invalidState` unless the socket may start connecting now.
    func requireReadyToConnect() throws(WebSocketError) {
        let connecting = record.withLock { $0.isConnecting }
        try requireIdle(
            connecting
                ? "connect is already in progress"
                : "the socket was already connected or closed; create a new \(socketName) to reconnect")
    }

    func setConnecting(_ connecting: Bool) {
        record.withLock { $0.isConnecting = connecting }
    }

    /// Records the open connection and what is known about it, and reports it to `events`.
    func attach(
        _ connection: WebSocketConnection, opened: ClientOpening.Opened,
        control: MessageWebSocketControl, events: EventEmitter?
    ) {
        let information = ClientConnector.information(of: opened, control: control)
        record.withLock {
            $0.information = information
            $0.connection = connection
        }
        ClientConnector.reportConnected(opened, to: events)
    }

    // MARK: - Closing

    /// Closes with `code` (`nil`: an empty close frame) and `reason`, waiting for the close
    /// handshake; before connecting, marks the socket closed and ends its receive streams.
    /// - Throws: `.invalidArgument` for a bad code or reason (whatever the state: a bad code is a
    ///   bug wherever it is called); `.invalidState` while connect is in progress.
    func close(code: CloseCode?, reason: String) async throws {
        do { try ConnectionCore.validateClose(code: code, reason: reason) } catch {
            throw WebSocketConnection.map(error)
        }
        let (connection, connecting) = record.withLock { record -> (WebSocketConnection?, Bool) in
            if record.connection == nil && !record.isConnecting { record.closedBeforeConnecting = true }
            return (record.connection, record.isConnecting)
        }
        if let connection {
            try await connection.close(code: code, reason: reason)
        } else if connecting {
            throw WebSocketError(.invalidState, "connect is in progress; cancel its task to abandon it")
        } else {
            finishInputs()
        }
    }

    // MARK: - Information

    /// The socket's life-cycle state.
    func state() async -> MessageWebSocket.State {
        let (connection, connecting, closed) = record.withLock { ($0.connection, $0.isConnecting, $0.closedBeforeConnecting) }
        if connecting { return .connecting }
        guard let connection else { return closed ? .closed : .idle }
        switch await connection.state {
        case .open: return .open
        case .closing: return .closing
        case .closed: return .closed
        }
    }

    /// The peer's close frame, once received.
    func closeStatus() async -> WebSocketCloseStatus? {
        await connection?.closeStatus
    }

    /// What is known about the connection now, with its live figures.
    func information() async -> MessageWebSocketInformation {
        let (connection, information) = record.withLock { ($0.connection, $0.information) }
        var snapshot = information
        if let connection {
            let figures = await connection.liveFigures()
            snapshot.statistics = figures.statistics
            snapshot.latency = figures.latency
            snapshot.roundTripTimeStatistics = figures.roundTripTime
            snapshot.bandwidthStatistics = figures.bandwidth
        }
        return snapshot
    }
}
