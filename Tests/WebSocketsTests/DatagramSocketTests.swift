import Testing

@testable import WebSockets

#if canImport(Glibc)
    import Glibc
#endif

/// `DatagramSocket` over loopback UDP, IPv4 and IPv6 (RFC 768: datagrams, each delivered whole
/// or not at all; the seed's §13 for bind, connect and control).
@Suite("DatagramSocket over loopback", .timeLimit(.minutes(1)))
struct DatagramSocketTests {
    static let loopbacks = ["127.0.0.1", "::1"]

    @Test("a datagram and its echo cross between a connected and a bound socket", arguments: loopbacks)
    func echo(loopback: String) async throws {
        let (server, serverEnd) = try await boundSocket(loopback)
        let client = DatagramSocket()
        try await withSockets(server, client) {
            try await client.connect(host: loopback, port: serverEnd.port)
            let clientInfo = await client.information
            let clientEnd = try #require(clientInfo.localEndpoint)
            #expect(clientInfo.remoteEndpoint == serverEnd)
            #expect(serverEnd.address == loopback && serverEnd.port != 0)

            try await client.send(Array("ping".utf8))
            let request = try await nextDatagram(server, "the request")
            #expect(request.bytes == Array("ping".utf8))
            #expect(request.remote == clientEnd)
            #expect(request.local == serverEnd)
            #expect(!request.isOversized)

            try await server.send(request.bytes + Array("!".utf8), to: request.remote)
            let reply = try await nextDatagram(client, "the reply")
            #expect(reply.bytes == Array("ping!".utf8))
            #expect(reply.remote == serverEnd)
        }
    }

    @Test("datagram boundaries are kept: sizes 0, 1, 1000 and 65507 arrive as sent", arguments: loopbacks)
    func boundaries(loopback: String) async throws {
        let (receiver, end) = try await boundSocket(loopback)
        let sender = DatagramSocket()
        try await withSockets(receiver, sender) {
            let sizes = [0, 1, 1000, DatagramSocket.maxSendSize]
            for size in sizes {
                try await sender.send([UInt8](repeating: UInt8(size % 251), count: size), to: end)
            }
            for size in sizes {
                let datagram = try await nextDatagram(receiver, "the \(size)-byte datagram")
                let same = datagram.bytes == [UInt8](repeating: UInt8(size % 251), count: size)
                #expect(same, "the \(size)-byte datagram arrived as \(datagram.bytes.count) different bytes")
                #expect(datagram.length == size)
            }
        }
    }

    @Test("a connected socket receives only its peer's datagrams", arguments: loopbacks)
    func connectedFiltering(loopback: String) async throws {
        let (peer, peerEnd) = try await boundSocket(loopback)
        let (target, targetEnd) = try await boundSocket(loopback)
        let intruder = DatagramSocket()
        try await withSockets(peer, target) {
            try await withTeardown(intruder) { _ in
                // `target` is bound; connecting it would be a second open: use a fresh socket.
                let connected = DatagramSocket()
                try await withTeardown(connected) { _ in
                    try await connected.connect(host: loopback, port: peerEnd.port)
                    let connectedEnd = try #require(await connected.information.localEndpoint)
                    // A bound socket receives from anyone (the control case)...
                    try await intruder.send(Array("to target".utf8), to: targetEnd)
                    #expect(try await nextDatagram(target).bytes == Array("to target".utf8))
                    // ...a connected one only from its peer: the intruder's datagram, sent first,
                    // never arrives; the peer's, sent after it, is the first delivered.
                    try await intruder.send(Array("intruder".utf8), to: connectedEnd)
                    try await peer.send(Array("from peer".utf8), to: connectedEnd)
                    let first = try await nextDatagram(connected, "the peer's datagram")
                    #expect(first.bytes == Array("from peer".utf8))
                    #expect(first.remote == peerEnd)
                    try await peer.send(Array("again".utf8), to: connectedEnd)
                    #expect(try await nextDatagram(connected).bytes == Array("again".utf8))
                    #expect(await connected.information.droppedDatagrams == 0)
                }
            }
        }
    }

    @Test("a datagram larger than maxDatagramSize is flagged with its real size, never cut")
    func oversizedIsReported() async throws {
        var control = DatagramSocketControl()
        control.maxDatagramSize = 100
        let (receiver, end) = try await boundSocket("127.0.0.1", control: control)
        let sender = DatagramSocket()
        try await withSockets(receiver, sender) {
            try await sender.send([UInt8](repeating: 7, count: 101), to: end)
            try await sender.send([UInt8](repeating: 8, count: 100), to: end)
            let oversized = try await nextDatagram(receiver, "the oversized datagram")
            #expect(oversized.isOversized)
            #expect(oversized.length == 101)
            #expect(oversized.bytes.isEmpty)
            let fitting = try await nextDatagram(receiver, "the fitting datagram")
            #expect(!fitting.isOversized)
            #expect(fitting.bytes == [UInt8](repeating: 8, count: 100))
        }
    }

