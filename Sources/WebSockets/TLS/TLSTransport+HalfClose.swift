extension TLSTransport {
    /// Sends `close_notify` and waits until it was written, leaving reading open: TLS's half-close
    /// (RFC 8446 §6.1), for ``StreamSocket/shutdownWrite()``. The caller then shuts down the TCP
    /// sending side. Later writes throw `.secureConnectionFailed` (OpenSSL refuses to write after
    /// its shutdown); reads continue until the peer's own `close_notify` or end.
    ///
    /// Under the write gate, like every write: the alert follows whatever ciphertext is already on
    /// its way (a read may be flushing a handshake message) and is never cut into by another record.
    /// - Throws: `.closed` after ``close()``; what the inner transport's write throws.
    package func shutdownWrite(isolation: isolated (any Actor)? = #isolation) async throws {
        await writeGate.acquire(isolation: isolation)
        defer { writeGate.release() }
        let alert = try state.withLock { state throws(WebSocketError) -> [UInt8] in
            guard !state.closed else { throw Self.closedError }
            return state.session.closeNotify()
        }
        if !alert.isEmpty { try await inner.write([alert], isolation: isolation) }
    }
}
