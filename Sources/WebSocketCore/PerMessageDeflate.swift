/// The permessage-deflate extension (RFC 7692): its settings, its negotiated parameters, and the
/// negotiation itself for both roles (§5, §7.1). Pure functions over header values; the zlib
/// streams are in `DeflateCodec` and the framing rules (RSV1, the `00 00 ff ff` tail) in
/// ``ConnectionCore``.
public enum PerMessageDeflate {
    /// The extension token in `Sec-WebSocket-Extensions` (§7).
    public static let name = "permessage-deflate"

    /// What one side wants from the extension: for a client, what it offers; for a server, what it
    /// accepts. Window sizes are 8–15 bits (§7.1.2).
    public struct Options: Sendable, Hashable {
        /// The largest LZ77 window the client compresses with. A client offers
        /// `client_max_window_bits` (with this value when below 15, so the server may lower it);
        /// a server answers with at most this value, and declines offers that do not allow it to
        /// limit the client when it is below 15. Default 15.
        public var clientMaxWindowBits: Int
        /// The largest LZ77 window the server compresses with. A client asks for
        /// `server_max_window_bits` when below 15; a server never uses more. Default 15.
        public var serverMaxWindowBits: Int
        /// The client resets its compression context after every message (§7.1.1.2). Default off.
        public var clientNoContextTakeover: Bool
        /// The server resets its compression context after every message (§7.1.1.1). Default off.
        public var serverNoContextTakeover: Bool
        /// zlib's `memLevel` (1–9) for compressing: memory against speed and ratio. Default 8.
        public var memoryLevel: Int
        /// zlib's compression level (1–9). Default 6.
        public var compressionLevel: Int
        /// Whole messages shorter than this many bytes are sent uncompressed (RSV1 clear), since
        /// deflate rarely shrinks them and costs CPU. Default 128.
        public var minimumMessageSize: Int

        /// Options with the defaults given on each property (15-bit windows both ways, context takeover,
        /// zlib `memLevel` 8 and level 6, messages under 128 bytes uncompressed). Nothing is validated here:
        /// ``problem`` says what is out of range, and the socket refuses such options with `.invalidArgument`.
        public init(
            clientMaxWindowBits: Int = 15, serverMaxWindowBits: Int = 15,
            clientNoContextTakeover: Bool = false, serverNoContextTakeover: Bool = false,
            memoryLevel: Int = 8, compressionLevel: Int = 6, minimumMessageSize: Int = 128
        ) {
            self.clientMaxWindowBits = clientMaxWindowBits
            self.serverMaxWindowBits = serverMaxWindowBits
            self.clientNoContextTakeover = clientNoContextTakeover
            self.serverNoContextTakeover = serverNoContextTakeover
            self.memoryLevel = memoryLevel
            self.compressionLevel = compressionLevel
            self.minimumMessageSize = minimumMessageSize
        }

        /// Why these options cannot work, or `nil`.
        public var problem: String? {
            if !(8...15).contains(clientMaxWindowBits) { return "clientMaxWindowBits must be 8...15" }
            if !(8...15).contains(serverMaxWindowBits) { return "serverMaxWindowBits must be 8...15" }
            if !(1...9).contains(memoryLevel) { return "memoryLevel must be 1...9" }
            if !(1...9).contains(compressionLevel) { return "compressionLevel must be 1...9" }
            if minimumMessageSize < 0 { return "minimumMessageSize must not be negative" }
            return nil
        }
    }

    /// What a negotiation agreed on (§7.1): the same for both ends of one connection.
    public struct Parameters: Sendable, Hashable, CustomStringConvertible {
        /// The server resets its compression context after every message (`server_no_context_takeover`, §7.1.1.1).
        public var serverNoContextTakeover = false
        /// The client resets its compression context after every message (`client_no_context_takeover`, §7.1.1.2).
        public var clientNoContextTakeover = false
        /// The largest window the server compresses with (the client inflates with it).
        public var serverMaxWindowBits = 15
        /// The largest window the client compresses with (the server inflates with it).
        public var clientMaxWindowBits = 15

        /// Agreed parameters; the defaults are what an offer without parameters agrees on (§7.1).
        public init(
            serverNoContextTakeover: Bool = false, clientNoContextTakeover: Bool = false,
            serverMaxWindowBits: Int = 15, clientMaxWindowBits: Int = 15
        ) {
            self.serverNoContextTakeover = serverNoContextTakeover
            self.clientNoContextTakeover = clientNoContextTakeover
            self.serverMaxWindowBits = serverMaxWindowBits
            self.clientMaxWindowBits = clientMaxWindowBits
        }

