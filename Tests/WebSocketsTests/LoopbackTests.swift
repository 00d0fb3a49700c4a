import Testing
import WebSocketServer

@testable import WebSockets

#if canImport(Glibc)
    import Glibc
#endif

/// The number of open file descriptors of this process.
func openDescriptorCount() -> Int {
    var count = 0
    guard let directory = opendir("/proc/self/fd") else { return -1 }
    while readdir(directory) != nil { count += 1 }
    closedir(directory)
    return count
}

/// A loopback port that refuses connections while this value is open: a TCP socket bound to it
/// that never listens, so a connection attempt gets a reset (`ECONNREFUSED`) and no other socket
/// can take the port meanwhile.
///
/// Why not bind a listener, note its port and close it: between that close and the connect, a test
/// running in parallel can get the same port (the suite keeps up to ~2,000 descriptors open), for a
/// listener or as the local port of a connection; the "refused" connect then reaches that socket
/// and does not fail with `cannotConnect` (seen under `--sanitize=address`).
final class RefusingPort {
    let port: Int
    private let fd: CInt

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw PeerError("socket failed: errno \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                bind(fd, address, length) == 0 && getsockname(fd, address, &length) == 0
            }
        }
        guard bound else {
            let error = errno
            Glibc.close(fd)
            throw PeerError("bind to 127.0.0.1:0 failed: errno \(error)")
        }
        self.fd = fd
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    /// Frees the port; call it after the connection attempt (it keeps this value alive until then).
    func close() {
        Glibc.close(fd)
    }
}

/// Client and server over real loopback TCP, both from this package.
@Suite("Loopback TCP against the package's own server")
struct LoopbackTests {
    @Test("text, binary, empty, 1 MiB and large multi-byte text messages echo intact over IPv4")
    func echoOverIPv4() async throws {
        try await withTeardown(await WebSocketServer.echo()) { server in
            let socket = MessageWebSocket()
            try await socket.connect(to: server.url(path: "/echo"))
            let big = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
            let messages: [Message] = [
                .text("héllo"), .binary([0, 1, 2]), .text(""), .binary(big), .text(String(repeating: "z", count: 70_000)),
                // Large enough to be read straight into the message; characters span reads.
                .text(String(repeating: "é€𝄞", count: 40_000)),
            ]
            var iterator = socket.messages.makeAsyncIterator()
            for message in messages {
                try await socket.send(message)
                #expect(try await iterator.next() == message)
            }
            let info = await socket.information
            #expect(info.remoteAddress == "127.0.0.1:\(server.port)")
            #expect(info.statistics.messagesReceived == messages.count)
            try await socket.close(code: .normalClosure, reason: "done")
            #expect(try await iterator.next() == nil)
            #expect(await socket.closeStatus?.code == .normalClosure)
        }
    }

    @Test("IPv6 loopback works end to end")
    func echoOverIPv6() async throws {
        var configuration = WebSocketServer.Configuration()
        configuration.host = "::1"
        try await withTeardown(
            await WebSocketServer.start(configuration: configuration) { socket in
                for try await message in socket.messages { try await socket.send(message) }
            }
        ) { server in
            let socket = MessageWebSocket()
            try await socket.connect(to: "ws://[::1]:\(server.port)/")
            try await socket.send(text: "v6")
            var iterator = socket.messages.makeAsyncIterator()
            #expect(try await iterator.next() == .text("v6"))
            #expect(await socket.information.remoteAddress == "[::1]:\(server.port)")
            try await socket.close()
        }
    }

    @Test("a server-initiated close reaches the client with its code and reason")
    func serverInitiatedClose() async throws {
        try await withTeardown(
            await WebSocketServer.start { socket in
                try await socket.close(code: CloseCode(4001), reason: "server says bye")
            }
        ) { server in
            let socket = MessageWebSocket()
            try await socket.connect(to: server.url())
            let ending = await drain(socket)
            #expect(ending.error == nil)
            #expect(await socket.closeStatus == WebSocketCloseStatus(code: CloseCode(4001), reason: "server says bye"))
        }
    }

    /// A missed edge would leave the read parked forever (nothing else wakes it): the time limit
    /// turns that into a failure. No wall-clock assertion: a loaded machine is not a bug.
    @Test("end of stream arriving with the last data is seen, not lost in the same edge", .timeLimit(.minutes(1)))
    func endOfStreamRightAfterData() async throws {
        let listener = try TCPListener.bind(host: "127.0.0.1", port: 0)
        defer { listener.close() }
        for _ in 0..<20 {
            async let accepted = listener.accept()
            let client = try await TCPTransport.connect(host: "127.0.0.1", port: listener.port)
            let server = try await accepted
            try await server.write([[1, 2, 3]], isolation: nil)
            server.close()  // FIN right behind the data: epoll reports both in one edge
            var buffer = [UInt8](repeating: 0, count: 64)
            var total = 0
            while true {
                let count = try await client.read(into: &buffer, isolation: nil)
                if count == 0 { break }
                total += count
            }
            #expect(total == 3)
            client.close()
        }
    }

