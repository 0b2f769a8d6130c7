/// numpy's `str()` of a one-dimensional float array with the default print options
/// (`precision=8`, `floatmode='maxprec'`, no line wrapping needed for the short bound arrays of
/// our spaces): `[-1. -1. -8.]`, `[-4.8  -inf]`, `[1.0000e-05 3.0000e+00]`. Values are
/// formatted with the shortest digits of their dtype (float32 values as float32).
enum NumpyArrayFormat {
    static let precision = 8

    static func string(_ values: [Double], float32: Bool) -> String {
        wrapped(items(values, float32: float32))
    }

    /// The elements of a float array as numpy's `str()` writes them: one format and one width
    /// for all.
    static func items(_ values: [Double], float32: Bool) -> [String] {
        let finite = values.filter(\.isFinite)
        let magnitudes = finite.filter { $0 != 0 }.map(abs)
        var exponential = false
        if let maxValue = magnitudes.max(), let minValue = magnitudes.min() {
            exponential = maxValue >= 1e8 || minValue < 0.0001 || maxValue / minValue > 1000
        }
        var padLeft = 0
        var padRight = 0
        var format: (Double) -> String
        if finite.isEmpty {
            format = { _ in "" }
        } else if exponential {
            let parts = finite.map { scientific(digits(of: $0, float32: float32)) }
            let precision = parts.map(\.fraction.count).max() ?? 0
            let exponentDigits = max(2, parts.map(\.exponent.count).max() ?? 2)
            padLeft = parts.map(\.integer.count).max() ?? 0
            padRight = exponentDigits + 2 + precision
            format = { x in
                let p = scientific(digits(of: x, float32: float32))
                let fraction = p.fraction + String(repeating: "0", count: precision - p.fraction.count)
                let exponent = String(repeating: "0", count: max(0, exponentDigits - p.exponent.count)) + p.exponent
                let body = p.integer + "." + fraction + "e" + (p.negativeExponent ? "-" : "+") + exponent
                return String(repeating: " ", count: max(0, padLeft - p.integer.count)) + body
            }
        } else {
            let parts = finite.map { positional(digits(of: $0, float32: float32)) }
            padLeft = parts.map(\.integer.count).max() ?? 0
            padRight = parts.map(\.fraction.count).max() ?? 0
            format = { x in
                let p = positional(digits(of: x, float32: float32))
                return String(repeating: " ", count: padLeft - p.integer.count) + p.integer + "." + p.fraction
                    + String(repeating: " ", count: padRight - p.fraction.count)
            }
        }
        if finite.count != values.count {
            let negativeInfinity = values.contains(-.infinity)
            let offset = padRight + 1
            padLeft = max(padLeft, 3 - offset, 3 + (negativeInfinity ? 1 : 0) - offset)
        }
        let width = padLeft + padRight + 1
        return values.map { x -> String in
            if x.isNaN { return String(repeating: " ", count: max(0, width - 3)) + "nan" }
            if x.isInfinite {
                let text = x < 0 ? "-inf" : "inf"
                return String(repeating: " ", count: max(0, width - text.count)) + text
            }
            return format(x)
        }
    }

    /// numpy's `str()` of a one-dimensional integer array: elements right-aligned to one width.
    static func string(_ values: [Int]) -> String {
        wrapped(items(values))
    }

    static func items(_ values: [Int]) -> [String] {
        let texts = values.map(String.init)
        let width = texts.map(\.count).max() ?? 0
        return texts.map { String(repeating: " ", count: width - $0.count) + $0 }
    }

    /// numpy's `str()` of an array of `shape` from its formatted elements (row-major): one
    /// dimension wraps as `wrapped`; more nest, rows of the last dimension separated by a newline
    /// and the brackets' indentation, blocks of higher dimensions by one more newline each.
    static func nested(_ items: [String], shape: [Int]) -> String {
        guard shape.count > 1 else { return wrapped(items) }
        func level(_ items: ArraySlice<String>, _ depth: Int) -> String {
            if depth == shape.count - 1 { return "[" + items.joined(separator: " ") + "]" }
            let stride = shape[(depth + 1)...].reduce(1, *)
            var children: [String] = []
            var start = items.startIndex
            for _ in 0..<shape[depth] {
                children.append(level(items[start..<(start + stride)], depth + 1))
                start += stride
            }
            let separator = String(repeating: "\n", count: shape.count - depth - 1) + String(repeating: " ", count: depth + 1)
            return "[" + children.joined(separator: separator) + "]"
        }
        return level(items[...], 0)
    }

