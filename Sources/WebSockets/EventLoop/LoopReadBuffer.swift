/// The event loop's one read buffer, lent to whoever runs on the loop thread for one synchronous
/// span at a time (``EventLoop/withReadBuffer(_:)``).
///
/// Why one per loop and not one per connection: an idle connection spends its whole life waiting
/// to read, and a buffer it owned would sit there, empty, all that time (64 KiB × 10,000 idle
/// connections is 640 MiB). A connection instead waits holding nothing, then borrows this buffer
/// for the span between its non-blocking `read` and handing the bytes to its protocol core, which
/// copies what it keeps (partial frames, messages). Only bytes the core could not take yet (the
/// application's inbox is full) are copied out, into memory the connection owns until then.
// @unchecked Sendable: `storage` and `isBorrowed` are only touched inside `borrow(_:)`, which
// EventLoop.withReadBuffer calls only on the loop's own thread (precondition), and a borrow is
// synchronous: no second borrow can start until it returns (re-entry traps on `isBorrowed`).
final class LoopReadBuffer: @unchecked Sendable {
    /// How many bytes one read may take: large enough that bulk transfers need few system calls.
    static let size = 64 * 1024

    /// Allocated on first use, so a loop that never reads costs nothing.
    private var storage: UnsafeMutableRawBufferPointer?
    private var isBorrowed = false

    init() {}

    deinit {
        storage?.deallocate()
    }

    /// Lends the buffer to `body`; its contents are undefined on entry (not zeroed).
    func borrow<Result>(_ body: (UnsafeMutableRawBufferPointer) throws -> Result) rethrows -> Result {
        precondition(!isBorrowed, "the event loop's read buffer is already lent out (a borrow must not re-enter)")
        let buffer: UnsafeMutableRawBufferPointer
        if let storage {
            buffer = storage
        } else {
            buffer = .allocate(byteCount: Self.size, alignment: 16)
            storage = buffer
        }
        isBorrowed = true
        defer { isBorrowed = false }
        return try body(buffer)
    }
}

extension EventLoop {
    /// Lends the loop's read buffer (``LoopReadBuffer``, 64 KiB, contents undefined) to `body`.
    ///
    /// Only on the loop thread (it traps elsewhere), and `body` is synchronous: the buffer can
    /// never be lent to two connections at once, and never across a suspension point. Copy out
    /// whatever must outlive `body`.
    package func withReadBuffer<Result>(_ body: (UnsafeMutableRawBufferPointer) throws -> Result) rethrows -> Result {
        precondition(inEventLoop, "the event loop's read buffer is only lent on the loop thread")
        return try readBuffer.borrow(body)
    }
}
