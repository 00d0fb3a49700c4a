import Testing

@testable import WebSocketCore

/// Feeds `chunks` to a fresh parser in order; returns the head and every byte after it (the
/// parser's leftover plus the chunks it was not given), or `nil` if it needs more data.
func parseHead<Head: HTTPMessageHead>(
    _ chunks: [[UInt8]],
    as type: Head.Type = Head.self,
    maxHeadSize: Int = HTTPHeadParser<Head>.defaultMaxHeadSize
) throws(HTTPParseError) -> (head: Head, remaining: [UInt8])? {
    var parser = HTTPHeadParser<Head>(maxHeadSize: maxHeadSize)
    for (index, chunk) in chunks.enumerated() {
        if case .complete(let head, let remaining) = try parser.append(chunk) {
            return (head, remaining + chunks[(index + 1)...].joined())
        }
    }
    return nil
}

/// Parses `text` as one complete response head, failing the test if it is incomplete.
func parseResponse(_ text: String) throws(HTTPParseError) -> HTTPResponseHead? {
    try parseHead([Array(text.utf8)], as: HTTPResponseHead.self)?.head
}

/// Parses `text` as one complete request head, failing the test if it is incomplete.
func parseRequest(_ text: String) throws(HTTPParseError) -> HTTPRequestHead? {
    try parseHead([Array(text.utf8)], as: HTTPRequestHead.self)?.head
}

@Suite("RFC 9112 message heads")
struct HTTPHeadParserTests {
    static let response = Array(
        ("HTTP/1.1 101 Switching Protocols\r\n"
            + "Upgrade: websocket\r\n"
            + "Connection: Upgrade\r\n"
            + "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
            + "\r\n").utf8)
    /// A masked-free text frame "Hi" that a server may send in the same packet as its 101.
    static let trailingFrame: [UInt8] = [0x81, 0x02, 0x48, 0x69]

    @Test func responseHeadIsParsedWithFieldsInOrder() throws {
        let (head, remaining) = try #require(try parseHead([Self.response], as: HTTPResponseHead.self))
        #expect(head.version == .http11)
        #expect(head.status == 101)
        #expect(head.reason == "Switching Protocols")
        #expect(head.headers.map(\.name) == ["Upgrade", "Connection", "Sec-WebSocket-Accept"])
        #expect(head.headers.first("sec-websocket-accept") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        #expect(remaining.isEmpty)
    }

    /// Bytes after the blank line are WebSocket data (RFC 6455 §4.1: the server may send frames
    /// right after its response) and must come back unchanged.
    @Test func bytesAfterTheHeadAreReturnedExactly() throws {
        let (_, remaining) = try #require(try parseHead([Self.response + Self.trailingFrame], as: HTTPResponseHead.self))
        #expect(remaining == Self.trailingFrame)
    }

    /// Splitting the input anywhere, even inside CRLFCRLF, gives the same head and leftover.
    @Test func everySplitPointGivesTheSameHeadAndLeftover() throws {
        let input = Self.response + Self.trailingFrame
        let (expected, _) = try #require(try parseHead([input], as: HTTPResponseHead.self))
        for split in 0...input.count {
            let parsed = try #require(try parseHead([Array(input[..<split]), Array(input[split...])], as: HTTPResponseHead.self))
            #expect(parsed.head == expected, "split at \(split)")
            #expect(parsed.remaining == Self.trailingFrame, "split at \(split)")
        }
    }

    @Test func byteAtATimeFeedingCompletesOnTheLastHeadByte() throws {
        var parser = HTTPHeadParser<HTTPResponseHead>()
        for byte in Self.response.dropLast() {
            guard case .needMoreData = try parser.append([byte]) else {
                Issue.record("completed early")
                return
            }
        }
        guard case .complete(let head, let remaining) = try parser.append([Self.response.last!]) else {
            Issue.record("did not complete")
            return
        }
        #expect(head.status == 101)
        #expect(remaining.isEmpty)
    }

    @Test func unsafeRawBufferPointerInputIsAccepted() throws {
        var parser = HTTPHeadParser<HTTPResponseHead>()
        let progress = try (Self.response + Self.trailingFrame).withUnsafeBytes { buffer in
            try parser.append(buffer)
        }
        guard case .complete(_, let remaining) = progress else {
            Issue.record("did not complete")
            return
        }
        #expect(remaining == Self.trailingFrame)
    }

    /// RFC 9112 §2.2: a recipient MAY recognize a single LF as a line terminator.
    @Test func bareLFLineEndingsAreTolerated() throws {
        let head = try #require(try parseResponse("HTTP/1.1 101 OK\nUpgrade: websocket\r\nConnection: Upgrade\n\nrest"))
        #expect(head.headers.values("Upgrade") == ["websocket"])
        #expect(head.headers.first("Connection") == "Upgrade")
        let (_, remaining) = try #require(try parseHead([Array("HTTP/1.1 101 OK\n\nrest".utf8)], as: HTTPResponseHead.self))
        #expect(remaining == Array("rest".utf8))
    }

