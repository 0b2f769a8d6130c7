import Foundation
import GymRender
import Testing

@testable import GymEnvs

/// Frames per second of every environment's scene: rasterising a frame, encoding it as PNG,
/// and both, in CPU time of the benchmarking thread. Runs only with `GYM_BENCH=1`, best in a release build:
///
///     GYM_BENCH=1 swift test -c release --filter SceneBenchmark
///
/// Prints one line per environment, in the format `scripts/bench/bench_render_reference.py` prints
/// for Gymnasium (rgb_array render + Pillow PNG save), so the two can be set side by side:
///
///     bench-render env=CartPole-v1 frames=... rasterize_ms=... encode_ms=... total_ms=... fps=...
///         bytes=... encode_zlib1_ms=... total_zlib1_ms=... bytes_zlib1=...
///
/// The environments run one after the other (`.serialized`) so they do not share the CPU.
/// `encode_ms`, `total_ms`, `fps` and `bytes` (mean PNG size) are the default encoder's
/// (`PNGEncoder()`: the fast deflate path); the `*_zlib1` fields are libpng + zlib level 1
/// (`PNGEncoder(compression: .zlib())`), for comparison.
@Suite("SceneBenchmark", .serialized, .enabled(if: ProcessInfo.processInfo.environment["GYM_BENCH"] == "1"))
struct SceneBenchmark {
    /// A scene to time: its env id and a drawing of state number `i` (states vary so no two
    /// consecutive frames are alike).
    struct Case: Sendable, CustomStringConvertible {
        let env: String
        let width: Int
        let height: Int
        let draw: @Sendable (Int, inout Canvas) -> Void
        var description: String { env }
    }

    static let lake4: [[Character]] = ["SFFF", "FHFH", "FFFH", "HFFG"].map { Array($0) }

    static let cases: [Case] = [
        Case(env: "CartPole-v1", width: CartPoleScene.width, height: CartPoleScene.height) { i, canvas in
            let t = Double(i % 100) / 100
            CartPoleScene.draw(x: -2 + 4 * t, theta: -0.2 + 0.4 * t, into: &canvas)
        },
        Case(env: "MountainCar-v0", width: MountainCarScene.width, height: MountainCarScene.height) { i, canvas in
            MountainCarScene.draw(position: -1.2 + 1.8 * Double(i % 100) / 100, goalPosition: 0.5, into: &canvas)
        },
        Case(env: "MountainCarContinuous-v0", width: MountainCarScene.width, height: MountainCarScene.height) {
            i, canvas in
            MountainCarScene.draw(position: -1.2 + 1.8 * Double(i % 100) / 100, goalPosition: 0.45, into: &canvas)
        },
        Case(env: "Pendulum-v1", width: PendulumScene.width, height: PendulumScene.height) { i, canvas in
            let t = Double(i % 100) / 100
            PendulumScene.draw(theta: 6.28 * t, lastTorque: -2 + 4 * t, into: &canvas)
        },
        Case(env: "Acrobot-v1", width: AcrobotScene.width, height: AcrobotScene.height) { i, canvas in
            let t = Double(i % 100) / 100
            AcrobotScene.draw(theta1: 6.28 * t, theta2: -3 + 6 * t, into: &canvas)
        },
        Case(env: "FrozenLake-v1", width: 256, height: 256) { i, canvas in
            FrozenLakeScene.draw(desc: lake4, position: i % 16, into: &canvas)
        },
        Case(env: "Taxi-v3", width: TaxiScene.width, height: TaxiScene.height) { i, canvas in
            TaxiScene.draw(
                taxiRow: i % 5, taxiColumn: (i / 5) % 5, passengerLocation: i % 5, destination: (i / 3) % 4,
                heading: TaxiScene.Heading(rawValue: i % 4) ?? .south, into: &canvas)
        },
        Case(env: "CliffWalking-v0", width: CliffWalkingScene.width, height: CliffWalkingScene.height) { i, canvas in
            CliffWalkingScene.draw(position: i % 48, into: &canvas)
        },
        Case(env: "Blackjack-v1", width: BlackjackScene.width, height: BlackjackScene.height) { i, canvas in
            BlackjackScene.draw(
                playerSum: 4 + i % 18, dealerCardValue: 1 + i % 10, usableAce: i % 2 == 0,
                dealerCard: ["AH", "2C", "7D", "KS", "QH"][i % 5], into: &canvas)
        },
    ]

