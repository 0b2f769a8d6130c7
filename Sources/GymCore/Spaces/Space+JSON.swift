/// Why a JSON value is not a value of a space's form.
public struct SpaceValueError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

extension Space {
    // MARK: values to JSON

    /// The JSON form of a value, as numpy's `tolist()` gives it: nested lists by shape, float32
    /// elements written as the float64 of the float32 value.
    public func json(_ value: SpaceValue) -> JSON {
        switch (self, value) {
        case (.discrete, .int(let i)):
            return .int(i)
        case (.box(let box), .floats(let values)):
            return Self.nest(values.map(JSON.double), shape: box.shape)
        case (.box(let box), .ints(let values)):
            return Self.nest(values.map(JSON.int), shape: box.shape)
        case (.multiBinary(let shape), .ints(let values)):
            return Self.nest(values.map(JSON.int), shape: shape)
        case (.multiDiscrete, .ints(let values)):
            return .array(values.map(JSON.int))
        case (.tuple(let spaces), .tuple(let values)):
            return .array(zip(spaces, values).map { $0.json($1) })
        case (.dict(let spaces), .dict(let values)):
            var members: [String: JSON] = [:]
            for (key, space) in spaces { if let v = values[key] { members[key] = space.json(v) } }
            return .object(members)
        default:
            // A value of another form: write it as it is rather than lose it.
            return Self.plainJSON(value)
        }
    }

    private static func plainJSON(_ value: SpaceValue) -> JSON {
        switch value {
        case .int(let i): return .int(i)
        case .floats(let f): return .array(f.map(JSON.double))
        case .ints(let i): return .array(i.map(JSON.int))
        case .tuple(let t): return .array(t.map(plainJSON))
        case .dict(let d): return .object(d.mapValues(plainJSON))
        }
    }

    private static func nest(_ flat: [JSON], shape: [Int]) -> JSON {
        if shape.isEmpty { return flat.first ?? .null }
        if shape.count == 1 { return .array(flat) }
        let inner = Array(shape.dropFirst())
        let stride = inner.reduce(1, *)
        return .array((0..<shape[0]).map { i in nest(Array(flat[(i * stride)..<((i + 1) * stride)]), shape: inner) })
    }

    // MARK: JSON to values

    /// Reads a client's JSON as a value of this space's form (right type and shape; float values
    /// rounded to the dtype). Bounds are not checked here: `contains` does that.
    public func value(from json: JSON) throws(SpaceValueError) -> SpaceValue {
        switch self {
        case .discrete:
            guard case .int(let i) = json else {
                throw SpaceValueError(message: "expected an integer for \(description), got \(json.typeName)")
            }
            return .int(i)
        case .box(let box):
            let flat = try Self.flatten(json, shape: box.shape, spaceDescription: description)
            if box.dtype.isFloatingPoint {
                var values = [Double]()
                values.reserveCapacity(flat.count)
                for element in flat {
                    guard let d = element.doubleValue else {
                        throw SpaceValueError(message: "expected numbers for \(description), got \(element.typeName)")
                    }
                    values.append(box.dtype.castAction(d))
                }
                return .floats(values)
            }
            return .ints(try Self.integers(flat, spaceDescription: description))
        case .multiBinary(let shape):
            let flat = try Self.flatten(json, shape: shape, spaceDescription: description)
            return .ints(try Self.integers(flat, spaceDescription: description))
        case .multiDiscrete(let nvec, _):
            let flat = try Self.flatten(json, shape: [nvec.count], spaceDescription: description)
            return .ints(try Self.integers(flat, spaceDescription: description))
        case .tuple(let spaces):
            guard case .array(let elements) = json, elements.count == spaces.count else {
                throw SpaceValueError(message: "expected an array of \(spaces.count) elements for \(description)")
            }
            var values: [SpaceValue] = []
            for (space, element) in zip(spaces, elements) { values.append(try space.value(from: element)) }
            return .tuple(values)
        case .dict(let spaces):
            guard case .object(let members) = json else {
                throw SpaceValueError(message: "expected an object for \(description), got \(json.typeName)")
            }
            let expected = Set(spaces.map(\.key))
            if let extra = members.keys.sorted().first(where: { !expected.contains($0) }) {
                throw SpaceValueError(message: "unexpected key '\(extra)' for \(description)")
            }
            var values: [String: SpaceValue] = [:]
            for (key, space) in spaces {
                guard let member = members[key] else {
                    throw SpaceValueError(message: "missing key '\(key)' for \(description)")
                }
                values[key] = try space.value(from: member)
            }
            return .dict(values)
        }
    }

    private static func integers(_ flat: [JSON], spaceDescription: String) throws(SpaceValueError) -> [Int] {
        var values: [Int] = []
        values.reserveCapacity(flat.count)
        for element in flat {
            guard case .int(let i) = element else {
                throw SpaceValueError(message: "expected integers for \(spaceDescription), got \(element.typeName)")
            }
            values.append(i)
        }
        return values
    }

