// Fuzz target: WebSocketURL(parsing:), the parser for user-supplied URLs.
//
// Input: the URL text (bytes decoded as UTF-8, invalid sequences replaced).
// Invariants for every URL it accepts:
// - the port is 1...65535, the host is non-empty and lowercase ASCII, the resource starts with
//   "/" and holds only printable ASCII without "#" (nothing for the request line to choke on);
// - the normal form (`description`) parses back to the same URL, credentials left out
//   (idempotent normalization; `user:password@` never reaches the description or the Host header);
// - the opening handshake built from it is a request that our own HTTP parser and server
//   validation accept, with the same path, query and Host.
// For every URL it refuses, the error names an offset inside the input.

import FuzzSupport
import WebSocketCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzWebSocketURL(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = FuzzInput(data, size)
    let text = String(decoding: input.bytes, as: UTF8.self)
    let url: WebSocketURL
    do {
        url = try WebSocketURL(parsing: text)
    } catch {
        if case .invalidCharacter(_, let offset) = error {
            require(offset >= 0 && offset < text.utf8.count, "invalidCharacter offset \(offset) outside the input")
        }
        require(!error.description.isEmpty, "empty error description")
        return 0
    }
    check(url, from: text)
    return 0
}

func check(_ url: WebSocketURL, from text: String) {
    require((1...65535).contains(url.port), "port \(url.port) from \(text.debugDescription)")
    let host = Array(url.host.utf8)
    require(!host.isEmpty, "empty host from \(text.debugDescription)")
    require(
        host.allSatisfy { $0 > 0x20 && $0 < 0x7F && !(0x41...0x5A).contains($0) },
        "host \(url.host.debugDescription) is not lowercase printable ASCII")
    let resource = Array(url.resource.utf8)
    require(resource.first == UInt8(ascii: "/"), "resource \(url.resource.debugDescription) does not start with /")
    require(
        resource.allSatisfy { $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "#") },
        "resource \(url.resource.debugDescription) has a byte that cannot go on the request line")
    require(
        Handshake.isValidHeaderValue(url.hostHeader) && !url.hostHeader.contains(" "),
        "Host header \(url.hostHeader.debugDescription)")

    // The normal form is a fixed point. It leaves out the credentials (`user:password@` is never
    // printed or sent as part of the URL), so it parses to the same URL without them.
    let normal = url.description
    guard let again = try? WebSocketURL(parsing: normal) else {
        fail("normal form \(normal.debugDescription) of \(text.debugDescription) does not parse")
    }
    require(again.user == nil && again.password == nil, "normal form \(normal.debugDescription) carries credentials")
    require(
        again.isSecure == url.isSecure && again.host == url.host && again.port == url.port && again.resource == url.resource,
        "normal form \(normal.debugDescription) parses to \(again), not \(url)")
    require(again.description == normal, "description not idempotent: \(normal) -> \(again.description)")
    if url.user != nil {
        require(!url.hostHeader.contains("@"), "Host header \(url.hostHeader.debugDescription) carries the credentials")
    }

    // The handshake request for it goes through our own server-side parsing and validation.
    let handshake = ClientHandshake(url: url, key: Array(repeating: 0x42, count: 16))
    let request = handshake.requestBytes()
    guard case .complete(let head, let remaining) = parseHead([request[...]], maxHeadSize: 1 << 20, as: HTTPRequestHead.self)
    else {
        fail("the request for \(url) does not parse")
    }
    require(remaining.isEmpty, "bytes left after the request head for \(url)")
    require(head.target == url.resource, "request target \(head.target) for resource \(url.resource)")
    let upgrade: UpgradeRequest
    do {
        upgrade = try ServerHandshake.validate(request: head)
    } catch {
        fail("the server refuses the request for \(url): \(error)")
    }
    let rebuilt = upgrade.path + (upgrade.query.map { "?" + $0 } ?? "")
    require(rebuilt == url.resource, "server sees \(rebuilt) for resource \(url.resource)")
    require(upgrade.host == url.hostHeader, "server sees Host \(upgrade.host) for \(url.hostHeader)")
}

runFuzzer(fuzzWebSocketURL)
