import WebSocketCore
import WebSocketTesting

@testable import WebSocketServer
@testable import WebSockets

// The scenario of the fault-injection matrix (FaultInjectionMatrixTests.swift), run once per case:
// the opening handshake, a small exchange (two messages each way and a ping from our end), and
// the close handshake started by our end, between the end under test (a `MessageWebSocket` client
// or a server connection) and a scripted peer over an `InMemoryTransport` pair, with one fault.
// Both sides record what they sent, received and threw; the matrix judges the record.

/// Which end a fault concerns: the end under test (the library) or the scripted peer.
enum FaultSide: String, Sendable {
    case local, peer
}

/// One case of the matrix: the role under test and the faults injected.
struct FaultCase: Sendable, CustomStringConvertible {
    var role: ConnectionCore.Role
    /// Every write of both ends arrives in 1-byte segments, so every read returns one byte.
    var oneBytePieces = false
    /// The connection drops once `side` has written `afterBytes` bytes (``InMemoryTransport/Faults/dropAfterBytes``).
    var drop: (side: FaultSide, afterBytes: Int)?
    /// The `number`-th write of `side` that carries bytes (from 1) fails, delivering nothing.
    var failedWrite: (side: FaultSide, number: Int)?

    var description: String {
        var parts = ["\(role) role"]
        if oneBytePieces { parts.append("1-byte pieces") }
        if let drop { parts.append("drop after \(drop.afterBytes) bytes written by the \(drop.side) end") }
        if let failedWrite { parts.append("write #\(failedWrite.number) of the \(failedWrite.side) end fails") }
        return parts.joined(separator: ", ")
    }
}

/// What the end under test did in one case.
struct LocalRecord: Sendable {
    /// Whether the opening handshake succeeded (`connect` returned, or the upgrade was accepted).
    var opened = false
    /// Every error thrown to the application, with the operation that threw it.
    var errors: [(operation: String, error: WebSocketError?, text: String)] = []
    /// Messages whose `send` returned.
    var sent: [Message] = []
    var received: [Message] = []
    /// How `messages` ended, once it has.
    var ending: StreamEnd?
    /// What `next()` did once more after the end: `nil` (as it must), an element, or a throw.
    var afterEnd = "not asked"
    var closeStatus: WebSocketCloseStatus?

    enum StreamEnd: Sendable {
        /// `next()` returned `nil`: the close handshake completed.
        case finished
        /// `next()` threw this (`nil`: an error that is not a `WebSocketError`).
        case threw(WebSocketError?)
    }

    var hasEnded: Bool { ending != nil }

    mutating func record(_ operation: String, _ error: any Error) {
        errors.append((operation, error as? WebSocketError, "\(error)"))
    }

    mutating func next(_ iterator: inout AsyncThrowingStream<Message, any Error>.Iterator) async {
        do {
            if let message = try await iterator.next() {
                received.append(message)
            } else {
                ending = .finished
            }
        } catch {
            ending = .threw(error as? WebSocketError)
            record("messages", error)
        }
    }
}

/// What the scripted peer did in one case.
struct PeerRecord: Sendable {
    var sent: [Message] = []
    var received: [Message] = []
    /// Whether a write of the peer failed; it then closed its socket, unread input with it.
    var writeFailed = false
}

/// The record of one case.
struct ScenarioOutcome: Sendable {
    var local = LocalRecord()
    var peer = PeerRecord()
    /// The bytes each end delivered to the other (up to a drop), in order.
    var deliveredByLocal: [UInt8] = []
    var deliveredByPeer: [UInt8] = []
    /// How many writes with bytes each end made (a failed write delivers nothing and is not counted).
    var localWrites = 0
    var peerWrites = 0
}

/// The message-level surface both roles share, so that one script drives either.
struct LocalSocket: Sendable {
    var send: @Sendable (Message) async throws -> Void
    var ping: @Sendable ([UInt8]) async throws -> Void
    /// Returns once a `ping` was queued (or refused), so that what follows comes after it.
    var pingQueued: @Sendable () async -> Void
    var close: @Sendable () async throws -> Void
    var closeStatus: @Sendable () async -> WebSocketCloseStatus?
    var messages: AsyncThrowingStream<Message, any Error>
}

enum FaultScenario {
    static let localMessages: [Message] = [.text("from the end under test: h\u{E9}llo"), .binary([0, 1, 2, 0x80, 0xFF])]
    static let peerMessages: [Message] = [.text("from the peer \u{2713}"), .binary([9, 8, 7])]
    static let pingPayload: [UInt8] = [0x70]

    /// Runs the scenario with the faults of `faultCase`.
    static func run(_ faultCase: FaultCase) async -> ScenarioOutcome {
        let (client, server) = InMemoryTransport.makePair()
        let (local, peer) = faultCase.role == .client ? (client, server) : (server, client)
        let localTap = WriteTap(local, failing: faultCase.failedWrite.flatMap { $0.side == .local ? $0.number : nil })
        let peerTap = WriteTap(peer, failing: faultCase.failedWrite.flatMap { $0.side == .peer ? $0.number : nil })
        for end in [local, peer] where faultCase.oneBytePieces {
            end.updateFaults { $0.splitWritesInto = 1 }
        }
        if let drop = faultCase.drop {
            (drop.side == .local ? local : peer).updateFaults { $0.dropAfterBytes = drop.afterBytes }
        }
        async let peerRecord = faultCase.role == .client ? ScriptedPeers.server(peer) : ScriptedPeers.client(peer)
        let localRecord = faultCase.role == .client ? await runClient(local) : await runServer(local)
        var outcome = ScenarioOutcome(local: localRecord, peer: await peerRecord)
        (outcome.deliveredByLocal, outcome.localWrites) = localTap.snapshot
        (outcome.deliveredByPeer, outcome.peerWrites) = peerTap.snapshot
        return outcome
    }

