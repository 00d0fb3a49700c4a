import Testing
import WebSocketTesting

@testable import WebSockets

/// "An empty buffer means the same thing for every Transport" (see ``Transport``): the same checks,
/// run against each of the package's transports.
@Suite("Empty buffers on every transport (TCP, TLS, in-memory)")
struct TLSTransportEmptyBufferTests {
    enum Kind: String, CaseIterable, CustomTestStringConvertible {
        case tcp, tls, inMemory
        var testDescription: String { rawValue }
    }

    /// Two connected ends and whatever must stay alive (and be closed) with them.
    struct Ends {
        let near: any Transport
        let far: any Transport
        let cleanup: @Sendable () -> Void
    }

    static func connect(_ kind: Kind) async throws -> Ends {
        switch kind {
        case .tcp:
            let listener = try TCPListener.bind(host: "127.0.0.1", port: 0)
            async let accepted = listener.accept()
            let near = try await TCPTransport.connect(host: "127.0.0.1", port: listener.port)
            let far = try await accepted
            return Ends(near: near, far: far) {
                near.close()
                far.close()
                listener.close()
            }
        case .tls:
            let pair = try await TLSTransportTestPair.make()
            return Ends(near: pair.client, far: pair.server) { pair.closeAll() }
        case .inMemory:
            let (near, far) = InMemoryTransport.makePair()
            return Ends(near: near, far: far) {
                near.close()
                far.close()
            }
        }
    }

    /// Reads until exactly `count` bytes arrived (fewer only if the stream ended).
    static func receive(_ count: Int, from transport: any Transport) async throws -> [UInt8] {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16)
        while received.count < count {
            let n = try await transport.read(into: &buffer, isolation: nil)
            if n == 0 { break }
            received += buffer[..<n]
        }
        return received
    }

    /// What an empty read throws (nil if it returned instead).
    static func emptyReadStatus(_ transport: any Transport) async -> WebSocketError.Status? {
        await thrownStatus {
            var empty: [UInt8] = []
            _ = try await transport.read(into: &empty, isolation: nil)
        }
    }

    @Test("a read into an empty buffer throws invalidArgument at once and consumes nothing", arguments: Kind.allCases)
    func emptyRead(kind: Kind) async throws {
        let ends = try await Self.connect(kind)
        defer { ends.cleanup() }
        // Nothing has arrived: a read that waited for data would hang here instead of throwing.
        #expect(await Self.emptyReadStatus(ends.near) == .invalidArgument)
        try await ends.far.write([[1, 2, 3]], isolation: nil)
        #expect(await Self.emptyReadStatus(ends.near) == .invalidArgument)
        #expect(try await Self.receive(3, from: ends.near) == [1, 2, 3], "the empty read consumed nothing")
    }

    @Test("a write with no bytes returns at once and delivers nothing", arguments: Kind.allCases)
    func emptyWrite(kind: Kind) async throws {
        let ends = try await Self.connect(kind)
        defer { ends.cleanup() }
        try await ends.near.write([], isolation: nil)
        try await ends.near.write([[]], isolation: nil)
        try await ends.near.write([[], [], []], isolation: nil)
        try await ends.near.write([[7]], isolation: nil)
        var buffer = [UInt8](repeating: 0, count: 16)
        let count = try await ends.far.read(into: &buffer, isolation: nil)
        #expect(Array(buffer[..<count]) == [7], "the first bytes to arrive are the first non-empty write's")
    }

    @Test(
        "after close(): an empty read still throws invalidArgument, an empty write still returns, the rest throws closed",
        arguments: Kind.allCases)
    func emptyAfterClose(kind: Kind) async throws {
        let ends = try await Self.connect(kind)
        defer { ends.cleanup() }
        ends.near.close()
        #expect(await Self.emptyReadStatus(ends.near) == .invalidArgument)
        try await ends.near.write([], isolation: nil)
        try await ends.near.write([[], []], isolation: nil)
        #expect(await thrownStatus { try await ends.near.write([[1]], isolation: nil) } == .closed)
        #expect(
            await thrownStatus {
                var buffer = [UInt8](repeating: 0, count: 16)
                _ = try await ends.near.read(into: &buffer, isolation: nil)
            } == .closed)
        // The other end: its stream ended; an empty write still returns, an empty read still throws.
        var buffer = [UInt8](repeating: 0, count: 16)
        #expect(try await ends.far.read(into: &buffer, isolation: nil) == 0)
        try await ends.far.write([], isolation: nil)
        #expect(await Self.emptyReadStatus(ends.far) == .invalidArgument)
    }
}
