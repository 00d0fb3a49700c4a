import WebSockets

/// `--compression-level N`, shared by `serve` and `autobahn`.
extension Arguments {
    /// `compression` with `--compression-level N` applied (zlib's level for permessage-deflate,
    /// 1 fastest to 9 smallest; without the option, the library's default, 6). Checked even when
    /// compression is off, so a bad level is never silently ignored.
    func compression(_ compression: WebSocketCompression) throws(CLIError) -> WebSocketCompression {
        guard let level = try int("compression-level") else { return compression }
        guard (1...9).contains(level) else { throw CLIError("--compression-level must be 1...9, got \(level)") }
        guard var options = compression.options else { return compression }
        options.compressionLevel = level
        return .deflate(options)
    }
}
