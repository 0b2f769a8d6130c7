import GymCore
import Testing

@Suite("Spaces")
struct SpaceTests {
    let cartpole = Space.box(Box(low: [-4.8, -.infinity, -0.41887902047863906, -.infinity], high: [4.8, .infinity, 0.41887902047863906, .infinity]))

    @Test("gym's string forms")
    func descriptions() {
        #expect(Space.discrete(n: 2).description == "Discrete(2)")
        #expect(Space.discrete(n: 3, start: -1).description == "Discrete(3, start=-1)")
        #expect(Space.box(Box(low: -1, high: 1, shape: [1])).description == "Box(-1.0, 1.0, (1,), float32)")
        #expect(Space.box(Box(low: -2, high: 2, shape: [1])).description == "Box(-2.0, 2.0, (1,), float32)")
        #expect(Space.box(Box(low: 0, high: 255, shape: [2, 3], dtype: .uint8)).description == "Box(0, 255, (2, 3), uint8)")
        #expect(Space.multiBinary(shape: [4]).description == "MultiBinary(4)")
        #expect(Space.multiDiscrete(nvec: [2, 3], start: [0, 0]).description == "MultiDiscrete([2 3])")
        #expect(Space.tuple([.discrete(n: 32), .discrete(n: 11), .discrete(n: 2)]).description == "Tuple(Discrete(32), Discrete(11), Discrete(2))")
        #expect(Space.dict(["b": .discrete(n: 2), "a": .multiBinary(shape: [3])]).description == "Dict('a': MultiBinary(3), 'b': Discrete(2))")
    }

    @Test("the openai server's description, ±inf as ±1e100, float32 bounds as float64 of float32")
    func info() {
        #expect(Space.discrete(n: 4).info == ["name": "Discrete", "n": 4])
        let info = cartpole.info
        #expect(info["name"] == "Box")
        #expect(info["shape"] == [4])
        #expect(info["low"] == [-4.800000190734863, -1e100, -0.41887903213500977, -1e100])
        #expect(info["high"] == [4.800000190734863, 1e100, 0.41887903213500977, 1e100])
        #expect(Space.multiBinary(shape: [5]).info == ["name": "MultiBinary", "n": 5, "shape": [5]])
        #expect(Space.multiDiscrete(nvec: [2, 3], start: [0, 0]).info == ["name": "MultiDiscrete", "nvec": [2, 3], "shape": [2]])
    }

    @Test("contains")
    func contains() {
        let d = Space.discrete(n: 3, start: 1)
        #expect(d.contains(.int(1)) && d.contains(.int(3)))
        #expect(!d.contains(.int(0)) && !d.contains(.int(4)) && !d.contains(.floats([1])))
        #expect(cartpole.contains(.floats([0, 1e30, 0.4, -1e30])))
        #expect(!cartpole.contains(.floats([5, 0, 0, 0])))
        #expect(!cartpole.contains(.floats([.nan, 0, 0, 0])))
        #expect(!cartpole.contains(.floats([0, 0, 0])))
        #expect(Space.multiBinary(shape: [2]).contains(.ints([0, 1])))
        #expect(!Space.multiBinary(shape: [2]).contains(.ints([0, 2])))
        #expect(Space.multiDiscrete(nvec: [2, 3], start: [0, 1]).contains(.ints([1, 3])))
        #expect(!Space.multiDiscrete(nvec: [2, 3], start: [0, 1]).contains(.ints([1, 0])))
        let t = Space.tuple([.discrete(n: 2), .discrete(n: 3)])
        #expect(t.contains(.tuple([.int(1), .int(2)])))
        #expect(!t.contains(.tuple([.int(1)])))
    }

