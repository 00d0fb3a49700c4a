/// Test hooks: states of a running connection that tests await instead of sleeping. Package
/// level, never public; nothing here runs unless a test calls it.
extension WebSocketConnection {
    /// Returns `true` once a task is parked on this connection's socket, waiting for `interest`
    /// (at once if one is now): for `.writable`, a write of the connection found the socket's
    /// buffer full and waits for the peer to read; for `.readable`, the reader waits for bytes.
    /// `false` if the socket is closed first, or when the transport is not a ``TCPTransport``
    /// (an in-memory or TLS transport has no socket of its own to watch).
    package nonisolated func waitUntilTransportParked(_ interest: FDRegistration.Interest) async -> Bool {
        guard let tcp = transport as? TCPTransport else { return false }
        return await tcp.registration.waitUntilParked(interest)
    }
}
