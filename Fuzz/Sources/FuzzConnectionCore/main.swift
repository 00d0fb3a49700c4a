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

let limits = [0, 1, 2, 3, 7, 16, 64, 125, 126, 127, 200, 1000, 4096, 65535, 65536, Int.max]
let closeCodes: [UInt16?] = [1000, 1001, 1002, 1003, 1007, 1008, 1011, 1014, 3000, 4999, nil, 1005, 1006, 1015, 2999, 5000]

let texts = ["", "hello", String(repeating: "héllo wörld ✓ ", count: 12), String(repeating: "a", count: 300), "😀", "\u{0}"]
let reasons = ["", "bye", String(repeating: "r", count: 123), String(repeating: "é", count: 62)]

enum Action: Equatable {
    case none
    case close(CloseCode?, String)
    case sendText(String)
    case sendBinary([UInt8])
    case ping([UInt8])
    case pong([UInt8])
    /// A fragmented text message, split inside a multi-byte character; `finished`: final frame sent.
    case fragments(String, split: Int, finished: Bool)

    init(_ byte: UInt8) {
        let variant = Int(byte >> 3)
        switch byte & 7 {
        case 0: self = .none
        case 1:
            self = .close(closeCodes[variant % 16].map { CloseCode($0) }, reasons[(variant / 16) % 2 == 0 ? 0 : (variant % 4)])
        case 2: self = .sendText(texts[variant % texts.count])
        case 3: self = .sendBinary((0..<(variant * 37)).map { UInt8(truncatingIfNeeded: $0 % 7) })
        case 4: self = .ping(Array(repeating: 0x50, count: variant % 2 == 0 ? variant : 126))
        case 5: self = .pong(Array(repeating: 0x51, count: variant))
        default: self = .fragments(texts[2], split: 1 + variant % 20, finished: byte & 7 == 7)
        }
    }
}

struct Scenario {
    var configuration = ConnectionCore.Configuration()
    var role: ConnectionCore.Role
    var deferFailureClose: Bool
    var seed: UInt64
    var action: Action
    var actionOffset: Int
    var stream: [UInt8]

    init(_ data: UnsafePointer<UInt8>?, _ size: Int) {
        var input = FuzzInput(data, size)
        let flags = input.byte()
        let windows = input.byte()
        let sizes = input.byte()
        seed = UInt64(input.uint16())
        action = Action(input.byte())
        let offset = Int(input.uint16())
        stream = input.rest
        actionOffset = offset % (stream.count + 1)
        role = flags & 0x01 != 0 ? .server : .client
        deferFailureClose = flags & 0x40 != 0
        configuration.answersPings = flags & 0x04 == 0
        configuration.allowedReservedBits = flags & 0x08 != 0 ? 0x7 : 0
        configuration.maxMessageSize = limits[Int(sizes & 0x0F)]
        if flags & 0x02 != 0 {
            configuration.deflate = .init(serverNoContextTakeover: flags & 0x10 != 0, clientNoContextTakeover: flags & 0x20 != 0,
                                          serverMaxWindowBits: 8 + Int(windows & 7), clientMaxWindowBits: 8 + Int((windows >> 4) & 7))
            configuration.deflateOptions = .init(memoryLevel: 1 + Int(sizes >> 4) % 9, compressionLevel: 1 + Int(sizes >> 4) % 9,
                                                 minimumMessageSize: sizes & 0x80 != 0 ? 0 : 128)
        }
    }
}

/// What one run produced.
struct Trace {
    var events: [Event] = []
    var output: [[UInt8]] = []
    var actionResult: UsageError?? = .none  // .none: not run; .some(nil): succeeded
    var lifecycleAtAction: ConnectionCore.Lifecycle?
    var lifecycle: ConnectionCore.Lifecycle = .open
    var ended = false
}

enum Chunking {
    /// One chunk before the action's offset and one after, no maxMessages.
    case whole
    /// Random chunks and maxMessages from the seed.
    case random(UInt64)
}

func isTerminal(_ event: Event) -> Bool {
    switch event {
    case .closed, .failed, .aborted: return true
    case .message, .fragment, .ping, .pong: return false
    }
}