    @Test("a datagram larger than the kernel's receive buffer still arrives whole")
    func largerThanReceiveBuffer() async throws {
        var control = DatagramSocketControl()
        control.inboundBufferSize = 1024  // Linux raises it to its minimum (about 2.3 KiB)
        let (receiver, end) = try await boundSocket("127.0.0.1", control: control)
        let buffer = try #require(await receiver.channel?.option(SOL_SOCKET, SO_RCVBUF))
        #expect(buffer < 60000)
        let sender = DatagramSocket()
        try await withSockets(receiver, sender) {
            let payload = (0..<60000).map { UInt8(truncatingIfNeeded: $0) }
            try await sender.send(payload, to: end)
            let datagram = try await nextDatagram(receiver, "the 60000-byte datagram")
            let same = datagram.bytes == payload  // not in #expect: it would print 60000 bytes
            #expect(same, "the 60000-byte datagram arrived as \(datagram.bytes.count) different bytes")
        }
    }

    @Test("sending more than 65507 bytes throws messageTooLong before anything is sent")
    func tooLongToSend() async throws {
        let (socket, end) = try await boundSocket("127.0.0.1")
        try await withTeardown(socket) { _ in
            await expectSocketError(.messageTooLong) {
                try await socket.send([UInt8](repeating: 0, count: DatagramSocket.maxSendSize + 1), to: end)
            }
            try await socket.send(Array("after".utf8), to: end)  // to itself
            #expect(try await nextDatagram(socket).bytes == Array("after".utf8))
        }
    }

    @Test("datagrams beyond maxPendingDatagrams are dropped and counted, the first ones kept")
    func pendingLimitDrops() async throws {
        var control = DatagramSocketControl()
        control.maxPendingDatagrams = 2
        let (receiver, end) = try await boundSocket("127.0.0.1", control: control)
        let sender = DatagramSocket()
        try await withSockets(receiver, sender) {
            for index in 1...5 { try await sender.send([UInt8(index)], to: end) }
            try await awaitState("the receiver took 5 datagrams") { await receiver.waitUntilReceived(5) }
            #expect(await receiver.information.droppedDatagrams == 3)
            #expect(try await nextDatagram(receiver).bytes == [1])
            #expect(try await nextDatagram(receiver).bytes == [2])
            try await sender.send([6], to: end)
            #expect(try await nextDatagram(receiver).bytes == [6])
        }
    }

    @Test("control is frozen after bind, except the hop limit, which applies at once")
    func controlAfterBind() async throws {
        var control = DatagramSocketControl()
        control.dontFragment = true
        control.outboundUnicastHopLimit = 9
        let (socket, _) = try await boundSocket("127.0.0.1", control: control)
        try await withTeardown(socket) { _ in
            let channel = try #require(await socket.channel)
            #expect(channel.option(CInt(IPPROTO_IP), IP_MTU_DISCOVER) == IP_PMTUDISC_DO)
            #expect(channel.option(CInt(IPPROTO_IP), IP_TTL) == 9)
            await expectSocketError(.invalidState) { try await socket.configure { $0.dontFragment = false } }
            await expectSocketError(.invalidState) { try await socket.configure { $0.inboundBufferSize = 4096 } }
            await expectSocketError(.invalidState) { try await socket.configure { $0.multicastOnly = true } }
            #expect(await socket.control.dontFragment)
            try await socket.configure { $0.outboundUnicastHopLimit = 3 }
            #expect(channel.option(CInt(IPPROTO_IP), IP_TTL) == 3)
            await expectSocketError(.invalidArgument) { try await socket.configure { $0.outboundUnicastHopLimit = 256 } }
        }
    }

    @Test("misuse gets a clear status: state, arguments, a second bind, after close")
    func misuse() async throws {
        let socket = DatagramSocket()
        await expectSocketError(.invalidState) { try await socket.send([1]) }
        await expectSocketError(.invalidState) { try await socket.joinMulticastGroup("239.1.2.3") }
        await expectSocketError(.invalidArgument) { try await socket.bind(port: 70000, address: "127.0.0.1") }
        await expectSocketError(.invalidArgument) { try await socket.connect(host: "239.1.2.3", port: 9) }
        await expectSocketError(.invalidArgument) { try await socket.connect(host: "127.0.0.1", port: 0) }
        try await socket.bind(port: 0, address: "127.0.0.1")
        await expectSocketError(.invalidState) { try await socket.bind(port: 0, address: "127.0.0.1") }
        await expectSocketError(.invalidState) { try await socket.send([1]) }  // bound, not connected
        await expectSocketError(.invalidArgument) { try await socket.joinMulticastGroup("127.0.0.1") }
        await socket.close()
        await expectSocketError(.closed) { try await socket.send([1], to: SocketEndpoint(address: "127.0.0.1", port: 9)!) }
        var ended = false
        for try await _ in socket.datagrams {}
        ended = true
        #expect(ended)
        #expect(await socket.information.localEndpoint == nil)
    }

    @Test("a port in use is refused, unless every socket on it sets multicastOnly")
    func portSharing() async throws {
        let (first, end) = try await boundSocket("127.0.0.1")
        try await withTeardown(first) { _ in
            let second = DatagramSocket()
            await expectSocketError(.addressAlreadyInUse) { try await second.bind(port: end.port, address: "127.0.0.1") }
            await second.close()
        }
        var shared = DatagramSocketControl()
        shared.multicastOnly = true
        let (a, sharedEnd) = try await boundSocket("127.0.0.1", control: shared)
        let b = DatagramSocket(control: shared)
        try await withSockets(a, b) {
            try await b.bind(port: sharedEnd.port, address: "127.0.0.1")
            #expect(await b.information.localEndpoint == sharedEnd)
        }
    }
}
