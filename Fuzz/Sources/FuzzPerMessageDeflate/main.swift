// Fuzz target: Sec-WebSocket-Extensions parsing and permessage-deflate negotiation, both roles
// (PerMessageDeflate.parseExtensions, serverAccept, clientAccept, clientOffer).
//
// Input: 3 parameter bytes, then a header value (bytes decoded as UTF-8).
//   0: mode (low 2 bits, see below); 0x04: in modes 2 and 3, the value's own offers go first
//   1: client options, 2: server options (see `FuzzSupport.deflateOptions(_:)`)
// Every mode: parseExtensions yields token names, parameter names and values, and what it parses
// re-serializes to a header that parses to the same elements.
// - mode 0, server: serverAccept(offers: value) declines a malformed header; an accepted offer is
//   answered with one permessage-deflate element and parameters within the server's options;
// - mode 1, client: clientAccept(response: value) returns parameters that respect the offer, and
//   accepting those parameters' own description gives them back;
// - modes 2 and 3, both roles: the server always accepts our own clientOffer (after an unrelated
//   extension in mode 3, after the value's offers with 0x04), within its options; when our offer
//   was the one chosen, the client accepts the answer with the very same parameters, which respect
//   the offer; then two ConnectionCores configured with the server's parameters exchange compressed
//   messages made from the value both ways intact (context takeover and 8-bit windows included).

import FuzzSupport
import WebSocketCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPerMessageDeflate(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let mode = input.byte()
    let clientOptions = deflateOptions(input.byte())
    let serverOptions = deflateOptions(input.byte())
    let value = String(decoding: input.rest, as: UTF8.self)

    let elements = try? PerMessageDeflate.parseExtensions(value)
    if let elements { checkElements(elements) }

    switch mode & 3 {
    case 0:
        guard let (response, agreed) = PerMessageDeflate.serverAccept(offers: value, options: serverOptions) else { return 0 }
        require(elements != nil, "serverAccept accepted a malformed header \(value.debugDescription)")
        checkAgreement(agreed, serverOptions: serverOptions)
        let answer = try? PerMessageDeflate.parseExtensions(response)
        require(answer?.count == 1 && answer?.first?.name == PerMessageDeflate.name, "response \(response)")
    case 1:
        let agreed: PerMessageDeflate.Parameters?
        do {
            agreed = try PerMessageDeflate.clientAccept(response: value, offered: clientOptions)
        } catch {
            return 0
        }
        guard let agreed else {
            require(elements?.isEmpty == true, "clientAccept declined \(value.debugDescription)")
            return 0
        }
        require(elements?.count == 1, "clientAccept accepted \(value.debugDescription)")
        checkAgreement(agreed, clientOffered: clientOptions)
        let again = try? PerMessageDeflate.clientAccept(response: agreed.description, offered: clientOptions)
        require(again == agreed, "\(agreed.description) accepted as \(String(describing: again))")
    default:
        let offer = PerMessageDeflate.clientOffer(clientOptions)
        var header = offer
        if mode & 3 == 3 { header = "x-webkit-deflate-frame; no_context_takeover, " + offer }
        if mode & 4 != 0, let elements, !elements.isEmpty { header = value + ", " + header }
        guard let (response, agreed) = PerMessageDeflate.serverAccept(offers: header, options: serverOptions),
            let own = PerMessageDeflate.serverAccept(offers: offer, options: serverOptions)
        else {
            fail("the server declines \(header.debugDescription)")
        }
        checkAgreement(agreed, serverOptions: serverOptions)
        // Unless one of the value's offers was chosen instead, the answer is the one to our offer.
        require(
            header.hasPrefix(value + ", ") || (response == own.response && agreed == own.parameters),
            "the server answers \(response) to \(header.debugDescription), \(own.response) to our offer alone")
        if response == own.response {
            checkAgreement(agreed, clientOffered: clientOptions)
            do {
                let accepted = try PerMessageDeflate.clientAccept(response: response, offered: clientOptions)
                require(accepted == agreed, "the client agrees on \(String(describing: accepted)), the server on \(agreed)")
            } catch {
                fail("the client refuses \(response) to \(offer): \(error)")
            }
        }
        exchange(Array(value.utf8), agreed: agreed)
    }
    return 0
}

func checkElements(_ elements: [PerMessageDeflate.ExtensionElement]) {
    for element in elements {
        require(HTTPSyntax.isToken(element.name), "extension name \(element.name.debugDescription)")
        for parameter in element.parameters {
            require(HTTPSyntax.isToken(parameter.name), "parameter name \(parameter.name.debugDescription)")
            require(parameter.value.map(HTTPSyntax.isToken) ?? true, "parameter value \(parameter.value!.debugDescription)")
        }
    }
    var items: [String] = []
    for element in elements {
        var item = element.name
        for parameter in element.parameters {
            item += "; " + parameter.name
            if let value = parameter.value { item += "=" + value }
        }
        items.append(item)
    }
    let text = items.joined(separator: ", ")
    let again = try? PerMessageDeflate.parseExtensions(text)
    require(again == elements, "\(text.debugDescription) parses to \(String(describing: again))")
}

/// Messages made from `bytes` go both ways through cores configured with `agreed`.
func exchange(_ bytes: [UInt8], agreed: PerMessageDeflate.Parameters) {
    var configuration = ConnectionCore.Configuration()
    configuration.deflate = agreed
    configuration.maxMessageSize = .max
    configuration.deflateOptions = .init(memoryLevel: 1 + bytes.count % 9, minimumMessageSize: 0)
    var client = ConnectionCore(role: .client, configuration: configuration, randomNumberGenerator: SplitMix64(seed: 7))
    var server = ConnectionCore(role: .server, configuration: configuration)
    let messages = [bytes, Array(bytes[..<(bytes.count / 2)]), bytes, []]
    for message in messages {
        for clientSends in [true, false] {
            var events: [ConnectionCore.Event] = []
            message.withUnsafeBytes { buffer in
                do {
                    if clientSends {
                        try client.send(binary: buffer)
                        for frame in client.takeOutput() { server.receive(frame) }
                        while let event = server.nextEvent() { events.append(event) }
                    } else {
                        try server.send(binary: buffer)
                        for frame in server.takeOutput() { client.receive(frame) }
                        while let event = client.nextEvent() { events.append(event) }
                    }
                } catch {
                    fail("send failed: \(error)")
                }
            }
            require(
                sameEvents(events, [.message(.binary(message))]),
                "\(message.count) bytes sent with \(agreed) arrive as \(events.map { "\($0)".prefix(80) })")
        }
    }
}

runFuzzer(fuzzPerMessageDeflate)
