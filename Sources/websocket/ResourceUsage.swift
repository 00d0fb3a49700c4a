#if canImport(Glibc)
    import Glibc
#endif

/// This process's CPU time and context switches (`getrusage`), for the benchmark's cost line.
///
/// Why context switches: on a loopback round trip every thread wake-up is a switch, so their count
/// per round trip shows how many threads a message crosses (1 is the floor: the wait for the
/// socket), which throughput alone hides on an idle multi-core machine.
struct ResourceUsage {
    /// User plus system CPU time, in microseconds.
    var cpuMicroseconds: Double
    /// Voluntary plus involuntary context switches.
    var contextSwitches: Int

    static func now() -> ResourceUsage {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let cpu =
            Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1e6
            + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec)
        return ResourceUsage(cpuMicroseconds: cpu, contextSwitches: usage.ru_nvcsw + usage.ru_nivcsw)
    }

    /// `rusage csw_per_op=… cpu_us_per_op=… ops=…` for the window since `start`.
    func line(since start: ResourceUsage, operations: Int) -> String {
        let count = Double(max(operations, 1))
        let switches = Double(contextSwitches - start.contextSwitches) / count
        let cpu = (cpuMicroseconds - start.cpuMicroseconds) / count
        return
            "rusage csw_per_op=\((switches * 100).rounded() / 100) cpu_us_per_op=\((cpu * 10).rounded() / 10) ops=\(operations)"
    }
}
