import Testing

@testable import WebSockets

extension DatagramSocket: ScopedTeardown {
    /// ``DatagramSocket/close()``.
    func tearDown() async { close() }
}

/// The next datagram `socket` receives; records an issue and throws if none comes within the
/// deadline (a datagram on loopback takes microseconds: only a broken receiver waits that long).
func nextDatagram(
    _ socket: DatagramSocket, _ what: String = "a datagram", sourceLocation: SourceLocation = #_sourceLocation
) async throws -> Datagram {
    try await awaitState("receive \(what)", within: .seconds(20), sourceLocation: sourceLocation) {
        var iterator = socket.datagrams.makeAsyncIterator()
        guard let datagram = try await iterator.next() else { throw PeerError("datagrams ended before \(what)") }
        return datagram
    }
}

/// A socket bound to `address` port 0, and the endpoint it got.
func boundSocket(
    _ address: String, control: DatagramSocketControl = .init()
) async throws -> (DatagramSocket, SocketEndpoint) {
    let socket = DatagramSocket(control: control)
    try await socket.bind(port: 0, address: address)
    let local = try #require(await socket.information.localEndpoint)
    return (socket, local)
}

/// Two sockets closed after `body`, whether it returned or threw.
func withSockets<Result>(
    _ first: DatagramSocket, _ second: DatagramSocket, _ body: () async throws -> Result
) async throws -> Result {
    try await withTeardown(first) { _ in try await withTeardown(second) { _ in try await body() } }
}

// `expectSocketError(_:_:)` is in StreamSocketTestSupport.swift (shared by the sockets' tests).
