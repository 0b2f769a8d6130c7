import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Why a client-given monitor directory was refused. `message` tells the client what to send instead.
public enum MonitorPathError: Error, Sendable, Equatable, CustomStringConvertible {
    case empty
    case absolute(String)
    case nulByte
    case parentReference(String)
    case emptyComponent(String)
    case nameTooLong(String)
    case namesRoot(String)
    case escapesRoot(String)
    case notADirectory(String)
    case notFound(String)
    case cannotCreate(String, reason: String)
    /// The monitor root itself cannot be created or resolved (a server configuration problem).
    case rootUnavailable(String, reason: String)

    public var message: String {
        switch self {
        case .empty:
            return "The monitor directory is empty: give a path relative to the monitor root, e.g. 'cartpole-run-1'."
        case .absolute(let path):
            return "The monitor directory '\(path)' is absolute: give a path relative to the monitor root, "
                + "e.g. '\(Self.relativeSuggestion(for: path))'."
        case .nulByte:
            return "The monitor directory contains a NUL character."
        case .parentReference(let path):
            return "The monitor directory '\(path)' contains a '..' component: "
                + "directories outside the monitor root cannot be used."
        case .emptyComponent(let path):
            return "The monitor directory '\(path)' contains an empty component ('//'): "
                + "separate directory names with a single '/'."
        case .nameTooLong(let path):
            return "The monitor directory '\(path)' is too long: each name may have at most "
                + "\(MonitorRoot.maximumComponentBytes) bytes, the whole path \(MonitorRoot.maximumPathBytes)."
        case .namesRoot(let path):
            return "The monitor directory '\(path)' names the monitor root itself: "
                + "give the name of a directory below it, e.g. 'cartpole-run-1'."
        case .escapesRoot(let path):
            return "The monitor directory '\(path)' leads outside the monitor root (through a symbolic link) "
                + "and cannot be used."
        case .notADirectory(let path):
            return "The monitor directory '\(path)' exists but is not a directory."
        case .notFound(let path):
            return "The monitor directory '\(path)' does not exist."
        case .cannotCreate(let path, let reason):
            return "The monitor directory '\(path)' could not be created: \(reason)."
        case .rootUnavailable(let path, let reason):
            return "The monitor root '\(path)' is not usable: \(reason)."
        }
    }

    public var description: String { message }

    private static func relativeSuggestion(for path: String) -> String {
        let trimmed = path.drop(while: { $0 == "/" })
        return trimmed.isEmpty ? "cartpole-run-1" : String(trimmed)
    }
}

/// The directory under which every monitor directory lives (served on port 8000).
///
/// Client-given directories are relative to it; `resolve` refuses anything that would leave it:
/// absolute paths, `..` components, NUL bytes, empty components, and existing symbolic links
/// that lead outside (each existing prefix is resolved with `realpath`).
public struct MonitorRoot: Sendable, Hashable {
    public static let maximumComponentBytes = 255
    public static let maximumPathBytes = 1024

    /// The canonical (symlink-free, absolute) root directory.
    public let url: URL
    private let canonicalPath: String

    /// Creates the root directory if needed and resolves it to its canonical path.
    public init(_ url: URL) throws(MonitorPathError) {
        let path = url.standardizedFileURL.path
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw .rootUnavailable(path, reason: "\(error.localizedDescription)")
        }
        guard let real = Self.realPath(path) else {
            throw .rootUnavailable(path, reason: Self.errnoText())
        }
        guard Self.isDirectory(real) else {
            throw .rootUnavailable(path, reason: "not a directory")
        }
        canonicalPath = real
        self.url = URL(fileURLWithPath: real, isDirectory: true)
    }

    /// The canonical directory for a client-given relative path, created (with its parents)
    /// when `create` is true. The result is always strictly below the root.
    public func resolve(_ relativePath: String, create: Bool = true) throws(MonitorPathError) -> URL {
        let components = try Self.components(of: relativePath)
        var current = canonicalPath
        var shown: [Substring] = []
        for component in components {
            shown.append(component)
            let displayed = shown.joined(separator: "/")
            let candidate = current == "/" ? "/" + component : current + "/" + component
            var info = stat()
            if lstat(candidate, &info) != 0 {
                let error = errno
                guard error == ENOENT else {
                    throw .cannotCreate(displayed, reason: String(cString: strerror(error)))
                }
                guard create else { throw .notFound(displayed) }
                if mkdir(candidate, 0o755) != 0 && errno != EEXIST {
                    throw .cannotCreate(displayed, reason: Self.errnoText())
                }
            }
            guard let real = Self.realPath(candidate) else {
                // A dangling symbolic link, or one we may not follow: refuse rather than guess.
                if lstat(candidate, &info) == 0 && (info.st_mode & S_IFMT) == S_IFLNK {
                    throw .escapesRoot(displayed)
                }
                throw .cannotCreate(displayed, reason: Self.errnoText())
            }
            guard real == canonicalPath || real.hasPrefix(canonicalPath == "/" ? "/" : canonicalPath + "/") else {
                throw .escapesRoot(displayed)
            }
            guard Self.isDirectory(real) else { throw .notADirectory(displayed) }
            current = real
        }
        guard current != canonicalPath else { throw .namesRoot(relativePath) }
        return URL(fileURLWithPath: current, isDirectory: true)
    }

    /// The path of a directory below the root, relative to the root (for messages and URLs).
    public func relativePath(of directory: URL) -> String? {
        let path = directory.standardizedFileURL.path
        guard path.hasPrefix(canonicalPath + "/") else { return nil }
        return String(path.dropFirst(canonicalPath.count + 1))
    }

    /// Checks the client's text and splits it into names (`.` components are dropped; one
    /// trailing `/` is allowed).
    static func components(of path: String) throws(MonitorPathError) -> [Substring] {
        if path.utf8.contains(0) { throw .nulByte }
        if path.isEmpty { throw .empty }
        if path.hasPrefix("/") { throw .absolute(path) }
        if path.utf8.count > maximumPathBytes { throw .nameTooLong(String(path.prefix(64)) + "...") }
        var parts = path.split(separator: "/", omittingEmptySubsequences: false)
        if parts.count > 1, parts.last?.isEmpty == true { parts.removeLast() }
        var names: [Substring] = []
        for part in parts {
            if part.isEmpty { throw .emptyComponent(path) }
            if part == ".." { throw .parentReference(path) }
            if part == "." { continue }
            if part.utf8.count > maximumComponentBytes { throw .nameTooLong(path) }
            names.append(part)
        }
        if names.isEmpty { throw .namesRoot(path) }
        return names
    }

    private static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    private static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    private static func errnoText() -> String { String(cString: strerror(errno)) }
}
