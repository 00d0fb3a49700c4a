import Testing
import WebSocketServer

@testable import WebSockets

/// Applications running their message loops on the connections' event-loop thread
/// (``MessageWebSocket/eventLoopExecutor``): the same behaviour as on the global pool.
@Suite("Application tasks on the event loop")
struct EventLoopExecutorTests {
    /// Echo server whose handlers run on the event loop too, so that both ends' application code,
    /// both connections' readers and writers all share the one loop thread.
    static func loopEchoServer() async throws -> WebSocketServer {
        var configuration = WebSocketServerConfiguration()
        configuration.runsHandlersOnEventLoop = true
        return try await WebSocketServer.start(configuration: configuration, handler: WebSocketServer.echoHandler)
    }

    @Test(
        "runsHandlersOnEventLoop: the server's handler runs on the loop thread; by default on the pool",
        arguments: [true, false])
    func serverHandlersRunWhereConfigured(onLoop: Bool) async throws {
        var configuration = WebSocketServerConfiguration()
        if onLoop { configuration.runsHandlersOnEventLoop = true }  // else the default
        let server = try await WebSocketServer.start(configuration: configuration) { socket in
            for try await _ in socket.messages {
                try await socket.send(text: "\(EventLoop.shared.inEventLoop)")
            }
        }
        try await withTeardown(server) { server in
            let socket = MessageWebSocket()
            try await socket.connect(to: server.url())
            var messages = socket.messages.makeAsyncIterator()
            try await socket.send(text: "where?")
            #expect(try await messages.next() == .text("\(onLoop)"))
            try await socket.close()
        }
    }

    @Test("a round trip's code runs on the loop thread and completes")
    func roundTripOnTheLoop() async throws {
        try await withTeardown(await Self.loopEchoServer()) { server in
            let socket = MessageWebSocket()
            try await socket.connect(to: server.url())
            try await withTaskExecutorPreference(MessageWebSocket.eventLoopExecutor) {
                var messages = socket.messages.makeAsyncIterator()
                for index in 0..<100 {
                    #expect(EventLoop.shared.inEventLoop)
                    try await socket.send(text: "message \(index)")
                    #expect(try await messages.next() == .text("message \(index)"))
                }
            }
            try await socket.close()
        }
    }

    /// The scenario blamed for a stall when handlers first ran on the loop: both ends send faster
    /// than the other reads, so every socket buffer on the path fills, and a writer waits for the
    /// reader of the other end, on the same thread. (The stall itself was the benchmark's: its
    /// stream mode sent all 64 messages before reading any echo, which deadlocks on any executor
    /// once both ends' buffers are full.) 512 KiB messages fit in `outboundBufferSize` and take
    /// the immediate send path, whose partial writes finish in the background; 1 MiB messages
    /// take the actor's path.
    @Test(
        "many large messages in flight both ways never stall with every task on the loop",
        .timeLimit(.minutes(1)), arguments: [1 << 19, 1 << 20])
    func largeMessagesBothWaysOnTheLoop(size: Int) async throws {
        try await withTeardown(await Self.loopEchoServer()) { server in
            let socket = MessageWebSocket()
            try await socket.connect(to: server.url())
            let payload = [UInt8](repeating: 0x5A, count: size)
            let count = 48 << 20 / size
            let received = try await withTaskExecutorPreference(MessageWebSocket.eventLoopExecutor) {
                let sender = Task(executorPreference: MessageWebSocket.eventLoopExecutor) {
                    for _ in 0..<count { try await socket.send(payload) }
                }
                var received = 0
                for try await message in socket.messages {
                    #expect(message == .binary(payload))
                    received += 1
                    if received == count { break }
                }
                try await sender.value
                return received
            }
            #expect(received == count)
            try await socket.close()
        }
    }
}
