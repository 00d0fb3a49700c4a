import CWebSocketsShim
import Synchronization
import Testing

@testable import WebSockets

#if canImport(Glibc)
    import Glibc
#endif

/// Happy Eyeballs v2 (RFC 8305) over real loopback sockets. The address that never answers is a
/// listener on this machine whose accept queue is full (`listen(fd, 0)` plus one connection never
/// accepted): the kernel drops further SYNs, so a connect to it hangs exactly as one to a dead
/// host does. Nothing leaves loopback.
@Suite("Happy Eyeballs (RFC 8305)", .timeLimit(.minutes(1)))
struct HappyEyeballsTests {
    /// Things recorded from the racing tasks.
    final class Log<Value: Sendable>: Sendable {
        private let values = Mutex<[Value]>([])
        func append(_ value: Value) { values.withLock { $0.append(value) } }
        var all: [Value] { values.withLock { $0 } }
    }

    /// A listener whose queue is full, its filler connection, and its address.
    struct DeadAddress {
        let listener: TCPListener
        let filler: TCPTransport
        let address: SocketAddress

        init() async throws {
            listener = try TCPListener.bind(host: "127.0.0.1", backlog: 0)
            address = try #require(SocketAddress(numericHost: "127.0.0.1", port: listener.port))
            filler = try await TCPTransport.connect(to: address, loop: .shared)
        }

        func close() {
            filler.close()
            listener.close()
        }
    }

    /// An address where nothing listens: connection refused at once. The port stays bound (not
    /// listening, without `SO_REUSEADDR`) until ``close()``, so no listener of a test running in
    /// parallel can take it meanwhile: a port merely bound and released could be handed to the next
    /// `bind` to port 0, and a connect to it would then succeed.
    final class RefusedAddress: CustomStringConvertible {
        let address: SocketAddress
        private let fd: CInt

        init() throws {
            let any = try #require(SocketAddress(numericHost: "127.0.0.1", port: 0))
            let fd = cws_stream_socket(CInt(AF_INET))
            let bound = fd >= 0 && any.withSockAddr { Glibc.bind(fd, $0, $1) } == 0
            try #require(bound, "bind: errno \(errno)")
            self.fd = fd
            address = try #require(SocketAddress.local(of: fd))
        }

        var description: String { address.description }

        func close() { _ = Glibc.close(fd) }
    }

    @Test("families alternate, starting with the resolver's first; leftovers keep their order (§4)")
    func familiesAreInterleaved() throws {
        func address(_ host: String) throws -> SocketAddress { try #require(SocketAddress(numericHost: host, port: 1)) }
        let resolved = try ["::1", "::2", "::3", "10.0.0.1", "10.0.0.2"].map(address)
        #expect(HappyEyeballs.interleave(resolved).map(\.host) == ["::1", "10.0.0.1", "::2", "10.0.0.2", "::3"])
        let v4First = try ["10.0.0.1", "::1", "::2", "::3"].map(address)
        #expect(HappyEyeballs.interleave(v4First).map(\.host) == ["10.0.0.1", "::1", "::2", "::3"])
        #expect(HappyEyeballs.interleave([]).isEmpty)
    }

    @Test("an address that never answers costs one attempt delay: the next attempt starts then and wins (§5)")
    func deadAddressLosesToTheNextOne() async throws {
        let dead = try await DeadAddress()
        let live = try TCPListener.bind(host: "::1")
        defer {
            dead.close()
            live.close()
        }
        let liveAddress = try #require(SocketAddress(numericHost: "::1", port: live.port))
        let started = Log<String>()
        let startedWhenDelayArmed = Log<[String]>()
        let transport = try await HappyEyeballs.connect(
            to: [dead.address, liveAddress], name: "dual-stack.test", noDelay: true, attemptDelay: .milliseconds(250),
            loop: .shared, attemptStarted: { started.append($0.description) },
            sleep: { delay in
                #expect(delay == .milliseconds(250))
                startedWhenDelayArmed.append(started.all)
            })
        defer { transport.close() }
        #expect(transport.remoteAddress == liveAddress.description)
        #expect(started.all == [dead.address.description, liveAddress.description])
        #expect(startedWhenDelayArmed.all == [[dead.address.description]], "the second attempt waited for the delay")
    }

    @Test("a refused address is skipped at once, without waiting for the attempt delay (§5)")
    func failureStartsTheNextAttemptAtOnce() async throws {
        let live = try TCPListener.bind(host: "127.0.0.1")
        let refused = try RefusedAddress()
        defer {
            live.close()
            refused.close()
        }
        let liveAddress = try #require(SocketAddress(numericHost: "127.0.0.1", port: live.port))
        // The delay never passes (it ends only when cancelled): only the failure can start the next attempt.
        let transport = try await HappyEyeballs.connect(
            to: [refused.address, liveAddress], name: "test", noDelay: true, loop: .shared,
            sleep: { _ in try await Self.untilCancelled() })
        defer { transport.close() }
        #expect(transport.remoteAddress == liveAddress.description)
    }

    @Test("when every address fails, connect fails with cannotConnect naming the host")
    func allAddressesFail() async throws {
        let refused = [try RefusedAddress(), try RefusedAddress()]
        defer { for address in refused { address.close() } }
        let error = await #expect(throws: WebSocketError.self) {
            _ = try await HappyEyeballs.connect(
                to: refused.map(\.address), name: "nowhere.test:9", noDelay: true, loop: .shared)
        }
        #expect(error?.status == .cannotConnect)
        #expect(error?.message.contains("nowhere.test:9") == true)
    }

    @Test("with the real delay, a dead first address does not use up the open timeout")
    func deadAddressWithTheRealClock() async throws {
        let dead = try await DeadAddress()
        let live = try TCPListener.bind(host: "127.0.0.1")
        defer {
            dead.close()
            live.close()
        }
        let liveAddress = try #require(SocketAddress(numericHost: "127.0.0.1", port: live.port))
        let transport = try await HappyEyeballs.connect(
            to: [dead.address, liveAddress], name: "test", noDelay: true, attemptDelay: .milliseconds(50), loop: .shared)
        defer { transport.close() }
        #expect(transport.remoteAddress == liveAddress.description)
    }

    @Test("TCPTransport.connect by name resolves both families and connects")
    func connectByName() async throws {
        let live = try TCPListener.bind(host: "127.0.0.1")
        defer { live.close() }
        let transport = try await TCPTransport.connect(host: "localhost", port: live.port)
        defer { transport.close() }
        #expect(transport.remoteAddress == "127.0.0.1:\(live.port)")
    }

    /// An attempt delay that never passes: it ends only when the race cancels it.
    static func untilCancelled() async throws {
        let (never, _) = AsyncStream<Void>.makeStream()
        for await _ in never {}
        throw CancellationError()
    }
}
