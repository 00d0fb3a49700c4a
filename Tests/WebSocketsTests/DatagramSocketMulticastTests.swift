import Testing

@testable import WebSockets

/// Multicast over the host's own stack: two sockets share a port (`multicastOnly`), join a group
/// and both receive a datagram sent to it (`IP_MULTICAST_LOOP` is on by default). Where the
/// kernel has no multicast route (a network namespace without one), joining or sending fails and
/// the test says so and stops: that is the machine, not the library.
@Suite("DatagramSocket multicast", .timeLimit(.minutes(1)))
struct DatagramSocketMulticastTests {
    @Test(
        "two sockets sharing a port both receive the group's datagram, IPv4 and IPv6",
        arguments: [("0.0.0.0", "239.255.77.1"), ("::", "ff15::7701")])
    func groupDelivery(wildcard: String, group: String) async throws {
        var control = DatagramSocketControl()
        control.multicastOnly = true
        let (first, end) = try await boundSocket(wildcard, control: control)
        let second = DatagramSocket(control: control)
        let sender = DatagramSocket()
        try await withSockets(first, second) {
            try await withTeardown(sender) { _ in
                try await second.bind(port: end.port, address: wildcard)
                do {
                    try await first.joinMulticastGroup(group)
                    try await second.joinMulticastGroup(group)
                    try await sender.send(Array("to the group".utf8), toHost: group, port: end.port)
                } catch let error as SocketError {
                    print("skipped: multicast to \(group) is not possible on this machine: \(error)")
                    return
                }
                for socket in [first, second] {
                    let datagram = try await nextDatagram(socket, "the group's datagram")
                    #expect(datagram.bytes == Array("to the group".utf8))
                    #expect(datagram.local.address == group)
                }
                try await first.leaveMulticastGroup(group)
                await expectSocketError(.addressNotAvailable) { try await first.leaveMulticastGroup(group) }
            }
        }
    }
}