func run(_ scenario: Scenario, fragments: Bool, chunking: Chunking) -> Trace {
    var configuration = scenario.configuration
    configuration.deliversFragments = fragments
    var core = ConnectionCore(role: scenario.role, configuration: configuration,
                              randomNumberGenerator: SplitMix64(seed: 0x5EED))
    var trace = Trace()
    var rng = SplitMix64(seed: 0)
    if case .random(let seed) = chunking { rng = SplitMix64(seed: seed) }

    func drain(_ core: inout ConnectionCore, _ trace: inout Trace) -> Int {
        var delivered = 0
        while let event = core.nextEvent() {
            require(!trace.ended, "event \(event) after the terminal event")
            trace.events.append(event)
            trace.ended = isTerminal(event)
            switch event {
            case .message(let message):
                delivered += 1
                require(!fragments, "a whole message delivered in fragment mode")
                let size = message.text?.utf8.count ?? message.bytes.count
                require(size <= configuration.maxMessageSize, "message of \(size) bytes, limit \(configuration.maxMessageSize)")
            case .fragment:
                delivered += 1
                require(fragments, "a fragment delivered in message mode")
            case .failed(let violation):
                require([1002, 1007, 1009].contains(violation.closeCode.rawValue), "violation with close code \(violation.closeCode)")
                if !scenario.deferFailureClose { core.closeAfterFailure() }
            case .ping(let payload), .pong(let payload):
                require(payload.count <= 125, "control payload of \(payload.count) bytes")
            case .closed(let frame):
                require(frame.code == .noStatusReceived || frame.code.isValidOnWire, "peer close code \(frame.code) accepted")
                require(frame.code != .noStatusReceived || frame.reason.isEmpty, "reason without a code")
            case .aborted:
                break
            }
        }
        trace.output += core.takeOutput()
        return delivered
    }

    let split = scenario.actionOffset
    let segments = [scenario.stream[..<split], scenario.stream[split...]]
    for (index, segment) in segments.enumerated() {
        if index == 1 {
            trace.lifecycleAtAction = core.lifecycle
            trace.actionResult = perform(scenario.action, on: &core)
            _ = drain(&core, &trace)
        }
        let pieces: [ArraySlice<UInt8>]
        switch chunking {
        case .whole: pieces = segment.isEmpty ? [] : [segment]
        case .random: pieces = chunks(of: segment, using: &rng)
        }
        for piece in pieces {
            var rest = piece
            while !rest.isEmpty {
                var maxMessages = Int.max
                if case .random = chunking { maxMessages = [1, 1, 2, 3, .max][rng.below(5)] }
                let consumed = rest.withUnsafeBytes { core.receive($0, maxMessages: maxMessages) }
                let delivered = drain(&core, &trace)
                require(consumed > 0 && consumed <= rest.count, "receive consumed \(consumed) of \(rest.count) bytes")
                require(delivered <= maxMessages, "\(delivered) messages delivered with maxMessages \(maxMessages)")
                require(consumed == rest.count || delivered == maxMessages,
                        "receive stopped at \(consumed) of \(rest.count) bytes after \(delivered) of \(maxMessages) messages")
                rest = rest[(rest.startIndex + consumed)...]
            }
        }
    }
    core.closeAfterFailure()
    _ = drain(&core, &trace)
    core.receiveEndOfStream()
    _ = drain(&core, &trace)
    trace.lifecycle = core.lifecycle
    return trace
}

func perform(_ action: Action, on core: inout ConnectionCore) -> UsageError? {
    do throws(UsageError) {
        switch action {
        case .none:
            break
        case .close(let code, let reason):
            try core.close(code: code, reason: reason)
        case .sendText(let text):
            try core.send(text: text)
        case .sendBinary(let bytes):
            try withBytes(bytes[...]) { (buffer) throws(UsageError) in try core.send(binary: buffer) }
        case .ping(let payload):
            try core.sendPing(payload)
        case .pong(let payload):
            try core.sendPong(payload)
        case .fragments(let text, let split, let finished):
            let bytes = Array(text.utf8)
            try withBytes(bytes[..<split]) { (buffer) throws(UsageError) in try core.sendFrame(buffer, kind: .text, isFinal: false) }
            if finished {
                try withBytes(bytes[split...]) { (buffer) throws(UsageError) in try core.sendFrame(buffer, kind: .text, isFinal: true) }
            }
        }
        return nil
    } catch {
        return error
    }
}

