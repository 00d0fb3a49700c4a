// The protocol vocabulary (`Message`, `CloseCode`, `MessageKind`, ...) lives in the sans-I/O core so
// that the client, the server and the testing module share one definition; users import only
// `WebSockets`.
@_exported import WebSocketCore