    // MARK: - The end under test

    /// Our client (`MessageWebSocket`) over `transport`. Timeouts are far beyond the case's
    /// deadline: every case must end on the faults alone, and one that needs a timer to end hangs.
    static func runClient(_ transport: InMemoryTransport) async -> LocalRecord {
        var record = LocalRecord()
        var control = MessageWebSocketControl()
        control.openTimeout = .seconds(600)
        control.closeTimeout = .seconds(600)
        let socket = MessageWebSocket(control: control)
        do {
            try await socket.connect(to: "ws://peer.test/chat", over: transport)
            record.opened = true
        } catch {
            record.record("connect", error)
        }
        let surface = LocalSocket(
            send: { try await socket.send($0) }, ping: { try await socket.ping($0) },
            pingQueued: { await socket.waitUntilPingQueued() }, close: { try? await socket.close() },
            closeStatus: { await socket.closeStatus }, messages: socket.messages)
        await exchange(surface, &record)
        return record
    }

    /// Our server's side: the listener's upgrade reading, the upgrade's accept, then the
    /// connection, over `transport`.
    static func runServer(_ transport: InMemoryTransport) async -> LocalRecord {
        var record = LocalRecord()
        var configuration = WebSocketServerConfiguration()
        configuration.closeTimeout = .seconds(600)
        let socket: ServerWebSocket
        do {
            let (request, buffered) = try await WebSocketListener.readUpgrade(
                transport, maxHeadSize: configuration.maxRequestHeadSize)
            let upgrade = WebSocketUpgrade(
                request: request, transport: transport, bufferedBytes: buffered, configuration: configuration,
                registry: ConnectionRegistry(maxConnections: configuration.maxConnections),
                handshakeID: ObjectIdentifier(transport))
            socket = try await upgrade.accept()
            record.opened = true
        } catch {
            record.record("accept", error)
            transport.close()  // as the listener does with a failed handshake
            return record
        }
        let surface = LocalSocket(
            send: { try await socket.send($0) }, ping: { try await socket.ping($0) },
            pingQueued: { await socket.waitUntilPingQueued() }, close: { try await socket.close() },
            closeStatus: { await socket.closeStatus }, messages: socket.messages)
        await exchange(surface, &record)
        return record
    }

    /// Sends our messages and a ping, takes the peer's messages, closes, and reads `messages` to
    /// its end and once beyond. Every step runs whatever happened before it: after a fault each
    /// must still return or throw a typed error.
    static func exchange(_ socket: LocalSocket, _ record: inout LocalRecord) async {
        var iterator = socket.messages.makeAsyncIterator()
        if record.opened {
            for message in localMessages {
                do {
                    try await socket.send(message)
                    record.sent.append(message)
                } catch {
                    record.record("send", error)
                }
            }
            // The ping returns once its pong arrived, or throws once the connection ended or a
            // write failed: it runs beside the rest (a peer whose writes fail never answers), and
            // is queued before anything that follows (the close, in a clean run, after its pong).
            let ping = socket.ping
            let pinging = Task { try await ping(pingPayload) }
            await socket.pingQueued()
            while record.received.count < peerMessages.count && !record.hasEnded {
                await record.next(&iterator)
            }
            do { try await socket.close() } catch { record.record("close", error) }
            while !record.hasEnded { await record.next(&iterator) }
            do { _ = try await pinging.value } catch { record.record("ping", error) }
        } else {
            do { try await socket.close() } catch { record.record("close", error) }
            while !record.hasEnded { await record.next(&iterator) }
        }
        do {
            record.afterEnd = try await iterator.next().map { "an element: \($0)" } ?? "nil"
        } catch {
            record.afterEnd = "a second error: \(error)"
        }
        record.closeStatus = await socket.closeStatus()
    }
}

/// Records what one end delivers and how many writes it made, and fails its `number`-th write.
final class WriteTap: Sendable {
    private let state = Lock<(delivered: [UInt8], writes: Int)>(([], 0))

    init(_ transport: InMemoryTransport, failing number: Int?) {
        if number == 1 { transport.failNextWrite() }
        // Writes on one end never overlap (the Transport contract), so the next write starts only
        // after this tap returned: setting the fault here fails exactly the write after this one.
        transport.onWrite = { [weak self, weak transport] bytes in
            let writes = self?.state.withLock { state in
                state.delivered += bytes
                state.writes += 1
                return state.writes
            }
            if let number, writes == number - 1 { transport?.failNextWrite() }
        }
    }

    var snapshot: (delivered: [UInt8], writes: Int) { state.withLock { $0 } }
}
