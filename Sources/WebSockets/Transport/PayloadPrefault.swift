#if canImport(Glibc)
    import Glibc
#endif

/// Faults in the pages of a large message before the kernel reads its payload into them: one
/// `madvise(MADV_POPULATE_WRITE)` per message instead of a page fault per 4 KiB inside `read`.
///
/// Why: a payload of 64 KiB to 1 MiB is read straight into the message it becomes
/// (`ConnectionCore+DirectPayload.swift`), which is allocated fresh for each message. Whether its
/// pages are already mapped depends on glibc's allocator: it hands a freed heap back to the kernel
/// and grows it again as messages come and go, so in some processes nearly every 1 MiB message
/// lands on unmapped pages (measured: about 250 minor faults per message). Those faults then
/// happen inside `read`, one trap per page, while the kernel holds the socket's lock, so the
/// packets arriving meanwhile queue up behind it. The same binary streamed 1 MiB messages at
/// 1,400-1,650 MB/s in most runs and at 900-990 MB/s in the others (CPU per message 640 against
/// 1,060 µs). Populating the pages in one call first makes the slow kind less slow (1,110-1,190
/// MB/s in A/B series here) and leaves the fast kind as it was; which kind a process gets is still
/// the allocator's doing. A 1 MiB round trip also wakes less often (2.6-2.8 wake-ups per round trip
/// against 2.8-4.0), at the same round trips per second.
///
/// On pages that are already mapped the call only walks the page tables. It is a hint: on a
/// kernel without `MADV_POPULATE_WRITE` (before Linux 5.14) it fails with `EINVAL`, which is
/// ignored, and the faults happen in `read` as before. Only whole pages inside the buffer are
/// touched, and only for writing, which the read does next anyway.
struct PayloadPrefault {
    /// Below this the faults cost little and the call would cost more than it saves.
    static let minimumSize = 64 * 1024

    /// `MADV_POPULATE_WRITE` (Linux 5.14, `<linux/mman.h>`), spelled out for older C headers.
    static let populateWrite: CInt = 23

    /// The page size, read once.
    static let pageSize = Int(sysconf(CInt(_SC_PAGESIZE)))

    /// The message whose pages were populated last: a payload read in several pieces is populated
    /// once, before its first read (the rest of the buffer then is the whole payload still to come).
    private var lastMessage = -1

    /// Populates `buffer`'s whole pages once per message (`message`: any number that differs
    /// between messages, such as the count of messages received before it).
    mutating func prepare(_ buffer: UnsafeMutableRawBufferPointer, message: Int) {
        guard buffer.count >= Self.minimumSize, message != lastMessage, let base = buffer.baseAddress else { return }
        lastMessage = message
        guard let pages = Self.wholePages(start: UInt(bitPattern: base), count: buffer.count, pageSize: Self.pageSize) else {
            return
        }
        let length = Int(pages.upperBound - pages.lowerBound)
        _ = madvise(UnsafeMutableRawPointer(bitPattern: pages.lowerBound), length, Self.populateWrite)
    }

    /// The addresses of the whole pages within `count` bytes from `start` (`madvise` takes a
    /// page-aligned start, and must not touch memory outside the buffer); `nil` when there is none.
    static func wholePages(start: UInt, count: Int, pageSize: Int) -> Range<UInt>? {
        let mask = UInt(pageSize - 1)
        let first = (start + mask) & ~mask
        let end = (start + UInt(count)) & ~mask
        return end > first ? first..<end : nil
    }
}
