#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A directory tree served read-only: URL paths are mapped onto it so that nothing outside it
/// can be reached, whatever the path says.
///
/// A raw (still percent-encoded) URL path is split on `/` before it is decoded, so an encoded
/// slash never separates components; each component is decoded exactly once, and a component
/// that decodes to `.` or `..`, or holds `/`, `\` or NUL, refuses the whole path. What remains is
/// joined onto the root and resolved with `realpath` (every symbolic link followed); the result
/// must be the root or lie under it. Files are then opened by that resolved path.
struct ConfinedTree: Sendable {
    /// The root as configured (it may not exist yet, or be a symbolic link).
    let root: String

    init(root: String) {
        self.root = root
    }

    /// The decoded components of a raw URL path, or nil when the path is refused.
    static func components(ofRawPath raw: Substring) -> [String]? {
        guard raw.first == "/" else { return nil }
        var components: [String] = []
        for rawComponent in raw.split(separator: "/", omittingEmptySubsequences: true) {
            guard let decoded = percentDecoded(rawComponent) else { return nil }
            guard decoded != ".", decoded != "..",
                !decoded.utf8.contains(where: { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "\\") || $0 == 0 })
            else { return nil }
            components.append(decoded)
        }
        return components
    }

    /// `%XX` decoded once; nil for a malformed escape or bytes that are not UTF-8.
    static func percentDecoded(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        func hex(_ byte: UInt8) -> UInt8? {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
            default: return nil
            }
        }
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%") {
                guard let high = iterator.next().flatMap(hex), let low = iterator.next().flatMap(hex) else { return nil }
                bytes.append(high << 4 | low)
            } else {
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    /// The root, resolved; nil when it does not exist.
    var resolvedRoot: String? { Self.realPath(root) }

    /// The resolved path of `components` under the root, or nil when it does not exist or
    /// resolves outside the root.
    func resolve(_ components: [String]) -> String? {
        guard let rootPath = resolvedRoot else { return nil }
        var path = rootPath
        for component in components {
            path += path.hasSuffix("/") ? component : "/" + component
        }
        guard let resolved = Self.realPath(path), Self.isInside(resolved, root: rootPath) else { return nil }
        return resolved
    }

    static func isInside(_ path: String, root: String) -> Bool {
        if path == root { return true }
        let prefix = root.hasSuffix("/") ? root : root + "/"
        return path.hasPrefix(prefix)
    }

    static func realPath(_ path: String) -> String? {
        guard !path.utf8.contains(0), let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// What `stat` says of a path (following links).
    struct Status: Sendable, Equatable {
        enum Kind: Sendable, Equatable { case file, directory, other }
        let kind: Kind
        let size: Int
        let modifiedSeconds: Int
        let modifiedNanoseconds: Int

        var validators: FileValidators {
            FileValidators(size: size, modifiedSeconds: modifiedSeconds, modifiedNanoseconds: modifiedNanoseconds)
        }
    }

    static func status(_ path: String, followLinks: Bool = true) -> Status? {
        var info = stat()
        let result = followLinks ? stat(path, &info) : lstat(path, &info)
        guard result == 0 else { return nil }
        let kind: Status.Kind
        switch info.st_mode & S_IFMT {
        case S_IFREG: kind = .file
        case S_IFDIR: kind = .directory
        default: kind = .other
        }
        #if canImport(Darwin)
            let (seconds, nanoseconds) = (Int(info.st_mtimespec.tv_sec), Int(info.st_mtimespec.tv_nsec))
        #else
            let (seconds, nanoseconds) = (Int(info.st_mtim.tv_sec), Int(info.st_mtim.tv_nsec))
        #endif
        return Status(kind: kind, size: Int(info.st_size), modifiedSeconds: seconds, modifiedNanoseconds: nanoseconds)
    }

    /// An entry of a directory listing.
    struct Entry: Sendable, Equatable {
        let name: String
        let isDirectory: Bool
        let size: Int
        let modifiedSeconds: Int
        let modifiedNanoseconds: Int
    }

    /// The name of an entry `readdir` gave, nil when it is not UTF-8.
    static func name(of entry: UnsafeMutablePointer<dirent>) -> String? {
        withUnsafeBytes(of: entry.pointee.d_name) { raw in
            String(validating: Array(raw.prefix(while: { $0 != 0 })), as: UTF8.self)
        }
    }

    /// The entries of the resolved directory `path`. Left out: hidden names (the frame writer's
    /// temporaries are `.<n>.png.tmp`), names that are not UTF-8, entries that are neither files
    /// nor directories, and links that lead out of the root or nowhere.
    func entries(ofResolvedDirectory path: String) -> [Entry]? {
        guard let rootPath = resolvedRoot, let directory = opendir(path) else { return nil }
        defer { closedir(directory) }
        var entries: [Entry] = []
        let base = path.hasSuffix("/") ? path : path + "/"
        while let entry = readdir(directory) {
            guard let name = Self.name(of: entry), !name.hasPrefix(".") else { continue }
            let full = base + name
            guard let own = Self.status(full, followLinks: false) else { continue }
            var status = own
            if own.kind == .other {
                // A symbolic link (or a socket, fifo, device): list it only when it resolves to a
                // file or directory inside the root.
                guard let target = Self.realPath(full), Self.isInside(target, root: rootPath),
                    let targetStatus = Self.status(target), targetStatus.kind != .other
                else { continue }
                status = targetStatus
            }
            entries.append(
                Entry(
                    name: name, isDirectory: status.kind == .directory, size: status.kind == .directory ? 0 : status.size,
                    modifiedSeconds: status.modifiedSeconds, modifiedNanoseconds: status.modifiedNanoseconds))
        }
        return entries
    }
}

/// Orders names as people read them: runs of digits by value ("2.png" before "10.png").
func naturalOrder(_ a: String, _ b: String) -> Bool {
    var i = a.unicodeScalars.makeIterator()
    var j = b.unicodeScalars.makeIterator()
    var x = i.next()
    var y = j.next()
    func isDigit(_ s: Unicode.Scalar?) -> Bool { s.map { ("0"..."9").contains($0) } ?? false }
    while let p = x, let q = y {
        if isDigit(p) && isDigit(q) {
            var m: [Unicode.Scalar] = []
            var n: [Unicode.Scalar] = []
            while isDigit(x), let s = x { m.append(s); x = i.next() }
            while isDigit(y), let s = y { n.append(s); y = j.next() }
            let mt = m.drop(while: { $0 == "0" })
            let nt = n.drop(while: { $0 == "0" })
            if mt.count != nt.count { return mt.count < nt.count }
            for (c, d) in zip(mt, nt) where c != d { return c < d }
            if m.count != n.count { return m.count < n.count }
            continue
        }
        if p != q { return p < q }
        x = i.next()
        y = j.next()
    }
    return x == nil && y != nil
}