    @Test("connecting to a closed port fails with cannotConnect")
    func refusedConnection() async throws {
        let refusing = try RefusingPort()
        let socket = MessageWebSocket()
        #expect(await thrownStatus { try await socket.connect(to: "ws://127.0.0.1:\(refusing.port)/") } == .cannotConnect)
        refusing.close()
    }

    @Test("an unresolvable host fails with hostNameNotResolved")
    func unresolvableHost() async throws {
        let socket = MessageWebSocket()
        #expect(await thrownStatus { try await socket.connect(to: "ws://no-such-host.invalid/") } == .hostNameNotResolved)
    }

    @Test("a plain HTTP request to the server gets 400 and the client reports handshakeFailed(400)")
    func nonWebSocketRequestGets400() async throws {
        try await withTeardown(await WebSocketServer.echo()) { server in
            let transport = try await TCPTransport.connect(host: "127.0.0.1", port: server.port)
            try await transport.write([Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8)], isolation: nil)
            var buffer = [UInt8](repeating: 0, count: 1024)
            let count = try await transport.read(into: &buffer, isolation: nil)
            let response = String(decoding: buffer[..<count], as: UTF8.self)
            #expect(response.hasPrefix("HTTP/1.1 400") || response.hasPrefix("HTTP/1.1 426"))
            transport.close()
        }
    }

    @Test("send suspends while the outbound buffer is over its limit (backpressure)")
    func sendBackpressure() async throws {
        let release = AsyncStream<Void>.makeStream()
        var configuration = WebSocketServer.Configuration()
        configuration.maxPendingMessages = 1
        try await withTeardown(
            await WebSocketServer.start(configuration: configuration) { socket in
                for await _ in release.stream { break }  // do not read until released
                for try await _ in socket.messages {}
            }
        ) { server in
            var control = MessageWebSocketControl()
            control.outboundBufferSize = 64 * 1024
            // Uncompressed: permessage-deflate would shrink each chunk of ones to a few hundred
            // bytes, and the socket would never fill.
            control.compression = .disabled
            let socket = MessageWebSocket(control: control)
            // The TCP transport `connect(to:)` would open, opened here so that its socket can be watched.
            let transport = try await TCPTransport.connect(host: "127.0.0.1", port: server.port)
            try await socket.connect(to: server.url(), over: transport)
            let chunk = [UInt8](repeating: 1, count: 256 * 1024)
            let returned = SharedCounter()
            let sender = Task {
                var sent = 0
                for _ in 0..<200 {
                    try await socket.send(chunk)
                    sent += 1
                    returned.increment()
                }
                return sent
            }
            // The socket's buffers are full while the server does not read: the connection's
            // write is parked, waiting for the socket to drain.
            #expect(
                try await awaitState("the client's write waits for the socket") {
                    await transport.registration.waitUntilParked(.writable)
                })
            let sends = returned.value
            let written = await socket.information.statistics.bytesSent
            // 200 × 256 KiB = 50 MiB cannot all have gone out while the server is not reading.
            #expect(written < 40 * 1024 * 1024)
            #expect(sends < 200)
            // No send returned before its message was written (only `outboundBufferSize` may wait
            // queued, and each message is bigger): the sends that returned were held back.
            #expect(written >= sends * chunk.count, "\(sends) sends returned, only \(written) bytes written")
            release.continuation.yield()
            #expect(try await sender.value == 200)
            try await socket.close()
        }
    }

    @Test("many 1 MiB messages in flight both ways never stall (both ends' buffers full)", .timeLimit(.minutes(1)))
    func largeMessagesInFlightBothWays() async throws {
        try await withTeardown(await WebSocketServer.echo()) { server in
            let socket = MessageWebSocket()
            try await socket.connect(to: server.url())
            let payload = [UInt8](repeating: 0x5A, count: 1 << 20)
            let count = 48
            let sender = Task {
                for _ in 0..<count { try await socket.send(payload) }
            }
            var received = 0
            for try await message in socket.messages {
                #expect(message == .binary(payload))
                received += 1
                if received == count { break }
            }
            try await sender.value
            #expect(received == count)
            try await socket.close()
        }
    }

    /// The bounded soak (the long one is `websocket soak`, README "Scale and soak").
    @Test("300 connect/echo/close cycles return the descriptor count to its baseline", .exclusiveProcessResources)
    func descriptorsAreReleased() async throws {
        try await withTeardown(await WebSocketServer.echo()) { server in
            // Warm up lazily created descriptors (event loop, epoll) before measuring.
            let warmup = MessageWebSocket()
            try await warmup.connect(to: server.url())
            try await warmup.close()
            // The server's side of it has ended too (its socket closed).
            try await awaitState("the server has no open connection") {
                await server.listener.waitUntil { $0.openConnections == 0 }
            }
            let before = openDescriptorCount()
            for cycle in 0..<300 {
                let socket = MessageWebSocket()
                try await socket.connect(to: server.url())
                var messages = socket.messages.makeAsyncIterator()
                try await socket.send(text: "cycle \(cycle)")
                #expect(try await messages.next() == .text("cycle \(cycle)"))
                try await socket.close()
            }
            try await awaitState("the server has no open connection") {
                await server.listener.waitUntil { $0.openConnections == 0 }
            }
            #expect(openDescriptorCount() <= before + 2)
        }
    }
}
