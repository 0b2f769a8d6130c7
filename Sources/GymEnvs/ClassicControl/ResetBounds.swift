import GymCore

/// The `reset(options=)` handling the classic-control environments share: Gymnasium's
/// `utils.verify_number_and_cast` and `utils.maybe_parse_reset_bounds`, and the checks numpy's
/// `Generator.uniform` makes on its bounds before drawing.
enum ResetBounds {
    /// `utils.verify_number_and_cast`: what Python's `float(x)` accepts (numbers, booleans and
    /// numeric strings), as a Double; anything else is the error Gymnasium raises.
    static func number(_ value: JSON, option name: String) throws(GymError) -> Double {
        switch value {
        case .int(let i): return Double(i)
        case .double(let d): return d
        case .bool(let b): return b ? 1 : 0
        case .string(let s):
            if let d = pythonFloat(s) { return d }
        default:
            break
        }
        throw GymError("An option (\(JSONWriter.string(value))) could not be converted to a float: option '\(name)' must be a number")
    }

    /// `utils.maybe_parse_reset_bounds(options, default_low, default_high)`: the `low` and `high`
    /// options (either may be left out), which must satisfy `low <= high`. Other keys are ignored.
    static func parse(_ options: [String: JSON]?, defaultLow: Double, defaultHigh: Double) throws(GymError) -> (low: Double, high: Double) {
        guard let options else { return (defaultLow, defaultHigh) }
        var low = defaultLow
        var high = defaultHigh
        if let json = options["low"] { low = try number(json, option: "low") }
        if let json = options["high"] { high = try number(json, option: "high") }
        if low > high {
            throw GymError("Lower bound (\(pythonRepr(low))) must be lower than higher bound (\(pythonRepr(high))).")
        }
        return (low, high)
    }

    /// The checks `np.random.Generator.uniform(low, high)` makes before drawing: the range must be
    /// finite and not negative (a negative zero counts as negative, as numpy's `signbit` test does).
    static func checkUniformRange(low: Double, high: Double) throws(GymError) {
        let range = high - low
        guard range.isFinite else {
            throw GymError("high - low range exceeds valid bounds (low \(pythonRepr(low)), high \(pythonRepr(high)))")
        }
        if range.sign == .minus {
            throw GymError("high - low < 0 (low \(pythonRepr(low)), high \(pythonRepr(high)))")
        }
    }

    /// Python's `float(str)`: surrounding whitespace, an optional sign, then `inf`, `infinity`,
    /// `nan` (any case) or a decimal number whose digit groups may be joined by single underscores.
    static func pythonFloat(_ text: String) -> Double? {
        var s = Substring(text)
        while let c = s.first, c.isWhitespace { s.removeFirst() }
        while let c = s.last, c.isWhitespace { s.removeLast() }
        var negative = false
        if let c = s.first, c == "+" || c == "-" {
            negative = c == "-"
            s.removeFirst()
        }
        let word = s.lowercased()
        if word == "inf" || word == "infinity" { return negative ? -.infinity : .infinity }
        if word == "nan" { return negative ? -.nan : .nan }

        var cleaned = negative ? "-" : ""
        var index = s.startIndex
        /// Digits with single underscores between them; false when none or badly joined.
        func digits() -> Bool {
            var count = 0
            while index < s.endIndex {
                let c = s[index]
                if c.isASCII, c.isNumber {
                    cleaned.append(c)
                    count += 1
                    index = s.index(after: index)
                } else if c == "_", count > 0 {
                    let next = s.index(after: index)
                    guard next < s.endIndex, s[next].isASCII, s[next].isNumber else { return false }
                    index = next
                } else {
                    break
                }
            }
            return count > 0
        }
        let hasInteger = digits()
        var hasFraction = false
        if index < s.endIndex, s[index] == "." {
            cleaned.append(".")
            index = s.index(after: index)
            if index < s.endIndex, s[index].isASCII, s[index].isNumber {
                guard digits() else { return nil }
                hasFraction = true
            }
        }
        guard hasInteger || hasFraction else { return nil }
        if index < s.endIndex, s[index] == "e" || s[index] == "E" {
            cleaned.append("e")
            index = s.index(after: index)
            if index < s.endIndex, s[index] == "+" || s[index] == "-" {
                cleaned.append(s[index])
                index = s.index(after: index)
            }
            guard digits() else { return nil }
        }
        guard index == s.endIndex else { return nil }
        return Double(cleaned)
    }
}