    /// Joins formatted elements as numpy's `str()` of a one-dimensional array does with its default
    /// line width of 75 (`_formatArray`): the line starts as a one-space hanging indent standing for
    /// the `[`; an element wraps first when the line and it would pass 74 characters (unless the
    /// line holds nothing yet); a wrapped line is right-trimmed and the next starts with one space.
    static func wrapped(_ items: [String]) -> String {
        var text = ""
        var line = " "
        for (index, item) in items.enumerated() {
            if line.count + item.count > 74 && line.count > 1 {
                text += String(line.reversed().drop(while: { $0 == " " }).reversed()) + "\n"
                line = " "
            }
            line += item
            if index < items.count - 1 { line += " " }
        }
        text += line
        return "[" + text.dropFirst() + "]"
    }

    /// Sign, significant digits and decimal exponent of the shortest representation
    /// (value = 0.d1d2d3... x 10^exponent).
    struct Digits {
        var negative: Bool
        var digits: [Character]
        var exponent: Int
    }

    static func digits(of x: Double, float32: Bool) -> Digits {
        var text = float32 ? Float(x).description : x.description
        let negative = text.hasPrefix("-")
        if negative { text.removeFirst() }
        var exponentPart = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            exponentPart = Int(text[text.index(after: e)...]) ?? 0
            text = String(text[..<e])
        }
        let pointIndex = text.firstIndex(of: ".").map { text.distance(from: text.startIndex, to: $0) } ?? text.count
        var all = Array(text.filter { $0 != "." })
        var exponent = pointIndex + exponentPart
        while all.first == "0" && all.count > 1 {
            all.removeFirst()
            exponent -= 1
        }
        while all.last == "0" && all.count > 1 { all.removeLast() }
        if all == ["0"] { exponent = 1 }
        return Digits(negative: negative, digits: all, exponent: exponent)
    }

    /// Rounds decimal digits to keep `count` of them (half-even on the decimal string).
    static func round(_ d: Digits, keeping count: Int) -> Digits {
        guard count >= 0, d.digits.count > count else { return d }
        var kept = Array(d.digits.prefix(count))
        let next = d.digits[count]
        let rest = d.digits.dropFirst(count + 1)
        let roundUp = next > "5" || (next == "5" && (rest.contains { $0 != "0" } || (kept.last.map { Int(String($0))! % 2 == 1 } ?? false)))
        var exponent = d.exponent
        if roundUp {
            var i = kept.count - 1
            while i >= 0 {
                if kept[i] == "9" {
                    kept[i] = "0"
                    i -= 1
                } else {
                    kept[i] = Character(String(Int(String(kept[i]))! + 1))
                    break
                }
            }
            if i < 0 {
                kept.insert("1", at: 0)
                exponent += 1
            }
        }
        while kept.last == "0" && kept.count > 1 { kept.removeLast() }
        if kept.isEmpty { return Digits(negative: d.negative, digits: ["0"], exponent: 1) }
        return Digits(negative: d.negative, digits: kept, exponent: exponent)
    }

    /// Positional digits with at most `precision` fractional digits, trailing zeros trimmed.
    static func positional(_ d: Digits) -> (integer: String, fraction: String) {
        let r = round(d, keeping: max(0, d.exponent + precision))
        let sign = r.negative ? "-" : ""
        if r.digits == ["0"] || (d.exponent + precision) <= 0 && r.digits.allSatisfy({ $0 == "0" }) {
            return (sign + "0", "")
        }
        var integer = ""
        var fraction = ""
        if r.exponent <= 0 {
            integer = "0"
            fraction = String(repeating: "0", count: -r.exponent) + String(r.digits)
        } else if r.exponent >= r.digits.count {
            integer = String(r.digits) + String(repeating: "0", count: r.exponent - r.digits.count)
        } else {
            integer = String(r.digits.prefix(r.exponent))
            fraction = String(r.digits.dropFirst(r.exponent))
        }
        while fraction.last == "0" { fraction.removeLast() }
        return (sign + integer, fraction)
    }

    /// Scientific digits with at most `precision` fractional digits, trailing zeros trimmed.
    static func scientific(_ d: Digits) -> (integer: String, fraction: String, exponent: String, negativeExponent: Bool) {
        let r = round(d, keeping: precision + 1)
        let sign = r.negative ? "-" : ""
        let integer = sign + String(r.digits.first ?? "0")
        var fraction = String(r.digits.dropFirst())
        while fraction.last == "0" { fraction.removeLast() }
        let e = r.digits == ["0"] ? 0 : r.exponent - 1
        return (integer, fraction, String(abs(e)), e < 0)
    }
}
