import Dispatch
import Foundation
import Synchronization

/// What a reset or a step answers, kept typed until it is written: as JSON (`JSONWriter.write`),
/// or as MessagePack with observations as packed arrays (`MessagePackWriter.write`). Keeping the
/// observations as values of their space, rather than as a tree of JSON numbers, is what lets a
/// vector of a thousand environments answer without building a thousand small arrays.
///
/// Its fields are those of the call that made it (`reset`, `step`), or a batch item's error
/// (`failure`); `fields` lists them by name in the order they are written (sorted by name, as the
/// Python servers' `json.dumps(..., sort_keys=True)` wrote them).
public struct Answer: Sendable {
    public enum Value: Sendable {
        case json(JSON)
        /// One value of a space, written as the space writes it (`Space.json`).
        case value(Space, SpaceValue)
        /// N values of a space, laid out as `batch_space` lays them out (`Space.batchedJSON`).
        case batch(Space, [SpaceValue])
        case doubles([Double])
        case bools([Bool])
    }

    public enum Body: Sendable {
        case reset(observation: Value, info: Value)
        case step(observation: Value, reward: Value, done: Value, terminated: Value, truncated: Value, info: Value)
        /// A batch item that failed: `{error, message, status}`.
        case failure(message: String, status: Int)
    }

    public var body: Body
    /// The frame written for `render: true` (`successfully rendered: N.png`).
    public var render: String?

    public init(_ body: Body, render: String? = nil) {
        self.body = body
        self.render = render
    }

    public static func reset(observation: Value, info: Value) -> Answer {
        Answer(.reset(observation: observation, info: info))
    }

    public static func step(observation: Value, reward: Value, done: Value, terminated: Value, truncated: Value, info: Value) -> Answer {
        Answer(.step(observation: observation, reward: reward, done: done, terminated: terminated, truncated: truncated, info: info))
    }

    public static func failure(message: String, status: Int) -> Answer {
        Answer(.failure(message: message, status: status))
    }

    /// The observation of a reset or step.
    public var observation: Value? {
        switch body {
        case .reset(let observation, _), .step(let observation, _, _, _, _, _): return observation
        case .failure: return nil
        }
    }

    /// The fields by name, in the order they are written (sorted by name).
    public var fields: [(key: String, value: Value)] {
        let rendered = render.map { Value.json(.string($0)) }
        switch body {
        case .reset(let observation, let info):
            guard let rendered else { return [("info", info), ("observation", observation)] }
            return [("info", info), ("observation", observation), ("render", rendered)]
        case .step(let observation, let reward, let done, let terminated, let truncated, let info):
            var fields: [(key: String, value: Value)] = [("done", done), ("info", info), ("observation", observation)]
            if let rendered { fields.append(("render", rendered)) }
            fields.append(contentsOf: [("reward", reward), ("terminated", terminated), ("truncated", truncated)])
            return fields
        case .failure(let message, let status):
            return [("error", .json(.string(message))), ("message", .json(.string(message))), ("status", .json(.int(status)))]
        }
    }

    /// The answer as a JSON value (for the WebSocket protocol and the batch routes).
    public var json: JSON {
        .object(Dictionary(fields.map { ($0.key, $0.value.json) }, uniquingKeysWith: { first, _ in first }))
    }

    /// One field as JSON.
    public func json(_ key: String) -> JSON? {
        fields.first { $0.key == key }?.value.json
    }
}

extension Answer.Value {
    public var json: JSON {
        switch self {
        case .json(let json): return json
        case .value(let space, let value): return space.json(value)
        case .batch(let space, let values): return space.batchedJSON(values)
        case .doubles(let values): return .array(values.map(JSON.double))
        case .bools(let values): return .array(values.map(JSON.bool))
        }
    }
}

extension JSONWriter {
    /// Writes an answer as the JSON object of its fields (sorted keys), observations written
    /// straight from their values.
    public mutating func write(_ answer: Answer) {
        append("{")
        for (index, field) in answer.fields.enumerated() {
            if index > 0 { appendSeparator() }
            write(field.key)
            appendByte(UInt8(ascii: ":"))
            appendByte(UInt8(ascii: " "))
            write(field.value)
        }
        append("}")
    }

