/// Parses one HTTP/1.1 message head (start line and header fields) from bytes that arrive in
/// pieces, without ever buffering more than ``maxHeadSize`` bytes.
///
/// The opening handshake (RFC 6455 §4) is the only HTTP this library speaks, and the peer may
/// start sending WebSocket frames immediately after the blank line that ends the head. The parser
/// therefore returns every byte after that blank line as `remainingBytes`: the caller must feed
/// them to the frame decoder before reading more from the network.
///
/// ```swift
/// var parser = HTTPHeadParser<HTTPResponseHead>()
/// while true {
///     switch try parser.append(try await transport.receive()) {
///     case .needMoreData: continue
///     case .complete(let head, let remainingBytes): return (head, remainingBytes)
///     }
/// }
/// ```
///
/// Scanning for the end of the head is byte-level and resumes where the previous call stopped,
/// so feeding a head one byte at a time stays linear. No `String` is built until the head is
/// complete.
///
/// Accepted syntax (RFC 9112 §2.2, §5): lines end in CRLF, or a bare LF for robustness; empty
/// lines before the start line are skipped. Rejected: a bare CR, obsolete line folding, a field
/// name that is not a token or is followed by whitespace before the colon, and NUL in a value.
package struct HTTPHeadParser<Head: HTTPMessageHead>: Sendable {
    /// What ``append(_:)`` found.
    package enum Progress: Sendable {
        /// The head is not complete yet: call ``append(_:)`` again with more bytes.
        case needMoreData
        /// The head is complete. `remainingBytes` followed the blank line in the same input and
        /// belong to whatever comes after the head (for a 101 response, the WebSocket stream).
        case complete(Head, remainingBytes: [UInt8])
    }

    /// The default ``maxHeadSize``: 16 KiB, far above any real handshake and far below anything
    /// that could exhaust memory.
    package static var defaultMaxHeadSize: Int { 16 * 1024 }

    /// The most bytes a head may take, counting its start line, fields and final blank line.
    package let maxHeadSize: Int
    /// The most header fields a head may have (`Int.max`, the default, for no limit beyond
    /// ``maxHeadSize``). A server sets it: each field costs a `String` pair and a place in every
    /// lookup, and a head of 16 KiB can hold thousands of tiny fields.
    package let maxFieldCount: Int

    private var buffer: [UInt8] = []
    /// Bytes of empty lines skipped before the start line; they count toward the limit.
    private var skippedCount = 0
    /// Where to resume looking for the end of the head; every byte before it has been checked.
    private var scanIndex = 0
    private var state = State.parsing

    private enum State: Sendable {
        case parsing
        case finished
        case failed(HTTPParseError)
    }

    package init(maxHeadSize: Int = defaultMaxHeadSize, maxFieldCount: Int = .max) {
        precondition(maxHeadSize > 0, "maxHeadSize must be positive")
        precondition(maxFieldCount > 0, "maxFieldCount must be positive")
        self.maxHeadSize = maxHeadSize
        self.maxFieldCount = maxFieldCount
    }

    /// Adds `bytes` received from the peer and reports whether the head is now complete.
    ///
    /// After `.complete`, the parser is done: hand `remainingBytes` to the next stage and don't
    /// call this method again (doing so is a programmer error and traps). After an error, every
    /// later call throws the same error.
    ///
    /// - Throws: ``HTTPParseError/tooLarge(limit:)`` as soon as ``maxHeadSize`` bytes have arrived
    ///   without the blank line that ends the head, ``HTTPParseError/tooManyFields(limit:)`` once
    ///   the complete head has more than ``maxFieldCount`` fields (before any of them is parsed),
    ///   or ``HTTPParseError/malformed(_:)`` once the complete head breaks the grammar.
    package mutating func append(_ bytes: some Collection<UInt8>) throws(HTTPParseError) -> Progress {
        switch state {
        case .parsing: break
        case .finished: preconditionFailure("HTTPHeadParser.append called after the head was complete")
        case .failed(let error): throw error
        }
        do {
            return try process(bytes)
        } catch {
            state = .failed(error)
            throw error
        }
    }

    private mutating func process(_ bytes: some Collection<UInt8>) throws(HTTPParseError) -> Progress {
        var input = bytes[...]
        if buffer.isEmpty {
            // RFC 9112 §2.2: a server SHOULD ignore at least one empty line before the request line.
            let skipped = input.prefix { $0 == cr || $0 == lf }
            skippedCount += skipped.count
            input = input[skipped.endIndex...]
            if skippedCount > maxHeadSize { throw .tooLarge(limit: maxHeadSize) }
        }

        // Never buffer past the limit: take only what could still belong to the head.
        let room = maxHeadSize - skippedCount - buffer.count
        let taken = input.prefix(room)
        buffer.append(contentsOf: taken)

        guard let headEnd = findEndOfHead() else {
            // A full buffer without the blank line: the head cannot fit in the limit.
            if skippedCount + buffer.count >= maxHeadSize {
                throw .tooLarge(limit: maxHeadSize)
            }
            return .needMoreData
        }

        var remaining = Array(buffer[headEnd...])
        remaining.append(contentsOf: input[taken.endIndex...])
        let head = try buffer.withUnsafeBufferPointer { (all) throws(HTTPParseError) -> Head in
            try Self.parseHead(all[..<headEnd], maxFieldCount: maxFieldCount)
        }
        state = .finished
        buffer = []
        return .complete(head, remainingBytes: remaining)
    }

    /// Returns the index just past the blank line ending the head, or `nil` if it has not arrived.
    ///
    /// The head ends at an LF followed by an empty line (`LF LF` or `LF CR LF`).
    private mutating func findEndOfHead() -> Int? {
        buffer.withUnsafeBufferPointer { bytes in
            var index = scanIndex
            while index < bytes.count {
                if bytes[index] == lf {
                    guard index + 1 < bytes.count else { break }
                    if bytes[index + 1] == lf { return index + 2 }
                    if bytes[index + 1] == cr {
                        guard index + 2 < bytes.count else { break }
                        if bytes[index + 2] == lf { return index + 3 }
                    }
                }
                index += 1
            }
            // Resume at the undecided LF, if any, or after everything checked.
            scanIndex = index
            return nil
        }
    }

    /// Splits a complete head into lines and parses the fields, then the start line.
    private static func parseHead(
        _ head: UnsafeBufferPointer<UInt8>.SubSequence, maxFieldCount: Int
    ) throws(HTTPParseError) -> Head {
        var lines: [UnsafeBufferPointer<UInt8>.SubSequence] = []
        var lineStart = head.startIndex
        for index in head.indices where head[index] == lf {
            var line = head[lineStart..<index]
            if line.last == cr { line = line.dropLast() }
            if line.contains(cr) {
                // RFC 9112 §2.2: a bare CR MUST be treated as invalid or replaced; we refuse it.
                throw .malformed("bare CR in line \(HTTPSyntax.quoted(line))")
            }
            if line.isEmpty { break }
            lines.append(line)
            lineStart = index + 1
        }
        guard let startLine = lines.first else { throw .malformed("empty head") }
        if lines.count - 1 > maxFieldCount { throw .tooManyFields(limit: maxFieldCount) }

        var headers = HTTPHeaders()
        for line in lines.dropFirst() {
            headers.append(try parseField(line))
        }
        return try Head(startLine: startLine, headers: headers)
    }

    /// Parses `field-name ":" OWS field-value OWS` (RFC 9112 §5).
    private static func parseField(_ line: UnsafeBufferPointer<UInt8>.SubSequence) throws(HTTPParseError) -> HTTPHeaders.Field {
        if line.first == space || line.first == tab {
            // RFC 9112 §5.2: obs-fold is deprecated; a server may reject it with 400, and a
            // continuation line before any field would be whitespace after the start line (§2.2).
            throw .malformed("obsolete line folding in \(HTTPSyntax.quoted(line))")
        }
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else {
            throw .malformed("header line without a colon: \(HTTPSyntax.quoted(line))")
        }
        let name = line[..<colon]
        // RFC 9112 §5.1: no whitespace between name and colon; a server MUST reject that with 400.
        guard !name.isEmpty, name.allSatisfy(HTTPSyntax.isTokenByte) else {
            throw .malformed("invalid header name \(HTTPSyntax.quoted(name))")
        }
        var value = line[(colon + 1)...]
        while let first = value.first, first == space || first == tab { value = value.dropFirst() }
        while let last = value.last, last == space || last == tab { value = value.dropLast() }
        // RFC 9110 §5.5: a recipient of CR, LF or NUL in a field value MUST reject or replace it.
        // LF cannot occur here, and CR was refused with the line.
        if value.contains(0) {
            throw .malformed("NUL in the value of header \(HTTPSyntax.quoted(name))")
        }
        return HTTPHeaders.Field(
            name: String(decoding: name, as: UTF8.self),
            value: String(decoding: value, as: UTF8.self)
        )
    }
}

private let cr = UInt8(ascii: "\r")
private let lf = UInt8(ascii: "\n")
private let space = UInt8(ascii: " ")
private let tab = UInt8(ascii: "\t")
