import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// An IPv4 or IPv6 socket address (address and port).
package struct SocketAddress: Sendable, CustomStringConvertible {
    private var storage: sockaddr_storage
    /// The length of the `sockaddr_in` / `sockaddr_in6` inside.
    package private(set) var length: socklen_t

    /// `AF_INET` or `AF_INET6`.
    package var family: CInt { CInt(storage.ss_family) }

    /// Parses a numeric IPv4 (`127.0.0.1`) or IPv6 (`::1`, also `[::1]`) literal with `inet_pton`.
    /// Returns nil for anything else, including names, and for a port outside 0...65535.
    package init?(numericHost host: String, port: Int) {
        guard let port = UInt16(exactly: port) else { return nil }
        var literal = Substring(host)
        if literal.hasPrefix("["), literal.hasSuffix("]") { literal = literal.dropFirst().dropLast() }
        let text = String(literal)
        var storage = sockaddr_storage()
        var v4 = in_addr()
        var v6 = in6_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(port.bigEndian)
            address.sin_addr = v4
            withUnsafeMutableBytes(of: &storage) { $0.storeBytes(of: address, as: sockaddr_in.self) }
            self.init(storage: storage, length: socklen_t(MemoryLayout<sockaddr_in>.size))
        } else if inet_pton(AF_INET6, text, &v6) == 1 {
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = in_port_t(port.bigEndian)
            address.sin6_addr = v6
            withUnsafeMutableBytes(of: &storage) { $0.storeBytes(of: address, as: sockaddr_in6.self) }
            self.init(storage: storage, length: socklen_t(MemoryLayout<sockaddr_in6>.size))
        } else {
            return nil
        }
    }

    /// Copies a `sockaddr` of `length` bytes (IPv4 or IPv6; anything longer is truncated).
    package init(_ address: UnsafePointer<sockaddr>, length: socklen_t) {
        var storage = sockaddr_storage()
        let count = min(Int(length), MemoryLayout<sockaddr_storage>.size)
        withUnsafeMutableBytes(of: &storage) {
            $0.copyMemory(from: UnsafeRawBufferPointer(start: address, count: count))
        }
        self.init(storage: storage, length: socklen_t(count))
    }

    private init(storage: sockaddr_storage, length: socklen_t) {
        self.storage = storage
        self.length = length
    }

    /// The local address of a socket (`getsockname`), or nil.
    package static func local(of fd: CInt) -> SocketAddress? {
        query(fd, getsockname)
    }

    /// The peer address of a connected socket (`getpeername`), or nil (e.g. `ENOTCONN`).
    package static func peer(of fd: CInt) -> SocketAddress? {
        query(fd, getpeername)
    }

    private static func query(
        _ fd: CInt,
        _ call: (CInt, UnsafeMutablePointer<sockaddr>, UnsafeMutablePointer<socklen_t>) -> CInt
    ) -> SocketAddress? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { call(fd, $0, &length) }
        }
        guard result == 0 else { return nil }
        return SocketAddress(storage: storage, length: length)
    }

    /// Calls `body` with the address as a `sockaddr` pointer and its length.
    package func withSockAddr<Result>(_ body: (UnsafePointer<sockaddr>, socklen_t) throws -> Result) rethrows -> Result {
        try withUnsafeBytes(of: storage) {
            try body($0.baseAddress!.assumingMemoryBound(to: sockaddr.self), length)
        }
    }

    /// The port, in host byte order.
    package var port: Int {
        withUnsafeBytes(of: storage) { raw in
            switch CInt(storage.ss_family) {
            case AF_INET: return Int(UInt16(bigEndian: raw.load(as: sockaddr_in.self).sin_port))
            case AF_INET6: return Int(UInt16(bigEndian: raw.load(as: sockaddr_in6.self).sin6_port))
            default: return 0
            }
        }
    }

    /// The numeric host alone: `127.0.0.1`, `::1`.
    package var host: String {
        withUnsafeBytes(of: storage) { raw -> String in
            var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
            let ok: Bool
            switch CInt(storage.ss_family) {
            case AF_INET:
                var address = raw.load(as: sockaddr_in.self).sin_addr
                ok = inet_ntop(AF_INET, &address, &text, socklen_t(text.count)) != nil
            case AF_INET6:
                var address = raw.load(as: sockaddr_in6.self).sin6_addr
                ok = inet_ntop(AF_INET6, &address, &text, socklen_t(text.count)) != nil
            default:
                ok = false
            }
            guard ok else { return "?" }
            return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }

    /// `127.0.0.1:1234` or `[::1]:1234`.
    package var description: String {
        family == AF_INET6 ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}

/// Turns a host name and port into socket addresses without blocking any shared thread.
///
/// Numeric literals are parsed in place (`inet_pton`, no `getaddrinfo`, no thread). Names go to
/// `getaddrinfo` on a short-lived dedicated thread, because `getaddrinfo` blocks (DNS, files) and
/// must not stall the event loop or Swift's cooperative pool; the thread resumes the caller.
package enum NameResolution {
    /// The addresses for `host` and `port`, in the order `getaddrinfo` returns them (its RFC 6724
    /// preference order), IPv6 and IPv4 alike; one address for a numeric literal.
    /// - Throws: `.hostNameNotResolved` naming the host; `.operationCanceled` if the task is cancelled
    ///   (the lookup thread then finishes on its own and its result is dropped).
    package static func resolve(
        host: String,
        port: Int,
        isolation: isolated (any Actor)? = #isolation
    ) async throws -> [SocketAddress] {
        guard (0...65535).contains(port) else {
            throw WebSocketError(.invalidArgument, "port \(port) is outside 0...65535")
        }
        if let address = SocketAddress(numericHost: host, port: port) { return [address] }
        return try await resolve(host: host, port: port, family: AF_UNSPEC, isolation: isolation)
    }

    /// The AAAA and A lookups run concurrently (RFC 8305 §3), each on its own thread; the result
    /// is every address found, IPv6 first, each family in `getaddrinfo`'s order, for
    /// ``HappyEyeballs`` to interleave. Fails only when both lookups fail (with the IPv4 one's
    /// error, the family every host has). Not waiting for the slower family first is RFC 8305's
    /// Resolution Delay, left out: both answers come from the same resolver, usually together.
    package static func resolveBothFamilies(
        host: String, port: Int, isolation: isolated (any Actor)? = #isolation
    ) async throws -> [SocketAddress] {
        if let address = SocketAddress(numericHost: host, port: port) { return [address] }
        async let v6: [SocketAddress]? = try? await resolve(host: host, port: port, family: AF_INET6, isolation: nil)
        let v4: Result<[SocketAddress], any Error>
        do {
            v4 = .success(try await resolve(host: host, port: port, family: AF_INET, isolation: nil))
        } catch {
            v4 = .failure(error)
        }
        let addresses = (await v6 ?? []) + ((try? v4.get()) ?? [])
        if addresses.isEmpty { _ = try v4.get() }
        return addresses
    }

    /// ``resolve(host:port:isolation:)`` for one family.
    static func resolve(host: String, port: Int, family: CInt, isolation: isolated (any Actor)?) async throws -> [SocketAddress] {
        guard (0...65535).contains(port) else {
            throw WebSocketError(.invalidArgument, "port \(port) is outside 0...65535")
        }
        guard !host.isEmpty else { throw WebSocketError(.hostNameNotResolved, "cannot resolve an empty host name") }
        let lookup = Lookup(host: host, port: port, family: family)
        return try await withTaskCancellationHandler(
            operation: {
                try await withUnsafeThrowingContinuation(isolation: isolation) { continuation in
                    lookup.start(continuation)
                }
            },
            onCancel: { lookup.cancel() },
            isolation: isolation
        )
    }

    /// Blocking `getaddrinfo`, TCP addresses of `family` (`AF_UNSPEC`: both). Runs on the lookup thread.
    static func getAddresses(host: String, port: Int, family: CInt = AF_UNSPEC) -> Result<[SocketAddress], WebSocketError> {
        var hints = addrinfo()
        hints.ai_family = family
        hints.ai_socktype = CInt(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0 else {
            let reason = status == EAI_SYSTEM ? errnoDescription(errno) : String(cString: gai_strerror(status))
            return .failure(WebSocketError(.hostNameNotResolved, "could not resolve host '\(host)': \(reason)"))
        }
        defer { freeaddrinfo(list) }
        var addresses: [SocketAddress] = []
        var entry = list
        while let info = entry?.pointee {
            if let address = info.ai_addr, info.ai_family == AF_INET || info.ai_family == AF_INET6 {
                addresses.append(SocketAddress(address, length: info.ai_addrlen))
            }
            entry = info.ai_next
        }
        guard !addresses.isEmpty else {
            return .failure(WebSocketError(.hostNameNotResolved, "host '\(host)' has no IPv4 or IPv6 address"))
        }
        return .success(addresses)
    }

    /// One lookup: the continuation is resumed exactly once, by the thread or by cancellation.
    private final class Lookup: Sendable {
        let host: String
        let port: Int
        let family: CInt
        private let state = Lock<(continuation: UnsafeContinuation<[SocketAddress], any Error>?, cancelled: Bool)>((nil, false))

        init(host: String, port: Int, family: CInt = AF_UNSPEC) {
            self.host = host
            self.port = port
            self.family = family
        }

        func start(_ continuation: UnsafeContinuation<[SocketAddress], any Error>) {
            let cancelled = state.withLock { state -> Bool in
                if state.cancelled || Task.isCancelled { return true }
                state.continuation = continuation
                return false
            }
            if cancelled {
                continuation.resume(throwing: Self.cancelledError(host))
                return
            }
            let started = startDetachedThread(name: "ws-resolver") { [self] in
                finish(NameResolution.getAddresses(host: host, port: port, family: family))
            }
            if !started {
                finish(.failure(WebSocketError(.hostNameNotResolved, "could not start a thread to resolve '\(host)'")))
            }
        }

        func cancel() {
            let continuation = state.withLock { state in
                state.cancelled = true
                defer { state.continuation = nil }
                return state.continuation
            }
            continuation?.resume(throwing: Self.cancelledError(host))
        }

        private func finish(_ result: Result<[SocketAddress], WebSocketError>) {
            let continuation = state.withLock { state in
                defer { state.continuation = nil }
                return state.continuation
            }
            switch result {
            case .success(let addresses): continuation?.resume(returning: addresses)
            case .failure(let error): continuation?.resume(throwing: error)
            }
        }

        private static func cancelledError(_ host: String) -> WebSocketError {
            WebSocketError(.operationCanceled, "resolving '\(host)' was cancelled")
        }
    }
}
