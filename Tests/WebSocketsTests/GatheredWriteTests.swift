import Testing
import WebSocketCore

@testable import WebSockets

/// Sends made on the event loop thread during one turn of the loop: the first is written at once,
/// the others leave together, in one gathered `sendmsg`, when the turn ends
/// (`WebSocketConnection+ImmediateSend.swift`): a stream of small messages costs two system calls
/// per turn, not one per message, and a lone reply waits for nothing. RFC 6455 §5.4: frames of
/// different messages are never interleaved, so the order of the sends is the order on the wire.
@Suite("Gathered writes")
struct GatheredWriteTests {
    @Test("twenty sends in one loop turn take at most two writes (the first at once, the rest gathered), in order")
    func sendsOfOneTurnShareOneWrite() async throws {
        let (clientTCP, serverTCP, listener) = try await tcpPair()
        defer { listener.close() }
        let serverInbox = MessageInbox()
        let client = await WebSocketConnection.started(clientTCP, .client, MessageInbox())
        let server = await WebSocketConnection.started(serverTCP, .server, serverInbox)
        var received = serverInbox.makeStream().makeAsyncIterator()

        let sent = try await withTaskExecutorPreference(MessageWebSocket.eventLoopExecutor) {
            var sent = 0
            // No suspension between the sends: they all run in one job of one turn.
            for index in 0..<20 where try client.sendImmediately(Array("message \(index)".utf8), kind: .text) {
                sent += 1
            }
            return sent
        }
        #expect(sent == 20, "every send took the loop thread's path")
        for index in 0..<20 {
            #expect(try await received.next() == .text("message \(index)"))
        }
        // Two writes: the first frame at once, the other nineteen together. One when another
        // connection of the shared loop (another test's) had sent earlier in the same turn: then
        // all twenty wait for the turn's end together.
        let afterTurn = await client.gatheredWriteCount
        #expect((1...2).contains(afterTurn), "twenty sends in one turn took \(afterTurn) writes")

        // A send of a later turn is a write of its own.
        _ = try await withTaskExecutorPreference(MessageWebSocket.eventLoopExecutor) {
            try client.sendImmediately(Array("later".utf8), kind: .text)
        }
        #expect(try await received.next() == .text("later"))
        #expect(await client.gatheredWriteCount == afterTurn + 1)

        try await client.close(code: .normalClosure, reason: "")
        await server.waitUntilFinalized()
    }

    @Test("a close right after sends of the same turn goes out after them (RFC 6455 §5.5.1)")
    func closeAfterGatheredSendsFollowsThem() async throws {
        let (clientTCP, serverTCP, listener) = try await tcpPair()
        defer { listener.close() }
        let serverInbox = MessageInbox()
        let client = await WebSocketConnection.started(clientTCP, .client, MessageInbox())
        let server = await WebSocketConnection.started(serverTCP, .server, serverInbox)

        try await withTaskExecutorPreference(MessageWebSocket.eventLoopExecutor) {
            for index in 0..<5 { _ = try client.sendImmediately([UInt8(index)], kind: .binary) }
            try await client.close(code: .normalClosure, reason: "done")
        }
        var messages: [Message] = []
        for try await message in serverInbox.makeStream() { messages.append(message) }
        #expect(messages == (0..<5).map { .binary([UInt8($0)]) })
        await server.waitUntilFinalized()
        #expect(await server.closeStatus?.code == .normalClosure)
        #expect(await server.closeStatus?.reason == "done")
    }
}