    /// Writes the fields `keys` of an answer as a JSON list, each as `write(_: Answer)` writes it
    /// (`null` for a field it lacks): Gymie's `[observation, reward, done, info]`.
    public mutating func writeList(_ answer: Answer, _ keys: [String]) {
        let fields = answer.fields
        appendByte(UInt8(ascii: "["))
        for (index, key) in keys.enumerated() {
            if index > 0 { appendSeparator() }
            if let value = fields.first(where: { $0.key == key })?.value { write(value) } else { append("null") }
        }
        appendByte(UInt8(ascii: "]"))
    }

    /// One field of an answer, observations written straight from their values.
    public mutating func write(_ value: Answer.Value) {
        switch value {
        case .json(let json): write(json)
        case .value(let space, let value): space.write(value, into: &self)
        case .batch(let space, let values): space.writeBatched(values, into: &self)
        case .doubles(let values):
            appendByte(UInt8(ascii: "["))
            for (i, value) in values.enumerated() {
                if i > 0 { appendSeparator() }
                write(value)
            }
            appendByte(UInt8(ascii: "]"))
        case .bools(let values):
            appendByte(UInt8(ascii: "["))
            for (i, value) in values.enumerated() {
                if i > 0 { appendSeparator() }
                append(value ? StaticString("true") : StaticString("false"))
            }
            appendByte(UInt8(ascii: "]"))
        }
    }

    public static func encode(_ answer: Answer) -> [UInt8] {
        var writer = JSONWriter(reservingCapacity: 256)
        writer.write(answer)
        return writer.bytes
    }
}

extension Space {
    /// Writes `value` as `json(value)` would, without building it.
    public func write(_ value: SpaceValue, into writer: inout JSONWriter) {
        switch (self, value) {
        case (.discrete, .int(let i)):
            writer.write(i)
        case (.box(let box), .floats(let values)):
            var index = 0
            Self.writeNested(shape: box.shape[...], into: &writer) { writer in
                writer.write(values[index])
                index += 1
            }
        case (.box(let box), .ints(let values)):
            var index = 0
            Self.writeNested(shape: box.shape[...], into: &writer) { writer in
                writer.write(values[index])
                index += 1
            }
        case (.multiBinary(let shape), .ints(let values)):
            var index = 0
            Self.writeNested(shape: shape[...], into: &writer) { writer in
                writer.write(values[index])
                index += 1
            }
        default:
            writer.write(json(value))
        }
    }

    /// Writes `values` as `batchedJSON(values)` would, without building it. A large batch is
    /// written in slices on all cores at once.
    public func writeBatched(_ values: [SpaceValue], into writer: inout JSONWriter) {
        switch self {
        case .tuple, .dict:
            writer.write(batchedJSON(values))
            return
        default:
            break
        }
        writer.appendByte(UInt8(ascii: "["))
        let slices = values.count >= Self.parallelBatch ? ProcessInfo.processInfo.activeProcessorCount : 1
        if slices > 1 {
            let size = (values.count + slices - 1) / slices
            var parts = [JSONWriter](repeating: JSONWriter(reservingCapacity: 0), count: slices)
            parts.withUnsafeMutableBufferPointer { buffer in
                // Each slice writes only its own element of `parts`.
                nonisolated(unsafe) let slots = buffer
                DispatchQueue.concurrentPerform(iterations: slices) { slice in
                    var part = JSONWriter(reservingCapacity: size * 96)
                    for index in (slice * size)..<min(values.count, (slice + 1) * size) {
                        if index > slice * size { part.appendSeparator() }
                        write(values[index], into: &part)
                    }
                    slots[slice] = part
                }
            }
            for (slice, part) in parts.enumerated() where !part.bytes.isEmpty {
                if slice > 0 { writer.appendSeparator() }
                writer.append(part)
            }
        } else {
            for (index, value) in values.enumerated() {
                if index > 0 { writer.appendSeparator() }
                write(value, into: &writer)
            }
        }
        writer.appendByte(UInt8(ascii: "]"))
    }

    /// From this many values on, a batch is written in parallel.
    static let parallelBatch = 256

    /// Nested lists of `shape`, the elements written by `element` in row-major order.
    private static func writeNested(shape: ArraySlice<Int>, into writer: inout JSONWriter, _ element: (inout JSONWriter) -> Void) {
        guard let count = shape.first else {
            element(&writer)
            return
        }
        writer.appendByte(UInt8(ascii: "["))
        for index in 0..<count {
            if index > 0 { writer.appendSeparator() }
            writeNested(shape: shape.dropFirst(), into: &writer, element)
        }
        writer.appendByte(UInt8(ascii: "]"))
    }
}
