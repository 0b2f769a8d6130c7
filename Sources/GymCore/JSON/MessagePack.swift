/// MessagePack (https://msgpack.org), the compact answer a client gets for `Accept:
/// application/msgpack`: the same fields as the JSON answer, with every observation, reward and
/// flag array packed as little-endian bytes instead of a list of numbers:
///
///     {"dtype": "<f4", "shape": [1000, 4], "data": <bin of 16000 bytes>}
///
/// `dtype` is numpy's type string (`<f4`, `<f8`, `<i8`, `|i1`, `|b1`, `|u1`, ...), `shape` the
/// array's shape, `data` the elements in row-major order: `numpy.frombuffer(data,
/// dtype).reshape(shape)` reads it, as does any language's MessagePack library plus a cast. A
/// Discrete observation stays an integer; Tuple and Dict observations are a list or map of their
/// parts. Everything else (info, render) is the JSON value as MessagePack.
public struct MessagePackWriter {
    public private(set) var bytes: [UInt8] = []

    public init(reservingCapacity capacity: Int = 256) {
        bytes.reserveCapacity(capacity)
    }

    public static func encode(_ answer: Answer) -> [UInt8] {
        var writer = MessagePackWriter()
        writer.write(answer)
        return writer.bytes
    }

    public static func encode(_ json: JSON) -> [UInt8] {
        var writer = MessagePackWriter()
        writer.write(json)
        return writer.bytes
    }

    // MARK: the format

