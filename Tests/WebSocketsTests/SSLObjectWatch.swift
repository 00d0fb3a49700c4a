import COpenSSL
import Synchronization
import WebSockets

/// Which OpenSSL `SSL` objects created since ``startWatching()`` are still alive, as OpenSSL
/// itself reports them: through an ex_data index whose `new_func` runs in every `SSL_new` and
/// whose `free_func` runs in every `SSL_free` (for every registered index, whether or not data was
/// set). Lets a leak test await "every session was freed" as an event; the library's own
/// `TLSTransport.liveSessionCount` is a bare counter, with nothing to wait on.
///
/// Process-wide: `SSL` objects of other tests running meanwhile are counted too, and are freed
/// when those tests end their connections.
enum SSLObjectWatch {
    private struct State {
        var watching = false
        var alive = 0
    }
    private static let state = Lock(State())
    private static let changes = StateSignal()

    /// The index, registered on first use (OpenSSL keeps it for the life of the process).
    private static let index: Int32 = CRYPTO_get_ex_new_index(
        CRYPTO_EX_INDEX_SSL, 0, nil,
        { _, _, data, index, _, _ in SSLObjectWatch.created(data, index) },
        nil,
        { _, pointer, _, _, _, _ in SSLObjectWatch.freed(marked: pointer != nil) })

    /// From now on, counts the `SSL` objects created and which of them are freed.
    static func startWatching() {
        precondition(index > 0, "CRYPTO_get_ex_new_index failed")
        state.withLock { $0.watching = true }
    }

    /// Returns once every `SSL` object created since ``startWatching()`` has been freed (at once
    /// if so now), and stops watching at that moment (so that objects other tests create later
    /// are not counted).
    static func waitUntilNoneAlive() async {
        _ = await changes.wait {
            state.withLock { state in
                guard state.alive == 0 else { return false }
                state.watching = false
                return true
            }
        }
    }

    private static func created(_ data: UnsafeMutablePointer<CRYPTO_EX_DATA>?, _ index: Int32) {
        state.withLock { state in
            guard state.watching else { return }
            // Any non-null pointer marks the object as one created while watching.
            _ = CRYPTO_set_ex_data(data, index, UnsafeMutableRawPointer(bitPattern: 1))
            state.alive += 1
        }
    }

    private static func freed(marked: Bool) {
        guard marked else { return }
        state.withLock { $0.alive -= 1 }
        changes.notify()
    }
}
