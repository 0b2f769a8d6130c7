import Foundation
import GymMonitor
import Testing

@Suite("Video recording")
struct VideoRecordingTests {
    static func start(
        _ directory: TemporaryDirectory, videos: VideoSchedule = .cappedCubic, fps: Double = 50,
        queue: Int = 16, encoder: String = "libx264"
    ) throws(MonitorError) -> EpisodeRecorder {
        try EpisodeRecorder.start(
            directory: directory.url, videoSchedule: videos, envID: "CartPole-v1", renderFPS: fps,
            registry: MonitorRegistry(), uid: "7",
            options: RecordingOptions(
                encoding: VideoEncodingSettings(encoder: encoder), frameQueueCapacity: queue))
    }

    /// ffprobe's view of a video, or nil (with a printed note) when ffprobe is not installed.
    static func probeIfPossible(_ path: String) throws -> ProbedVideo? {
        guard ffprobePath != nil else {
            print("note: ffprobe is not installed; skipping the check of \(path) with ffprobe")
            return nil
        }
        return try probe(path)
    }

    @Test("filmed episodes (0 and 1 of capped cubic) become H.264 yuv420p MP4s with length + 1 frames")
    func endToEnd() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let recorder = try Self.start(directory)
        let names = recorder.fileNames
        try play(recorder, episodeLengths: [5, 12, 3])
        try recorder.closeAndWait()

