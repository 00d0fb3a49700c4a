import WebSocketCore
import WebSocketTesting
import WebSockets

/// The scripted peers of the fault-injection matrix. Each sends its messages right after the
/// opening handshake, then reads until the stream ends, answering pings and the close frame by
/// itself; like a real peer, it closes its socket once a read or write fails or the stream ended.
enum ScriptedPeers {
    /// The peer of our client: the user-facing `MockWebSocketServer`.
    static func server(_ transport: InMemoryTransport) async -> PeerRecord {
        let peer = MockWebSocketServer(transport: transport)
        var record = PeerRecord()
        do {
            try await peer.acceptHandshake()
            for message in FaultScenario.peerMessages {
                do { try await peer.send(message) } catch {
                    record.writeFailed = true
                    throw error
                }
                record.sent.append(message)
            }
            while let event = try await peer.nextEvent() {
                if case .message(let message) = event { record.received.append(message) }
            }
        } catch {}
        transport.close()
        return record
    }

    /// The peer of our server: a client made of the protocol core and the client handshake. After
    /// the close handshake it waits for the server to end the stream (RFC 6455 §7.1.1).
    static func client(_ transport: InMemoryTransport) async -> PeerRecord {
        var record = PeerRecord()
        var core = ConnectionCore(role: .client)
        var buffer = [UInt8](repeating: 0, count: 4096)
        do {
            var generator = SystemRandomNumberGenerator()
            let url = try WebSocketURL(parsing: "ws://server.test/chat")
            let handshake = ClientHandshake(url: url, key: ClientHandshake.makeKey(using: &generator))
            try await transport.write([handshake.requestBytes()])
            var parser = HTTPHeadParser<HTTPResponseHead>()
            while true {
                let count = try await transport.read(into: &buffer)
                guard count > 0 else { throw WebSocketError(.connectionAborted, "the server left during the handshake") }
                if case .complete(let head, let remaining) = try parser.append(buffer[..<count]) {
                    _ = try handshake.validate(head)
                    core.receive(remaining)
                    break
                }
            }
            for message in FaultScenario.peerMessages {
                switch message {
                case .text(let text): try core.send(text: text)
                case .binary(let bytes): try bytes.withUnsafeBytes { try core.send(binary: $0) }
                }
                do { try await transport.write(core.takeOutput()) } catch {
                    record.writeFailed = true
                    throw error
                }
                record.sent.append(message)
            }
            while true {
                while let event = core.nextEvent() {
                    if case .message(let message) = event { record.received.append(message) }
                }
                let replies = core.takeOutput()  // pongs, the echo of the close frame
                do { try await transport.write(replies) } catch {
                    record.writeFailed = true
                    throw error
                }
                let count = try await transport.read(into: &buffer)
                guard count > 0 else { break }
                core.receive(buffer[..<count])
            }
            core.receiveEndOfStream()
            while let event = core.nextEvent() {
                if case .message(let message) = event { record.received.append(message) }
            }
        } catch {}
        transport.close()
        return record
    }
}

/// Reads a recorded byte stream as the peer would: skips the HTTP head, then returns the data
/// messages whose frames are complete in `bytes` (every message of the scenario is one frame).
/// What a peer must have received is exactly this, for the bytes that reached it.
func completeMessages(in bytes: [UInt8]) -> [Message] {
    let terminator: [UInt8] = [13, 10, 13, 10]
    guard let headEnd = bytes.indices.first(where: { bytes[$0...].starts(with: terminator) }) else { return [] }
    var index = headEnd + 4
    var messages: [Message] = []
    while index + 2 <= bytes.count {
        let opcode = bytes[index] & 0x0F
        let masked = bytes[index + 1] & 0x80 != 0
        var length = Int(bytes[index + 1] & 0x7F)
        var header = 2
        if length == 126 {
            guard index + 4 <= bytes.count else { break }
            length = Int(bytes[index + 2]) << 8 | Int(bytes[index + 3])
            header = 4
        } else if length == 127 {
            break  // the scenario sends nothing that large
        }
        let keyStart = index + header
        let payloadStart = keyStart + (masked ? 4 : 0)
        guard payloadStart + length <= bytes.count else { break }
        var payload = Array(bytes[payloadStart..<(payloadStart + length)])
        if masked {
            for offset in payload.indices { payload[offset] ^= bytes[keyStart + offset % 4] }
        }
        switch opcode {
        case 1: messages.append(.text(String(decoding: payload, as: UTF8.self)))
        case 2: messages.append(.binary(payload))
        default: break
        }
        index = payloadStart + length
    }
    return messages
}
