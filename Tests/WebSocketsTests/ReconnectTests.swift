import Synchronization
import Testing
import WebSocketServer

@testable import WebSockets

/// Reconnection (`ReconnectingMessageWebSocket`): exponential backoff with full jitter, what is
/// retried and what is not (RFC 9110 §15.6.4 503 and §10.2.3 Retry-After, RFC 6585 §4 429),
/// against real loopback servers. The waits are injected: the test records each one and returns
/// at once, so nothing waits on the clock.
@Suite("Reconnecting", .timeLimit(.minutes(1)))
struct ReconnectTests {
    final class Waits: Sendable {
        private let values = Mutex<[Duration]>([])
        func append(_ value: Duration) { values.withLock { $0.append(value) } }
        var all: [Duration] { values.withLock { $0 } }
    }

    static func error(_ status: WebSocketError.Status, headers: [(String, String)] = []) -> WebSocketError {
        guard case .handshakeFailed(let code) = status else { return WebSocketError(status, "test") }
        return WebSocketError(status, "test", handshakeResponse: .init(status: code, headers: headers, bodyPrefix: []))
    }

    @Test("the backoff cap grows by the factor up to maxDelay; the wait is random × cap (full jitter)")
    func backoffGrowsWithFullJitter() {
        var policy = ReconnectPolicy()
        #expect(policy.cap(afterFailures: 1) == .seconds(1))
        #expect(policy.cap(afterFailures: 2) == .seconds(2))
        #expect(policy.cap(afterFailures: 4) == .seconds(8))
        #expect(policy.cap(afterFailures: 100) == .seconds(60))
        policy.initialDelay = .milliseconds(100)
        policy.factor = 3
        policy.maxDelay = .seconds(1)
        #expect(policy.cap(afterFailures: 3) == .milliseconds(900))
        #expect(policy.cap(afterFailures: 4) == .seconds(1))
        let refused = Self.error(.cannotConnect)
        #expect(policy.delay(afterFailures: 3, error: refused, random: 0.5) == .milliseconds(450))
        #expect(policy.delay(afterFailures: 3, error: refused, random: 0) == .zero)
    }

    @Test("Retry-After of a 429 or 503 is a lower bound on the wait, capped by maxRetryAfter")
    func retryAfterIsHonoured() {
        let policy = ReconnectPolicy()
        let busy = Self.error(.handshakeFailed(httpStatus: 503), headers: [("Retry-After", " 7 ")])
        #expect(policy.delay(afterFailures: 1, error: busy, random: 0) == .seconds(7))
        let tooMany = Self.error(.handshakeFailed(httpStatus: 429), headers: [("retry-after", "100000")])
        #expect(policy.delay(afterFailures: 1, error: tooMany, random: 0) == .seconds(300))
        let date = Self.error(.handshakeFailed(httpStatus: 503), headers: [("Retry-After", "Fri, 31 Dec 1999 23:59:59 GMT")])
        #expect(policy.delay(afterFailures: 1, error: date, random: 1) == .seconds(1))
    }

    @Test(
        "network errors, timeouts, 5xx and 429 are retried; 4xx, certificates, protocol violations, redirects are not",
        arguments: [
            (WebSocketError.Status.cannotConnect, true), (.hostNameNotResolved, true), (.timeout, true),
            (.connectionAborted, true), (.handshakeFailed(httpStatus: 503), true), (.handshakeFailed(httpStatus: 500), true),
            (.handshakeFailed(httpStatus: 429), true), (.handshakeFailed(httpStatus: 0), true),
            (.handshakeFailed(httpStatus: 403), false), (.handshakeFailed(httpStatus: 404), false),
            (.handshakeFailed(httpStatus: 401), false), (.serverCertificateInvalid, false),
            (.serverCertificateRejected, false), (.protocolViolation(.protocolError), false), (.redirectFailed, false),
            (.httpsToHttpOnRedirection, false), (.invalidArgument, false), (.operationCanceled, false),
        ])
    func retryableClassification(status: WebSocketError.Status, retryable: Bool) {
        #expect(ReconnectPolicy.isRetryable(Self.error(status)) == retryable)
    }