    /// RFC 9112 §2.2: a server SHOULD ignore at least one empty line before the request line.
    @Test func emptyLinesBeforeTheRequestLineAreSkipped() throws {
        let chunks = [Array("\r\n".utf8), Array("\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n".utf8)]
        let (head, _) = try #require(try parseHead(chunks, as: HTTPRequestHead.self))
        #expect(head.method == "GET")
        #expect(head.headers.first("Host") == "a")
    }

    @Test func requestLineIsSplitIntoMethodTargetAndVersion() throws {
        let head = try #require(try parseRequest("GET /chat?x=1 HTTP/1.1\r\nHost: example.com\r\n\r\n"))
        #expect(head.method == "GET")
        #expect(head.target == "/chat?x=1")
        #expect(head.version == HTTPVersion(major: 1, minor: 1))
    }

    /// RFC 9112 §4: servers omit the reason phrase (and sometimes the space before it).
    @Test func statusLineWithoutReasonIsAccepted() throws {
        #expect(try parseResponse("HTTP/1.1 404\r\n\r\n")?.reason == "")
        #expect(try parseResponse("HTTP/1.1 404 \r\n\r\n")?.reason == "")
        #expect(try parseResponse("HTTP/1.0 200 OK\r\n\r\n")?.version == HTTPVersion(major: 1, minor: 0))
    }

    /// RFC 9110 §5.5: leading and trailing whitespace is not part of the value; empty values are valid.
    @Test func fieldValuesAreTrimmedAndMayBeEmpty() throws {
        let head = try #require(try parseResponse("HTTP/1.1 200 OK\r\nA: \t x y \t\r\nB:\r\nC:z\r\n\r\n"))
        #expect(head.headers.first("A") == "x y")
        #expect(head.headers.first("B") == "")
        #expect(head.headers.first("C") == "z")
    }

