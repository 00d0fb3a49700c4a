import Foundation
import Synchronization
import Testing
import WebSocketServer
import WebSocketTesting

@testable import WebSockets

/// `wss://` against the package's own TLS server on loopback, with generated certificates.
@Suite("TLS (wss://)", .serialized)
struct TLSTests {
    let fixtures = TLSFixtures.shared

    /// A client control trusting the test CA (unless told otherwise).
    func control(trustingCA: Bool = true, _ update: (inout MessageWebSocketControl) -> Void = { _ in }) -> MessageWebSocketControl
    {
        var control = MessageWebSocketControl()
        if trustingCA { control.additionalTrustRoots = [fixtures.caRoot] }
        control.openTimeout = .loadTolerantOpenTimeout
        update(&control)
        return control
    }

    /// Connects, echoes one message, closes; returns the information seen while open.
    @discardableResult
    func echo(_ url: String, control: MessageWebSocketControl) async throws -> MessageWebSocketInformation {
        let socket = MessageWebSocket(control: control)
        try await socket.connect(to: url)
        try await socket.send(text: "over tls")
        var iterator = socket.messages.makeAsyncIterator()
        #expect(try await iterator.next() == .text("over tls"))
        let information = await socket.information
        try await socket.close(code: .normalClosure)
        return information
    }

    func connectError(_ url: String, control: MessageWebSocketControl) async -> WebSocketError? {
        let socket = MessageWebSocket(control: control)
        do {
            try await socket.connect(to: url)
            try await socket.close()
            return nil
        } catch let error as WebSocketError {
            return error
        } catch {
            Issue.record("unexpected error type: \(error)")
            return nil
        }
    }

    @Test("wss:// runs over TCP: information has the TCP statistics, and the event hook reports a secure connection")
    func statisticsAndEventsOverTLS() async throws {
        try await withTeardown(await fixtures.server()) { server in
            let recorder = EventRecorder()
            let information = try await echo(server.url(), control: control { $0.eventHandler = recorder.handler })
            let roundTrip = try #require(information.roundTripTimeStatistics)
            #expect(roundTrip.smoothed > 0 && roundTrip.min <= roundTrip.smoothed && roundTrip.smoothed <= roundTrip.max)
            #expect(try #require(information.bandwidthStatistics).inboundBitsPerSecond > 0)
            guard case .connected(let details)? = recorder.kinds.dropFirst().first else {
                Issue.record("\(recorder.kinds)")
                return
            }
            #expect(details.isSecure)
        }
    }

