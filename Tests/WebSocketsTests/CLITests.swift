import Foundation
import Synchronization
import Testing
import WebSocketServer

@testable import WebSockets

/// Runs the built `websocket` binary with `arguments`, writing `input` to its stdin. Stdin is
/// closed (EOF) once `closeInputWhen` holds for the output so far (at once by default) or the
/// process has exited; the condition is re-checked whenever the process writes, and whenever
/// `changes` is notified (pass a ``Recorder``'s `changes` when the condition also reads it).
/// Should that take 30 seconds (generous: a loaded CI machine may take seconds to start a
/// process), the test fails and stdin is closed anyway.
func runCLI(
    _ arguments: [String], input: String = "", changes: StateSignal = StateSignal(),
    environment: [String: String]? = nil, sourceLocation: SourceLocation = #_sourceLocation,
    closeInputWhen ready: @escaping @Sendable (String) -> Bool = { _ in true }
) async throws -> (status: Int32, stdout: String, stderr: String) {
    let stdin = Pipe()
    let child = try RecordedProcess(
        executable: try cliExecutable(), arguments: arguments, standardInput: stdin,
        changes: changes, environment: environment)
    try stdin.fileHandleForWriting.write(contentsOf: Data(input.utf8))
    let (output, exited) = (child.output, child.exitSeen)
    let inputDone = await changes.wait(timeout: .seconds(30)) { ready(output.text) || exited.isSet }
    if !inputDone {
        Issue.record("after 30 s the output still did not satisfy closeInputWhen: \(output.text)", sourceLocation: sourceLocation)
    }
    try stdin.fileHandleForWriting.close()
    let result = await child.waitForExit()
    if result.status == sanitizerReportExitStatus {
        // A sanitized build of the CLI found a problem; the tests only look at the status, so say what it was.
        Issue.record("the websocket child reported a sanitizer problem:\n\(result.stderr)", sourceLocation: sourceLocation)
    }
    return result
}

/// The exit status of a process after a ThreadSanitizer report (its `exitcode` option, 66 by default),
/// as when the suite runs under `swift test --sanitize=thread` and spawns the sanitized CLI.
let sanitizerReportExitStatus: Int32 = 66

/// A child process whose stdout and stderr are recorded as they arrive, and whose exit is
/// awaited without blocking a thread of the cooperative pool (in-process servers under test need
/// those threads).
final class RecordedProcess {
    let process = ChildProcess()
    let output: Recorder.Text
    let errors: Recorder.Text
    /// Set when the process has exited (its termination handler ran).
    let exitSeen = Flag()
    private let stdout = Pipe(), stderr = Pipe()
    /// Read the two pipes to their end (see ``PipeReader`` for why not `readabilityHandler`).
    private var readers: [PipeReader] = []
    private let changes: StateSignal
    private let exited = AsyncStream<Void>.makeStream()

    /// Starts `executable` with `arguments`. `changes` is notified whenever the process writes
    /// to stdout or stderr, and when it exits.
    /// `environment`, when given, replaces the inherited one.
    init(
        executable: URL, arguments: [String], standardInput: Any, changes: StateSignal = StateSignal(),
        environment: [String: String]? = nil
    ) throws {
        output = Recorder.Text(changes: changes)
        errors = Recorder.Text(changes: changes)
        self.changes = changes
        process.executableURL = executable
        process.arguments = arguments
        process.standardInput = standardInput
        if let environment { process.environment = environment }
        process.standardOutput = stdout
        process.standardError = stderr
        let (output, errors, exited, exitSeen) = (output, errors, exited.continuation, exitSeen)
        process.terminationHandler = { _ in
            exitSeen.set()
            changes.notify()
            exited.yield()
        }
        try process.run()
        readers = [
            PipeReader(stdout.fileHandleForReading, into: output),
            PipeReader(stderr.fileHandleForReading, into: errors),
        ]
    }

    /// Waits for the process to exit and both pipes to reach their end (30 s at most for the
    /// pipes: a grandchild could hold them open); returns its status and everything it wrote.
    func waitForExit() async -> (status: Int32, stdout: String, stderr: String) {
        for await _ in exited.stream { break }
        process.waitUntilExit()
        let readers = readers
        _ = await changes.wait(timeout: .seconds(30)) { readers.allSatisfy(\.reachedEnd.isSet) }
        return (process.terminationStatus, output.text, errors.text)
    }
}

