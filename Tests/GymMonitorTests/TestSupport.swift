import Foundation
import GymMonitor
import Synchronization

/// A fresh directory under the system's temporary directory, removed by `remove()`.
struct TemporaryDirectory {
    let url: URL

    init(_ label: String = "gym-monitor-tests") {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("\(label)-\(getpid())-\(UUID().uuidString)", isDirectory: true)
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func remove() {
        try? FileManager.default.removeItem(at: url)
    }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    var fileNames: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []).sorted()
    }
}

/// A clock that reads 100.5, 101.5, 102.5, ...: deterministic timestamps.
final class TickingClock: Sendable {
    private let ticks = Mutex(0)

    var function: @Sendable () -> Double {
        { [self] in
            ticks.withLock { ticks in
                defer { ticks += 1 }
                return 100.5 + Double(ticks)
            }
        }
    }
}

/// A 600x400-ish RGB24 picture: dark background, a white square moving with `index`.
func movingSquareFrame(width: Int, height: Int, index: Int) -> [UInt8] {
    var pixels = [UInt8](repeating: 0, count: width * height * 3)
    let side = max(2, min(width, height) / 5)
    let x0 = (index * 7) % max(1, width - side)
    let y0 = (index * 3) % max(1, height - side)
    for y in 0..<height {
        for x in 0..<width {
            let offset = (y * width + x) * 3
            let inside = x >= x0 && x < x0 + side && y >= y0 && y < y0 + side
            pixels[offset] = inside ? 255 : UInt8((x * 255) / max(1, width))
            pixels[offset + 1] = inside ? 255 : 40
            pixels[offset + 2] = inside ? 255 : UInt8((y * 255) / max(1, height))
        }
    }
    return pixels
}

func readJSON(_ path: String) throws -> [String: Any] {
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
        throw TestFailure("\(path) does not hold a JSON object")
    }
    return object
}

func readText(_ path: String) throws -> String {
    try String(contentsOfFile: path, encoding: .utf8)
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Finds an executable on PATH.
func executableOnPath(_ name: String) -> String? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    for directory in path.split(separator: ":") {
        let candidate = "\(directory)/\(name)"
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return nil
}

/// Runs a program and returns (exit status, standard output, standard error).
func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String, error: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let output = Pipe()
    let error = Pipe()
    process.standardOutput = output
    process.standardError = error
    try process.run()
    let outputData = output.fileHandleForReading.readDataToEndOfFile()
    let errorData = error.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (
        process.terminationStatus, String(decoding: outputData, as: UTF8.self),
        String(decoding: errorData, as: UTF8.self)
    )
}

/// What ffprobe says about a video's first stream.
struct ProbedVideo {
    let codec: String
    let pixelFormat: String
    let frames: Int
    let width: Int
    let height: Int
    let frameRate: String
}

let ffprobePath = executableOnPath("ffprobe")

func probe(_ path: String) throws -> ProbedVideo {
    guard let ffprobePath else { throw TestFailure("ffprobe is not installed") }
    let result = try run(
        ffprobePath,
        [
            "-v", "error", "-count_frames", "-select_streams", "v:0",
            "-show_entries", "stream=codec_name,pix_fmt,nb_read_frames,width,height,r_frame_rate", "-of", "json", path,
        ])
    guard result.status == 0 else { throw TestFailure("ffprobe failed on \(path): \(result.error)") }
    guard
        let object = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any],
        let streams = object["streams"] as? [[String: Any]], let stream = streams.first
    else { throw TestFailure("ffprobe printed no stream for \(path): \(result.output)") }
    return ProbedVideo(
        codec: stream["codec_name"] as? String ?? "",
        pixelFormat: stream["pix_fmt"] as? String ?? "",
        frames: Int(stream["nb_read_frames"] as? String ?? "") ?? -1,
        width: stream["width"] as? Int ?? -1,
        height: stream["height"] as? Int ?? -1,
        frameRate: stream["r_frame_rate"] as? String ?? "")
}

/// Plays `lengths.count` episodes of the given lengths (reward 1 per step, done at the last
/// step), rendering frames only when the recorder asks for them.
func play(
    _ recorder: EpisodeRecorder, episodeLengths lengths: [Int], width: Int = 600, height: Int = 400,
    reward: (Int, Int) -> Double = { _, _ in 1 }
) throws {
    var frameIndex = 0
    for (episode, length) in lengths.enumerated() {
        try recorder.checkReset()
        if recorder.needsResetFrame {
            recorder.recordReset(
                frame: movingSquareFrame(width: width, height: height, index: frameIndex), width: width, height: height)
        } else {
            recorder.recordReset()
        }
        frameIndex += 1
        for step in 0..<length {
            try recorder.checkStep()
            let done = step == length - 1
            let stepReward = reward(episode, step)
            if recorder.needsStepFrame {
                recorder.recordStep(
                    reward: stepReward, done: done,
                    frame: movingSquareFrame(width: width, height: height, index: frameIndex), width: width,
                    height: height)
            } else {
                recorder.recordStep(reward: stepReward, done: done)
            }
            frameIndex += 1
        }
    }
}
