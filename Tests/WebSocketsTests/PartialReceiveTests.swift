import Testing
import WebSocketCore
import WebSocketTesting

@testable import WebSockets

/// A piece as the tests compare it: its kind, its text (or bytes), whether it completes its message.
struct Piece: Equatable, CustomStringConvertible {
    var kind: MessageKind
    var bytes: [UInt8]
    var complete: Bool

    init(_ fragment: MessageFragment) {
        (kind, bytes, complete) = (fragment.kind, fragment.bytes, fragment.isMessageComplete)
    }

    init(text: String, complete: Bool) {
        (kind, bytes, self.complete) = (.text, Array(text.utf8), complete)
    }

    init(binary: [UInt8], complete: Bool) {
        (kind, bytes, self.complete) = (.binary, binary, complete)
    }

    var description: String {
        let content = kind == .text ? "\"\(String(decoding: bytes, as: UTF8.self))\"" : "\(bytes.count) bytes"
        return "\(kind) \(content)\(complete ? " complete" : "")"
    }
}

/// Socket settings for the partial receive mode.
func partialControl(_ update: (inout MessageWebSocketControl) -> Void = { _ in }) -> MessageWebSocketControl {
    var control = MessageWebSocketControl()
    control.receiveMode = .partialMessage
    update(&control)
    return control
}

/// Takes pieces until one completes its message.
func nextMessagePieces(
    _ pieces: inout AsyncThrowingStream<MessageFragment, any Error>.AsyncIterator
) async throws -> [MessageFragment] {
    var taken: [MessageFragment] = []
    while let piece = try await pieces.next() {
        taken.append(piece)
        if piece.isMessageComplete { return taken }
    }
    return taken
}

/// Closes the socket against the scripted peer (which answers the close frame) and waits for both.
func closeCleanly(_ socket: MessageWebSocket, _ peer: any ScriptedPeer) async throws {
    async let code = peer.awaitClientClose()
    try await socket.close()
    _ = try await code
}

/// `MessageWebSocketControl.receiveMode = .partialMessage` (WinRT `PartialMessage` with
/// `IsMessageComplete`): pieces of a message as they arrive, in `MessageWebSocket.fragments`, over
/// the in-memory pair and over loopback TCP against a peer scripted frame by frame.
///
/// `.exclusiveProcessResources` on the loopback and interop tests: their listeners, Python peers and
/// 10 MiB messages would otherwise count in the descriptor and memory measurements of tests
/// running alongside (seen in the full suite). Their time limits are 3 minutes: the wait for that
/// lock counts, and under a sanitizer the queue has been over a minute long.
@Suite("Partial-message receive")
struct PartialReceiveTests {
    static let readSize = LoopReadBuffer.size

    @Test(
        "§5.4: pieces of a 10 MiB message arrive before its last frame was sent, none larger than one read",
        .timeLimit(.minutes(2)), .exclusiveProcessResources, arguments: PeerPlacement.allCases)
    func tenMebibytesStreamInPieces(_ placement: PeerPlacement) async throws {
        let (socket, peer) = try await placement.connect(control: partialControl())
        let size = (Sanitizers.active ? 2 : 10) << 20  // see Sanitizers
        let payload = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let half = payload.count / 2
        var pieces = socket.fragments.makeAsyncIterator()
        var received: [UInt8] = []
        var largest = 0
        var count = 0

        // The first frame only: the whole first half must come out as pieces while the peer still
        // holds the last frame (the pieces are taken while the write is under way).
        async let firstSent: Void = peer.sendRaw(scriptedFrame(.binary, Array(payload[..<half]), isFinal: false))
        while received.count < half, let piece = try await pieces.next() {
            #expect(piece.kind == .binary)
            #expect(!piece.isMessageComplete, "a piece completed the message before its last frame was sent")
            #expect(!piece.bytes.isEmpty, "non-final pieces are never empty")
            received += piece.bytes
            largest = max(largest, piece.bytes.count)
            count += 1
        }
        try await firstSent
        #expect(received.count == half)

        async let restSent: Void = peer.sendRaw(scriptedFrame(.continuation, Array(payload[half...])))
        var completed = false
        while !completed, let piece = try await pieces.next() {
            #expect(piece.kind == .binary)
            received += piece.bytes
            largest = max(largest, piece.bytes.count)
            count += 1
            completed = piece.isMessageComplete
        }
        try await restSent
        #expect(completed)
        #expect(received == payload)
        // Bounded memory: a piece holds at most one read's bytes, never the message.
        #expect(largest <= Self.readSize, "largest piece \(largest) bytes")
        #expect(count >= payload.count / Self.readSize)
        try await closeCleanly(socket, peer)
    }

