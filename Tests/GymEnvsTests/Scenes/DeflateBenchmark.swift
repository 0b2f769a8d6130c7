import Foundation
import Testing

@testable import GymEnvs
@testable import GymRender

/// The project's deflate (`FastDeflate`, `PNGEncoder()`'s default path) against libdeflate and
/// zlib on the same frames in the same run: every environment's scene at its native size, twelve
/// states each. Runs only with `GYM_BENCH=1`, in a release build (`scripts/bench/bench_deflate.sh`):
///
///     GYM_BENCH=1 swift test -c release --filter DeflateBenchmark
///
/// libdeflate (Debian's `libdeflate0`) and zlib are loaded at run time with `dlopen`, so the
/// package builds without them; if libdeflate cannot be loaded the benchmark fails and says why.
///
/// Every stream that is timed is checked: zlib's inflate (`uncompress2`) must give back the
/// filtered scanlines exactly, consuming the whole stream, and libpng must decode the PNG file to
/// the frame's pixels; the bytes of the last timed pass must be those checked.
///
/// Prints per environment and in total (all frames of all environments, each environment
/// weighted alike):
///
///     bench-deflate env=... frames=12 raw_kb=... fast_ms=... fast_bytes=... ld1_ms=... ld1_bytes=...
///         ldeq_level=L ldeq_ms=... ldeq_bytes=... zlib1_ms=... zlib1_bytes=... (+ *_stream_ms)
///     bench-deflate-levels env=... fast=... l1=... l2=... ... l12=...   (mean PNG bytes per level)
///
/// `*_ms` are CPU milliseconds per frame (the fastest of seven rounds, contenders interleaved in
/// each round) to make the whole PNG file from the canvas, which is what the server pays:
/// `fast` = `PNGEncoder()`; `ldN` = the filtered scanlines built from the canvas (filter None,
/// the input FastDeflate compresses) + `libdeflate_zlib_compress` at level N (one compressor per
/// level, allocated once) + the same chunk writer as `fast`; `zlib1` = `PNGEncoder(compression:
/// .zlib())`, libpng + zlib level 1 (memory level 4), the project's other path. `*_stream_ms`
/// time the compressor alone: FastDeflate on the canvas, libdeflate and zlib's `compress2` at
/// level 1 (memory level 8) on prebuilt scanlines. `ldeq` is the lowest libdeflate level whose
/// mean size is at most FastDeflate's (per environment; in the total line, one level for all).
@Suite("DeflateBenchmark", .serialized, .enabled(if: ProcessInfo.processInfo.environment["GYM_BENCH"] == "1"))
struct DeflateBenchmark {
    /// A scene at its native size, with the states drawn.
    struct Scene {
        let env: String
        let frames: [Canvas]
    }

    /// The scenes of `SceneBenchmark` (every environment) plus FrozenLake8x8's 512x512 frame;
    /// states 0, 9, ..., 99, spread over each scene's range.
    static func scenes() -> [Scene] {
        var cases = SceneBenchmark.cases
        let lake8: [[Character]] = [
            "SFFFFFFF", "FFFFFFFF", "FFFHFFFF", "FFFFFHFF", "FFFHFFFF", "FHHFFFHF", "FHFFHFHF", "FFFHFFFG",
        ].map { Array($0) }
        cases.append(
            SceneBenchmark.Case(env: "FrozenLake8x8-v1", width: 512, height: 512) { i, canvas in
                FrozenLakeScene.draw(desc: lake8, position: (i * 5) % 64, into: &canvas)
            })
        return cases.map { scene in
            var canvas = Canvas(width: scene.width, height: scene.height)
            let frames = stride(from: 0, to: 100, by: 9).map { i -> Canvas in
                scene.draw(i, &canvas)
                return canvas
            }
            return Scene(env: scene.env, frames: frames)
        }
    }

    /// The PNG image data of `canvas` before compression: each row preceded by filter byte 0.
    static func scanlines(_ canvas: Canvas) -> [UInt8] {
        let row = canvas.bytesPerRow
        let count = (row + 1) * canvas.height
        return canvas.withUnsafeBytes { pixels in
            [UInt8](unsafeUninitializedCapacity: count) { out, initialized in
                guard let source = pixels.baseAddress, let target = out.baseAddress else { return }
                for y in 0..<canvas.height {
                    target[y * (row + 1)] = 0
                    memcpy(target + y * (row + 1) + 1, source + y * row, row)
                }
                initialized = count
            }
        }
    }

