import Synchronization

/// Numbers for ``WebSocketEvent/connectionID``, process-wide, from 1.
private let connectionNumbers = Atomic<UInt64>(0)

/// A connection's handler and number: what an event site needs. The engine holds it as an optional
/// and every site is `if let events { events.emit(...) }`, so nothing is built when no handler is set.
package struct EventEmitter: Sendable {
    let handler: WebSocketEventHandler
    package let connectionID: UInt64

    /// An emitter with a new connection number, or `nil` (nothing to report to) without a handler.
    package init?(_ handler: WebSocketEventHandler?) {
        guard let handler else { return nil }
        self.handler = handler
        connectionID = connectionNumbers.add(1, ordering: .relaxed).newValue
    }

    /// Calls the handler now, on this thread.
    package func emit(_ kind: WebSocketEvent.Kind) {
        handler(WebSocketEvent(connectionID: connectionID, kind: kind))
    }
}

/// A handler compared by identity, so that settings holding one stay `Hashable`.
final class EventHandlerBox: Sendable, Hashable {
    let handler: WebSocketEventHandler
    init(_ handler: @escaping WebSocketEventHandler) { self.handler = handler }
    static func == (lhs: EventHandlerBox, rhs: EventHandlerBox) -> Bool { lhs === rhs }
    func hash(into hasher: inout Hasher) { hasher.combine(ObjectIdentifier(self)) }
}

extension Message {
    /// The payload's size in bytes (UTF-8 for text), without copying it.
    var payloadSize: Int {
        switch self {
        case .text(let text): text.utf8.count
        case .binary(let bytes): bytes.count
        }
    }
}
