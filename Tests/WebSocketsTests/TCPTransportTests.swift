import Testing

@testable import WebSockets

#if canImport(Glibc)
    import Glibc
#endif

/// A connected client/server pair over loopback, closed by the caller (also used by ReadMemoryTests).
func tcpPair(host: String = "127.0.0.1") async throws -> (client: TCPTransport, server: TCPTransport, listener: TCPListener) {
    let listener = try TCPListener.bind(host: host, port: 0)
    async let accepted = listener.accept()
    let client = try await TCPTransport.connect(host: host, port: listener.port)
    return (client, try await accepted, listener)
}

/// Reads until exactly `count` bytes arrived (or end of stream).
private func receiveExactly(_ count: Int, from transport: TCPTransport, chunk: Int = 64 * 1024) async throws -> [UInt8] {
    var received: [UInt8] = []
    received.reserveCapacity(count)
    var buffer = [UInt8](repeating: 0, count: chunk)
    while received.count < count {
        let n = try await transport.read(into: &buffer)
        if n == 0 { break }
        received.append(contentsOf: buffer[0..<n])
    }
    return received
}

/// Echoes everything until end of stream, then closes.
private func echoUntilEnd(_ transport: TCPTransport) async throws {
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = try await transport.read(into: &buffer)
        if n == 0 { break }
        try await transport.write([Array(buffer[0..<n])])
    }
    transport.close()
}

/// Number of open descriptors of this process.
private func countOpenDescriptors() -> Int {
    guard let directory = opendir("/proc/self/fd") else { return -1 }
    defer { closedir(directory) }
    var count = 0
    while readdir(directory) != nil { count += 1 }
    return count
}

@Suite("TCP transport")
struct TCPTransportTests {
    @Test("echoes bytes over loopback", arguments: ["127.0.0.1", "::1"])
    func echoOverLoopback(host: String) async throws {
        let (client, server, listener) = try await tcpPair(host: host)
        defer { listener.close() }
        let echoing = Task { try await echoUntilEnd(server) }
        for round in 0..<50 {
            let message = Array("round \(round) over \(host)".utf8)
            try await client.write([message])
            #expect(try await receiveExactly(message.count, from: client) == message)
        }
        client.close()
        try await echoing.value
    }

    @Test("reports endpoints as host:port, IPv6 in brackets")
    func reportsEndpoints() async throws {
        let (client, server, listener) = try await tcpPair(host: "::1")
        defer {
            client.close()
            server.close()
            listener.close()
        }
        #expect(client.remoteAddress == "[::1]:\(listener.port)")
        #expect(server.localAddress == "[::1]:\(listener.port)")
        #expect(client.localAddress == server.remoteAddress)
        #expect(client.localAddress?.hasPrefix("[::1]:") == true)

        let (client4, server4, listener4) = try await tcpPair(host: "127.0.0.1")
        defer {
            client4.close()
            server4.close()
            listener4.close()
        }
        #expect(client4.remoteAddress == "127.0.0.1:\(listener4.port)")
        #expect(listener4.localAddress == "127.0.0.1:\(listener4.port)")
    }

    @Test("a 16 MiB write completes through partial writes and arrives intact")
    func largeWriteArrivesIntact() async throws {
        let (client, server, listener) = try await tcpPair()
        defer {
            client.close()
            server.close()
            listener.close()
        }
        let size = 16 * 1024 * 1024
        var payload = [UInt8](repeating: 0, count: size)
        payload.withUnsafeMutableBufferPointer { bytes in
            var state: UInt32 = 2_463_534_242  // xorshift: no repeating period a bug could hide in
            for index in bytes.indices {
                state ^= state << 13
                state ^= state >> 17
                state ^= state << 5
                bytes[index] = UInt8(truncatingIfNeeded: state)
            }
        }
        async let received = receiveExactly(size, from: server, chunk: 256 * 1024)
        try await client.write([payload])
        let bytes = try await received
        #expect(bytes.count == size)
        let same = bytes.withUnsafeBytes { a in payload.withUnsafeBytes { b in memcmp(a.baseAddress!, b.baseAddress!, size) == 0 }
        }
        #expect(same)
    }