    @Test("after the server stops, the next socket comes once it is back, after one backoff wait")
    func reconnectsAfterTheServerRestarts() async throws {
        let first = try await ScriptedHTTPServer { _, _ in .accept(greeting: "first") }
        let port = first.port
        let restarted = Mutex<ScriptedHTTPServer?>(nil)
        let waits = Waits()
        var sockets = ReconnectingMessageWebSocket(url: first.url("/feed"))
        sockets.random = { 0.5 }
        sockets.sleep = { wait in
            waits.append(wait)
            // The server comes back while the client waits: the retry after this wait connects.
            if restarted.withLock({ $0 }) == nil {
                let server = try await ScriptedHTTPServer(port: port) { _, _ in .accept(greeting: "second") }
                restarted.withLock { $0 = server }
            }
        }
        var iterator = sockets.makeAsyncIterator()
        let socket1 = try #require(try await iterator.next())
        var messages1 = socket1.messages.makeAsyncIterator()
        #expect(try await messages1.next() == .text("first"))
        await first.tearDown()
        while (try? await messages1.next()) != nil {}
        let socket2 = try #require(try await iterator.next())
        var messages2 = socket2.messages.makeAsyncIterator()
        #expect(try await messages2.next() == .text("second"))
        #expect(waits.all == [.milliseconds(500)], "one refused attempt, then half the first cap (random 0.5)")
        try await socket2.close()
        await restarted.withLock { $0 }?.tearDown()
    }

    @Test("a 503 with Retry-After is retried after that long, then connects")
    func serviceUnavailableIsRetriedAfterRetryAfter() async throws {
        try await withTeardown(
            await ScriptedHTTPServer { _, index in
                index < 2 ? .status(503, [("Retry-After", "7")]) : .accept(greeting: "in")
            }
        ) { server in
            let waits = Waits()
            var sockets = ReconnectingMessageWebSocket(url: server.url())
            sockets.random = { 0 }
            sockets.sleep = { waits.append($0) }
            var iterator = sockets.makeAsyncIterator()
            let socket = try #require(try await iterator.next())
            var messages = socket.messages.makeAsyncIterator()
            #expect(try await messages.next() == .text("in"))
            #expect(waits.all == [.seconds(7), .seconds(7)])
            #expect(server.requests.count == 3)
            try await socket.close()
        }
    }

    @Test("a 4xx stops at once: the error is thrown and nothing waits")
    func clientErrorStops() async throws {
        try await withTeardown(await ScriptedHTTPServer { _, _ in .status(403, []) }) { server in
            let waits = Waits()
            var sockets = MessageWebSocket.reconnecting(to: server.url())
            sockets.sleep = { waits.append($0) }
            var iterator = sockets.makeAsyncIterator()
            let error = await #expect(throws: WebSocketError.self) { _ = try await iterator.next() }
            #expect(error?.status == .handshakeFailed(httpStatus: 403))
            #expect(waits.all.isEmpty)
            #expect(server.requests.count == 1)
        }
    }

    @Test("maxAttempts consecutive failures end the sequence with the last error")
    func maxAttemptsIsHonoured() async throws {
        var policy = ReconnectPolicy()
        policy.maxAttempts = 3
        let waits = Waits()
        let refused = try HappyEyeballsTests.RefusedAddress()
        defer { refused.close() }
        var sockets = ReconnectingMessageWebSocket(url: "ws://\(refused)/", policy: policy)
        sockets.random = { 1 }
        sockets.sleep = { waits.append($0) }
        var iterator = sockets.makeAsyncIterator()
        let error = await #expect(throws: WebSocketError.self) { _ = try await iterator.next() }
        #expect(error?.status == .cannotConnect)
        #expect(waits.all == [.seconds(1), .seconds(2)])
    }
}
