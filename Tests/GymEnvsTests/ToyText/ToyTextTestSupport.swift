import Foundation
import GymCore
import GymEnvs
import Testing

/// Helpers the toy-text tests share.
enum ToyTextTesting {
    /// A registry holding the toy-text environments.
    static func registry() -> Registry {
        var registry = Registry()
        registry.registerToyText()
        return registry
    }

    /// The message of the GymError `body` throws, or nil (recording an issue) when it throws none.
    static func errorMessage(
        sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws(GymError) -> Void
    ) -> String? {
        do {
            try body()
            Issue.record("expected a GymError", sourceLocation: sourceLocation)
            return nil
        } catch {
            return error.message
        }
    }

    /// The message of the error of a `Registry.make` that should fail.
    static func makeError(_ id: String, _ kwargs: [String: JSON], sourceLocation: SourceLocation = #_sourceLocation) -> String {
        errorMessage(sourceLocation: sourceLocation) { () throws(GymError) in
            _ = try registry().make(id, kwargs: kwargs)
        } ?? ""
    }

    /// Steps with one action until the episode ends or `limit` steps pass; the number of steps
    /// and the last result.
    static func stepUntilDone(_ env: inout WrappedEnvironment, action: JSON, limit: Int) throws -> (steps: Int, last: StepResult?) {
        var last: StepResult?
        for step in 1...limit {
            let result = try env.step(json: action)
            last = result
            if result.done { return (step, last) }
        }
        return (limit, last)
    }
}