/// `withUnsafeBytes` for a body with typed throws (`rethrows` would widen the error to `any Error`).
func withBytes(_ bytes: ArraySlice<UInt8>, _ body: (UnsafeRawBufferPointer) throws(UsageError) -> Void) throws(UsageError) {
    var failure: UsageError?
    bytes.withUnsafeBytes { buffer in
        do throws(UsageError) { try body(buffer) } catch { failure = error }
    }
    if let failure { throw failure }
}

/// One frame written by the core, decoded and unmasked.
struct WrittenFrame {
    var header: FrameHeader
    var payload: [UInt8]
}

func decodeOutput(_ output: [[UInt8]], role: ConnectionCore.Role, deflate: Bool) -> [WrittenFrame] {
    var frames: [WrittenFrame] = []
    var closed = false
    for bytes in output {
        guard case .header(let header, let size) = bytes.withUnsafeBytes({ FrameHeader.decode($0) }) else {
            fail("written bytes are not a frame: \(bytes.prefix(16))")
        }
        require(UInt64(bytes.count - size) == header.payloadLength, "one write holds \(bytes.count) bytes for a \(size)+\(header.payloadLength) frame")
        require((header.maskingKey != nil) == (role == .client), "masking \(header.maskingKey != nil) in the \(role) role")
        let allowedRSV: UInt8 = deflate && (header.opcode == .text || header.opcode == .binary) ? 0x4 : 0
        require(header.reservedBits & ~allowedRSV == 0, "RSV 0x\(String(header.reservedBits, radix: 16)) written on \(header.opcode)")
        require(!closed, "\(header.opcode) frame written after our close frame")
        var payload = Array(bytes[size...])
        if let key = header.maskingKey { payload.withUnsafeMutableBytes { _ = key.apply(to: $0) } }
        if header.opcode == .close {
            closed = true
            require(payload.count != 1, "close frame with a 1-byte payload")
            if payload.count >= 2 {
                let code = CloseCode(UInt16(payload[0]) << 8 | UInt16(payload[1]))
                require(code.isValidOnWire, "close frame written with code \(code.rawValue), not valid on the wire")
                require(payload.count - 2 <= 123 && isValidUTF8(payload[2...]), "close reason \(payload[2...])")
            }
        }
        frames.append(WrittenFrame(header: header, payload: payload))
    }
    return frames
}

/// Messages assembled from fragments, and the other events, in order.
func assemble(_ events: [Event], limit: Int) -> (messages: [Message], others: [Event]) {
    var messages: [Message] = []
    var others: [Event] = []
    var kind: MessageKind?
    var bytes: [UInt8] = []
    for event in events {
        switch event {
        case .fragment(let fragment):
            require(kind == nil || kind == fragment.kind, "fragment of kind \(fragment.kind) inside a \(String(describing: kind)) message")
            kind = fragment.kind
            bytes += fragment.bytes
            require(bytes.count <= limit, "fragments add up to \(bytes.count) bytes, limit \(limit)")
            if fragment.isFinal {
                if fragment.kind == .text {
                    require(isValidUTF8(bytes), "text message delivered with invalid UTF-8: \(bytes.prefix(64))")
                    messages.append(.text(String(decoding: bytes, as: UTF8.self)))
                } else {
                    messages.append(.binary(bytes))
                }
                kind = nil
                bytes = []
            }
        case .message(let message):
            messages.append(message)
        default:
            others.append(event)
        }
    }
    return (messages, others)
}

