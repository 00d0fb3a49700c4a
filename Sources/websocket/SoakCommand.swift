import Foundation
import WebSocketServer
import WebSockets

/// `websocket soak [--url URL] [--cycles N] [--sample-every K] [--size BYTES] [--watch-pid PID]`
///
/// The leak check: N cycles (default 10,000) of connect, echo one binary message of BYTES
/// (default 64), close; one at a time. Without `--url` the echo server runs in this process
/// (`WebSocketServer.echo()` on 127.0.0.1), so both sides of every connection are counted here;
/// with `--url` it is another process, sampled too when `--watch-pid` gives its process id.
///
/// Lines (parseable `key=value` pairs):
/// - `soak url=<URL> cycles=<N> sample_every=<K> size=<BYTES> nofile=<descriptor limit>`
/// - every K cycles, and once before the first (`cycle=0`, after a warm-up of one cycle):
///   `soak cycle=<n> fds=<open descriptors> rss_kb=<KiB>` and, with `--watch-pid`,
///   `server_fds=<n> server_rss_kb=<KiB>`
/// - `soak done cycles=<N> seconds=<S> fds_growth=<last minus first sample>
///   rss_growth_kb=<last minus first sample>`
///
/// Flat `fds` and `rss_kb` columns mean nothing leaks: descriptors, connections, tasks, buffers.
enum SoakCommand {
    static func run(_ arguments: Arguments) async -> Int32 {
        do {
            try arguments.rejectUnknown(["url", "cycles", "sample-every", "size", "watch-pid"])
            let cycles = try arguments.int("cycles") ?? 10_000
            let every = try arguments.int("sample-every") ?? 1000
            let size = try arguments.int("size") ?? 64
            guard cycles >= 1, every >= 1, size >= 0 else {
                throw CLIError("--cycles and --sample-every must be >= 1, --size >= 0")
            }
            let watched = try arguments.watchedProcess()
            let limit = ProcessResources.raiseDescriptorLimit()
            let server: WebSocketServer?
            let url: String
            if let given = arguments.string("url") {
                server = nil
                url = given
            } else {
                let echo = try await WebSocketServer.echo()
                server = echo
                url = "ws://127.0.0.1:\(echo.port)/"
            }
            Output.out("soak url=\(url) cycles=\(cycles) sample_every=\(every) size=\(size) nofile=\(limit)")
            let payload = Message.binary((0..<size).map { UInt8(truncatingIfNeeded: $0) })
            try await cycle(url, payload)  // warm-up: lazily created descriptors and arenas
            let first = (ProcessResources.openDescriptors(), ProcessResources.residentKiB())
            Output.out("soak cycle=0 \(ProcessResources.sample(watching: watched))")
            let clock = ContinuousClock()
            let start = clock.now
            var last = first
            for number in 1...cycles {
                try await cycle(url, payload)
                if number % every == 0 || number == cycles {
                    last = (ProcessResources.openDescriptors(), ProcessResources.residentKiB())
                    Output.out("soak cycle=\(number) \(ProcessResources.sample(watching: watched))")
                }
            }
            let elapsed = clock.now - start
            Output.out(
                "soak done cycles=\(cycles) seconds=\(IdleCommand.format(elapsed)) "
                    + "fds_growth=\(last.0 - first.0) rss_growth_kb=\(last.1 - first.1)")
            await server?.shutDown()
            return 0
        } catch {
            Output.fail(error)
        }
    }

    /// Connect, one echo, close: the server has answered our close and ended TCP when it returns.
    private static func cycle(_ url: String, _ payload: Message) async throws {
        let socket = MessageWebSocket()
        try await socket.connect(to: url)
        var messages = socket.messages.makeAsyncIterator()
        try await socket.send(payload)
        guard try await messages.next() == payload else {
            throw CLIError("the echo differs from the message sent")
        }
        try await socket.close(code: .normalClosure)
    }
}
