/// An error a client caused and can act on: the server answers it as a 400 with this message.
public struct GymError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String

    public init(_ message: String) { self.message = message }

    public var description: String { message }
}
