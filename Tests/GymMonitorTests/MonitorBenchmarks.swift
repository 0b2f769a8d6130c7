import Foundation
import GymMonitor
import Synchronization
import Testing

/// Benchmarks, run with `GYM_BENCH=1 swift test -c release --filter MonitorBenchmarks`.
/// Each prints its figure and its ratio to a reference measured in the same run.
@Suite(
    "Monitor benchmarks", .serialized,
    .enabled(if: ProcessInfo.processInfo.environment["GYM_BENCH"] == "1", "set GYM_BENCH=1 to run benchmarks"))
struct MonitorBenchmarks {
    static let width = 600
    static let height = 400
    static let frames: [[UInt8]] = (0..<32).map { movingSquareFrame(width: width, height: height, index: $0 * 5) }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    /// Time of one 600x400 RGB frame copy (what the step path pays to hand a frame over).
    static func frameCopyReference() -> Double {
        var target = [UInt8](repeating: 0, count: width * height * 3)
        let rounds = 2000
        let clock = ContinuousClock()
        let elapsed = clock.measure {
            for round in 0..<rounds {
                let source = frames[round % frames.count]
                target.withUnsafeMutableBytes { destination in
                    source.withUnsafeBytes { bytes in
                        if let base = destination.baseAddress, let from = bytes.baseAddress {
                            base.copyMemory(from: from, byteCount: bytes.count)
                        }
                    }
                }
            }
        }
        precondition(target.count == width * height * 3)
        return seconds(elapsed) / Double(rounds)
    }

