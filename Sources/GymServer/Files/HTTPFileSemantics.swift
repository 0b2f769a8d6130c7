#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// HTTP dates in the IMF-fixdate form (`Sun, 06 Nov 1994 08:49:37 GMT`), the only form servers
/// send; parsing also takes RFC 850 and asctime dates, as RFC 9110 asks of recipients.
enum HTTPDate {
    private static let weekdays = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    static func string(epochSeconds: Int) -> String {
        var time = time_t(epochSeconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let weekday = weekdays[Int(parts.tm_wday) % 7]
        let month = months[Int(parts.tm_mon) % 12]
        return "\(weekday), \(two(parts.tm_mday)) \(month) \(parts.tm_year + 1900) \(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
    }

    /// Seconds since 1970 of an HTTP date, or nil when it is not one.
    static func epochSeconds(_ text: String) -> Int? {
        let words = text.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        var day: Int?
        var monthName: String?
        var year: Int?
        var clock: String?
        if words.count == 6, words[5] == "GMT" {
            // IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
            (day, monthName, year, clock) = (Int(words[1]), words[2], Int(words[3]), words[4])
        } else if words.count == 4, words[3] == "GMT" {
            // RFC 850: Sunday, 06-Nov-94 08:49:37 GMT
            let date = words[1].split(separator: "-").map(String.init)
            // Two digits: anything longer is no RFC 850 date (and would overflow below).
            guard date.count == 3, date[2].count == 2, let shortYear = Int(date[2]), shortYear >= 0 else { return nil }
            (day, monthName, year, clock) = (Int(date[0]), date[1], shortYear < 70 ? 2000 + shortYear : 1900 + shortYear, words[2])
        } else if words.count == 5 {
            // asctime: Sun Nov  6 08:49:37 1994
            (day, monthName, year, clock) = (Int(words[2]), words[1], Int(words[4]), words[3])
        }
        guard let day, let monthName, let year, let clock,
            let month = months.firstIndex(of: monthName), (1...31).contains(day), (1970...9999).contains(year)
        else { return nil }
        let hms = clock.split(separator: ":").compactMap { Int($0) }
        guard hms.count == 3, (0...23).contains(hms[0]), (0...59).contains(hms[1]), (0...60).contains(hms[2]) else {
            return nil
        }
        var parts = tm()
        parts.tm_year = Int32(year - 1900)
        parts.tm_mon = Int32(month)
        parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hms[0])
        parts.tm_min = Int32(hms[1])
        parts.tm_sec = Int32(hms[2])
        return Int(timegm(&parts))
    }
}

/// What a `Range` header asks of a representation of `size` bytes (RFC 9110 §14).
enum ByteRangeRequest: Equatable {
    /// No usable range: send the whole representation (absent, not `bytes=`, malformed, or
    /// several ranges, which a server may answer in full).
    case whole
    /// One satisfiable range, clamped to the representation.
    case partial(ClosedRange<Int>)
    /// A well-formed range no byte of which exists: 416.
    case unsatisfiable

    init(header: String?, size: Int) {
        guard let header else {
            self = .whole
            return
        }
        let trimmed = header.trimmingASCIIWhitespace()
        guard trimmed.lowercased().hasPrefix("bytes=") else {
            self = .whole
            return
        }
        let spec = trimmed.dropFirst("bytes=".count).trimmingASCIIWhitespace()
        guard !spec.contains(","), let dash = spec.firstIndex(of: "-") else {
            self = .whole
            return
        }
        let first = spec[..<dash].trimmingASCIIWhitespace()
        let last = spec[spec.index(after: dash)...].trimmingASCIIWhitespace()
        // Digits only; a number too large for an Int stands for "past any file" (Int.max).
        func number(_ text: Substring) -> Int? {
            guard !text.isEmpty, text.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
            return text.count <= 18 ? Int(text) : Int.max
        }
        if first.isEmpty {
            // Suffix range: the last N bytes.
            guard let suffix = number(last) else {
                self = .whole
                return
            }
            guard suffix > 0, size > 0 else {
                self = .unsatisfiable
                return
            }
            self = .partial(max(0, size - suffix)...(size - 1))
            return
        }
        guard let start = number(first) else {
            self = .whole
            return
        }
        var end = size - 1
        if !last.isEmpty {
            guard let requestedEnd = number(last), requestedEnd >= start else {
                self = .whole
                return
            }
            end = min(requestedEnd, size - 1)
        }
        guard start < size else {
            self = .unsatisfiable
            return
        }
        self = .partial(start...end)
    }
}

