import Synchronization
import WebSocketCore

/// The client's opening sequence (RFC 6455 §4.1) over any transport: send the upgrade request,
/// read the response head (size-limited), validate it. Pure orchestration; the rules live in
/// ``ClientHandshake`` and ``HTTPHeadParser`` in the core.
enum ClientOpening {
    /// What a successful opening hands to the connection.
    struct Opened: Sendable {
        var transport: any Transport
        var result: HandshakeResult
        /// Bytes that followed the response head: the first bytes of the frame stream.
        var bufferedBytes: [UInt8]
        /// The agreed permessage-deflate parameters, `nil` when not negotiated.
        var deflate: PerMessageDeflate.Parameters?
        /// The URL the handshake succeeded at (after redirects), set by ``ClientConnector``.
        var url: WebSocketURL? = nil
    }

    /// Performs the handshake over `transport`. On failure the transport is closed.
    static func handshake(
        over transport: any Transport, url: WebSocketURL, protocols: [String],
        headers: [(String, String)], maxResponseSize: Int, compression: WebSocketCompression = .disabled
    ) async throws -> Opened {
        var generator = SystemRandomNumberGenerator()
        let handshake = ClientHandshake(
            url: url, protocols: protocols, extraHeaders: headers,
            extensionOffer: compression.options.map(PerMessageDeflate.clientOffer),
            key: ClientHandshake.makeKey(using: &generator))
        do {
            try await transport.write([handshake.requestBytes()], isolation: nil)
            var parser = HTTPHeadParser<HTTPResponseHead>(maxHeadSize: maxResponseSize)
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let count = try await transport.read(into: &buffer, isolation: nil)
                guard count > 0 else {
                    throw WebSocketError(
                        .handshakeFailed(httpStatus: 0),
                        "the server closed the connection before completing the opening handshake")
                }
                let progress: HTTPHeadParser<HTTPResponseHead>.Progress
                do {
                    progress = try parser.append(buffer[..<count])
                } catch {
                    throw WebSocketError(.handshakeFailed(httpStatus: 0), HandshakeError(response: error).description)
                }
                guard case .complete(let head, let remaining) = progress else { continue }
                let result: HandshakeResult
                do {
                    result = try handshake.validate(head)
                } catch {
                    throw failure(error, head: head, body: remaining)
                }
                var deflate: PerMessageDeflate.Parameters?
                if let options = compression.options {
                    do {
                        deflate = try PerMessageDeflate.clientAccept(response: result.extensions, offered: options)
                    } catch {
                        // RFC 7692 §7: a response that does not match the offer fails the connection.
                        throw WebSocketError(
                            .handshakeFailed(httpStatus: 101),
                            "the server's Sec-WebSocket-Extensions answer does not match the permessage-deflate offer: \(error.message)",
                            handshakeResponse: .init(
                                status: head.status, headers: head.headers.map { ($0.name, $0.value) },
                                bodyPrefix: []))
                    }
                }
                return Opened(transport: transport, result: result, bufferedBytes: remaining, deflate: deflate)
            }
        } catch {
            transport.close()
            throw error
        }
    }

    /// Turns a validation failure into the public error, keeping what the server said.
    static func failure(_ error: HandshakeError, head: HTTPResponseHead, body: [UInt8]) -> WebSocketError {
        let response = WebSocketError.HandshakeResponse(
            status: head.status, headers: head.headers.map { ($0.name, $0.value) }, bodyPrefix: Array(body.prefix(1024)))
        let message: String
        if case .unexpectedStatus = error {
            let bodyText = String(decoding: body.prefix(200), as: UTF8.self)
                .filter { !$0.isNewline }
            message =
                "the server answered \(head.status) \(head.reason) instead of 101 Switching Protocols"
                + (bodyText.isEmpty ? "" : ": \(bodyText)")
        } else {
            message = error.description
        }
        return WebSocketError(.handshakeFailed(httpStatus: head.status), message, handshakeResponse: response)
    }

    /// Runs `body` under a deadline; a transport it produced after the deadline is closed.
    static func withOpenTimeout(
        _ timeout: Duration, stage: OpeningStage? = nil, _ body: @escaping @Sendable () async throws -> Opened
    ) async throws -> Opened {
        try await withThrowingTaskGroup(of: Opened?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await releasingSleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            do {
                if let opened = try await group.next()! {
                    return opened
                }
            } catch {
                if Task.isCancelled {
                    throw WebSocketError(.operationCanceled, "connect was cancelled")
                }
                throw error
            }
            group.cancelAll()
            while let late = try? await group.next() {
                late?.transport.close()
            }
            let during = stage?.current.map { "; timed out during \($0)" } ?? ""
            throw WebSocketError(
                .timeout, "the connection and opening handshake did not complete within \(timeout) (openTimeout)\(during)")
        }
    }
}

/// Which step of opening is under way, for a timeout's message.
final class OpeningStage: Sendable {
    private let stage = Lock<String?>(nil)
    var current: String? { stage.withLock { $0 } }
    func set(_ description: String) { stage.withLock { $0 = description } }
}
