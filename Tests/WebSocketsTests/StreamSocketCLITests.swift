import Foundation
import Testing

@testable import WebSockets

/// `websocket tcp`: the contract scripts rely on (stdin to the socket, the socket to stdout,
/// half-close at stdin EOF, exit 0 once the peer ended too; `error <status>: <message>` and 1).
@Suite("websocket tcp")
struct StreamSocketCLITests {
    @Test("tcp HOST PORT pipes stdin through an echo listener to stdout and exits 0")
    func pipesThroughAListener() async throws {
        try await withTeardown(await StreamSocketServer()) { server in
            let result = try await runCLI(["tcp", "127.0.0.1", "\(server.endpoint.port)"], input: "hello\nworld\n")
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout == "hello\nworld\n")
            #expect(result.stderr == "")
        }
    }

    @Test("tcp --tls --ca-file validates the listener's certificate and pipes over TLS")
    func pipesOverTLS() async throws {
        let fixtures = TLSFixtures.shared
        try await withTeardown(await StreamSocketServer(tls: TLSServerConfiguration(identity: fixtures.identity("server")))) {
            server in
            let result = try await runCLI(
                ["tcp", "127.0.0.1", "\(server.endpoint.port)", "--tls", "--ca-file", fixtures.caFile], input: "secret\n")
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout == "secret\n")
        }
    }

    @Test("A refused connection prints error connectionRefused: connect to HOST:PORT: ... and exits 1")
    func refused() async throws {
        let refusing = try RefusingPort()  // bound, not listening: a closed listener's port can be reused meanwhile
        defer { refusing.close() }
        let port = refusing.port
        let result = try await runCLI(["tcp", "127.0.0.1", "\(port)"])
        #expect(result.status == 1)
        #expect(result.stderr == "error connectionRefused: connect to 127.0.0.1:\(port): Connection refused\n")
        #expect(result.stdout == "")
    }

    @Test("tcp --listen 0 announces its port on stderr, accepts one connection and pipes both ways")
    func listens() async throws {
        let stdin = Pipe()
        let changes = StateSignal()
        let child = try RecordedProcess(
            executable: try cliExecutable(), arguments: ["tcp", "--listen", "0"], standardInput: stdin, changes: changes)
        let errors = child.errors
        let announced = await changes.wait(timeout: .seconds(30)) { errors.text.contains("\n") }
        #expect(announced)
        let line = errors.text.split(separator: "\n").first.map(String.init) ?? ""
        let port = try #require(Int(line.replacingOccurrences(of: "listening 127.0.0.1:", with: "")), "\(line)")
        try await withStreamSocket(host: "127.0.0.1", port: port) { socket in
            try await socket.write(Array("from the test\n".utf8))
            try await socket.shutdownWrite()
            try stdin.fileHandleForWriting.write(contentsOf: Data("from the CLI\n".utf8))
            try stdin.fileHandleForWriting.close()
            #expect(String(decoding: try await socket.readToEnd(), as: UTF8.self) == "from the CLI\n")
        }
        let result = await child.waitForExit()
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "from the test\n")
    }
}
