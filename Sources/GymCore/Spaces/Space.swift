/// The element type of a `Box` space, as numpy names it.
public enum BoxDType: String, Sendable, Equatable, CaseIterable {
    case float32, float64, int64, int32, int16, int8, uint8
    /// The dtypes only bridged environments use (native ones never do).
    case float16, uint16, uint32, uint64, bool

    public var isFloatingPoint: Bool { self == .float32 || self == .float64 || self == .float16 }

    /// Bytes per element, as numpy stores them.
    public var byteCount: Int {
        switch self {
        case .float64, .int64, .uint64: return 8
        case .float32, .int32, .uint32: return 4
        case .float16, .int16, .uint16: return 2
        case .int8, .uint8, .bool: return 1
        }
    }

    /// Rounds a double to what this dtype can hold (float32 rounding for `float32`).
    @inlinable
    public func cast(_ value: Double) -> Double {
        switch self {
        case .float32: return Double(Float(value))
        case .float16: return Self.float16(value)
        case .float64: return value
        default: return value.rounded(.towardZero)
        }
    }

    /// The range an integer dtype can hold.
    public var integerRange: ClosedRange<Double>? {
        switch self {
        case .int64: return Double(Int64.min)...Double(Int64.max)
        case .int32: return Double(Int32.min)...Double(Int32.max)
        case .int16: return Double(Int16.min)...Double(Int16.max)
        case .int8: return Double(Int8.min)...Double(Int8.max)
        case .uint8: return 0...255
        case .uint16: return 0...Double(UInt16.max)
        case .uint32: return 0...Double(UInt32.max)
        case .uint64: return 0...Double(UInt64.max)
        case .bool: return 0...1
        default: return nil
        }
    }

    /// Rounds a client's number to this dtype as an action: a finite number beyond the dtype's
    /// range becomes its largest finite value of that sign (not infinity), so that an
    /// environment that clips its actions clips it to its bound, as Gymnasium's clips the
    /// Python float the client sent.
    @inlinable
    public func castAction(_ value: Double) -> Double {
        let cast = cast(value)
        guard cast.isInfinite, value.isFinite else { return cast }
        let largest: Double
        switch self {
        case .float32: largest = Double(Float.greatestFiniteMagnitude)
        case .float16: largest = Double(Float16.greatestFiniteMagnitude)
        default: return cast
        }
        return value < 0 ? -largest : largest
    }

    /// A double rounded to binary16 (IEEE 754 half precision).
    @usableFromInline
    static func float16(_ value: Double) -> Double { Double(Float16(value)) }
}

/// A box in R^n: every element between `low` and `high` (which may be infinite).
/// Bounds are stored flattened in row-major order, already rounded to the dtype.
public struct Box: Sendable, Equatable {
    public let shape: [Int]
    public let low: [Double]
    public let high: [Double]
    public let dtype: BoxDType

    public init(low: [Double], high: [Double], shape: [Int]? = nil, dtype: BoxDType = .float32) {
        let shape = shape ?? [low.count]
        precondition(low.count == high.count && low.count == shape.reduce(1, *), "Box bounds do not match its shape")
        self.shape = shape
        self.low = low.map(dtype.cast)
        self.high = high.map(dtype.cast)
        self.dtype = dtype
    }

    public init(low: Double, high: Double, shape: [Int], dtype: BoxDType = .float32) {
        let count = shape.reduce(1, *)
        self.init(low: Array(repeating: low, count: count), high: Array(repeating: high, count: count), shape: shape, dtype: dtype)
    }

    public var count: Int { low.count }
}

