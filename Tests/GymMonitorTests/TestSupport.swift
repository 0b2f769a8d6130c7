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

    /// The directory's files but its lock file (`DirectoryLock`), which every monitor leaves
    /// behind and `DirectoryLockTests` checks.
    var fileNames: [String] {
        allFileNames.filter { $0 != DirectoryLock.fileName }
    }

    var allFileNames: [String] {
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

/// A CartPole-like picture (what the monitor films most): white background, a black track
/// line, a black cart, an anti-aliased brown pole leaning by an angle that changes with
/// `index`, a blue-grey axle. Sizes scale with the frame's.
func cartPoleLikeFrame(width: Int, height: Int, index: Int) -> [UInt8] {
    var pixels = [UInt8](repeating: 255, count: width * height * 3)
    let scale = Double(width) / 600
    let trackY = Double(height) * 0.75
    let cartX = Double(width) / 2 + 0.8 * sin(Double(index) / 40) * Double(width) / 4.8
    let theta = 0.2 * sin(Double(index) / 13)
    func paint(_ x: Int, _ y: Int, _ color: (UInt8, UInt8, UInt8), coverage: Double = 1) {
        guard x >= 0, y >= 0, x < width, y < height, coverage > 0 else { return }
        let offset = (y * width + x) * 3
        for (channel, value) in [color.0, color.1, color.2].enumerated() {
            let old = Double(pixels[offset + channel])
            pixels[offset + channel] = UInt8((old + (Double(value) - old) * min(1, coverage)).rounded())
        }
    }
    // track
    for x in 0..<width { paint(x, Int(trackY), (0, 0, 0)) }
    // cart, 50 x 30
    let cartHalfWidth = 25 * scale
    let cartHalfHeight = 15 * scale
    for y in Int(trackY - cartHalfHeight)..<Int(trackY + cartHalfHeight) {
        for x in Int(cartX - cartHalfWidth)..<Int(cartX + cartHalfWidth) { paint(x, y, (0, 0, 0)) }
    }
    // pole, 10 x 125, from the axle up, rotated by theta, 4x4 supersampled
    let axleY = trackY - 7.5 * scale
    let length = 125 * scale
    let halfWidth = 5 * scale
    let (sine, cosine) = (sin(theta), cos(theta))
    // the rotated rectangle's corners bound the pixels to sample
    let corners = [
        (-halfWidth, -halfWidth), (-halfWidth, length - halfWidth), (halfWidth, -halfWidth),
        (halfWidth, length - halfWidth),
    ].map { (across, along) in
        (x: cartX + across * cosine + along * sine, y: axleY + across * sine - along * cosine)
    }
    let left = max(0, Int(corners.map(\.x).min()!) - 1)
    let right = min(width - 1, Int(corners.map(\.x).max()!) + 1)
    let top = max(0, Int(corners.map(\.y).min()!) - 1)
    let bottom = min(height - 1, Int(corners.map(\.y).max()!) + 1)
    for y in top...max(top, bottom) {
        for x in left...max(left, right) {
            var inside = 0
            for sy in 0..<4 {
                for sx in 0..<4 {
                    let dx = Double(x) + (Double(sx) + 0.5) / 4 - cartX
                    let dy = axleY - (Double(y) + (Double(sy) + 0.5) / 4)
                    let along = dx * sine + dy * cosine
                    let across = dx * cosine - dy * sine
                    if along >= -halfWidth && along <= length - halfWidth && abs(across) <= halfWidth { inside += 1 }
                }
            }
            paint(x, y, (202, 152, 101), coverage: Double(inside) / 16)
        }
    }
    // axle, radius 5
    let radius = 5 * scale
    for y in Int(axleY - radius - 1)...Int(axleY + radius + 1) {
        for x in Int(cartX - radius - 1)...Int(cartX + radius + 1) {
            let distance =
                ((Double(x) + 0.5 - cartX) * (Double(x) + 0.5 - cartX)
                + (Double(y) + 0.5 - axleY) * (Double(y) + 0.5 - axleY)).squareRoot()
            paint(x, y, (129, 132, 203), coverage: radius + 0.5 - distance)
        }
    }
    return pixels
}

/// Random RGB bytes (a fixed xorshift stream per `seed`): the worst case for a converter.
func noiseFrame(width: Int, height: Int, seed: UInt64) -> [UInt8] {
    var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
    var pixels = [UInt8](repeating: 0, count: width * height * 3)
    var index = 0
    while index < pixels.count {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        var word = state
        for _ in 0..<8 where index < pixels.count {
            pixels[index] = UInt8(truncatingIfNeeded: word)
            word >>= 8
            index += 1
        }
    }
    return pixels
}

/// Mean and largest absolute difference between two planes of equal size.
func planeDifference(_ a: [UInt8], _ b: [UInt8]) -> (mean: Double, max: Int) {
    precondition(a.count == b.count)
    var sum = 0
    var largest = 0
    for index in a.indices {
        let difference = abs(Int(a[index]) - Int(b[index]))
        sum += difference
        largest = max(largest, difference)
    }
    return (a.isEmpty ? 0 : Double(sum) / Double(a.count), largest)
}

/// The video's frames decoded by ffmpeg as tightly packed yuv420p pictures, or nil (with a
/// printed note) when ffmpeg is not installed.
func decodeYUV420(_ path: String, scratch: String) throws -> [UInt8]? {
    guard let ffmpeg = executableOnPath("ffmpeg") else {
        print("note: ffmpeg is not installed; skipping the decoding of \(path)")
        return nil
    }
    let result = try run(ffmpeg, ["-v", "error", "-y", "-i", path, "-f", "rawvideo", "-pix_fmt", "yuv420p", scratch])
    guard result.status == 0, result.error.isEmpty else {
        throw TestFailure("ffmpeg could not decode \(path) cleanly: \(result.error)")
    }
    return try [UInt8](Data(contentsOf: URL(fileURLWithPath: scratch)))
}

/// ffprobe's (key_frame, pict_type, pts_time) of each frame of the video's first stream.
func probeFrames(_ path: String) throws -> [(key: Bool, type: String, time: Double)] {
    guard let ffprobePath else { throw TestFailure("ffprobe is not installed") }
    let result = try run(
        ffprobePath,
        [
            "-v", "error", "-select_streams", "v:0", "-show_entries", "frame=key_frame,pict_type,pts_time",
            "-of", "csv=p=0", path,
        ])
    guard result.status == 0 else { throw TestFailure("ffprobe failed on \(path): \(result.error)") }
    return result.output.split(separator: "\n").compactMap { line in
        let fields = line.split(separator: ",").map(String.init)
        guard fields.count >= 3 else { return nil }
        // ffprobe prints the requested fields in its own order: key_frame, pts_time, pict_type
        let key = fields.first == "1"
        let type = fields.first { $0 == "I" || $0 == "P" || $0 == "B" } ?? ""
        let time = fields.compactMap(Double.init).dropFirst().first ?? -1
        return (key, type, time)
    }
}
