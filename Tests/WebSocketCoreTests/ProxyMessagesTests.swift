import Testing

@testable import WebSocketCore

@Suite("SOCKS5 messages (RFC 1928, RFC 1929) and the HTTP CONNECT request (RFC 9110 §9.3.6)")
struct ProxyMessagesTests {
    @Test("RFC 1928 §3: the greeting offers no-authentication, and username/password only with a credential")
    func greeting() {
        #expect(SOCKS5Messages.greeting(offeringPassword: false) == [5, 1, 0])
        #expect(SOCKS5Messages.greeting(offeringPassword: true) == [5, 2, 0, 2])
    }

    @Test("RFC 1928 §3: the method choice is two bytes, version 5 first; anything else is a failure")
    func methodChoice() throws {
        #expect(try SOCKS5Messages.chosenMethod([5, 0]) == 0)
        #expect(try SOCKS5Messages.chosenMethod([5, 0xFF]) == 0xFF)
        #expect(throws: SOCKS5Messages.Failure.self) { try SOCKS5Messages.chosenMethod([4, 0]) }
        #expect(throws: SOCKS5Messages.Failure.self) { try SOCKS5Messages.chosenMethod(Array("HTTP/1.1 400".utf8.prefix(2))) }
    }

    @Test("RFC 1929 §2: version 1, length-prefixed user and password of 1...255 bytes; status 0 is success")
    func usernamePassword() throws {
        #expect(try SOCKS5Messages.passwordRequest(user: "al", password: "pw!") == [1, 2, 97, 108, 3, 112, 119, 33])
        #expect(throws: SOCKS5Messages.Failure.self) { try SOCKS5Messages.passwordRequest(user: "", password: "x") }
        #expect(throws: SOCKS5Messages.Failure.self) {
            try SOCKS5Messages.passwordRequest(user: "u", password: String(repeating: "p", count: 256))
        }
        #expect(try SOCKS5Messages.passwordAccepted([1, 0]))
        #expect(try !SOCKS5Messages.passwordAccepted([1, 1]))
        #expect(throws: SOCKS5Messages.Failure.self) { try SOCKS5Messages.passwordAccepted([5, 0]) }
    }

    @Test("RFC 1928 §4-5: CONNECT carries IPv4 (ATYP 1), a domain (ATYP 3) or IPv6 (ATYP 4), then the port big-endian")
    func connectRequest() throws {
        #expect(
            try SOCKS5Messages.connectRequest(to: .ipv4([127, 0, 0, 1]), port: 8080) == [5, 1, 0, 1, 127, 0, 0, 1, 0x1F, 0x90])
        #expect(
            try SOCKS5Messages.connectRequest(to: .domain("a.io"), port: 443) == [5, 1, 0, 3, 4, 97, 46, 105, 111, 1, 0xBB])
        let loopback6: [UInt8] = Array(repeating: 0, count: 15) + [1]
        #expect(try SOCKS5Messages.connectRequest(to: .ipv6(loopback6), port: 80) == [5, 1, 0, 4] + loopback6 + [0, 80])
        #expect(throws: SOCKS5Messages.Failure.self) {
            try SOCKS5Messages.connectRequest(to: .domain(String(repeating: "a", count: 256)), port: 80)
        }
        #expect(throws: SOCKS5Messages.Failure.self) { try SOCKS5Messages.connectRequest(to: .ipv4([1, 2, 3]), port: 80) }
        #expect(throws: SOCKS5Messages.Failure.self) { try SOCKS5Messages.connectRequest(to: .ipv4([1, 2, 3, 4]), port: 0) }
    }

    @Test("RFC 1928 §6: the reply head gives the code and how much bound address follows, per address type")
    func replyHead() throws {
        let head = try SOCKS5Messages.replyHead([5, 5, 0, 1])
        #expect(head.code == 5)
        #expect(try SOCKS5Messages.boundAddressLength(addressType: 1) == 6)
        #expect(try SOCKS5Messages.boundAddressLength(addressType: 4) == 18)
        #expect(try SOCKS5Messages.boundAddressLength(addressType: 3) == nil)
        #expect(throws: SOCKS5Messages.Failure.self) { try SOCKS5Messages.boundAddressLength(addressType: 2) }
        #expect(throws: SOCKS5Messages.Failure.self) { try SOCKS5Messages.replyHead([1, 0, 0, 1]) }
    }

    @Test("RFC 1928 §6: every reply code 1-8 has its own words; others are named unassigned")
    func replyCodes() {
        let words = (1...8).map { SOCKS5Messages.describe(reply: UInt8($0)) }
        #expect(Set(words).count == 8)
        #expect(SOCKS5Messages.describe(reply: 5) == "connection refused")
        #expect(SOCKS5Messages.describe(reply: 2) == "connection not allowed by ruleset")
        #expect(SOCKS5Messages.describe(reply: 9) == "unassigned reply code 9")
    }

    @Test("RFC 9110 §9.3.6: CONNECT names host:port (IPv6 bracketed) in the target and Host; Basic credential per RFC 7617")
    func httpConnect() {
        #expect(
            String(decoding: HTTPConnectRequest.bytes(host: "example.com", port: 443, basicCredential: nil), as: UTF8.self)
                == "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
        #expect(
            String(
                decoding: HTTPConnectRequest.bytes(host: "::1", port: 80, basicCredential: ("Aladdin", "open sesame")),
                as: UTF8.self)
                == "CONNECT [::1]:80 HTTP/1.1\r\nHost: [::1]:80\r\nProxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n\r\n"
        )
    }
}
