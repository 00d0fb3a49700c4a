import Foundation
import WebSockets

/// `websocket bench --url URL --size BYTES --seconds S --mode rtt|stream [--conns C]
///                  [--compression on|off] [--payload bytes|json] [--executor loop|pool]`
///
/// The client benchmark, through the public API only, against any echo server. Its last line is
/// the contract other clients' benchmarks print too, so one run can compare them:
/// - `rtt`: each of C connections sends a binary message of BYTES and awaits its echo,
///   repeatedly, for S seconds: `rps=<round trips/s> p50_us=<median> p99_us=<99th percentile>`.
/// - `stream`: one connection keeps up to 64 messages in flight for S seconds:
///   `mbps=<MB/s of echoed payload, MB = 10^6 bytes> msgs=<echoed messages>`.
///
/// `--compression on` offers permessage-deflate with the client defaults (default `off`, so that
/// the numbers compare with the Python clients, which run uncompressed); `--payload json` sends
/// text messages of JSON-like records (compressible like real traffic) instead of binary `a`s.
/// With `--compression`, a line `compression ratio=<uncompressed/compressed bytes sent, 1 when off>
/// cpu_us_per_msg=<this process's CPU time per echoed message>` comes before the result line.
///
/// Before the result line, always: `rusage csw_per_op=<voluntary + involuntary context switches>
/// cpu_us_per_op=<user + system CPU µs> ops=<round trips or echoed messages>`, this process's
/// `getrusage` over the timed window only (connecting and closing excluded), divided by the
/// operations done in it. `Scripts/python/bench_client.py` prints the same line.
///
/// `--executor loop` (the default) runs the benchmark's tasks on the connections' event loop
/// (``MessageWebSocket/eventLoopExecutor``), the fast path for latency-critical loops; `pool` runs
/// them on Swift's global pool, as plain `Task`s do.
enum BenchCommand {
    static let window = 64

    static func run(_ arguments: Arguments) async -> Int32 {
        do {
            try arguments.rejectUnknown(["url", "size", "seconds", "mode", "conns", "compression", "payload", "executor"])
            guard let url = arguments.string("url") else { throw CLIError("bench needs --url") }
            let size = try arguments.int("size") ?? 256
            let seconds = try arguments.seconds("seconds") ?? .seconds(5)
            let mode = arguments.string("mode") ?? "rtt"
            let connections = try arguments.int("conns") ?? 1
            guard size >= 0, connections >= 1 else { throw CLIError("--size must be >= 0 and --conns >= 1") }
            var workload = Workload()
            workload.reports = arguments.string("compression") != nil
            switch arguments.string("compression") ?? "off" {
            case "on": workload.compression = .clientDefault
            case "off": workload.compression = .disabled
            default: throw CLIError("--compression must be on or off")
            }
            switch arguments.string("payload") ?? "bytes" {
            case "bytes": workload.payloadKind = .binary
            case "json": workload.payloadKind = .text
            default: throw CLIError("--payload must be bytes or json")
            }
            workload.executor = try arguments.executor()
            Output.out("bench url=\(url) size=\(size) seconds=\(seconds) mode=\(mode) conns=\(connections)")
            let cpuStart = processCPUTime()
            var totals = Totals()
            switch mode {
            case "rtt":
                let result = try await roundTrips(
                    url: url, size: size, duration: seconds, connections: connections,
                    workload: workload, totals: &totals)
                reportCompression(totals, workload, since: cpuStart)
                Output.out(result)
            case "stream":
                let result = try await stream(url: url, size: size, duration: seconds, workload: workload, totals: &totals)
                reportCompression(totals, workload, since: cpuStart)
                Output.out(result)
            default:
                throw CLIError("--mode must be rtt or stream")
            }
            return 0
        } catch {
            Output.fail(error)
        }
    }

    /// What `--compression` and `--payload` chose.
    struct Workload: Sendable {
        var compression = WebSocketCompression.disabled
        var payloadKind = MessageKind.binary
        /// Whether `--compression` was given: then the compression line is printed.
        var reports = false
        /// Where the benchmark's tasks run (`--executor`): the event loop, or the global pool (`nil`).
        var executor: (any TaskExecutor)?
    }

    /// Echoed messages and compression counters of the finished connections.
    struct Totals: Sendable {
        var messages = 0
        var statistics = PerMessageDeflate.Statistics()
    }

    static func connect(_ url: String, size: Int, compression: WebSocketCompression) async throws -> MessageWebSocket {
        var control = MessageWebSocketControl()
        control.maxMessageSize = max(control.maxMessageSize, size + 1024)
        control.compression = compression
        let socket = MessageWebSocket(control: control)
        try await socket.connect(to: url)
        return socket
    }

    /// The benchmark's message of `size` bytes: binary `a`s, or JSON-like text records.
    static func message(size: Int, kind payloadKind: MessageKind) -> Message {
        guard payloadKind == .text else { return .binary([UInt8](repeating: 0x61, count: size)) }
        var text = ""
        var index = 0
        while text.utf8.count < size {
            text +=
                "{\"id\":\(index),\"user\":\"user\(index % 97)\",\"score\":\(index * 7919 % 1000),\"active\":\(index % 3 == 0)},"
            index += 1
        }
        return .text(String(text.utf8.prefix(size))!)
    }

    /// Adds a finished socket's counters to the compression report.
    static func account(_ socket: MessageWebSocket, into totals: inout Totals) async {
        let info = await socket.information
        totals.messages += info.statistics.messagesReceived
        totals.statistics.uncompressedBytesSent += info.statistics.compression.uncompressedBytesSent
        totals.statistics.compressedBytesSent += info.statistics.compression.compressedBytesSent
    }

