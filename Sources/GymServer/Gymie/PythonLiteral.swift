import GymCore

/// Python's `repr` and `str` of what `json.loads` makes of a JSON text, for the close reasons Gymie
/// wrote with `format()`: `{'env_id': 'CartPole-v1'}`, `['method']`, `[1.0, True, None]`. Object
/// keys keep the order of the text, as Python's dicts do.
enum PythonLiteral {
    /// A JSON value with object members in the order they were written.
    indirect enum Value {
        case null, bool(Bool)
        /// An integer, digits as written (Python's ints are exact at any size).
        case integer(String)
        case float(Double)
        case string(String)
        case array([Value])
        case object([(String, Value)])
    }

    /// The value of a JSON text (already known to be valid), or nil.
    static func parse(_ text: String) -> Value? {
        var scanner = Scanner(bytes: Array(text.utf8))
        guard let value = scanner.value(depth: 0) else { return nil }
        scanner.skipSpace()
        return scanner.index == scanner.bytes.count ? value : nil
    }

    /// `repr(value)`.
    static func repr(_ value: Value) -> String {
        switch value {
        case .null: return "None"
        case .bool(let b): return b ? "True" : "False"
        case .integer(let digits): return digits
        case .float(let d): return pythonRepr(d)
        case .string(let s): return repr(s)
        case .array(let elements): return "[" + elements.map(repr).joined(separator: ", ") + "]"
        case .object(let members): return "{" + members.map { repr($0.0) + ": " + repr($0.1) }.joined(separator: ", ") + "}"
        }
    }

    /// `str(value)`: a string as it is, anything else as `repr`.
    static func str(_ value: Value) -> String {
        if case .string(let s) = value { return s }
        return repr(value)
    }

    /// `str(list(d.keys()))` of an object.
    static func keyList(_ value: Value) -> String {
        guard case .object(let members) = value else { return "[]" }
        return "[" + members.map { repr($0.0) }.joined(separator: ", ") + "]"
    }

    /// Python's `repr(str)`: single quotes unless the text has a single quote and no double one;
    /// backslash escapes for the quote, `\\`, `\t`, `\n`, `\r`, and `\x`/`\u`/`\U` for what is not
    /// printable.
    static func repr(_ string: String) -> String {
        let quote: Character = string.contains("'") && !string.contains("\"") ? "\"" : "'"
        var out = String(quote)
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\t": out += "\\t"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            default:
                if Character(scalar) == quote {
                    out += "\\" + String(quote)
                } else if isPrintable(scalar) {
                    out.unicodeScalars.append(scalar)
                } else if scalar.value < 0x100 {
                    out += "\\x" + hex(scalar.value, digits: 2)
                } else if scalar.value < 0x10000 {
                    out += "\\u" + hex(scalar.value, digits: 4)
                } else {
                    out += "\\U" + hex(scalar.value, digits: 8)
                }
            }
        }
        out.append(quote)
        return out
    }

    /// Python's `str.isprintable` for one character: not a control, format, surrogate, private-use
    /// or unassigned character, nor a separator other than the ASCII space.
    private static func isPrintable(_ scalar: Unicode.Scalar) -> Bool {
        if scalar == " " { return true }
        switch scalar.properties.generalCategory {
        case .control, .format, .surrogate, .privateUse, .unassigned, .lineSeparator, .paragraphSeparator, .spaceSeparator:
            return false
        default:
            return true
        }
    }

    private static func hex(_ value: UInt32, digits: Int) -> String {
        let text = String(value, radix: 16)
        return String(repeating: "0", count: max(0, digits - text.count)) + text
    }

    /// A JSON scanner that keeps object members in order (the messages are small; the step path
    /// does not use it).
    private struct Scanner {
        let bytes: [UInt8]
        var index = 0

        init(bytes: [UInt8]) { self.bytes = bytes }

        mutating func skipSpace() {
            while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
        }

        mutating func literal(_ word: String) -> Bool {
            let w = Array(word.utf8)
            guard index + w.count <= bytes.count, Array(bytes[index..<(index + w.count)]) == w else { return false }
            index += w.count
            return true
        }

        mutating func value(depth: Int) -> Value? {
            guard depth < JSONParser.maximumDepth else { return nil }
            skipSpace()
            guard index < bytes.count else { return nil }
            switch bytes[index] {
            case UInt8(ascii: "{"):
                index += 1
                var members: [(String, Value)] = []
                skipSpace()
                if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
                    index += 1
                    return .object(members)
                }
                while true {
                    skipSpace()
                    guard case .string(let key)? = stringValue() else { return nil }
                    skipSpace()
                    guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { return nil }
                    index += 1
                    guard let member = value(depth: depth + 1) else { return nil }
                    // A repeated key keeps its first place and its last value, as in a Python dict.
                    if let existing = members.firstIndex(where: { $0.0 == key }) {
                        members[existing].1 = member
                    } else {
                        members.append((key, member))
                    }
                    skipSpace()
                    guard index < bytes.count else { return nil }
                    if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                    if bytes[index] == UInt8(ascii: "}") { index += 1; return .object(members) }
                    return nil
                }
            case UInt8(ascii: "["):
                index += 1
                var elements: [Value] = []
                skipSpace()
                if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
                    index += 1
                    return .array(elements)
                }
                while true {
                    guard let element = value(depth: depth + 1) else { return nil }
                    elements.append(element)
                    skipSpace()
                    guard index < bytes.count else { return nil }
                    if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                    if bytes[index] == UInt8(ascii: "]") { index += 1; return .array(elements) }
                    return nil
                }
            case UInt8(ascii: "\""):
                return stringValue()
            case UInt8(ascii: "t"): return literal("true") ? .bool(true) : nil
            case UInt8(ascii: "f"): return literal("false") ? .bool(false) : nil
            case UInt8(ascii: "n"): return literal("null") ? .null : nil
            case UInt8(ascii: "N"): return literal("NaN") ? .float(.nan) : nil
            case UInt8(ascii: "I"): return literal("Infinity") ? .float(.infinity) : nil
            default:
                if literal("-Infinity") { return .float(-.infinity) }
                return number()
            }
        }

        mutating func number() -> Value? {
            let start = index
            var isFloat = false
            while index < bytes.count {
                let b = bytes[index]
                if (b >= 48 && b <= 57) || b == UInt8(ascii: "-") || b == UInt8(ascii: "+") {
                    index += 1
                } else if b == UInt8(ascii: ".") || b == UInt8(ascii: "e") || b == UInt8(ascii: "E") {
                    isFloat = true
                    index += 1
                } else {
                    break
                }
            }
            guard index > start else { return nil }
            let text = String(decoding: bytes[start..<index], as: UTF8.self)
            if isFloat { return Double(text).map(Value.float) }
            // Python's int(): "-0" is 0.
            return .integer(text == "-0" ? "0" : text)
        }

        mutating func stringValue() -> Value? {
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { return nil }
            // Let the real parser decode the escapes of the string literal.
            let start = index
            index += 1
            while index < bytes.count, bytes[index] != UInt8(ascii: "\"") {
                index += bytes[index] == UInt8(ascii: "\\") ? 2 : 1
            }
            guard index < bytes.count else { return nil }
            index += 1
            guard case .string(let s)? = try? JSONParser.parse(bytes[start..<index]) else { return nil }
            return .string(s)
        }
    }
}