func checkEnding(_ trace: Trace, _ scenario: Scenario) {
    let terminals = trace.events.filter(isTerminal)
    require(terminals.count == 1, "\(terminals.count) terminal events: \(terminals)")
    guard case .closed(let ending) = trace.lifecycle else {
        fail("lifecycle \(trace.lifecycle) after the end of stream")
    }
    switch (terminals.first!, ending) {
    case (.closed(let frame), .handshakeCompleted(let peer, _)): require(frame == peer, "closed(\(frame)) but ending \(ending)")
    case (.failed(let violation), .failed(let ended)): require(violation == ended, "failed(\(violation)) but ending \(ending)")
    case (.aborted, .aborted): break
    default: fail("terminal event \(terminals.first!) but ending \(ending)")
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConnectionCore(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let scenario = Scenario(data, size)
    let limit = scenario.configuration.maxMessageSize
    let deflate = scenario.configuration.deflate != nil

    let whole = run(scenario, fragments: false, chunking: .whole)
    let pieces = run(scenario, fragments: false, chunking: .random(scenario.seed))
    let streamed = run(scenario, fragments: true, chunking: .random(scenario.seed ^ 0xF00D))
    trace("\(scenario.role), deflate \(String(describing: scenario.configuration.deflate)), limit \(limit), action \(scenario.action) at \(scenario.actionOffset): \(String(describing: whole.actionResult))")
    trace("events: \(whole.events.map { "\($0)".prefix(100) })")
    trace("output: \(whole.output.map { $0.prefix(16) })")
    for run in [whole, pieces, streamed] { checkEnding(run, scenario) }

    // (A) vs (B): chunking and maxMessages change nothing. (A) vs (C): fragments assemble to the
    // same messages; everything else is the same. (This holds with deflate too since we inflate
    // with a 15-bit window whatever was negotiated: DeflateCodec.inflateWindowBits.)
    let (messages, others) = assemble(whole.events, limit: limit)
    let (streamedMessages, streamedOthers) = assemble(streamed.events, limit: limit)
    require(sameEvents(whole.events, pieces.events), "events differ with chunking:\n\(whole.events)\n\(pieces.events)")
    require(sameMessages(messages, streamedMessages) && sameEvents(others, streamedOthers),
            "fragment mode differs:\n\(messages)\n\(others)\n\(streamedMessages)\n\(streamedOthers)")
    require(sameBytes(whole.output, pieces.output), "output differs with chunking")
    require(whole.actionResult == pieces.actionResult && whole.lifecycleAtAction == pieces.lifecycleAtAction,
            "the action saw another state with chunking")
    require(sameBytes(whole.output, streamed.output), "output differs in fragment mode")
    require(whole.actionResult == streamed.actionResult, "the action saw another state in fragment mode")

    if case .close(let code, let reason) = scenario.action {
        do throws(UsageError) {
            try ConnectionCore.validateClose(code: code, reason: reason)
        } catch {
            require(whole.actionResult == .some(error), "close(\(String(describing: code)), \(reason.utf8.count) bytes) gave \(String(describing: whole.actionResult))")
        }
    }

    // What we wrote: well-formed frames, and the close frame the situation calls for.
    let frames = decodeOutput(whole.output, role: scenario.role, deflate: deflate)
    let closes = frames.filter { $0.header.opcode == .close }.map(\.payload)
    var expectedClose: [UInt8]?
    if case .close(let code, let reason) = scenario.action, case .some(nil) = whole.actionResult,
       whole.lifecycleAtAction == .open {
        expectedClose = code.map { [UInt8($0.rawValue >> 8), UInt8($0.rawValue & 0xFF)] + Array(reason.utf8) } ?? []
    } else if case .failing(let violation) = whole.lifecycleAtAction, case .close(let code, let reason) = scenario.action,
              (try? ConnectionCore.validateClose(code: code, reason: reason)) != nil {
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
    var peer = ConnectionCore(role: scenario.role == .client ? .server : .client, configuration: peerConfiguration,
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
        case .fragments(let text, _, true): require(sameMessages(peerMessages, [.text(text)]), "the peer received \(peerMessages)")
        case .ping(let payload): require(peerEvents.contains(.ping(payload)), "the peer did not receive our ping")
        default: require(peerMessages.isEmpty, "the peer received \(peerMessages)")
        }
    } else {
        require(peerMessages.isEmpty, "the peer received \(peerMessages) though the action failed")
    }
    if case .pong = scenario.action {} else {
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

extension CloseCode {
    var bytes: [UInt8] { [UInt8(rawValue >> 8), UInt8(rawValue & 0xFF)] }
}

/// The reason the core puts in the close frame of a violation (`ConnectionCore.genericReason`).
func genericReason(_ code: CloseCode) -> String {
    switch code {
    case .invalidPayload: return "invalid payload data"
    case .messageTooBig: return "message too big"
    default: return "protocol error"
    }
}

runFuzzer(fuzzConnectionCore)
