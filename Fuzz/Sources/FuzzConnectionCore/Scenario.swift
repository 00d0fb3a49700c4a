// FuzzConnectionCore: what an input means (the layout is in main.swift).

import FuzzSupport
import WebSocketCore

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
            configuration.deflate = .init(
                serverNoContextTakeover: flags & 0x10 != 0, clientNoContextTakeover: flags & 0x20 != 0,
                serverMaxWindowBits: 8 + Int(windows & 7), clientMaxWindowBits: 8 + Int((windows >> 4) & 7))
            configuration.deflateOptions = .init(
                memoryLevel: 1 + Int(sizes >> 4) % 9, compressionLevel: 1 + Int(sizes >> 4) % 9,
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