/// The built `websocket` binary (next to the test bundle, or in .build/debug).
func cliExecutable() throws -> URL {
    let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("websocket")
    let candidates = [binary, URL(fileURLWithPath: ".build/debug/websocket")]
    guard let executable = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
        throw PeerError("the websocket binary was not found next to the test bundle")
    }
    return executable
}

/// A `websocket serve` process for a test, started and stopped without blocking a thread of the
/// cooperative pool (in-process servers of tests running in parallel need those threads).
final class ServeProcess: Sendable {
    let process: Process
    let port: Int
    private let exited: AsyncStream<Void>

    /// Starts `websocket serve` on 127.0.0.1 with `arguments` and waits for `LISTENING <port>`.
    init(_ arguments: [String]) async throws {
        let process = ChildProcess()
        process.executableURL = try cliExecutable()
        process.arguments = ["serve", "--host", "127.0.0.1", "--port", "0"] + arguments
        let output = Pipe()
        process.standardOutput = output
        let changes = StateSignal()
        let text = Recorder.Text(changes: changes)
        let (exited, continuation) = AsyncStream<Void>.makeStream()
        let exitSeen = Flag()
        process.terminationHandler = { _ in
            exitSeen.set()
            changes.notify()
            continuation.yield()
            continuation.finish()
        }
        try process.run()
        _ = PipeReader(output.fileHandleForReading, into: text)  // reads until the process exits
        // The first line, or the exit; 30 s is a deadline only (the check below then fails).
        _ = await changes.wait(timeout: .seconds(30)) {
            text.text.contains("\n") || exitSeen.isSet
        }
        let line = text.text.split(separator: "\n").first.map(String.init) ?? ""
        guard line.hasPrefix("LISTENING "), let port = Int(line.dropFirst(10)) else {
            process.terminate()
            throw PeerError("websocket serve printed \"\(line)\" instead of LISTENING <port>")
        }
        self.process = process
        self.port = port
        self.exited = exited
    }

    /// Sends SIGTERM without waiting.
    func terminate() {
        if process.isRunning { process.terminate() }
    }

    /// Sends SIGTERM (graceful shutdown) and waits for the process to exit.
    func stop() async {
        if process.isRunning { process.terminate() }
        for await _ in exited { break }
        // swift-corelibs-foundation's `Process.run()` makes a run-loop source that retains the
        // Process, and only `waitUntilExit()` releases it (`runLoopSource = nil`): without this
        // call every ServeProcess leaks its Process, pipes and handlers, which LeakSanitizer
        // reports at exit under `swift test --sanitize=address` (the run then fails). The
        // termination handler has run, so `isRunning` is false and this returns at once.
        process.waitUntilExit()
    }
}

/// A flag set once, from any thread.
final class Flag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .releasing) }
    var isSet: Bool { value.load(ordering: .acquiring) }
}

/// Messages a server handler saw, readable from the test.
final class Recorder: Sendable {
    /// Bytes written by a child process, collected from any thread.
    final class Text: Sendable {
        private let storage = Lock<[UInt8]>([])
        /// Notified after every append.
        let changes: StateSignal
        init(changes: StateSignal = StateSignal()) { self.changes = changes }
        func append(_ data: Data) {
            storage.withLock { $0.append(contentsOf: data) }
            changes.notify()
        }
        var text: String { storage.withLock { String(decoding: $0, as: UTF8.self) } }
    }

    private let storage = Lock<[Message]>([])
    /// Notified after every append: share it with ``runCLI(_:input:changes:sourceLocation:closeInputWhen:)``
    /// when its condition reads ``messages``.
    let changes = StateSignal()
    func append(_ message: Message) {
        storage.withLock { $0.append(message) }
        changes.notify()
    }
    var messages: [Message] { storage.withLock { $0 } }

    /// The messages once `count` arrived (the handler may still be draining its stream when the
    /// client has already exited), or what arrived within two seconds (a deadline: the caller's
    /// check then fails).
    func messages(count: Int) async -> [Message] {
        _ = await changes.wait(timeout: .seconds(2)) { self.messages.count >= count }
        return messages
    }
}

