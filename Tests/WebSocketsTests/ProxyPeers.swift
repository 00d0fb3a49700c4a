import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A real proxy from Debian (`tinyproxy` for HTTP CONNECT, `microsocks` for SOCKS5) or the
/// stdlib Python `https://` proxy (`Scripts/python/https_proxy.py`: none of the Debian ones
/// terminates TLS), run as a child process on 127.0.0.1 with a generated configuration.
///
/// Availability: without the binaries these tests are skipped, unless `WEBSOCKETS_INTEROP=1` (set
/// by `.ci/run`, which installs them), under which a missing proxy is a failure.
final class ProxyPeer: Sendable {
    static let tinyproxy = "/usr/bin/tinyproxy"
    static let microsocks = "/usr/bin/microsocks"
    static let isInstalled =
        FileManager.default.isExecutableFile(atPath: tinyproxy) && FileManager.default.isExecutableFile(atPath: microsocks)
    static let shouldRun = isInstalled || PythonPeer.isRequired
    static let skipMessage: Comment = """
        Debian proxies not installed: `apt-get install tinyproxy microsocks` (or run `bash .ci/run`; \
        WEBSOCKETS_INTEROP=1 turns a missing proxy into a failure)
        """

    enum Kind {
        /// tinyproxy; with a credential it requires `BasicAuth`.
        case httpConnect
        /// microsocks; with a credential it requires RFC 1929 username/password.
        case socks5
        /// `https_proxy.py` with the test CA's `server` certificate (localhost, 127.0.0.1).
        case https
    }

    let port: Int
    private let process: ChildProcess
    private let stdin: Pipe
    private let directory: URL

    /// Starts the proxy and returns once it accepts connections.
    init(_ kind: Kind, user: String? = nil, password: String? = nil, allowedConnectPort: Int? = nil) async throws {
        guard Self.isInstalled || kind == .https else {
            throw PeerError("the Debian proxies are required (WEBSOCKETS_INTEROP=1): apt-get install tinyproxy microsocks")
        }
        directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "websockets-proxy-\(ProcessInfo.processInfo.processIdentifier)-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let process = ChildProcess()
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = output
        var port = 0
        switch kind {
        case .httpConnect:
            port = try Self.freePort()
            var config = """
                Port \(port)
                Listen 127.0.0.1
                Timeout 60
                MaxClients 64
                LogLevel Info
                DisableViaHeader Yes
                Allow 127.0.0.1

                """
            // Without ConnectPort lines tinyproxy allows every port; with one, only those listed.
            if let allowedConnectPort { config += "ConnectPort \(allowedConnectPort)\n" }
            if let user, let password { config += "BasicAuth \(user) \(password)\n" }
            let file = directory.appendingPathComponent("tinyproxy.conf")
            try config.write(to: file, atomically: true, encoding: .utf8)
            process.executableURL = URL(fileURLWithPath: Self.tinyproxy)
            process.arguments = ["-d", "-c", file.path]
        case .socks5:
            port = try Self.freePort()
            process.executableURL = URL(fileURLWithPath: Self.microsocks)
            process.arguments = ["-i", "127.0.0.1", "-p", "\(port)"] + (user.map { ["-u", $0, "-P", password ?? ""] } ?? [])
        case .https:
            let fixtures = TLSFixtures.shared
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments =
                [
                    "python3", PythonPeer.scriptsDirectory.appendingPathComponent("https_proxy.py").path,
                    "--tls-cert", fixtures.path("server.pem"), "--tls-key", fixtures.path("server.key"),
                ] + (user.map { ["--user", $0, "--password", password ?? ""] } ?? [])
        }
        let changes = StateSignal()
        let text = Recorder.Text(changes: changes)
        let exitSeen = Flag()
        process.terminationHandler = { _ in
            exitSeen.set()
            changes.notify()
        }
        try process.run()
        _ = PipeReader(output.fileHandleForReading, into: text)
        self.process = process
        self.stdin = input
        switch kind {
        case .https:
            // `LISTENING <port>`, or the exit; 30 s is a deadline only.
            _ = await changes.wait(timeout: .seconds(30)) { text.text.contains("\n") || exitSeen.isSet }
            let line = text.text.split(separator: "\n").first.map(String.init) ?? ""
            guard line.hasPrefix("LISTENING "), let listening = Int(line.dropFirst(10)) else {
                throw PeerError("https_proxy.py did not start: \(text.text)")
            }
            port = listening
        case .httpConnect:
            // tinyproxy says when its listening socket is ready.
            _ = await changes.wait(timeout: .seconds(30)) { text.text.contains("Accepting connections") || exitSeen.isSet }
            guard text.text.contains("Accepting connections") else { throw PeerError("tinyproxy did not start: \(text.text)") }
        case .socks5:
            // microsocks prints nothing: the one readiness signal it gives is its port accepting.
            guard await Self.waitUntilAccepting(port: port, exited: exitSeen) else {
                throw PeerError("microsocks did not start listening on \(port): \(text.text)")
            }
        }
        self.port = port
    }

    /// `scheme://[user:password@]127.0.0.1:port`.
    func url(_ scheme: String, user: String? = nil, password: String? = nil) -> String {
        let credential = user.map { "\($0):\(password ?? "")@" } ?? ""
        return "\(scheme)://\(credential)127.0.0.1:\(port)"
    }

    deinit {
        // SIGKILL, not terminate(): a child of this process starts with SIGTERM blocked (the mask
        // of the thread that spawned it), and these proxies have nothing to say goodbye with.
        kill(process.processIdentifier, SIGKILL)
        try? stdin.fileHandleForWriting.close()
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: directory)
    }

    /// A port on 127.0.0.1 free at the time of asking (bound to port 0, then released), for the
    /// proxies that take a port but cannot report an ephemeral one.
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw PeerError("socket failed: errno \(errno)") }
        defer { Glibc.close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard bound else { throw PeerError("bind to 127.0.0.1:0 failed: errno \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Whether `port` accepts a TCP connection before the process exits (30 s at most). A child
    /// that gives no sign of readiness leaves only this: each refused attempt is retried after a
    /// short pause, and the first accepted one ends the wait.
    static func waitUntilAccepting(port: Int, exited: Flag) async -> Bool {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline && !exited.isSet {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
                }
            }
            Glibc.close(fd)
            if connected { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return false
    }
}
