import Testing
import WebSocketCore
import WebSocketTesting

@testable import WebSockets

/// A stream socket connected to a scripted peer over an in-memory pair.
func connectedStreamPair(control: StreamWebSocketControl = .init()) async throws -> (
    socket: StreamWebSocket, peer: MockWebSocketServer
) {
    let socket = StreamWebSocket(control: control)
    let peer = try await MockWebSocketServer.acceptingPeer { try await socket.connect(to: "ws://mock.test/", over: $0) }
    return (socket, peer)
}

/// Reads `input` to its end; returns the bytes and how it ended.
func drainStream(_ input: AsyncThrowingStream<[UInt8], any Error>) async -> (bytes: [UInt8], error: WebSocketError.Status?) {
    var bytes: [UInt8] = []
    do {
        for try await chunk in input { bytes += chunk }
        return (bytes, nil)
    } catch {
        return (bytes, (error as? WebSocketError)?.status ?? .operationCanceled)
    }
}

/// `StreamWebSocket` (WinRT `StreamWebSocket`) over an in-memory pair against the scripted peer.
@Suite("StreamWebSocket over an in-memory transport", .timeLimit(.minutes(1)))
struct StreamWebSocketTests {
    @Test("bytes of a message are read before the message ends (no assembly, RFC 6455 §5.4 fragments)")
    func bytesArriveBeforeTheMessageEnds() async throws {
        let (socket, peer) = try await connectedStreamPair()
        try await peer.sendFrame(.binary, payload: [1, 2, 3], isFinal: false)
        // With whole-message delivery this read would wait for the final frame, which is sent
        // only after the read returned.
        #expect(try await socket.read(upTo: 100) == [1, 2, 3])
        try await peer.sendFrame(.continuation, payload: [4, 5], isFinal: true)
        #expect(try await socket.read(upTo: 100) == [4, 5])
    }

    @Test("read(upTo:) returns at most N bytes; the rest stays for the next read and for input")
    func readUpToLeavesTheRest() async throws {
        let (socket, peer) = try await connectedStreamPair()
        try await peer.send(.binary(Array(0..<10)))
        #expect(try await socket.read(upTo: 4) == [0, 1, 2, 3])
        var buffer = [UInt8](repeating: 0xFF, count: 3)
        #expect(try await socket.read(into: &buffer) == 3)
        #expect(buffer == [4, 5, 6])
        var iterator = socket.input.makeAsyncIterator()
        #expect(try await iterator.next() == [7, 8, 9])
        try await peer.send(.binary([10, 11]))
        let raw = UnsafeMutableRawBufferPointer.allocate(byteCount: 8, alignment: 1)
        defer { raw.deallocate() }
        #expect(try await socket.read(into: raw) == 2)
        #expect(Array(raw.prefix(2)) == [10, 11])
        #expect(await thrownStatus { _ = try await socket.read(upTo: 0) } == .invalidArgument)
    }

    @Test("message boundaries disappear and empty messages produce no chunk")
    func boundariesAndEmptyMessages() async throws {
        let (socket, peer) = try await connectedStreamPair()
        try await peer.send(.binary([1]))
        try await peer.send(.binary([]))
        try await peer.send(.binary([2, 3]))
        try await peer.close(code: .normalClosure, reason: "")
        async let echo = peer.nextClose()
        let ending = await drainStream(socket.input)
        #expect(ending.bytes == [1, 2, 3])
        #expect(ending.error == nil)
        _ = try await echo
    }

