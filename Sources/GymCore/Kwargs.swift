/// The keyword arguments a client passed for `gymnasium.make`, read one by one so that unknown
/// and ill-typed arguments become errors that name them.
public struct Kwargs: Sendable {
    private var remaining: [String: JSON]
    public let envID: String

    public init(_ values: [String: JSON], envID: String) {
        self.remaining = values
        self.envID = envID
    }

    private mutating func take(_ name: String) -> JSON? {
        guard let value = remaining.removeValue(forKey: name), !value.isNull else { return nil }
        return value
    }

    private func wrongType(_ name: String, _ expected: String, _ got: JSON) -> GymError {
        GymError("Argument '\(name)' of \(envID) must be \(expected), got \(JSONWriter.string(got))")
    }

    public mutating func bool(_ name: String, default value: Bool) throws(GymError) -> Bool {
        guard let json = take(name) else { return value }
        guard let b = json.boolValue else { throw wrongType(name, "a boolean", json) }
        return b
    }

    public mutating func double(_ name: String, default value: Double) throws(GymError) -> Double {
        guard let json = take(name) else { return value }
        guard let d = json.doubleValue, d.isFinite else { throw wrongType(name, "a finite number", json) }
        return d
    }

    public mutating func string(_ name: String, default value: String?) throws(GymError) -> String? {
        guard let json = take(name) else { return value }
        guard let s = json.stringValue else { throw wrongType(name, "a string", json) }
        return s
    }

    /// A value of any JSON form, for arguments the caller validates itself.
    public mutating func raw(_ name: String) -> JSON? { take(name) }

    /// Throws for the arguments nobody asked for.
    public func finish() throws(GymError) {
        guard remaining.isEmpty else {
            let names = remaining.keys.sorted().map { "'\($0)'" }.joined(separator: ", ")
            throw GymError("Unknown argument\(remaining.count > 1 ? "s" : "") \(names) for \(envID)")
        }
    }
}
