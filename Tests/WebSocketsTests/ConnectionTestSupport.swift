import WebSocketCore

@testable import WebSockets

extension WebSocketConnection {
    /// A started connection of `role` over `transport` that delivers whole messages into `inbox`
    /// (default settings, a 1 MiB outbound buffer): for tests that drive the engine without the
    /// public actors.
    static func started(
        _ transport: any Transport, _ role: ConnectionCore.Role, _ inbox: MessageInbox
    ) async -> WebSocketConnection {
        let connection = WebSocketConnection(
            transport: transport, role: role, configuration: .init(), inbox: inbox,
            closeTimeout: .seconds(10), outboundBufferSize: 1 << 20, messageType: .binary)
        await connection.start(bufferedBytes: [])
        return connection
    }
}
