import Testing
import WebSocketCore
import WebSocketTesting
import WebSockets

/// The fault-injection matrix: one small scenario (opening handshake, two messages each way, a
/// ping, the close handshake; FaultInjectionScenario.swift) run for our client and for our server
/// against a scripted peer over `InMemoryTransport`, once per fault:
/// (a) the connection drops after every byte offset of each direction's byte stream;
/// (b) the k-th write of either end fails, for every k;
/// (c) every write arrives in 1-byte pieces (so every read returns one byte), alone and with (a) and (b).
///
/// Every case must end within its deadline (a hang fails; timeouts are set far beyond it, so no
/// case may rely on one) in a clean close or typed errors with a documented status, and lose
/// nothing: each side receives exactly the messages whose frames fully reached it, uncorrupted
/// and in order, and `messages` ends exactly once. The cases run in process, many at a time.
@Suite("Fault-injection matrix over the in-memory transport", .timeLimit(.minutes(1)))
struct FaultInjectionMatrixTests {
    static let roles: [ConnectionCore.Role] = [.client, .server]
    /// A case takes milliseconds; this only turns a hang into a failure.
    static let deadline: Duration = .seconds(20)

    @Test(
        "Without a fault the scenario ends in a clean close, also when every byte arrives on its own",
        arguments: roles, [false, true])
    func cleanScenario(role: ConnectionCore.Role, oneBytePieces: Bool) async throws {
        let faultCase = FaultCase(role: role, oneBytePieces: oneBytePieces)
        let outcome = try #require(try await withDeadline(Self.deadline) { await FaultScenario.run(faultCase) })
        #expect(Self.problems(in: outcome, of: faultCase) == [])
        #expect(outcome.local.errors.map(\.text) == [])
        #expect(outcome.local.opened)
        #expect(outcome.local.received == FaultScenario.peerMessages)
        #expect(outcome.peer.received == FaultScenario.localMessages)
        #expect(outcome.local.sent == FaultScenario.localMessages)
        #expect(outcome.local.closeStatus != nil)
        guard case .finished = outcome.local.ending else {
            Issue.record("messages ended with \(String(describing: outcome.local.ending)), not a completed close handshake")
            return
        }
    }

    @Test(
        "(a) A drop after any byte, in either direction, ends in a typed error or a clean close and loses nothing delivered",
        arguments: roles, [false, true])
    func dropAfterEveryByte(role: ConnectionCore.Role, oneBytePieces: Bool) async throws {
        let baseline = try await Self.baseline(role)
        var cases: [FaultCase] = []
        for offset in 0...baseline.deliveredByLocal.count {
            cases.append(FaultCase(role: role, oneBytePieces: oneBytePieces, drop: (.local, offset)))
        }
        for offset in 0...baseline.deliveredByPeer.count {
            cases.append(FaultCase(role: role, oneBytePieces: oneBytePieces, drop: (.peer, offset)))
        }
        await Self.expectEveryCase(cases)
    }

    @Test(
        "(b) A failed write at any step, of either end, ends in a typed error or a clean close and loses nothing delivered",
        arguments: roles, [false, true])
    func failEveryWrite(role: ConnectionCore.Role, oneBytePieces: Bool) async throws {
        let baseline = try await Self.baseline(role)
        var cases: [FaultCase] = []
        for number in 1...(baseline.localWrites + 1) {
            cases.append(FaultCase(role: role, oneBytePieces: oneBytePieces, failedWrite: (.local, number)))
        }
        for number in 1...(baseline.peerWrites + 1) {
            cases.append(FaultCase(role: role, oneBytePieces: oneBytePieces, failedWrite: (.peer, number)))
        }
        await Self.expectEveryCase(cases)
    }

    /// Found by the matrix: `messages` threw its error again on every later `next()`, where an
    /// `AsyncIteratorProtocol` iterator ends once (after an error, `nil`).
    @Test("messages ends exactly once: after throwing its error, next() returns nil")
    func messagesEndsOnceAfterAnError() async throws {
        let (socket, peer, _) = try await connectedOverMemory()
        await peer.dropConnection()
        var iterator = socket.messages.makeAsyncIterator()
        do {
            let message = try await iterator.next()
            Issue.record("messages gave \(String(describing: message)) instead of throwing after the drop")
        } catch let error as WebSocketError {
            #expect(error.status == .connectionAborted)
        }
        #expect(try await iterator.next() == nil)
        #expect(try await iterator.next() == nil)
    }

    /// Found by the matrix: when a write failed, the connection closed the transport at once,
    /// dropping messages that had already reached it but were not read yet (here, because the
    /// inbox was full). Input that arrived is delivered; the write's error follows.
    @Test("A failed write does not lose messages that had already arrived: they are delivered, then the error")
    func failedWriteKeepsArrivedMessages() async throws {
        var control = MessageWebSocketControl()
        control.maxPendingMessages = 1
        let (socket, peer, transport) = try await connectedOverMemory(control: control)
        try await peer.send(.text("one"))
        try await awaitState("the reader paused with one message waiting") { await socket.waitUntilReaderPauses() }
        try await peer.send(.text("two"))  // arrives, unread: the inbox is full
        transport.failNextWrite()
        await #expect(throws: WebSocketError.self) { try await socket.send(text: "lost on the way") }

        var iterator = socket.messages.makeAsyncIterator()
        #expect(try await iterator.next() == .text("one"))
        #expect(try await iterator.next() == .text("two"))
        try await socket.close()  // nothing can be written: closing ends the connection at once
        do {
            let message = try await iterator.next()
            Issue.record("messages gave \(String(describing: message)) instead of the write's error")
        } catch let error as WebSocketError {
            #expect(error.status == .connectionAborted)
        }
    }

