import Foundation
import WebSocketServer
import WebSockets

/// Throwaway certificates made with the `openssl` CLI into a temporary directory, once per test
/// process (EC P-256 keys: the whole set takes well under a second).
///
/// - `ca`: a test root. - `server`: CN=localhost, SAN DNS:localhost + IP:127.0.0.1 + IP:::1, by `ca`.
/// - `expired`: the same names, validity ended yesterday. - `wrongHost`: SAN DNS:example.com only.
/// - `client`: a client-auth certificate by `ca`. - `selfSigned`: a self-signed localhost cert.
final class TLSFixtures: Sendable {
    static let shared: TLSFixtures = {
        do { return try TLSFixtures() } catch { fatalError("cannot generate test certificates: \(error)") }
    }()

    let directory: URL

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
    var caFile: String { path("ca.pem") }
    var caRoot: CertificateSource { .pemFile(caFile) }

    func identity(_ name: String) -> TLSIdentity {
        .pemFiles(certificateChain: path("\(name).pem"), privateKey: path("\(name).key"))
    }

    private init() throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent(
                "websockets-tls-\(ProcessInfo.processInfo.processIdentifier)-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
        try run(
            ["req", "-x509"] + ec + [
                "-keyout", "ca.key", "-out", "ca.pem", "-days", "3", "-subj", "/CN=WebSockets Test CA",
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            ])
        try write("server.ext", "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\nextendedKeyUsage=serverAuth\n")
        try write("wrong.ext", "subjectAltName=DNS:example.com\nextendedKeyUsage=serverAuth\n")
        try write("client.ext", "extendedKeyUsage=clientAuth\n")
        try issue("server", subject: "/CN=localhost", extensions: "server.ext", days: "3")
        try issue("expired", subject: "/CN=localhost", extensions: "server.ext", days: "-1")
        try issue("wronghost", subject: "/CN=example.com", extensions: "wrong.ext", days: "3")
        try issue("client", subject: "/CN=test client", extensions: "client.ext", days: "3")
        try run(
            ["req", "-x509"] + ec + [
                "-keyout", "selfsigned.key", "-out", "selfsigned.pem", "-days", "3", "-subj", "/CN=localhost",
                "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
            ])
    }

    deinit {
        try? FileManager.default.removeItem(at: directory)
    }

    private func issue(_ name: String, subject: String, extensions: String, days: String) throws {
        try run([
            "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "\(name).key", "-out", "\(name).csr", "-subj", subject,
        ])
        try run([
            "x509", "-req", "-in", "\(name).csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "\(name).pem", "-days", days, "-extfile", extensions,
        ])
    }

    private func write(_ name: String, _ text: String) throws {
        try text.write(to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8)
    }

    /// Runs `openssl arguments` in the directory and returns its standard output.
    @discardableResult
    func run(_ arguments: [String]) throws -> String {
        let process = ChildProcess()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["openssl"] + arguments
        process.currentDirectoryURL = directory
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw TLSFixtureError("openssl \(arguments.joined(separator: " ")) exited with \(process.terminationStatus)")
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// `openssl x509 -fingerprint -sha256` of a certificate file, as lowercase hex.
    func fingerprint(_ name: String) throws -> String {
        let line = try run(["x509", "-in", "\(name).pem", "-noout", "-fingerprint", "-sha256"])
        let value = line.split(separator: "=").last.map(String.init) ?? ""
        return value.filter { $0 != ":" && !$0.isNewline }.lowercased()
    }

    /// An echo server over TLS on 127.0.0.1 presenting `certificate` (`server`, `expired`, ...).
    func server(_ certificate: String = "server", clientCertificates: TLSServerConfiguration.ClientCertificatePolicy = .none)
        async throws -> WebSocketServer
    {
        var tls = TLSServerConfiguration(identity: identity(certificate))
        tls.clientCertificates = clientCertificates
        tls.clientTrustRoots = [caRoot]
        var configuration = WebSocketServer.Configuration()
        configuration.tls = tls
        return try await WebSocketServer.start(configuration: configuration) { socket in
            for try await message in socket.messages { try await socket.send(message) }
        }
    }
}

struct TLSFixtureError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
