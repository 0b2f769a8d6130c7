import Foundation

/// Whose an instance is, and whose request this is: the name of an API key. With keys off
/// there is no owner (`nil` everywhere), and everything is everybody's.
public struct Owner: Sendable, Hashable, CustomStringConvertible {
    /// The key's name: `name` of a `name:key` line, or `key1`, `key2`, ... for `--api-key`.
    /// Also the folder of the monitor root that holds the owner's files.
    public let name: String

    public init(name: String) { self.name = name }

    public var description: String { name }
}

/// The API keys a server accepts, each with its name. Keys are compared in constant time
/// (the time depends on the number of keys and their lengths, never on where a guess differs),
/// and neither they nor a client's guess are ever logged or put in a message.
public struct APIKeyring: Sendable {
    public struct Entry: Sendable {
        public let owner: Owner
        fileprivate let key: [UInt8]
    }

    public private(set) var entries: [Entry] = []

    /// Keys longer than this are refused when configured, and a longer guess is compared only up
    /// to it (and never matches).
    public static let maximumKeyLength = 256

    public init() {}

    /// Whether clients need a key at all.
    public var isEnabled: Bool { !entries.isEmpty }

    /// A name an owner's folder can have: letters, digits, `_`, `-` and `.`, not starting with
    /// a dot, at most 64 characters.
    public static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 64 && !name.hasPrefix(".")
            && name.utf8.allSatisfy { byte in
                (byte >= 48 && byte <= 57) || (byte >= 65 && byte <= 90) || (byte >= 97 && byte <= 122)
                    || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
            }
    }

    /// A key a client can send in a header, a query string and a JSON string alike: printable
    /// ASCII without spaces, 1 to `maximumKeyLength` characters.
    public static func isValidKey(_ key: String) -> Bool {
        !key.isEmpty && key.utf8.count <= maximumKeyLength && key.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F }
    }

    /// Adds a key under `name`; throws when the name or key is unusable or already taken.
    public mutating func add(name: String, key: String) throws(APIKeyError) {
        guard Self.isValidName(name) else {
            throw APIKeyError("API key name '\(name.prefix(70))' is not usable as a folder name: use letters, digits, '_', '-' and '.' (at most 64, not starting with '.')")
        }
        guard Self.isValidKey(key) else {
            throw APIKeyError("The API key of '\(name)' must be 1 to \(Self.maximumKeyLength) printable ASCII characters without spaces")
        }
        guard !entries.contains(where: { $0.owner.name == name }) else {
            throw APIKeyError("The API key name '\(name)' is given twice")
        }
        guard lookup(key) == nil else {
            throw APIKeyError("The API key of '\(name)' is also the key of another name: every key must be different")
        }
        entries.append(Entry(owner: Owner(name: name), key: Array(key.utf8)))
    }

    /// Keys from `--api-key` (named key1, key2, ... unless given as `name:key`) and from a keys
    /// file: one `name:key` per line; blank lines and lines starting with `#` are skipped.
    public static func load(keys: [String], file: String?) throws(APIKeyError) -> APIKeyring {
        var ring = APIKeyring()
        var unnamed = 0
        for key in keys {
            unnamed += 1
            try ring.add(name: "key\(unnamed)", key: key)
        }
        if let file {
            let text: String
            do {
                text = try String(contentsOfFile: file, encoding: .utf8)
            } catch {
                throw APIKeyError("Cannot read the API keys file '\(file)': \(error.localizedDescription)")
            }
            // `\r\n` is one Character in Swift: split on any line break.
            for (index, rawLine) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
                let line = rawLine.trimmingCharacters(in: .whitespaces)
                if line.isEmpty || line.hasPrefix("#") { continue }
                guard let colon = line.firstIndex(of: ":") else {
                    throw APIKeyError("Line \(index + 1) of '\(file)' is not 'name:key'")
                }
                let name = String(line[..<colon]).trimmingCharacters(in: .whitespaces)
                let key = String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces)
                do {
                    try ring.add(name: name, key: key)
                } catch {
                    throw APIKeyError("Line \(index + 1) of '\(file)': \(error.message)")
                }
            }
        }
        return ring
    }

    /// The owner of `presented`, or nil when it is no key of ours. Every configured key is
    /// compared, each over its whole length, whatever matches.
    public func lookup(_ presented: some StringProtocol) -> Owner? {
        let guess = Array(presented.utf8.prefix(Self.maximumKeyLength + 1))
        var found: Owner?
        for entry in entries where Self.constantTimeEquals(entry.key, guess) {
            found = entry.owner
        }
        return found
    }

    /// The key of `owner`, for a replica that asks the fleet's others on the owner's behalf
    /// (every replica of a fleet has the same keys).
    package func key(of owner: Owner) -> String? {
        entries.first { $0.owner == owner }.map { String(decoding: $0.key, as: UTF8.self) }
    }

    /// Equality of two byte strings in time that depends only on their lengths.
    package static func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(truncatingIfNeeded: a.count ^ b.count) | UInt8(a.count == b.count ? 0 : 1)
        let length = max(a.count, b.count)
        for i in 0..<length {
            let x = i < a.count ? a[i] : 0
            let y = i < b.count ? b[i] : 0
            difference |= x ^ y
        }
        return difference == 0
    }
}

public struct APIKeyError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