    // MARK: - Running and judging

    /// The fault-free run, whose byte counts and write counts span the matrix.
    static func baseline(_ role: ConnectionCore.Role) async throws -> ScenarioOutcome {
        let faultCase = FaultCase(role: role)
        let outcome = try #require(try await withDeadline(deadline) { await FaultScenario.run(faultCase) })
        try #require(problems(in: outcome, of: faultCase) == [])
        try #require(outcome.local.received == FaultScenario.peerMessages && outcome.peer.received == FaultScenario.localMessages)
        return outcome
    }

    /// Runs `cases`, many at a time, and records an issue for each that breaks the contract.
    static func expectEveryCase(_ cases: [FaultCase], width: Int = 16) async {
        let failures = await withTaskGroup(of: (FaultCase, [String]).self) { group in
            var pending = cases.makeIterator()
            func start(_ faultCase: FaultCase) {
                group.addTask {
                    let outcome = try? await withDeadline(deadline) { await FaultScenario.run(faultCase) }
                    return (faultCase, problems(in: outcome, of: faultCase))
                }
            }
            for _ in 0..<width { if let next = pending.next() { start(next) } }
            var failures: [(FaultCase, [String])] = []
            while let (faultCase, problems) = await group.next() {
                if !problems.isEmpty { failures.append((faultCase, problems)) }
                if let next = pending.next() { start(next) }
            }
            return failures
        }
        for (faultCase, problems) in failures.prefix(20) {
            Issue.record("\(faultCase): \(problems.joined(separator: "; "))")
        }
        #expect(failures.isEmpty, "\(failures.count) of \(cases.count) cases broke the contract")
    }

    /// The statuses each operation documents for a broken connection. (`close()` throws only
    /// for invalid arguments; `messages` throws `.timeout` only after the close timeout, far
    /// beyond the case's deadline, and `.protocolViolation` only for a peer that breaks the
    /// protocol, which these peers never do.)
    static func documentedStatuses(_ operation: String) -> [WebSocketError.Status] {
        switch operation {
        case "connect": return [.connectionAborted, .handshakeFailed(httpStatus: 0)]
        case "accept": return [.connectionAborted]
        case "send", "ping": return [.closed, .connectionAborted]
        case "messages": return [.connectionAborted]
        default: return []
        }
    }

    /// What `outcome` breaks of the contract (empty: nothing); `nil` means the case hung.
    static func problems(in outcome: ScenarioOutcome?, of faultCase: FaultCase) -> [String] {
        guard let outcome else { return ["did not end within \(deadline): a hang"] }
        var problems: [String] = []
        let local = outcome.local
        for (operation, error, text) in local.errors {
            guard let error else {
                problems.append("\(operation) threw something else than a WebSocketError: \(text)")
                continue
            }
            if !documentedStatuses(operation).contains(error.status) {
                problems.append("\(operation) threw an undocumented status: \(error)")
            }
        }
        if local.opened, case .finished = local.ending, local.closeStatus == nil {
            problems.append("messages finished normally without a close frame from the peer")
        }
        if local.opened || faultCase.role == .client {
            // The script reads `messages` until it ends; then once more, which must return nil.
            if local.afterEnd != "nil" {
                problems.append("messages did not end exactly once: after its end, next() gave \(local.afterEnd)")
            }
        }
        // Nothing lost, corrupted or reordered: each side received exactly the messages whose
        // frames fully reached it (which are those sent, in order).
        let reachedPeer = completeMessages(in: outcome.deliveredByLocal)
        if reachedPeer != Array(FaultScenario.localMessages.prefix(reachedPeer.count)) {
            problems.append("the wire carried \(reachedPeer), not a prefix of what was sent")
        }
        // The scripted peers close their socket as soon as one of their writes fails, dropping
        // input they had not read yet: then only a prefix of what reached them. The end under
        // test has no such excuse: a failed write of its own still delivers what had arrived.
        if outcome.peer.writeFailed ? !reachedPeer.starts(with: outcome.peer.received) : outcome.peer.received != reachedPeer {
            problems.append("the peer received \(outcome.peer.received) but these reached it: \(reachedPeer)")
        }
        let reachedLocal = completeMessages(in: outcome.deliveredByPeer)
        if local.received != reachedLocal {
            problems.append("messages yielded \(local.received) but these reached it: \(reachedLocal)")
        }
        if !local.sent.allSatisfy(FaultScenario.localMessages.contains) || local.sent.count > FaultScenario.localMessages.count {
            problems.append("sends returned for \(local.sent)")
        }
        return problems
    }
}