    @Test("a write of several buffers arrives in order, empty buffers skipped")
    func gatheredWriteKeepsOrder() async throws {
        let (client, server, listener) = try await tcpPair()
        defer {
            client.close()
            server.close()
            listener.close()
        }
        // More buffers than one sendmsg takes (32), of varied sizes, some empty.
        let buffers: [[UInt8]] = (0..<100).map { index in
            index % 7 == 3 ? [] : [UInt8](repeating: UInt8(index), count: 1 + (index * 37) % 3000)
        }
        let expected = buffers.flatMap { $0 }
        async let received = receiveExactly(expected.count, from: server)
        try await client.write(buffers)
        #expect(try await received == expected)

        // A large gathered write: header + body, which needs partial-write bookkeeping mid-buffer.
        let header: [UInt8] = [0x82, 0x7F, 1, 2, 3, 4, 5, 6, 7, 8]
        var pattern = [UInt8](repeating: 0, count: 6 * 1024 * 1024)
        pattern.withUnsafeMutableBufferPointer { bytes in
            for index in stride(from: 0, to: bytes.count, by: 4093) { bytes[index] = UInt8(truncatingIfNeeded: index / 4093 + 1) }
        }
        let body = pattern
        let total = header.count + body.count
        async let second = receiveExactly(total, from: server, chunk: 256 * 1024)
        try await client.write([header, [], body])
        let gathered = try await second
        #expect(gathered.count == total)
        #expect(Array(gathered[0..<header.count]) == header)
        let same = gathered.withUnsafeBytes { a in
            body.withUnsafeBytes { b in memcmp(a.baseAddress! + header.count, b.baseAddress!, body.count) == 0 }
        }
        #expect(same)
    }

