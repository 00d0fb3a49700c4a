// What `import WebSocketServer` brings from the sans-I/O core beyond what `WebSockets` re-exports:
// the parsed upgrade request that every server-side connection carries. (See
// `Sources/WebSockets/Exports.swift` for why the core is not re-exported wholesale.)

/// The client's opening handshake request, as the server parsed it.
@_exported import struct WebSocketCore.UpgradeRequest