    @Test func headEndingExactlyAtTheLimitIsAccepted() throws {
        let limit = Self.response.count
        let (head, remaining) = try #require(
            try parseHead([Self.response + Self.trailingFrame], as: HTTPResponseHead.self, maxHeadSize: limit))
        #expect(head.status == 101)
        #expect(remaining == Self.trailingFrame)
    }

    @Test func headOneByteOverTheLimitIsRejected() {
        let limit = Self.response.count - 1
        #expect(throws: HTTPParseError.tooLarge(limit: limit)) {
            try parseHead([Self.response], as: HTTPResponseHead.self, maxHeadSize: limit)
        }
    }

    /// The limit is checked while data arrives, not once the head is complete: a peer that never
    /// sends the blank line is stopped after `maxHeadSize` bytes.
    @Test func endlessHeadIsRejectedOnceTheLimitIsReached() throws {
        var parser = HTTPHeadParser<HTTPRequestHead>(maxHeadSize: 1024)
        let line = Array("X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n".utf8)
        var sent = 0
        var caught: HTTPParseError?
        do {
            while sent < 100_000 {
                _ = try parser.append(line)
                sent += line.count
            }
        } catch {
            caught = error
        }
        #expect(caught == .tooLarge(limit: 1024))
        #expect(sent < 1024)
        // The failure is sticky.
        #expect(throws: HTTPParseError.tooLarge(limit: 1024)) { try parser.append(Array("\r\n".utf8)) }
    }

    @Test("maxFieldCount: a head with exactly that many fields parses; one more is refused before any field is parsed")
    func fieldCountLimit() throws {
        func request(fields: Int) -> [UInt8] {
            // The fields after the limit are malformed: the count is refused first.
            Array(("GET / HTTP/1.1\r\n" + (0..<fields).map { $0 < 3 ? "F\($0): v\r\n" : "bad field\r\n" }.joined() + "\r\n").utf8)
        }
        var fits = HTTPHeadParser<HTTPRequestHead>(maxFieldCount: 3)
        guard case .complete(let head, _) = try fits.append(request(fields: 3)) else {
            Issue.record("incomplete")
            return
        }
        #expect(head.headers.first("F2") == "v")
        var over = HTTPHeadParser<HTTPRequestHead>(maxFieldCount: 3)
        #expect(throws: HTTPParseError.tooManyFields(limit: 3)) { try over.append(request(fields: 4)) }
        #expect(HTTPParseError.tooManyFields(limit: 3).description == "the HTTP head has more than 3 header fields")
    }

    @Test func emptyLinesCountTowardTheLimit() {
        #expect(throws: HTTPParseError.tooLarge(limit: 8)) {
            try parseHead([[UInt8](repeating: UInt8(ascii: "\n"), count: 9)], as: HTTPRequestHead.self, maxHeadSize: 8)
        }
    }

    /// Malformed heads, each rejected with a message. RFC 9112 §5.2 (obs-fold), §5.1 (no
    /// whitespace before the colon), §2.2 (bare CR), RFC 9110 §5.5 (NUL), §5.6.2 (token names).
    @Test(arguments: [
        "HTTP/1.1 101 OK\r\nUpgrade: websocket\r\n folded\r\n\r\n",
        "HTTP/1.1 101 OK\r\n\tUpgrade: websocket\r\n\r\n",
        "HTTP/1.1 101 OK\r\nUpgrade : websocket\r\n\r\n",
        "HTTP/1.1 101 OK\r\nUp grade: websocket\r\n\r\n",
        "HTTP/1.1 101 OK\r\nUp(grade): websocket\r\n\r\n",
        "HTTP/1.1 101 OK\r\n: websocket\r\n\r\n",
        "HTTP/1.1 101 OK\r\nUpgrade websocket\r\n\r\n",
        "HTTP/1.1 101 OK\r\nUpgrade: web\rsocket\r\n\r\n",
        "HTTP/1.1 101 OK\r\nUpgrade: web\u{0}socket\r\n\r\n",
        "HTTP/1.1 101 OK\rUpgrade: websocket\r\n\r\n",
        "HTTP/1.1 1O1 OK\r\n\r\n",
        "HTTP/1.1 10 OK\r\n\r\n",
        "HTTP/1.1 1011 OK\r\n\r\n",
        "HTTP/1.1 099 OK\r\n\r\n",
        "HTTP/1.1  101 OK\r\n\r\n",
        "http/1.1 101 OK\r\n\r\n",
        "HTTP/11 101 OK\r\n\r\n",
        "HTTP/1.1\r\n\r\n",
        "ICY 200 OK\r\n\r\n",
        "HTTP/1.1 101 Switching\u{1}Protocols\r\n\r\n",
    ])
    func malformedResponseHeadIsRejected(_ text: String) {
        let error = #expect(throws: HTTPParseError.self) { try parseResponse(text) }
        guard case .malformed(let detail)? = error else {
            Issue.record("expected .malformed, got \(String(describing: error))")
            return
        }
        #expect(!detail.isEmpty)
    }

    @Test(arguments: [
        "GET  / HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1 \r\n\r\n",
        "GET /\r\n\r\n",
        "GET / HTTP/1.1 extra\r\n\r\n",
        "G(T / HTTP/1.1\r\n\r\n",
        " GET / HTTP/1.1\r\n\r\n",
        "GET /a\u{7F}b HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.x\r\n\r\n",
    ])
    func malformedRequestLineIsRejected(_ text: String) {
        #expect(throws: HTTPParseError.self) { try parseRequest(text) }
    }

    @Test func errorMessagesEscapeUntrustedBytes() {
        let error = #expect(throws: HTTPParseError.self) { try parseResponse("HTTP/1.1 1\u{1}1 OK\r\n\r\n") }
        #expect(error?.description == "malformed HTTP head: invalid status line \"HTTP/1.1 1\\x011 OK\"")
    }

    /// Random bytes in random chunks must only ever produce a head, "need more" or an error.
    @Test func randomBytesNeverTrap() {
        var rng = SeededGenerator(seed: 9112)
        let alphabet = Array("HTTP/1.1 101 GET :\r\n\t\u{0}aZ-,".utf8)
        for round in 0..<3000 {
            let useAlphabet = round % 2 == 0
            let length = Int.random(in: 0...300, using: &rng)
            let input =
                useAlphabet
                ? (0..<length).map { _ in alphabet.randomElement(using: &rng)! }
                : rng.bytes(length)
            var parser = HTTPHeadParser<HTTPResponseHead>(maxHeadSize: 256)
            var offset = 0
            while offset < input.count {
                let end = min(input.count, offset + Int.random(in: 1...40, using: &rng))
                do {
                    if case .complete(_, let remaining) = try parser.append(input[offset..<end]) {
                        #expect(remaining.count <= input.count - offset)
                        break
                    }
                } catch {
                    break
                }
                offset = end
            }
        }
    }

    /// Valid heads with one byte replaced, in random chunks: parse results must not depend on
    /// where the input was split. (It yields now and then: under the sanitizers its thrown errors,
    /// each with a backtrace captured by swift-testing, keep a thread of the cooperative pool busy
    /// for seconds, which other tests with deadlines need too.)
    @Test func mutatedHeadsParseTheSameWhateverTheChunking() async {
        var rng = SeededGenerator(seed: 6455)
        let base = Self.response + Self.trailingFrame
        for round in 0..<2000 {
            if round % 50 == 0 { await Task.yield() }
            var input = base
            input[Int.random(in: 0..<input.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            let whole = Result { () throws(HTTPParseError) in try parseHead([input], as: HTTPResponseHead.self) }
            let split = Int.random(in: 0...input.count, using: &rng)
            let chunked = Result { () throws(HTTPParseError) in
                try parseHead([Array(input[..<split]), Array(input[split...])], as: HTTPResponseHead.self)
            }
            switch (whole, chunked) {
            case (.success(let a), .success(let b)):
                #expect(a?.head == b?.head && a?.remaining == b?.remaining)
            case (.failure(let a), .failure(let b)):
                #expect(a == b)
            default:
                Issue.record("chunking changed the outcome for \(input)")
            }
        }
    }
}
