// Fuzz target: the server's side of the opening handshake, fed the client's upgrade request:
// HTTPHeadParser<HTTPRequestHead>, ServerHandshake.validate, PerMessageDeflate.serverAccept, and
// the response the server writes (as WebSocketListener does).
//
// Input: 3 parameter bytes, then the request bytes.
//   0: bits 0-2 maxHeadSize (see `headLimits`), bits 3-4 the header-count cap (`fieldLimits`)
//   1: the server's deflate options (see `FuzzSupport.deflateOptions(_:)`)
//   2: seed of the split points
// Invariants:
// - parsing in one chunk and in random chunks gives the same head, remaining bytes or error; the
//   head never exceeds maxHeadSize nor the header-count cap; header names are tokens, values clean; the method is a token
//   and the target printable ASCII;
// - a refused request (parse or validation error) gets a well-formed HTTP response whose status
//   matches the error (431 for too large or too many fields, 405, 426 with Sec-WebSocket-Version: 13, else 400), whose
//   Content-Length is its body, and which our client reports as an unexpected status;
// - an accepted request is a GET of HTTP/1.1 or later with exactly one non-empty Host, a path
//   starting with "/", no fragment anywhere in the target (RFC 6455 §3), one canonical base64 key
//   of 16 bytes, token subprotocols;
// - the negotiated permessage-deflate answer is one valid element within the server's options,
//   and the 101 response built for the request (first subprotocol, that answer) is accepted by a
//   ClientHandshake with the same key, subprotocols and offer.

import FuzzSupport
import WebSocketCore

/// A client for checking rejections: any will do, they all get an unexpected status.
let anyClient = ClientHandshake(url: try! WebSocketURL(parsing: "ws://example.com/"), key: Array(repeating: 1, count: 16))
let exampleURL = try! WebSocketURL(parsing: "ws://example.com/")
let headLimits = [HTTPHeadParser<HTTPRequestHead>.defaultMaxHeadSize, 1, 16, 64, 128, 256, 1024, 4096]
/// Header-count caps (the server's `maxRequestHeaderCount`), picked by bits 3-4 of the first byte.
let fieldLimits = [Int.max, 100, 1, 5]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzServerHandshake(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let limitsByte = input.byte()
    let maxHeadSize = headLimits[Int(limitsByte & 7)]
    let maxFieldCount = fieldLimits[Int((limitsByte >> 3) & 3)]
    let options = deflateOptions(input.byte())
    var rng = SplitMix64(seed: UInt64(input.byte()))
    let request = input.rest

    let outcome = parseHead(
        request.isEmpty ? [] : [request[...]], maxHeadSize: maxHeadSize, maxFieldCount: maxFieldCount,
        as: HTTPRequestHead.self)
    let chunked = parseHead(
        chunks(of: request[...], using: &rng), maxHeadSize: maxHeadSize, maxFieldCount: maxFieldCount,
        as: HTTPRequestHead.self)
    require(outcome == chunked, "one chunk gives \(outcome), random chunks \(chunked)")
    let head: HTTPRequestHead
    switch outcome {
    case .needMoreData:
        return 0
    case .failed(let error):
        checkRejection(of: HandshakeError(request: error))
        return 0
    case .complete(let parsed, let remaining):
        require(request.suffix(remaining.count).elementsEqual(remaining), "remaining bytes are not the input's tail")
        head = parsed
    }
    require(
        head.headers.fields.count <= maxFieldCount, "\(head.headers.fields.count) fields accepted with a cap of \(maxFieldCount)")
    checkFields(head.headers)
    require(HTTPSyntax.isToken(head.method), "method \(head.method.debugDescription)")
    require(
        !head.target.isEmpty && head.target.utf8.allSatisfy { $0 > 0x20 && $0 != 0x7F }, "target \(head.target.debugDescription)")

    let upgrade: UpgradeRequest
    do {
        upgrade = try ServerHandshake.validate(request: head)
    } catch {
        checkRejection(of: error)
        return 0
    }
    require(head.method == "GET" && head.version >= .http11, "accepted \(head.method) \(head.version)")
    require(
        upgrade.path.hasPrefix("/") && !head.target.contains("#"),
        "accepted target \(head.target.debugDescription) as path \(upgrade.path.debugDescription) query \(String(describing: upgrade.query))"
    )
    require(head.headers.all("Host") == [upgrade.host] && !upgrade.host.isEmpty, "accepted Host \(head.headers.all("Host"))")
    guard let key = Base64.decode(upgrade.key), key.count == 16 else {
        fail("accepted key \(upgrade.key.debugDescription)")
    }
    require(Base64.encode(key) == upgrade.key, "accepted a non-canonical key \(upgrade.key.debugDescription)")
    require(upgrade.protocols.allSatisfy(Handshake.isValidSubprotocol), "accepted subprotocols \(upgrade.protocols)")

    // The server's answer to the extension offer.
    let negotiated = PerMessageDeflate.serverAccept(offers: upgrade.extensions, options: options)
    if let negotiated {
        checkAgreement(negotiated.parameters, serverOptions: options)
        require(Handshake.isValidHeaderValue(negotiated.response), "response \(negotiated.response.debugDescription)")
        let elements = try? PerMessageDeflate.parseExtensions(negotiated.response)
        require(elements?.count == 1 && elements?.first?.name == PerMessageDeflate.name, "response \(negotiated.response)")
    }

    // The 101 we would send satisfies a client that sent this request.
    var offered: [String] = []
    for name in upgrade.protocols where !offered.contains(name) { offered.append(name) }
    let response = ServerHandshake.responseBytes(for: upgrade, subprotocol: offered.first, extensions: negotiated?.response)
    guard case .complete(let responseHead, let rest) = parseHead([response[...]], maxHeadSize: 1 << 20, as: HTTPResponseHead.self)
    else {
        fail("our 101 response does not parse")
    }
    require(rest.isEmpty, "bytes after our 101 response")
    let client = ClientHandshake(
        url: exampleURL, protocols: offered,
        extensionOffer: upgrade.extensions, key: key)
    do {
        let result = try client.validate(responseHead)
        require(result.subprotocol == offered.first, "client sees subprotocol \(String(describing: result.subprotocol))")
        require(result.extensions == negotiated?.response, "client sees extensions \(String(describing: result.extensions))")
    } catch {
        fail("our client refuses our 101 response: \(error)")
    }
    return 0
}

/// The HTTP answer to a refused request is well formed and says why in its status.
func checkRejection(of error: HandshakeError) {
    let bytes = ServerHandshake.rejectionBytes(for: error)
    guard case .complete(let head, let body) = parseHead([bytes[...]], maxHeadSize: 1 << 20, as: HTTPResponseHead.self) else {
        fail("the rejection for \(error) does not parse")
    }
    let expected: Int
    switch error {
    case .requestTooLarge, .tooManyRequestHeaderFields: expected = 431
    case .invalidMethod: expected = 405
    case .unsupportedWebSocketVersion:
        expected = 426
        require(head.headers.all("Sec-WebSocket-Version") == ["13"], "426 without Sec-WebSocket-Version: 13")
    default: expected = 400
    }
    require(head.status == expected, "status \(head.status) for \(error)")
    require(
        head.headers.all("Content-Length") == [String(body.count)],
        "Content-Length \(head.headers.all("Content-Length")) for \(body.count) bytes")
    checkFields(head.headers)
    do {
        _ = try anyClient.validate(head)
        fail("a client accepts the rejection \(head.status)")
    } catch {
        guard case .unexpectedStatus = error else { fail("a client reads the rejection as \(error)") }
    }
}

runFuzzer(fuzzServerHandshake)
