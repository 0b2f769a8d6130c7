/// Serialises `JSON` to UTF-8 the way Python's `json.dumps` does for the values gym servers send:
/// floats in their shortest round-trip form (`0.1`, `1.0`, `1e-05`), objects with sorted keys.
public struct JSONWriter {
    public private(set) var bytes: [UInt8]

    public init(reservingCapacity capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    public static func encode(_ value: JSON) -> [UInt8] {
        var writer = JSONWriter()
        writer.write(value)
        return writer.bytes
    }

    public static func string(_ value: JSON) -> String {
        String(decoding: encode(value), as: UTF8.self)
    }

    public mutating func write(_ value: JSON) {
        switch value {
        case .null: append("null")
        case .bool(let b): append(b ? "true" : "false")
        case .int(let i): write(i)
        case .double(let d): write(d)
        case .string(let s): write(s)
        case .array(let elements):
            bytes.append(UInt8(ascii: "["))
            for (index, element) in elements.enumerated() {
                if index > 0 { append(", ") }
                write(element)
            }
            bytes.append(UInt8(ascii: "]"))
        case .object(let members):
            bytes.append(UInt8(ascii: "{"))
            for (index, member) in members.sorted(by: { $0.key < $1.key }).enumerated() {
                if index > 0 { append(", ") }
                write(member.key)
                append(": ")
                write(member.value)
            }
            bytes.append(UInt8(ascii: "}"))
        }
    }

    /// A float as Python's `repr` writes it. Non-finite values are written as Python's `json`
    /// module writes them (`NaN`, `Infinity`), which Python clients read back.
    public mutating func write(_ d: Double) {
        if d.isNaN {
            append("NaN")
        } else if d.isInfinite {
            append(d < 0 ? "-Infinity" : "Infinity")
        } else {
            // Swift's shortest digits are already Python's repr whenever they are positional,
            // which they are for every value in [1e-4, 2^53) (the step path's values). They are
            // written straight into the bytes, without a String in between (`write(to:)` hands a
            // TextOutputStream its ASCII buffer); only a notation with an exponent, where the two
            // languages differ, goes through pythonRepr.
            var digits = DigitBuffer()
            d.write(to: &digits)
            if digits.hasExponent {
                append(pythonRepr(d))
            } else {
                digits.append(to: &bytes)
            }
        }
    }

    public mutating func write(_ s: String) {
        bytes.append(UInt8(ascii: "\""))
        // Most strings (keys, ids, file names) need no escape: copied whole.
        let plain = s.utf8.withContiguousStorageIfAvailable { units -> Bool in
            for unit in units where unit < 0x20 || unit == UInt8(ascii: "\"") || unit == UInt8(ascii: "\\") { return false }
            bytes.append(contentsOf: units)
            return true
        }
        if plain == true {
            bytes.append(UInt8(ascii: "\""))
            return
        }
        for unit in s.utf8 {
            switch unit {
            case UInt8(ascii: "\""): append("\\\"")
            case UInt8(ascii: "\\"): append("\\\\")
            case 0x0A: append("\\n")
            case 0x0D: append("\\r")
            case 0x09: append("\\t")
            case 0x08: append("\\b")
            case 0x0C: append("\\f")
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                append("\\u00")
                bytes.append(hex[Int(unit >> 4)])
                bytes.append(hex[Int(unit & 0xF)])
            default: bytes.append(unit)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    mutating func append(_ s: StaticString) {
        s.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    /// The separator of list elements, `, `.
    @inline(__always) mutating func appendSeparator() {
        bytes.append(UInt8(ascii: ","))
        bytes.append(UInt8(ascii: " "))
    }

    @inline(__always) mutating func appendByte(_ byte: UInt8) {
        bytes.append(byte)
    }

    /// Another writer's bytes.
    mutating func append(_ other: JSONWriter) {
        bytes.append(contentsOf: other.bytes)
    }

    mutating func append(_ s: String) {
        bytes.append(contentsOf: s.utf8)
    }

    /// Text written as it is (it must be valid JSON where it goes).
    public mutating func appendRaw(_ s: String) {
        bytes.append(contentsOf: s.utf8)
    }

    /// An integer, in decimal.
    public mutating func write(_ i: Int) {
        append(String(i))
    }
}

/// Python's `repr(float)`: the shortest string that round-trips, in positional notation for
/// exponents in [-4, 16) and scientific notation (`1e-05`, `1.5e+16`) outside.
public func pythonRepr(_ d: Double) -> String {
    // Swift's description is already the shortest round-trip digits; only the layout differs.
    let s = d.description
    guard let eIndex = s.firstIndex(where: { $0 == "e" || $0 == "E" }) else { return s }
    var mantissa = String(s[s.startIndex..<eIndex])
    var exponent = String(s[s.index(after: eIndex)...])
    let negativeExponent = exponent.hasPrefix("-")
    if exponent.hasPrefix("-") || exponent.hasPrefix("+") { exponent.removeFirst() }
    let expValue = Int(exponent) ?? 0
    let signed = negativeExponent ? -expValue : expValue
    if signed >= -4 && signed < 16 {
        // Swift chose scientific where Python writes positional.
        return positional(d)
    }
    if mantissa.hasSuffix(".0") { mantissa.removeLast(2) }
    let padded = expValue < 10 ? "0\(expValue)" : "\(expValue)"
    return "\(mantissa)e\(negativeExponent ? "-" : "+")\(padded)"
}

private func positional(_ d: Double) -> String {
    // Build positional notation from the shortest digits.
    let s = d.description
    guard let eIndex = s.firstIndex(where: { $0 == "e" || $0 == "E" }) else { return s }
    let negative = s.hasPrefix("-")
    let mantissa = s[(negative ? s.index(after: s.startIndex) : s.startIndex)..<eIndex]
    let exponent = Int(s[s.index(after: eIndex)...]) ?? 0
    let digits = mantissa.filter { $0 != "." }
    let pointPosition = (mantissa.firstIndex(of: ".").map { mantissa.distance(from: mantissa.startIndex, to: $0) } ?? mantissa.count) + exponent
    var result: String
    if pointPosition <= 0 {
        result = "0." + String(repeating: "0", count: -pointPosition) + digits
    } else if pointPosition >= digits.count {
        result = digits + String(repeating: "0", count: pointPosition - digits.count) + ".0"
    } else {
        let idx = digits.index(digits.startIndex, offsetBy: pointPosition)
        result = digits[..<idx] + "." + digits[idx...]
    }
    return negative ? "-" + result : result
}

/// Where a number's `write(to:)` puts its ASCII: 32 bytes on the stack (a Double needs at most
/// 24), so that writing a number allocates nothing and retains nothing.
private struct DigitBuffer: TextOutputStream {
    private var storage: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
    private var count = 0
    private(set) var hasExponent = false

    private mutating func push(_ byte: UInt8) {
        guard count < 32 else { return }
        withUnsafeMutableBytes(of: &storage) { $0[count] = byte }
        count += 1
        if byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") { hasExponent = true }
    }

    mutating func write(_ string: String) {
        for byte in string.utf8 { push(byte) }
    }

    mutating func _writeASCII(_ buffer: UnsafeBufferPointer<UInt8>) {
        let n = min(buffer.count, 32 - count)
        guard n > 0, let source = buffer.baseAddress else { return }
        let start = count
        withUnsafeMutableBytes(of: &storage) { target in
            (target.baseAddress! + start).copyMemory(from: source, byteCount: n)
        }
        count += n
        // An exponent is the only letter a finite number writes.
        for i in 0..<n where source[i] == UInt8(ascii: "e") || source[i] == UInt8(ascii: "E") {
            hasExponent = true
            break
        }
    }

    func append(to bytes: inout [UInt8]) {
        withUnsafeBytes(of: storage) { bytes.append(contentsOf: $0.prefix(count)) }
    }
}
