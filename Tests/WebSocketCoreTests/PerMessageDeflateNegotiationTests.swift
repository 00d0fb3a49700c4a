import Testing

@testable import WebSocketCore

/// permessage-deflate negotiation (RFC 7692 §5, §7.1) for both roles, as pure header functions.
@Suite("RFC 7692 negotiation")
struct PerMessageDeflateNegotiationTests {
    typealias PMD = PerMessageDeflate

    // MARK: RFC 6455 §9.1 header syntax

    @Test("§9.1: several offers in one header, parameters with and without (quoted) values")
    func parsesSeveralOffers() throws {
        let elements = try PMD.parseExtensions(
            "permessage-deflate; client_max_window_bits; server_max_window_bits=10 ,  permessage-deflate;client_max_window_bits=\"12\", x-foo"
        )
        #expect(elements.count == 3)
        #expect(
            elements[0].parameters == [
                .init(name: "client_max_window_bits", value: nil), .init(name: "server_max_window_bits", value: "10"),
            ])
        #expect(elements[1].parameters == [.init(name: "client_max_window_bits", value: "12")])
        #expect(elements[2] == .init(name: "x-foo", parameters: []))
    }

    @Test(
        "§9.1: malformed headers are rejected",
        arguments: [
            "permessage-deflate;", "permessage-deflate; =1", "permessage-deflate; a=\"1", "permessage-deflate x",
            "permessage-deflate; a=\"1 2\"", "; a", "permessage-deflate; a=",
        ])
    func rejectsMalformed(header: String) {
        #expect(throws: PMD.NegotiationError.self) { try PMD.parseExtensions(header) }
    }

    // MARK: §7.1 client offer

    @Test("§7.1.2.2: the default client offer announces client_max_window_bits without a value")
    func defaultOffer() {
        #expect(PMD.clientOffer(.init()) == "permessage-deflate; client_max_window_bits")
    }

    @Test("§7.1: the client offer carries every requested parameter")
    func fullOffer() {
        let options = PMD.Options(
            clientMaxWindowBits: 10, serverMaxWindowBits: 9,
            clientNoContextTakeover: true, serverNoContextTakeover: true)
        #expect(
            PMD.clientOffer(options)
                == "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=10"
        )
    }

    // MARK: §7.1 client validation of the response

    @Test(
        "§7.1: accepted responses give the agreed parameters",
        arguments: [
            ("permessage-deflate", PMD.Options(), PMD.Parameters()),
            ("PerMessage-Deflate", PMD.Options(), PMD.Parameters()),
            ("permessage-deflate; server_no_context_takeover", PMD.Options(), PMD.Parameters(serverNoContextTakeover: true)),
            ("permessage-deflate; client_no_context_takeover", PMD.Options(), PMD.Parameters(clientNoContextTakeover: true)),
            ("permessage-deflate", PMD.Options(clientNoContextTakeover: true), PMD.Parameters(clientNoContextTakeover: true)),
            (
                "permessage-deflate; server_no_context_takeover", PMD.Options(serverNoContextTakeover: true),
                PMD.Parameters(serverNoContextTakeover: true)
            ),
            ("permessage-deflate; server_max_window_bits=12", PMD.Options(), PMD.Parameters(serverMaxWindowBits: 12)),
            (
                "permessage-deflate; server_max_window_bits=8", PMD.Options(serverMaxWindowBits: 10),
                PMD.Parameters(serverMaxWindowBits: 8)
            ),
            (
                "permessage-deflate; server_max_window_bits=10", PMD.Options(serverMaxWindowBits: 10),
                PMD.Parameters(serverMaxWindowBits: 10)
            ),
            ("permessage-deflate; client_max_window_bits=9", PMD.Options(), PMD.Parameters(clientMaxWindowBits: 9)),
            ("permessage-deflate; client_max_window_bits=\"11\"", PMD.Options(), PMD.Parameters(clientMaxWindowBits: 11)),
            ("permessage-deflate", PMD.Options(clientMaxWindowBits: 11), PMD.Parameters(clientMaxWindowBits: 11)),
            (
                "permessage-deflate; client_max_window_bits=10", PMD.Options(clientMaxWindowBits: 11),
                PMD.Parameters(clientMaxWindowBits: 10)
            ),
        ])
    func clientAccepts(response: String, options: PMD.Options, expected: PMD.Parameters) throws {
        #expect(try PMD.clientAccept(response: response, offered: options) == expected)
    }

    @Test(
        "§7: a response that does not match the offer fails the connection",
        arguments: [
            ("x-webkit-deflate-frame", PMD.Options()),
            ("permessage-deflate, permessage-deflate", PMD.Options()),
            ("permessage-deflate, x-foo", PMD.Options()),
            ("permessage-deflate; unknown_parameter", PMD.Options()),
            ("permessage-deflate; server_no_context_takeover; server_no_context_takeover", PMD.Options()),
            ("permessage-deflate; server_no_context_takeover=1", PMD.Options()),
            ("permessage-deflate; client_no_context_takeover=true", PMD.Options()),
            ("permessage-deflate; server_max_window_bits", PMD.Options()),
            ("permessage-deflate; server_max_window_bits=7", PMD.Options()),
            ("permessage-deflate; server_max_window_bits=16", PMD.Options()),
            ("permessage-deflate; server_max_window_bits=010", PMD.Options()),
            ("permessage-deflate; server_max_window_bits=abc", PMD.Options()),
            ("permessage-deflate; client_max_window_bits", PMD.Options()),  // §7.1.2.2: a response needs a value
            ("permessage-deflate; client_max_window_bits=12", PMD.Options(clientMaxWindowBits: 10)),
            ("permessage-deflate", PMD.Options(serverNoContextTakeover: true)),  // §7.1.1.1: not acknowledged
            ("permessage-deflate", PMD.Options(serverMaxWindowBits: 10)),  // §7.1.2.1: not acknowledged
            ("permessage-deflate; server_max_window_bits=11", PMD.Options(serverMaxWindowBits: 10)),
            ("permessage-deflate; client_max_window_bits=9; client_max_window_bits=9", PMD.Options()),
            ("permessage-deflate;", PMD.Options()),
        ])
    func clientRejects(response: String, options: PMD.Options) {
        #expect(throws: PMD.NegotiationError.self) { try PMD.clientAccept(response: response, offered: options) }
    }

    @Test("§7: no Sec-WebSocket-Extensions in the response means no compression")
    func declined() throws {
        #expect(try PMD.clientAccept(response: nil, offered: .init()) == nil)
    }

    // MARK: §7.1 server negotiation

    @Test(
        "§7.1: the server answers the first acceptable offer",
        arguments: [
            ("permessage-deflate", PMD.Options(), "permessage-deflate", PMD.Parameters()),
            ("permessage-deflate; client_max_window_bits", PMD.Options(), "permessage-deflate", PMD.Parameters()),
            (
                "permessage-deflate; client_max_window_bits", PMD.Options(clientMaxWindowBits: 12, serverMaxWindowBits: 12),
                "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12",
                PMD.Parameters(serverMaxWindowBits: 12, clientMaxWindowBits: 12)
            ),
            (
                "permessage-deflate; client_max_window_bits=10", PMD.Options(clientMaxWindowBits: 12),
                "permessage-deflate; client_max_window_bits=10", PMD.Parameters(clientMaxWindowBits: 10)
            ),
            (
                "permessage-deflate; server_max_window_bits=15", PMD.Options(), "permessage-deflate; server_max_window_bits=15",
                PMD.Parameters()
            ),
            (
                "permessage-deflate; server_max_window_bits=9", PMD.Options(serverMaxWindowBits: 12),
                "permessage-deflate; server_max_window_bits=9", PMD.Parameters(serverMaxWindowBits: 9)
            ),
            (
                "permessage-deflate; server_no_context_takeover; client_no_context_takeover", PMD.Options(),
                "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
                PMD.Parameters(serverNoContextTakeover: true, clientNoContextTakeover: true)
            ),
            (
                "permessage-deflate", PMD.Options(clientNoContextTakeover: true, serverNoContextTakeover: true),
                "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
                PMD.Parameters(serverNoContextTakeover: true, clientNoContextTakeover: true)
            ),
            // Several offers: unknown parameters, duplicates and invalid values decline one, not all.
            (
                "permessage-deflate; foo, permessage-deflate; server_max_window_bits=16, permessage-deflate; server_max_window_bits=10",
                PMD.Options(), "permessage-deflate; server_max_window_bits=10", PMD.Parameters(serverMaxWindowBits: 10)
            ),
            (
                "x-webkit-deflate-frame, permessage-deflate; client_no_context_takeover; client_no_context_takeover, permessage-deflate",
                PMD.Options(), "permessage-deflate", PMD.Parameters()
            ),
        ])
    func serverAccepts(offer: String, options: PMD.Options, response: String, parameters: PMD.Parameters) throws {
        let accepted = try #require(PMD.serverAccept(offers: offer, options: options))
        #expect(accepted.response == response)
        #expect(accepted.parameters == parameters)
    }

    @Test(
        "§7: the server declines offers it cannot accept",
        arguments: [
            ("x-webkit-deflate-frame", PMD.Options()),
            ("permessage-deflate; unknown", PMD.Options()),
            ("permessage-deflate; server_max_window_bits", PMD.Options()),
            ("permessage-deflate; client_max_window_bits=7", PMD.Options()),
            ("permessage-deflate; server_no_context_takeover=x", PMD.Options()),
            ("permessage-deflate; server_max_window_bits=10; server_max_window_bits=10", PMD.Options()),
            ("permessage-deflate", PMD.Options(clientMaxWindowBits: 12)),  // §7.1.2.2: cannot limit this client
            ("permessage-deflate;;", PMD.Options()),
        ])
    func serverDeclines(offer: String, options: PMD.Options) {
        #expect(PMD.serverAccept(offers: offer, options: options) == nil)
    }

    @Test("§7.1: every client offer, answered by the server, is accepted by the client with the same parameters")
    func bothRolesAgree() throws {
        for clientBits in 8...15 {
            for serverBits in 8...15 {
                for takeover in 0..<4 {
                    let client = PMD.Options(
                        clientMaxWindowBits: clientBits, serverMaxWindowBits: serverBits,
                        clientNoContextTakeover: takeover & 1 != 0, serverNoContextTakeover: takeover & 2 != 0)
                    for server in [PMD.Options(), PMD.Options(clientMaxWindowBits: 12, serverMaxWindowBits: 12)] {
                        let accepted = try #require(PMD.serverAccept(offers: PMD.clientOffer(client), options: server))
                        let agreed = try PMD.clientAccept(response: accepted.response, offered: client)
                        #expect(agreed == accepted.parameters, "\(client) / \(server)")
                    }
                }
            }
        }
    }
}
