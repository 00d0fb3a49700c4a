import Foundation

@testable import WebSockets

#if canImport(Glibc)
    import Glibc
#endif

/// Reads a child process's output pipe to its end on a thread of its own, with blocking reads,
/// appending what arrives to `text` (which notifies its `changes`).
///
/// Why not `FileHandle.readabilityHandler`: on Linux it installs a libdispatch read source, and
/// tearing that source down races libdispatch's epoll bookkeeping (swift-corelibs-libdispatch
/// issue 949, "use-after-free in epoll muxnote bookkeeping under concurrent readabilityHandler
/// teardown"): now and then the whole test process crashed with SIGSEGV in
/// `_dispatch_event_loop_drain` on libdispatch's manager thread, seen in CI under the thread
/// sanitizer. A blocking read never registers the descriptor with libdispatch; the thread holds
/// the handle, so the descriptor stays open until the read has seen the end of the stream.
final class PipeReader: Sendable {
    /// Set once the read saw the end of the stream (the writer side is closed: the child exited).
    let reachedEnd = Flag()

    init(_ handle: FileHandle, into text: Recorder.Text) {
        let reachedEnd = reachedEnd
        let started = startDetachedThread(name: "test-pipe-read") {
            let fd = handle.fileDescriptor
            var buffer = [UInt8](repeating: 0, count: 16 * 1024)
            while true {
                let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
                if count > 0 {
                    text.append(Data(buffer[..<count]))
                } else if count < 0 && errno == EINTR {
                    continue
                } else {
                    break
                }
            }
            withExtendedLifetime(handle) {}
            reachedEnd.set()
            text.changes.notify()
        }
        precondition(started, "could not start a thread to read a child's output")
    }
}
