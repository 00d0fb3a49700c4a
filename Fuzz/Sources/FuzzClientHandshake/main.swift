// Fuzz target: the client's side of the opening handshake, fed the server's response:
// HTTPHeadParser<HTTPResponseHead>, ClientHandshake.validate, then (when permessage-deflate was
// offered) PerMessageDeflate.clientAccept, as ClientOpening does.
//
// Input: 3 parameter bytes, then the response bytes.
//   0: bits 0-1 the subprotocols offered (see `offers`), bit 2 permessage-deflate offered,
//      bits 3-5 maxHeadSize (see `headLimits`)
//   1: the deflate options offered (see `FuzzSupport.deflateOptions(_:)`)
//   2: seed of the split points
// The key is RFC 6455's sample nonce, so `Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=` is
// the right answer. Invariants:
// - parsing in one chunk and in random chunks gives the same head, remaining bytes or error; a
//   failed parser keeps throwing the same error; the head never exceeds maxHeadSize; the remaining
//   bytes are exactly the input's tail;
// - header names are tokens, values have no CR, LF, NUL or surrounding whitespace; the status is
//   three digits, the reason printable;
// - an accepted response is a 101 of HTTP/1.1 or later with exactly one Upgrade: websocket, a
//   Connection with the upgrade token, exactly one correct Sec-WebSocket-Accept, at most one
//   subprotocol which we offered, and extensions only if we offered one;
// - the agreed deflate parameters respect the offer (FuzzSupport.checkAgreement).

import FuzzSupport
import WebSocketCore

let offers: [[String]] = [[], ["chat"], ["chat", "superchat"], ["v2.example", "v1.example", "x"]]
let headLimits = [HTTPHeadParser<HTTPResponseHead>.defaultMaxHeadSize, 1, 16, 64, 128, 256, 1024, 4096]
/// RFC 6455 §1.3's sample nonce, "dGhlIHNhbXBsZSBub25jZQ==".
let sampleNonce = Array("the sample nonce".utf8)
let exampleURL = try! WebSocketURL(parsing: "ws://example.com/chat")

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzClientHandshake(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let config = input.byte()
    let options = deflateOptions(input.byte())
    var rng = SplitMix64(seed: UInt64(input.byte()))
    let response = input.rest
    let offersDeflate = config & 0x04 != 0
    let maxHeadSize = headLimits[Int(config >> 3) & 7]
    let handshake = ClientHandshake(
        url: exampleURL, protocols: offers[Int(config & 3)],
        extensionOffer: offersDeflate ? PerMessageDeflate.clientOffer(options) : nil, key: sampleNonce)
    require(handshake.expectedAccept == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "accept value \(handshake.expectedAccept)")

    let outcome = parseHead(response.isEmpty ? [] : [response[...]], maxHeadSize: maxHeadSize, as: HTTPResponseHead.self)
    let chunked = parseHead(chunks(of: response[...], using: &rng), maxHeadSize: maxHeadSize, as: HTTPResponseHead.self)
    require(outcome == chunked, "one chunk gives \(outcome), random chunks \(chunked)")
    guard case .complete(let head, let remaining) = outcome else { return 0 }
    require(response.suffix(remaining.count).elementsEqual(remaining), "remaining bytes are not the input's tail")
    checkFields(head.headers)
    require((100...999).contains(head.status), "status \(head.status)")
    require(head.reason.utf8.allSatisfy { $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }, "reason \(head.reason.debugDescription)")

    let result: HandshakeResult
    do {
        result = try handshake.validate(head)
    } catch {
        if case .unexpectedStatus(let got) = error {
            require(got.status != 101 && got == head, "unexpectedStatus(\(got.status))")
        }
        require(!error.description.isEmpty, "empty error description")
        return 0
    }
    require(head.status == 101 && head.version >= .http11, "accepted \(head.version) \(head.status)")
    require(
        head.headers.all("Sec-WebSocket-Accept") == [handshake.expectedAccept],
        "accepted Sec-WebSocket-Accept \(head.headers.all("Sec-WebSocket-Accept"))")
    require(
        head.headers.values("Upgrade").count == 1 && head.headers.containsToken("Upgrade", token: "websocket"),
        "accepted Upgrade \(head.headers.all("Upgrade"))")
    require(head.headers.containsToken("Connection", token: "Upgrade"), "accepted Connection \(head.headers.all("Connection"))")
    if let subprotocol = result.subprotocol {
        require(handshake.protocols.contains(subprotocol), "accepted subprotocol \(subprotocol), offered \(handshake.protocols)")
    }
    require(result.extensions == nil || offersDeflate, "accepted extensions \(result.extensions ?? "") though none offered")
    if offersDeflate {
        do throws(PerMessageDeflate.NegotiationError) {
            if let agreed = try PerMessageDeflate.clientAccept(response: result.extensions, offered: options) {
                checkAgreement(agreed, clientOffered: options)
            } else {
                require(
                    result.extensions.map { (try? PerMessageDeflate.parseExtensions($0))?.isEmpty == true } ?? true,
                    "\(result.extensions ?? "") declined")
            }
        } catch {
            require(result.extensions != nil, "clientAccept threw \(error) without a header")
        }
    }
    return 0
}

runFuzzer(fuzzClientHandshake)