/// Validators of a file: a strong entity tag from its size and modification time (as nginx
/// makes them) and its modification time for `Last-Modified`.
struct FileValidators: Equatable {
    let eTag: String
    let lastModified: String
    let modifiedSeconds: Int

    init(size: Int, modifiedSeconds: Int, modifiedNanoseconds: Int) {
        let stamp = modifiedSeconds &* 1_000_000_000 &+ modifiedNanoseconds
        eTag = "\"\(String(UInt64(bitPattern: Int64(stamp)), radix: 16))-\(String(size, radix: 16))\""
        lastModified = HTTPDate.string(epochSeconds: modifiedSeconds)
        self.modifiedSeconds = modifiedSeconds
    }

    init(eTag: String, lastModified: String, modifiedSeconds: Int) {
        self.eTag = eTag
        self.lastModified = lastModified
        self.modifiedSeconds = modifiedSeconds
    }

    /// Whether a conditional GET may be answered 304: `If-None-Match` decides when present
    /// (weak comparison), otherwise `If-Modified-Since`.
    func notModified(ifNoneMatch: [String], ifModifiedSince: String?) -> Bool {
        if !ifNoneMatch.isEmpty {
            let tags = ifNoneMatch.flatMap { $0.split(separator: ",") }.map { $0.trimmingASCIIWhitespace() }
            return tags.contains { $0 == "*" || Self.weakEqual(String($0), eTag) }
        }
        if let ifModifiedSince, let since = HTTPDate.epochSeconds(ifModifiedSince) {
            return modifiedSeconds <= since
        }
        return false
    }

    /// Whether a range may be served given `If-Range`: it must name this representation exactly
    /// (a strong tag equal to ours, or our Last-Modified date).
    func rangeAllowed(ifRange: String?) -> Bool {
        guard let ifRange = ifRange?.trimmingASCIIWhitespace() else { return true }
        if ifRange.hasPrefix("\"") { return ifRange == eTag }
        if ifRange.hasPrefix("W/") { return false }
        return HTTPDate.epochSeconds(String(ifRange)) == modifiedSeconds
    }

    static func weakEqual(_ a: String, _ b: String) -> Bool {
        func opaque(_ tag: String) -> Substring { tag.hasPrefix("W/") ? tag.dropFirst(2) : Substring(tag) }
        return opaque(a) == opaque(b)
    }
}

/// Content types of what the monitor root and the web pages hold.
enum ContentTypes {
    static let byExtension: [String: String] = [
        "png": "image/png",
        "mp4": "video/mp4",
        "webm": "video/webm",
        "gif": "image/gif",
        "jpg": "image/jpeg",
        "jpeg": "image/jpeg",
        "svg": "image/svg+xml",
        "ico": "image/x-icon",
        "json": "application/json",
        "zip": "application/zip",
        "html": "text/html; charset=utf-8",
        "htm": "text/html; charset=utf-8",
        "js": "text/javascript; charset=utf-8",
        "mjs": "text/javascript; charset=utf-8",
        "css": "text/css; charset=utf-8",
        "txt": "text/plain; charset=utf-8",
        "log": "text/plain; charset=utf-8",
        "csv": "text/csv; charset=utf-8",
    ]

    static func forName(_ name: String) -> String {
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return "application/octet-stream" }
        return byExtension[name[name.index(after: dot)...].lowercased()] ?? "application/octet-stream"
    }
}

extension StringProtocol {
    func trimmingASCIIWhitespace() -> Substring {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let start = firstIndex(where: { !isSpace($0) }) else { return Substring("") }
        guard let end = lastIndex(where: { !isSpace($0) }) else { return Substring("") }
        return Substring(self[start...end])
    }
}
