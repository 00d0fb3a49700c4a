/// The reads and the write of a stream socket, shared by ``StreamWebSocket`` and the server's
/// stream view, whose public methods forward here.
extension ByteStreamReader {
    /// The next 1 to `maxCount` bytes, waiting until some arrived; empty at the clean end.
    /// - Throws: `.invalidArgument` when `maxCount` < 1; otherwise as ``nextChunk(maxCount:)``.
    nonisolated(nonsending) package func read(upTo maxCount: Int) async throws -> [UInt8] {
        guard maxCount > 0 else { throw WebSocketError(.invalidArgument, "read(upTo:) needs a positive count, not \(maxCount)") }
        return try await nextChunk(maxCount: maxCount) ?? []
    }

    /// Reads the next bytes into `buffer` (at most its size) and returns how many; 0 at the clean end.
    nonisolated(nonsending) package func read(into buffer: UnsafeMutableRawBufferPointer) async throws -> Int {
        let chunk = try await read(upTo: buffer.count)
        buffer.copyBytes(from: chunk)
        return chunk.count
    }

    /// Reads the next bytes into the front of `buffer` (at most its size) and returns how many;
    /// 0 at the clean end.
    nonisolated(nonsending) package func read(into buffer: inout [UInt8]) async throws -> Int {
        let chunk = try await read(upTo: buffer.count)
        buffer.replaceSubrange(0..<chunk.count, with: chunk)
        return chunk.count
    }
}

extension WebSocketConnection {
    /// Sends `bytes` as one binary message, at once when it can go out from the caller's job;
    /// an empty collection sends nothing.
    nonisolated(nonsending) package func writeStream(_ bytes: some Collection<UInt8>) async throws {
        guard !bytes.isEmpty else { return }
        let array = bytes as? [UInt8] ?? Array(bytes)
        if try sendImmediately(array, kind: .binary) { return }
        try await send(array, kind: .binary)
    }
}
