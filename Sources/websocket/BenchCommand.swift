import WebSockets

/// `websocket bench --url URL --size BYTES --seconds S --mode rtt|stream [--conns C]`
///
/// The client benchmark, through the public API only, against any echo server. Its last line is
/// the contract other clients' benchmarks print too, so one run can compare them:
/// - `rtt`: each of C connections sends a binary message of BYTES and awaits its echo,
///   repeatedly, for S seconds: `rps=<round trips/s> p50_us=<median> p99_us=<99th percentile>`.
/// - `stream`: one connection keeps up to 64 messages in flight for S seconds:
///   `mbps=<MB/s of echoed payload, MB = 10^6 bytes> msgs=<echoed messages>`.
enum BenchCommand {
    static let window = 64

    static func run(_ arguments: Arguments) async -> Int32 {
        do {
            try arguments.rejectUnknown(["url", "size", "seconds", "mode", "conns"])
            guard let url = arguments.string("url") else { throw CLIError("bench needs --url") }
            let size = try arguments.int("size") ?? 256
            let seconds = try arguments.seconds("seconds") ?? .seconds(5)
            let mode = arguments.string("mode") ?? "rtt"
            let connections = try arguments.int("conns") ?? 1
            guard size >= 0, connections >= 1 else { throw CLIError("--size must be >= 0 and --conns >= 1") }
            Output.out("bench url=\(url) size=\(size) seconds=\(seconds) mode=\(mode) conns=\(connections)")
            switch mode {
            case "rtt":
                let result = try await roundTrips(url: url, size: size, duration: seconds, connections: connections)
                Output.out(result)
            case "stream":
                let result = try await stream(url: url, size: size, duration: seconds)
                Output.out(result)
            default:
                throw CLIError("--mode must be rtt or stream")
            }
            return 0
        } catch {
            Output.fail(error)
        }
    }

    static func connect(_ url: String, size: Int) async throws -> MessageWebSocket {
        var control = MessageWebSocketControl()
        control.maxMessageSize = max(control.maxMessageSize, size + 1024)
        let socket = MessageWebSocket(control: control)
        try await socket.connect(to: url)
        return socket
    }

    /// C connections in lock-step request/response; latencies in microseconds.
    static func roundTrips(url: String, size: Int, duration: Duration, connections: Int) async throws -> String {
        let payload = [UInt8](repeating: 0x61, count: size)
        let clock = ContinuousClock()
        var sockets: [MessageWebSocket] = []
        for _ in 0..<connections { sockets.append(try await connect(url, size: size)) }
        let start = clock.now
        let deadline = start + duration
        let latencies = try await withThrowingTaskGroup(of: [Double].self) { group in
            for socket in sockets {
                group.addTask(executorPreference: MessageWebSocket.eventLoopExecutor) {
                    var samples: [Double] = []
                    samples.reserveCapacity(1 << 16)
                    var iterator = socket.messages.makeAsyncIterator()
                    while clock.now < deadline {
                        let sent = clock.now
                        try await socket.send(.binary(payload))
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
        for socket in sockets { try? await socket.close(code: .normalClosure) }
        let sorted = latencies.sorted()
        func percentile(_ p: Double) -> Int {
            guard !sorted.isEmpty else { return 0 }
            return Int(sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))].rounded())
        }
        let rps = Int((Double(sorted.count) / elapsed).rounded())
        return "rps=\(rps) p50_us=\(percentile(0.5)) p99_us=\(percentile(0.99))"
    }

    /// One connection with up to 64 messages in flight.
    static func stream(url: String, size: Int, duration: Duration) async throws -> String {
        let payload = [UInt8](repeating: 0x61, count: size)
        let socket = try await connect(url, size: size)
        let clock = ContinuousClock()
        let start = clock.now
        let deadline = start + duration
        var echoed = 0
        var inFlight = 0
        var iterator = socket.messages.makeAsyncIterator()
        while inFlight < window {
            try await socket.send(.binary(payload))
            inFlight += 1
        }
        while inFlight > 0 {
            guard try await iterator.next() != nil else {
                throw WebSocketError(.connectionAborted, "the server closed during the benchmark")
            }
            inFlight -= 1
            if clock.now < deadline {
                echoed += 1
                try await socket.send(.binary(payload))
                inFlight += 1
            }
        }
        let elapsed = Double((clock.now - start) / .nanoseconds(1)) / 1e9
        try? await socket.close(code: .normalClosure)
        let megabytes = Double(echoed) * Double(size) / 1e6
        let mbps = (megabytes / elapsed * 10).rounded() / 10
        return "mbps=\(mbps) msgs=\(echoed)"
    }
}
