import WebSockets

/// `websocket autobahn [--url ws://127.0.0.1:9001] [--agent NAME] [--cases PATTERN] [--echo messages|fragments]
/// [--compression-level 1...9]`
///
/// The Autobahn TestSuite client: reads `/getCaseCount`, runs every case (or those whose id
/// matches PATTERN, a comma-separated list of globs such as `1.*,9.1.*`) via
/// `/runCase?case=N&agent=NAME`, echoing every text and binary message back unchanged, then asks
/// the server to write its report (`/updateReports?agent=NAME`). Prints one line per case,
/// `case <id> <behavior>` (the server's `/getCaseStatus` reports the behaviour only; the close
/// behaviour is in its report, see `Scripts/autobahn.sh`), and the totals last:
/// `total=<n> ok=<n> non_strict=<n> informational=<n> unimplemented=<n> failed=<n>`.
///
/// `--echo messages` (the default) receives whole messages and sends each back as one message.
/// `--echo fragments` receives in the partial mode (``MessageWebSocket/fragments``) and echoes
/// each piece as it arrives, as one frame (`sendNonfinalFrame`, `sendFinalFrame` for the piece
/// that completes the message): the conformance of the streaming path, and memory bounded by a
/// read rather than by the largest message.
///
/// `--compression-level` sets zlib's level of the permessage-deflate the client offers (default 6,
/// the library's): the suite checks framing and negotiation, which the level does not change, and
/// at level 6 deflating the compression groups' large JSON messages is half of the client's CPU.
enum AutobahnCommand {
    /// How `echoCase` answers: whole messages, or each piece as it arrives.
    enum EchoMode: String {
        case messages
        case fragments
    }

    static func run(_ arguments: Arguments) async -> Int32 {
        do {
            try arguments.rejectUnknown(["url", "agent", "cases", "echo", "compression-level"])
            let compression = try arguments.compression(.clientDefault)
            let echoName = arguments.string("echo") ?? EchoMode.messages.rawValue
            guard let echo = EchoMode(rawValue: echoName) else {
                throw CLIError("--echo expects messages or fragments, got \"\(echoName)\"")
            }
            let base = arguments.string("url") ?? "ws://127.0.0.1:9001"
            let agent = arguments.string("agent") ?? "swift-websockets"
            let patterns = (arguments.string("cases") ?? "*").split(separator: ",").map(String.init)
            let count = try await Int(fetchText(base + "/getCaseCount")) ?? 0
            guard count > 0 else { throw WebSocketError(.invalidArgument, "the fuzzing server reports no cases") }
            var totals: [String: Int] = [:]
            var ran = 0
            for index in 1...count {
                let id = try await caseID(base: base, index: index)
                guard patterns.contains(where: { matches(id, $0) }) else { continue }
                await echoCase(base + "/runCase?case=\(index)&agent=\(agent)", mode: echo, compression: compression)
                let status = try await fetchText(base + "/getCaseStatus?case=\(index)&agent=\(agent)")
                let behavior = jsonString(status, key: "behavior") ?? "?"
                Output.out("case \(id) \(behavior)")
                totals[behavior, default: 0] += 1
                ran += 1
            }
            await echoCase(base + "/updateReports?agent=\(agent)")
            let failed = ran - ["OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED"].reduce(0) { $0 + totals[$1, default: 0] }
            Output.out(
                "total=\(ran) ok=\(totals["OK", default: 0]) non_strict=\(totals["NON-STRICT", default: 0]) "
                    + "informational=\(totals["INFORMATIONAL", default: 0]) unimplemented=\(totals["UNIMPLEMENTED", default: 0]) "
                    + "failed=\(failed)")
            return 0
        } catch {
            Output.fail(error)
        }
    }

    /// Echoes every message of one case until the server ends it (cleanly or not).
    static func echoCase(_ url: String, mode: EchoMode = .messages, compression: WebSocketCompression = .clientDefault) async {
        var control = MessageWebSocketControl()
        control.compression = compression
        control.maxMessageSize = 64 * 1024 * 1024
        control.closeTimeout = .seconds(5)
        if mode == .fragments { control.receiveMode = .partialMessage }
        let socket = MessageWebSocket(control: control)
        do {
            try await socket.connect(to: url)
            switch mode {
            case .messages:
                for try await message in socket.messages {
                    try await socket.send(message)
                }
            case .fragments:
                var startsMessage = true
                for try await piece in socket.fragments {
                    // The echoed message's type is taken at its first frame.
                    if startsMessage { await socket.setMessageType(piece.kind) }
                    if piece.isMessageComplete {
                        try await socket.sendFinalFrame(piece.bytes)
                    } else {
                        try await socket.sendNonfinalFrame(piece.bytes)
                    }
                    startsMessage = piece.isMessageComplete
                }
            }
        } catch {
            // The case decides what an error means; the server judges our behaviour.
        }
        try? await socket.close()
    }

    /// Connects, returns the first text message, closes.
    static func fetchText(_ url: String) async throws -> String {
        let socket = MessageWebSocket()
        try await socket.connect(to: url)
        var iterator = socket.messages.makeAsyncIterator()
        let message = try await iterator.next()
        try await socket.close()
        return message?.text ?? ""
    }

    static func caseID(base: String, index: Int) async throws -> String {
        let info = try await fetchText(base + "/getCaseInfo?case=\(index)")
        return jsonString(info, key: "id") ?? String(index)
    }

    /// The string value of `"key": "value"` in a flat JSON object (enough for the fuzzing server's
    /// small answers; no JSON parser in a zero-dependency CLI).
    static func jsonString(_ json: String, key: String) -> String? {
        guard let keyRange = json.range(of: "\"\(key)\"") else { return nil }
        let rest = json[keyRange.upperBound...].drop { $0 == " " || $0 == ":" }
        guard rest.first == "\"" else { return nil }
        let value = rest.dropFirst().prefix { $0 != "\"" }
        return String(value)
    }

    /// Glob match where `*` matches any run of characters.
    static func matches(_ id: String, _ pattern: String) -> Bool {
        let parts = pattern.split(separator: "*", omittingEmptySubsequences: false).map(String.init)
        guard parts.count > 1 else { return id == pattern }
        var rest = Substring(id)
        guard rest.hasPrefix(parts[0]) else { return false }
        rest = rest.dropFirst(parts[0].count)
        for part in parts.dropFirst().dropLast() where !part.isEmpty {
            guard let range = rest.range(of: part) else { return false }
            rest = rest[range.upperBound...]
        }
        return parts.last!.isEmpty || rest.hasSuffix(parts.last!)
    }
}
