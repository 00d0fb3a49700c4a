import Foundation
import WebSockets

/// `websocket idle --url URL --connections N [--parallel P] [--compression on|off] [--watch-pid PID]`
///
/// The scale measurement: opens N connections to URL (P handshakes at a time, default 100) and
/// keeps them open and idle, then reports the resident memory they cost, and closes them all.
/// The descriptor limit is raised to its hard limit first (`setrlimit`).
///
/// Lines (parseable `key=value` pairs):
/// - `idle url=<URL> connections=<N> nofile=<descriptor limit>`
/// - `idle opened=<N> seconds=<time to open them> fds=<open descriptors>
///   client_rss_before_kb=<KiB> client_rss_after_kb=<KiB> client_bytes_per_connection=<bytes>`,
///   followed, with `--watch-pid` (the server's process id), by
///   `server_fds=<n> server_rss_before_kb=<KiB> server_rss_after_kb=<KiB> server_bytes_per_connection=<bytes>`
/// - `idle closed=<N> fds=<open descriptors after closing>`
///
/// "Before" is measured after one connection was opened and closed, so the runtime, the event
/// loop and the allocator's first arenas are not counted per connection.
enum IdleCommand {
    static func run(_ arguments: Arguments) async -> Int32 {
        do {
            try arguments.rejectUnknown(["url", "connections", "parallel", "compression", "watch-pid"])
            guard let url = arguments.string("url") else { throw CLIError("idle needs --url") }
            let count = try arguments.int("connections") ?? 1000
            let parallel = try arguments.int("parallel") ?? 100
            guard count >= 1, parallel >= 1 else { throw CLIError("--connections and --parallel must be >= 1") }
            var control = MessageWebSocketControl()
            switch arguments.string("compression") ?? "on" {
            case "on": break
            case "off": control.compression = .disabled
            default: throw CLIError("--compression must be on or off")
            }
            let watched = try arguments.watchedProcess()
            let limit = ProcessResources.raiseDescriptorLimit()
            Output.out("idle url=\(url) connections=\(count) nofile=\(limit)")

            let warmup = MessageWebSocket(control: control)
            try await warmup.connect(to: url)
            try await warmup.close(code: .normalClosure)
            let clientBefore = ProcessResources.residentKiB()
            let serverBefore = watched.map { ProcessResources.residentKiB(of: $0) }

            let clock = ContinuousClock()
            let start = clock.now
            let sockets = try await open(count, to: url, control: control, parallel: parallel)
            let elapsed = clock.now - start
            let clientAfter = ProcessResources.residentKiB()
            var line = "idle opened=\(sockets.count) seconds=\(format(elapsed)) fds=\(ProcessResources.openDescriptors())"
            line += " client_rss_before_kb=\(clientBefore) client_rss_after_kb=\(clientAfter)"
            line += " client_bytes_per_connection=\((clientAfter - clientBefore) * 1024 / count)"
            if let watched, let serverBefore {
                let serverAfter = ProcessResources.residentKiB(of: watched)
                line += " server_fds=\(ProcessResources.openDescriptors(of: watched))"
                line += " server_rss_before_kb=\(serverBefore) server_rss_after_kb=\(serverAfter)"
                line += " server_bytes_per_connection=\((serverAfter - serverBefore) * 1024 / count)"
            }
            Output.out(line)

            await withTaskGroup(of: Void.self) { group in
                for socket in sockets {
                    group.addTask { try? await socket.close(code: .normalClosure) }
                }
            }
            Output.out("idle closed=\(sockets.count) fds=\(ProcessResources.openDescriptors())")
            return 0
        } catch {
            Output.fail(error)
        }
    }

    /// Opens `count` connections, `parallel` handshakes at a time.
    private static func open(
        _ count: Int, to url: String, control: MessageWebSocketControl, parallel: Int
    ) async throws -> [MessageWebSocket] {
        try await withThrowingTaskGroup(of: MessageWebSocket.self) { group in
            var sockets: [MessageWebSocket] = []
            sockets.reserveCapacity(count)
            var started = 0
            func startOne() {
                started += 1
                group.addTask {
                    let socket = MessageWebSocket(control: control)
                    try await socket.connect(to: url)
                    return socket
                }
            }
            while started < min(parallel, count) { startOne() }
            while let socket = try await group.next() {
                sockets.append(socket)
                if started < count { startOne() }
            }
            return sockets
        }
    }

    static func format(_ duration: Duration) -> String {
        let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        return String(format: "%.2f", seconds)
    }
}
