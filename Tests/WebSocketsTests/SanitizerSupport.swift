import Foundation
import WebSockets

// What `swift test --sanitize=address` needs from this test binary to report only real problems.
// Nothing here affects a build without the sanitizer: the two C entry points below are weak hooks
// that only the AddressSanitizer/LeakSanitizer runtime calls, and `ChildProcess` only adds a weak
// reference per thread. The library and the `websocket` binary get no suppressions at all.

/// AddressSanitizer suppressions (the runtime reads them once, at start-up).
///
/// - `interceptor_via_fun:findMaximumOpenFromProcSelfFD`: a bug in the toolchain's
///   swift-corelibs-foundation, fixed upstream in swiftlang/swift-corelibs-foundation#5472.
///   `Process.run()` lists `/proc/self/fd` and copies each entry's `d_name` as a whole 256-byte
///   array, although `readdir` records are only `d_reclen` long: once the process has about 1,350
///   descriptors open (the parallel suite peaks near 2,000), the last records of glibc's full
///   32 KiB directory buffer are copied past its end, and ASan stops the run with a
///   heap-buffer-overflow in `memcpy`. The entry suppresses only errors found in interceptors
///   (here `memcpy`) called directly from that one Foundation function; the bytes it over-reads are
///   discarded (only the digits before the NUL are parsed). (No `$`: it would be an anchor.)
@_cdecl("__asan_default_suppressions")
func asanDefaultSuppressions() -> UnsafePointer<CChar> {
    // Called during ASan's initialization, before Swift globals exist: a literal only.
    let text: StaticString = "interceptor_via_fun:findMaximumOpenFromProcSelfFD\n"
    return UnsafeRawPointer(text.utf8Start).assumingMemoryBound(to: CChar.self)
}

/// LeakSanitizer suppressions (read when the leak check runs, at exit).
///
/// - `leak:libXCTest.so`: `swift test` also runs this binary under XCTest, which finds no XCTest
///   tests here (the suite uses swift-testing) and still leaks its own `XCTestSuiteRun` objects
///   from `XCTMain` (a reference cycle: only indirect leaks, every frame in libXCTest). Even an
///   empty run fails the leak check without this entry. No code of this package runs in XCTest.
@_cdecl("__lsan_default_suppressions")
func lsanDefaultSuppressions() -> UnsafePointer<CChar> {
    let text: StaticString = "leak:libXCTest.so\n"
    return UnsafeRawPointer(text.utf8Start).assumingMemoryBound(to: CChar.self)
}

/// The `Process` that tests start children with: before `run()` and `waitUntilExit()` it makes the
/// side table of the calling thread's `RunLoop` visible to LeakSanitizer.
///
/// Why: Foundation's `Process.run()` and `waitUntilExit()` assign `RunLoop.current` to a weak
/// property, which gives that long-lived `RunLoop` a Swift side table. The object refers to its
/// side table only through an encoded pointer in its reference count, which LeakSanitizer cannot
/// read, so once the Process (the weak reference) is gone, the side table of a live object is
/// reported as a 32-byte "direct leak" at exit (llvm/llvm-project#56751; reproduced with four lines:
/// a global object, one transient `weak var` to it). Suppressing `formWeakReference` would also
/// hide every real leak reachable only from a side table; instead a weak reference kept for the
/// life of the process (``LeakSanitizerAnchors``) holds the side table's plain address, as any
/// live weak reference does.
final class ChildProcess: Process, @unchecked Sendable {
    override func run() throws {
        LeakSanitizerAnchors.anchorCurrentRunLoop()
        try super.run()
    }

    override func waitUntilExit() {
        LeakSanitizerAnchors.anchorCurrentRunLoop()
        super.waitUntilExit()
    }
}

/// One weak reference per `RunLoop` that ran or awaited a child process (see ``ChildProcess``).
enum LeakSanitizerAnchors {
    // @unchecked: `runLoop` is written once, in init, and never read except for being nil.
    private final class Anchor: @unchecked Sendable {
        /// Never used to reach the run loop: it only keeps the side table's address in memory.
        weak var runLoop: RunLoop?
        init(_ runLoop: RunLoop) { self.runLoop = runLoop }
        var isCleared: Bool { runLoop == nil }
    }

    private static let anchors = Lock<[ObjectIdentifier: Anchor]>([:])

    static func anchorCurrentRunLoop() {
        let runLoop = RunLoop.current
        let id = ObjectIdentifier(runLoop)
        let anchor = Anchor(runLoop)
        anchors.withLock { anchors in
            // A cleared entry belonged to a run loop that is gone and whose address was reused.
            if anchors[id]?.isCleared ?? true { anchors[id] = anchor }
        }
    }
}

/// Whether this test process runs under ThreadSanitizer or AddressSanitizer (their runtimes define
/// these entry points; a plain build has neither).
///
/// Why tests ask: the long streaming tests (tens of MiB) take a minute or more under TSan, and
/// they hold the exclusive lock (`.exclusiveProcessResources`) all that time, so the timing tests
/// waiting for it hit their time limits. Under a sanitizer they stream a fifth as much: the same
/// code paths, the same checks, less repetition. Plain `swift test` keeps the full sizes.
enum Sanitizers {
    static let active: Bool = dlsym(nil, "__tsan_init") != nil || dlsym(nil, "__asan_init") != nil
}

extension Duration {
    /// The open timeout of tests about something else than it (redirects, TLS, proxies): under a
    /// sanitizer the whole suite runs at once on two cores and one loopback hop has taken seconds
    /// (a three-hop wss:// redirect took over 20 s under ASan). A hang still fails, at this bound.
    static let loadTolerantOpenTimeout = Duration.seconds(90)
}