    // MARK: - Timing

    /// Something to time: makes the encoded bytes of frame `index`.
    struct Contender {
        let name: String
        let encode: (Int) -> [UInt8]
    }

    /// CPU milliseconds per frame of each contender: each round times every contender in turn
    /// (whole passes over the frames, at least 30 ms of CPU), the fastest of seven rounds is kept.
    /// Also returns the bytes of each contender's last pass.
    static func measure(_ contenders: [Contender], frames: Int) -> (ms: [Double], last: [[[UInt8]]]) {
        var best = [Double](repeating: .infinity, count: contenders.count)
        var last = [[[UInt8]]](repeating: [], count: contenders.count)
        for (c, contender) in contenders.enumerated() {
            for f in 0..<frames { _ = contender.encode(f) }  // warm-up
            last[c] = [[UInt8]](repeating: [], count: frames)
        }
        for _ in 0..<7 {
            for (c, contender) in contenders.enumerated() {
                var outputs = [[UInt8]](repeating: [], count: frames)
                let start = SceneBenchmark.threadCPUTime()
                var passes = 0
                var elapsed = 0.0
                repeat {
                    for f in 0..<frames { outputs[f] = contender.encode(f) }
                    passes += 1
                    elapsed = SceneBenchmark.threadCPUTime() - start
                } while elapsed < 0.03
                best[c] = min(best[c], elapsed * 1000 / Double(passes * frames))
                last[c] = outputs
            }
        }
        return (best, last)
    }

    /// The figures of one environment (or of the total): CPU ms per frame and mean PNG bytes by
    /// contender name, and the equal-size libdeflate level.
    struct Row {
        var env: String
        var raw = 0
        var ms: [String: Double] = [:]
        var bytes: [String: Int] = [:]
        var eqLevel: Int?
    }

    // MARK: - The benchmark

    static let levels = Array(1...12)

    @Test func fastDeflateAgainstLibdeflate() throws {
        let zlib: Zlib
        switch Zlib.load() {
        case .success(let loaded): zlib = loaded
        case .failure(let failure):
            print("bench-deflate zlib=unavailable reason=\"\(failure.message)\"")
            Issue.record("zlib could not be loaded, no stream can be checked: \(failure.message)")
            return
        }
        let libdeflate: LibDeflate
        switch LibDeflate.load() {
        case .success(let loaded): libdeflate = loaded
        case .failure(let failure):
            print("bench-deflate libdeflate=unavailable reason=\"\(failure.message)\"")
            let hint = "install Debian's libdeflate0 (scripts/setup/install-deps.sh test) to compare FastDeflate with it"
            Issue.record("libdeflate could not be loaded (\(failure.message)): \(hint)")
            return
        }
        let compressors = try Self.levels.map { level in
            try #require(LibDeflate.Compressor(libdeflate, level: level), "libdeflate level \(level)")
        }
        print("bench-deflate libdeflate=\(libdeflate.path) zlib=\(zlib.path)")

        struct Sizes {
            var fast = 0
            var zlib1 = 0
            var levels: [Int]
        }
        let scenes = Self.scenes()
        let fastEncoder = PNGEncoder()
        let zlibEncoder = PNGEncoder(compression: .zlib())

        // 1. Every encoder on every frame, every stream checked; mean PNG bytes per frame.
        var checked: [String: [[UInt8]]] = [:]  // "env/contender" -> the checked PNG (or stream) of each frame
        var sizes: [Sizes] = []
        for scene in scenes {
            let lines = scene.frames.map(Self.scanlines)
            var size = Sizes(levels: [Int](repeating: 0, count: Self.levels.count))
            func check(_ png: [UInt8], stream: [UInt8], frame: Int, _ what: String) {
                #expect(zlib.inflates(stream, to: lines[frame]), "\(scene.env) state \(frame): \(what): zlib inflate")
                #expect(
                    (try? PNGDecoder.decode(png)) == scene.frames[frame], "\(scene.env) state \(frame): \(what): libpng")
            }
            for (f, frame) in scene.frames.enumerated() {
                let fastStream = Self.fastStream(frame)
                let fast = try fastEncoder.encode(frame)
                check(fast, stream: fastStream, frame: f, "FastDeflate")
                size.fast += fast.count
                checked["\(scene.env)/fast", default: []].append(fast)
                checked["\(scene.env)/fast-stream", default: []].append(fastStream)
                for (l, compressor) in compressors.enumerated() {
                    let stream = compressor.zlibStream(lines[f])
                    let png = try PNGEncoder.file(zlibStream: stream, width: frame.width, height: frame.height)
                    check(png, stream: stream, frame: f, "libdeflate level \(Self.levels[l])")
                    size.levels[l] += png.count
                    checked["\(scene.env)/ld\(Self.levels[l])", default: []].append(png)
                    checked["\(scene.env)/ld\(Self.levels[l])-stream", default: []].append(stream)
                }
                let zlibPNG = try zlibEncoder.encode(frame)
                #expect((try? PNGDecoder.decode(zlibPNG)) == frame, "\(scene.env) state \(f): libpng + zlib 1")
                size.zlib1 += zlibPNG.count
                checked["\(scene.env)/zlib1", default: []].append(zlibPNG)
                let zlibStream = zlib.compress(lines[f], level: 1)
                #expect(zlib.inflates(zlibStream, to: lines[f]), "\(scene.env) state \(f): zlib compress2 level 1")
                checked["\(scene.env)/zlib1-stream", default: []].append(zlibStream)
            }
            let n = scene.frames.count
            size = Sizes(fast: size.fast / n, zlib1: size.zlib1 / n, levels: size.levels.map { $0 / n })
            sizes.append(size)
            print(
                "bench-deflate-levels env=\(scene.env) fast=\(size.fast) zlib1=\(size.zlib1) "
                    + zip(Self.levels, size.levels).map { "l\($0)=\($1)" }.joined(separator: " "))
        }

