import Synchronization
import Testing
import WebSockets

@testable import WebSocketTesting

@Suite("InMemoryTransport")
struct InMemoryTransportTests {
    // MARK: Helpers

    /// One read with a buffer of `capacity` bytes; returns exactly the bytes read.
    private static func readOnce(_ transport: InMemoryTransport, capacity: Int = 256) async throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: capacity)
        let count = try await transport.read(into: &buffer)
        #expect(buffer.count == capacity, "read must not resize the caller's buffer")
        return Array(buffer[..<count])
    }

    /// Reads until `count` bytes arrived (or end of stream).
    private static func readExactly(_ count: Int, from transport: InMemoryTransport) async throws -> [UInt8] {
        var bytes: [UInt8] = []
        while bytes.count < count {
            let chunk = try await readOnce(transport)
            if chunk.isEmpty { break }
            bytes += chunk
        }
        return bytes
    }

    /// The status of the `WebSocketError` that `body` throws, or nil if it throws something else or nothing.
    private static func status(_ body: () async throws -> Void) async -> WebSocketError.Status? {
        do {
            try await body()
            return nil
        } catch {
            return (error as? WebSocketError)?.status
        }
    }

    /// Waits until a read is parked on `transport` (the test fails if that never happens).
    private static func waitForPendingRead(
        _ transport: InMemoryTransport, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        try await awaitState("a read is parked", sourceLocation: sourceLocation) { await transport.waitUntilReadIsPending() }
        try #require(transport.hasPendingRead, sourceLocation: sourceLocation)
    }

    // MARK: Basics

    @Test func makePairConnectsEndsWithMirroredAddresses() {
        let (client, server) = InMemoryTransport.makePair(clientAddress: "10.0.0.1:5000", serverAddress: "10.0.0.2:80")
        #expect(client.localAddress == "10.0.0.1:5000")
        #expect(client.remoteAddress == "10.0.0.2:80")
        #expect(server.localAddress == "10.0.0.2:80")
        #expect(server.remoteAddress == "10.0.0.1:5000")
    }

    @Test func bytesArriveInOrderInBothDirectionsAndAreCounted() async throws {
        let (client, server) = InMemoryTransport.makePair()
        try await client.write([[1, 2, 3], [4]])
        try await client.write([[5, 6]])
        try await server.write([[9, 8, 7]])
        #expect(try await Self.readExactly(6, from: server) == [1, 2, 3, 4, 5, 6])
        #expect(try await Self.readOnce(client) == [9, 8, 7])
        #expect(client.bytesWritten == 6)
        #expect(server.bytesRead == 6)
        #expect(server.bytesWritten == 3)
        #expect(client.bytesRead == 3)
    }

    @Test func gatheredBuffersOfOneWriteArriveAsOneRead() async throws {
        let (client, server) = InMemoryTransport.makePair()
        try await client.write([[1, 2], [], [3]])
        #expect(try await Self.readOnce(server) == [1, 2, 3])
    }

    @Test func readWithSmallBufferReturnsAtMostBufferCountAndTheRestLater() async throws {
        let (client, server) = InMemoryTransport.makePair()
        try await client.write([Array(0..<10)])
        #expect(try await Self.readOnce(server, capacity: 4) == [0, 1, 2, 3])
        #expect(try await Self.readOnce(server, capacity: 4) == [4, 5, 6, 7])
        #expect(try await Self.readOnce(server, capacity: 4) == [8, 9])
        #expect(server.bytesRead == 10)
    }

    @Test func readWithEmptyBufferThrowsInvalidArgumentWithoutWaitingOrConsuming() async throws {
        let (client, server) = InMemoryTransport.makePair()
        #expect(await Self.status { _ = try await Self.readOnce(server, capacity: 0) } == .invalidArgument)
        try await client.write([[1]])
        #expect(await Self.status { _ = try await Self.readOnce(server, capacity: 0) } == .invalidArgument)
        #expect(try await Self.readOnce(server) == [1])
    }

    @Test func suspendedReadIsResumedByALaterWrite() async throws {
        let (client, server) = InMemoryTransport.makePair()
        async let received = Self.readOnce(server)
        try await Self.waitForPendingRead(server)
        try await client.write([[42, 43]])
        #expect(try await received == [42, 43])
        #expect(!server.hasPendingRead)
    }

    @Test func secondConcurrentReadOnOneEndIsRejected() async throws {
        let (client, server) = InMemoryTransport.makePair()
        async let first = Self.readOnce(server)
        try await Self.waitForPendingRead(server)
        #expect(await Self.status { _ = try await Self.readOnce(server) } == .invalidState)
        try await client.write([[1]])
        #expect(try await first == [1])
    }

    @Test func onWriteTapSeesEveryWrittenByte() async throws {
        let (client, server) = InMemoryTransport.makePair()
        let seen = Lock<[[UInt8]]>([])
        client.onWrite = { bytes in seen.withLock { $0.append(bytes) } }
        try await client.write([[1, 2], [3]])
        try await client.write([[4]])
        #expect(seen.withLock { $0 } == [[1, 2, 3], [4]])
        #expect(try await Self.readExactly(4, from: server) == [1, 2, 3, 4])
    }

    // MARK: Faults

    @Test func splitWritesArriveAsSeparateReadsOfNBytes() async throws {
        let (client, server) = InMemoryTransport.makePair()
        server.faults = .init(splitWritesInto: 2)
        try await server.write([[1, 2, 3], [4, 5]])
        #expect(try await Self.readOnce(client) == [1, 2])
        #expect(try await Self.readOnce(client) == [3, 4])
        #expect(try await Self.readOnce(client) == [5])
        #expect(server.bytesWritten == 5)
    }

    @Test func splitIntoOneByteDeliversEachByteOnItsOwn() async throws {
        let (client, server) = InMemoryTransport.makePair()
        server.faults = .init(splitWritesInto: 1)
        try await server.write([[0x81, 0x02, 0x68, 0x69]])
        for expected: UInt8 in [0x81, 0x02, 0x68, 0x69] {
            #expect(try await Self.readOnce(client) == [expected])
        }
    }

    @Test func delayedWritesArriveAfterTheDelayAndInOrder() async throws {
        let (client, server) = InMemoryTransport.makePair()
        let delay = Duration.milliseconds(30)
        server.faults = .init(writeDelay: delay)
        let clock = ContinuousClock()
        let start = clock.now
        try await server.write([[1, 2]])
        try await server.write([[3]])
        #expect(clock.now - start < delay, "a delayed write returns without waiting")
        #expect(server.bytesWritten == 3)
        #expect(try await Self.readOnce(client) == [1, 2])
        #expect(clock.now - start >= delay)
        #expect(try await Self.readOnce(client) == [3])
    }

    @Test func loweringTheDelayDoesNotLetALaterWriteOvertakeAnEarlierOne() async throws {
        let (client, server) = InMemoryTransport.makePair()
        server.faults = .init(writeDelay: .milliseconds(40))
        try await server.write([[1]])
        server.faults = .none
        try await server.write([[2]])
        server.closeWrite()
        #expect(try await Self.readOnce(client) == [1])
        #expect(try await Self.readOnce(client) == [2])
        #expect(try await Self.readOnce(client) == [])
    }

    @Test func dropAfterNBytesDeliversExactlyNThenTheReaderThrowsConnectionAborted() async throws {
        let (client, server) = InMemoryTransport.makePair()
        server.faults = .init(dropAfterBytes: 3)
        try await server.write([[1, 2]])
        #expect(server.faults.dropAfterBytes == 1)
        #expect(await Self.status { try await server.write([[3, 4, 5, 6]]) } == .connectionAborted)
        #expect(server.bytesWritten == 3)
        #expect(try await Self.readOnce(client) == [1, 2])
        #expect(try await Self.readOnce(client) == [3])
        #expect(await Self.status { _ = try await Self.readOnce(client) } == .connectionAborted)
        #expect(await Self.status { _ = try await Self.readOnce(client) } == .connectionAborted, "stays aborted, never EOF")
        #expect(await Self.status { try await server.write([[7]]) } == .connectionAborted)
        #expect(await Self.status { try await client.write([[7]]) } == .connectionAborted)
        #expect(await Self.status { _ = try await Self.readOnce(server) } == .connectionAborted)
    }

    @Test func dropAfterExactlyTheWrittenCountLetsThatWriteSucceed() async throws {
        let (client, server) = InMemoryTransport.makePair()
        server.faults = .init(splitWritesInto: 2, dropAfterBytes: 4)
        try await server.write([[1, 2, 3, 4]])
        #expect(try await Self.readOnce(client) == [1, 2])
        #expect(try await Self.readOnce(client) == [3, 4])
        #expect(await Self.status { _ = try await Self.readOnce(client) } == .connectionAborted)
    }

    @Test func dropAfterNAppliesAfterTheDelayToo() async throws {
        let (client, server) = InMemoryTransport.makePair()
        server.faults = .init(writeDelay: .milliseconds(10), dropAfterBytes: 2)
        #expect(await Self.status { try await server.write([[1, 2, 3]]) } == .connectionAborted)
        #expect(try await Self.readOnce(client) == [1, 2])
        #expect(await Self.status { _ = try await Self.readOnce(client) } == .connectionAborted)
    }

    @Test func dropWakesTheDroppingEndsSuspendedRead() async throws {
        let (client, server) = InMemoryTransport.makePair()
        server.faults = .init(dropAfterBytes: 1)
        async let serverRead = Self.status { _ = try await Self.readOnce(server) }
        try await Self.waitForPendingRead(server)
        try await server.write([[1]])
        #expect(await serverRead == .connectionAborted)
        #expect(try await Self.readOnce(client) == [1])
    }

    @Test func failNextWriteThrowsDeliversNothingAndTheFollowingWriteSucceeds() async throws {
        let (client, server) = InMemoryTransport.makePair()
        server.failNextWrite()
        #expect(await Self.status { try await server.write([[1, 2, 3]]) } == .connectionAborted)
        #expect(server.faults.failNextWrite == nil, "the fault is used up")
        #expect(server.bytesWritten == 0)
        try await server.write([[4, 5]])
        #expect(try await Self.readOnce(client) == [4, 5], "the failed bytes never arrive")
    }

    @Test func failNextWriteThrowsTheConfiguredError() async throws {
        let (client, server) = InMemoryTransport.makePair()
        let injected = WebSocketError(.timeout, "slow network")
        server.updateFaults { $0.failNextWrite = injected }
        do {
            try await server.write([[1]])
            Issue.record("the write should have failed")
        } catch {
            #expect(error as? WebSocketError == injected)
        }
        try await server.write([[2]])
        #expect(try await Self.readOnce(client) == [2])
    }

    @Test func abortMakesBothEndsSuspendedReadsThrowConnectionAborted() async throws {
        let (client, server) = InMemoryTransport.makePair()
        async let clientRead = Self.status { _ = try await Self.readOnce(client) }
        async let serverRead = Self.status { _ = try await Self.readOnce(server) }
        try await Self.waitForPendingRead(client)
        try await Self.waitForPendingRead(server)
        client.abort()
        #expect(await clientRead == .connectionAborted)
        #expect(await serverRead == .connectionAborted)
        #expect(await Self.status { try await client.write([[1]]) } == .connectionAborted)
        #expect(await Self.status { try await server.write([[1]]) } == .connectionAborted)
    }

    @Test func abortLosesBytesInFlightButKeepsBytesThatArrived() async throws {
        let (client, server) = InMemoryTransport.makePair()
        try await server.write([[1]])
        server.faults = .init(writeDelay: .milliseconds(20))
        try await server.write([[2]])
        server.abort()
        #expect(try await Self.readOnce(client) == [1])
        #expect(await Self.status { _ = try await Self.readOnce(client) } == .connectionAborted)
        // Once nothing is in flight and no delivery task runs, the lost byte can never arrive.
        try await awaitState("nothing is in flight towards the client") { await client.waitUntilNothingInFlight() }
        #expect(await Self.status { _ = try await Self.readOnce(client) } == .connectionAborted)
    }

    // MARK: Closing

    @Test func peerReadReturnsZeroAfterDrainingWhenTheOtherEndCloses() async throws {
        let (client, server) = InMemoryTransport.makePair()
        try await server.write([[1, 2, 3]])
        server.close()
        #expect(server.isClosed)
        #expect(try await Self.readOnce(client, capacity: 2) == [1, 2])
        #expect(try await Self.readOnce(client) == [3])
        #expect(try await Self.readOnce(client) == [])
        #expect(try await Self.readOnce(client) == [], "end of stream is sticky")
        #expect(await Self.status { try await client.write([[1]]) } == .connectionAborted)
        #expect(await Self.status { try await server.write([[1]]) } == .closed)
        #expect(await Self.status { _ = try await Self.readOnce(server) } == .closed)
    }

    @Test func closeWakesASuspendedLocalReadWithClosedAndThePeersWithEndOfStream() async throws {
        let (client, server) = InMemoryTransport.makePair()
        async let clientRead = Self.status { _ = try await Self.readOnce(client) }
        async let serverRead = Self.readOnce(server)
        try await Self.waitForPendingRead(client)
        try await Self.waitForPendingRead(server)
        client.close()
        #expect(await clientRead == .closed)
        #expect(try await serverRead == [])
    }

    @Test func closeIsIdempotent() async throws {
        let (client, server) = InMemoryTransport.makePair()
        try await client.write([[1]])
        client.close()
        client.close()
        server.close()
        client.abort()
        #expect(client.isClosed && server.isClosed)
        #expect(await Self.status { _ = try await Self.readOnce(client) } == .closed)
    }

    @Test func closeWithADelayDeliversPendingBytesThenEndOfStream() async throws {
        let (client, server) = InMemoryTransport.makePair()
        server.faults = .init(writeDelay: .milliseconds(10))
        try await server.write([[1, 2]])
        server.close()
        #expect(try await Self.readOnce(client) == [1, 2])
        #expect(try await Self.readOnce(client) == [])
    }

    @Test func halfCloseSendsEndOfStreamButTheClosingEndCanStillRead() async throws {
        let (client, server) = InMemoryTransport.makePair()
        try await client.write([[1]])
        client.closeWrite()
        #expect(await Self.status { try await client.write([[2]]) } == .closed)
        #expect(try await Self.readOnce(server) == [1])
        #expect(try await Self.readOnce(server) == [])
        try await server.write([[3]])
        #expect(try await Self.readOnce(client) == [3])
    }

    @Test func droppingTheLastReferenceClosesThatEnd() async throws {
        var (client, server): (InMemoryTransport?, InMemoryTransport) = InMemoryTransport.makePair()
        try await client?.write([[1]])
        client = nil
        #expect(try await Self.readOnce(server) == [1])
        #expect(try await Self.readOnce(server) == [])
    }

    // MARK: Cancellation

    @Test func cancellingATaskSuspendedInReadThrowsOperationCanceled() async throws {
        let (client, server) = InMemoryTransport.makePair()
        let reader = Task { await Self.status { _ = try await Self.readOnce(server) } }
        try await Self.waitForPendingRead(server)
        reader.cancel()
        #expect(await reader.value == .operationCanceled)
        #expect(!server.hasPendingRead)
        // Nothing was lost: the next read gets the next bytes.
        try await client.write([[7]])
        #expect(try await Self.readOnce(server) == [7])
    }

    @Test func readInAnAlreadyCancelledTaskThrowsOnlyWhenItWouldSuspend() async throws {
        let (client, server) = InMemoryTransport.makePair()
        try await client.write([[5]])
        let reader = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            let first = try? await Self.readOnce(server)
            let second = await Self.status { _ = try await Self.readOnce(server) }
            return (first, second)
        }
        let (first, second) = await reader.value
        #expect(first == [5])
        #expect(second == .operationCanceled)
    }

    @Test func manyConcurrentWritesAndReadsKeepEveryByteInOrder() async throws {
        let (client, server) = InMemoryTransport.makePair()
        server.faults = .init(splitWritesInto: 7)
        let total = 20_000
        async let received = Self.readExactly(total, from: client)
        for start in stride(from: 0, to: total, by: 100) {
            try await server.write([(start..<start + 100).map { UInt8(truncatingIfNeeded: $0) }])
            if start % 1000 == 0 { await Task.yield() }
        }
        let bytes = try await received
        #expect(bytes == (0..<total).map { UInt8(truncatingIfNeeded: $0) })
    }

    @Test func racingReadsWithCancelCloseAbortAndWritesAlwaysEndCleanly() async throws {
        // Every read ends exactly once with an outcome allowed for the race: no hang (lost wakeup),
        // no crash (continuation resumed twice), no "leaked continuation" warning.
        for round in 0..<300 {
            let (client, server) = InMemoryTransport.makePair()
            if round % 3 == 0 { client.faults = .init(writeDelay: .microseconds(50)) }
            if round % 5 == 0 { client.updateFaults { $0.splitWritesInto = 1 } }
            let reader = Task.detached { () -> (status: WebSocketError.Status?, bytes: Int) in
                var buffer = [UInt8](repeating: 0, count: 4)
                var total = 0
                do {
                    while true {
                        let count = try await server.read(into: &buffer)
                        if count == 0 { return (nil, total) }
                        total += count
                    }
                } catch {
                    return ((error as? WebSocketError)?.status, total)
                }
            }
            if round % 2 == 0 { try await Self.waitForPendingRead(server) }
            let writer = Task.detached { for _ in 0..<3 { try? await client.write([[1, 2]]) } }
            let allowed: Set<WebSocketError.Status?>
            switch round % 4 {
            case 0:
                reader.cancel()
                allowed = [.operationCanceled]
            case 1:
                client.close()
                allowed = [nil]
            case 2:
                server.close()
                allowed = [.closed]
            default:
                if round % 8 == 3 {
                    client.abort()
                    allowed = [.connectionAborted]
                } else {
                    reader.cancel()
                    client.close()
                    allowed = [.operationCanceled, nil]
                }
            }
            await writer.value
            let (status, bytes) = await reader.value
            #expect(allowed.contains(status), "round \(round): \(String(describing: status))")
            #expect(bytes <= 6 && (bytes % 2 == 0 || round % 5 == 0), "round \(round): \(bytes) bytes")
            withExtendedLifetime((client, server)) {}
        }
    }
}
