import GymCore

/// A directory of the monitor root as a page (HTML) or a document (JSON): its entries sorted
/// (directories first, then by name as people read numbers, or by size or time when asked), with
/// links, sizes and modification times.
struct DirectoryListing {
    enum Order: String {
        case name, size, modified
    }

    /// The URL path components of the directory (empty for the root).
    let components: [String]
    let entries: [ConfinedTree.Entry]
    let order: Order
    let descending: Bool

    init(components: [String], entries: [ConfinedTree.Entry], order: Order = .name, descending: Bool = false) {
        self.components = components
        self.order = order
        self.descending = descending
        let sorted = entries.sorted { a, b in
            if a.isDirectory != b.isDirectory { return a.isDirectory }
            switch order {
            case .name: break
            case .size where a.size != b.size: return descending ? a.size > b.size : a.size < b.size
            case .modified where (a.modifiedSeconds, a.modifiedNanoseconds) != (b.modifiedSeconds, b.modifiedNanoseconds):
                let earlier = (a.modifiedSeconds, a.modifiedNanoseconds) < (b.modifiedSeconds, b.modifiedNanoseconds)
                return descending ? !earlier : earlier
            default: break
            }
            return order == .name && descending ? naturalOrder(b.name, a.name) : naturalOrder(a.name, b.name)
        }
        self.entries = sorted
    }

    /// The directory's URL path, ending in `/`.
    var path: String { Self.urlPath(components, directory: true) }

    static func urlPath(_ components: [String], directory: Bool) -> String {
        if components.isEmpty { return "/" }
        return "/" + components.map(percentEncoded).joined(separator: "/") + (directory ? "/" : "")
    }

    func url(of entry: ConfinedTree.Entry) -> String {
        Self.urlPath(components + [entry.name], directory: entry.isDirectory)
    }

    // MARK: JSON

    var json: JSON {
        .object([
            "path": .string(path),
            "entries": .array(
                entries.map { entry in
                    .object([
                        "name": .string(entry.name),
                        "type": .string(entry.isDirectory ? "directory" : "file"),
                        "size": entry.isDirectory ? .null : .int(entry.size),
                        "modified": .string(Self.isoDate(entry.modifiedSeconds)),
                        "mtime": .double(Double(entry.modifiedSeconds) + Double(entry.modifiedNanoseconds) / 1e9),
                        "url": .string(url(of: entry)),
                    ])
                }),
        ])
    }

    // MARK: HTML

    var html: String {
        let title = "Index of \(path)"
        var crumbs = "<a href=\"/\">gym-server</a> <span class=\"sep\">/</span> <a href=\"/_files/\">files</a>"
        for index in components.indices {
            let link = Self.urlPath(Array(components[...index]), directory: true)
            crumbs += " <span class=\"sep\">/</span> <a href=\"\(link)\">\(escapeHTML(components[index]))</a>"
        }
        var rows = ""
        if !components.isEmpty {
            let parent = components.count == 1 ? "/_files/" : Self.urlPath(Array(components.dropLast()), directory: true)
            rows += "<tr class=\"up\"><td><a href=\"\(parent)\">../</a></td><td></td><td></td></tr>\n"
        }
        for entry in entries {
            let name = escapeHTML(entry.name) + (entry.isDirectory ? "/" : "")
            let size = entry.isDirectory ? "&mdash;" : "<span title=\"\(entry.size) bytes\">\(Self.humanSize(entry.size))</span>"
            let kind = entry.isDirectory ? "dir" : "file"
            rows +=
                "<tr class=\"\(kind)\"><td><a href=\"\(url(of: entry))\">\(name)</a></td><td class=\"num\">\(size)</td><td class=\"time\">\(Self.displayDate(entry.modifiedSeconds))</td></tr>\n"
        }
        if entries.isEmpty {
            rows += "<tr><td colspan=\"3\" class=\"empty\">This directory is empty.</td></tr>\n"
        }
        func header(_ label: String, _ key: Order) -> String {
            let nextDescending = order == key ? !descending : (key != .name)
            let arrow = order == key ? (descending ? " &#9662;" : " &#9652;") : ""
            return "<a href=\"?sort=\(key.rawValue)&amp;order=\(nextDescending ? "desc" : "asc")\">\(label)\(arrow)</a>"
        }
        var actions = ""
        if !components.isEmpty {
            let zip = Self.urlPath(components, directory: false) + ".zip"
            actions += "<a class=\"button\" href=\"\(zip)\" download>Download .zip</a>"
        }
        if components.count == 1, Self.looksLikeInstanceID(components[0]) {
            actions += " <a class=\"button\" href=\"/render.html?instance_id=\(percentEncoded(components[0]))\">Live view</a>"
        }
        return """
            <!doctype html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(escapeHTML(title))</title>
            <link rel="stylesheet" href="/_static/app.css">
            </head>
            <body class="listing">
            <header class="bar"><nav class="crumbs">\(crumbs)</nav><div class="actions">\(actions)</div></header>
            <main>
            <h1>\(escapeHTML(title))</h1>
            <table class="files">
            <thead><tr><th>\(header("Name", .name))</th><th class="num">\(header("Size", .size))</th><th class="time">\(header("Modified (UTC)", .modified))</th></tr></thead>
            <tbody>
            \(rows)</tbody>
            </table>
            <p class="note">\(entries.count) \(entries.count == 1 ? "entry" : "entries") &middot; <a href="?format=json">JSON</a></p>
            </main>
            </body>
            </html>

            """
    }

