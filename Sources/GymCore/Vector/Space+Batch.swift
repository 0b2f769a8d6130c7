/// Gymnasium's `batch_space`, `concatenate` and `iterate` (gymnasium/vector/utils/space_utils.py):
/// the space of N values of a space at once, how N values are laid out in it, and how a batched
/// value is taken apart again.
extension Space {
    /// `batch_space(self, n)`: Discrete -> MultiDiscrete, Box -> a Box with a leading dimension
    /// of n, MultiDiscrete and MultiBinary -> integer Boxes, Tuple and Dict part by part.
    public func batched(_ n: Int) -> Space {
        switch self {
        case .discrete(let k, let start):
            return .multiDiscrete(nvec: Array(repeating: k, count: n), start: Array(repeating: start, count: n))
        case .box(let box):
            return .box(Box(low: Self.tile(box.low, n), high: Self.tile(box.high, n), shape: [n] + box.shape, dtype: box.dtype))
        case .multiDiscrete(let nvec, let start):
            let low = Self.tile(start.map(Double.init), n)
            let high = Self.tile(zip(start, nvec).map { Double($0 + $1 - 1) }, n)
            return .box(Box(low: low, high: high, shape: [n, nvec.count], dtype: .int64))
        case .multiBinary(let shape):
            let count = n * shape.reduce(1, *)
            return .box(Box(low: Array(repeating: 0, count: count), high: Array(repeating: 1, count: count), shape: [n] + shape, dtype: .int8))
        case .tuple(let spaces):
            return .tuple(spaces.map { $0.batched(n) })
        case .dict(let spaces):
            return .dict(spaces.map { (key: $0.key, space: $0.space.batched(n)) })
        }
    }

    private static func tile(_ values: [Double], _ n: Int) -> [Double] {
        var tiled: [Double] = []
        tiled.reserveCapacity(values.count * n)
        for _ in 0..<n { tiled += values }
        return tiled
    }

    /// `concatenate`: N values of this space as one value of `batched(N)`, in the JSON layout
    /// Gymnasium's arrays give (`tolist()`): a list of N for Discrete, rows for Box, MultiBinary and
    /// MultiDiscrete, and for Tuple and Dict the tuple or dict of their batched parts.
    public func batchedJSON(_ values: [SpaceValue]) -> JSON {
        switch self {
        case .tuple(let spaces):
            return .array(spaces.indices.map { k in
                spaces[k].batchedJSON(values.map { value in
                    if case .tuple(let parts) = value, k < parts.count { return parts[k] }
                    return value
                })
            })
        case .dict(let spaces):
            var members: [String: JSON] = [:]
            for (key, space) in spaces {
                members[key] = space.batchedJSON(values.map { value in
                    if case .dict(let parts) = value, let part = parts[key] { return part }
                    return value
                })
            }
            return .object(members)
        default:
            return .array(values.map(json))
        }
    }

    /// `iterate`: a client's batched JSON value of `batched(n)` as the n values of this space, in
    /// this space's form (not range-checked: `contains` does that).
    public func unbatched(_ json: JSON, count n: Int) throws(SpaceValueError) -> [SpaceValue] {
        switch self {
        case .tuple(let spaces):
            guard case .array(let parts) = json, parts.count == spaces.count else {
                throw SpaceValueError(message: "expected a list of \(spaces.count) batched parts for \(batched(n))")
            }
            var columns: [[SpaceValue]] = []
            for (space, part) in zip(spaces, parts) { columns.append(try space.unbatched(part, count: n)) }
            return (0..<n).map { i in .tuple(columns.map { $0[i] }) }
        case .dict(let spaces):
            guard case .object(let members) = json, Set(members.keys) == Set(spaces.map(\.key)) else {
                throw SpaceValueError(message: "expected an object with keys \(spaces.map(\.key).joined(separator: ", ")) for \(batched(n))")
            }
            var columns: [String: [SpaceValue]] = [:]
            for (key, space) in spaces { columns[key] = try space.unbatched(members[key]!, count: n) }
            return (0..<n).map { i in .dict(columns.mapValues { $0[i] }) }
        default:
            guard case .array(let rows) = json, rows.count == n else {
                throw SpaceValueError(message: "expected a list of \(n) actions, one per sub-environment, for \(batched(n))")
            }
            var values: [SpaceValue] = []
            values.reserveCapacity(n)
            for (index, row) in rows.enumerated() {
                do {
                    values.append(try value(from: row))
                } catch {
                    throw SpaceValueError(message: "sub-environment \(index): \(error.message)")
                }
            }
            return values
        }
    }
}
