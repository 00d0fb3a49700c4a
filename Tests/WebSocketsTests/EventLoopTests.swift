import Synchronization
import Testing

@testable import WebSockets

/// An actor whose code runs on an event loop's thread.
private actor LoopBound {
    let loop: EventLoop
    var counter = 0

    init(loop: EventLoop = .shared) {
        self.loop = loop
    }

    nonisolated var unownedExecutor: UnownedSerialExecutor {
        loop.asUnownedSerialExecutor()
    }

    func increment() -> Bool {
        loop.checkIsolated()  // traps off the loop thread
        counter += 1
        return loop.inEventLoop
    }

    /// Round trips against an echo peer; true when every step ran on the loop thread.
    func roundTrips(_ client: TCPTransport, count: Int) async throws -> Bool {
        var onLoop = loop.inEventLoop
        var buffer = [UInt8](repeating: 0, count: 1024)
        let message = Array("ping".utf8)
        for _ in 0..<count {
            try await client.write([message])
            onLoop = onLoop && loop.inEventLoop
            var received = 0
            while received < message.count {
                let n = try await client.read(into: &buffer)
                if n == 0 { return false }
                received += n
                onLoop = onLoop && loop.inEventLoop
            }
        }
        return onLoop
    }

    /// Echoes until end of stream.
    func echo(_ transport: TCPTransport) async throws {
        var buffer = [UInt8](repeating: 0, count: 1024)
        while true {
            let n = try await transport.read(into: &buffer)
            if n == 0 { break }
            try await transport.write([Array(buffer[0..<n])])
        }
        transport.close()
    }
}

/// Called from code on the loop thread, but itself nonisolated and synchronous.
private func readCounter(of actor: LoopBound) -> Int {
    actor.assumeIsolated { $0.counter }
}

@Suite("Event loop")
struct EventLoopTests {
    @Test("an actor using the loop as its executor runs on the loop thread")
    func actorRunsOnLoopThread() async throws {
        let actor = LoopBound()
        #expect(await actor.increment())
        #expect(!EventLoop.shared.inEventLoop)
        #expect(EventLoop.shared.isIsolatingCurrentContext() == false)
    }

    @Test("assumeIsolated works for a loop-bound actor from code running on the loop")
    func assumeIsolatedOnLoop() async throws {
        let actor = LoopBound()
        _ = await actor.increment()
        // A task that prefers the loop as its task executor runs on the loop thread, where the
        // actor's isolation can be assumed synchronously.
        let value = await Task(executorPreference: EventLoop.shared.taskExecutor) {
            #expect(EventLoop.shared.inEventLoop)
            EventLoop.shared.checkIsolated()
            return readCounter(of: actor)
        }.value
        #expect(value == 1)
    }

    @Test("jobs enqueued from many threads all run")
    func crossThreadEnqueues() async throws {
        let actor = LoopBound()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    for _ in 0..<500 { _ = await actor.increment() }
                }
            }
        }
        #expect(await actor.counter == 4000)
    }

    @Test("a loop-bound actor's socket round trips stay on the loop thread and queue no jobs")
    func roundTripsStayOnLoop() async throws {
        // A private loop, so that other tests' jobs do not show up in its count.
        let loop = EventLoop(name: "ws-test-rtt")
        let listener = try TCPListener.bind(host: "127.0.0.1", port: 0, loop: loop)
        defer { listener.close() }
        async let accepted = listener.accept()
        let client = try await TCPTransport.connect(host: "127.0.0.1", port: listener.port, loop: loop)
        let server = try await accepted
        let serverSide = LoopBound(loop: loop)
        let echoing = Task { try await serverSide.echo(server) }
        let clientSide = LoopBound(loop: loop)
        _ = try await clientSide.roundTrips(client, count: 10)  // warm up

        let rounds = 200
        let queuedBefore = loop.scheduledJobCount
        #expect(try await clientSide.roundTrips(client, count: rounds))
        let queued = loop.scheduledJobCount - queuedBefore
        // A wait parks the task and the loop runs it straight from the readiness report, so a
        // round trip queues nothing (a continuation would cost two hops through the global pool).
        // The call into the actor and rare readiness races account for a handful.
        #expect(queued < rounds / 10, "\(queued) jobs queued for \(rounds) round trips")
        client.close()
        try await echoing.value
    }

    @Test("a separate loop has its own thread")
    func separateLoop() async throws {
        let loop = EventLoop(name: "ws-test-loop")
        let (onOwn, onShared) = await Task(executorPreference: loop.taskExecutor) {
            (loop.inEventLoop, EventLoop.shared.inEventLoop)
        }.value
        #expect(onOwn)
        #expect(!onShared)
        #expect(!loop.isSameExclusiveExecutionContext(other: .shared))
        #expect(loop.isSameExclusiveExecutionContext(other: loop))
        #expect(await LoopBound(loop: loop).increment())
    }

    /// What `MessageWebSocket.eventLoopExecutor` relies on: a task preferring the loop runs its
    /// nonisolated code there without a queue round trip per nested async call; only entering and
    /// leaving an actor of the loop queue a job each. (Run as isolated to the loop, every nested
    /// nonisolated call would be re-queued.)
    @Test("a task preferring the loop queues only its hops into and out of the loop's actors")
    func taskExecutorFaceQueuesOnlyActorHops() async throws {
        let loop = EventLoop(name: "ws-test-pref")  // private: no other test's jobs in its count
        let actor = LoopBound(loop: loop)
        let rounds = 200
        let (queued, onLoop) = await Task(executorPreference: loop.taskExecutor) {
            _ = await nested(actor, depth: 3)  // warm up
            let before = loop.scheduledJobCount
            var onLoop = true
            for _ in 0..<rounds { onLoop = await nested(actor, depth: 3) && onLoop && loop.inEventLoop }
            return (loop.scheduledJobCount - before, onLoop)
        }.value
        #expect(onLoop)
        #expect(queued <= 2 * rounds + 5, "\(queued) jobs queued for \(rounds) rounds")
    }
}

/// Nonisolated async calls `depth` deep, then a call into `actor`.
private func nested(_ actor: LoopBound, depth: Int) async -> Bool {
    guard depth > 0 else { return await actor.increment() }
    let onLoop = actor.loop.inEventLoop
    return await nested(actor, depth: depth - 1) && onLoop
}
