import Foundation
import Testing

@testable import GymRender

/// Speed of the rasteriser's primitives and of PNG encoding on a 600x400 frame. Runs only with
/// `GYM_BENCH=1` (use a release build: `GYM_BENCH=1 swift test -c release --filter RenderBenchmark`).
/// Prints one `bench-render` line per measurement; per-environment numbers are in
/// `SceneBenchmark` (GymEnvsTests).
@Suite("RenderBenchmark", .serialized, .enabled(if: ProcessInfo.processInfo.environment["GYM_BENCH"] == "1"))
struct RenderBenchmark {
    /// CPU time of the calling thread, in seconds (steady on a busy machine, unlike wall time).
    static func threadCPUTime() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) * 1e-9
    }

    /// CPU milliseconds per call of `body`: the fastest of seven batches of about 60 ms.
    static func measure(_ body: () -> Void) -> Double {
        for _ in 0..<20 { body() }  // warm-up
        var best = Double.infinity
        for _ in 0..<7 {
            let start = threadCPUTime()
            var repetitions = 0
            var elapsed = 0.0
            while elapsed < 0.06 {
                body()
                repetitions += 1
                elapsed = threadCPUTime() - start
            }
            best = min(best, elapsed * 1000 / Double(repetitions))
        }
        return best
    }

    static func report(_ name: String, _ milliseconds: Double) {
        print(String(format: "bench-render primitive=%@ ms=%.4f per_second=%.0f", name, milliseconds, 1000 / milliseconds))
    }

    @Test func primitives() throws {
        var canvas = Canvas(width: 600, height: 400)
        var angle = 0.0
        Self.report("fill-600x400", Self.measure { canvas.fill(.white) })
        Self.report(
            "polygon-rotated-10x125",
            Self.measure {
                angle += 0.01
                canvas.fillRect(
                    Rect(x: -5, y: -5, width: 10, height: 125), color: RGBColor(202, 152, 101),
                    transform: Transform.rotation(angle).then(.translation(300, 300)))
            })
        Self.report(
            "circle-r11",
            Self.measure { canvas.fillCircle(center: Point(250.5, 250.5), radius: 11.5, color: .black) })
        Self.report(
            "polyline-100-points",
            Self.measure {
                let points = (0..<100).map { i in Point(Double(i) * 6, 200 + 100 * sin(Double(i) * 0.1)) }
                canvas.strokePolyline(points, lineWidth: 1, color: .black)
            })
        Self.report("text-10-glyphs", Self.measure { canvas.drawText("DEALER: 10", x: 40, y: 32, pixelSize: 4, color: .black) })

        // A CartPole-like frame: background, two polygons, a disc, a line.
        var frame = Canvas(width: 600, height: 400)
        let draw = {
            frame.fill(.white)
            frame.fillPolygon(
                [Point(262, 285), Point(312, 285), Point(312, 315), Point(262, 315)].map { $0 }, color: .black)
            frame.fillRect(
                Rect(x: -5, y: -5, width: 10, height: 125), color: RGBColor(202, 152, 101),
                transform: Transform.rotation(0.2).then(.translation(287, 292)))
            frame.fillCircle(center: Point(287.5, 292.5), radius: 5.5, color: RGBColor(129, 132, 203))
            frame.fillPixels(x: 0, y: 299, width: 600, height: 1, color: .black)
        }
        let rasterize = Self.measure(draw)
        Self.report("cartpole-like-frame", rasterize)
        draw()
        var size = 0
        for (name, encoder) in [
            ("png-default(fastDeflate)", PNGEncoder()),
            ("png-zlib(none,level1,mem4)", PNGEncoder(compression: .zlib())),
            ("png-none-level1-mem8", PNGEncoder(compressionLevel: 1, filter: .none, strategy: .default, memoryLevel: 8)),
            ("png-none-rle-mem4", PNGEncoder(compressionLevel: 1, filter: .none, strategy: .runLength)),
            ("png-sub-level1-mem8", PNGEncoder(compressionLevel: 1, filter: .sub, strategy: .default, memoryLevel: 8)),
            ("png-sub-rle-mem4", PNGEncoder(compressionLevel: 1, filter: .sub, strategy: .runLength)),
        ] {
            let ms = Self.measure { size = (try? encoder.encode(frame).count) ?? 0 }
            print(String(format: "bench-render primitive=%@ ms=%.4f per_second=%.0f bytes=%d", name, ms, 1000 / ms, size))
        }
        #expect(size > 0)
    }
}