        // 2. The levels that match FastDeflate's size: per environment, and one for all.
        func equalLevel(fast: Int, levels: [Int]) -> Int? {
            levels.firstIndex { $0 <= fast }.map { Self.levels[$0] }
        }
        let totalFast = sizes.reduce(0) { $0 + $1.fast }
        let globalLevel = equalLevel(
            fast: totalFast, levels: Self.levels.indices.map { l in sizes.reduce(0) { $0 + $1.levels[l] } })

        // 3. Time them, each environment on its own, every contender interleaved.
        var rows: [Row] = []
        for (s, scene) in scenes.enumerated() {
            let frames = scene.frames
            let lines = frames.map(Self.scanlines)
            let eqLevel = equalLevel(fast: sizes[s].fast, levels: sizes[s].levels)
            var timedLevels = [1]
            for level in [eqLevel, globalLevel].compactMap({ $0 }) where !timedLevels.contains(level) {
                timedLevels.append(level)
            }
            var contenders = [
                Contender(name: "fast") { (try? fastEncoder.encode(frames[$0])) ?? [] },
                Contender(name: "fast-stream") { Self.fastStream(frames[$0]) },
                Contender(name: "zlib1") { (try? zlibEncoder.encode(frames[$0])) ?? [] },
                Contender(name: "zlib1-stream") { zlib.compress(lines[$0], level: 1) },
            ]
            for level in timedLevels {
                let compressor = compressors[level - 1]
                contenders.append(
                    Contender(name: "ld\(level)") { f in
                        let frame = frames[f]
                        let stream = compressor.zlibStream(Self.scanlines(frame))
                        return (try? PNGEncoder.file(zlibStream: stream, width: frame.width, height: frame.height)) ?? []
                    })
                contenders.append(Contender(name: "ld\(level)-stream") { compressor.zlibStream(lines[$0]) })
            }
            let (ms, last) = Self.measure(contenders, frames: frames.count)
            var row = Row(env: scene.env, raw: frames[0].pixels.count, eqLevel: eqLevel)
            for (c, contender) in contenders.enumerated() {
                #expect(last[c] == checked["\(scene.env)/\(contender.name)"], "\(scene.env): \(contender.name) timed bytes")
                row.ms[contender.name] = ms[c]
            }
            row.bytes["fast"] = sizes[s].fast
            row.bytes["zlib1"] = sizes[s].zlib1
            for (l, level) in Self.levels.enumerated() { row.bytes["ld\(level)"] = sizes[s].levels[l] }
            rows.append(row)
            print(Self.line(row, eqLevel: eqLevel))
        }

