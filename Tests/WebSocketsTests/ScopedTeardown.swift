import WebSocketServer

// Scoped, awaited teardown for tests: whatever a test starts (a server, a listener, a child
// process) is ended, and the ending awaited, before the test returns, whether its body returned or
// threw. (A shutdown started in an unstructured `Task` from a `defer` keeps running after the
// test, overlapping the next ones and hiding its failures.)

/// A test resource that can end itself; ``withTeardown(isolation:_:_:)`` awaits its ``tearDown()``.
protocol ScopedTeardown {
    /// Ends the resource and waits until it has ended.
    func tearDown() async
}

extension WebSocketServer: ScopedTeardown {
    /// ``WebSocketServer/shutDown(timeout:)`` with its default timeout.
    func tearDown() async { await shutDown() }
}

extension WebSocketListener: ScopedTeardown {
    /// ``WebSocketListener/shutDown(timeout:)`` with its default timeout.
    func tearDown() async { await shutDown() }
}

extension ServeProcess: ScopedTeardown {
    /// SIGTERM, then waits for the process to exit (at once if it already has).
    func tearDown() async { await stop() }
}

/// Makes a resource, runs `body` with it, then awaits `tearDown` of it, whether `body` returned
/// or threw; returns what `body` returned or rethrows what it threw. When `make` throws there is
/// nothing to tear down, and its error is rethrown.
///
/// ```swift
/// try await withTeardown(await Self.connect(), tearDown: { listener, _, _ in await listener.shutDown() }) { _, client, context in
///     ...
/// }
/// ```
@discardableResult
func withTeardown<Resource, Result>(
    isolation: isolated (any Actor)? = #isolation,
    _ make: @autoclosure () async throws -> Resource,
    tearDown: (Resource) async -> Void,
    _ body: (Resource) async throws -> Result
) async throws -> Result {
    let resource = try await make()
    let result: Result
    do {
        result = try await body(resource)
    } catch {
        await tearDown(resource)
        throw error
    }
    await tearDown(resource)
    return result
}

/// ``withTeardown(isolation:_:tearDown:_:)`` for a resource that knows how to end itself:
///
/// ```swift
/// try await withTeardown(await WebSocketServer.echo()) { server in
///     ...
/// }  // the server has shut down here
/// ```
@discardableResult
func withTeardown<Resource: ScopedTeardown, Result>(
    isolation: isolated (any Actor)? = #isolation,
    _ make: @autoclosure () async throws -> Resource,
    _ body: (Resource) async throws -> Result
) async throws -> Result {
    try await withTeardown(isolation: isolation, await make(), tearDown: { await $0.tearDown() }, body)
}