    /// 8 lower-case hex digits (the REST API's ids) or 32 (the WebSocket's, as Gymie makes them).
    static func looksLikeInstanceID(_ name: String) -> Bool {
        (name.utf8.count == 8 || name.utf8.count == 32) && name.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }
    }

    static func humanSize(_ bytes: Int) -> String {
        if bytes < 1024 { return "\(bytes) B" }
        let units = ["KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes) / 1024
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        let rounded = value < 10 ? (value * 10).rounded() / 10 : value.rounded()
        let text = rounded == rounded.rounded() ? String(Int(rounded)) : String(rounded)
        return "\(text) \(units[unit])"
    }

    private static func civil(_ epochSeconds: Int) -> (Int, Int, Int, Int, Int, Int) {
        // Days from civil (Howard Hinnant's algorithm), inverted.
        let days = epochSeconds >= 0 ? epochSeconds / 86400 : (epochSeconds - 86399) / 86400
        let seconds = epochSeconds - days * 86400
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        return (year, month, day, seconds / 3600, seconds % 3600 / 60, seconds % 60)
    }

    private static func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }

    /// `2025-11-20T23:12:03Z`
    static func isoDate(_ epochSeconds: Int) -> String {
        let (y, mo, d, h, mi, s) = civil(epochSeconds)
        return "\(y)-\(two(mo))-\(two(d))T\(two(h)):\(two(mi)):\(two(s))Z"
    }

    /// `2025-11-20 23:12:03`
    static func displayDate(_ epochSeconds: Int) -> String {
        let (y, mo, d, h, mi, s) = civil(epochSeconds)
        return "\(y)-\(two(mo))-\(two(d)) \(two(h)):\(two(mi)):\(two(s))"
    }
}

/// Text safe inside HTML elements and double-quoted attributes.
func escapeHTML(_ text: String) -> String {
    var out = ""
    out.reserveCapacity(text.utf8.count)
    for character in text {
        switch character {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&#39;"
        default: out.append(character)
        }
    }
    return out
}

/// A path component percent-encoded for a URL: unreserved characters stay, every other byte is
/// escaped (so `?`, `#`, `%` and `/` in names survive the round trip).
func percentEncoded(_ component: String) -> String {
    let hex = Array("0123456789ABCDEF".utf8)
    var bytes: [UInt8] = []
    bytes.reserveCapacity(component.utf8.count)
    for byte in component.utf8 {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
            bytes.append(byte)
        default:
            bytes += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 15)]]
        }
    }
    return String(decoding: bytes, as: UTF8.self)
}
