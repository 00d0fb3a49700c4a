// Fuzz target: ConnectionCore.receive, the frame reader of an open connection, in the client and
// the server role, with and without permessage-deflate, fed bytes from the peer.
//
// Input: 8 parameter bytes, then the peer's byte stream.
//   0: flags: 0x01 server role, 0x02 deflate negotiated, 0x04 pings not answered, 0x08 RSV1-3
//      allowed by another extension, 0x10 server_no_context_takeover, 0x20 client_no_context_takeover,
//      0x40 closeAfterFailure() deferred to the end of the input (the action may then run while failing)
//   1: window bits: low nibble server_max_window_bits 8 + n % 8, high nibble client_max_window_bits
//   2: low nibble: maxMessageSize (see `limits`); high nibble: our deflate options
//   3-4: seed of the split points and of the per-call maxMessages
//   5: a local action (close, send, ping, ...) done once the stream reaches offset bytes 6-7
//   6-7: that offset
//
// The stream is fed three times: (A) assembled messages, in one chunk before and one after the
// action; (B) assembled messages, in random chunks with random maxMessages; (C) fragments, in
// random chunks. `.failed` is answered with closeAfterFailure(); the end of input with
// receiveEndOfStream(). Invariants:
// - receive(_:maxMessages:) returns at most the input's size, delivers at most maxMessages
//   messages, and consumes everything unless it delivered exactly maxMessages;
// - nothing is delivered after a terminal event (.closed, .failed, .aborted); there is exactly one,
//   it matches the final lifecycle, and a violation's code is 1002, 1007 or 1009;
// - no message (or running total of fragments) exceeds maxMessageSize; text is valid UTF-8 (checked
//   on the raw fragment bytes with the standard library's validator);
// - A and B give identical events and output; C assembles to the same messages and gives the same
//   other events and output (with deflate too, also when the peer exceeds the negotiated window);
// - every frame written is one well-formed frame, masked iff client, RSV1 only on a compressed
//   first data frame; at most one close frame, nothing after it, its code valid on the wire and the
//   one the situation calls for (ours, the peer's echoed, or the violation's), its reason UTF-8;
// - a core of the other role decodes all of it without failing, receives what the action sent, and
//   the pongs it sees echo the pings we received while open.

import FuzzSupport
import WebSocketCore

