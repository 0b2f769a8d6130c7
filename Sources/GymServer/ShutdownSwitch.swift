import Synchronization

/// Lets `POST /v1/shutdown/` stop the server, when the operator allowed it.
public final class ShutdownSwitch: Sendable {
    public let isAllowed: Bool
    private let action = Mutex<(@Sendable () -> Void)?>(nil)

    public init(allowed: Bool) { self.isAllowed = allowed }

    /// What `trigger` does: set once the server's service group exists.
    public func onTrigger(_ body: @escaping @Sendable () -> Void) {
        action.withLock { $0 = body }
    }

    public func trigger() {
        let body = action.withLock { $0 }
        body?()
    }
}
