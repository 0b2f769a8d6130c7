import GymCore

/// Every error a call can end in, whatever brought the call: what the client got wrong, an
/// instance it cannot see, a limit, what the environment or instance refused. It carries each
/// transport's rendering, so that a REST answer, a batch item and a WebSocket close say the same:
///
/// - REST: `statusCode` and `{"message": ..., "error": ...}` (`body`), with `headers`;
/// - a batch item: `{"error": ..., "message": ..., "status": ...}` in the item's place (`batchItem`);
/// - Gymie's WebSocket: a close code and reason (`gymieClose`), Gymie's own words where Gymie
///   had some ("Parameters `...` are wrong", "Instance `...` not found"), the message otherwise.
public struct CallError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The request or message itself: a missing or malformed parameter, a body that is not JSON.
        case request
        /// An instance id the caller cannot use: unknown, closed, expired, or another key's.
        case unknownInstance(id: String, expiredAfterSeconds: Int?)
        /// A limit of the server (instances, concurrent archives): try again later.
        case limit
        /// The environment or instance refused the call (an action outside the space, a step
        /// before a reset, a monitor rule), or a worker that serves it failed (503).
        case refused
        /// A key that is missing, unknown or not allowed (401, 403).
        case access
        /// Not the client's doing: a bug, answered 500 and logged.
        case `internal`
    }

    public let kind: Kind
    public let message: String
    /// The HTTP status of the REST answer and of the batch item.
    public let statusCode: Int
    /// Extra HTTP header lines of the REST answer (`Retry-After`, `WWW-Authenticate`).
    public var headers: [(name: String, value: String)] = []

    public init(_ message: String, kind: Kind = .request, status: Int = 400, headers: [(name: String, value: String)] = []) {
        self.message = message
        self.kind = kind
        self.statusCode = status
        self.headers = headers
    }

    /// Any error as a call's error: one of these as it is; the service's own errors by kind.
    public init(_ error: any Error) {
        switch error {
        case let error as CallError:
            self = error
        case let error as GymError:
            self.init(error.message, kind: .refused, status: error.status)
        case let error as InstanceLookupError:
            self.init(error.message, kind: .unknownInstance(id: error.instanceID, expiredAfterSeconds: error.expiredAfterSeconds))
        case let error as LimitReached:
            self.init(error.message, kind: .limit, status: 429)
        default:
            self.init("Internal error: \(error)", kind: .internal, status: 500)
        }
    }

    public var description: String { message }

    public static func == (lhs: CallError, rhs: CallError) -> Bool {
        lhs.kind == rhs.kind && lhs.message == rhs.message && lhs.statusCode == rhs.statusCode
            && lhs.headers.map(\.name) == rhs.headers.map(\.name) && lhs.headers.map(\.value) == rhs.headers.map(\.value)
    }

    /// The REST answer's body, as the gym servers wrote their errors.
    public var body: JSON { ["message": .string(message), "error": .string(message)] }

    /// The error in a batch item's place.
    public var batchItem: Answer { .failure(message: message, status: statusCode) }

    /// Gymie's close: its code and reason. `parameters` is the message's `params` as Python's
    /// `str` shows them (Gymie's "Parameters `...` are wrong"), `instance` the id as sent.
    public func gymieClose(parameters: @autoclosure () -> String, instance: (String) -> String = { $0 }) -> (code: UInt16, reason: String) {
        switch kind {
        case .request:
            return (1007, "Parameters `\(parameters())` are wrong")
        case .unknownInstance(let id, let expired?):
            return (1007, "Instance `\(instance(id))` expired after \(expired) s without a request")
        case .unknownInstance(let id, nil):
            return (1007, "Instance `\(instance(id))` not found")
        case .limit:
            return (1008, message)
        case .refused, .access, .internal:
            return (1007, message)
        }
    }
}

extension JSONWriter {
    /// The JSON text of a client's value for an error message, cut to a readable length.
    public static func shortString(_ value: JSON, limit: Int = 200) -> String {
        let text = string(value)
        guard text.count > limit else { return text }
        return String(text.prefix(limit)) + "..."
    }
}