    @Test(
        "§5.6: a multi-byte character split between frames is never split between pieces",
        .exclusiveProcessResources, arguments: PeerPlacement.allCases)
    func charactersSplitBetweenFramesStayWhole(_ placement: PeerPlacement) async throws {
        let (socket, peer) = try await placement.connect(control: partialControl())
        var pieces = socket.fragments.makeAsyncIterator()
        // "é" (C3 A9) across two frames.
        try await peer.sendRaw(scriptedFrame(.text, [0x61, 0xC3], isFinal: false) + scriptedFrame(.continuation, [0xA9, 0x62]))
        #expect(
            try await nextMessagePieces(&pieces).map(Piece.init) == [
                Piece(text: "a", complete: false), Piece(text: "éb", complete: true),
            ])
        // "😀" (F0 9F 98 80) across three frames, the middle one holding only a continuation byte:
        // no empty piece for it.
        try await peer.sendRaw(
            scriptedFrame(.text, [0x78, 0xF0, 0x9F], isFinal: false)
                + scriptedFrame(.continuation, [0x98], isFinal: false) + scriptedFrame(.continuation, [0x80, 0x79]))
        #expect(
            try await nextMessagePieces(&pieces).map(Piece.init) == [
                Piece(text: "x", complete: false), Piece(text: "😀y", complete: true),
            ])
        // A message of only a split character: one piece, the complete one.
        try await peer.sendRaw(scriptedFrame(.text, [0xE2, 0x82], isFinal: false) + scriptedFrame(.continuation, [0xAC]))
        #expect(try await nextMessagePieces(&pieces).map(Piece.init) == [Piece(text: "€", complete: true)])
        try await closeCleanly(socket, peer)
    }

    @Test(
        "a text frame larger than a read is cut by reads, never inside a character: each piece decodes alone",
        .timeLimit(.minutes(3)), .exclusiveProcessResources, arguments: PeerPlacement.allCases)
    func readBoundariesNeverSplitCharacters(_ placement: PeerPlacement) async throws {
        let (socket, peer) = try await placement.connect(control: partialControl())
        // Odd offset and 2-, 3- and 4-byte characters: 64 KiB reads fall inside characters.
        let text = "a" + String(repeating: "é€😀", count: 60_000)
        async let sent: Void = peer.sendRaw(scriptedFrame(.text, Array(text.utf8)))
        var pieces = socket.fragments.makeAsyncIterator()
        let message = try await nextMessagePieces(&pieces)
        try await sent
        #expect(message.count > 1)
        for piece in message {
            #expect(String(validating: piece.bytes, as: UTF8.self) != nil, "a piece ends inside a character")
            #expect(piece.isMessageComplete || !piece.bytes.isEmpty)
        }
        #expect(message.compactMap(\.text).joined() == text)
        try await closeCleanly(socket, peer)
    }

    @Test(
        "§8.1: invalid UTF-8 in a later frame fails with 1007 after the earlier pieces were delivered",
        .exclusiveProcessResources, arguments: PeerPlacement.allCases)
    func invalidUTF8InALaterFrame(_ placement: PeerPlacement) async throws {
        let (socket, peer) = try await placement.connect(control: partialControl())
        var pieces = socket.fragments.makeAsyncIterator()
        try await peer.sendRaw(scriptedFrame(.text, Array("hello".utf8), isFinal: false))
        #expect(try await pieces.next().map(Piece.init) == Piece(text: "hello", complete: false))
        async let closeCode = peer.awaitClientClose()
        try await peer.sendRaw(scriptedFrame(.continuation, [0x21, 0xFF]))
        let status = await thrownStatus { _ = try await pieces.next() }
        #expect(status == .protocolViolation(.invalidPayload))
        #expect(try await closeCode == 1007)
    }

    @Test(
        "§10.4: maxMessageSize bounds the whole message, not a piece: 1009 once the pieces exceed it",
        .exclusiveProcessResources, arguments: PeerPlacement.allCases)
    func maxMessageSizeAcrossPieces(_ placement: PeerPlacement) async throws {
        let (socket, peer) = try await placement.connect(control: partialControl { $0.maxMessageSize = 1000 })
        var pieces = socket.fragments.makeAsyncIterator()
        try await peer.sendRaw(scriptedFrame(.binary, [UInt8](repeating: 1, count: 600), isFinal: false))
        var received = 0
        while received < 600, let piece = try await pieces.next() { received += piece.bytes.count }
        #expect(received == 600)
        async let closeCode = peer.awaitClientClose()
        try await peer.sendRaw(scriptedFrame(.continuation, [UInt8](repeating: 2, count: 600)))
        let status = await thrownStatus { _ = try await pieces.next() }
        #expect(status == .messageTooBig)
        #expect(try await closeCode == 1009)
    }

    @Test(
        "backpressure: the reader pauses once maxPendingMessages pieces wait, within one message",
        .timeLimit(.minutes(3)), .exclusiveProcessResources, arguments: PeerPlacement.allCases)
    func backpressureCountsPieces(_ placement: PeerPlacement) async throws {
        let (socket, peer) = try await placement.connect(control: partialControl { $0.maxPendingMessages = 2 })
        let frames = (0..<8).map { index in
            scriptedFrame(index == 0 ? .binary : .continuation, [UInt8(index)], isFinal: index == 7)
        }
        try await peer.sendRaw(frames.flatMap { $0 })
        // Nothing is consumed yet and no message is complete: only counting pieces pauses the reader.
        await socket.waitUntilReaderPauses()
        var pieces = socket.fragments.makeAsyncIterator()
        let message = try await nextMessagePieces(&pieces).map(Piece.init)
        #expect(message == (0..<8).map { Piece(binary: [UInt8($0)], complete: $0 == 7) })
        try await closeCleanly(socket, peer)
    }

    @Test(
        "kinds and isMessageComplete: unfragmented, fragmented around a ping, empty, and ended by an empty frame",
        .exclusiveProcessResources, arguments: PeerPlacement.allCases)
    func kindsAndCompleteness(_ placement: PeerPlacement) async throws {
        let (socket, peer) = try await placement.connect(control: partialControl())
        try await peer.sendRaw(
            scriptedFrame(.binary, [1, 2, 3])
                + scriptedFrame(.text, Array("ab".utf8), isFinal: false) + scriptedFrame(.ping, [7])
                + scriptedFrame(.continuation, Array("cd".utf8), isFinal: false) + scriptedFrame(.continuation, Array("ef".utf8))
                + scriptedFrame(.text, [])
                + scriptedFrame(.binary, [9], isFinal: false) + scriptedFrame(.continuation, []))
        var pieces = socket.fragments.makeAsyncIterator()
        var seen: [Piece] = []
        for _ in 0..<4 { seen += try await nextMessagePieces(&pieces).map(Piece.init) }
        #expect(
            seen == [
                Piece(binary: [1, 2, 3], complete: true),
                Piece(text: "ab", complete: false), Piece(text: "cd", complete: false), Piece(text: "ef", complete: true),
                Piece(text: "", complete: true),
                Piece(binary: [9], complete: false), Piece(binary: [], complete: true),
            ])
        try await closeCleanly(socket, peer)
    }

    @Test("each mode has one stream: the other throws invalidState once connected", arguments: [false, true])
    func theOtherStreamThrows(_ partial: Bool) async throws {
        var control = MessageWebSocketControl()
        control.receiveMode = partial ? .partialMessage : .fullMessage
        let (socket, peer) = try await MockWebSocketServer.connectedPair(control: control)
        if partial {
            #expect(await thrownStatus { for try await _ in socket.messages {} } == .invalidState)
        } else {
            #expect(await thrownStatus { for try await _ in socket.fragments {} } == .invalidState)
        }
        // The stream of the mode in use works.
        try await peer.send(.text("hi"))
        if partial {
            var pieces = socket.fragments.makeAsyncIterator()
            #expect(try await pieces.next().map(Piece.init) == Piece(text: "hi", complete: true))
        } else {
            var messages = socket.messages.makeAsyncIterator()
            #expect(try await messages.next() == .text("hi"))
        }
        try await closeCleanly(socket, peer)
    }

    @Test("a clean close finishes the pieces stream normally")
    func cleanCloseFinishesFragments() async throws {
        let (socket, peer) = try await MockWebSocketServer.connectedPair(control: partialControl())
        try await peer.send(.binary([5]))
        try await peer.close(code: .normalClosure, reason: "done")
        async let echo = peer.nextClose()  // the peer reads our echo, then ends the stream (§7.1.1)
        var pieces: [Piece] = []
        for try await piece in socket.fragments { pieces.append(Piece(piece)) }
        #expect(pieces == [Piece(binary: [5], complete: true)])
        #expect(await socket.closeStatus?.code == .normalClosure)
        #expect(try await echo.code == .normalClosure)
    }
}