    /// CPU time of the calling thread, in seconds: unlike wall time, it does not count the time
    /// other processes hold the CPU, so results are steady on a busy machine.
    static func threadCPUTime() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) * 1e-9
    }

    /// CPU milliseconds per call of `body(i)`: the fastest of seven batches.
    static func measure(_ body: (Int) -> Void) -> (milliseconds: Double, calls: Int) {
        var i = 0
        for _ in 0..<20 {
            body(i)
            i += 1
        }
        var best = Double.infinity
        var calls = 0
        for _ in 0..<7 {
            let start = threadCPUTime()
            var batch = 0
            var elapsed = 0.0
            while elapsed < 0.06 {
                body(i)
                i += 1
                batch += 1
                elapsed = threadCPUTime() - start
            }
            calls += batch
            best = min(best, elapsed * 1000 / Double(batch))
        }
        return (best, calls)
    }

    @Test(arguments: cases)
    func scene(_ scene: Case) throws {
        let fast = PNGEncoder()
        let zlib = PNGEncoder(compression: .zlib())
        var canvas = Canvas(width: scene.width, height: scene.height)
        let rasterize = Self.measure { i in scene.draw(i, &canvas) }
        var frames: [Canvas] = []
        for i in 0..<16 {
            scene.draw(i, &canvas)
            frames.append(canvas)
        }
        let fastBytes = frames.reduce(0) { $0 + ((try? fast.encode($1).count) ?? 0) } / frames.count
        let zlibBytes = frames.reduce(0) { $0 + ((try? zlib.encode($1).count) ?? 0) } / frames.count
        var bytes = 0
        let encode = Self.measure { i in bytes += (try? frames[i % frames.count].pngData(encoder: fast).count) ?? 0 }
        let both = Self.measure { i in
            scene.draw(i, &canvas)
            bytes += (try? canvas.pngData(encoder: fast).count) ?? 0
        }
        let encodeZlib = Self.measure { i in bytes += (try? zlib.encode(frames[i % frames.count]).count) ?? 0 }
        let bothZlib = Self.measure { i in
            scene.draw(i, &canvas)
            bytes += (try? zlib.encode(canvas).count) ?? 0
        }
        #expect(bytes > 0 && fastBytes > 0 && zlibBytes > 0)
        let calls = rasterize.calls + encode.calls + both.calls + encodeZlib.calls + bothZlib.calls
        print(
            String(
                format: "bench-render env=%@ frames=%d rasterize_ms=%.4f encode_ms=%.4f total_ms=%.4f fps=%.1f "
                    + "bytes=%d encode_zlib1_ms=%.4f total_zlib1_ms=%.4f bytes_zlib1=%d",
                scene.env, calls, rasterize.milliseconds, encode.milliseconds, both.milliseconds,
                1000 / both.milliseconds, fastBytes, encodeZlib.milliseconds, bothZlib.milliseconds, zlibBytes))
    }
}

/// Every scene's frames through the default (fast deflate) PNG path: libpng must decode them to
/// the same pixels, and they must stay close in size to libpng + zlib level 1 (printed per env).
/// The Gymnasium reference frames (Fixtures/frames) go through the same round trip.
@Suite("ScenePNGRoundTrip")
struct ScenePNGRoundTrip {
    @Test(arguments: SceneBenchmark.cases)
    func sceneFrames(_ scene: SceneBenchmark.Case) throws {
        var canvas = Canvas(width: scene.width, height: scene.height)
        var fastBytes = 0
        var zlibBytes = 0
        for i in stride(from: 0, to: 100, by: 9) {
            scene.draw(i, &canvas)
            let fast = try canvas.pngData()
            let zlib = try PNGEncoder(compression: .zlib()).encode(canvas)
            #expect(try PNGDecoder.decode(fast) == canvas, "\(scene.env) state \(i)")
            fastBytes += fast.count
            zlibBytes += zlib.count
        }
        print("scene-png env=\(scene.env) fast_bytes=\(fastBytes / 12) zlib1_bytes=\(zlibBytes / 12)")
        #expect(fastBytes <= 2 * zlibBytes)
    }

    @Test func gymnasiumReferenceFrames() throws {
        let index = try SceneFrameIndex.load()
        #expect(!index.frames.isEmpty)
        for frame in index.frames {
            let image = try SceneFrameIndex.image(frame.file)
            #expect(try PNGDecoder.decode(image.pngData()) == image, "\(frame.file)")
        }
    }
}
