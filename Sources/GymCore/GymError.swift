/// An error a client caused and can act on: the server answers it as a 400 with this message,
/// or, for `.unavailable` (a bridged environment's worker died or hung), as a 503.
public struct GymError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    /// The HTTP status the API answers with: 400, or 503 for `.unavailable`.
    public let status: Int

    public init(_ message: String) {
        self.message = message
        self.status = 400
    }

    private init(message: String, status: Int) {
        self.message = message
        self.status = status
    }

    /// A failure of what serves the environment, not of the request: a worker process that died
    /// or stopped answering (503). The instance can be reset (a new worker) or closed.
    public static func unavailable(_ message: String) -> GymError {
        GymError(message: message, status: 503)
    }

    public var description: String { message }
}
