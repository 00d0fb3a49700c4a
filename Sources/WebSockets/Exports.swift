// What `import WebSockets` brings from the sans-I/O core, and why only this.
//
// The protocol vocabulary (`Message`, `CloseCode`, ...) lives in `WebSocketCore` so that the client,
// the server and the testing module share one definition. Users of this module need exactly the
// types that appear in its API, so those are re-exported one by one; the rest of the core (the state
// machine `ConnectionCore`, frame codecs, handshakes, masking, UTF-8 validation) is the sans-I/O layer
// for people who build their own I/O, and stays behind `import WebSocketCore`.

/// A close code (RFC 6455 §7.4), expressible as an integer literal.
@_exported import struct WebSocketCore.CloseCode
/// A received or sent message (text or binary).
@_exported import enum WebSocketCore.Message
/// A piece of a message, in partial-message receive mode.
@_exported import struct WebSocketCore.MessageFragment
/// Text or binary: what a message, frame or piece carries.
@_exported import enum WebSocketCore.MessageKind
/// permessage-deflate's options, negotiated parameters and statistics (RFC 7692).
@_exported import enum WebSocketCore.PerMessageDeflate
/// How a connection ended: close code and reason.
@_exported import struct WebSocketCore.WebSocketCloseStatus