        /// For example `permessage-deflate; server_max_window_bits=12; client_max_window_bits=12`.
        public var description: String {
            var text = PerMessageDeflate.name
            if serverNoContextTakeover { text += "; server_no_context_takeover" }
            if clientNoContextTakeover { text += "; client_no_context_takeover" }
            text += "; server_max_window_bits=\(serverMaxWindowBits); client_max_window_bits=\(clientMaxWindowBits)"
            return text
        }
    }

    /// A negotiation that cannot succeed: the client fails the connection with it (§7: "the client
    /// MUST _Fail the WebSocket Connection_"); a server declines the offer instead.
    public struct NegotiationError: Error, Sendable, Hashable, CustomStringConvertible {
        /// What is wrong with the negotiation, for the error's message.
        public var message: String
        /// An error with this explanation.
        public init(_ message: String) { self.message = message }
        /// The explanation, ``message``.
        public var description: String { message }
    }

    /// One element of a `Sec-WebSocket-Extensions` list (RFC 6455 §9.1): a token and its
    /// parameters in order (values unquoted; `nil` for a parameter without a value).
    public struct ExtensionElement: Sendable, Hashable {
        /// One `name[=value]` parameter of an extension element.
        public struct Parameter: Sendable, Hashable {
            /// The parameter's name, a token (for example `client_max_window_bits`).
            public var name: String
            /// Its value with any quotes removed, or `nil` when it has none.
            public var value: String?
        }
        /// The extension's token, for example `permessage-deflate`.
        public var name: String
        /// The element's parameters in the order they were given.
        public var parameters: [Parameter]
    }

    // MARK: - Header syntax (RFC 6455 §9.1)

    /// Parses a `Sec-WebSocket-Extensions` value (several fields joined with commas):
    /// `1#(token *(";" token ["=" (token / quoted-string)]))`.
    public static func parseExtensions(_ header: String) throws(NegotiationError) -> [ExtensionElement] {
        let bytes = Array(header.utf8)
        var index = 0
        func skipSpace() {
            while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x09 { index += 1 }
        }
        func token() throws(NegotiationError) -> String {
            let start = index
            while index < bytes.count, HTTPSyntax.isTokenByte(bytes[index]) { index += 1 }
            guard index > start else { throw NegotiationError("malformed Sec-WebSocket-Extensions \"\(header)\"") }
            return String(decoding: bytes[start..<index], as: UTF8.self)
        }
        var elements: [ExtensionElement] = []
        while true {
            skipSpace()
            if index < bytes.count, bytes[index] == UInt8(ascii: ",") {
                index += 1
                continue
            }  // empty list items (RFC 9110 §5.6.1)
            guard index < bytes.count else { break }
            var element = ExtensionElement(name: try token(), parameters: [])
            skipSpace()
            while index < bytes.count, bytes[index] == UInt8(ascii: ";") {
                index += 1
                skipSpace()
                let name = try token()
                skipSpace()
                var value: String? = nil
                if index < bytes.count, bytes[index] == UInt8(ascii: "=") {
                    index += 1
                    skipSpace()
                    if index < bytes.count, bytes[index] == UInt8(ascii: "\"") {
                        index += 1
                        var unquoted: [UInt8] = []
                        var closed = false
                        while index < bytes.count {
                            let byte = bytes[index]
                            index += 1
                            if byte == UInt8(ascii: "\"") {
                                closed = true
                                break
                            }
                            if byte == UInt8(ascii: "\\"), index < bytes.count {
                                unquoted.append(bytes[index])
                                index += 1
                                continue
                            }
                            unquoted.append(byte)
                        }
                        guard closed else { throw NegotiationError("unterminated quoted string in Sec-WebSocket-Extensions") }
                        // §9.1: a quoted value must still be a token once unquoted.
                        let text = String(decoding: unquoted, as: UTF8.self)
                        guard HTTPSyntax.isToken(text) else {
                            throw NegotiationError("quoted extension parameter value \"\(text)\" is not a token")
                        }
                        value = text
                    } else {
                        value = try token()
                    }
                    skipSpace()
                }
                element.parameters.append(.init(name: name, value: value))
            }
            elements.append(element)
            skipSpace()
            guard index == bytes.count || bytes[index] == UInt8(ascii: ",") else {
                throw NegotiationError("malformed Sec-WebSocket-Extensions \"\(header)\"")
            }
        }
        return elements
    }