        #expect(
            directory.fileNames == [
                "openaigym.episode_batch.0.7.stats.json", "openaigym.manifest.0.7.manifest.json",
                "openaigym.video.0.7.video000000.meta.json", "openaigym.video.0.7.video000000.mp4",
                "openaigym.video.0.7.video000001.meta.json", "openaigym.video.0.7.video000001.mp4",
            ])
        let manifest = try readJSON(directory.path(names.manifest))
        #expect(
            manifest["videos"] as? [[String]] == [
                [names.video(episodeID: 0), names.videoMetadata(episodeID: 0)],
                [names.video(episodeID: 1), names.videoMetadata(episodeID: 1)],
            ])
        let metadata = try readJSON(directory.path(names.videoMetadata(episodeID: 1)))
        #expect(metadata["episode_id"] as? Int == 1)
        #expect(metadata["content_type"] as? String == "video/mp4")
        let encoder = try #require(metadata["encoder_version"] as? [String: Any])
        #expect(encoder["backend"] as? String == "libavcodec")
        #expect((encoder["version"] as? String)?.contains("libavcodec") == true)
        #expect(encoder["encoder"] as? String == "libx264")
        #expect((encoder["encoder_build"] as? String)?.hasPrefix("x264 - core") == true)
        let metadataText = try readText(directory.path(names.videoMetadata(episodeID: 1)))
        #expect(metadataText.hasPrefix(#"{"episode_id": 1, "content_type": "video/mp4", "encoder_version": {"#))

        for (episode, length) in [(0, 5), (1, 12)] {
            guard let video = try Self.probeIfPossible(directory.path(names.video(episodeID: episode))) else {
                continue
            }
            #expect(video.codec == "h264")
            #expect(video.pixelFormat == "yuv420p")
            #expect(video.frames == length + 1)
            #expect(video.width == 600 && video.height == 400)
            #expect(video.frameRate == "50/1")
        }
    }

    @Test(
        "episodes filmed back to back go on with one encoder: each video starts with an IDR frame at 0 and decodes to its frames"
    )
    func backToBackVideos() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let (width, height) = (160, 120)
        let recorder = try Self.start(directory, videos: try VideoSchedule(every: 1), fps: 50)
        // Episodes of 6, 1, 9 and 4 steps, frames numbered on across them; a reset in the middle
        // of the last episode ends its video early (old gym then films the next episode too).
        var rendered: [[UInt8]] = []
        func frame() -> [UInt8] {
            let pixels =
                rendered.count % 4 == 3
                ? movingSquareFrame(width: width, height: height, index: rendered.count)
                : cartPoleLikeFrame(width: width, height: height, index: rendered.count * 5)
            rendered.append(pixels)
            return pixels
        }
        var videoFrames: [[[UInt8]]] = []
        for length in [6, 1, 9] {
            try recorder.checkReset()
            let start = rendered.count
            recorder.recordReset(frame: frame(), width: width, height: height)
            for step in 0..<length {
                try recorder.checkStep()
                let pixels = frame()
                if step % 2 == 0 {
                    recorder.recordStep(
                        reward: 1, done: step == length - 1, frame: pixels, width: width, height: height)
                } else {
                    pixels.withUnsafeBytes {
                        recorder.recordStep(
                            reward: 1, done: step == length - 1, frame: $0, width: width, height: height)
                    }
                }
            }
            videoFrames.append(Array(rendered[start...]))
        }
        try recorder.checkReset()
        var start = rendered.count
        recorder.recordReset(frame: frame(), width: width, height: height)
        for _ in 0..<3 {
            recorder.recordStep(reward: 1, done: false, frame: frame(), width: width, height: height)
        }
        videoFrames.append(Array(rendered[start...]))
        start = rendered.count
        recorder.recordReset(frame: frame(), width: width, height: height)  // not done: no check
        recorder.recordStep(reward: 1, done: true, frame: frame(), width: width, height: height)
        videoFrames.append(Array(rendered[start...]))
        try recorder.closeAndWait()
        #expect(recorder.problems.isEmpty, "\(recorder.problems)")

        let names = recorder.fileNames
        for (episode, frames) in videoFrames.enumerated() {
            let path = directory.path(names.video(episodeID: episode))
            let metadata = try readJSON(directory.path(names.videoMetadata(episodeID: episode)))
            let encoder = try #require(metadata["encoder_version"] as? [String: Any])
            #expect((encoder["encoder_build"] as? String)?.hasPrefix("x264 - core") == true)
            // x264 describes itself in its first frame only: later videos went on with its encoder.
            let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
            #expect((bytes.range(of: Data("x264 - core".utf8)) != nil) == (episode == 0), "video \(episode)")
            guard ffprobePath != nil,
                let decoded = try decodeYUV420(path, scratch: directory.path("decoded-\(episode).yuv"))
            else { continue }
            let probed = try probeFrames(path)
            #expect(probed.count == frames.count, "video \(episode)")
            #expect(probed.first?.key == true && probed.first?.type == "I", "video \(episode): \(probed.first as Any)")
            #expect(probed.first?.time == 0, "video \(episode)")
            #expect(probed.dropFirst().allSatisfy { !$0.key }, "video \(episode)")
            let times = probed.map(\.time)
            #expect(
                zip(times, times.dropFirst()).allSatisfy { abs($1 - $0 - 0.02) < 1e-6 }, "video \(episode): \(times)")
            let frameBytes = width * height * 3 / 2
            #expect(decoded.count == frameBytes * frames.count, "video \(episode)")
            guard decoded.count == frameBytes * frames.count else { continue }
            let reference = try YUV420FrameConverter(width: width, height: height, conversion: .full)
            for (index, pixels) in frames.enumerated() {
                try pixels.withUnsafeBytes { try reference.convert(rgb: $0) }
                let luma = Array(decoded[(index * frameBytes)..<(index * frameBytes + width * height)])
                let difference = planeDifference(luma, reference.picture.y)
                let badPixels = zip(luma, reference.picture.y).filter { abs(Int($0) - Int($1)) > 32 }.count
                #expect(
                    difference.mean < 1.0 && badPixels < 20,
                    "video \(episode) frame \(index): mean \(difference.mean), \(badPixels) bad")
            }
        }
    }

    @Test("a different frame size in the next episode gets an encoder of its own")
    func sizeChangeBetweenVideos() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let recorder = try Self.start(directory, videos: try VideoSchedule(every: 1), fps: 4)
        try play(recorder, episodeLengths: [3], width: 64, height: 48)
        try play(recorder, episodeLengths: [2], width: 80, height: 60)
        try play(recorder, episodeLengths: [4], width: 80, height: 60)
        try recorder.closeAndWait()
        #expect(recorder.problems.isEmpty, "\(recorder.problems)")
        for (episode, (frames, width, height)) in [(4, 64, 48), (3, 80, 60), (5, 80, 60)].enumerated() {
            guard let video = try Self.probeIfPossible(directory.path(recorder.fileNames.video(episodeID: episode)))
            else { return }
            #expect(video.frames == frames && video.width == width && video.height == height, "video \(episode)")
        }
    }

    @Test("odd frame sizes are padded to even", arguments: [(151, 101), (600, 401), (1, 1)])
    func oddSizes(width: Int, height: Int) throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let recorder = try Self.start(directory, videos: try VideoSchedule(every: 1), fps: 4)
        try play(recorder, episodeLengths: [3], width: width, height: height)
        try recorder.closeAndWait()
        #expect(recorder.problems.isEmpty, "\(recorder.problems)")
        guard let video = try Self.probeIfPossible(directory.path(recorder.fileNames.video(episodeID: 0))) else {
            return
        }
        #expect(video.frames == 4)
        #expect(video.width == (width + 1) / 2 * 2 && video.height == (height + 1) / 2 * 2)
        #expect(video.frameRate == "4/1")
    }

    @Test("an episode is in the stats file before its video is finished: the manifest written with it lists the video from the next write on, as old gym's did")
    func statisticsBeforeVideo() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        var options = RecordingOptions(encoding: VideoEncodingSettings(encoder: "libx264"))
        options.writesEveryEpisode = true
        let recorder = try EpisodeRecorder.start(
            directory: directory.url, videoSchedule: .cappedCubic, envID: "CartPole-v1", renderFPS: 50,
            registry: MonitorRegistry(), uid: "7", options: options)
        try play(recorder, episodeLengths: [4])
        await recorder.statisticsWritten(through: 1)
        // Written with episode 0's statistics, before its video was finished: a process killed
        // now leaves no finished video of an episode the stats file lacks.
        #expect(try readJSON(directory.path(recorder.fileNames.stats))["episode_lengths"] as? [Int] == [4])
        #expect((try readJSON(directory.path(recorder.fileNames.manifest))["videos"] as? [[String]])?.isEmpty == true)
        try recorder.closeAndWait()
        #expect((try readJSON(directory.path(recorder.fileNames.manifest))["videos"] as? [[String]])?.count == 1)
        #expect(FileManager.default.fileExists(atPath: directory.path(recorder.fileNames.video(episodeID: 0))))
    }

    @Test("a video open at close keeps its frames (steps + 1) and is listed")
    func closeWhileFilming() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let recorder = try Self.start(directory)
        try recorder.checkReset()
        #expect(recorder.needsResetFrame)
        recorder.recordReset(frame: movingSquareFrame(width: 600, height: 400, index: 0), width: 600, height: 400)
        for index in 1...7 {
            #expect(recorder.needsStepFrame)
            recorder.recordStep(
                reward: 1, done: false, frame: movingSquareFrame(width: 600, height: 400, index: index), width: 600,
                height: 400)
        }
        try recorder.closeAndWait()
        let manifest = try readJSON(directory.path(recorder.fileNames.manifest))
        #expect((manifest["videos"] as? [[String]])?.count == 1)
        #expect(try readJSON(directory.path(recorder.fileNames.stats))["episode_lengths"] as? [Int] == [])
        guard let video = try Self.probeIfPossible(directory.path(recorder.fileNames.video(episodeID: 0))) else {
            return
        }
        #expect(video.frames == 8)
    }

    @Test("two resets without steps: old gym films a one-frame episode")
    func resetTwice() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let recorder = try Self.start(directory)
        let frame = movingSquareFrame(width: 600, height: 400, index: 0)
        recorder.recordReset(frame: frame, width: 600, height: 400)
        recorder.recordReset(frame: frame, width: 600, height: 400)
        try recorder.closeAndWait()
        let manifest = try readJSON(directory.path(recorder.fileNames.manifest))
        #expect((manifest["videos"] as? [[String]])?.count == 2)
        guard let video = try Self.probeIfPossible(directory.path(recorder.fileNames.video(episodeID: 0))) else {
            return
        }
        #expect(video.frames == 1)
    }

    @Test("no frame for a filmed episode breaks its video, as a None render did in old gym")
    func missingFrame() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let recorder = try Self.start(directory)
        recorder.recordReset(frame: movingSquareFrame(width: 600, height: 400, index: 0), width: 600, height: 400)
        recorder.recordStep(reward: 1, done: false)  // no frame although needsStepFrame
        #expect(!recorder.needsStepFrame)
        recorder.recordStep(reward: 1, done: true)
        // episode 1 is filmed normally
        try play(recorder, episodeLengths: [2])
        try recorder.closeAndWait()
        let names = recorder.fileNames
        #expect(!FileManager.default.fileExists(atPath: directory.path(names.video(episodeID: 0))))
        let metadata = try readJSON(directory.path(names.videoMetadata(episodeID: 0)))
        #expect(metadata["broken"] as? Bool == true)
        let manifest = try readJSON(directory.path(names.manifest))
        #expect(manifest["videos"] as? [[String]] == [[names.video(episodeID: 1), names.videoMetadata(episodeID: 1)]])
        #expect(recorder.problems.count == 1)
        #expect(directory.fileNames.allSatisfy { !$0.hasPrefix(".") })
    }

    @Test("a frame of another size breaks the video with old gym's message")
    func frameSizeChange() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let recorder = try Self.start(directory)
        recorder.recordReset(frame: movingSquareFrame(width: 600, height: 400, index: 0), width: 600, height: 400)
        recorder.recordStep(
            reward: 1, done: true, frame: movingSquareFrame(width: 500, height: 500, index: 1), width: 500, height: 500)
        try recorder.closeAndWait()
        #expect(
            recorder.problems == [
                .videoEncoding(
                    episodeID: 0,
                    reason:
                        "Your frame has shape (500, 500, 3), but the VideoRecorder is configured for shape (400, 600, 3)."
                )
            ])
        let metadata = try readJSON(directory.path(recorder.fileNames.videoMetadata(episodeID: 0)))
        #expect(metadata["broken"] as? Bool == true)
        #expect(!FileManager.default.fileExists(atPath: directory.path(recorder.fileNames.video(episodeID: 0))))
    }

    @Test("a queue of one frame still records every frame (the caller waits for the encoder)")
    func tinyQueue() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let recorder = try Self.start(directory, videos: try VideoSchedule(every: 1), queue: 1)
        try play(recorder, episodeLengths: [40, 20], width: 160, height: 120)
        try recorder.closeAndWait()
        guard let first = try Self.probeIfPossible(directory.path(recorder.fileNames.video(episodeID: 0))),
            let second = try Self.probeIfPossible(directory.path(recorder.fileNames.video(episodeID: 1)))
        else { return }
        #expect(first.frames == 41)
        #expect(second.frames == 21)
    }

    @Test("no H.264 encoder: a clear typed error when videos are wanted, statistics-only monitors still start")
    func missingEncoder() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        do {
            _ = try Self.start(directory, encoder: "libx264-not-built")
            Issue.record("start should have refused")
        } catch {
            guard case .videoEncoderUnavailable(let reason) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(reason.contains("libx264-not-built"))
            #expect(error.message.contains("video_callable false"))
        }
        let statsOnly = try Self.start(directory, videos: .never, encoder: "libx264-not-built")
        try statsOnly.closeAndWait()
        #expect(throws: VideoEncodingError.encoderNotFound("libx264-not-built")) {
            _ = try H264VideoWriter(
                path: directory.path("x.mp4"), width: 8, height: 8, framesPerSecond: 30,
                settings: VideoEncodingSettings(encoder: "libx264-not-built"))
        }
        #expect(H264VideoWriter.unavailabilityReason() == nil)
    }

    @Test("H264VideoWriter rejects frames of the wrong byte count and deletes abandoned files")
    func writerDirectly() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path("direct.mp4")
        let writer = try H264VideoWriter(path: path, width: 64, height: 48, framesPerSecond: 30)
        let good = movingSquareFrame(width: 64, height: 48, index: 0)
        try good.withUnsafeBytes { try writer.append(rgb: $0) }
        #expect(throws: VideoEncodingError.self) {
            try [UInt8](repeating: 0, count: 10).withUnsafeBytes { try writer.append(rgb: $0) }
        }
        writer.abandon()
        #expect(!FileManager.default.fileExists(atPath: path))
        #expect(throws: VideoEncodingError.finished) { try writer.finish() }
    }

    @Test("settings x264 refuses: a typed error from avcodec_open2, no file left behind")
    func refusedSettings() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path("refused.mp4")
        #expect {
            _ = try H264VideoWriter(
                path: path, width: 64, height: 48, framesPerSecond: 30,
                settings: VideoEncodingSettings(preset: "no-such-preset"))
        } throws: { error in
            guard case .library(let call, _, _) = error as? VideoEncodingError else { return false }
            return call.hasPrefix("avcodec_open2")
        }
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test("1001 one-step episodes on the capped cubic schedule give the 11 videos of 0, 1, 8, ..., 729, 1000")
    func cappedCubicRun() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let recorder = try Self.start(directory)
        try play(recorder, episodeLengths: Array(repeating: 1, count: 1001), width: 32, height: 24)
        try recorder.closeAndWait()
        let manifest = try readJSON(directory.path(recorder.fileNames.manifest))
        let listed = (manifest["videos"] as? [[String]] ?? []).map { $0[0] }
        #expect(
            listed == [0, 1, 8, 27, 64, 125, 216, 343, 512, 729, 1000].map { recorder.fileNames.video(episodeID: $0) })
        #expect(directory.fileNames.filter { $0.hasSuffix(".mp4") }.count == 11)
        #expect(
            try readJSON(directory.path(recorder.fileNames.stats))["episode_lengths"] as? [Int]
                == Array(repeating: 1, count: 1001))
    }

    @Test("a directory removed under a running monitor: typed errors, no crash, close reports it")
    func directoryRemoved() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let recorder = try Self.start(directory, videos: try VideoSchedule(every: 1))
        try play(recorder, episodeLengths: [2], width: 64, height: 48)
        directory.remove()
        try play(recorder, episodeLengths: [3], width: 64, height: 48)
        #expect(throws: MonitorError.self) { try recorder.closeAndWait() }
        #expect(!recorder.problems.isEmpty)
        // a second close reports the same outcome and does not hang
        #expect(throws: MonitorError.self) { try recorder.closeAndWait() }
    }

    @Test("several monitors filming at once from concurrent tasks")
    func concurrentMonitors() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let registry = MonitorRegistry()
        try await withThrowingTaskGroup(of: EpisodeRecorder.self) { group in
            for index in 0..<4 {
                group.addTask {
                    let recorder = try EpisodeRecorder.start(
                        directory: directory.url.appendingPathComponent("run\(index)"),
                        videoSchedule: try VideoSchedule(every: 2), envID: "Acrobot-v1", renderFPS: 15,
                        registry: registry, options: RecordingOptions(frameQueueCapacity: 2))
                    try play(recorder, episodeLengths: [5, 6, 7, 8], width: 100, height: 100)
                    return recorder
                }
            }
            var recorders: [EpisodeRecorder] = []
            for try await recorder in group { recorders.append(recorder) }
            #expect(Set(recorders.map(\.monitorID)) == [0, 1, 2, 3])
            let problems = await registry.finishAll()
            #expect(problems.isEmpty)
            for recorder in recorders {
                let manifest = try readJSON(recorder.directory.appendingPathComponent(recorder.fileNames.manifest).path)
                #expect((manifest["videos"] as? [[String]])?.count == 2)
                guard
                    let video = try Self.probeIfPossible(
                        recorder.directory.appendingPathComponent(recorder.fileNames.video(episodeID: 2)).path)
                else { continue }
                #expect(video.frames == 8)
                #expect(video.frameRate == "15/1")
            }
        }
    }
}
