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
let arguments = Array(CommandLine.arguments.dropFirst())
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
    case "-h", "--help", "help":
        Output.out(ClientCommand.usage)
        Output.out("       websocket serve [--port N] [--host H] [--tls-cert PATH --tls-key PATH] [--compression on|off]")
        Output.out("                       [--mode message|fragment] [--max-message-size N] [--ping-interval S]")
        Output.out("                       [--max-connections N] [--max-concurrent-handshakes N] [--max-header-count N]")
        Output.out("                       [--handshake-timeout S] [--idle-timeout S]")
        Output.out("       websocket bench --url URL --size BYTES --seconds S --mode rtt|stream [--conns C]")
        Output.out("       websocket autobahn [--url ws://127.0.0.1:9001] [--agent NAME] [--cases PATTERN] [--echo messages|fragments]")
        Output.out("       websocket idle --url URL --connections N [--parallel P] [--compression on|off] [--watch-pid PID]")
        Output.out("       websocket soak [--url URL] [--cycles N] [--sample-every K] [--size BYTES] [--watch-pid PID]")
        Output.out("       websocket            (demo on an in-process echo server)")
        status = 0
    default:
        status = await ClientCommand.run(try Arguments(arguments, flagNames: ["binary"]))
    }
} catch {
    Output.fail(error)
}
exit(status)