    /// The parameters of one permessage-deflate element, checked for unknown, duplicated and
    /// invalid parameters (§7: such an offer is declined, such a response fails the connection).
    struct Request {
        var serverNoContextTakeover = false
        var clientNoContextTakeover = false
        /// `nil`: absent.
        var serverMaxWindowBits: Int?
        /// `nil`: absent; `.some(nil)`: present without a value.
        var clientMaxWindowBits: Int??

        init(_ element: ExtensionElement, isResponse: Bool) throws(NegotiationError) {
            var seen: Set<String> = []
            for parameter in element.parameters {
                let name = parameter.name.lowercased()
                guard seen.insert(name).inserted else {
                    throw NegotiationError("duplicated parameter \(name) in permessage-deflate")
                }
                switch name {
                case "server_no_context_takeover", "client_no_context_takeover":
                    guard parameter.value == nil else {
                        throw NegotiationError("\(name) takes no value (RFC 7692 §7.1.1)")
                    }
                    if name == "server_no_context_takeover" {
                        serverNoContextTakeover = true
                    } else {
                        clientNoContextTakeover = true
                    }
                case "server_max_window_bits":
                    guard let value = parameter.value, let bits = Self.windowBits(value) else {
                        throw NegotiationError(
                            "server_max_window_bits needs a value 8...15 (RFC 7692 §7.1.2.1), got \(parameter.value ?? "none")")
                    }
                    serverMaxWindowBits = bits
                case "client_max_window_bits":
                    if let value = parameter.value {
                        guard let bits = Self.windowBits(value) else {
                            throw NegotiationError("client_max_window_bits must be 8...15 (RFC 7692 §7.1.2.2), got \(value)")
                        }
                        clientMaxWindowBits = .some(bits)
                    } else {
                        guard !isResponse else {
                            throw NegotiationError("client_max_window_bits without a value in a response (RFC 7692 §7.1.2.2)")
                        }
                        clientMaxWindowBits = .some(nil)
                    }
                default:
                    throw NegotiationError("unknown permessage-deflate parameter \(parameter.name)")
                }
            }
        }

        /// §7.1.2.1: `1*DIGIT` from 8 to 15, no leading zeros.
        static func windowBits(_ value: String) -> Int? {
            guard let bits = Int(value), (8...15).contains(bits), String(bits) == value else { return nil }
            return bits
        }
    }

    // MARK: - Client role

    /// The client's offer for `options` (one element), e.g. `permessage-deflate; client_max_window_bits`.
    public static func clientOffer(_ options: Options) -> String {
        var offer = name
        if options.serverNoContextTakeover { offer += "; server_no_context_takeover" }
        if options.clientNoContextTakeover { offer += "; client_no_context_takeover" }
        if options.serverMaxWindowBits < 15 { offer += "; server_max_window_bits=\(options.serverMaxWindowBits)" }
        // Always announce that the server may limit our window (§7.1.2.2); a value is a hint.
        offer +=
            options.clientMaxWindowBits < 15
            ? "; client_max_window_bits=\(options.clientMaxWindowBits)" : "; client_max_window_bits"
        return offer
    }

