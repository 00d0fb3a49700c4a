/// Running the application's message loop on the connections' event-loop thread.
extension MessageWebSocket {
    /// The executor of the event-loop thread that every connection's reads, protocol work and
    /// writes run on. Run a latency-critical message loop there with a task executor preference:
    ///
    /// ```swift
    /// try await withTaskExecutorPreference(MessageWebSocket.eventLoopExecutor) {
    ///     for try await message in socket.messages {
    ///         try await socket.send(message)
    ///     }
    /// }
    /// // or: Task(executorPreference: MessageWebSocket.eventLoopExecutor) { ... }
    /// ```
    ///
    /// Why: by default the code iterating ``messages`` runs on Swift's global thread pool, so each
    /// received message wakes a pool thread, and each `send` from it hops back to the loop thread
    /// and wakes it. On the loop, receiving a message, handling it and writing the answer happen on
    /// one thread, in one turn of the loop: a round trip costs one wait for the socket instead of
    /// about four thread wake-ups, which roughly halves the CPU time of small messages.
    ///
    /// The rule: code run there must never block the thread and must not compute for long (a
    /// database call, a synchronous file read, a long loop), because while it runs no connection
    /// of the process reads or writes. Awaiting is fine: sends that must wait for the socket, and
    /// waits for the next message, suspend without holding the thread. Move heavy work elsewhere
    /// (a plain `Task` or a `Task.detached`).
    public static var eventLoopExecutor: any TaskExecutor { EventLoop.shared.taskExecutor }
}