/// A space: the set actions or observations are drawn from, as Gymnasium defines them.
public indirect enum Space: Sendable, Equatable {
    /// `{start, start + 1, ..., start + n - 1}`.
    case discrete(n: Int, start: Int = 0)
    case box(Box)
    /// Binary vectors of the given shape (int8).
    case multiBinary(shape: [Int])
    /// A vector of discrete spaces: element i in `start[i] ..< start[i] + nvec[i]` (int64).
    case multiDiscrete(nvec: [Int], start: [Int])
    case tuple([Space])
    /// Keys in sorted order, as Gymnasium sorts a dict it is given.
    case dict([(key: String, space: Space)])

    public static func == (lhs: Space, rhs: Space) -> Bool {
        switch (lhs, rhs) {
        case (.discrete(let a, let s), .discrete(let b, let t)): return a == b && s == t
        case (.box(let a), .box(let b)): return a == b
        case (.multiBinary(let a), .multiBinary(let b)): return a == b
        case (.multiDiscrete(let a, let s), .multiDiscrete(let b, let t)): return a == b && s == t
        case (.tuple(let a), .tuple(let b)): return a == b
        case (.dict(let a), .dict(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.key == $1.key && $0.space == $1.space }
        default: return false
        }
    }

    /// Gymnasium's class name for the space.
    public var name: String {
        switch self {
        case .discrete: return "Discrete"
        case .box: return "Box"
        case .multiBinary: return "MultiBinary"
        case .multiDiscrete: return "MultiDiscrete"
        case .tuple: return "Tuple"
        case .dict: return "Dict"
        }
    }

    /// Builds a Dict space, sorting its keys as Gymnasium does.
    public static func dict(_ spaces: [String: Space]) -> Space {
        .dict(spaces.keys.sorted().map { (key: $0, space: spaces[$0]!) })
    }
}

/// A point of a space: an action or an observation.
public indirect enum SpaceValue: Sendable, Equatable, Hashable {
    /// A `Discrete` element.
    case int(Int)
    /// A floating-point `Box` element, flattened, each value already rounded to the box's dtype.
    case floats([Double])
    /// An integer `Box`, `MultiBinary` or `MultiDiscrete` element, flattened.
    case ints([Int])
    case tuple([SpaceValue])
    case dict([String: SpaceValue])

    /// The integer of a `Discrete` value.
    public var intValue: Int? {
        if case .int(let i) = self { return i }
        return nil
    }

    public var floatsValue: [Double]? {
        if case .floats(let f) = self { return f }
        return nil
    }
}

extension Space {
    /// Whether `value` is an element of this space (Gymnasium's `contains`).
    /// Whether an environment may be stepped with `value`: a member of the space, or, for a
    /// floating-point Box, finite numbers of its shape, in or out of its bounds. Gymnasium checks
    /// no action against its space: its continuous environments clip what they get (Pendulum,
    /// MountainCarContinuous, LunarLander's continuous mode), and agents with exploration noise
    /// rely on it, as openai's server stepped such actions. NaN and infinities are refused.
    public func accepts(_ value: SpaceValue) -> Bool {
        switch (self, value) {
        case (.box(let box), .floats(let values)) where box.dtype.isFloatingPoint:
            return values.count == box.count && values.allSatisfy(\.isFinite)
        case (.tuple(let spaces), .tuple(let values)):
            return spaces.count == values.count && zip(spaces, values).allSatisfy { $0.accepts($1) }
        case (.dict(let spaces), .dict(let values)):
            return spaces.count == values.count
                && spaces.allSatisfy { entry in values[entry.key].map { entry.space.accepts($0) } ?? false }
        default:
            return contains(value)
        }
    }

    public func contains(_ value: SpaceValue) -> Bool {
        switch (self, value) {
        case (.discrete(let n, let start), .int(let i)):
            return i >= start && i < start + n
        case (.box(let box), .floats(let values)) where box.dtype.isFloatingPoint:
            guard values.count == box.count else { return false }
            for i in values.indices {
                let v = values[i]
                if v.isNaN || v < box.low[i] || v > box.high[i] { return false }
            }
            return true
        case (.box(let box), .ints(let values)) where !box.dtype.isFloatingPoint:
            guard values.count == box.count else { return false }
            return values.indices.allSatisfy { Double(values[$0]) >= box.low[$0] && Double(values[$0]) <= box.high[$0] }
        case (.multiBinary(let shape), .ints(let values)):
            return values.count == shape.reduce(1, *) && values.allSatisfy { $0 == 0 || $0 == 1 }
        case (.multiDiscrete(let nvec, let start), .ints(let values)):
            return values.count == nvec.count
                && values.indices.allSatisfy { values[$0] >= start[$0] && values[$0] < start[$0] + nvec[$0] }
        case (.tuple(let spaces), .tuple(let values)):
            return spaces.count == values.count && zip(spaces, values).allSatisfy { $0.contains($1) }
        case (.dict(let spaces), .dict(let values)):
            return spaces.count == values.count
                && spaces.allSatisfy { entry in values[entry.key].map { entry.space.contains($0) } ?? false }
        default:
            return false
        }
    }

    /// The shape Gymnasium reports (`None` for Tuple and Dict, `()` for Discrete).
    public var shape: [Int]? {
        switch self {
        case .discrete: return []
        case .box(let box): return box.shape
        case .multiBinary(let shape): return shape
        case .multiDiscrete(let nvec, _): return [nvec.count]
        case .tuple, .dict: return nil
        }
    }
}
