/// The bytes of a SOCKS5 client (RFC 1928) with username/password authentication (RFC 1929),
/// as pure values: the tunnel in `WebSockets` does the I/O, this type says what to write and how
/// to read what came back. Kept in the core so the wire format is unit-tested without sockets.
package enum SOCKS5Messages {
    /// The protocol version byte of every RFC 1928 message.
    package static let version: UInt8 = 5
    /// Method `0x00`: no authentication required.
    package static let methodNoAuthentication: UInt8 = 0x00
    /// Method `0x02`: username/password (RFC 1929).
    package static let methodUsernamePassword: UInt8 = 0x02
    /// Method `0xFF`: the server accepts none of the offered methods.
    package static let methodNoneAcceptable: UInt8 = 0xFF

    /// Where the proxy should connect: an address it resolves itself (`socks5h`) or one resolved
    /// here (`socks5`).
    package enum Target: Sendable, Hashable {
        /// ATYP 1: four bytes.
        case ipv4([UInt8])
        /// ATYP 4: sixteen bytes.
        case ipv6([UInt8])
        /// ATYP 3: a host name of 1 to 255 bytes, resolved by the proxy.
        case domain(String)
    }

    /// A message that cannot be encoded, or a reply that is not SOCKS5.
    package struct Failure: Error, Sendable, Hashable, CustomStringConvertible {
        package var description: String
        package init(_ description: String) { self.description = description }
    }

    /// The greeting: version, then the methods offered. Username/password is offered (after "none")
    /// only when there is a credential to answer it with.
    package static func greeting(offeringPassword: Bool) -> [UInt8] {
        offeringPassword
            ? [version, 2, methodNoAuthentication, methodUsernamePassword] : [version, 1, methodNoAuthentication]
    }

    /// The method the server chose, from its two-byte answer to the greeting.
    package static func chosenMethod(_ reply: [UInt8]) throws(Failure) -> UInt8 {
        guard reply.count == 2, reply[0] == version else {
            throw Failure("the proxy's answer to the SOCKS5 greeting is not SOCKS5 (\(hex(reply)))")
        }
        return reply[1]
    }

    /// RFC 1929 §2: version 1, then the user name and the password, each 1 to 255 bytes.
    package static func passwordRequest(user: String, password: String) throws(Failure) -> [UInt8] {
        let name = Array(user.utf8)
        let secret = Array(password.utf8)
        guard (1...255).contains(name.count), (1...255).contains(secret.count) else {
            throw Failure("a SOCKS5 user name and password must each be 1 to 255 bytes (RFC 1929)")
        }
        return [1, UInt8(name.count)] + name + [UInt8(secret.count)] + secret
    }

    /// Whether the RFC 1929 reply (two bytes: version 1, status) grants access (status 0).
    package static func passwordAccepted(_ reply: [UInt8]) throws(Failure) -> Bool {
        guard reply.count == 2, reply[0] == 1 else {
            throw Failure("the proxy's answer to the SOCKS5 password is not RFC 1929 (\(hex(reply)))")
        }
        return reply[1] == 0
    }

    /// The CONNECT request (command 1) for `target` and `port`.
    package static func connectRequest(to target: Target, port: Int) throws(Failure) -> [UInt8] {
        var bytes: [UInt8] = [version, 1, 0]
        switch target {
        case .ipv4(let address) where address.count == 4:
            bytes += [1] + address
        case .ipv6(let address) where address.count == 16:
            bytes += [4] + address
        case .domain(let name) where (1...255).contains(name.utf8.count):
            bytes += [3, UInt8(name.utf8.count)] + Array(name.utf8)
        case .domain:
            throw Failure("a host name sent to a SOCKS5 proxy must be 1 to 255 bytes")
        default:
            throw Failure("an IPv4 address has 4 bytes and an IPv6 address 16")
        }
        guard (1...65535).contains(port) else { throw Failure("port \(port) is out of range") }
        return bytes + [UInt8(port >> 8), UInt8(port & 0xFF)]
    }

    /// The first four bytes of the reply (version, reply code, reserved, address type).
    package struct ReplyHead: Sendable, Hashable {
        /// `0` is success; see ``SOCKS5Messages/describe(reply:)``.
        package var code: UInt8
        /// The address type of the bound address that follows.
        package var addressType: UInt8
    }

    /// Parses the reply's first four bytes.
    package static func replyHead(_ bytes: [UInt8]) throws(Failure) -> ReplyHead {
        guard bytes.count == 4, bytes[0] == version else {
            throw Failure("the proxy's reply to the SOCKS5 CONNECT is not SOCKS5 (\(hex(bytes)))")
        }
        return ReplyHead(code: bytes[1], addressType: bytes[3])
    }

    /// How many bytes of bound address and port follow the reply head, for the fixed-size address
    /// types (IPv4: 4 + 2, IPv6: 16 + 2); `nil` for a domain (ATYP 3), whose first byte is its length,
    /// after which `length + 2` bytes follow.
    package static func boundAddressLength(addressType: UInt8) throws(Failure) -> Int? {
        switch addressType {
        case 1: return 6
        case 4: return 18
        case 3: return nil
        default: throw Failure("the proxy's SOCKS5 reply has an unknown address type \(addressType)")
        }
    }

    /// RFC 1928 §6's reply codes, in words.
    package static func describe(reply code: UInt8) -> String {
        switch code {
        case 0: return "succeeded"
        case 1: return "general SOCKS server failure"
        case 2: return "connection not allowed by ruleset"
        case 3: return "network unreachable"
        case 4: return "host unreachable"
        case 5: return "connection refused"
        case 6: return "TTL expired"
        case 7: return "command not supported"
        case 8: return "address type not supported"
        default: return "unassigned reply code \(code)"
        }
    }

    private static func hex(_ bytes: [UInt8]) -> String {
        bytes.isEmpty ? "no bytes" : bytes.prefix(16).map { String($0, radix: 16) }.joined(separator: " ")
    }
}
