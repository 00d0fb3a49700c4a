import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// What the scale and soak commands measure, from `/proc` (Linux): open descriptors and resident
/// memory of this process or of another one (`--watch-pid`, the server of a cross-process run).
enum ProcessResources {
    /// Raises this process's soft limit on open descriptors to its hard limit (10,000 connections
    /// need more than the usual 1,024) and returns the limit now in force.
    @discardableResult
    static func raiseDescriptorLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return -1 }
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
            _ = getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        return Int(clamping: limit.rlim_cur)
    }

    /// How many descriptors the process has open (entries of `/proc/<pid>/fd`, without `.` and
    /// `..`); -1 when it cannot be read.
    static func openDescriptors(of pid: Int32? = nil) -> Int {
        guard let directory = opendir(procPath(pid) + "/fd") else { return -1 }
        defer { closedir(directory) }
        var count = 0
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { count += 1 }
        }
        return count
    }

    /// Resident set size in KiB (`VmRSS` of `/proc/<pid>/status`); -1 when it cannot be read.
    static func residentKiB(of pid: Int32? = nil) -> Int {
        guard let status = try? String(contentsOfFile: procPath(pid) + "/status", encoding: .utf8) else { return -1 }
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? -1
        }
        return -1
    }

    private static func procPath(_ pid: Int32?) -> String {
        pid.map { "/proc/\($0)" } ?? "/proc/self"
    }

    /// `fds=… rss_kb=…` of this process, with `server_fds=… server_rss_kb=…` of `watched`.
    static func sample(watching watched: Int32?) -> String {
        var line = "fds=\(openDescriptors()) rss_kb=\(residentKiB())"
        if let watched {
            line += " server_fds=\(openDescriptors(of: watched)) server_rss_kb=\(residentKiB(of: watched))"
        }
        return line
    }
}

extension Arguments {
    /// `--watch-pid PID`: another process (the server) to sample beside this one.
    func watchedProcess() throws(CLIError) -> Int32? {
        guard let pid = try int("watch-pid") else { return nil }
        guard pid > 0, let pid32 = Int32(exactly: pid) else { throw CLIError("--watch-pid expects a process id") }
        return pid32
    }
}
