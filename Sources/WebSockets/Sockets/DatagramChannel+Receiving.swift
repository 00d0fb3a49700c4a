#if canImport(Glibc)
    import Glibc
#endif

extension DatagramChannel {
    /// What one `recvmsg` brought besides the bytes.
    struct Received {
        /// The datagram's real size (with `MSG_TRUNC` the kernel returns it even when it was
        /// larger than the buffer); more than the buffer means it was cut.
        var length: Int
        var remote: SocketEndpoint
        /// Where it was sent to (`IP_PKTINFO` / `IPV6_PKTINFO`), if the kernel said.
        var destination: SocketEndpoint?
        /// The kernel's running count of datagrams dropped for a full receive buffer
        /// (`SO_RXQ_OVFL`), if it said.
        var kernelDrops: Int?
    }

    /// Room for the ancillary data asked for: a pktinfo and a drop counter, with headers.
    private static let controlCapacity = 256

    /// Receives one datagram into `buffer` (`recvmsg` with `MSG_TRUNC`), waiting for one if none
    /// is queued. `localPort` fills in the destination's port (pktinfo carries the address only).
    /// - Throws: `SocketError(.closed)` once the socket is closed; the system's error otherwise
    ///   (an ICMP error the kernel reports on a connected socket, `.connectionRefused` say).
    func receive(
        into buffer: inout [UInt8], localPort: Int, isolation: isolated (any Actor)? = #isolation
    ) async throws(SocketError) -> Received {
        while true {
            let attempt: (Int, CInt, Received?)
            do {
                attempt = try registration.withDescriptor(for: .readable) { fd in
                    Self.receiveMessage(fd, into: &buffer, localPort: localPort)
                }
            } catch {
                throw SocketError(error)
            }
            let (count, code, received) = attempt
            if count >= 0, let received { return received }
            switch code {
            case EAGAIN, EWOULDBLOCK:
                do {
                    try await registration.waitReadableIgnoringCancellation(isolation: isolation)
                } catch {
                    throw SocketError(.closed, "the socket was closed")
                }
            case EINTR: continue
            default: throw SocketError(errno: code, "receive a datagram")
            }
        }
    }

    /// One `recvmsg`: the count (or -1), its `errno`, and the details on success.
    private static func receiveMessage(_ fd: CInt, into buffer: inout [UInt8], localPort: Int) -> (Int, CInt, Received?) {
        var name = sockaddr_storage()
        return buffer.withUnsafeMutableBytes { bytes in
            withUnsafeTemporaryAllocation(byteCount: controlCapacity, alignment: MemoryLayout<Int>.alignment) { control in
                var vector = iovec(iov_base: bytes.baseAddress, iov_len: bytes.count)
                return withUnsafeMutablePointer(to: &vector) { vector in
                    withUnsafeMutablePointer(to: &name) { namePointer in
                        var message = msghdr()
                        message.msg_name = UnsafeMutableRawPointer(namePointer)
                        message.msg_namelen = socklen_t(MemoryLayout<sockaddr_storage>.size)
                        message.msg_iov = vector
                        message.msg_iovlen = 1
                        message.msg_control = control.baseAddress
                        message.msg_controllen = control.count
                        let count = recvmsg(fd, &message, CInt(MSG_TRUNC))
                        guard count >= 0 else { return (count, errno, nil) }
                        let remote = namePointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                            SocketEndpoint.unmapping(SocketAddress($0, length: message.msg_namelen))
                        }
                        var received = Received(length: count, remote: remote)
                        parseControl(
                            UnsafeRawBufferPointer(start: control.baseAddress, count: Int(message.msg_controllen)),
                            localPort: localPort, into: &received)
                        return (count, 0, received)
                    }
                }
            }
        }
    }

    /// Walks the control messages (`CMSG_FIRSTHDR`/`CMSG_NXTHDR` by hand: Swift does not import
    /// the macros). Each starts with a `cmsghdr` (`size_t` length, `int` level, `int` type), its
    /// data follows at the next `size_t` boundary, and the next message at the next boundary after.
    private static func parseControl(_ control: UnsafeRawBufferPointer, localPort: Int, into received: inout Received) {
        let word = MemoryLayout<Int>.size
        func aligned(_ value: Int) -> Int { (value + word - 1) & ~(word - 1) }
        let header = aligned(word + 2 * MemoryLayout<CInt>.size)
        var offset = 0
        while offset + header <= control.count {
            let length = control.loadUnaligned(fromByteOffset: offset, as: Int.self)
            let level = control.loadUnaligned(fromByteOffset: offset + word, as: CInt.self)
            let type = control.loadUnaligned(fromByteOffset: offset + word + 4, as: CInt.self)
            guard length >= header, offset + length <= control.count else { return }
            let data = UnsafeRawBufferPointer(rebasing: control[(offset + header)..<(offset + length)])
            switch (level, type) {
            case (CInt(IPPROTO_IP), IP_PKTINFO) where data.count >= MemoryLayout<in_pktinfo>.size:
                var address = sockaddr_in()
                address.sin_family = sa_family_t(AF_INET)
                address.sin_port = in_port_t(UInt16(truncatingIfNeeded: localPort).bigEndian)
                address.sin_addr = data.loadUnaligned(as: in_pktinfo.self).ipi_addr
                received.destination = endpoint(of: address)
            case (CInt(IPPROTO_IPV6), IPV6_PKTINFO) where data.count >= MemoryLayout<in6_addr>.size + 4:
                // `struct in6_pktinfo` (hidden behind _GNU_SOURCE): the address, then the interface.
                var address = sockaddr_in6()
                address.sin6_family = sa_family_t(AF_INET6)
                address.sin6_port = in_port_t(UInt16(truncatingIfNeeded: localPort).bigEndian)
                address.sin6_addr = data.loadUnaligned(as: in6_addr.self)
                received.destination = endpoint(of: address)
            case (SOL_SOCKET, SO_RXQ_OVFL) where data.count >= 4:
                received.kernelDrops = Int(data.loadUnaligned(as: UInt32.self))
            default:
                break
            }
            offset += aligned(length)
        }
    }

    private static func endpoint<Address>(of address: Address) -> SocketEndpoint {
        withUnsafePointer(to: address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                SocketEndpoint.unmapping(SocketAddress($0, length: socklen_t(MemoryLayout<Address>.size)))
            }
        }
    }
}