    /// Time of copying a hot frame into one of 16 buffers in turn (not in cache).
    static func rotatingCopyReference(_ frame: [UInt8]) -> Double {
        let targets = (0..<16).map { _ in
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: frame.count, alignment: 64)
            buffer.initializeMemory(as: UInt8.self, repeating: 0)
            return buffer
        }
        defer { for target in targets { target.deallocate() } }
        let rounds = 320
        let elapsed = ContinuousClock().measure {
            for round in 0..<rounds {
                frame.withUnsafeBytes { source in
                    if let base = targets[round % targets.count].baseAddress, let from = source.baseAddress {
                        base.copyMemory(from: from, byteCount: source.count)
                    }
                }
            }
        }
        return seconds(elapsed) / Double(rounds)
    }

    @Test("H.264 encoding at 600x400: frames per second on one thread")
    func encodeRate() throws {
        let copy = Self.frameCopyReference()
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        for threads in [1, 0] {
            let count = 600
            let writer = try H264VideoWriter(
                path: directory.path("bench-\(threads).mp4"), width: Self.width, height: Self.height,
                framesPerSecond: 50, settings: VideoEncodingSettings(threads: threads))
            let clock = ContinuousClock()
            var conversion = Duration.zero
            let total = try clock.measure {
                for index in 0..<count {
                    let start = clock.now
                    try Self.frames[index % Self.frames.count].withUnsafeBytes { try writer.stage(rgb: $0) }
                    conversion += clock.now - start
                    try writer.encodeStaged()
                }
                try writer.finish()
            }
            let perFrame = Self.seconds(total) / Double(count)
            let convert = Self.seconds(conversion) / Double(count)
            print(
                String(
                    format: "encode 600x400 x264 ultrafast threads=%@: %.0f frames/s, %.3f ms/frame "
                        + "(RGB->YUV %.3f ms); %.1fx a frame copy (%.3f ms)",
                    threads == 0 ? "auto" : "1", 1 / perFrame, perFrame * 1e3, convert * 1e3, perFrame / copy,
                    copy * 1e3))
        }
    }

    @Test("recordStep on the caller's thread: not filming, filming within the queue, filming sustained")
    func recordStepCost() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let clock = ContinuousClock()

        // Reference: an uncontended lock around a small update, the least a shared recorder costs.
        let counter = Mutex(0)
        let lockRounds = 2_000_000
        let lockTime = clock.measure {
            for _ in 0..<lockRounds { counter.withLock { $0 &+= 1 } }
        }
        let lockCost = Self.seconds(lockTime) / Double(lockRounds)

        // Not filming.
        let quiet = try EpisodeRecorder.start(
            directory: directory.url.appendingPathComponent("quiet"), videoSchedule: .never, envID: "CartPole-v1",
            renderFPS: 50, registry: MonitorRegistry())
        quiet.recordReset()
        let rounds = 2_000_000
        let quietTime = clock.measure {
            for _ in 0..<rounds {
                if quiet.needsStepFrame { fatalError("not filming") }
                quiet.recordStep(reward: 1, done: false)
            }
        }
        try quiet.closeAndWait()
        let quietCost = Self.seconds(quietTime) / Double(rounds)
        print(
            String(
                format:
                    "recordStep, not filming (with needsStepFrame): %.1f ns/call; %.1fx an uncontended Mutex (%.1f ns)",
                quietCost * 1e9, quietCost / lockCost, lockCost * 1e9))

        // Filming. The caller renders into one canvas (hot in cache) and hands it over; the
        // least that can cost is one copy into a buffer that is not in cache: the reference.
        var canvas = Self.frames[0]
        let handOff = Self.rotatingCopyReference(canvas)
        let filming = try EpisodeRecorder.start(
            directory: directory.url.appendingPathComponent("filming"), videoSchedule: try VideoSchedule(every: 1),
            envID: "CartPole-v1", renderFPS: 50, registry: MonitorRegistry(),
            options: RecordingOptions(frameQueueCapacity: 16))
        filming.recordReset(frame: canvas, width: Self.width, height: Self.height)
        Thread.sleep(forTimeInterval: 0.1)
        // Bursts of 15 frames (the queue holds 16), letting the encoder drain in between. The
        // first burst allocates the queue's buffers (page faults): reported apart.
        var burstTimes: [[Double]] = []
        for _ in 0..<21 {
            var times: [Double] = []
            for index in 0..<15 {
                canvas[index * 3] &+= 1  // "render"
                let start = clock.now
                filming.recordStep(reward: 1, done: false, frame: canvas, width: Self.width, height: Self.height)
                times.append(Self.seconds(clock.now - start))
            }
            burstTimes.append(times)
            Thread.sleep(forTimeInterval: 0.05)
        }
        let first = burstTimes[0].reduce(0, +) / Double(burstTimes[0].count)
        let steady = burstTimes.dropFirst().flatMap { $0 }.sorted()
        let steadyMean = steady.reduce(0, +) / Double(steady.count)
        let steadyMedian = steady[steady.count / 2]
        print(
            String(
                format: "recordStep, filming, queue not full: median %.1f us/call, mean %.1f us "
                    + "(first frames of a video, allocating buffers: %.1f us); median %.2fx one 600x400 frame copy "
                    + "into a cold buffer (%.1f us)",
                steadyMedian * 1e6, steadyMean * 1e6, first * 1e6, steadyMedian / handOff, handOff * 1e6))

        // Filming, sustained: the caller outruns the encoder and waits for free slots.
        let sustained = 600
        let sustainedTime = clock.measure {
            for index in 0..<sustained {
                canvas[index * 3] &+= 1
                filming.recordStep(reward: 1, done: false, frame: canvas, width: Self.width, height: Self.height)
            }
        }
        let closeTime = try clock.measure { try filming.closeAndWait() }
        let sustainedCost = Self.seconds(sustainedTime) / Double(sustained)
        let throughput = Double(sustained) / Self.seconds(sustainedTime + closeTime)
        print(
            String(
                format: "recordStep, filming sustained: %.3f ms/call (bounded by the encoder), "
                    + "%.0f frames/s through the recorder (close took %.1f ms)",
                sustainedCost * 1e3, throughput, Self.seconds(closeTime) * 1e3))
        #expect(filming.problems.isEmpty)
    }

    @Test("a long run of short episodes (FrozenLake-like): cost of steps and episode ends on the caller's thread")
    func shortEpisodes() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let clock = ContinuousClock()
        let recorder = try EpisodeRecorder.start(
            directory: directory.url, videoSchedule: .never, envID: "FrozenLake-v1", renderFPS: 4,
            registry: MonitorRegistry())
        let episodes = 200_000
        let stepsPerEpisode = 3
        var worst = Duration.zero
        let elapsed = clock.measure {
            for _ in 0..<episodes {
                let start = clock.now
                recorder.recordReset()
                for step in 0..<stepsPerEpisode {
                    recorder.recordStep(reward: 0, done: step == stepsPerEpisode - 1)
                }
                worst = max(worst, clock.now - start)
            }
        }
        let closeTime = try clock.measure { try recorder.closeAndWait() }
        // Reference for the worst case: a loop without the recorder running as long (what the
        // scheduler alone does to one iteration on this machine, with the other threads it runs).
        var worstIdle = Duration.zero
        var sink = 0.0
        let idleStart = clock.now
        var iterations = 0
        while clock.now - idleStart < elapsed {
            let start = clock.now
            for step in 0..<50 { sink += Double(iterations &+ step).squareRoot() }
            worstIdle = max(worstIdle, clock.now - start)
            iterations += 1
        }
        let perEpisode = Self.seconds(elapsed) / Double(episodes)
        let perCall = perEpisode / Double(stepsPerEpisode + 1)
        print(
            String(
                format: "%d episodes of %d steps: %.2f us per episode (reset + steps + episode end, %.0f ns/call), "
                    + "worst episode %.1f us (%.1fx the worst iteration of a loop without recorder over the same "
                    + "time, %.1f us); final write of the stats file %.1f ms",
                episodes, stepsPerEpisode, perEpisode * 1e6, perCall * 1e9, Self.seconds(worst) * 1e6,
                Self.seconds(worst) / Self.seconds(worstIdle), Self.seconds(worstIdle) * 1e6,
                Self.seconds(closeTime) * 1e3))
        #expect(sink > 0)
    }
}