    private mutating func bigEndian<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }

    public mutating func writeNil() { bytes.append(0xC0) }

    public mutating func write(_ b: Bool) { bytes.append(b ? 0xC3 : 0xC2) }

    public mutating func write(_ i: Int) {
        switch i {
        case 0...0x7F: bytes.append(UInt8(i))
        case -32 ..< 0: bytes.append(UInt8(bitPattern: Int8(i)))
        case Int(Int8.min)...Int(Int8.max): bytes.append(0xD0); bigEndian(Int8(i))
        case Int(Int16.min)...Int(Int16.max): bytes.append(0xD1); bigEndian(Int16(i))
        case Int(Int32.min)...Int(Int32.max): bytes.append(0xD2); bigEndian(Int32(i))
        default: bytes.append(0xD3); bigEndian(Int64(i))
        }
    }

    public mutating func write(_ d: Double) {
        bytes.append(0xCB)
        bigEndian(d.bitPattern)
    }

    public mutating func write(_ s: String) {
        let utf8 = Array(s.utf8)
        switch utf8.count {
        case 0...31: bytes.append(0xA0 | UInt8(utf8.count))
        case 0...0xFF: bytes.append(0xD9); bytes.append(UInt8(utf8.count))
        case 0...0xFFFF: bytes.append(0xDA); bigEndian(UInt16(utf8.count))
        default: bytes.append(0xDB); bigEndian(UInt32(utf8.count))
        }
        bytes += utf8
    }

    public mutating func writeArrayHeader(_ count: Int) {
        switch count {
        case 0...15: bytes.append(0x90 | UInt8(count))
        case 0...0xFFFF: bytes.append(0xDC); bigEndian(UInt16(count))
        default: bytes.append(0xDD); bigEndian(UInt32(count))
        }
    }

    public mutating func writeMapHeader(_ count: Int) {
        switch count {
        case 0...15: bytes.append(0x80 | UInt8(count))
        case 0...0xFFFF: bytes.append(0xDE); bigEndian(UInt16(count))
        default: bytes.append(0xDF); bigEndian(UInt32(count))
        }
    }

    /// A `bin` whose `count` bytes `fill` writes at the end of the buffer.
    private mutating func writeBinary(count: Int, _ fill: (inout [UInt8]) -> Void) {
        switch count {
        case 0...0xFF: bytes.append(0xC4); bytes.append(UInt8(count))
        case 0...0xFFFF: bytes.append(0xC5); bigEndian(UInt16(count))
        default: bytes.append(0xC6); bigEndian(UInt32(count))
        }
        bytes.reserveCapacity(bytes.count + count)
        fill(&bytes)
    }

    public mutating func write(_ json: JSON) {
        switch json {
        case .null: writeNil()
        case .bool(let b): write(b)
        case .int(let i): write(i)
        case .double(let d): write(d)
        case .string(let s): write(s)
        case .array(let elements):
            writeArrayHeader(elements.count)
            for element in elements { write(element) }
        case .object(let members):
            writeMapHeader(members.count)
            for key in members.keys.sorted() {
                write(key)
                write(members[key]!)
            }
        }
    }

    // MARK: packed arrays

    /// `{"dtype", "shape", "data"}` of elements `element(i)` writes as `size` little-endian bytes.
    private mutating func writeArray(dtype: String, shape: [Int], count: Int, size: Int, _ element: (Int, inout [UInt8]) -> Void) {
        writeMapHeader(3)
        write("data")
        writeBinary(count: count * size) { bytes in
            for i in 0..<count { element(i, &bytes) }
        }
        write("dtype")
        write(dtype)
        write("shape")
        writeArrayHeader(shape.count)
        for dimension in shape { write(dimension) }
    }

    private static func littleEndian<T: FixedWidthInteger>(_ value: T, _ bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    /// numpy's type string and element size of a Box's dtype.
    private static func numpyType(_ dtype: BoxDType) -> (String, Int) {
        switch dtype {
        case .float32: return ("<f4", 4)
        case .float64: return ("<f8", 8)
        case .int64: return ("<i8", 8)
        case .int32: return ("<i4", 4)
        case .int16: return ("<i2", 2)
        case .int8: return ("|i1", 1)
        case .uint8: return ("|u1", 1)
        case .float16: return ("<f2", 2)
        case .uint16: return ("<u2", 2)
        case .uint32: return ("<u4", 4)
        case .uint64: return ("<u8", 8)
        case .bool: return ("|b1", 1)
        }
    }

    private static func pack(_ value: Int, dtype: BoxDType, _ bytes: inout [UInt8]) {
        switch dtype {
        case .int64, .float32, .float64, .float16: littleEndian(Int64(truncatingIfNeeded: value), &bytes)
        case .int32: littleEndian(Int32(truncatingIfNeeded: value), &bytes)
        case .int16: littleEndian(Int16(truncatingIfNeeded: value), &bytes)
        case .int8: bytes.append(UInt8(bitPattern: Int8(truncatingIfNeeded: value)))
        case .uint8, .bool: bytes.append(UInt8(truncatingIfNeeded: value))
        case .uint16: littleEndian(UInt16(truncatingIfNeeded: value), &bytes)
        case .uint32: littleEndian(UInt32(truncatingIfNeeded: value), &bytes)
        case .uint64: littleEndian(UInt64(truncatingIfNeeded: value), &bytes)
        }
    }

    private static func pack(_ value: Double, dtype: BoxDType, _ bytes: inout [UInt8]) {
        switch dtype {
        case .float32: littleEndian(Float(value).bitPattern, &bytes)
        case .float64: littleEndian(value.bitPattern, &bytes)
        case .float16: littleEndian(Float16(value).bitPattern, &bytes)
        default: pack(Int(exactly: value.rounded(.towardZero)) ?? 0, dtype: dtype, &bytes)
        }
    }

    /// The element type and shape of one value of a space, when it packs into one array.
    private static func layout(of space: Space) -> (dtype: BoxDType, shape: [Int])? {
        switch space {
        case .discrete: return (.int64, [])
        case .box(let box): return (box.dtype, box.shape)
        case .multiBinary(let shape): return (.int8, shape)
        case .multiDiscrete(let nvec, _): return (.int64, [nvec.count])
        case .tuple, .dict: return nil
        }
    }

    /// `values` of `space` (one value, or N of them with a leading dimension) as one packed array,
    /// or as a list/map of parts for Tuple and Dict.
    private mutating func writePacked(_ space: Space, _ values: [SpaceValue], batched: Bool) {
        switch space {
        case .tuple(let spaces):
            writeArrayHeader(spaces.count)
            for (k, part) in spaces.enumerated() {
                writePacked(part, values.map { if case .tuple(let parts) = $0, k < parts.count { return parts[k] }; return $0 }, batched: batched)
            }
            return
        case .dict(let spaces):
            writeMapHeader(spaces.count)
            for (key, part) in spaces {
                write(key)
                writePacked(part, values.map { if case .dict(let parts) = $0, let value = parts[key] { return value }; return $0 }, batched: batched)
            }
            return
        default:
            break
        }
        guard let (dtype, shape) = Self.layout(of: space) else { return }
        if !batched, shape.isEmpty, case .int(let i)? = values.first {
            write(i)  // a Discrete observation stays an integer
            return
        }
        let (type, size) = Self.numpyType(dtype)
        let perValue = shape.reduce(1, *)
        writeArray(dtype: type, shape: batched ? [values.count] + shape : shape, count: values.count * perValue, size: size) { index, bytes in
            let value = values[index / max(perValue, 1)]
            let offset = index % max(perValue, 1)
            switch value {
            case .int(let i): Self.pack(i, dtype: dtype, &bytes)
            case .ints(let ints): Self.pack(offset < ints.count ? ints[offset] : 0, dtype: dtype, &bytes)
            case .floats(let floats): Self.pack(offset < floats.count ? floats[offset] : 0, dtype: dtype, &bytes)
            default: Self.pack(0, dtype: dtype, &bytes)
            }
        }
    }

    public mutating func write(_ answer: Answer) {
        let fields = answer.fields
        writeMapHeader(fields.count)
        for (key, field) in fields {
            write(key)
            switch field {
            case .json(let json): write(json)
            case .value(let space, let value): writePacked(space, [value], batched: false)
            case .batch(let space, let values): writePacked(space, values, batched: true)
            case .doubles(let values):
                writeArray(dtype: "<f8", shape: [values.count], count: values.count, size: 8) { i, bytes in
                    Self.littleEndian(values[i].bitPattern, &bytes)
                }
            case .bools(let values):
                writeArray(dtype: "|b1", shape: [values.count], count: values.count, size: 1) { i, bytes in
                    bytes.append(values[i] ? 1 : 0)
                }
            }
        }
    }
}
