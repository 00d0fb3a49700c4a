import Foundation
import Testing

/// An independent WebSocket peer (Python `websockets` or `aiohttp`, from PyPI) run as a child
/// process on loopback, for interoperability tests.
///
/// Availability: `WEBSOCKETS_PYTHON` names the interpreter (default `python3`). Without the
/// libraries these tests are skipped, unless `WEBSOCKETS_INTEROP=1` (set by `.ci/run`), under
/// which a missing peer is a failure.
final class PythonPeer: Sendable {
    static let python = ProcessInfo.processInfo.environment["WEBSOCKETS_PYTHON"] ?? "python3"
    static let isRequired = ProcessInfo.processInfo.environment["WEBSOCKETS_INTEROP"] == "1"
    static let skipMessage: Comment = """
        Python peers not available: install them with \
        `pip install -r Scripts/python/requirements.txt` and set WEBSOCKETS_PYTHON, or run `bash .ci/run` \
        (WEBSOCKETS_INTEROP=1 turns a missing peer into a failure)
        """

    /// Whether `python` can import both peer libraries (checked once).
    static let isAvailable: Bool = {
        let process = ChildProcess()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [python, "-c", "import websockets, aiohttp"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        do {
            try process.run()
            process.waitUntilExit()
            return process.terminationStatus == 0
        } catch {
            return false
        }
    }()

    /// Run the interop suites when the peers exist, or when CI demands them (then they fail loudly).
    static let shouldRun = isAvailable || isRequired

    static let scriptsDirectory: URL = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            let candidate = url.appendingPathComponent("Scripts/python")
            if FileManager.default.fileExists(atPath: candidate.appendingPathComponent("echo_server.py").path) {
                return candidate
            }
        }
        return URL(fileURLWithPath: "Scripts/python")
    }()

    let port: Int
    private let process: Process
    /// Kept open: the peer exits when its stdin reaches EOF, so it dies with this process.
    private let stdin: Pipe

    /// Starts `script` (`echo_server.py` or `aiohttp_echo_server.py`) and waits for `LISTENING <port>`
    /// without blocking a thread of the cooperative pool: Python takes a second or more to import
    /// its libraries on a loaded machine, and a blocking read here (as this once was) held one of
    /// the pool's two threads for each peer started, which stalled the in-process servers of tests
    /// running alongside past their deadlines (seen under the sanitizers).
    init(script: String = "echo_server.py", arguments: [String] = []) async throws {
        guard Self.isAvailable else {
            throw PeerError(
                "Python peers are required (WEBSOCKETS_INTEROP=1) but `\(Self.python)` cannot import websockets and aiohttp")
        }
        let process = ChildProcess()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments =
            [
                Self.python, Self.scriptsDirectory.appendingPathComponent(script).path,
                "--host", "127.0.0.1", "--port", "0",
            ] + arguments
        let output = Pipe()
        let input = Pipe()
        process.standardOutput = output
        process.standardInput = input
        let changes = StateSignal()
        let text = Recorder.Text(changes: changes)
        let exitSeen = Flag()
        process.terminationHandler = { _ in
            exitSeen.set()
            changes.notify()
        }
        try process.run()
        _ = PipeReader(output.fileHandleForReading, into: text)  // reads until the process exits
        self.process = process
        self.stdin = input
        // The first line, or the exit; 30 s is a deadline only (the checks below then fail).
        _ = await changes.wait(timeout: .seconds(30)) { text.text.contains("\n") || exitSeen.isSet }
        guard text.text.contains("\n") else { throw PeerError("\(script) exited (or was silent for 30 s) before listening") }
        let line = text.text.split(separator: "\n").first.map(String.init) ?? ""
        guard line.hasPrefix("LISTENING "), let port = Int(line.dropFirst(10)) else {
            throw PeerError("unexpected first line from \(script): \(line)")
        }
        self.port = port
    }

    func url(_ path: String = "/echo") -> String { "ws://127.0.0.1:\(port)\(path)" }

    deinit {
        process.terminate()
        try? stdin.fileHandleForWriting.close()
        process.waitUntilExit()
    }
}

struct PeerError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
