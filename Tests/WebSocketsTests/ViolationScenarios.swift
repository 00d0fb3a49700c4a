import WebSocketCore

/// Ways a peer can break RFC 6455 that must *fail the connection* (§7.1.7) with a close frame
/// carrying the right code: the scenarios of the lifecycle issue, from a server's side (unmasked)
/// or a client's (masked).
struct ViolationScenario: Sendable, CustomStringConvertible {
    let name: String
    /// The offending bytes, built for the sender's role.
    let bytes: @Sendable (_ masked: Bool) -> [UInt8]
    let expectedCode: UInt16

    var description: String { name }

    static func frame(_ first: UInt8, _ payload: [UInt8], masked: Bool, length: [UInt8]? = nil) -> [UInt8] {
        let key: [UInt8] = [0x11, 0x22, 0x33, 0x44]
        var bytes: [UInt8] = [first]
        if let length {
            bytes.append((masked ? 0x80 : 0) | length[0])
            bytes += length.dropFirst()
        } else if payload.count < 126 {
            bytes.append((masked ? 0x80 : 0) | UInt8(payload.count))
        } else {
            bytes += [(masked ? 0x80 : 0) | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        }
        guard masked else { return bytes + payload }
        return bytes + key + payload.enumerated().map { $0.element ^ key[$0.offset & 3] }
    }

    static func close(_ code: UInt16, _ reason: [UInt8] = [], masked: Bool) -> [UInt8] {
        frame(0x88, [UInt8(code >> 8), UInt8(code & 0xFF)] + reason, masked: masked)
    }

    /// Every scenario; `role` is the role of the *violating* peer.
    static func all(violatorIsServer: Bool) -> [ViolationScenario] {
        var list: [ViolationScenario] = [
            .init(name: "reserved data opcode 0x3", bytes: { frame(0x83, [], masked: $0) }, expectedCode: 1002),
            .init(name: "reserved data opcode 0x7", bytes: { frame(0x87, [0x41], masked: $0) }, expectedCode: 1002),
            .init(name: "reserved control opcode 0xB", bytes: { frame(0x8B, [], masked: $0) }, expectedCode: 1002),
            .init(name: "reserved control opcode 0xF", bytes: { frame(0x8F, [0x41], masked: $0) }, expectedCode: 1002),
            .init(name: "RSV1 without an extension", bytes: { frame(0xC1, [0x41], masked: $0) }, expectedCode: 1002),
            .init(name: "RSV2", bytes: { frame(0xA1, [0x41], masked: $0) }, expectedCode: 1002),
            .init(name: "RSV3", bytes: { frame(0x91, [0x41], masked: $0) }, expectedCode: 1002),
            .init(
                name: "ping over 125 bytes", bytes: { frame(0x89, [UInt8](repeating: 0x61, count: 126), masked: $0) },
                expectedCode: 1002),
            .init(name: "fragmented ping", bytes: { frame(0x09, [0x41], masked: $0) }, expectedCode: 1002),
            .init(name: "continuation without a start", bytes: { frame(0x80, [0x41], masked: $0) }, expectedCode: 1002),
            .init(
                name: "new data frame inside a fragmented message",
                bytes: { frame(0x01, [0x41], masked: $0) + frame(0x81, [0x42], masked: $0) }, expectedCode: 1002),
            .init(
                name: "64-bit length with the top bit set",
                bytes: { frame(0x82, [], masked: $0, length: [127, 0x80, 0, 0, 0, 0, 0, 0, 0]) }, expectedCode: 1002),
            .init(
                name: "huge declared length",
                bytes: { frame(0x82, [], masked: $0, length: [127, 0, 0, 0x10, 0, 0, 0, 0, 0]) }, expectedCode: 1009),
            .init(
                name: "message over the default size limit (16 MiB)",
                bytes: { frame(0x82, [], masked: $0, length: [127, 0, 0, 0, 0, 0x01, 0, 0, 1]) }, expectedCode: 1009),
            .init(name: "invalid UTF-8: bad byte", bytes: { frame(0x81, [0x41, 0xFF], masked: $0) }, expectedCode: 1007),
            .init(name: "invalid UTF-8: surrogate", bytes: { frame(0x81, [0xED, 0xA0, 0x80], masked: $0) }, expectedCode: 1007),
            .init(name: "invalid UTF-8: overlong", bytes: { frame(0x81, [0xC0, 0xAF], masked: $0) }, expectedCode: 1007),
            .init(
                name: "invalid UTF-8: above U+10FFFF", bytes: { frame(0x81, [0xF4, 0x90, 0x80, 0x80], masked: $0) },
                expectedCode: 1007),
            .init(
                name: "invalid UTF-8 split across frames",
                bytes: { frame(0x01, [0x41, 0xE2], masked: $0) + frame(0x80, [0x28, 0xA1], masked: $0) }, expectedCode: 1007),
            .init(name: "close with a 1-byte payload", bytes: { frame(0x88, [0x03], masked: $0) }, expectedCode: 1002),
            .init(
                name: "close with a 126-byte payload",
                bytes: { close(1000, [UInt8](repeating: 0x61, count: 124), masked: $0) }, expectedCode: 1002),
            .init(
                name: "close with invalid UTF-8 in the reason", bytes: { close(1000, [0xC0, 0x80], masked: $0) },
                expectedCode: 1007),
        ]
        for code: UInt16 in [999, 1004, 1005, 1006, 1015, 1016, 2999, 5000] {
            list.append(.init(name: "close code \(code)", bytes: { close(code, masked: $0) }, expectedCode: 1002))
        }
        list.append(
            violatorIsServer
                ? .init(name: "masked frame from a server", bytes: { _ in frame(0x81, [0x41], masked: true) }, expectedCode: 1002)
                : .init(
                    name: "unmasked frame from a client", bytes: { _ in frame(0x81, [0x41], masked: false) }, expectedCode: 1002))
        return list
    }
}

/// The close codes of the close frames in `bytes`, a byte stream written by an endpoint in `role`.
func closeCodes(in bytes: [UInt8], writtenBy role: ConnectionCore.Role) -> [UInt16] {
    var reader = ConnectionCore(role: role == .client ? .server : .client)
    reader.receive(bytes)
    var codes: [UInt16] = []
    while let event = reader.nextEvent() {
        if case .closed(let frame) = event { codes.append(frame.code.rawValue) }
    }
    return codes
}
