import WebSockets

/// `--executor loop|pool`, shared by `bench` and `serve`.
extension Arguments {
    /// Where the command's per-connection tasks run: `loop` (the default) on the connections' event
    /// loop (``MessageWebSocket/eventLoopExecutor``), `pool` on Swift's global pool (`nil`: no
    /// preference, as a plain `Task`).
    func executor() throws(CLIError) -> (any TaskExecutor)? {
        switch string("executor") ?? "loop" {
        case "loop": return MessageWebSocket.eventLoopExecutor
        case "pool": return nil
        default: throw CLIError("--executor must be loop or pool")
        }
    }
}