    @Test("a chain to a trusted extra root connects by IP address and by host name, and reports TLS details")
    func trustedChainConnects() async throws {
        try await withTeardown(await fixtures.server()) { server in
            #expect(server.url().hasPrefix("wss://127.0.0.1:"))
            let information = try await echo(server.url(), control: control())
            #expect(information.tlsVersion == "TLSv1.3")
            #expect(information.cipher?.isEmpty == false)
            #expect(information.serverCertificate?.subject == "CN=localhost")
            #expect(
                information.serverCertificate?.subjectAlternativeNames == [
                    "DNS:localhost", "IP Address:127.0.0.1", "IP Address:0:0:0:0:0:0:0:1",
                ])
            #expect(information.serverCertificateErrors.isEmpty)
            #expect(information.serverCertificateErrorSeverity == .none)
            try await echo("wss://localhost:\(server.port)/", control: control())
        }
    }

    @Test("an untrusted chain fails with serverCertificateInvalid, and passes when untrusted is ignorable")
    func untrustedChain() async throws {
        try await withTeardown(await fixtures.server()) { server in
            let error = await connectError(server.url(), control: control(trustingCA: false))
            #expect(error?.status == .serverCertificateInvalid)
            #expect(Set(error?.certificateProblems.map(\.result) ?? []) == [.untrusted])
            #expect(error?.message.contains("untrusted") == true)
            let information = try await echo(
                server.url(),
                control: control(trustingCA: false) {
                    $0.ignorableServerCertificateErrors = [.untrusted]
                })
            #expect(Set(information.serverCertificateErrors) == [.untrusted])
            #expect(information.serverCertificateErrorSeverity == .ignorable)
        }
    }

    @Test("an expired certificate fails with expired, and passes when expired is ignorable")
    func expiredCertificate() async throws {
        try await withTeardown(await fixtures.server("expired")) { server in
            let error = await connectError(server.url(), control: control())
            #expect(error?.status == .serverCertificateInvalid)
            #expect(error?.certificateProblems.map(\.result).contains(.expired) == true)
            try await echo(server.url(), control: control { $0.ignorableServerCertificateErrors = [.expired] })
        }
    }

    @Test("a certificate for another host fails with invalidName, and passes when invalidName is ignorable")
    func wrongHostName() async throws {
        try await withTeardown(await fixtures.server("wronghost")) { server in
            for host in ["127.0.0.1", "localhost"] {
                let url = "wss://\(host):\(server.port)/"
                let error = await connectError(url, control: control())
                #expect(error?.status == .serverCertificateInvalid)
                #expect(error?.certificateProblems.map(\.result) == [.invalidName])
                try await echo(url, control: control { $0.ignorableServerCertificateErrors = [.invalidName] })
            }
        }
    }

    @Test("every problem is reported: a self-signed certificate for another name lists untrusted and invalidName")
    func everyProblemReported() async throws {
        try await withTeardown(await fixtures.server("wronghost")) { server in
            let error = await connectError(server.url(), control: control(trustingCA: false))
            #expect(Set(error?.certificateProblems.map(\.result) ?? []) == [.untrusted, .invalidName])
            let ignoringOne = await connectError(
                server.url(),
                control: control(trustingCA: false) {
                    $0.ignorableServerCertificateErrors = [.untrusted]
                })
            #expect(ignoringOne?.certificateProblems.map(\.result) == [.invalidName])
        }
    }

    @Test("revoked and invalidSignature cannot be listed as ignorable")
    func fatalErrorsAreNotIgnorable() async throws {
        let socket = MessageWebSocket(control: control { $0.ignorableServerCertificateErrors = [.revoked] })
        await #expect(throws: WebSocketError.self) { try await socket.connect(to: "wss://127.0.0.1:1/") }
    }

    @Test("the hook sees the server's certificate with the fingerprint openssl computes, and the intermediates")
    func hookSeesCertificate() async throws {
        try await withTeardown(await fixtures.server()) { server in
            let seen = Lock<ServerValidationRequest?>(nil)
            try await echo(
                server.url(),
                control: control {
                    $0.serverCustomValidation = { request in
                        seen.withLock { $0 = request }
                        return .accept
                    }
                })
            let request = seen.withLock { $0 }!
            #expect(request.serverCertificate.sha256Hex == (try fixtures.fingerprint("server")))
            #expect(request.serverCertificate.issuer == "CN=WebSockets Test CA")
            #expect(request.serverCertificate.notAfter.map { $0 > Date() } == true)
            #expect(request.serverCertificateErrors.isEmpty)
            #expect(request.serverCertificateErrorSeverity == .none)
            #expect(request.serverName == "127.0.0.1")
        }
    }

    @Test("the hook runs after ignored errors and sees them")
    func hookSeesIgnoredErrors() async throws {
        try await withTeardown(await fixtures.server()) { server in
            let seen = Lock<[ChainValidationResult]>([])
            try await echo(
                server.url(),
                control: control(trustingCA: false) {
                    $0.ignorableServerCertificateErrors = [.untrusted]
                    $0.serverCustomValidation = { request in
                        seen.withLock { $0 = request.serverCertificateErrors }
                        return .accept
                    }
                })
            #expect(Set(seen.withLock { $0 }) == [.untrusted])
        }
    }

    @Test("a hook that rejects, or throws, fails connect with serverCertificateRejected and the server sees no request")
    func hookRejects() async throws {
        let upgrades = Lock(0)
        var tls = TLSServerConfiguration(identity: fixtures.identity("server"))
        tls.clientTrustRoots = []
        var configuration = WebSocketServer.Configuration()
        configuration.tls = tls
        try await withTeardown(await WebSocketServer.start(configuration: configuration) { _ in upgrades.withLock { $0 += 1 } }) {
            server in
            struct Nope: Error {}
            let rejecting: [ServerValidationHandler] = [{ _ in .reject }, { _ in throw Nope() }]
            for hook in rejecting {
                let error = await connectError(server.url(), control: control { $0.serverCustomValidation = hook })
                #expect(error?.status == .serverCertificateRejected)
            }
            #expect(upgrades.withLock { $0 } == 0)
        }
    }

    @Test("pinning by SHA-256: the right pin connects, a wrong pin is rejected")
    func pinning() async throws {
        try await withTeardown(await fixtures.server()) { server in
            func pinned(_ hex: String) -> MessageWebSocketControl {
                let pin = Certificate.parseSHA256(hex)
                // Pinning replaces trust in CAs: ignore untrusted, accept only the pinned leaf.
                return control(trustingCA: false) {
                    $0.ignorableServerCertificateErrors = [.untrusted]
                    $0.serverCustomValidation = { request in
                        request.serverCertificate.sha256Fingerprint == pin ? .accept : .reject
                    }
                }
            }
            try await echo(server.url(), control: pinned(try fixtures.fingerprint("server")))
            let error = await connectError(server.url(), control: pinned(String(repeating: "ab", count: 32)))
            #expect(error?.status == .serverCertificateRejected)
        }
    }

    /// An event-style hook whose callback takes a deferral and returns; `finish` runs in another
    /// task once the callback has returned, so the deferral completes after the callback, while
    /// the handshake waits for it.
    static func completingAfterCallback(
        _ finish: @escaping @Sendable (ServerValidationEvent, ValidationDeferral) throws -> Void
    ) -> ServerValidationHandler {
        ServerValidationEvent.handler { event in
            let deferral = event.makeDeferral()
            let returned = SharedCounter()
            defer { returned.increment() }  // as the callback returns
            Task {
                await returned.wait(untilAtLeast: 1)
                try finish(event, deferral)
            }
        }
    }

    @Test("a deferral completed later still accepts; reject before complete rejects")
    func lateDeferral() async throws {
        try await withTeardown(await fixtures.server()) { server in
            try await echo(
                server.url(),
                control: control {
                    $0.serverCustomValidation = Self.completingAfterCallback { _, deferral in
                        try deferral.complete()
                    }
                })
            let error = await connectError(
                server.url(),
                control: control {
                    $0.serverCustomValidation = Self.completingAfterCallback { event, deferral in
                        event.reject()
                        try deferral.complete()
                    }
                })
            #expect(error?.status == .serverCertificateRejected)
        }
    }

    @Test("completing a deferral twice throws invalidState")
    func deferralCompletedTwice() async throws {
        try await withTeardown(await fixtures.server()) { server in
            let second = Lock<WebSocketError?>(nil)
            try await echo(
                server.url(),
                control: control {
                    $0.serverCustomValidation = ServerValidationEvent.handler { event in
                        let deferral = event.makeDeferral()
                        try? deferral.complete()
                        do throws(WebSocketError) { try deferral.complete() } catch { second.withLock { $0 = error } }
                    }
                })
            #expect(second.withLock { $0 }?.status == .invalidState)
        }
    }

    @Test("a deferral never completed fails connect with timeout, naming the TLS handshake")
    func deferralNeverCompleted() async throws {
        try await withTeardown(await fixtures.server()) { server in
            let clock = ContinuousClock()
            let start = clock.now
            let error = await connectError(
                server.url(),
                control: control {
                    $0.openTimeout = .milliseconds(500)
                    $0.serverCustomValidation = ServerValidationEvent.handler { event in _ = event.makeDeferral() }
                })
            #expect(error?.status == .timeout)
            #expect(error?.message.contains("serverCustomValidation") == true)
            #expect(clock.now - start < .seconds(5))
        }
    }

    @Test("mutual TLS: a server requiring a client certificate accepts the client identity and refuses a client without")
    func mutualTLS() async throws {
        try await withTeardown(await fixtures.server(clientCertificates: .require)) { server in
            try await echo(server.url(), control: control { $0.clientIdentity = fixtures.identity("client") })
            let pem = try TLSIdentity.pem(
                certificateChain: Array(Data(contentsOf: URL(fileURLWithPath: fixtures.path("client.pem")))),
                privateKey: Array(Data(contentsOf: URL(fileURLWithPath: fixtures.path("client.key")))))
            try await echo(server.url(), control: control { $0.clientIdentity = pem })
            let error = await connectError(server.url(), control: control())
            #expect(error?.status == .secureConnectionFailed)
            #expect(error?.message.contains("certificate required") == true)
        }
    }

    @Test("a TLS listener shows the client's certificate on the upgrade, before the application accepts")
    func listenerSeesClientCertificate() async throws {
        var tls = TLSServerConfiguration(identity: fixtures.identity("server"))
        tls.clientCertificates = .require
        tls.clientTrustRoots = [fixtures.caRoot]
        var configuration = WebSocketServerConfiguration()
        configuration.tls = tls
        try await withTeardown(await WebSocketListener.bind(configuration: configuration)) { listener in
            #expect(listener.url().hasPrefix("wss://127.0.0.1:"))
            let socket = MessageWebSocket(control: control { $0.clientIdentity = fixtures.identity("client") })
            let url = "wss://localhost:\(listener.port)/"
            let connecting = Task { try await socket.connect(to: url) }
            var upgrades = listener.makeAsyncIterator()
            let upgrade = try #require(await upgrades.next())
            let clientCertificate = try #require(upgrade.tls?.peerCertificate)
            #expect(clientCertificate.sha256Hex == (try fixtures.fingerprint("client")))
            #expect(upgrade.tls?.version.hasPrefix("TLSv1.") == true)
            let server = try await upgrade.accept()
            try await connecting.value
            #expect(server.tls?.peerCertificate == clientCertificate)
            try await socket.send(text: "authenticated")
            var messages = server.messages.makeAsyncIterator()
            #expect(try await messages.next() == .text("authenticated"))
            try await socket.close()
        }
    }

    @Test("TLS runs over the in-memory transport pair, both roles")
    func overInMemoryPair() async throws {
        let (clientSide, serverSide) = InMemoryTransport.makePair()
        let context = try TLSServerContext(configuration: TLSServerConfiguration(identity: fixtures.identity("server")))
        async let accepted = TLSTransport.accept(over: serverSide, context: context)
        var configuration = TLSClientConfiguration()
        configuration.additionalTrustRoots = [fixtures.caRoot]
        let client = try await TLSTransport.connect(over: clientSide, serverName: "localhost", configuration: configuration)
        let server = try await accepted
        #expect(client.info.alpnProtocol == "http/1.1")
        #expect(client.info.peerCertificate?.subject == "CN=localhost")
        let payload = (0..<100_000).map { UInt8(truncatingIfNeeded: $0) }
        try await client.write([payload, [1, 2, 3]], isolation: nil)
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 8192)
        while received.count < payload.count + 3 {
            let count = try await server.read(into: &buffer, isolation: nil)
            #expect(count > 0)
            received += buffer[..<count]
        }
        #expect(received == payload + [1, 2, 3])
        try await server.write([Array("back".utf8)], isolation: nil)
        let count = try await client.read(into: &buffer, isolation: nil)
        #expect(Array(buffer[..<count]) == Array("back".utf8))
        client.close()
        server.close()
    }

    @Test(
        "interop: wss:// to a Python websockets TLS server, text and a 1 MiB binary message",
        .enabled(if: PythonPeer.shouldRun, PythonPeer.skipMessage))
    func pythonTLSServer() async throws {
        let peer = try await PythonPeer(arguments: [
            "--tls-cert", fixtures.path("server.pem"), "--tls-key", fixtures.path("server.key"),
        ])
        let socket = MessageWebSocket(control: control())
        try await socket.connect(to: "wss://localhost:\(peer.port)/echo")
        let big = Message.binary((0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        var iterator = socket.messages.makeAsyncIterator()
        for message in [Message.text("héllo over TLS"), big] {
            try await socket.send(message)
            #expect(try await iterator.next() == message)
        }
        let information = await socket.information
        #expect(information.serverCertificate?.sha256Hex == (try fixtures.fingerprint("server")))
        #expect(information.tlsVersion?.hasPrefix("TLSv1.") == true)
        try await socket.close(code: .normalClosure)
        #expect(await socket.closeStatus?.code == .normalClosure)
    }

    @Test("200 connect/close cycles over TLS leak no SSL objects and keep memory flat", .exclusiveProcessResources)
    func noLeaks() async throws {
        SSLObjectWatch.startWatching()
        try await withTeardown(await fixtures.server()) { server in
            let control = control()
            func cycle() async throws {
                let socket = MessageWebSocket(control: control)
                try await socket.connect(to: server.url())
                try await socket.close(code: .normalClosure)
            }
            for _ in 0..<20 { try await cycle() }
            let baseline = residentBytes()
            for _ in 0..<200 { try await cycle() }
            // Sessions end asynchronously on the server side: OpenSSL reports each `SSL_free`, and
            // the test goes on once every `SSL` object made since it began was freed (a leaked one
            // never is, and the test fails at the deadline).
            try await awaitState("every SSL object of the 220 connections is freed") { await SSLObjectWatch.waitUntilNoneAlive() }
            let growth = residentBytes() - baseline
            #expect(growth < 24 * 1024 * 1024, "RSS grew by \(growth) bytes over 200 TLS connections")
        }
    }
}

/// Resident memory of this process (from /proc/self/statm).
func residentBytes() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
    let fields = text.split(separator: " ")
    guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
    return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
}