    /// Flattens nested arrays of the given shape; a flat array of the right length is accepted too.
    private static func flatten(_ json: JSON, shape: [Int], spaceDescription: String) throws(SpaceValueError) -> [JSON] {
        let count = shape.reduce(1, *)
        if shape.isEmpty {
            if case .array = json {
                throw SpaceValueError(message: "expected a scalar for \(spaceDescription)")
            }
            return [json]
        }
        var flat: [JSON] = []
        flat.reserveCapacity(count)
        func walk(_ j: JSON, _ dims: ArraySlice<Int>) throws(SpaceValueError) {
            guard let dim = dims.first else {
                if case .array = j { throw SpaceValueError(message: "array nested too deeply for \(spaceDescription)") }
                flat.append(j)
                return
            }
            guard case .array(let elements) = j, elements.count == dim else {
                throw SpaceValueError(message: "expected an array of shape \(shapeString(shape)) for \(spaceDescription), got \(j.typeName == "an array" ? "an array of another shape" : j.typeName)")
            }
            for element in elements { try walk(element, dims.dropFirst()) }
        }
        if case .array(let elements) = json, shape.count > 1, elements.count == count,
            !elements.contains(where: { $0.arrayValue != nil })
        {
            return elements
        }
        try walk(json, shape[...])
        return flat
    }

    // MARK: descriptions

    /// The description the openai gym-http-api server returned for a space: `name`, and `n`
    /// (Discrete), `shape`/`low`/`high` (Box, bounds flattened, ±inf as ±1e100), and so on.
    public var info: JSON {
        switch self {
        case .discrete(let n, let start):
            var members: [String: JSON] = ["name": "Discrete", "n": .int(n)]
            if start != 0 { members["start"] = .int(start) }
            return .object(members)
        case .box(let box):
            func bound(_ x: Double) -> JSON {
                if x == .infinity { return .double(1e100) }
                if x == -.infinity { return .double(-1e100) }
                return box.dtype.isFloatingPoint ? .double(x) : Int(exactly: x).map(JSON.int) ?? .double(x)
            }
            return [
                "name": "Box", "shape": .array(box.shape.map(JSON.int)),
                "low": .array(box.low.map(bound)), "high": .array(box.high.map(bound)),
                "dtype": .string(box.dtype.rawValue),
            ]
        case .multiBinary(let shape):
            return [
                "name": "MultiBinary", "n": shape.count == 1 ? .int(shape[0]) : .array(shape.map(JSON.int)),
                "shape": .array(shape.map(JSON.int)),
            ]
        case .multiDiscrete(let nvec, let start):
            var members: [String: JSON] = [
                "name": "MultiDiscrete", "nvec": .array(nvec.map(JSON.int)), "shape": [.int(nvec.count)],
            ]
            if start.contains(where: { $0 != 0 }) { members["start"] = .array(start.map(JSON.int)) }
            return .object(members)
        case .tuple(let spaces):
            return ["name": "Tuple", "spaces": .array(spaces.map(\.info))]
        case .dict(let spaces):
            var members: [String: JSON] = [:]
            for (key, space) in spaces { members[key] = space.info }
            return ["name": "Dict", "spaces": .object(members)]
        }
    }
}

extension Space: CustomStringConvertible {
    /// Gymnasium's `repr` of the space: `Discrete(2)`, `Box(-1.0, 1.0, (1,), float32)`.
    public var description: String {
        switch self {
        case .discrete(let n, let start):
            return start == 0 ? "Discrete(\(n))" : "Discrete(\(n), start=\(start))"
        case .box(let box):
            return "Box(\(Self.shortRepr(box.low, box)), \(Self.shortRepr(box.high, box)), \(shapeString(box.shape)), \(box.dtype.rawValue))"
        case .multiBinary(let shape):
            return "MultiBinary(\(shape.count == 1 ? String(shape[0]) : shapeString(shape)))"
        case .multiDiscrete(let nvec, let start):
            let n = NumpyArrayFormat.string(nvec)
            if start.contains(where: { $0 != 0 }) {
                return "MultiDiscrete(\(n), start=\(NumpyArrayFormat.string(start)))"
            }
            return "MultiDiscrete(\(n))"
        case .tuple(let spaces):
            return "Tuple(" + spaces.map(\.description).joined(separator: ", ") + ")"
        case .dict(let spaces):
            return "Dict(" + spaces.map { "'\($0.key)': \($0.space.description)" }.joined(separator: ", ") + ")"
        }
    }

    /// numpy's `str` of a scalar when all bounds are equal, else of the array (Gymnasium's
    /// `array_short_repr`).
    private static func shortRepr(_ values: [Double], _ box: Box) -> String {
        let dtype = box.dtype
        if let first = values.first, values.allSatisfy({ $0 == first }) {
            if first.isInfinite { return first < 0 ? "-inf" : "inf" }
            switch dtype {
            case .float32: return Float(first).description
            case .float64: return pythonRepr(first)
            default: return Int(exactly: first).map(String.init) ?? pythonRepr(first)
            }
        }
        let items =
            dtype.isFloatingPoint
            ? NumpyArrayFormat.items(values, float32: dtype == .float32)
            : NumpyArrayFormat.items(values.map { Int(exactly: $0) ?? ($0 < 0 ? Int.min : Int.max) })
        return NumpyArrayFormat.nested(items, shape: box.shape)
    }
}

/// A shape as Python writes a tuple: `(4,)`, `(2, 3)`, `()`.
public func shapeString(_ shape: [Int]) -> String {
    if shape.count == 1 { return "(\(shape[0]),)" }
    return "(" + shape.map(String.init).joined(separator: ", ") + ")"
}