/// Partial receive against Python `websockets`, whose `send` of an iterable sends one fragmented
/// message, one non-final frame per element and an empty final frame (`Scripts/python/echo_server.py`,
/// path `/fragments`).
@Suite(
    "Interop: partial receive from Python websockets", .enabled(if: PythonPeer.shouldRun, PythonPeer.skipMessage),
    .serialized)
struct PartialReceiveInteropTests {
    /// Asks the peer for one fragmented message: `command` is the JSON `/fragments` understands.
    static func request(_ command: String, from peer: PythonPeer, control: MessageWebSocketControl = partialControl())
        async throws -> MessageWebSocket
    {
        let socket = MessageWebSocket(control: control)
        try await socket.connect(to: peer.url("/fragments"))
        try await socket.send(text: command)
        return socket
    }

    @Test("a text message whose frames split \"é\" arrives in pieces that each decode whole", .exclusiveProcessResources)
    func splitCharacter() async throws {
        let peer = try await PythonPeer()
        let socket = try await Self.request(#"{"text": true, "frames": ["61c3", "a962", "e282", "ac"]}"#, from: peer)
        var pieces = socket.fragments.makeAsyncIterator()
        let message = try await nextMessagePieces(&pieces).map(Piece.init)
        // websockets sends each element as a non-final frame, then an empty final frame.
        #expect(
            message == [
                Piece(text: "a", complete: false), Piece(text: "éb", complete: false), Piece(text: "€", complete: false),
                Piece(text: "", complete: true),
            ])
        try await socket.close(code: .normalClosure, reason: "")
    }