    @Test("reads client JSON into values of the space's form")
    func values() throws {
        #expect(try Space.discrete(n: 2).value(from: 1) == .int(1))
        #expect(throws: SpaceValueError.self) { try Space.discrete(n: 2).value(from: 1.5) }
        #expect(throws: SpaceValueError.self) { try Space.discrete(n: 2).value(from: true) }
        let box = Space.box(Box(low: -2, high: 2, shape: [1]))
        // float32 rounding, as np.asarray(x, dtype=float32)
        #expect(try box.value(from: [0.1]) == .floats([Double(Float(0.1))]))
        #expect(try box.value(from: [1]) == .floats([1]))
        #expect(throws: SpaceValueError.self) { try box.value(from: 0.5) }
        #expect(throws: SpaceValueError.self) { try box.value(from: [0.5, 0.5]) }
        let grid = Space.box(Box(low: 0, high: 1, shape: [2, 2], dtype: .float64))
        #expect(try grid.value(from: [[0, 0.5], [1, 0.25]]) == .floats([0, 0.5, 1, 0.25]))
        #expect(grid.json(.floats([0, 0.5, 1, 0.25])) == [[0.0, 0.5], [1.0, 0.25]])
        #expect(throws: SpaceValueError.self) { try grid.value(from: [[0, 0.5], [1]]) }
        let dict = Space.dict(["a": .discrete(n: 2)])
        #expect(try dict.value(from: ["a": 1]) == .dict(["a": .int(1)]))
        #expect(throws: SpaceValueError.self) { try dict.value(from: ["a": 1, "b": 2]) }
        let blackjack = Space.tuple([.discrete(n: 32), .discrete(n: 11), .discrete(n: 2)])
        #expect(blackjack.json(.tuple([.int(14), .int(10), .int(0)])) == [14, 10, 0])
    }
}

@Suite("numpy's str of bound arrays")
struct NumpyArrayFormatTests {
    // Expected strings printed by numpy 2.4 (`str(np.array(..., dtype=...))`).
    static let cases: [([Double], Bool, String)] = [
        ([1e-5, 3.0, 1000.5], true, "[1.0000e-05 3.0000e+00 1.0005e+03]"),
        ([0.1, 2.25, -3.0], false, "[ 0.1   2.25 -3.  ]"),
        ([1e9, 2.0], true, "[1.e+09 2.e+00]"),
        ([-1, -1, -8], true, "[-1. -1. -8.]"),
        ([-1.2, -0.07], true, "[-1.2  -0.07]"),
        ([-4.8, -.infinity, -0.41887902047863906, -.infinity], true, "[-4.8               -inf -0.41887903        -inf]"),
    ]

    @Test("formats as numpy", arguments: cases)
    func formats(_ values: [Double], _ float32: Bool, _ expected: String) {
        let box = Box(low: values, high: values.map { $0.isFinite ? abs($0) + 1e12 : .infinity }, dtype: float32 ? .float32 : .float64)
        #expect(Space.box(box).description.hasPrefix("Box(\(expected), "))
    }
}

@Suite("batch_space and numpy's str of the batched spaces")
struct BatchSpaceTests {
    /// Strings printed by Gymnasium 1.4.0 / numpy 2 for the same spaces.
    @Test("reprs as Gymnasium prints them, numpy's line wrapping included")
    func reprs() {
        #expect(Space.discrete(n: 6).batched(37).description == "MultiDiscrete([" + Array(repeating: "6", count: 37).joined(separator: " ") + "])")
        #expect(Space.discrete(n: 500).batched(20).description
            == "MultiDiscrete([" + Array(repeating: "500", count: 18).joined(separator: " ") + "\n 500 500])")
        #expect(Space.multiDiscrete(nvec: [2, 3], start: [-1, 0]).description == "MultiDiscrete([2 3], start=[-1  0])")
        #expect(Space.multiDiscrete(nvec: [2, 3], start: [0, 0]).batched(3).description == "Box(0, [[1 2]\n [1 2]\n [1 2]], (3, 2), int64)")
        let box = Space.box(Box(low: [-1, -2, -8], high: [1, 2, 8]))
        #expect(box.batched(2).description == "Box([[-1. -2. -8.]\n [-1. -2. -8.]], [[1. 2. 8.]\n [1. 2. 8.]], (2, 3), float32)")
        #expect(Space.multiBinary(shape: [4]).batched(3).description == "Box(0, 1, (3, 4), int8)")
    }

    @Test("batched values laid out as concatenate lays them out, and taken apart as iterate does")
    func layout() throws {
        let tuple = Space.tuple([.discrete(n: 32), .discrete(n: 11), .discrete(n: 2)])
        let values: [SpaceValue] = [.tuple([.int(14), .int(4), .int(0)]), .tuple([.int(12), .int(10), .int(1)])]
        let json = tuple.batchedJSON(values)
        #expect(json == [[14, 12], [4, 10], [0, 1]])
        #expect(try tuple.unbatched(json, count: 2) == values)
        #expect(throws: SpaceValueError.self) { try Space.discrete(n: 2).unbatched([0, 1, 1], count: 2) }
    }
}
