// FuzzConnectionCore: feeding a scenario to a core, and decoding and checking what it did.

import FuzzSupport
import WebSocketCore

func isTerminal(_ event: Event) -> Bool {
    switch event {
    case .closed, .failed, .aborted: return true
    case .message, .fragment, .ping, .pong: return false
    }
}

func run(_ scenario: Scenario, fragments: Bool, chunking: Chunking) -> Trace {
    var configuration = scenario.configuration
    configuration.deliversFragments = fragments
    var core = ConnectionCore(
        role: scenario.role, configuration: configuration,
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
                require(
                    [1002, 1007, 1009].contains(violation.closeCode.rawValue), "violation with close code \(violation.closeCode)")
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
                require(
                    consumed == rest.count || delivered == maxMessages,
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
            try withBytes(bytes[..<split]) { (buffer) throws(UsageError) in
                try core.sendFrame(buffer, kind: .text, isFinal: false)
            }
            if finished {
                try withBytes(bytes[split...]) { (buffer) throws(UsageError) in
                    try core.sendFrame(buffer, kind: .text, isFinal: true)
                }
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
        require(
            UInt64(bytes.count - size) == header.payloadLength,
            "one write holds \(bytes.count) bytes for a \(size)+\(header.payloadLength) frame")
        require((header.maskingKey != nil) == (role == .client), "masking \(header.maskingKey != nil) in the \(role) role")
        let allowedRSV: UInt8 = deflate && (header.opcode == .text || header.opcode == .binary) ? 0x4 : 0
        require(
            header.reservedBits & ~allowedRSV == 0, "RSV 0x\(String(header.reservedBits, radix: 16)) written on \(header.opcode)")
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
            require(
                kind == nil || kind == fragment.kind,
                "fragment of kind \(fragment.kind) inside a \(String(describing: kind)) message")
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
