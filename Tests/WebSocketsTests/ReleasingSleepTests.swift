import Testing

@testable import WebSockets

/// `releasingSleep(for:)`: the timeouts' sleep, whose cancelled timers are freed at once.
@Suite("releasingSleep")
struct ReleasingSleepTests {
    @Test("returns once the duration has passed")
    func returnsAfterTheDuration() async throws {
        let clock = ContinuousClock()
        let start = clock.now
        try await releasingSleep(for: .milliseconds(20))
        #expect(clock.now - start >= .milliseconds(20))
    }

    @Test("cancelling a long sleep ends it at once with CancellationError")
    func cancellationEndsTheSleep() async throws {
        let sleeper = Task { try await releasingSleep(for: .seconds(3600)) }
        sleeper.cancel()
        let outcome = try await awaitState("the cancelled sleep ended") { await sleeper.result }
        #expect(throws: CancellationError.self) { try outcome.get() }
    }

    @Test("a task cancelled before it sleeps does not sleep")
    func alreadyCancelled() async throws {
        let outcome = try await awaitState("the sleep of a cancelled task ended") {
            await Task {
                withUnsafeCurrentTask { $0?.cancel() }
                try await releasingSleep(for: .seconds(3600))
            }.result
        }
        #expect(throws: CancellationError.self) { try outcome.get() }
    }
}