typealias Event = ConnectionCore.Event

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConnectionCore(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let scenario = Scenario(data, size)
    let limit = scenario.configuration.maxMessageSize
    let deflate = scenario.configuration.deflate != nil

    let whole = run(scenario, fragments: false, chunking: .whole)
    let pieces = run(scenario, fragments: false, chunking: .random(scenario.seed))
    let streamed = run(scenario, fragments: true, chunking: .random(scenario.seed ^ 0xF00D))
    trace(
        "\(scenario.role), deflate \(String(describing: scenario.configuration.deflate)), limit \(limit), action \(scenario.action) at \(scenario.actionOffset): \(String(describing: whole.actionResult))"
    )
    trace("events: \(whole.events.map { "\($0)".prefix(100) })")
    trace("output: \(whole.output.map { $0.prefix(16) })")
    for run in [whole, pieces, streamed] { checkEnding(run, scenario) }

    // (A) vs (B): chunking and maxMessages change nothing. (A) vs (C): fragments assemble to the
    // same messages; everything else is the same. (This holds with deflate too since we inflate
    // with a 15-bit window whatever was negotiated: DeflateCodec.inflateWindowBits.)
    let (messages, others) = assemble(whole.events, limit: limit)
    let (streamedMessages, streamedOthers) = assemble(streamed.events, limit: limit)
    require(sameEvents(whole.events, pieces.events), "events differ with chunking:\n\(whole.events)\n\(pieces.events)")
    require(
        sameMessages(messages, streamedMessages) && sameEvents(others, streamedOthers),
        "fragment mode differs:\n\(messages)\n\(others)\n\(streamedMessages)\n\(streamedOthers)")
    require(sameBytes(whole.output, pieces.output), "output differs with chunking")
    require(
        whole.actionResult == pieces.actionResult && whole.lifecycleAtAction == pieces.lifecycleAtAction,
        "the action saw another state with chunking")
    require(sameBytes(whole.output, streamed.output), "output differs in fragment mode")
    require(whole.actionResult == streamed.actionResult, "the action saw another state in fragment mode")

    if case .close(let code, let reason) = scenario.action {
        do throws(UsageError) {
            try ConnectionCore.validateClose(code: code, reason: reason)
        } catch {
            require(
                whole.actionResult == .some(error),
                "close(\(String(describing: code)), \(reason.utf8.count) bytes) gave \(String(describing: whole.actionResult))")
        }
    }

    // What we wrote: well-formed frames, and the close frame the situation calls for.
    let frames = decodeOutput(whole.output, role: scenario.role, deflate: deflate)
    let closes = frames.filter { $0.header.opcode == .close }.map(\.payload)
    var expectedClose: [UInt8]?
    if case .close(let code, let reason) = scenario.action, case .some(nil) = whole.actionResult,
        whole.lifecycleAtAction == .open
    {
        expectedClose = code.map { [UInt8($0.rawValue >> 8), UInt8($0.rawValue & 0xFF)] + Array(reason.utf8) } ?? []
    } else if case .failing(let violation) = whole.lifecycleAtAction, case .close(let code, let reason) = scenario.action,
        (try? ConnectionCore.validateClose(code: code, reason: reason)) != nil
    {
        require(whole.actionResult == .some(nil), "close() threw while failing")
        expectedClose = violation.closeCode.bytes + Array(genericReason(violation.closeCode).utf8)
    } else {
        switch whole.events.first(where: isTerminal)! {
        case .failed(let violation): expectedClose = violation.closeCode.bytes + Array(genericReason(violation.closeCode).utf8)
        case .closed(let frame): expectedClose = frame.code == .noStatusReceived ? [] : frame.code.bytes
        default: expectedClose = nil
        }
    }
    if let expectedClose {
        require(closes == [expectedClose], "close frames written \(closes), expected \(expectedClose)")
    } else {
        require(closes.isEmpty, "close frames written \(closes), expected none")
    }

    // A peer of the other role reads all of it without failing.
    var peerConfiguration = ConnectionCore.Configuration()
    peerConfiguration.maxMessageSize = .max
    peerConfiguration.answersPings = false
    peerConfiguration.deflate = scenario.configuration.deflate
    var peer = ConnectionCore(
        role: scenario.role == .client ? .server : .client, configuration: peerConfiguration,
        randomNumberGenerator: SplitMix64(seed: 1))
    var peerEvents: [Event] = []
    for bytes in whole.output {
        peer.receive(bytes)
        while let event = peer.nextEvent() { peerEvents.append(event) }
    }
    for event in peerEvents {
        if case .failed(let violation) = event { fail("the peer fails on our output: \(violation)") }
    }
    let peerMessages = peerEvents.compactMap { event -> Message? in
        if case .message(let message) = event { return message }
        return nil
    }
    if case .some(nil) = whole.actionResult {
        switch scenario.action {
        case .sendText(let text): require(sameMessages(peerMessages, [.text(text)]), "the peer received \(peerMessages)")
        case .sendBinary(let bytes): require(sameMessages(peerMessages, [.binary(bytes)]), "the peer received \(peerMessages)")
        case .fragments(let text, _, true):
            require(sameMessages(peerMessages, [.text(text)]), "the peer received \(peerMessages)")
        case .ping(let payload): require(peerEvents.contains(.ping(payload)), "the peer did not receive our ping")
        default: require(peerMessages.isEmpty, "the peer received \(peerMessages)")
        }
    } else {
        require(peerMessages.isEmpty, "the peer received \(peerMessages) though the action failed")
    }
    if case .pong = scenario.action {
    } else {
        let pongs = peerEvents.compactMap { event -> [UInt8]? in
            if case .pong(let payload) = event { return payload }
            return nil
        }
        let pings = whole.events.compactMap { event -> [UInt8]? in
            if case .ping(let payload) = event { return payload }
            return nil
        }
        if scenario.configuration.answersPings {
            require(pongs == Array(pings.prefix(pongs.count)), "pongs \(pongs) do not echo the pings \(pings)")
        } else {
            require(pongs.isEmpty, "pongs sent though pings are not answered")
        }
    }
    return 0
}

runFuzzer(fuzzConnectionCore)
