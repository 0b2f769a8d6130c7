import Foundation
import GymMonitor
import Testing

@Suite("RGB24 to YUV420P conversion")
struct ColorConversionTests {
    static func convert(_ rgb: [UInt8], width: Int, height: Int, _ conversion: ColorConversion) throws
        -> YUV420Picture
    {
        let converter = try YUV420FrameConverter(width: width, height: height, conversion: conversion)
        try rgb.withUnsafeBytes { try converter.convert(rgb: $0) }
        return converter.picture
    }

    @Test("solid colours come out as BT.709 limited range: black 16, white 235, greys without chroma")
    func solidColours() throws {
        // (R, G, B) -> (Y, U, V), as libswscale gives them with the writer's settings.
        let expected: [((UInt8, UInt8, UInt8), (UInt8, UInt8, UInt8))] = [
            ((0, 0, 0), (16, 128, 128)), ((255, 255, 255), (235, 128, 128)), ((128, 128, 128), (126, 128, 128)),
            ((255, 0, 0), (63, 102, 240)), ((0, 255, 0), (173, 42, 26)), ((0, 0, 255), (32, 240, 118)),
            ((202, 152, 101), (153, 101, 152)), ((129, 132, 203), (133, 159, 124)),
        ]
        for ((r, g, b), (y, u, v)) in expected {
            let rgb = [UInt8]((0..<(6 * 4)).flatMap { _ in [r, g, b] })
            for conversion in ColorConversion.allCases {
                let picture = try Self.convert(rgb, width: 6, height: 4, conversion)
                #expect(picture.y.allSatisfy { $0 == y }, "\((r, g, b)) \(conversion): Y \(picture.y[0]), not \(y)")
                #expect(picture.u.allSatisfy { $0 == u }, "\((r, g, b)) \(conversion): U \(picture.u[0]), not \(u)")
                #expect(picture.v.allSatisfy { $0 == v }, "\((r, g, b)) \(conversion): V \(picture.v[0]), not \(v)")
            }
        }
    }

    /// The conversion computed in floating point from its definition: BT.709 limited range;
    /// odd sizes padded by repeating the last column and row; chroma from the average of each
    /// horizontal pair, weighted 1 3 3 1 over rows 2j-1 ... 2j+2 (edge rows repeated).
    static func definition(_ rgb: [UInt8], width: Int, height: Int) -> YUV420Picture {
        let (kr, kb) = (0.2126, 0.0722)
        let kg = 1 - kr - kb
        let encodedWidth = (width + 1) / 2 * 2
        let encodedHeight = (height + 1) / 2 * 2
        func pixel(_ x: Int, _ y: Int) -> (Double, Double, Double) {
            let offset = (min(max(y, 0), height - 1) * width + min(x, width - 1)) * 3
            return (Double(rgb[offset]), Double(rgb[offset + 1]), Double(rgb[offset + 2]))
        }
        func round(_ value: Double) -> UInt8 { UInt8(min(255, max(0, value.rounded()))) }
        var y = [UInt8]()
        for row in 0..<encodedHeight {
            for column in 0..<encodedWidth {
                let (r, g, b) = pixel(column, row)
                y.append(round(16 + 219 / 255 * (kr * r + kg * g + kb * b)))
            }
        }
        var u = [UInt8]()
        var v = [UInt8]()
        for row in 0..<(encodedHeight / 2) {
            for column in 0..<(encodedWidth / 2) {
                var (r, g, b) = (0.0, 0.0, 0.0)
                for (dy, weight) in [(-1, 1.0), (0, 3.0), (1, 3.0), (2, 1.0)] {
                    // rows beyond the encoded picture repeat its edge rows
                    let sourceRow = min(max(2 * row + dy, 0), encodedHeight - 1)
                    for dx in 0..<2 {
                        let p = pixel(2 * column + dx, sourceRow)
                        r += weight * p.0 / 16
                        g += weight * p.1 / 16
                        b += weight * p.2 / 16
                    }
                }
                let luma = kr * r + kg * g + kb * b
                u.append(round(128 + 224 / 255 * (b - luma) / (2 * (1 - kb))))
                v.append(round(128 + 224 / 255 * (r - luma) / (2 * (1 - kr))))
            }
        }
        return YUV420Picture(width: encodedWidth, height: encodedHeight, y: y, u: u, v: v)
    }

