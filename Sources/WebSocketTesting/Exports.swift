// What `import WebSocketTesting` brings from the sans-I/O core beyond what `WebSockets` re-exports:
// the frame-level vocabulary the scripted peer (`MockWebSocketServer`) speaks, so a test can send a
// raw frame of any opcode and read back what the client did. (See `Sources/WebSockets/Exports.swift`
// for why the core is not re-exported wholesale.)

/// Its nested `Event` is what `MockWebSocketServer.nextEvent()` returns.
@_exported import struct WebSocketCore.ConnectionCore
/// A frame's opcode, for `MockWebSocketServer.sendFrame`.
@_exported import enum WebSocketCore.Opcode
/// The client's opening handshake request, as the mock server read it.
@_exported import struct WebSocketCore.UpgradeRequest
