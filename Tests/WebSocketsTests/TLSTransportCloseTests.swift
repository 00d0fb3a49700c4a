import Dispatch
import Synchronization
import Testing

@testable import WebSockets

/// A ``Transport`` that forwards to a ``TCPTransport`` and remembers whether one of its reads
/// returned end of stream. Under a ``TLSTransport`` it tells a TLS-level end (`close_notify`,
/// decrypted before the TCP stream ends) from a bare TCP end.
///
/// Forwards ``ImmediateWriting`` too, as the TCP transport it stands for offers it: that is how
/// `TLSTransport.close()` sends `close_notify` without waiting; it counts the bytes sent that way.
/// And it can hold one write in flight, parked before it reaches TCP, until the test lets it go.
final class EndRecordingTransport: Transport, ImmediateWriting {
    let tcp: TCPTransport
    private let sawEnd = Atomic<Bool>(false)
    private let immediate = Atomic<Int>(0)
    private let holding = Atomic<Bool>(false)
    private let parkedSignal = AsyncStream<Void>.makeStream()
    private let releaseSignal = AsyncStream<Void>.makeStream()
    private let reads = Lock<(addresses: [UInt], previous: [UInt8])>(([], []))

    init(_ tcp: TCPTransport) { self.tcp = tcp }

    /// Whether a read of the TCP stream returned 0.
    var sawEndOfStream: Bool { sawEnd.load(ordering: .acquiring) }
    /// How many bytes went out through ``writeWithoutWaiting(_:)``.
    var bytesWrittenWithoutWaiting: Int { immediate.load(ordering: .acquiring) }

    /// The next write parks before reaching TCP: ``waitUntilWriteParked()`` returns once it has,
    /// ``releaseParkedWrite()`` lets it continue.
    func holdNextWrite() { holding.store(true, ordering: .releasing) }
    func waitUntilWriteParked() async {
        for await _ in parkedSignal.stream { return }
    }
    func releaseParkedWrite() { releaseSignal.continuation.yield() }

    /// The address of the storage of every buffer a read was given, in order.
    var readBufferAddresses: [UInt] { reads.withLock { $0.addresses } }

    func read(into buffer: inout [UInt8], isolation: isolated (any Actor)?) async throws -> Int {
        // The previous read's storage is kept alive until now: had the caller allocated a new
        // buffer for this read, it could not have landed at the same address.
        reads.withLock { $0.previous = [] }
        let address = buffer.withUnsafeBytes { UInt(bitPattern: $0.baseAddress) }
        reads.withLock { $0.addresses.append(address) }
        let count = try await tcp.read(into: &buffer, isolation: isolation)
        if count == 0 { sawEnd.store(true, ordering: .releasing) }
        let storage = buffer
        reads.withLock { $0.previous = storage }
        return count
    }

    func write(_ buffers: [[UInt8]], isolation: isolated (any Actor)?) async throws {
        if holding.exchange(false, ordering: .acquiringAndReleasing) {
            parkedSignal.continuation.yield()
            for await _ in releaseSignal.stream { break }
        }
        try await tcp.write(buffers, isolation: isolation)
    }

    func writeWithoutWaiting(_ bytes: [UInt8]) -> Int {
        let count = tcp.writeWithoutWaiting(bytes)
        immediate.add(count, ordering: .acquiringAndReleasing)
        return count
    }

    func close() { tcp.close() }
    var localAddress: String? { tcp.localAddress }
    var remoteAddress: String? { tcp.remoteAddress }
}

/// Two ``TLSTransport``s connected over loopback TCP, with the test certificates, each over an
/// ``EndRecordingTransport``. One message has gone each way, so both have read everything the
/// handshake sent (TLS 1.3 session tickets included) and neither has unread bytes: closing either
/// side sends a FIN, never a reset.
struct TLSTransportTestPair {
    let client: TLSTransport
    let server: TLSTransport
    let clientTCP: EndRecordingTransport
    let serverTCP: EndRecordingTransport
    let listener: TCPListener

    static func make() async throws -> TLSTransportTestPair {
        let fixtures = TLSFixtures.shared
        let listener = try TCPListener.bind(host: "127.0.0.1", port: 0)
        async let acceptedTCP = listener.accept()
        let clientTCP = EndRecordingTransport(try await TCPTransport.connect(host: "127.0.0.1", port: listener.port))
        let serverTCP = EndRecordingTransport(try await acceptedTCP)
        let context = try TLSServerContext(configuration: TLSServerConfiguration(identity: fixtures.identity("server")))
        async let accepted = TLSTransport.accept(over: serverTCP, context: context, isolation: nil)
        var configuration = TLSClientConfiguration()
        configuration.additionalTrustRoots = [fixtures.caRoot]
        let client = try await TLSTransport.connect(
            over: clientTCP, serverName: "localhost", configuration: configuration, isolation: nil)
        let server = try await accepted
        let pair = TLSTransportTestPair(
            client: client, server: server, clientTCP: clientTCP, serverTCP: serverTCP, listener: listener)
        try await client.write([Array("ping".utf8)], isolation: nil)
        #expect(try await pair.receive(4, from: server) == Array("ping".utf8))
        try await server.write([Array("pong".utf8)], isolation: nil)
        #expect(try await pair.receive(4, from: client) == Array("pong".utf8))
        return pair
    }

    /// Reads until `count` bytes arrived or the stream ended.
    func receive(_ count: Int, from transport: any Transport) async throws -> [UInt8] {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while received.count < count {
            let n = try await transport.read(into: &buffer, isolation: nil)
            if n == 0 { break }
            received += buffer[..<n]
        }
        return received
    }

    func closeAll() {
        client.close()
        server.close()
        listener.close()
    }
}

