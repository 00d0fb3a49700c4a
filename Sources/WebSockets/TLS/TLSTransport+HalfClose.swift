extension TLSTransport {
    /// Sends `close_notify` and waits until it was written, leaving reading open: TLS's half-close
    /// (RFC 8446 §6.1), for ``StreamSocket/shutdownWrite()``. The caller then shuts down the TCP
    /// sending side. Later writes throw `.secureConnectionFailed` (OpenSSL refuses to write after
    /// its shutdown); reads continue until the peer's own `close_notify` or end.
    /// - Throws: `.closed` after ``close()``; what the inner transport's write throws.
    package func shutdownWrite(isolation: isolated (any Actor)? = #isolation) async throws {
        let alert = try state.withLock { state throws(WebSocketError) -> [UInt8] in
            guard !state.closed else { throw Self.closedError }
            return state.session.closeNotify()
        }
        try await inner.write([alert], isolation: isolation)
    }
}
