/// A JSON value written exactly as Python's `json.dump` writes it with its defaults
/// (`", "` and `": "` separators, `ensure_ascii`, keys in insertion order, floats as `repr`,
/// `NaN`/`Infinity` for non-finite floats), so the monitor's files match old gym's byte for byte
/// in layout.
enum PythonJSON: Sendable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([PythonJSON])
    case object([(String, PythonJSON)])

    func serialized() -> String {
        var out = ""
        write(to: &out)
        return out
    }

    func write(to out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let value): out += value ? "true" : "false"
        case .int(let value): out += String(value)
        case .double(let value): Self.writeFloat(value, to: &out)
        case .string(let value): Self.writeString(value, to: &out)
        case .array(let values):
            out += "["
            for (index, value) in values.enumerated() {
                if index > 0 { out += ", " }
                value.write(to: &out)
            }
            out += "]"
        case .object(let members):
            out += "{"
            for (index, (key, value)) in members.enumerated() {
                if index > 0 { out += ", " }
                Self.writeString(key, to: &out)
                out += ": "
                value.write(to: &out)
            }
            out += "}"
        }
    }

    // MARK: Python's float repr

    /// `float.__repr__`: the shortest digits that round-trip, in fixed notation when the decimal
    /// exponent is in [-4, 16), otherwise as `d.ddde±XX`; `json` spells non-finite values
    /// `NaN`, `Infinity`, `-Infinity`.
    static func writeFloat(_ value: Double, to out: inout String) {
        if value.isNaN {
            out += "NaN"
            return
        }
        if value.isInfinite {
            out += value < 0 ? "-Infinity" : "Infinity"
            return
        }
        let swift = value.description
        if !swift.utf8.contains(UInt8(ascii: "e")) {
            // Swift writes fixed notation only below 2^53, where Python does too, with the same
            // shortest digits and the same ".0" for integral values.
            out += swift
            return
        }
        let (negative, digits, pointPosition) = shortestDigits(swift)
        if negative { out += "-" }
        // value = 0.d1d2d3... x 10^pointPosition
        if pointPosition <= -4 || pointPosition > 16 {
            let exponent = pointPosition - 1
            out.append(digits[digits.startIndex])
            if digits.count > 1 {
                out += "."
                out += digits.dropFirst()
            }
            out += exponent < 0 ? "e-" : "e+"
            let magnitude = String(abs(exponent))
            if magnitude.count < 2 { out += "0" }
            out += magnitude
        } else if pointPosition <= 0 {
            out += "0."
            out += String(repeating: "0", count: -pointPosition)
            out += digits
        } else if pointPosition >= digits.count {
            out += digits
            out += String(repeating: "0", count: pointPosition - digits.count)
            out += ".0"
        } else {
            let split = digits.index(digits.startIndex, offsetBy: pointPosition)
            out += digits[..<split]
            out += "."
            out += digits[split...]
        }
    }

    /// Sign, significant digits (no leading/trailing zeros, "0" for zero) and the position of
    /// the decimal point, read from Swift's shortest round-trip `description` of a finite value.
    static func shortestDigits(_ description: String) -> (negative: Bool, digits: String, pointPosition: Int) {
        var text = Substring(description)
        var negative = false
        if text.first == "-" {
            negative = true
            text = text.dropFirst()
        }
        var exponent = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            exponent = Int(text[text.index(after: e)...]) ?? 0
            text = text[..<e]
        }
        var integerPart = text
        var fractionPart: Substring = ""
        if let dot = text.firstIndex(of: ".") {
            integerPart = text[..<dot]
            fractionPart = text[text.index(after: dot)...]
        }
        var digits = String(integerPart) + String(fractionPart)
        var pointPosition = integerPart.count + exponent
        while digits.count > 1, digits.first == "0" {
            digits.removeFirst()
            pointPosition -= 1
        }
        while digits.count > 1, digits.last == "0" {
            digits.removeLast()
        }
        if digits == "0" { pointPosition = 1 }
        return (negative, digits, pointPosition)
    }

    // MARK: strings with ensure_ascii

    static func writeString(_ value: String, to out: inout String) {
        out += "\""
        for unit in value.utf16 {
            switch unit {
            case 0x22: out += "\\\""
            case 0x5C: out += "\\\\"
            case 0x0A: out += "\\n"
            case 0x0D: out += "\\r"
            case 0x09: out += "\\t"
            case 0x08: out += "\\b"
            case 0x0C: out += "\\f"
            case 0x20...0x7E, 0x7F:
                out.unicodeScalars.append(Unicode.Scalar(UInt8(unit)))
            default:
                out += "\\u"
                let hex = String(unit, radix: 16)
                out += String(repeating: "0", count: 4 - hex.count)
                out += hex
            }
        }
        out += "\""
    }
}