        // 4. The total: every frame of every environment, environments weighted alike.
        var total = Row(env: "total", eqLevel: globalLevel)
        total.raw = rows.reduce(0) { $0 + $1.raw } / rows.count
        for key in rows[0].ms.keys where rows.allSatisfy({ $0.ms[key] != nil }) {
            total.ms[key] = rows.reduce(0) { $0 + ($1.ms[key] ?? 0) } / Double(rows.count)
        }
        for key in rows[0].bytes.keys {
            total.bytes[key] = rows.reduce(0) { $0 + ($1.bytes[key] ?? 0) } / rows.count
        }
        // Per-environment equal levels, as if each environment had its own level.
        let perEnv = rows.allSatisfy { $0.eqLevel != nil }
        if perEnv {
            total.ms["ldenv"] = rows.reduce(0) { $0 + ($1.ms["ld\($1.eqLevel ?? 1)"] ?? 0) } / Double(rows.count)
            total.ms["ldenv-stream"] =
                rows.reduce(0) { $0 + ($1.ms["ld\($1.eqLevel ?? 1)-stream"] ?? 0) } / Double(rows.count)
            total.bytes["ldenv"] = rows.reduce(0) { $0 + ($1.bytes["ld\($1.eqLevel ?? 1)"] ?? 0) } / rows.count
        }
        var totalLine = Self.line(total, eqLevel: globalLevel)
        if perEnv, let ms = total.ms["ldenv"], let stream = total.ms["ldenv-stream"], let fast = total.ms["fast"] {
            totalLine += String(
                format: " ldenv_ms=%.4f ldenv_stream_ms=%.4f ldenv_bytes=%d ratio_env=%.3f", ms, stream,
                total.bytes["ldenv"] ?? 0, fast / ms)
        }
        print(totalLine)
    }

    /// One `bench-deflate` line: times (`*_ms`), mean PNG bytes, and FastDeflate's time over
    /// libdeflate's at level 1 and at the equal-size level (below 1: FastDeflate is faster).
    static func line(_ row: Row, eqLevel: Int?) -> String {
        func ms(_ key: String) -> String { row.ms[key].map { String(format: "%.4f", $0) } ?? "-" }
        func bytes(_ key: String) -> String { row.bytes[key].map(String.init) ?? "-" }
        func ratio(_ key: String) -> String {
            guard let fast = row.ms["fast"], let other = row.ms[key] else { return "-" }
            return String(format: "%.3f", fast / other)
        }
        let eq = eqLevel.map { "ld\($0)" } ?? "none"
        return "bench-deflate env=\(row.env) frames=12 raw_bytes=\(row.raw)"
            + " fast_ms=\(ms("fast")) fast_stream_ms=\(ms("fast-stream")) fast_bytes=\(bytes("fast"))"
            + " ld1_ms=\(ms("ld1")) ld1_stream_ms=\(ms("ld1-stream")) ld1_bytes=\(bytes("ld1"))"
            + " ldeq_level=\(eqLevel.map(String.init) ?? "none") ldeq_ms=\(ms(eq)) ldeq_stream_ms=\(ms(eq + "-stream"))"
            + " ldeq_bytes=\(bytes(eq))"
            + " zlib1_ms=\(ms("zlib1")) zlib1_stream_ms=\(ms("zlib1-stream")) zlib1_bytes=\(bytes("zlib1"))"
            + " ratio_l1=\(ratio("ld1")) ratio_eq=\(ratio(eq))"
    }

    /// FastDeflate's zlib stream of `canvas`'s image data (what `PNGEncoder()` wraps).
    static func fastStream(_ canvas: Canvas) -> [UInt8] {
        canvas.withUnsafeBytes { raw in
            guard let base = raw.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return [] }
            return FastDeflate.compressScanlines(
                base, rowBytes: canvas.bytesPerRow, stride: canvas.bytesPerRow, height: canvas.height)
        }
    }
}
