import Synchronization

/// What the ``MessageWebSocketControl/serverCustomValidation`` hook is shown (WinRT
/// `WebSocketServerCustomValidationRequestedEventArgs`).
public struct ServerValidationRequest: Sendable, Hashable {
    /// The host name (or IP address) being connected to.
    public let serverName: String
    /// The certificate the server presented.
    public let serverCertificate: Certificate
    /// The other certificates the server sent, in its order (intermediates, possibly a root).
    public let serverIntermediateCertificates: [Certificate]
    /// The problems the default validation found that were listed as ignorable (otherwise the
    /// hook would not run). Empty when the chain is fully valid.
    public let serverCertificateErrors: [ChainValidationResult]
    /// The same problems with their depth and OpenSSL's description.
    public let serverCertificateProblems: [CertificateProblem]
    /// The severity of ``serverCertificateErrors``.
    public let serverCertificateErrorSeverity: SSLErrorSeverity
}

/// The hook's verdict. There is no third option: a thrown error rejects.
public enum ServerValidationDecision: Sendable, Hashable {
    /// Continue the TLS handshake: the certificate is trusted.
    case accept
    /// Fail it: `connect` throws `.serverCertificateRejected` and the server gets a TLS alert.
    case reject
}

/// The server-certificate hook: runs during the TLS handshake, which waits for it (the `async`
/// return is the deferral). `.reject` or a thrown error fails `connect` with
/// `.serverCertificateRejected`, and only a TLS alert is sent to the server.
public typealias ServerValidationHandler = @Sendable (ServerValidationRequest) async throws -> ServerValidationDecision

/// The event-style view of a validation request, for callback-based code (WinRT's event args
/// with `Reject()` and `GetDeferral()`). Make a hook from a callback with
/// ``ServerValidationEvent/handler(_:)``.
///
/// Accept is implicit: the server is accepted unless ``reject()`` is called before the callback
/// returns or before the last deferral taken completes.
public final class ServerValidationEvent: Sendable {
    /// The request being decided.
    public let request: ServerValidationRequest

    private struct State {
        var rejected = false
        var outstanding = 0
        var callbackReturned = false
        var waiter: CheckedContinuation<Void, Never>?
    }
    private let state = Lock(State())

    init(request: ServerValidationRequest) {
        self.request = request
    }

    /// Rejects the server. There is no accept: not rejecting accepts.
    public func reject() {
        state.withLock { $0.rejected = true }
    }

    /// Takes a deferral: the handshake waits until it is completed. Call
    /// ``ValidationDeferral/complete()`` exactly once, whether accepting or rejecting; a deferral
    /// never completed makes `connect` fail with `.timeout` when
    /// ``MessageWebSocketControl/openTimeout`` expires. (WinRT `GetDeferral()`, named as a Swift
    /// factory method: each call makes a new deferral the handshake waits for.)
    public func makeDeferral() -> ValidationDeferral {
        state.withLock { $0.outstanding += 1 }
        return ValidationDeferral(event: self)
    }

    fileprivate func deferralCompleted() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.outstanding -= 1
            guard state.outstanding == 0, state.callbackReturned else { return nil }
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    /// Waits until the callback returned and every deferral completed (or the task is cancelled).
    private func decision() async throws -> ServerValidationDecision {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    state.callbackReturned = true
                    if state.outstanding == 0 || Task.isCancelled { return true }
                    state.waiter = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume()
        }
        try Task.checkCancellation()
        return state.withLock { $0.rejected } ? .reject : .accept
    }

    /// Adapts a callback taking the event into a ``ServerValidationHandler``. The handshake waits
    /// until `callback` returned and every deferral it took completed.
    ///
    /// ```swift
    /// control.serverCustomValidation = ServerValidationEvent.handler { event in
    ///     let deferral = event.makeDeferral()
    ///     legacyCheck(event.request.serverCertificate.derBytes) { ok in
    ///         if !ok { event.reject() }
    ///         try? deferral.complete()
    ///     }
    /// }
    /// ```
    public static func handler(_ callback: @escaping @Sendable (ServerValidationEvent) -> Void) -> ServerValidationHandler {
        { request in
            let event = ServerValidationEvent(request: request)
            callback(event)
            return try await event.decision()
        }
    }
}

/// A pending validation step (WinRT `Deferral`). ``complete()`` must be called once.
public final class ValidationDeferral: Sendable {
    private let event: ServerValidationEvent
    private let completed = Lock(false)

    fileprivate init(event: ServerValidationEvent) {
        self.event = event
    }

    /// Ends this deferral. A second call is a programming error and throws `.invalidState`
    /// (WinRT throws too); it has no other effect.
    public func complete() throws(WebSocketError) {
        let first = completed.withLock { done -> Bool in
            defer { done = true }
            return !done
        }
        guard first else {
            throw WebSocketError(.invalidState, "ValidationDeferral.complete() was called twice")
        }
        event.deferralCompleted()
    }
}
