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

    /// Consecutive CartPole-like frames (what the monitor films most: a pole sweeping over a
    /// white picture) and the moving square on a gradient (more of the picture changes).
    static let sceneFrames: [[UInt8]] = (0..<120).map { cartPoleLikeFrame(width: width, height: height, index: $0) }

    /// The video settings before this change: libswscale and x264's default rate control (CRF 23).
    static let oldSettings = VideoEncodingSettings(quantizer: nil, colorConversion: .swscale)

    /// Process CPU time in seconds (all threads).
    static func processCPUTime() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) * 1e-9
    }

    /// Voluntary context switches (sleeps) so far of this process's monitor recording threads.
    static func recordingThreadSleeps() -> Int? {
        guard let tasks = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task") else { return nil }
        var total: Int?
        for task in tasks {
            guard let name = try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8),
                name.hasPrefix("gym-monitor"),
                let status = try? String(contentsOfFile: "/proc/self/task/\(task)/status", encoding: .utf8),
                let line = status.split(separator: "\n").first(where: { $0.hasPrefix("voluntary_ctxt_switches") }),
                let count = Int(line.split(separator: ":").last?.trimmingCharacters(in: .whitespaces) ?? "")
            else { continue }
            total = (total ?? 0) + count
        }
        return total
    }

    /// Mean time of `convert` per frame, each frame first copied (untimed) into one of 16
    /// rotating buffers, as the recording queue hands frames over; best of `rounds`.
    static func conversionTime(_ frames: [[UInt8]], _ conversion: ColorConversion, rounds: Int = 3) throws -> Double {
        let slots = (0..<16).map { _ in
            UnsafeMutableRawBufferPointer.allocate(byteCount: width * height * 3, alignment: 64)
        }
        defer { for slot in slots { slot.deallocate() } }
        let converter = try YUV420FrameConverter(width: width, height: height, conversion: conversion)
        let clock = ContinuousClock()
        var best = Double.infinity
        for _ in 0..<rounds {
            var total = Duration.zero
            for (index, frame) in frames.enumerated() {
                let slot = slots[index % slots.count]
                frame.withUnsafeBytes {
                    if let base = slot.baseAddress, let source = $0.baseAddress {
                        base.copyMemory(from: source, byteCount: $0.count)
                    }
                }
                let start = clock.now
                try converter.convert(rgb: UnsafeRawBufferPointer(slot))
                total += clock.now - start
            }
            best = min(best, seconds(total) / Double(frames.count))
        }
        return best
    }

    /// Encodes `frames` into a video with `settings`: (conversion, encoding) seconds per frame and
    /// the file's size. Frames go through rotating buffers as in `conversionTime`.
    static func encodingTime(_ frames: [[UInt8]], _ settings: VideoEncodingSettings, path: String) throws
        -> (convert: Double, encode: Double, bytes: Int)
    {
        let slots = (0..<16).map { _ in
            UnsafeMutableRawBufferPointer.allocate(byteCount: width * height * 3, alignment: 64)
        }
        defer { for slot in slots { slot.deallocate() } }
        let writer = try H264VideoWriter(
            path: path, width: width, height: height, framesPerSecond: 50, settings: settings)
        let clock = ContinuousClock()
        var conversion = Duration.zero
        var encoding = Duration.zero
        for (index, frame) in frames.enumerated() {
            let slot = slots[index % slots.count]
            frame.withUnsafeBytes {
                if let base = slot.baseAddress, let source = $0.baseAddress {
                    base.copyMemory(from: source, byteCount: $0.count)
                }
            }
            let start = clock.now
            try writer.stage(rgb: UnsafeRawBufferPointer(slot))
            let staged = clock.now
            try writer.encodeStaged()
            conversion += staged - start
            encoding += clock.now - staged
        }
        let finishing = try clock.measure { try writer.finish() }
        let bytes = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        return (seconds(conversion) / Double(frames.count), seconds(encoding + finishing) / Double(frames.count), bytes)
    }

    @Test("RGB->YUV conversion and H.264 encoding per 600x400 frame: ours against libswscale and the old settings")
    func encodeRate() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let copy = Self.frameCopyReference()
        for (name, frames) in [("CartPole-like scene", Self.sceneFrames), ("moving square on a gradient", Self.frames)]
        {
            let incremental = try Self.conversionTime(frames, .incremental)
            let full = try Self.conversionTime(frames, .full)
            let swscale = try Self.conversionTime(frames, .swscale)
            print(
                String(
                    format: "%@: convert %.3f ms/frame incremental, %.3f ms full, libswscale %.3f ms "
                        + "(%.1fx and %.1fx faster); a frame copy %.3f ms",
                    name, incremental * 1e3, full * 1e3, swscale * 1e3, swscale / incremental, swscale / full,
                    copy * 1e3))
            // The writer as configured now and as it was, alternated, best of three.
            var now = (convert: Double.infinity, encode: Double.infinity, bytes: 0)
            var old = now
            for round in 0..<3 {
                let new = try Self.encodingTime(
                    frames, VideoEncodingSettings(), path: directory.path("new-\(round).mp4"))
                let before = try Self.encodingTime(frames, Self.oldSettings, path: directory.path("old-\(round).mp4"))
                if new.convert + new.encode < now.convert + now.encode { now = new }
                if before.convert + before.encode < old.convert + old.encode { old = before }
            }
            let total = now.convert + now.encode
            let oldTotal = old.convert + old.encode
            print(
                String(
                    format: "%@: writer now (incremental, x264 ultrafast qp 18): convert %.3f + encode %.3f = "
                        + "%.3f ms/frame, %d B/frame; before (libswscale, CRF 23): %.3f + %.3f = %.3f ms/frame, "
                        + "%d B/frame; %.2fx the old path's time (%.1fx faster)",
                    name, now.convert * 1e3, now.encode * 1e3, total * 1e3, now.bytes / frames.count,
                    old.convert * 1e3, old.encode * 1e3, oldTotal * 1e3, old.bytes / frames.count, total / oldTotal,
                    oldTotal / total))
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

        // Filming, the queue not full. Two ways to hand a frame over: the caller renders into
        // one canvas (hot in cache) and gives its bytes, which are copied (the least that can
        // cost is one copy into a buffer that is not in cache: the reference); or it gives a
        // freshly rendered array, which is kept as it is.
        let handOff = Self.rotatingCopyReference(Self.frames[0])
        let filming = try EpisodeRecorder.start(
            directory: directory.url.appendingPathComponent("filming"), videoSchedule: try VideoSchedule(every: 1),
            envID: "CartPole-v1", renderFPS: 50, registry: MonitorRegistry(),
            options: RecordingOptions(frameQueueCapacity: 16))
        filming.recordReset(frame: Self.sceneFrames[0], width: Self.width, height: Self.height)
        Thread.sleep(forTimeInterval: 0.1)
        // Bursts of 15 frames (the queue holds 16), letting the encoder drain in between. The
        // first burst allocates the queue's buffers (page faults): reported apart.
        var canvas = Self.sceneFrames[0]
        var frameIndex = 0
        func bursts(copying: Bool) -> (first: Double, median: Double, mean: Double) {
            var burstTimes: [[Double]] = []
            for _ in 0..<21 {
                var times: [Double] = []
                for _ in 0..<15 {
                    frameIndex += 1
                    let frame = Self.sceneFrames[frameIndex % Self.sceneFrames.count]  // "render"
                    let start: ContinuousClock.Instant
                    if copying {
                        canvas.withUnsafeMutableBytes { target in
                            frame.withUnsafeBytes { target.copyMemory(from: $0) }
                        }
                        start = clock.now
                        canvas.withUnsafeBytes {
                            filming.recordStep(
                                reward: 1, done: false, frame: $0, width: Self.width, height: Self.height)
                        }
                    } else {
                        start = clock.now
                        filming.recordStep(reward: 1, done: false, frame: frame, width: Self.width, height: Self.height)
                    }
                    times.append(Self.seconds(clock.now - start))
                }
                burstTimes.append(times)
                Thread.sleep(forTimeInterval: 0.05)
            }
            let steady = burstTimes.dropFirst().flatMap { $0 }.sorted()
            return (
                burstTimes[0].reduce(0, +) / Double(burstTimes[0].count), steady[steady.count / 2],
                steady.reduce(0, +) / Double(steady.count)
            )
        }
        let copied = bursts(copying: true)
        let kept = bursts(copying: false)
        print(
            String(
                format: "recordStep, filming, queue not full, bytes copied: median %.1f us/call, mean %.1f us "
                    + "(first frames of a video, allocating buffers: %.1f us); median %.2fx one 600x400 frame copy "
                    + "into a cold buffer (%.1f us)",
                copied.median * 1e6, copied.mean * 1e6, copied.first * 1e6, copied.median / handOff, handOff * 1e6))
        print(
            String(
                format:
                    "recordStep, filming, queue not full, [UInt8] kept (no copy): median %.1f us/call, mean %.1f us; "
                    + "%.2fx the copying call",
                kept.median * 1e6, kept.mean * 1e6, kept.median / copied.median))
        try filming.closeAndWait()
        #expect(filming.problems.isEmpty)

        // Filming, sustained: the caller outruns the encoder and waits for free slots; then paced
        // at 400 frames/s, slower than the encoder. CPU time of the whole process per frame (the
        // caller's copies, the recording thread, x264), the new settings against the old.
        func film(_ settings: VideoEncodingSettings, label: String) throws -> (cpu: Double, pacedCPU: Double) {
            let recorder = try EpisodeRecorder.start(
                directory: directory.url.appendingPathComponent(label), videoSchedule: try VideoSchedule(every: 1),
                envID: "CartPole-v1", renderFPS: 50, registry: MonitorRegistry(),
                options: RecordingOptions(encoding: settings, frameQueueCapacity: 16))
            recorder.recordReset(frame: Self.sceneFrames[0], width: Self.width, height: Self.height)
            let sustained = 480
            let cpuStart = Self.processCPUTime()
            let sustainedTime = clock.measure {
                for index in 0..<sustained {
                    Self.sceneFrames[index % Self.sceneFrames.count].withUnsafeBytes {
                        recorder.recordStep(reward: 1, done: false, frame: $0, width: Self.width, height: Self.height)
                    }
                }
            }
            let drain = try clock.measure { try recorder.closeAndWait() }
            let cpu = (Self.processCPUTime() - cpuStart) / Double(sustained)

            let paced = try EpisodeRecorder.start(
                directory: directory.url.appendingPathComponent(label + "-paced"),
                videoSchedule: try VideoSchedule(every: 1), envID: "CartPole-v1", renderFPS: 50,
                registry: MonitorRegistry(), options: RecordingOptions(encoding: settings, frameQueueCapacity: 16))
            paced.recordReset(frame: Self.sceneFrames[0], width: Self.width, height: Self.height)
            Thread.sleep(forTimeInterval: 0.05)
            let pacedFrames = 240
            let sleepsBefore = Self.recordingThreadSleeps()
            let pacedStart = Self.processCPUTime()
            for index in 0..<pacedFrames {
                Self.sceneFrames[index % Self.sceneFrames.count].withUnsafeBytes {
                    paced.recordStep(reward: 1, done: false, frame: $0, width: Self.width, height: Self.height)
                }
                Thread.sleep(forTimeInterval: 0.0025)
            }
            Thread.sleep(forTimeInterval: 0.02)
            let pacedCPU = (Self.processCPUTime() - pacedStart) / Double(pacedFrames)
            let sleeps = Self.recordingThreadSleeps().flatMap { after in sleepsBefore.map { after - $0 } }
            try paced.closeAndWait()
            #expect(recorder.problems.isEmpty && paced.problems.isEmpty)
            print(
                String(
                    format: "filming sustained, %@: %.3f ms/call (bounded by the encoder), %.0f frames/s through "
                        + "the recorder, %.3f ms of CPU per frame; paced at 400 frames/s: %.3f ms of CPU per frame, "
                        + "%@ sleeps of the recording thread per frame",
                    label, Self.seconds(sustainedTime) / Double(sustained) * 1e3,
                    Double(sustained) / Self.seconds(sustainedTime + drain), cpu * 1e3, pacedCPU * 1e3,
                    sleeps.map { String(format: "%.2f", Double($0) / Double(pacedFrames)) } ?? "?"))
            return (cpu, pacedCPU)
        }
        let now = try film(VideoEncodingSettings(), label: "now")
        let before = try film(Self.oldSettings, label: "before (libswscale, CRF 23)")
        print(
            String(
                format: "filming CPU per frame: %.2fx the old path's sustained, %.2fx paced",
                now.cpu / before.cpu, now.pacedCPU / before.pacedCPU))
    }

    @Test("every episode filmed, 22 steps each (CartPole with a random agent): CPU per filmed frame, now and before")
    func shortFilmedEpisodes() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let episodes = 40
        let length = 22
        func film(_ settings: VideoEncodingSettings, label: String) throws -> Double {
            let recorder = try EpisodeRecorder.start(
                directory: directory.url.appendingPathComponent(label), videoSchedule: try VideoSchedule(every: 1),
                envID: "CartPole-v1", renderFPS: 50, registry: MonitorRegistry(),
                options: RecordingOptions(encoding: settings))
            var index = 0
            let cpuStart = Self.processCPUTime()
            for _ in 0..<episodes {
                Self.sceneFrames[index % Self.sceneFrames.count].withUnsafeBytes {
                    recorder.recordReset(frame: $0, width: Self.width, height: Self.height)
                }
                index += 1
                for step in 0..<length {
                    Self.sceneFrames[index % Self.sceneFrames.count].withUnsafeBytes {
                        recorder.recordStep(
                            reward: 1, done: step == length - 1, frame: $0, width: Self.width, height: Self.height)
                    }
                    index += 1
                }
            }
            try recorder.closeAndWait()
            #expect(recorder.problems.isEmpty)
            return (Self.processCPUTime() - cpuStart) / Double(episodes * (length + 1))
        }
        var now = Double.infinity
        var fresh = Double.infinity
        var before = Double.infinity
        for round in 0..<2 {
            now = min(now, try film(VideoEncodingSettings(), label: "now-\(round)"))
            // Without zerolatency x264 holds a frame back: each video then drains and closes it.
            fresh = min(fresh, try film(VideoEncodingSettings(tune: nil), label: "fresh-\(round)"))
            before = min(before, try film(Self.oldSettings, label: "before-\(round)"))
        }
        print(
            String(
                format: "%d filmed episodes of %d steps: %.3f ms of CPU per frame with the encoder going on from "
                    + "video to video (%.3f ms with a new encoder per video); before (libswscale, CRF 23, an encoder "
                    + "per video) %.3f ms; %.2fx the old path's",
                episodes, length, now * 1e3, fresh * 1e3, before * 1e3, now / before))
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
