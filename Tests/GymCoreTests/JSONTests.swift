import GymCore
import Testing

@Suite("JSON reading and writing")
struct JSONTests {
    @Test("parses every JSON form")
    func parses() throws {
        let json = try JSONParser.parse(#" {"a": [1, -2, 3.5, 1e3, -0.0, true, false, null], "b": "x\"\\\n\u00e9\ud83d\ude00", "c": {}} "#)
        #expect(json["a"] == [1, -2, 3.5, 1000.0, -0.0, true, false, nil])
        #expect(json["b"] == "x\"\\\né😀")
        #expect(json["c"] == .object([:]))
    }

    @Test("keeps integers apart from floats, and big integers as floats")
    func numbers() throws {
        #expect(try JSONParser.parse("1") == .int(1))
        #expect(try JSONParser.parse("1.0") == .double(1.0))
        #expect(try JSONParser.parse("-9223372036854775808") == .int(Int.min))
        #expect(try JSONParser.parse("9223372036854775807") == .int(Int.max))
        #expect(try JSONParser.parse("9223372036854775808") == .double(9223372036854775808.0))
        #expect(try JSONParser.parse("NaN").doubleValue?.isNaN == true)
        #expect(try JSONParser.parse("-Infinity") == .double(-.infinity))
    }

    @Test("rejects what is not JSON", arguments: [
        "", "{", "[1,]", "{\"a\" 1}", "01", "1.", ".5", "-", "tru", "\"abc", "\"\\x\"", "[1] 2", "\"\u{01}\"",
        "{\"a\":1,}", "\"\\ud800\"", "nul", "1e", "[" + String(repeating: "[", count: 300),
    ])
    func rejects(_ text: String) {
        #expect(throws: JSONParseError.self) { try JSONParser.parse(text) }
    }

    @Test("rejects invalid UTF-8")
    func invalidUTF8() {
        #expect(throws: JSONParseError.self) { try JSONParser.parse([0x22, 0xFF, 0x22]) }
    }

    @Test("writes floats as Python's repr does", arguments: [
        (0.1, "0.1"), (1.0, "1.0"), (-2.5, "-2.5"), (1e-05, "1e-05"), (0.0001, "0.0001"), (1e16, "1e+16"),
        (1234567890123456.0, "1234567890123456.0"), (1e100, "1e+100"), (-1e100, "-1e+100"),
        (4.800000190734863, "4.800000190734863"), (1.5e-07, "1.5e-07"), (3.4028234663852886e+38, "3.4028234663852886e+38"),
        (123456789.0, "123456789.0"), (0.0, "0.0"), (-0.0, "-0.0"),
    ])
    func floats(_ value: Double, _ expected: String) {
        #expect(pythonRepr(value) == expected)
    }

    @Test("writes objects with sorted keys, escapes strings, and round-trips")
    func writes() throws {
        let value: JSON = ["b": [1, 2.5, nil, true], "a": "q\"\n\u{01}é"]
        let text = JSONWriter.string(value)
        #expect(text == #"{"a": "q\"\n\u0001é", "b": [1, 2.5, null, true]}"#)
        #expect(try JSONParser.parse(text) == value)
        #expect(JSONWriter.string(.double(.infinity)) == "Infinity")
        // Strings without anything to escape are copied whole; one escape anywhere takes the
        // byte-by-byte path.
        #expect(JSONWriter.string(.string("plain é ∞ 0123")) == "\"plain é ∞ 0123\"")
        #expect(JSONWriter.string(.string("a\\b")) == #""a\\b""#)
        #expect(JSONWriter.string(.string("tab\tend")) == #""tab\tend""#)
        #expect(JSONWriter.string(.string("")) == "\"\"")
    }
}