    static func reportCompression(_ totals: Totals, _ workload: Workload, since start: Double) {
        guard workload.reports else { return }
        let ratio =
            totals.statistics.compressedBytesSent > 0
            ? Double(totals.statistics.uncompressedBytesSent) / Double(totals.statistics.compressedBytesSent) : 1
        let cpu = (processCPUTime() - start) * 1e6 / Double(max(totals.messages, 1))
        Output.out("compression ratio=\((ratio * 10).rounded() / 10) cpu_us_per_msg=\(Int(cpu.rounded()))")
    }

    /// User plus system CPU time of this process, in seconds.
    static func processCPUTime() -> Double {
        var usage = rusage()
        #if canImport(Glibc)
            getrusage(RUSAGE_SELF.rawValue, &usage)
        #else
            getrusage(RUSAGE_SELF, &usage)
        #endif
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
            + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }

    /// C connections in lock-step request/response; latencies in microseconds.
    static func roundTrips(
        url: String, size: Int, duration: Duration, connections: Int,
        workload: Workload, totals: inout Totals
    ) async throws -> String {
        let payload = message(size: size, kind: workload.payloadKind)
        let clock = ContinuousClock()
        var sockets: [MessageWebSocket] = []
        for _ in 0..<connections { sockets.append(try await connect(url, size: size, compression: workload.compression)) }
        let usage = ResourceUsage.now()
        let start = clock.now
        let deadline = start + duration
        let latencies = try await withThrowingTaskGroup(of: [Double].self) { group in
            for socket in sockets {
                group.addTask(executorPreference: workload.executor) {
                    var samples: [Double] = []
                    samples.reserveCapacity(1 << 16)
                    var iterator = socket.messages.makeAsyncIterator()
                    while clock.now < deadline {
                        let sent = clock.now
                        try await socket.send(payload)
                        guard try await iterator.next() != nil else {
                            throw WebSocketError(.connectionAborted, "the server closed during the benchmark")
                        }
                        samples.append(Double((clock.now - sent) / .nanoseconds(1)) / 1000)
                    }
                    return samples
                }
            }
            var all: [Double] = []
            for try await samples in group { all += samples }
            return all
        }
        let elapsed = Double((clock.now - start) / .nanoseconds(1)) / 1e9
        Output.out(ResourceUsage.now().line(since: usage, operations: latencies.count))
        for socket in sockets {
            try? await socket.close(code: .normalClosure)
            await account(socket, into: &totals)
        }
        let sorted = latencies.sorted()
        func percentile(_ p: Double) -> Int {
            guard !sorted.isEmpty else { return 0 }
            return Int(sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))].rounded())
        }
        let rps = Int((Double(sorted.count) / elapsed).rounded())
        return "rps=\(rps) p50_us=\(percentile(0.5)) p99_us=\(percentile(0.99))"
    }

    /// One connection with up to 64 messages in flight.
    static func stream(url: String, size: Int, duration: Duration, workload: Workload, totals: inout Totals) async throws
        -> String
    {
        let payload = message(size: size, kind: workload.payloadKind)
        let socket = try await connect(url, size: size, compression: workload.compression)
        let clock = ContinuousClock()
        let usage = ResourceUsage.now()
        let start = clock.now
        let deadline = start + duration
        // Sending and receiving run concurrently, and the receiver never stops reading before the
        // end: with large messages both ends' buffers fill up, and a side that stops reading to
        // wait for the other would deadlock. The sender ends with a message of the other kind,
        // whose echo tells the receiver that everything sent has come back.
        let sentinel: Message = payload.kind == .binary ? .text("bench done") : .binary([0xBE, 0xEF])
        let credits = Credits()
        let sender = Task(executorPreference: workload.executor) {
            for _ in 0..<window { try await socket.send(payload) }
            while await credits.take() {
                if clock.now >= deadline { break }
                try await socket.send(payload)
            }
            try await socket.send(sentinel)
        }
        let echoed = try await withTaskExecutorPreference(workload.executor) {
            try await receive(from: socket, kind: payload.kind, until: deadline, credits: credits)
        }
        try await sender.value
        let elapsed = Double((clock.now - start) / .nanoseconds(1)) / 1e9
        Output.out(ResourceUsage.now().line(since: usage, operations: echoed))
        try? await socket.close(code: .normalClosure)
        await account(socket, into: &totals)
        let megabytes = Double(echoed) * Double(size) / 1e6
        let mbps = (megabytes / elapsed * 10).rounded() / 10
        return "mbps=\(mbps) msgs=\(echoed)"
    }

    /// The stream's receiving side: counts echoes of `kind` until the sentinel (another kind)
    /// comes back, granting the sender one credit per echo until `deadline`.
    static func receive(
        from socket: MessageWebSocket, kind: MessageKind, until deadline: ContinuousClock.Instant,
        credits: Credits
    ) async throws -> Int {
        let clock = ContinuousClock()
        var echoed = 0
        var iterator = socket.messages.makeAsyncIterator()
        while true {
            guard let message = try await iterator.next() else {
                throw WebSocketError(.connectionAborted, "the server closed during the benchmark")
            }
            if message.kind != kind { break }
            echoed += 1
            if clock.now < deadline {
                credits.grant()  // one echoed, one more may go out
            } else {
                credits.finish()
            }
        }
        return echoed
    }
}