    @Test("§7.4.1: a text message fails the connection with 1003 after the bytes before it; input throws protocolViolation(1003)")
    func textMessageIsUnsupportedData() async throws {
        let (socket, peer) = try await connectedStreamPair()
        try await peer.send(.binary([1, 2]))
        try await peer.send(.text("not for a stream"))
        async let peerSaw = peer.nextClose()
        let ending = await drainStream(socket.input)
        #expect(ending.bytes == [1, 2])
        #expect(ending.error == .protocolViolation(.unsupportedData))
        #expect(try await peerSaw.code == .unsupportedData)
        #expect(
            await thrownStatus { _ = try await socket.read(upTo: 1) } == .protocolViolation(.unsupportedData),
            "later reads report the same end")
    }

    @Test("every control change after connect throws invalidState (stricter than the message socket)")
    func controlFreezesAtConnect() async throws {
        let (socket, _) = try await connectedStreamPair()
        #expect(await thrownStatus { try await socket.configure { $0.noDelay = false } } == .invalidState)
        #expect(await thrownStatus { try await socket.configure { $0.outboundBufferSize = 1 } } == .invalidState)
        #expect(await thrownStatus { try await socket.setRequestHeader("X-Late", "1") } == .invalidState)
        #expect(await socket.control.noDelay == true)
    }

    @Test("before connecting: settings are validated at connect, owned headers are refused, writes throw invalidState")
    func beforeConnecting() async throws {
        let socket = StreamWebSocket()
        try await socket.configure { $0.maxPendingChunks = 0 }
        #expect(
            await thrownStatus { try await socket.connect(to: "ws://mock.test/", over: InMemoryTransport.makePair().0) }
                == .invalidArgument)
        #expect(await thrownStatus { try await socket.setRequestHeader("Sec-WebSocket-Key", "x") } == .invalidArgument)
        #expect(await thrownStatus { try await socket.write([1]) } == .invalidState)
        #expect(StreamWebSocketControl().compression == .disabled)
        #expect(StreamWebSocketControl().noDelay)
    }

    @Test("each write arrives as one binary message; an empty write sends nothing")
    func eachWriteIsOneBinaryMessage() async throws {
        let (socket, peer) = try await connectedStreamPair()
        try await socket.write([1, 2, 3])
        try await socket.write([UInt8]())
        try await socket.write(ArraySlice<UInt8>([4]))
        #expect(try await peer.nextMessage() == .binary([1, 2, 3]))
        #expect(try await peer.nextMessage() == .binary([4]))
    }

    @Test("§7.1.2: the peer's close handshake ends input normally, with closeStatus set")
    func peerCloseEndsInput() async throws {
        let (socket, peer) = try await connectedStreamPair()
        try await peer.send(.binary([9]))
        try await peer.close(code: CloseCode(4000), reason: "done")
        async let echo = peer.nextClose()
        let ending = await drainStream(socket.input)
        #expect(ending.bytes == [9])
        #expect(ending.error == nil)
        #expect(await socket.closeStatus == WebSocketCloseStatus(code: CloseCode(4000), reason: "done"))
        #expect(try await echo.code == CloseCode(4000))
        #expect(try await socket.read(upTo: 10) == [], "a read after the clean end is empty")
        #expect(await socket.state == .closed)
    }

    @Test("close(code:reason:) is the close handshake; input then ends normally")
    func clientClose() async throws {
        let (socket, peer) = try await connectedStreamPair()
        async let peerSaw = peer.nextClose()
        try await socket.close(code: .normalClosure, reason: "bye")
        #expect(try await peerSaw == WebSocketCloseStatus(code: .normalClosure, reason: "bye"))
        #expect(await drainStream(socket.input).error == nil)
        #expect(await thrownStatus { try await socket.write([1]) } == .closed)
    }

    @Test("one reader at a time: a second read while one waits throws invalidState")
    func oneReaderAtATime() async throws {
        let (socket, peer) = try await connectedStreamPair()
        let first = Task { try await socket.read(upTo: 10) }
        await socket.waitUntilReaderWaits()
        #expect(await thrownStatus { _ = try await socket.read(upTo: 10) } == .invalidState)
        try await peer.send(.binary([5]))
        #expect(try await first.value == [5])
    }

    @Test("cancelling a waiting read throws operationCanceled and closes with 1001 (the application stopped reading)")
    func cancelledReadClosesGoingAway() async throws {
        let (socket, peer) = try await connectedStreamPair()
        let reading = Task { try await socket.read(upTo: 10) }
        await socket.waitUntilReaderWaits()
        reading.cancel()
        #expect(await thrownStatus { _ = try await reading.value } == .operationCanceled)
        #expect(try await peer.nextClose().code == .goingAway)
    }

    @Test("backpressure: the socket stops reading once maxPendingChunks pieces wait, and loses nothing")
    func backpressure() async throws {
        var control = StreamWebSocketControl()
        control.maxPendingChunks = 2
        let (socket, peer) = try await connectedStreamPair(control: control)
        for byte in UInt8(0)..<8 { try await peer.send(.binary([byte])) }
        await socket.waitUntilReaderPauses()
        var received: [UInt8] = []
        while received.count < 8 { received += try await socket.read(upTo: 100) }
        #expect(received == Array(0..<8))
    }

    @Test(
        "a 16 MiB message streams through in pieces of at most 64 KiB while the connection holds no more than a read's worth")
    func largeMessageInPieces() async throws {
        let (socket, peer) = try await connectedStreamPair()
        let frames = Sanitizers.active ? 4 : 16  // see Sanitizers
        let size = frames << 20
        let piece = [UInt8](repeating: 0xA5, count: 1 << 20)
        let sender = Task {
            // One message, sent as 16 frames of 1 MiB (100 MiB both ways: the loopback suite).
            for index in 0..<frames {
                try await peer.sendFrame(index == 0 ? .binary : .continuation, payload: piece, isFinal: index == frames - 1)
            }
        }
        var total = 0
        var largest = 0
        var heldMost = 0
        while total < size {
            let chunk = try await socket.read(upTo: .max)
            #expect(chunk.allSatisfy { $0 == 0xA5 })
            total += chunk.count
            largest = max(largest, chunk.count)
            heldMost = max(heldMost, await socket.readMemoryHeld)
        }
        try await sender.value
        #expect(total == size)
        #expect(largest <= 64 * 1024, "a piece is at most one read's worth, never the message")
        #expect(heldMost <= 64 * 1024, "the connection holds at most one read's worth of unread bytes")
    }
}
