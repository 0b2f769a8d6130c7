import Dispatch
import Foundation
import Synchronization

/// What a reset or a step answers, kept typed until it is written: as JSON (`JSONWriter.write`),
/// or as MessagePack with observations as packed arrays (`MessagePackWriter.write`). Keeping the
/// observations as values of their space, rather than as a tree of JSON numbers, is what lets a
/// vector of a thousand environments answer without building a thousand small arrays.
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

    public private(set) var fields: [String: Value]

    public init(_ fields: [String: Value]) {
        self.fields = fields
    }

    public subscript(key: String) -> Value? {
        get { fields[key] }
        set { fields[key] = newValue }
    }

    /// The answer as a JSON value (for the WebSocket protocol and the batch routes).
    public var json: JSON {
        .object(fields.mapValues(\.json))
    }

    /// One field as JSON.
    public func json(_ key: String) -> JSON? {
        fields[key]?.json
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
        // The fields sorted once, with their values: no lookup per key.
        for (index, field) in answer.fields.sorted(by: { $0.key < $1.key }).enumerated() {
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
        appendByte(UInt8(ascii: "["))
        for (index, key) in keys.enumerated() {
            if index > 0 { appendSeparator() }
            if let value = answer.fields[key] { write(value) } else { append("null") }
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