    @Test("connecting to a closed port fails with cannotConnect naming host:port")
    func connectToClosedPortFails() async throws {
        let refusing = try RefusingPort()  // see there: a closed listener's port can be reused meanwhile
        let port = refusing.port
        let error = await #expect(throws: WebSocketError.self) {
            _ = try await TCPTransport.connect(host: "127.0.0.1", port: port)
        }
        refusing.close()
        #expect(error?.status == .cannotConnect)
        #expect(error?.message.contains("127.0.0.1:\(port)") == true)
        #expect(error?.message.contains("refused") == true)
    }

    @Test("an unresolvable host fails with hostNameNotResolved naming the host")
    func unresolvableHostFails() async throws {
        let error = await #expect(throws: WebSocketError.self) {
            _ = try await TCPTransport.connect(host: "no-such-host.invalid", port: 80)
        }
        #expect(error?.status == .hostNameNotResolved)
        #expect(error?.message.contains("no-such-host.invalid") == true)
    }

    @Test("a host name resolves on a helper thread and connects")
    func connectsByName() async throws {
        let listener = try TCPListener.bind(host: "127.0.0.1", port: 0)
        defer { listener.close() }
        async let accepted = listener.accept()
        let client = try await TCPTransport.connect(host: "localhost", port: listener.port)
        let server = try await accepted
        defer {
            client.close()
            server.close()
        }
        try await client.write([[1, 2, 3]])
        #expect(try await receiveExactly(3, from: server) == [1, 2, 3])
    }

    @Test("close() wakes a pending read, which throws closed")
    func closeWakesPendingRead() async throws {
        let (client, server, listener) = try await tcpPair()
        defer {
            server.close()
            listener.close()
        }
        let reading = Task {
            var buffer = [UInt8](repeating: 0, count: 16)
            return try await client.read(into: &buffer)
        }
        // Nothing was sent: the read found the socket empty and is parked until readiness or close.
        #expect(try await awaitState("the read is parked") { await client.registration.waitUntilParked(.readable) })
        client.close()
        client.close()  // idempotent
        let result = await reading.result
        #expect(throws: WebSocketError.self) { try result.get() }
        #expect((try? result.get()) == nil)
        if case .failure(let error as WebSocketError) = result { #expect(error.status == .closed) }
        // Later calls fail fast the same way.
        var buffer = [UInt8](repeating: 0, count: 16)
        let again = await #expect(throws: WebSocketError.self) { _ = try await client.read(into: &buffer) }
        #expect(again?.status == .closed)
        let write = await #expect(throws: WebSocketError.self) { try await client.write([[1]]) }
        #expect(write?.status == .closed)
    }

    @Test("the peer closing makes read return 0, and a write then fails with connectionAborted")
    func peerCloseEndsStream() async throws {
        let (client, server, listener) = try await tcpPair()
        defer {
            client.close()
            listener.close()
        }
        try await server.write([[9, 8, 7]])
        server.close()
        #expect(try await receiveExactly(3, from: client) == [9, 8, 7])
        var buffer = [UInt8](repeating: 0, count: 16)
        #expect(try await client.read(into: &buffer) == 0)
        #expect(try await client.read(into: &buffer) == 0)
        // The first write may still be accepted by the kernel: it reaches the closed socket, whose
        // kernel answers with a reset (RST). Once the loop reported that, a write fails.
        var failure: WebSocketError?
        do { try await client.write([[1, 2, 3]]) } catch let error as WebSocketError { failure = error }
        if failure == nil {
            #expect(try await awaitState("the peer's reset is reported") { await client.registration.waitUntilErrorReported() })
            do { try await client.write([[1, 2, 3]]) } catch let error as WebSocketError { failure = error }
        }
        #expect(failure?.status == .connectionAborted)
    }

    @Test("cancelling a task blocked in read resumes it with operationCanceled")
    func cancellingBlockedReadResumes() async throws {
        let (client, server, listener) = try await tcpPair()
        defer {
            client.close()
            server.close()
            listener.close()
        }
        let reading = Task {
            var buffer = [UInt8](repeating: 0, count: 16)
            return try await client.read(into: &buffer)
        }
        // Blocked for real: parked at the readiness gate, waiting for bytes that never come.
        #expect(try await awaitState("the read is parked") { await client.registration.waitUntilParked(.readable) })
        reading.cancel()
        let result = await reading.result
        if case .failure(let error as WebSocketError) = result {
            #expect(error.status == .operationCanceled)
        } else {
            Issue.record("expected operationCanceled, got \(result)")
        }
        // The transport is still usable afterwards.
        try await server.write([[42]])
        #expect(try await receiveExactly(1, from: client) == [42])
    }

    @Test("closing the listener wakes a pending accept")
    func listenerCloseWakesAccept() async throws {
        let listener = try TCPListener.bind(host: "::1", port: 0)
        let accepting = Task { try await listener.accept() }
        #expect(try await awaitState("the accept is pending") { await listener.waitUntilAcceptIsPending() })
        listener.close()
        let result = await accepting.result
        if case .failure(let error as WebSocketError) = result {
            #expect(error.status == .closed)
        } else {
            Issue.record("expected closed, got \(result)")
        }
    }

    @Test("binding rejects a host name and reports an address in use")
    func bindErrors() throws {
        #expect(throws: WebSocketError.self) { try TCPListener.bind(host: "localhost", port: 0) }
        let listener = try TCPListener.bind(host: "127.0.0.1", port: 0)
        defer { listener.close() }
        let error = #expect(throws: WebSocketError.self) { try TCPListener.bind(host: "127.0.0.1", port: listener.port) }
        #expect(error?.status == .invalidArgument)
    }

    @Test("closing releases the descriptor: 200 connect/close cycles leave the count flat", .exclusiveProcessResources)
    func closeReleasesDescriptors() async throws {
        let listener = try TCPListener.bind(host: "127.0.0.1", port: 0)
        defer { listener.close() }
        // Warm up: the loop's and the listener's own descriptors exist before the baseline.
        let (warmClient, warmServer, warmListener) = try await tcpPair()
        warmClient.close()
        warmServer.close()
        warmListener.close()
        let before = countOpenDescriptors()
        for _ in 0..<200 {
            async let accepted = listener.accept()
            let client = try await TCPTransport.connect(host: "127.0.0.1", port: listener.port)
            let server = try await accepted
            client.close()
            server.close()
        }
        let after = countOpenDescriptors()
        // Other suites run in parallel and may hold a few descriptors at either moment; a leak
        // here would show up as +200 or +400.
        #expect(after - before < 10, "descriptors before: \(before), after: \(after)")
    }
}
