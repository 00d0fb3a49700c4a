import Dispatch
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `websocket`: a scriptable WebSocket client, echo server, benchmark and demo.
///
///     websocket                      the demo on an in-process loopback echo server
///     websocket URL [options]        stdin lines out, received messages on stdout
///     websocket serve [--port N]     echo server (WebSocketListener)
///     websocket bench --url URL ...  client benchmark
///     websocket autobahn [...]       Autobahn TestSuite client (echo every case)
///     websocket idle --url URL ...   scale: N idle connections and their memory
///     websocket soak [--url URL] ... leak check: connect/echo/close cycles, fds and RSS sampled
///     websocket udp HOST PORT        stdin lines out as datagrams, received datagrams on stdout
///     websocket tcp HOST PORT [--tls] / tcp --listen PORT   stdin/stdout over a StreamSocket
func runCommand(_ arguments: [String]) async -> Int32 {
    let status: Int32
    do {
        switch arguments.first {
        case nil:
            status = await DemoCommand.run()
        case "serve":
            status = await ServeCommand.run(try Arguments(Array(arguments.dropFirst()), flagNames: []))
        case "bench":
            status = await BenchCommand.run(try Arguments(Array(arguments.dropFirst()), flagNames: []))
        case "autobahn":
            status = await AutobahnCommand.run(try Arguments(Array(arguments.dropFirst()), flagNames: []))
        case "idle":
            status = await IdleCommand.run(try Arguments(Array(arguments.dropFirst()), flagNames: []))
        case "soak":
            status = await SoakCommand.run(try Arguments(Array(arguments.dropFirst()), flagNames: []))
        case "udp":
            status = await UDPCommand.run(try Arguments(Array(arguments.dropFirst()), flagNames: []))
        case "tcp":
            status = await TCPCommand.run(try Arguments(Array(arguments.dropFirst()), flagNames: ["tls"]))
        case "-h", "--help", "help":
            Output.out(ClientCommand.usage)
            Output.out("       websocket serve [--port N] [--host H] [--tls-cert PATH --tls-key PATH] [--compression on|off]")
            Output.out("                       [--mode message|fragment] [--max-message-size N] [--ping-interval S]")
            Output.out("                       [--max-connections N] [--max-concurrent-handshakes N] [--max-header-count N]")
            Output.out("                       [--handshake-timeout S] [--idle-timeout S] [--executor loop|pool]")
            Output.out("       websocket bench --url URL --size BYTES --seconds S --mode rtt|stream [--conns C]")
            Output.out(
                "       websocket autobahn [--url ws://127.0.0.1:9001] [--agent NAME] [--cases PATTERN] [--echo messages|fragments]"
            )
            Output.out("       websocket idle --url URL --connections N [--parallel P] [--compression on|off] [--watch-pid PID]")
            Output.out("       websocket soak [--url URL] [--cycles N] [--sample-every K] [--size BYTES] [--watch-pid PID]")
            Output.out("       websocket udp HOST PORT")
            Output.out(TCPCommand.usage)
            Output.out("       websocket            (demo on an in-process echo server)")
            status = 0
        default:
            status = await ClientCommand.run(
                try Arguments(arguments, flagNames: ["binary", "verbose", "stream", "reconnect", "no-proxy"]))
        }
    } catch {
        Output.fail(error)
    }
    return status
}

// A synchronous entry point: the main thread waits for the command, which runs on the cooperative
// pool. Why not top-level `await`: that parks the main thread in libdispatch's `dispatch_main`,
// whose signal-suspend loop valgrind cannot run (it crashes at once, 3.19 and 3.24 alike), and
// `Scripts/bench.sh --callgrind` counts our instructions under valgrind. Nothing in the CLI uses
// the main actor, so blocking the main thread takes nothing away; the task is detached because
// top-level code is isolated to the main actor, which a plain `Task` would inherit (a deadlock).
let finished = DispatchSemaphore(value: 0)
let exitStatus = Atomic<Int32>(0)
Task.detached {
    exitStatus.store(await runCommand(Array(CommandLine.arguments.dropFirst())), ordering: .sequentiallyConsistent)
    finished.signal()
}
finished.wait()
exit(exitStatus.load(ordering: .sequentiallyConsistent))