@Suite("TLSTransport close")
struct TLSTransportCloseTests {
    @Test("reads reuse one ciphertext buffer: every read of the inner transport gets the same storage")
    func readsReuseOneCiphertextBuffer() async throws {
        let pair = try await TLSTransportTestPair.make()
        defer {
            pair.client.close()
            pair.server.close()
            pair.listener.close()
        }
        let before = pair.clientTCP.readBufferAddresses.count
        for round in 0..<20 {
            let message = [UInt8](repeating: UInt8(round), count: 1000 + round)
            try await pair.server.write([message], isolation: nil)
            #expect(try await pair.receive(message.count, from: pair.client) == message)
        }
        let addresses = pair.clientTCP.readBufferAddresses.dropFirst(before)
        #expect(addresses.count >= 20)
        #expect(Set(addresses).count == 1, "a new ciphertext buffer for some reads: \(Set(addresses).count) distinct")
    }

    @Test(
        "close() sends close_notify: the peer's read returns 0 before its TCP stream ends",
        arguments: ["client", "server"])
    func closeSendsCloseNotify(closing side: String) async throws {
        let pair = try await TLSTransportTestPair.make()
        defer { pair.closeAll() }
        let (closer, reader, readerTCP) =
            side == "client"
            ? (pair.client, pair.server, pair.serverTCP)
            : (pair.server, pair.client, pair.clientTCP)
        closer.close()
        var buffer = [UInt8](repeating: 0, count: 64)
        let count = try await reader.read(into: &buffer, isolation: nil)
        #expect(count == 0)
        #expect(!readerTCP.sawEndOfStream, "the read ended on the TCP end, not on close_notify")
        #expect(try await reader.read(into: &buffer, isolation: nil) == 0, "the end is sticky")
    }

    @Test("close() from many threads at once sends one close_notify, as one close() does; then reads and writes throw .closed")
    func concurrentCloseIsIdempotent() async throws {
        let reference = try await TLSTransportTestPair.make()
        defer { reference.closeAll() }
        reference.server.close()
        let oneClose = reference.serverTCP.bytesWrittenWithoutWaiting
        #expect(oneClose > 0)

        let pair = try await TLSTransportTestPair.make()
        defer { pair.closeAll() }
        let server = pair.server
        DispatchQueue.concurrentPerform(iterations: 16) { _ in server.close() }
        server.close()
        #expect(pair.serverTCP.bytesWrittenWithoutWaiting == oneClose, "one alert, not one per call")
        var buffer = [UInt8](repeating: 0, count: 64)
        #expect(try await pair.client.read(into: &buffer, isolation: nil) == 0)
        #expect(!pair.clientTCP.sawEndOfStream)
        #expect(await thrownStatus { _ = try await server.read(into: &buffer, isolation: nil) } == .closed)
        #expect(await thrownStatus { try await server.write([[1]], isolation: nil) } == .closed)
    }

    @Test("a read in progress when close() is called, or started after it, throws .closed")
    func readDuringClose() async throws {
        let pair = try await TLSTransportTestPair.make()
        defer { pair.closeAll() }
        let server = pair.server
        // Whether the read parks before close() runs or starts after it, it must throw `.closed`.
        let reading = Task {
            await thrownStatus {
                var buffer = [UInt8](repeating: 0, count: 64)
                _ = try await server.read(into: &buffer, isolation: nil)
            }
        }
        server.close()
        #expect(await reading.value == .closed)
    }

    @Test("close() while a write is on its way sends no close_notify (it would land inside that write's records)")
    func closeDuringParkedWrite() async throws {
        let pair = try await TLSTransportTestPair.make()
        defer { pair.closeAll() }
        let server = pair.server
        pair.serverTCP.holdNextWrite()
        let writing = Task { await thrownStatus { try await server.write([Array("late".utf8)], isolation: nil) } }
        await pair.serverTCP.waitUntilWriteParked()
        // The write holds the TLS write gate with its ciphertext not yet on the wire.
        server.close()
        #expect(pair.serverTCP.bytesWrittenWithoutWaiting == 0)
        pair.serverTCP.releaseParkedWrite()
        #expect(await writing.value == .closed, "the parked write finds the TCP transport closed")
        var buffer = [UInt8](repeating: 0, count: 64)
        #expect(try await pair.client.read(into: &buffer, isolation: nil) == 0, "a bare TCP end still reads as the end")
        #expect(pair.clientTCP.sawEndOfStream)
    }

    @Test(
        "close() during a large write blocked on a full socket: close() returns, the write throws .closed, the peer reads to a clean 0"
    )
    func closeDuringBlockedWrite() async throws {
        let pair = try await TLSTransportTestPair.make()
        defer { pair.closeAll() }
        let server = pair.server
        let payload = [UInt8](repeating: 0x5A, count: 8 << 20)
        // Larger than the socket buffers: the write waits for the reader, whose reads start below.
        let writing = Task { await thrownStatus { try await server.write([payload], isolation: nil) } }
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        var received = 0
        var closed = false
        while true {
            // A TLS error here (a bad record MAC, a decode error) would mean that bytes of close()
            // landed between bytes of the write.
            let count = try await pair.client.read(into: &buffer, isolation: nil)
            if count == 0 { break }
            #expect(buffer[..<count].allSatisfy { $0 == 0x5A })
            received += count
            if !closed && received >= 1 << 20 {
                // Mid-stream: the write is in progress or, rarely, already done.
                server.close()
                closed = true
            }
        }
        #expect(received <= payload.count)
        let status = await writing.value
        #expect(status == nil || status == .closed)
        if received < payload.count { #expect(status == .closed) }
    }
}