    @Test(
        "our converter follows the definition to a level, at any size",
        arguments: [(1, 1), (2, 2), (3, 5), (17, 2), (6, 4), (151, 101), (64, 48)])
    func matchesDefinition(width: Int, height: Int) throws {
        for rgb in [
            noiseFrame(width: width, height: height, seed: UInt64(width * 7 + height)),
            cartPoleLikeFrame(width: width, height: height, index: 5),
        ] {
            let expected = Self.definition(rgb, width: width, height: height)
            for conversion in [ColorConversion.full, .incremental] {
                let picture = try Self.convert(rgb, width: width, height: height, conversion)
                #expect(picture.width == expected.width && picture.height == expected.height)
                for (name, ours, theirs) in [
                    ("Y", picture.y, expected.y), ("U", picture.u, expected.u), ("V", picture.v, expected.v),
                ] {
                    let difference = planeDifference(ours, theirs)
                    #expect(difference.max <= 1, "\(width)x\(height) \(conversion) \(name): max \(difference.max)")
                }
            }
        }
    }

    /// (libswscale filters chroma differently in pictures less than 8 rows high.)
    @Test(
        "our converter is within a level of libswscale's on scenes, gradients and noise, odd sizes included",
        arguments: [
            ("scene", 600, 400), ("gradient", 600, 400), ("noise", 600, 400), ("scene", 151, 101),
            ("noise", 151, 101), ("noise", 17, 9), ("noise", 8, 8),
        ])
    func matchesSwscale(kind: String, width: Int, height: Int) throws {
        let rgb: [UInt8]
        switch kind {
        case "scene": rgb = cartPoleLikeFrame(width: width, height: height, index: 17)
        case "gradient": rgb = movingSquareFrame(width: width, height: height, index: 3)
        default: rgb = noiseFrame(width: width, height: height, seed: UInt64(width * 1000 + height))
        }
        let reference = try Self.convert(rgb, width: width, height: height, .swscale)
        for conversion in [ColorConversion.full, .incremental] {
            let picture = try Self.convert(rgb, width: width, height: height, conversion)
            #expect(picture.width == (width + 1) / 2 * 2 && picture.height == (height + 1) / 2 * 2)
            for (name, ours, theirs) in [
                ("Y", picture.y, reference.y), ("U", picture.u, reference.u), ("V", picture.v, reference.v),
            ] {
                let difference = planeDifference(ours, theirs)
                #expect(
                    difference.mean <= 0.25 && difference.max <= 2,
                    "\(kind) \(width)x\(height) \(conversion) \(name): mean \(difference.mean), max \(difference.max)")
            }
        }
    }

    @Test(
        "incremental conversion gives exactly the pictures of converting every pixel, whatever changes",
        arguments: [(600, 400), (151, 101), (9, 7), (1, 1)])
    func incrementalIsExact(width: Int, height: Int) throws {
        var frames = (0..<6).map { cartPoleLikeFrame(width: width, height: height, index: $0 * 9) }
        frames.append(frames[frames.count - 1])  // nothing changes
        frames.append(noiseFrame(width: width, height: height, seed: 1))  // everything changes
        frames.append(cartPoleLikeFrame(width: width, height: height, index: 3))
        // one pixel at a time: corners, the last column and row (padded when odd), the middle
        for (x, y) in [(0, 0), (width - 1, 0), (0, height - 1), (width - 1, height - 1), (width / 2, height / 2)] {
            var frame = frames[frames.count - 1]
            frame[(y * width + x) * 3 + (x + y) % 3] ^= 0x5A
            frames.append(frame)
        }
        frames.append(movingSquareFrame(width: width, height: height, index: 1))
        frames.append(movingSquareFrame(width: width, height: height, index: 2))

        let full = try YUV420FrameConverter(width: width, height: height, conversion: .full)
        let incremental = try YUV420FrameConverter(width: width, height: height, conversion: .incremental)
        for (index, frame) in frames.enumerated() {
            try frame.withUnsafeBytes {
                try full.convert(rgb: $0)
                try incremental.convert(rgb: $0)
            }
            #expect(full.picture == incremental.picture, "frame \(index) of \(width)x\(height)")
        }
        // An unchanged frame converts nothing; a one-pixel change, a pair of pixels at most.
        try frames[frames.count - 1].withUnsafeBytes { try incremental.convert(rgb: $0) }
        #expect(incremental.lastConvertedPixels == 0)
        #expect(full.lastConvertedPixels == width * height)
    }

    @Test("a filmed episode decodes to its frames: colour metadata, both hand-over paths, no stale pixels")
    func decodedVideoMatchesFrames() throws {
        guard let ffmpeg = executableOnPath("ffmpeg"), let ffprobe = ffprobePath else {
            print("note: ffmpeg/ffprobe not installed; skipping the decoding check")
            return
        }
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let (width, height) = (600, 400)
        let recorder = try EpisodeRecorder.start(
            directory: directory.url, videoSchedule: try VideoSchedule(every: 1), envID: "CartPole-v1", renderFPS: 50,
            registry: MonitorRegistry(), uid: "3")
        // The pole sweeps; every third frame jumps to a moving square on a gradient and back,
        // so that whole rows change, then stay, then change back.
        let frames = (0..<24).map { index in
            index % 3 == 2
                ? movingSquareFrame(width: width, height: height, index: index)
                : cartPoleLikeFrame(width: width, height: height, index: index * 7)
        }
        try recorder.checkReset()
        recorder.recordReset(frame: frames[0], width: width, height: height)
        for (index, frame) in frames.enumerated().dropFirst() {
            try recorder.checkStep()
            let done = index == frames.count - 1
            if index % 2 == 0 {
                recorder.recordStep(reward: 1, done: done, frame: frame, width: width, height: height)  // kept
            } else {
                frame.withUnsafeBytes {  // copied
                    recorder.recordStep(reward: 1, done: done, frame: $0, width: width, height: height)
                }
            }
        }
        try recorder.closeAndWait()
        #expect(recorder.problems.isEmpty, "\(recorder.problems)")
        let video = directory.path(recorder.fileNames.video(episodeID: 0))

        let probed = try run(
            ffprobe,
            [
                "-v", "error", "-select_streams", "v:0", "-show_entries",
                "stream=codec_name,profile,pix_fmt,color_range,color_space,color_transfer,color_primaries",
                "-of", "default=noprint_wrappers=1", video,
            ])
        let fields = Dictionary(
            probed.output.split(separator: "\n").compactMap { line -> (String, String)? in
                let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
                return parts.count == 2 ? (parts[0], parts[1]) : nil
            }, uniquingKeysWith: { first, _ in first })
        #expect(fields["codec_name"] == "h264")
        #expect(fields["pix_fmt"] == "yuv420p")
        #expect(fields["color_range"] == "tv")
        #expect(fields["color_space"] == "bt709")
        #expect(fields["color_transfer"] == "bt709")
        #expect(fields["color_primaries"] == "bt709")
        #expect(["Constrained Baseline", "Baseline", "Main", "High"].contains(fields["profile"] ?? ""), "\(fields)")

        let raw = directory.path("decoded.yuv")
        let decoded = try run(ffmpeg, ["-v", "error", "-i", video, "-f", "rawvideo", "-pix_fmt", "yuv420p", raw])
        #expect(decoded.status == 0, "\(decoded.error)")
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: raw)))
        let frameBytes = width * height * 3 / 2
        #expect(bytes.count == frameBytes * frames.count)
        guard bytes.count == frameBytes * frames.count else { return }
        let reference = try YUV420FrameConverter(width: width, height: height, conversion: .full)
        for (index, frame) in frames.enumerated() {
            try frame.withUnsafeBytes { try reference.convert(rgb: $0) }
            let expected = reference.picture
            let start = index * frameBytes
            let luma = Array(bytes[start..<(start + width * height)])
            let difference = planeDifference(luma, expected.y)
            // Lossy, but close: a stale or misplaced region would be off by far more, and over
            // thousands of pixels.
            let badPixels = zip(luma, expected.y).filter { abs(Int($0) - Int($1)) > 32 }.count
            #expect(
                difference.mean < 1.0 && badPixels < 50, "frame \(index): mean \(difference.mean), \(badPixels) bad")
            let chroma = Array(bytes[(start + width * height)..<(start + frameBytes)])
            let chromaDifference = planeDifference(chroma, expected.u + expected.v)
            #expect(chromaDifference.mean < 1.0, "frame \(index): chroma mean \(chromaDifference.mean)")
        }
    }
}