    @Test("a 10 MiB binary message in 1 MiB frames streams in pieces of at most one read", .exclusiveProcessResources)
    func tenMebibytes() async throws {
        let peer = try await PythonPeer()
        let frames = Sanitizers.active ? 2 : 10  // see Sanitizers
        let socket = try await Self.request(#"{"text": false, "count": \#(frames), "size": 1048576}"#, from: peer)
        var pieces = socket.fragments.makeAsyncIterator()
        let message = try await nextMessagePieces(&pieces)
        let bytes = message.flatMap(\.bytes)
        #expect(bytes.count == frames << 20)
        #expect(bytes.indices.allSatisfy { bytes[$0] == UInt8(truncatingIfNeeded: $0 &* 7) })
        #expect(message.allSatisfy { $0.kind == .binary && $0.bytes.count <= LoopReadBuffer.size })
        #expect(message.dropLast().allSatisfy { !$0.isMessageComplete } && message.last?.isMessageComplete == true)
        try await socket.close(code: .normalClosure, reason: "")
    }

    @Test("§8.1: invalid UTF-8 in the peer's second frame fails with 1007 after the first piece", .exclusiveProcessResources)
    func invalidUTF8() async throws {
        let peer = try await PythonPeer()
        let socket = try await Self.request(#"{"text": true, "frames": ["68656c6c6f", "21ff"]}"#, from: peer)
        var pieces = socket.fragments.makeAsyncIterator()
        #expect(try await pieces.next().map(Piece.init) == Piece(text: "hello", complete: false))
        #expect(await thrownStatus { _ = try await pieces.next() } == .protocolViolation(.invalidPayload))
    }
}
