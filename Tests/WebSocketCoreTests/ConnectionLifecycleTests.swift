import Testing

@testable import WebSocketCore

/// The connection's lifecycle (`ConnectionCore+Closing.swift`): one value says how it ends.
@Suite("Connection lifecycle (RFC 6455 §7)")
struct ConnectionLifecycleTests {
    static let violation = ProtocolViolation(.protocolError, "reserved opcode 0x3")

    @Test("§7.1.7: a violation moves open → failing; closeAfterFailure queues its code and ends as failed")
    func violationGoesThroughFailing() {
        var core = ConnectionCoreTests.client()
        #expect(failureCode(of: core.events(after: hex("83 00"))) == 1002)
        guard case .failing(let violation) = core.lifecycle else {
            Issue.record("expected failing, got \(core.lifecycle)")
            return
        }
        #expect(violation.closeCode == .protocolError)
        #expect(core.takeOutput().isEmpty, "the close waits for closeAfterFailure")
        core.closeAfterFailure()
        #expect(closeCode(inOutput: core.takeOutput()) == 1002)
        #expect(core.lifecycle == .closed(.failed(violation)))
        core.closeAfterFailure()  // idempotent
        #expect(core.takeOutput().isEmpty)
    }

    @Test("§7.1.7: close(code:) while failing sends the violation's code, not the application's")
    func closeWhileFailingSendsViolationCode() throws {
        var core = ConnectionCoreTests.client()
        _ = core.events(after: hex("81 02 C0 80"))  // invalid UTF-8: 1007
        try core.close(code: .normalClosure, reason: "bye")
        #expect(closeCode(inOutput: core.takeOutput()) == 1007)
        #expect(core.state == .closed)
    }

    @Test("§7.1.2: close → closing(sent:); the peer's close completes the handshake, initiated locally")
    func localCloseCompletes() throws {
        var core = ConnectionCoreTests.client()
        try core.close(code: CloseCode(4000), reason: "done")
        #expect(core.lifecycle == .closing(sent: .init(code: CloseCode(4000), reason: "done")))
        #expect(core.closeExpected)
        #expect(core.events(after: hex("88 02 0F A0")) == [.closed(.init(code: CloseCode(4000), reason: ""))])
        #expect(
            core.lifecycle == .closed(.handshakeCompleted(peer: .init(code: CloseCode(4000), reason: ""), initiatedLocally: true))
        )
    }

    @Test("§5.5.1: the peer's close while open is echoed and ends the handshake, initiated by the peer")
    func peerCloseCompletes() {
        var core = ConnectionCoreTests.client()
        _ = core.events(after: hex("88 02 03 E8"))
        #expect(closeCode(inOutput: core.takeOutput()) == 1000)
        #expect(
            core.lifecycle == .closed(.handshakeCompleted(peer: .init(code: .normalClosure, reason: ""), initiatedLocally: false))
        )
    }

    @Test("§7.1.5: end of stream before the handshake completes is aborted; while failing it stays failed")
    func endOfStream() {
        var open = ConnectionCoreTests.client()
        open.receiveEndOfStream()
        #expect(open.drainEvents() == [.aborted])
        #expect(open.lifecycle == .closed(.aborted))

        var failing = ConnectionCoreTests.client()
        _ = failing.events(after: hex("83 00"))
        failing.receiveEndOfStream()
        #expect(failing.drainEvents().isEmpty, "the failure was reported already")
        guard case .closed(.failed) = failing.lifecycle else {
            Issue.record("expected closed(.failed), got \(failing.lifecycle)")
            return
        }
    }

    @Test("sends are accepted while failing (answers to earlier messages), refused once the close is queued")
    func sendsWhileFailing() throws {
        var core = ConnectionCoreTests.client()
        _ = core.events(after: hex("83 00"))
        try core.send(text: "answer")
        core.closeAfterFailure()
        #expect(usageError { try core.send(text: "late") } == .notOpen(.closed))
    }

    @Test(
        "§7.4: close arguments are checked before the state",
        arguments: [
            (CloseCode?.some(.noStatusReceived), ""), (CloseCode?.some(CloseCode(2999)), ""), (CloseCode?.none, "reason"),
        ])
    func closeArgumentsCheckedFirst(_ code: CloseCode?, _ reason: String) throws {
        var core = ConnectionCoreTests.client()
        try core.close(code: .normalClosure, reason: "")
        #expect(usageError { try core.close(code: code, reason: reason) } != .notOpen(.closing))
        #expect(usageError { try core.close(code: code, reason: reason) } != nil)
    }

    @Test("§7.1.1, §7.1.7: the transport directive follows the lifecycle and the role")
    func transportDirective() throws {
        var client = ConnectionCoreTests.client()
        #expect(client.transportDirective == .keepOpen)
        try client.close()
        #expect(client.transportDirective == .awaitCloseFrame)
        _ = client.events(after: hex("88 02 03 E8"))
        #expect(client.transportDirective == .awaitPeerClose, "the server closes TCP first")

        var server = ConnectionCoreTests.server()
        _ = server.events(after: frame(.close, [0x03, 0xE8], masked: true))
        #expect(server.transportDirective == .closeWhenFlushed)

        var failing = ConnectionCoreTests.client()
        _ = failing.events(after: hex("83 00"))
        #expect(failing.transportDirective == .keepOpen, "until the failure's close frame is queued")
        failing.closeAfterFailure()
        #expect(failing.transportDirective == .closeWhenFlushed)
    }

    @Test("receive(maxMessages:) stops right after the message that fills the reader's queue")
    func receiveStopsAtMaxMessages() {
        var core = ConnectionCoreTests.client()
        let three = hex("81 01 41") + hex("81 01 42") + hex("82 01 43")
        let consumed = three.withUnsafeBytes { core.receive($0, maxMessages: 2) }
        #expect(consumed == 6)
        #expect(core.drainEvents() == [.message(.text("A")), .message(.text("B"))])
        let rest = Array(three[consumed...])
        #expect(rest.withUnsafeBytes { core.receive($0, maxMessages: 2) } == 3)
        #expect(core.drainEvents() == [.message(.binary([0x43]))])
    }

    @Test("receive(maxMessages:) counts fragments of a fragmented message as they complete")
    func receiveStopsAfterFragmentedMessage() {
        var core = ConnectionCoreTests.client()
        let bytes = hex("01 01 41") + hex("89 00") + hex("80 01 42") + hex("81 01 43")
        let consumed = bytes.withUnsafeBytes { core.receive($0, maxMessages: 1) }
        #expect(consumed == 8)
        #expect(core.drainEvents() == [.ping([]), .message(.text("AB"))])
    }
}
