/// Whether and how messages are compressed with permessage-deflate (RFC 7692).
///
/// Compression trades CPU for bandwidth: text such as JSON typically shrinks 3–10×, at the cost of
/// deflating and inflating every message and of a compression context (a few hundred KiB at the
/// largest window) per connection and direction. Messages below
/// `PerMessageDeflate/Options/minimumMessageSize` are sent uncompressed.
public enum WebSocketCompression: Sendable, Hashable {
    /// No `Sec-WebSocket-Extensions` offer (client) or acceptance (server).
    case disabled
    /// Offer (client) or accept (server) permessage-deflate with these options.
    case deflate(PerMessageDeflate.Options)

    /// The client's default, as in Python `websockets`: offer `client_max_window_bits` (the server
    /// may limit our window), windows up to 15 bits, context takeover, zlib `memLevel` 5.
    public static let clientDefault = WebSocketCompression.deflate(.init(memoryLevel: 5))

    /// The server's default, as in Python `websockets`: 12-bit windows both ways (4 KiB of history
    /// instead of 32 KiB per direction), context takeover, zlib `memLevel` 5.
    public static let serverDefault = WebSocketCompression.deflate(
        .init(clientMaxWindowBits: 12, serverMaxWindowBits: 12, memoryLevel: 5))

    /// The options when enabled.
    public var options: PerMessageDeflate.Options? {
        if case .deflate(let options) = self { return options }
        return nil
    }

    /// Throws `.invalidArgument` for options that cannot work.
    package func validate() throws(WebSocketError) {
        if let problem = options?.problem {
            throw WebSocketError(.invalidArgument, "compression: \(problem)")
        }
    }
}