/// The CLI's flags and output formats are contracts that scripts and benchmarks parse.
@Suite("websocket CLI contracts", .serialized)
struct CLITests {
    @Test("client mode: stdin lines become text messages, text prints as lines, EOF closes with 1000")
    func clientSendsLinesAndPrintsText() async throws {
        let received = Recorder()
        try await withTeardown(
            await WebSocketServer.start { socket in
                try await socket.send(.text("hello from the server"))
                try await socket.send(.text(""))
                for try await message in socket.messages { received.append(message) }
            }
        ) { server in
            // Stdin stays open until the greeting was printed and both lines arrived: the client
            // closes at EOF, and a close that overtakes the greeting would (rightly) cut it off.
            let result = try await runCLI([server.url(path: "/echo")], input: "one\ntwo words\n", changes: received.changes) {
                output in
                output.hasSuffix("hello from the server\n\n") && received.messages.count == 2
            }
            #expect(result.stdout == "hello from the server\n\n")
            #expect(result.stderr == "closed 1000 \n")
            #expect(result.status == 0)
            #expect(await received.messages(count: 2) == [.text("one"), .text("two words")])
        }
    }

    @Test("--verbose prints the connection's events on stderr as 'event <level> #<n> <what>', stdout unchanged")
    func verbosePrintsEvents() async throws {
        try await withTeardown(await WebSocketServer.echo()) { server in
            let result = try await runCLI([server.url(), "--verbose"], input: "hi\n") { $0 == "hi\n" }
            #expect(result.stdout == "hi\n")
            #expect(result.status == 0)
            let events = result.stderr.split(separator: "\n").filter { $0.hasPrefix("event ") }
            #expect(
                events.first?.hasPrefix("event debug #") == true
                    && events.first?.hasSuffix(" connecting to \(server.url())") == true)
            #expect(
                events.contains { $0.hasPrefix("event info #") && $0.contains(" connected to 127.0.0.1:\(server.port), plain") })
            #expect(events.contains { $0.hasSuffix(" sent text message, 2 bytes") })
            #expect(events.contains { $0.hasSuffix(" received text message, 2 bytes") })
            #expect(
                events.last?.hasPrefix("event info #") == true && events.last?.hasSuffix(" closed, peer sent 1000 \"\"") == true)
            #expect(result.stderr.hasSuffix("closed 1000 \n"), "the closing line stays the last")
        }
    }

    @Test("--binary sends lines as binary; binary messages print as 'binary <N> bytes <hex of 32>'")
    func binaryMessagesPrintAsHex() async throws {
        let received = Recorder()
        try await withTeardown(
            await WebSocketServer.start { socket in
                try await socket.send(.binary([0x61, 0x62, 0x63]))
                try await socket.send(.binary([UInt8](repeating: 0xAB, count: 40)))
                for try await message in socket.messages { received.append(message) }
            }
        ) { server in
            let result = try await runCLI([server.url(), "--binary"], input: "abc\n", changes: received.changes) { output in
                output.split(separator: "\n").count == 2 && received.messages.count == 1
            }
            #expect(result.stdout == "binary 3 bytes 616263\nbinary 40 bytes \(String(repeating: "ab", count: 32))\n")
            #expect(result.status == 0)
            #expect(await received.messages(count: 1) == [.binary(Array("abc".utf8))])
        }
    }

    @Test("a server-initiated close prints 'closed <code> <reason>' and exits 0")
    func serverCloseIsReported() async throws {
        try await withTeardown(
            await WebSocketServer.start { socket in
                try await socket.close(code: CloseCode(4000), reason: "bye now")
            }
        ) { server in
            // Stdin stays open: the server's close must arrive before any close of ours.
            let result = try await runCLI([server.url()], closeInputWhen: { _ in false })
            #expect(result.stderr == "closed 4000 bye now\n")
            #expect(result.status == 0)
        }
    }

    @Test(
        "failures print 'error <status>: <message>' and exit 1",
        arguments: [
            (["ws://127.0.0.1:1/"], "error cannotConnect: "),
            (["ws://no-such-host.invalid/"], "error hostNameNotResolved: "),
            (["http://example.com/"], "error invalidArgument: "),
            (["wss://127.0.0.1:1/"], "error cannotConnect: "),
            (["ws://127.0.0.1:1/", "--open-timeout", "x"], "error invalidArgument: "),
            (["ws://127.0.0.1:1/", "--pong-timeout", "1"], "error invalidArgument: "),
            (["ws://127.0.0.1:1/", "--ping-interval", "0"], "error invalidArgument: "),
        ])
    func failuresArePrinted(_ arguments: [String], _ prefix: String) async throws {
        let result = try await runCLI(arguments)
        #expect(result.stderr.hasPrefix(prefix), "\(result.stderr)")
        #expect(result.stdout.isEmpty)
        #expect(result.status == 1)
    }

    @Test("a non-101 answer is reported as handshakeFailed(<status>)")
    func handshakeFailureIsReported() async throws {
        try await withTeardown(await WebSocketServer.echo()) { server in
            let result = try await runCLI([server.url(), "--protocol", "bad protocol"])
            #expect(result.stderr.hasPrefix("error invalidArgument: "))
            #expect(result.status == 1)
        }
    }

    @Test("bench prints its result line last: rps/p50/p99 for rtt, mbps/msgs for stream")
    func benchResultLines() async throws {
        try await withTeardown(await WebSocketServer.echo()) { server in
            let rtt = try await runCLI([
                "bench", "--url", server.url(), "--size", "64", "--seconds", "0.3", "--mode", "rtt", "--conns", "2",
            ])
            let rttLast = rtt.stdout.split(separator: "\n").last.map(String.init) ?? ""
            #expect(rttLast.wholeMatch(of: /rps=\d+ p50_us=\d+ p99_us=\d+/) != nil, "\(rtt.stdout)")
            let stream = try await runCLI([
                "bench", "--url", server.url(), "--size", "1024", "--seconds", "0.3", "--mode", "stream",
            ])
            let streamLast = stream.stdout.split(separator: "\n").last.map(String.init) ?? ""
            #expect(streamLast.wholeMatch(of: /mbps=\d+(\.\d+)? msgs=\d+/) != nil, "\(stream.stdout)")
            #expect(rtt.status == 0 && stream.status == 0)
        }
    }

    @Test(
        "bench prints the rusage line just before the result, on the loop and on the pool",
        arguments: ["loop", "pool"])
    func benchResourceUsageLine(executor: String) async throws {
        try await withTeardown(await WebSocketServer.echo()) { server in
            let result = try await runCLI([
                "bench", "--url", server.url(), "--size", "64", "--seconds", "0.3",
                "--mode", "rtt", "--executor", executor,
            ])
            let lines = result.stdout.split(separator: "\n").map(String.init)
            #expect(result.status == 0, "\(result.stderr)")
            #expect(lines.count >= 2)
            let usage = lines.dropLast().last ?? ""
            #expect(
                usage.wholeMatch(of: /rusage csw_per_op=\d+(\.\d+)? cpu_us_per_op=\d+(\.\d+)? ops=[1-9]\d*/) != nil,
                "\(result.stdout)")
        }
    }

    @Test("bench refuses an unknown --executor with a clear error")
    func benchRefusesUnknownExecutor() async throws {
        let result = try await runCLI(["bench", "--url", "ws://127.0.0.1:1/", "--executor", "threads"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("--executor must be loop or pool"), "\(result.stderr)")
    }

    @Test("autobahn refuses an unknown --echo with a clear error, before connecting")
    func autobahnRefusesUnknownEcho() async throws {
        let result = try await runCLI(["autobahn", "--url", "ws://127.0.0.1:1", "--echo", "frames"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("--echo expects messages or fragments"), "\(result.stderr)")
    }

    @Test("the demo runs end to end and closes cleanly")
    func demoRuns() async throws {
        let result = try await runCLI([])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("closed cleanly: peer answered 1000"))
        #expect(!result.stdout.contains("DIFFERENT"))
    }

    @Test(
        "serve echoes in both modes on either executor, 4 MiB + 16 included (its limit is 16 MiB), and SIGTERM closes clients with 1001",
        arguments: ["message", "fragment"], ["loop", "pool"])
    func serveModes(mode: String, executor: String) async throws {
        try await withTeardown(await ServeProcess(["--mode", mode, "--ping-interval", "0.05", "--executor", executor])) { serve in
            let socket = MessageWebSocket()
            try await socket.configure { $0.maxMessageSize = 8 << 20 }
            try await socket.connect(to: "ws://127.0.0.1:\(serve.port)/")
            var iterator = socket.messages.makeAsyncIterator()
            try await socket.sendNonfinalFrame(Array("frag".utf8))
            try await socket.sendFinalFrame(Array("mented".utf8))
            #expect(try await iterator.next() == .binary(Array("fragmented".utf8)))
            var bytes = [UInt8](repeating: 0x5A, count: (4 << 20) + 16)  // just above the library's 4 MiB
            bytes[bytes.count - 1] = 0xA5
            try await socket.send(bytes)
            #expect(try await iterator.next() == .binary(bytes))
            try await socket.send(text: "ünïcode")
            #expect(try await iterator.next() == .text("ünïcode"))
            await serve.stop()  // SIGTERM: graceful shutdown
            #expect(try await iterator.next() == nil)
            #expect(await socket.closeStatus?.code == .goingAway)
        }
    }

    @Test("serve applies the hardening limits: --max-header-count (431 above it), --max-connections (503 above it)")
    func serveLimits() async throws {
        try await withTeardown(
            await ServeProcess([
                "--max-connections", "1", "--max-header-count", "6",
                "--max-concurrent-handshakes", "4", "--handshake-timeout", "5",
                "--idle-timeout", "30",
            ])
        ) { serve in
            let crowded = try await RawClient.connect(to: serve.port)
            defer { crowded.close() }
            try await crowded.send(RawClient.upgradeRequest(adding: [("A", "1"), ("B", "2")]))  // 7 fields
            #expect(try await crowded.readHead().0.status == 431)
            let first = try await RawClient.connect(to: serve.port)
            defer { first.close() }
            try await first.send(RawClient.upgradeRequest(adding: [("A", "1")]))  // 6 fields
            #expect(try await first.readHead().0.status == 101)
            let second = try await RawClient.connect(to: serve.port)
            defer { second.close() }
            try await second.send(RawClient.upgradeRequest())
            #expect(try await second.readHead().0.status == 503)
        }
    }

    @Test("serve refuses a limit that is not positive with a clear error")
    func serveBadLimit() async throws {
        let result = try await runCLI(["serve", "--port", "0", "--max-connections", "0"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("must be positive"))
    }

    @Test(
        "serve and autobahn refuse a --compression-level outside 1...9 with a clear error",
        arguments: [["serve", "--port", "0", "--compression-level", "0"], ["autobahn", "--compression-level", "10"]])
    func badCompressionLevel(_ arguments: [String]) async throws {
        let result = try await runCLI(arguments)
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("error invalidArgument: --compression-level must be 1...9"), "\(result.stderr)")
    }

    @Test("serve --compression-level 1 negotiates permessage-deflate (RFC 7692) and echoes compressible messages intact")
    func serveCompressionLevel() async throws {
        try await withTeardown(await ServeProcess(["--compression-level", "1"])) { serve in
            let socket = MessageWebSocket()
            try await socket.connect(to: "ws://127.0.0.1:\(serve.port)/")
            #expect(await socket.information.compression != nil)
            let text = String(repeating: "{\"key\": \"value\", \"n\": 12345}, ", count: 4096)
            var iterator = socket.messages.makeAsyncIterator()
            try await socket.send(text: text)
            #expect(try await iterator.next() == .text(text))
            try await socket.close()
        }
    }

    @Test("serve refuses an unknown --executor with a clear error")
    func serveBadExecutor() async throws {
        let result = try await runCLI(["serve", "--port", "0", "--executor", "threads"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("--executor must be loop or pool"), "\(result.stderr)")
    }

    @Test("serve refuses an unknown --mode with a clear error")
    func serveBadMode() async throws {
        let result = try await runCLI(["serve", "--port", "0", "--mode", "stream"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("--mode must be message or fragment"))
    }
}
