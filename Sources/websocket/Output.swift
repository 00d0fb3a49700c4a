import WebSockets

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Line-oriented output. Every line is flushed at once: scripts read the CLI's output as it comes.
enum Output {
    static func out(_ line: String) { write(line, to: STDOUT_FILENO) }

    static func err(_ line: String) { write(line, to: STDERR_FILENO) }

    /// One unbuffered `write` per line (retrying short writes), so lines are never interleaved
    /// or held back in a buffer.
    private static func write(_ line: String, to descriptor: Int32) {
        var bytes = Array(line.utf8)
        bytes.append(UInt8(ascii: "\n"))
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                #if canImport(Glibc)
                    let written = Glibc.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                #else
                    let written = Darwin.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                #endif
                if written < 0 && errno == EINTR { continue }
                guard written > 0 else { return }
                offset += written
            }
        }
    }

    /// `binary <N> bytes <hex of the first 32 bytes>`: the contract for printing binary messages.
    static func describeBinary(_ bytes: [UInt8]) -> String {
        "binary \(bytes.count) bytes \(hex(bytes.prefix(32)))"
    }

    static func hex(_ bytes: some Collection<UInt8>) -> String {
        let digits: [Character] = Array("0123456789abcdef")
        var text = ""
        text.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0xF)])
        }
        return text
    }

    /// `error <status>: <message>` on stderr: the contract for every failure.
    static func fail(_ error: any Error) -> Never {
        if let error = error as? WebSocketError {
            err("error \(error.status): \(error.message)")
        } else if let error = error as? SocketError {
            err("error \(error.status): \(error.message)")
        } else if let error = error as? CLIError {
            err("error invalidArgument: \(error.description)")
        } else {
            err("error unknown: \(error)")
        }
        exit(1)
    }
}
