import COpenSSL

/// Reading without waiting (``ImmediateReading``), so that an idle TLS connection holds no read
/// buffer: plaintext goes into the caller's borrowed buffer, and over an inner transport that can
/// read without waiting too (TCP), ciphertext goes through a buffer that lives only for the call.
extension TLSTransport: ImmediateReading {
    /// Decrypts what OpenSSL holds into `buffer`; when it needs more ciphertext, takes what the
    /// inner transport has now (if it can read without waiting) and tries again.
    /// - Returns: the plaintext byte count; 0 after the peer's `close_notify` or the inner
    ///   stream's end; `nil` when nothing can be read without waiting (or OpenSSL has something to
    ///   send first, which ``waitUntilReadable(isolation:)`` sends).
    package func readAvailable(into buffer: UnsafeMutableRawBufferPointer) throws -> Int? {
        guard !buffer.isEmpty else {
            throw WebSocketError(.invalidArgument, "read needs a buffer of at least one byte")
        }
        while true {
            let outcome = try state.withLock { state throws(WebSocketError) in
                guard !state.closed else { throw Self.closedError }
                return state.session.readPlaintext(into: buffer)
            }
            switch outcome {
            case .bytes(let count):
                return count
            case .ended:
                return 0
            case .failed(let error):
                throw error
            case .needsInput(let hasOutput):
                if hasOutput { return nil }
                if peerEnded.load(ordering: .relaxed) { return 0 }
                guard let source = inner as? any ImmediateReading else { return nil }
                // A full record's worth, on the stack where the runtime allows it: gone after the call.
                let read = try withUnsafeTemporaryAllocation(byteCount: Self.ciphertextBufferSize, alignment: 16) {
                    ciphertext -> Int? in
                    guard let count = try source.readAvailable(into: ciphertext) else { return nil }
                    innerMayHaveBytes.store(count == ciphertext.count, ordering: .relaxed)
                    if count > 0 {
                        state.withLock { $0.session.feed(UnsafeRawBufferPointer(rebasing: ciphertext[..<count])) }
                    }
                    return count
                }
                guard let read else {
                    innerMayHaveBytes.store(false, ordering: .relaxed)
                    return nil
                }
                if read == 0 {
                    // The TCP stream ended without close_notify: an end all the same (the
                    // WebSocket close handshake above guards against truncation).
                    peerEnded.store(true, ordering: .relaxed)
                    return 0
                }
            }
        }
    }

    /// Sends what OpenSSL has for the peer, then returns at once if a read can make progress
    /// (buffered records or plaintext, unread bytes in the inner transport, the end); otherwise
    /// waits for the inner transport: for readability when it can read without waiting, else by
    /// reading ciphertext into the transport's own buffer.
    package func waitUntilReadable(isolation: isolated (any Actor)?) async throws {
        let (hasInput, hasOutput) = try state.withLock { state throws(WebSocketError) in
            guard !state.closed else { throw Self.closedError }
            return (state.session.hasBufferedInput, state.session.hasOutput)
        }
        if hasOutput { try await flush(nil, isolation: isolation) }
        if hasInput || peerEnded.load(ordering: .relaxed) { return }
        if let source = inner as? any ImmediateReading {
            if innerMayHaveBytes.exchange(false, ordering: .relaxed) { return }
            try await source.waitUntilReadable(isolation: isolation)
        } else if try await receiveCiphertext(isolation: isolation) == 0 {
            peerEnded.store(true, ordering: .relaxed)
        }
    }
}