    /// Checks the server's `Sec-WebSocket-Extensions` against the offer made from `options`
    /// (§7.1) and returns the agreed parameters, or `nil` when the server declined (no header).
    ///
    /// - Throws: when the response names another extension, several, or parameters the offer did
    ///   not allow: the client must then fail the connection (RFC 7692 §7, RFC 6455 §4.1 item 5).
    public static func clientAccept(response: String?, offered options: Options) throws(NegotiationError) -> Parameters? {
        guard let response else { return nil }
        let elements = try parseExtensions(response)
        guard !elements.isEmpty else { return nil }
        guard elements.count == 1 else {
            throw NegotiationError(
                "the server accepted \(elements.count) extensions, but only one permessage-deflate was offered: \(response)")
        }
        let element = elements[0]
        guard HTTPSyntax.equalsIgnoringASCIICase(element.name, name) else {
            throw NegotiationError("the server accepted the extension \(element.name), which was not offered")
        }
        let request = try Request(element, isResponse: true)
        var result = Parameters()
        // §7.1.1.1: a server accepting an offer with server_no_context_takeover includes it; it may
        // also include it unasked.
        if options.serverNoContextTakeover && !request.serverNoContextTakeover {
            throw NegotiationError("the server ignored the requested server_no_context_takeover")
        }
        result.serverNoContextTakeover = request.serverNoContextTakeover
        result.clientNoContextTakeover = request.clientNoContextTakeover || options.clientNoContextTakeover
        // §7.1.2.1: an offered server_max_window_bits must be answered with a value no larger.
        if options.serverMaxWindowBits < 15 {
            guard let bits = request.serverMaxWindowBits else {
                throw NegotiationError("the server ignored the requested server_max_window_bits=\(options.serverMaxWindowBits)")
            }
            guard bits <= options.serverMaxWindowBits else {
                throw NegotiationError(
                    "the server chose server_max_window_bits=\(bits), above the requested \(options.serverMaxWindowBits)")
            }
        }
        result.serverMaxWindowBits = request.serverMaxWindowBits ?? 15
        // §7.1.2.2: the server may lower our window, never raise it above what we offered.
        if case .some(.some(let bits)) = request.clientMaxWindowBits {
            guard bits <= options.clientMaxWindowBits else {
                throw NegotiationError(
                    "the server chose client_max_window_bits=\(bits), above the offered \(options.clientMaxWindowBits)")
            }
            result.clientMaxWindowBits = bits
        } else {
            result.clientMaxWindowBits = options.clientMaxWindowBits
        }
        return result
    }

    // MARK: - Server role

    /// Picks the first acceptable permessage-deflate offer in the client's `Sec-WebSocket-Extensions`
    /// (§5.1: offers are in order of preference) and returns the response value and the agreed
    /// parameters, or `nil` to decline (no offer, or none acceptable: unknown, duplicated or invalid
    /// parameters, §7). Other extensions are ignored; a malformed header declines everything.
    public static func serverAccept(offers header: String?, options: Options) -> (response: String, parameters: Parameters)? {
        guard let header, let elements = try? parseExtensions(header) else { return nil }
        for element in elements where HTTPSyntax.equalsIgnoringASCIICase(element.name, name) {
            guard let offer = try? Request(element, isResponse: false) else { continue }
            var parameters = Parameters()
            var response = name
            // §7.1.1.1: a server supporting it accepts server_no_context_takeover; it may also use it unasked.
            parameters.serverNoContextTakeover = offer.serverNoContextTakeover || options.serverNoContextTakeover
            if parameters.serverNoContextTakeover { response += "; server_no_context_takeover" }
            // §7.1.1.2: the server may ask the client for no context takeover.
            parameters.clientNoContextTakeover = offer.clientNoContextTakeover || options.clientNoContextTakeover
            if parameters.clientNoContextTakeover { response += "; client_no_context_takeover" }
            // §7.1.2.1: answer a requested server_max_window_bits with a value no larger.
            if offer.serverMaxWindowBits != nil || options.serverMaxWindowBits < 15 {
                parameters.serverMaxWindowBits = min(offer.serverMaxWindowBits ?? 15, options.serverMaxWindowBits)
                response += "; server_max_window_bits=\(parameters.serverMaxWindowBits)"
            }
            // §7.1.2.2: client_max_window_bits may only be answered when offered.
            if case .some(let hint) = offer.clientMaxWindowBits {
                let bits = min(hint ?? 15, options.clientMaxWindowBits)
                parameters.clientMaxWindowBits = bits
                if bits < 15 { response += "; client_max_window_bits=\(bits)" }
            } else if options.clientMaxWindowBits < 15 {
                continue  // cannot limit this client's window: decline, like Python websockets
            }
            return (response, parameters)
        }
        return nil
    }
}

extension PerMessageDeflate {
    /// Payload bytes of compressed messages (frame headers excluded), before and after compression.
    /// Messages sent or received uncompressed are not counted.
    public struct Statistics: Sendable, Hashable {
        /// What compressed messages sent amounted to before compression.
        public var uncompressedBytesSent = 0
        /// What they took on the wire.
        public var compressedBytesSent = 0
        /// Compressed payload bytes received.
        public var compressedBytesReceived = 0
        /// What they inflated to.
        public var uncompressedBytesReceived = 0

        /// All counters at 0.
        public init() {}
    }
}
