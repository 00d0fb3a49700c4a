import Testing
import WebSocketCore
import WebSocketServer

@testable import WebSockets

#if canImport(Glibc)
    import Glibc
#endif

/// A server that a hostile client cannot exhaust: every limit of `WebSocketServerConfiguration`
/// that guards descriptors, memory and tasks, driven over loopback by raw TCP clients that write
/// exactly the bytes a slowloris, a header flood or a connection flood would.
@Suite("Server hardening", .timeLimit(.minutes(3)))  // a test may wait for the exclusive lock first
struct ServerHardeningTests {
    @Test(
        "the defaults: 10,000 connections, 256 concurrent handshakes, 100 header fields, 16 KiB heads, a 10 s handshake deadline, no idle timeout"
    )
    func defaults() {
        let configuration = WebSocketServerConfiguration()
        #expect(configuration.maxConnections == 10_000)
        #expect(configuration.maxConcurrentHandshakes == 256)
        #expect(configuration.maxRequestHeaderCount == 100)
        #expect(configuration.maxRequestHeadSize == 16 * 1024)
        #expect(configuration.handshakeTimeout == .seconds(10))
        #expect(configuration.idleTimeout == nil)
    }

    @Test(
        "limits that are not positive are refused at bind time",
        arguments: [
            { (c: inout WebSocketServerConfiguration) in c.maxConnections = 0 },
            { (c: inout WebSocketServerConfiguration) in c.maxConcurrentHandshakes = 0 },
            { (c: inout WebSocketServerConfiguration) in c.maxRequestHeaderCount = -1 },
            { (c: inout WebSocketServerConfiguration) in c.handshakeTimeout = .zero },
            { (c: inout WebSocketServerConfiguration) in c.idleTimeout = .zero },
        ] as [@Sendable (inout WebSocketServerConfiguration) -> Void])
    func invalidLimits(change: @Sendable (inout WebSocketServerConfiguration) -> Void) async {
        var configuration = WebSocketServerConfiguration()
        change(&configuration)
        await #expect { _ = try await WebSocketListener.bind(configuration: configuration) } throws: {
            ($0 as? WebSocketError)?.status == .invalidArgument
        }
    }

    // MARK: - maxConnections

    @Test("beyond maxConnections a valid upgrade gets 503 with Retry-After and is closed; a connection that ends makes room")
    func connectionLimit() async throws {
        let log = ServerLog()
        try await withTeardown(await WebSocketServer.logging(log) { $0.maxConnections = 2 }) { server in
            let first = try await RawClient.connect(to: server.port)
            defer { first.close() }
            let second = try await RawClient.connect(to: server.port)
            defer { second.close() }
            for client in [first, second] {
                try await client.send(RawClient.upgradeRequest())
                #expect(try await client.readHead().0.status == 101)
            }
            try await awaitState("two connections open") { await server.listener.waitUntil { $0.openConnections == 2 } }

            let refused = try await RawClient.connect(to: server.port)
            defer { refused.close() }
            try await refused.send(RawClient.upgradeRequest())
            let response = try await refused.readHead().0
            #expect(response.status == 503)
            #expect(response.values("Retry-After") == ["1"])
            #expect(try await refused.readToEnd() != nil, "the refused connection was left open")
            #expect(server.listener.progress.upgradesQueued == 2)  // refused before the application saw it

            // The first client goes away (TCP closed without a close frame): its place is free.
            first.close()
            try await awaitState("the first connection ended") { await server.listener.waitUntil { $0.openConnections == 1 } }
            let later = try await RawClient.connect(to: server.port)
            defer { later.close() }
            try await later.send(RawClient.upgradeRequest())
            #expect(try await later.readHead().0.status == 101)
            #expect(await log.wait { $0.started == 3 })
        }
    }

    @Test(
        "maxConnections holds when the application accepts upgrades queued before the limit was reached: the extra one gets 503 and accept throws .closed"
    )
    func connectionLimitAtAccept() async throws {
        var configuration = WebSocketServerConfiguration()
        configuration.maxConnections = 1
        try await withTeardown(await WebSocketListener.bind(configuration: configuration)) { listener in
            let first = try await RawClient.connect(to: listener.port)
            defer { first.close() }
            let second = try await RawClient.connect(to: listener.port)
            defer { second.close() }
            try await first.send(RawClient.upgradeRequest())
            try await second.send(RawClient.upgradeRequest())
            // Both pass the listener's check (no connection is open yet) and wait for the application.
            try await awaitState("both upgrades queued") { await listener.waitUntil { $0.upgradesQueued == 2 } }
            var upgrades = listener.makeAsyncIterator()
            let accepted = try #require(await upgrades.next())
            let extra = try #require(await upgrades.next())
            _ = try await accepted.accept()
            await #expect { _ = try await extra.accept() } throws: { ($0 as? WebSocketError)?.status == .closed }
            let statuses = try await [first.readHead().0.status, second.readHead().0.status]
            #expect(statuses.sorted() == [101, 503])
            #expect(listener.connectionCount == 1)
        }
    }

    // MARK: - Handshake deadline (slowloris)

    @Test("handshakeTimeout is one deadline from accept: a client trickling its request a byte at a time is dropped anyway")
    func tricklingClientIsDropped() async throws {
        let log = ServerLog()
        // 3 s against a 40 ms pace: the trickle gets bytes in before the deadline, each well within
        // what a per-read timeout allows. How many depends on the machine: under TSan with the whole
        // suite in parallel on two cores, a 40 ms sleep has taken 750 ms (2 bytes in 1.5 s), so the
        // check below asks for two (a read after a pause, and still one deadline), not a count that
        // depends on the scheduler. A per-read timeout fails the test anyway: the trickle goes on
        // until the server closes, so such a server would never close.
        let timeout = Duration.seconds(3)
        try await withTeardown(await WebSocketServer.logging(log) { $0.handshakeTimeout = timeout }) { server in
            let clock = ContinuousClock()
            let started = clock.now
            let client = try await RawClient.connect(to: server.port)
            defer { client.close() }
            // A head that never ends (a header value far longer than the trickle can reach) sent
            // one byte every 40 ms: a per-read timeout of 3 s would never fire.
            let head = Array(("GET /chat HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + String(repeating: "a", count: 8000)).utf8)
            let trickle = Task {
                var sent = 0
                for byte in head {
                    do { try await client.send(bytes: [byte]) } catch { break }  // the server closed
                    sent += 1
                    // The pause is the attacker's pace, the behaviour under test; nothing waits on it.
                    do { try await Task.sleep(for: .milliseconds(40)) } catch { break }
                }
                return sent
            }
            let answer: [UInt8]?
            do { answer = try await client.readToEnd(timeout: .seconds(30)) } catch { answer = [] }  // a reset is an end too
            trickle.cancel()
            let sent = await trickle.value
            #expect(
                answer == [],
                "the server answered or kept the connection open: \(answer.map { String(decoding: $0, as: UTF8.self) } ?? "still open")"
            )
            #expect(clock.now - started >= timeout)
            // The connection lived through reads that each came well within the timeout.
            #expect(sent >= 2, "only \(sent) bytes were sent before the server closed")
            #expect(log.started == 0)
        }
    }

    // MARK: - Header count and size

    @Test("RFC 6585 §5: a request with more than maxRequestHeaderCount (default 100) header fields gets 431; exactly 100 pass")
    func headerCountLimit() async throws {
        let log = ServerLog()
        try await withTeardown(await WebSocketServer.logging(log)) { server in
            // The upgrade request has 5 fields of its own.
            let fits = RawClient.upgradeRequest(adding: (1...95).map { ("X-Field-\($0)", "v") })
            let accepted = try await RawClient.connect(to: server.port)
            defer { accepted.close() }
            try await accepted.send(fits)
            #expect(try await accepted.readHead().0.status == 101)

            let over = RawClient.upgradeRequest(adding: (1...96).map { ("X-Field-\($0)", "v") })
            #expect(over.utf8.count < 16 * 1024)  // far under the size limit: the count decides
            let rejected = try await RawClient.connect(to: server.port)
            defer { rejected.close() }
            try await rejected.send(over)
            let (response, _) = try await rejected.readHead()
            #expect(response.status == 431)
            #expect(response.reason == "Request Header Fields Too Large")
            #expect(try await rejected.readToEnd() != nil, "the rejected connection was left open")
            #expect(server.listener.progress.upgradesQueued == 1)  // the application never saw it
        }
    }

    // MARK: - maxConcurrentHandshakes

    @Test(
        "at maxConcurrentHandshakes the listener stops accepting: a new client waits in the backlog and is served once a handshake ends"
    )
    func concurrentHandshakeLimit() async throws {
        let log = ServerLog()
        try await withTeardown(
            await WebSocketServer.logging(log) {
                $0.maxConcurrentHandshakes = 2
                $0.handshakeTimeout = .seconds(60)  // only the test ends the silent handshakes
            }
        ) { server in
            let listener = server.listener
            let silent = try await [RawClient.connect(to: server.port), RawClient.connect(to: server.port)]
            defer { for client in silent { client.close() } }
            try await awaitState("both slots taken and the accept loop waiting for one") {
                await listener.waitUntil { $0.handshakesInProgress == 2 && $0.slotWaits >= 1 }
            }
            // The TCP connection completes in the kernel's backlog; the listener does not take it.
            let waiting = try await RawClient.connect(to: server.port)
            defer { waiting.close() }
            try await waiting.send(RawClient.upgradeRequest())
            #expect(listener.progress.handshakesStarted == 2)

            silent[0].close()  // its handshake ends: the waiting client gets the slot
            #expect(try await waiting.readHead().0.status == 101)
            #expect(listener.progress.handshakesStarted == 3)
            #expect(await log.wait { $0.started == 1 })
        }
    }

    // MARK: - accept failing for lack of descriptors

    @Test(
        "EMFILE on accept does not spin: every failed attempt is followed by a pause, and the queued client is served once accept works again"
    )
    func acceptFailureDoesNotSpin() async throws {
        var configuration = WebSocketServerConfiguration()
        // Short pauses, so that many failures happen; each must still be followed by one.
        configuration.acceptRetryDelay = .milliseconds(1)...(.milliseconds(2))
        try await withTeardown(await WebSocketListener.bind(configuration: configuration)) { listener in
            let tcp = listener.tcpListener
            tcp.injectAcceptError(EMFILE)
            let client = try await RawClient.connect(to: listener.port)  // readiness: the loop tries
            defer { client.close() }
            try await awaitState("ten failed accepts, each followed by a pause") {
                await listener.waitUntil { $0.acceptPauses >= 10 }
            }
            let attempts = tcp.acceptAttempts  // read before the pauses: both only grow
            let pauses = listener.progress.acceptPauses
            #expect(attempts <= pauses + 1, "\(attempts) accept attempts for \(pauses) pauses")
            #expect(listener.progress.handshakesStarted == 0)

            tcp.injectAcceptError(nil)
            // No new readiness comes for the queued connection: the loop must try again on its own.
            try await client.send(RawClient.upgradeRequest())
            let upgrade = try await awaitState("the queued client is accepted") { try await ListenerTests.nextUpgrade(listener) }
            _ = try await upgrade.accept()
            #expect(try await client.readHead().0.status == 101)
        }
    }

    @Test(
        "after EMFILE the listener tries again as soon as one of its connections ends (a descriptor is free), not only after its back-off"
    )
    func acceptResumesWhenADescriptorIsReleased() async throws {
        var configuration = WebSocketServerConfiguration()
        configuration.acceptRetryDelay = .seconds(3600)...(.seconds(3600))  // only a release can resume it
        try await withTeardown(await WebSocketListener.bind(configuration: configuration)) { listener in
            let holder = try await RawWebSocketClient.requestingUpgrade(port: listener.port)
            defer { holder.close() }
            let held = try await ListenerTests.nextUpgrade(listener).accept()
            #expect(try await holder.readResponseHead().hasPrefix("HTTP/1.1 101 "))

            let tcp = listener.tcpListener
            tcp.injectAcceptError(EMFILE)
            let queued = try await RawClient.connect(to: listener.port)
            defer { queued.close() }
            try await queued.send(RawClient.upgradeRequest())
            try await awaitState("the accept loop paused after EMFILE") { await listener.waitUntil { $0.acceptPauses == 1 } }
            let attempts = tcp.acceptAttempts
            // While the error lasts and nothing is released, the loop stays paused: twenty round
            // trips over the held connection (through the same event loop) see no new attempt.
            var messages = held.messages.makeAsyncIterator()
            for round in 0..<20 {
                try await holder.send { try $0.send(text: "round \(round)") }
                #expect(try await messages.next() == .text("round \(round)"))
            }
            #expect(tcp.acceptAttempts == attempts, "accept was retried while nothing was released")
            #expect(listener.progress.acceptPauses == 1)
            tcp.injectAcceptError(nil)
            #expect(listener.progress.handshakesStarted == 1)

            holder.close()  // the server's connection ends: a descriptor is released
            let upgrade = try await awaitState("the queued client is accepted") { try await ListenerTests.nextUpgrade(listener) }
            _ = try await upgrade.accept()
            #expect(try await queued.readHead().0.status == 101)
            #expect(tcp.acceptAttempts == attempts + 1 || tcp.acceptAttempts == attempts + 2)  // the retry, then the next wait
        }
    }

    // MARK: - Idle timeout

    @Test("idleTimeout: a client that sends nothing is closed with 1001 \"idle timeout\" and messages throws .timeout")
    func idleClientIsClosed() async throws {
        var configuration = WebSocketServerConfiguration()
        configuration.idleTimeout = .milliseconds(300)
        try await withTeardown(await WebSocketListener.bind(configuration: configuration)) { listener in
            let clock = ContinuousClock()
            let raw = try await RawWebSocketClient.requestingUpgrade(port: listener.port)
            defer { raw.close() }
            let socket = try await ListenerTests.nextUpgrade(listener).accept()
            let accepted = clock.now
            #expect(try await raw.readResponseHead().hasPrefix("HTTP/1.1 101 "))
            let event = try await raw.nextEvent()
            #expect(event == .closed(.init(code: .goingAway, reason: "idle timeout")))
            #expect(clock.now - accepted >= .milliseconds(300))
            try await raw.send { _ in }  // the client core's echo of the close
            var messages = socket.messages.makeAsyncIterator()
            await #expect { _ = try await messages.next() } throws: { ($0 as? WebSocketError)?.status == .timeout }
        }
    }

    // Timing-based by nature: generous margins, and not alongside the 1,000-connection test,
    // which can keep the shared event loop busy for longer than any sane timeout.
    @Test(
        "idleTimeout counts from the last frame received: a client that keeps sending stays open past it",
        .exclusiveProcessResources)
    func activeClientStaysOpen() async throws {
        var configuration = WebSocketServerConfiguration()
        configuration.idleTimeout = .seconds(1)
        try await withTeardown(await WebSocketListener.bind(configuration: configuration)) { listener in
            let clock = ContinuousClock()
            let raw = try await RawWebSocketClient.requestingUpgrade(port: listener.port)
            defer { raw.close() }
            let socket = try await ListenerTests.nextUpgrade(listener).accept()
            let accepted = clock.now
            #expect(try await raw.readResponseHead().hasPrefix("HTTP/1.1 101 "))
            // A message every 100 ms for 2.5 times the idle timeout, each taken by the application.
            // (The client's pace is the behaviour under test.)
            var messages = socket.messages.makeAsyncIterator()
            var sent = 0
            while clock.now - accepted < .milliseconds(2500) {
                try await raw.send { try $0.send(text: "tick \(sent)") }
                #expect(try await messages.next() == .text("tick \(sent)"))
                sent += 1
                try await Task.sleep(for: .milliseconds(100))
            }
            try await socket.send(text: "still open")
            #expect(try await raw.nextEvent() == .message(.text("still open")))
        }
    }
}
