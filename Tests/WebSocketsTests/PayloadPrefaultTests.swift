import Testing

@testable import WebSockets

#if canImport(Glibc)
    import Glibc
#endif

/// Mapping a large message's pages before its payload is read into it (`PayloadPrefault`), checked
/// on fresh anonymous memory with `mincore`, which says which pages are mapped.
@Suite("Payload prefault")
struct PayloadPrefaultTests {
    static let pageSize = PayloadPrefault.pageSize

    /// Whether the running kernel knows `MADV_POPULATE_WRITE` (Linux 5.14); without it the
    /// prefault is a no-op by design and there is nothing to observe.
    static let kernelPopulates: Bool = {
        guard let region = FreshRegion(pages: 1) else { return false }
        defer { region.unmap() }
        return madvise(region.base, pageSize, PayloadPrefault.populateWrite) == 0
    }()

    @Test("only the whole pages inside a buffer are chosen: a partial first or last page is left alone")
    func wholePagesStayInsideTheBuffer() {
        #expect(PayloadPrefault.wholePages(start: 4096, count: 8192, pageSize: 4096) == 4096..<12288)
        #expect(PayloadPrefault.wholePages(start: 4196, count: 12288, pageSize: 4096) == 8192..<16384)
        #expect(PayloadPrefault.wholePages(start: 4196, count: 4000, pageSize: 4096) == nil)
        #expect(PayloadPrefault.wholePages(start: 100, count: 4096, pageSize: 4096) == nil)
    }

    @Test("a large buffer's whole pages are mapped before the read, once per message", .enabled(if: kernelPopulates))
    func mapsWholePagesOncePerMessage() throws {
        let pages = PayloadPrefault.minimumSize / Self.pageSize + 4
        let region = try #require(FreshRegion(pages: pages))
        defer { region.unmap() }
        #expect(region.residentPages() == Array(repeating: false, count: pages), "fresh anonymous memory is unmapped")

        // A buffer starting 100 bytes into the first page and ending 100 bytes into the last.
        let buffer = UnsafeMutableRawBufferPointer(start: region.base + 100, count: (pages - 1) * Self.pageSize)
        var prefault = PayloadPrefault()
        prefault.prepare(buffer, message: 7)
        var expected = Array(repeating: true, count: pages)
        expected[0] = false  // partly outside the buffer
        expected[pages - 1] = false
        #expect(region.residentPages() == expected)

        // The rest of the same message's payload: nothing more is done (the pages were mapped).
        region.discard()
        prefault.prepare(buffer, message: 7)
        #expect(region.residentPages() == Array(repeating: false, count: pages))
        // The next message is mapped again.
        prefault.prepare(buffer, message: 8)
        #expect(region.residentPages() == expected)
    }

    @Test("buffers under the minimum size are left to fault as they are written", .enabled(if: kernelPopulates))
    func smallBuffersAreLeftAlone() throws {
        let pages = PayloadPrefault.minimumSize / Self.pageSize - 1
        let region = try #require(FreshRegion(pages: pages))
        defer { region.unmap() }
        var prefault = PayloadPrefault()
        prefault.prepare(UnsafeMutableRawBufferPointer(start: region.base, count: pages * Self.pageSize), message: 1)
        #expect(region.residentPages() == Array(repeating: false, count: pages))
    }
}

/// Anonymous private memory of a number of pages, mapped for the test and unmapped after.
private struct FreshRegion {
    let base: UnsafeMutableRawPointer
    let pages: Int
    var size: Int { pages * PayloadPrefault.pageSize }

    init?(pages: Int) {
        let size = pages * PayloadPrefault.pageSize
        let pointer = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        guard let pointer, pointer != MAP_FAILED else { return nil }
        base = pointer
        self.pages = pages
    }

    /// Which pages are mapped now (`mincore`).
    func residentPages() -> [Bool] {
        var vector = [UInt8](repeating: 0, count: pages)
        let result = mincore(base, size, &vector)
        precondition(result == 0, "mincore failed: \(errno)")
        return vector.map { $0 & 1 == 1 }
    }

    /// Gives the pages back to the kernel: unmapped again, as after the allocator trimmed a heap.
    func discard() {
        _ = madvise(base, size, MADV_DONTNEED)
    }

    func unmap() {
        _ = munmap(base, size)
    }
}
