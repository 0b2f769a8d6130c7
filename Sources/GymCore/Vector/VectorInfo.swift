/// The info of N sub-environments in Gymnasium's vector form (`VectorEnv._add_info`): each key's
/// values for all N, with a `_key` mask of the sub-environments that gave it.
///
/// The array a key gets is chosen by the first value seen, as numpy chooses it: an integer makes
/// an int64 array, a float a float64 one, a boolean a bool one, an array (numpy's ndarray) an
/// array of N rows of its shape; anything else (strings, null) an object array. Absent entries
/// hold the zero of that array (0, 0.0, false, zero rows, null), and later values are cast to it
/// (a float in an int64 array is truncated toward zero; an integer in a float64 array becomes a
/// float). A nested object is batched the same way, with masks of its own; `final_obs` (at any
/// depth) is always an object array of the raw observations.
public struct VectorInfo: Sendable {
    private indirect enum Column: Sendable {
        case ints([Int])
        case doubles([Double])
        case bools([Bool])
        /// numpy arrays: N rows, absent rows the zero row of the first array seen.
        case arrays(kind: ElementKind, rows: [JSON])
        case objects([JSON])
        case nested(VectorInfo)
    }

    /// The element type of an info array (numpy's dtype, as far as JSON tells).
    private enum ElementKind: Sendable {
        case int, double, bool

        /// The kind of a JSON array's elements: float if any element is, bool if all are.
        init(of json: JSON) {
            var kind = ElementKind.bool
            var sawAny = false
            func visit(_ j: JSON) {
                switch j {
                case .array(let elements): elements.forEach(visit)
                case .double: kind = .double; sawAny = true
                case .int: if kind == .bool { kind = .int }; sawAny = true
                case .bool: sawAny = true
                default: kind = .double
                }
            }
            visit(json)
            if !sawAny { kind = .double }
            self = kind
        }

        func cast(_ json: JSON) -> JSON {
            switch json {
            case .array(let elements): return .array(elements.map(cast))
            case .int(let i):
                switch self {
                case .int: return .int(i)
                case .double: return .double(Double(i))
                case .bool: return .bool(i != 0)
                }
            case .double(let d):
                switch self {
                case .int: return .int(Int(exactly: d.rounded(.towardZero)) ?? 0)
                case .double: return .double(d)
                case .bool: return .bool(d != 0)
                }
            case .bool(let b):
                switch self {
                case .int: return .int(b ? 1 : 0)
                case .double: return .double(b ? 1 : 0)
                case .bool: return .bool(b)
                }
            default: return zero
            }
        }

        var zero: JSON {
            switch self {
            case .int: return .int(0)
            case .double: return .double(0)
            case .bool: return .bool(false)
            }
        }

        /// An array of this kind with the shape of `json`, every element zero.
        func zeros(like json: JSON) -> JSON {
            if case .array(let elements) = json { return .array(elements.map(zeros)) }
            return zero
        }
    }

    public let count: Int
    private var columns: [String: Column] = [:]
    private var masks: [String: [Bool]] = [:]

    public init(count: Int) {
        self.count = count
    }

    public var isEmpty: Bool { columns.isEmpty }

    /// Adds sub-environment `index`'s info.
    public mutating func add(_ info: [String: JSON], at index: Int) {
        for (key, value) in info {
            if key == "final_obs" {
                var objects: [JSON]
                if case .objects(let existing)? = columns[key] { objects = existing } else { objects = Array(repeating: .null, count: count) }
                objects[index] = value
                columns[key] = .objects(objects)
            } else if case .object(let members) = value {
                var nested: VectorInfo
                if case .nested(let existing)? = columns[key] { nested = existing } else { nested = VectorInfo(count: count) }
                nested.add(members, at: index)
                columns[key] = .nested(nested)
            } else {
                columns[key] = Self.assign(value, at: index, into: columns[key], count: count)
            }
            var mask = masks[key] ?? Array(repeating: false, count: count)
            mask[index] = true
            masks[key] = mask
        }
    }

    private static func assign(_ value: JSON, at index: Int, into column: Column?, count: Int) -> Column {
        switch column ?? newColumn(for: value, count: count) {
        case .ints(var values):
            switch value {
            case .int(let i): values[index] = i
            case .double(let d): values[index] = Int(exactly: d.rounded(.towardZero)) ?? 0
            case .bool(let b): values[index] = b ? 1 : 0
            default: values[index] = 0
            }
            return .ints(values)
        case .doubles(var values):
            values[index] = value.doubleValue ?? (value.boolValue.map { $0 ? 1 : 0 }) ?? .nan
            return .doubles(values)
        case .bools(var values):
            switch value {
            case .bool(let b): values[index] = b
            case .int(let i): values[index] = i != 0
            case .double(let d): values[index] = d != 0
            default: values[index] = true
            }
            return .bools(values)
        case .arrays(let kind, var rows):
            rows[index] = kind.cast(value)
            return .arrays(kind: kind, rows: rows)
        case .objects(var values):
            values[index] = value
            return .objects(values)
        case .nested(let nested):
            return .nested(nested)
        }
    }

    private static func newColumn(for value: JSON, count: Int) -> Column {
        switch value {
        case .int: return .ints(Array(repeating: 0, count: count))
        case .double: return .doubles(Array(repeating: 0, count: count))
        case .bool: return .bools(Array(repeating: false, count: count))
        case .array:
            let kind = ElementKind(of: value)
            return .arrays(kind: kind, rows: Array(repeating: kind.zeros(like: value), count: count))
        default: return .objects(Array(repeating: .null, count: count))
        }
    }

    /// The batched info: each key's N values and its `_key` mask.
    public var json: [String: JSON] {
        var out: [String: JSON] = [:]
        for (key, column) in columns {
            switch column {
            case .ints(let values): out[key] = .array(values.map(JSON.int))
            case .doubles(let values): out[key] = .array(values.map(JSON.double))
            case .bools(let values): out[key] = .array(values.map(JSON.bool))
            case .arrays(_, let rows): out[key] = .array(rows)
            case .objects(let values): out[key] = .array(values)
            case .nested(let nested): out[key] = .object(nested.json)
            }
            out["_" + key] = .array((masks[key] ?? []).map(JSON.bool))
        }
        return out
    }
}
