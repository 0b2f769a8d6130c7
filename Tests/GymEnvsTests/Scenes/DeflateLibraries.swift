import Foundation

/// Why a C library could not be loaded at run time (`dlopen`/`dlsym`'s message).
struct LibraryLoadFailure: Error {
    let message: String
}

/// A shared library opened with `dlopen` (never closed: it lives as long as the test process).
struct SharedLibrary {
    let handle: UnsafeMutableRawPointer
    let path: String

    /// The first of `names` that `dlopen` finds.
    static func open(_ names: [String]) -> Result<SharedLibrary, LibraryLoadFailure> {
        var messages: [String] = []
        for name in names {
            if let handle = dlopen(name, RTLD_NOW | RTLD_LOCAL) {
                return .success(SharedLibrary(handle: handle, path: name))
            }
            messages.append(dlerror().map { String(cString: $0) } ?? "\(name): not found")
        }
        return .failure(LibraryLoadFailure(message: messages.joined(separator: "; ")))
    }

    /// The C function `name`, as the function type `T` (a `@convention(c)` type matching its
    /// prototype).
    func function<T>(_ name: String, as type: T.Type) throws(LibraryLoadFailure) -> T {
        guard let symbol = dlsym(handle, name) else {
            throw LibraryLoadFailure(message: "\(path): no symbol \(name)")
        }
        return unsafeBitCast(symbol, to: type)
    }
}

/// libdeflate (Debian's `libdeflate0`), loaded at run time: its whole-buffer zlib compressor.
/// Prototypes from `libdeflate.h` (1.14).
struct LibDeflate {
    /// `struct libdeflate_compressor *libdeflate_alloc_compressor(int compression_level)`
    typealias Allocate = @convention(c) (Int32) -> OpaquePointer?
    /// `size_t libdeflate_zlib_compress(compressor, const void *in, size_t in_nbytes, void *out,
    /// size_t out_nbytes_avail)`: the stream's size, 0 if it did not fit.
    typealias Compress = @convention(c) (OpaquePointer?, UnsafeRawPointer?, Int, UnsafeMutableRawPointer?, Int) -> Int
    /// `size_t libdeflate_zlib_compress_bound(compressor, size_t in_nbytes)`
    typealias Bound = @convention(c) (OpaquePointer?, Int) -> Int
    /// `void libdeflate_free_compressor(compressor)`
    typealias Free = @convention(c) (OpaquePointer?) -> Void

    let path: String
    let allocate: Allocate
    let compress: Compress
    let bound: Bound
    let free: Free

    static func load() -> Result<LibDeflate, LibraryLoadFailure> {
        Result { () throws(LibraryLoadFailure) -> LibDeflate in
            let library = try SharedLibrary.open(["libdeflate.so.0", "libdeflate.so"]).get()
            return LibDeflate(
                path: library.path,
                allocate: try library.function("libdeflate_alloc_compressor", as: Allocate.self),
                compress: try library.function("libdeflate_zlib_compress", as: Compress.self),
                bound: try library.function("libdeflate_zlib_compress_bound", as: Bound.self),
                free: try library.function("libdeflate_free_compressor", as: Free.self))
        }
    }

    /// A compressor at one level (1 fastest ... 12 smallest); not for use on two threads at once.
    final class Compressor {
        let library: LibDeflate
        let pointer: OpaquePointer
        let level: Int

        init?(_ library: LibDeflate, level: Int) {
            guard let pointer = library.allocate(Int32(level)) else { return nil }
            self.library = library
            self.pointer = pointer
            self.level = level
        }

        deinit { library.free(pointer) }

        /// The zlib stream (RFC 1950) of `input`.
        func zlibStream(_ input: [UInt8]) -> [UInt8] {
            let capacity = library.bound(pointer, input.count)
            return [UInt8](unsafeUninitializedCapacity: capacity) { out, count in
                count = input.withUnsafeBytes { input in
                    library.compress(pointer, input.baseAddress, input.count, out.baseAddress, capacity)
                }
            }
        }
    }
}

/// zlib (`libz.so.1`, which libpng already loads), at run time: `compress2` for a reference
/// stream and `uncompress2` (inflate) to check every stream the benchmark times.
struct Zlib {
    /// `int compress2(Bytef *dest, uLongf *destLen, const Bytef *source, uLong sourceLen, int level)`
    typealias Compress2 =
        @convention(c) (UnsafeMutablePointer<UInt8>?, UnsafeMutablePointer<UInt>?, UnsafePointer<UInt8>?, UInt, Int32)
        -> Int32
    /// `uLong compressBound(uLong sourceLen)`
    typealias CompressBound = @convention(c) (UInt) -> UInt
    /// `int uncompress2(Bytef *dest, uLongf *destLen, const Bytef *source, uLong *sourceLen)`
    typealias Uncompress2 =
        @convention(c) (
            UnsafeMutablePointer<UInt8>?, UnsafeMutablePointer<UInt>?, UnsafePointer<UInt8>?, UnsafeMutablePointer<UInt>?
        ) -> Int32

    let path: String
    let compress2: Compress2
    let compressBound: CompressBound
    let uncompress2: Uncompress2

    static func load() -> Result<Zlib, LibraryLoadFailure> {
        Result { () throws(LibraryLoadFailure) -> Zlib in
            let library = try SharedLibrary.open(["libz.so.1", "libz.so"]).get()
            return Zlib(
                path: library.path,
                compress2: try library.function("compress2", as: Compress2.self),
                compressBound: try library.function("compressBound", as: CompressBound.self),
                uncompress2: try library.function("uncompress2", as: Uncompress2.self))
        }
    }

    /// zlib's stream of `input` at `level` (memory level 8, 32 KB window).
    func compress(_ input: [UInt8], level: Int32) -> [UInt8] {
        let capacity = Int(compressBound(UInt(input.count)))
        return [UInt8](unsafeUninitializedCapacity: capacity) { out, count in
            var size = UInt(capacity)
            let status = input.withUnsafeBufferPointer { input in
                compress2(out.baseAddress, &size, input.baseAddress, UInt(input.count), level)
            }
            count = status == 0 ? Int(size) : 0
        }
    }

    /// Whether inflating `stream` gives exactly `expected`, with a good Adler-32 and no byte of
    /// the stream left over.
    func inflates(_ stream: [UInt8], to expected: [UInt8]) -> Bool {
        var output = [UInt8](repeating: 0, count: expected.count + 1)
        var outputSize = UInt(output.count)
        var consumed = UInt(stream.count)
        let status = output.withUnsafeMutableBufferPointer { output in
            stream.withUnsafeBufferPointer { stream in
                uncompress2(output.baseAddress, &outputSize, stream.baseAddress, &consumed)
            }
        }
        return status == 0 && consumed == UInt(stream.count) && outputSize == UInt(expected.count)
            && output.prefix(expected.count).elementsEqual(expected)
    }
}
