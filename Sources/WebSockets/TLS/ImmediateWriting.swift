#if canImport(Glibc)
    import Glibc
#endif

/// A transport that can also hand bytes to its medium synchronously, taking only what the medium
/// accepts at once.
///
/// ``Transport/write(_:isolation:)`` is async and may wait; ``TLSTransport/close()`` is synchronous,
/// may run on any thread and must not wait, yet has a `close_notify` alert to send. It sends it
/// through this, best effort, when its inner transport offers it.
protocol ImmediateWriting: Transport {
    /// Writes as much of `bytes`, from the front, as the medium takes right now, and returns how
    /// many bytes that was. Never waits; a medium that is full, failed or closed takes what it
    /// takes (possibly nothing) and that is not an error.
    ///
    /// The caller must be the only writer at that moment (a TLS transport holds its write gate),
    /// or bytes of two writes could interleave.
    func writeWithoutWaiting(_ bytes: [UInt8]) -> Int
}

extension TCPTransport: ImmediateWriting {
    /// `send` with `MSG_DONTWAIT`, repeated while the kernel takes bytes; stops at `EAGAIN`, at an
    /// error, or once the socket is closed.
    func writeWithoutWaiting(_ bytes: [UInt8]) -> Int {
        var written = 0
        while written < bytes.count {
            let attempt = try? registration.withDescriptor(for: .writable) { fd -> (Int, CInt) in
                let count = bytes.withUnsafeBytes { raw in
                    Glibc.send(fd, raw.baseAddress! + written, raw.count - written, CInt(MSG_NOSIGNAL) | CInt(MSG_DONTWAIT))
                }
                return (count, count < 0 ? errno : 0)
            }
            guard let (count, code) = attempt else { break }  // closed
            if count > 0 {
                written += count
            } else if count < 0 && code == EINTR {
                continue
            } else {
                break  // EAGAIN (the send buffer is full), or the connection failed
            }
        }
        return written
    }
}
