import Synchronization

/// A `Synchronization.Mutex` whose ordering ThreadSanitizer can see; use it instead of `Mutex`.
///
/// Why: on Linux a *contended* `Mutex` is handed over by the kernel. `Mutex.withLock` inlines only
/// the fast path (one compare-exchange on the lock word, which TSan instruments); when that fails,
/// `_lockSlow` and `_unlockSlow` in the uninstrumented `libswiftSynchronization.so` call
/// `syscall(SYS_futex, FUTEX_LOCK_PI / FUTEX_UNLOCK_PI)`, and the kernel transfers ownership to the
/// waiter. TSan sees neither the release nor the acquire, so after every contended hand-off it
/// takes the new owner's accesses for a race with the previous owner's: about a hundred false
/// reports over the test suite, all inside `withLock` (`EventLoop`'s queue, `DescriptorState`, …),
/// and a failing exit status (66) that also broke the tests that spawn the CLI.
///
/// The fix makes the hand-off visible instead of suppressing reports: inside the critical section,
/// `withLock` loads ``handoff`` with acquiring ordering first and stores it with releasing ordering
/// last. The mutex orders critical sections, so each acquiring load reads the releasing store of
/// the previous critical section; TSan sees that pair, which is exactly the happens-before edge
/// the mutex provides and no other (nothing outside the lock gains an edge the mutex does not
/// give it), so real races on the guarded state or around it are still reported. Both operations
/// are on an otherwise unused word next to the lock word: on x86-64 they compile to plain `mov`s,
/// on arm64 to `ldar`/`stlr`, so production builds pay next to nothing and need no build flag.
///
/// Same API and semantics as `Mutex` (`withLock`); store it in a `let`, as a `Mutex`.
package struct Lock<Value: ~Copyable>: ~Copyable {
    /// Carries the previous critical section's release to the next one's acquire (see above).
    @usableFromInline let handoff = Atomic<UInt32>(0)
    @usableFromInline let mutex: Mutex<Value>

    @inlinable
    package init(_ initialValue: consuming sending Value) {
        mutex = Mutex(initialValue)
    }

    /// `Mutex.withLock`: runs `body` with exclusive access to the value.
    @inlinable
    package borrowing func withLock<Result: ~Copyable, E: Error>(
        _ body: (inout sending Value) throws(E) -> sending Result
    ) throws(E) -> sending Result {
        try mutex.withLock { (value: inout sending Value) throws(E) -> sending Result in
            _ = handoff.load(ordering: .acquiring)
            defer { handoff.store(0, ordering: .releasing) }
            return try body(&value)
        }
    }
}

// `Mutex` is Sendable for any value for the same reason: the value is only reached through
// `withLock`, which gives one thread at a time exclusive access; `handoff` is atomic.
extension Lock: @unchecked Sendable where Value: ~Copyable {}
