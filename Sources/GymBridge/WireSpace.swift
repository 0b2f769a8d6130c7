import GymCore

/// A space as a worker describes it (PROTOCOL.md §6): GymCore's `Space` plus what the wire
/// needs that `Space` does not keep (the dtype of Discrete and MultiDiscrete values, the shape
/// of MultiDiscrete), and the raw little-endian layout of its values both ways.
public indirect enum WireSpace: Sendable, Equatable {
    case box(Box)
    case discrete(n: Int, start: Int, dtype: BoxDType)
    case multiBinary(shape: [Int], dtype: BoxDType)
    case multiDiscrete(shape: [Int], nvec: [Int], start: [Int], dtype: BoxDType)
    case tuple([WireSpace])
    case dict(keys: [String], spaces: [WireSpace])

    /// Reads a description of the `make` answer.
    public init(description json: JSON) throws(GymError) {
        guard let type = json["type"]?.stringValue else { throw GymError("a space description has no type: \(short(json))") }
        func dtype() throws(GymError) -> BoxDType {
            guard let name = json["dtype"]?.stringValue, let dtype = BoxDType(rawValue: name) else {
                throw GymError("the \(type) space has an unsupported dtype \(json["dtype"].map(short) ?? "null")")
            }
            return dtype
        }
        func ints(_ key: String) throws(GymError) -> [Int] {
            guard let values = json[key]?.arrayValue else { throw GymError("the \(type) space has no '\(key)'") }
            var result: [Int] = []
            for value in values {
                guard let i = value.intValue else { throw GymError("the \(type) space's '\(key)' holds \(short(value))") }
                result.append(i)
            }
            return result
        }
        func doubles(_ key: String) throws(GymError) -> [Double] {
            guard let values = json[key]?.arrayValue else { throw GymError("the \(type) space has no '\(key)'") }
            var result: [Double] = []
            for value in values {
                guard let d = value.doubleValue else { throw GymError("the \(type) space's '\(key)' holds \(short(value))") }
                result.append(d)
            }
            return result
        }
        switch type {
        case "Box":
            let shape = try ints("shape")
            let low = try doubles("low")
            let high = try doubles("high")
            guard low.count == shape.reduce(1, *), high.count == low.count else { throw GymError("the Box's bounds do not match its shape") }
            self = .box(Box(low: low, high: high, shape: shape, dtype: try dtype()))
        case "Discrete":
            guard let n = json["n"]?.intValue, let start = json["start"]?.intValue else { throw GymError("the Discrete space has no n or start") }
            self = .discrete(n: n, start: start, dtype: try dtype())
        case "MultiBinary":
            self = .multiBinary(shape: try ints("shape"), dtype: try dtype())
        case "MultiDiscrete":
            self = .multiDiscrete(shape: try ints("shape"), nvec: try ints("nvec"), start: try ints("start"), dtype: try dtype())
        case "Tuple":
            guard let parts = json["spaces"]?.arrayValue else { throw GymError("the Tuple space has no spaces") }
            var spaces: [WireSpace] = []
            for part in parts { spaces.append(try WireSpace(description: part)) }
            self = .tuple(spaces)
        case "Dict":
            guard let keys = json["keys"]?.arrayValue?.compactMap(\.stringValue), let parts = json["spaces"]?.arrayValue, keys.count == parts.count else {
                throw GymError("the Dict space has no keys or spaces")
            }
            var spaces: [WireSpace] = []
            for part in parts { spaces.append(try WireSpace(description: part)) }
            self = .dict(keys: keys, spaces: spaces)
        default:
            throw GymError("gym-server has no form for a \(type) space")
        }
        if let size = json["size"]?.intValue, size != byteCount {
            throw GymError("the \(type) space takes \(size) bytes on the wire, gym-server counts \(byteCount)")
        }
    }

    /// GymCore's space: what the API shows and checks actions against. A MultiDiscrete of more
    /// than one dimension is flattened (GymCore's MultiDiscrete is a vector).
    public var space: Space {
        switch self {
        case .box(let box): return .box(box)
        case .discrete(let n, let start, _): return .discrete(n: n, start: start)
        case .multiBinary(let shape, _): return .multiBinary(shape: shape)
        case .multiDiscrete(_, let nvec, let start, _): return .multiDiscrete(nvec: nvec, start: start)
        case .tuple(let parts): return .tuple(parts.map(\.space))
        case .dict(let keys, let spaces): return .dict(zip(keys, spaces).map { (key: $0, space: $1.space) })
        }
    }

    /// Bytes of one value on the wire.
    public var byteCount: Int {
        switch self {
        case .box(let box): return box.count * box.dtype.byteCount
        case .discrete(_, _, let dtype): return dtype.byteCount
        case .multiBinary(let shape, let dtype): return shape.reduce(1, *) * dtype.byteCount
        case .multiDiscrete(let shape, _, _, let dtype): return shape.reduce(1, *) * dtype.byteCount
        case .tuple(let parts): return parts.reduce(0) { $0 + $1.byteCount }
        case .dict(_, let spaces): return spaces.reduce(0) { $0 + $1.byteCount }
        }
    }

    // MARK: raw values

    /// Appends a value's raw bytes (an action, already checked to lie in `space`).
    public func encode(_ value: SpaceValue, into bytes: inout [UInt8]) throws(GymError) {
        switch (self, value) {
        case (.box(let box), .floats(let values)):
            for v in values { Self.append(v, box.dtype, &bytes) }
        case (.box(let box), .ints(let values)):
            for v in values { Self.append(v, box.dtype, &bytes) }
        case (.discrete(_, _, let dtype), .int(let v)):
            Self.append(v, dtype, &bytes)
        case (.multiBinary(_, let dtype), .ints(let values)), (.multiDiscrete(_, _, _, let dtype), .ints(let values)):
            for v in values { Self.append(v, dtype, &bytes) }
        case (.tuple(let parts), .tuple(let values)) where parts.count == values.count:
            for (part, v) in zip(parts, values) { try part.encode(v, into: &bytes) }
        case (.dict(let keys, let spaces), .dict(let values)):
            for (key, part) in zip(keys, spaces) {
                guard let v = values[key] else { throw GymError("the action has no '\(key)'") }
                try part.encode(v, into: &bytes)
            }
        default:
            throw GymError("the action does not have the form of \(space)")
        }
    }

    /// Reads a value (an observation or an action) from its raw bytes at `offset`, advancing it.
    public func decode(_ bytes: UnsafeRawBufferPointer, offset: inout Int) throws(GymError) -> SpaceValue {
        guard offset + byteCount <= bytes.count else { throw GymError.unavailable("the worker's answer is shorter than its space") }
        switch self {
        case .box(let box):
            if box.dtype.isFloatingPoint {
                var values = [Double](repeating: 0, count: box.count)
                for i in values.indices { values[i] = Self.readDouble(bytes, &offset, box.dtype) }
                return .floats(values)
            }
            var values = [Int](repeating: 0, count: box.count)
            for i in values.indices { values[i] = Self.readInt(bytes, &offset, box.dtype) }
            return .ints(values)
        case .discrete(_, _, let dtype):
            return .int(Self.readInt(bytes, &offset, dtype))
        case .multiBinary(let shape, let dtype), .multiDiscrete(let shape, _, _, let dtype):
            var values = [Int](repeating: 0, count: shape.reduce(1, *))
            for i in values.indices { values[i] = Self.readInt(bytes, &offset, dtype) }
            return .ints(values)
        case .tuple(let parts):
            var values: [SpaceValue] = []
            for part in parts { values.append(try part.decode(bytes, offset: &offset)) }
            return .tuple(values)
        case .dict(let keys, let spaces):
            var values: [String: SpaceValue] = [:]
            for (key, part) in zip(keys, spaces) { values[key] = try part.decode(bytes, offset: &offset) }
            return .dict(values)
        }
    }

    private static func append<T: FixedWidthInteger>(littleEndian value: T, _ bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    private static func append(_ value: Double, _ dtype: BoxDType, _ bytes: inout [UInt8]) {
        switch dtype {
        case .float64: append(littleEndian: value.bitPattern, &bytes)
        case .float32: append(littleEndian: Float(value).bitPattern, &bytes)
        case .float16: append(littleEndian: Float16(value).bitPattern, &bytes)
        default: append(Int(exactly: value.rounded(.towardZero)) ?? 0, dtype, &bytes)
        }
    }

    private static func append(_ value: Int, _ dtype: BoxDType, _ bytes: inout [UInt8]) {
        switch dtype {
        case .int64: append(littleEndian: Int64(value), &bytes)
        case .int32: append(littleEndian: Int32(truncatingIfNeeded: value), &bytes)
        case .int16: append(littleEndian: Int16(truncatingIfNeeded: value), &bytes)
        case .int8: append(littleEndian: Int8(truncatingIfNeeded: value), &bytes)
        case .uint64: append(littleEndian: UInt64(truncatingIfNeeded: value), &bytes)
        case .uint32: append(littleEndian: UInt32(truncatingIfNeeded: value), &bytes)
        case .uint16: append(littleEndian: UInt16(truncatingIfNeeded: value), &bytes)
        case .uint8, .bool: append(littleEndian: UInt8(truncatingIfNeeded: value), &bytes)
        case .float64, .float32, .float16: append(Double(value), dtype, &bytes)
        }
    }

    static func read<T: FixedWidthInteger>(_ type: T.Type, _ bytes: UnsafeRawBufferPointer, _ offset: inout Int) -> T {
        let value = bytes.loadUnaligned(fromByteOffset: offset, as: T.self)
        offset += MemoryLayout<T>.size
        return T(littleEndian: value)
    }

    private static func readDouble(_ bytes: UnsafeRawBufferPointer, _ offset: inout Int, _ dtype: BoxDType) -> Double {
        switch dtype {
        case .float64: return Double(bitPattern: read(UInt64.self, bytes, &offset))
        case .float32: return Double(Float(bitPattern: read(UInt32.self, bytes, &offset)))
        case .float16: return Double(Float16(bitPattern: read(UInt16.self, bytes, &offset)))
        default: return Double(readInt(bytes, &offset, dtype))
        }
    }

    private static func readInt(_ bytes: UnsafeRawBufferPointer, _ offset: inout Int, _ dtype: BoxDType) -> Int {
        switch dtype {
        case .int64: return Int(read(Int64.self, bytes, &offset))
        case .int32: return Int(read(Int32.self, bytes, &offset))
        case .int16: return Int(read(Int16.self, bytes, &offset))
        case .int8: return Int(read(Int8.self, bytes, &offset))
        // A uint64 beyond Int64.max saturates: GymCore keeps integers as Int.
        case .uint64: return Int(exactly: read(UInt64.self, bytes, &offset)) ?? .max
        case .uint32: return Int(read(UInt32.self, bytes, &offset))
        case .uint16: return Int(read(UInt16.self, bytes, &offset))
        case .uint8, .bool: return Int(read(UInt8.self, bytes, &offset))
        case .float64, .float32, .float16:
            let d = readDouble(bytes, &offset, dtype)
            return Int(exactly: d.rounded(.towardZero)) ?? 0
        }
    }
}

/// A JSON value for a message, cut at 200 characters.
func short(_ value: JSON) -> String { String(JSONWriter.string(value).prefix(200)) }
