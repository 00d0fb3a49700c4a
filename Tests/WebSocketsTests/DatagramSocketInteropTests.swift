import Testing

@testable import WebSockets

/// `DatagramSocket` against Python's `socket` stack (`Scripts/python/udp_echo_server.py`, an
/// independent UDP implementation): every datagram comes back whole, its boundaries kept.
@Suite(
    "DatagramSocket interop with Python's socket", .enabled(if: PythonPeer.shouldRun, PythonPeer.skipMessage),
    .timeLimit(.minutes(1)))
struct DatagramSocketInteropTests {
    @Test("a connected socket's datagrams come back from a Python echo, IPv4 and IPv6", arguments: ["127.0.0.1", "::1"])
    func connectedEcho(loopback: String) async throws {
        let peer = try await PythonPeer(script: "udp_echo_server.py", arguments: ["--host", loopback])
        let socket = DatagramSocket()
        try await withTeardown(socket) { _ in
            try await socket.connect(host: loopback, port: peer.port)
            let payloads: [[UInt8]] = [Array("hello".utf8), [], (0..<60000).map { UInt8(truncatingIfNeeded: $0 * 7) }]
            for payload in payloads { try await socket.send(payload) }
            for payload in payloads {
                let echo = try await nextDatagram(socket, "the echo of \(payload.count) bytes")
                let same = echo.bytes == payload  // not in #expect: it would print 60000 bytes
                #expect(same, "the echo of \(payload.count) bytes came back as \(echo.bytes.count) different bytes")
                #expect(echo.remote == SocketEndpoint(address: loopback, port: peer.port))
            }
        }
    }

    @Test("a bound dual-stack socket reaches a Python IPv4 peer and sees it as IPv4")
    func boundDualStack() async throws {
        let peer = try await PythonPeer(script: "udp_echo_server.py")
        let socket = DatagramSocket()
        try await withTeardown(socket) { _ in
            try await socket.bind()  // every address, IPv6 and IPv4
            let target = try #require(SocketEndpoint(address: "127.0.0.1", port: peer.port))
            try await socket.send(Array("dual".utf8), to: target)
            let echo = try await nextDatagram(socket)
            #expect(echo.bytes == Array("dual".utf8))
            #expect(echo.remote == target)  // not ::ffff:127.0.0.1
            #expect(echo.local.address == "127.0.0.1")
        }
    }
}

/// `websocket udp HOST PORT` (a CLI contract): stdin lines out as datagrams, datagrams in as
/// stdout lines, exit 0 a second after stdin's EOF, `error <status>: <message>` and 1 on failure.
@Suite("CLI: websocket udp", .timeLimit(.minutes(1)))
struct UDPCommandTests {
    @Test("each stdin line goes out as one datagram and each datagram received is printed as a line")
    func linesAndDatagrams() async throws {
        let (echo, end) = try await boundSocket("127.0.0.1")
        try await withTeardown(echo) { _ in
            let echoing = Task {
                var sizes: [Int] = []
                for try await datagram in echo.datagrams {
                    sizes.append(datagram.bytes.count)
                    try await echo.send(Array("echo: ".utf8) + datagram.bytes, to: datagram.remote)
                }
                return sizes
            }
            let result = try await runCLI(
                ["udp", "127.0.0.1", String(end.port)], input: "hello\nworld\n",
                closeInputWhen: { $0.contains("echo: hello\necho: world\n") })
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout == "echo: hello\necho: world\n")
            await echo.close()
            #expect(try await echoing.value == [5, 5])  // no newline went out
        }
    }

    @Test("a bad port exits 1 with the error line")
    func badPort() async throws {
        let result = try await runCLI(["udp", "127.0.0.1", "0"])
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("error invalidArgument: "), "\(result.stderr)")
        #expect(result.stdout.isEmpty)
    }
}
