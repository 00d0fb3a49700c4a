import Testing

/// Runs a test while no other test with this trait runs.
///
/// Swift Testing runs suites in parallel in one process. Tests that *measure* process-wide
/// resources (open descriptors, resident memory) and tests that *use* a great many of them (1,000
/// connections: 2,000 descriptors, some 200 MB) must not overlap, or the measurement counts the
/// other test's resources. The timing-based tests (keep-alive, idle timeouts) take it too, so that
/// the 1,000-connection test does not make them late. Everything else may run alongside: the
/// measuring tests tolerate the few descriptors and bytes that ordinary tests hold.
///
/// A test's time limit counts its wait for the lock: under a sanitizer the queue can be a minute
/// long. Keep the tests that take it short (the long streaming tests stream less under a
/// sanitizer, see `Sanitizers`, and do not take it), and give their suites room.
struct ExclusiveProcessResourcesTrait: TestTrait, TestScoping {
    func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        await Self.lock.lock()
        do {
            try await function()
        } catch {
            await Self.lock.unlock()
            throw error
        }
        await Self.lock.unlock()
    }

    /// A first-come, first-served lock that suspends instead of blocking a thread.
    private actor Lock {
        private var isLocked = false
        private var waiting: [CheckedContinuation<Void, Never>] = []

        func lock() async {
            guard isLocked else {
                isLocked = true
                return
            }
            await withCheckedContinuation { waiting.append($0) }  // ownership handed over by unlock()
        }

        func unlock() {
            if waiting.isEmpty {
                isLocked = false
            } else {
                waiting.removeFirst().resume()
            }
        }
    }

    private static let lock = Lock()
}

extension Trait where Self == ExclusiveProcessResourcesTrait {
    /// Not concurrently with other tests that measure or consume process-wide resources
    /// (descriptors, memory); see ``ExclusiveProcessResourcesTrait``.
    static var exclusiveProcessResources: Self { Self() }
}
