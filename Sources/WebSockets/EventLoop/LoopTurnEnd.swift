/// Something that wants to run once more before the loop next waits for I/O: a connection whose
/// sends made during this turn were queued, to be written together (one `sendmsg` for all).
package protocol LoopTurnEndAction: AnyObject, Sendable {
    /// Runs on the loop thread, after the turn's last job and before `epoll_wait`.
    func turnEnded()
}

/// The actions registered for the end of the loop's current turn (``EventLoop/atEndOfTurn(_:)``).
///
/// Why at the end of the turn: during one turn the loop runs every task that became ready, and on
/// a busy connection several of them send (a stream's sender answering the credits of a whole
/// read, a consumer echoing every message of it). Writing each frame as it is sent costs a
/// system call per message; writing them when the turn ends costs one for all, and adds no latency,
/// because nothing could have read the answer before the loop polls again anyway.
// @unchecked Sendable: `pending` and `running` are only touched by `add(_:)` and `runAll()`, both
// of which EventLoop calls only on its own thread (`atEndOfTurn` checks `inEventLoop`; `runAll`
// runs inside the loop's `run()`), and neither suspends: one thread, no overlap.
final class LoopTurnEnd: @unchecked Sendable {
    private var pending: [any LoopTurnEndAction] = []
    private var running: [any LoopTurnEndAction] = []

    init() {}

    var isEmpty: Bool { pending.isEmpty }

    /// Registers `action`; returns whether it is the first of this turn.
    func add(_ action: any LoopTurnEndAction) -> Bool {
        pending.append(action)
        return pending.count == 1
    }

    /// Runs every action registered so far, in order; actions registered meanwhile wait for the
    /// next turn's end (an action that registers again cannot keep the loop from polling).
    func runAll() {
        guard !pending.isEmpty else { return }
        swap(&pending, &running)
        for action in running { action.turnEnded() }
        running.removeAll(keepingCapacity: true)
    }
}

extension EventLoop {
    /// Runs `action.turnEnded()` on the loop thread once the jobs of the current turn have run,
    /// before the loop next waits for I/O. Only on the loop thread (it traps elsewhere). Register
    /// an action once per turn (keep a flag): each registration runs once.
    /// - Returns: whether this is the turn's first registration (nothing else is waiting for the
    ///   turn to end).
    @discardableResult
    package func atEndOfTurn(_ action: any LoopTurnEndAction) -> Bool {
        precondition(inEventLoop, "end-of-turn actions are registered on the loop thread")
        return turnEnd.add(action)
    }
}
