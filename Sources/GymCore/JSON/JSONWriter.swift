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
        case .int(let i): append(String(i))
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
            for (index, key) in members.keys.sorted().enumerated() {
                if index > 0 { append(", ") }
                write(key)
                append(": ")
                write(members[key]!)
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
            append(pythonRepr(d))
        }
    }

    public mutating func write(_ s: String) {
        bytes.append(UInt8(ascii: "\""))
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

    private mutating func append(_ s: String) {
        bytes.append(contentsOf: s.utf8)
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
