import CFFmpeg
import Foundation

/// Why a video could not be encoded. `message` is meant for logs and for the client.
public enum VideoEncodingError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The libavcodec in this process has no encoder of that name (e.g. built without libx264).
    case encoderNotFound(String)
    case invalidFrameSize(width: Int, height: Int)
    /// A frame whose size or byte count differs from the video's.
    case invalidFrame(String)
    /// A libav* call failed.
    case library(call: String, code: Int32, reason: String)
    /// `append` or `finish` after `finish` or `abandon`.
    case finished

    public var message: String {
        switch self {
        case .encoderNotFound(let name):
            return "libavcodec has no '\(name)' encoder (install a libavcodec built with libx264, "
                + "e.g. Debian/Ubuntu's libavcodec59 or later)"
        case .invalidFrameSize(let width, let height):
            return
                "frames of \(width)x\(height) pixels cannot be encoded (1 to \(H264VideoWriter.maximumSide) pixels a side)"
        case .invalidFrame(let reason):
            return reason
        case .library(let call, let code, let reason):
            return "\(call) failed (\(code)): \(reason)"
        case .finished:
            return "the video is already finished"
        }
    }

    public var description: String { message }
}

/// How videos are encoded. The defaults are old gym's choices (libx264, yuv420p) with the
/// fastest preset, one encoder thread per video so that many monitors share the cores fairly,
/// a constant quantizer and gym-server's own incremental RGB -> YUV conversion (together
/// about a third of the time per frame of libswscale with CRF 23, for the same pictures), and
/// `tune=zerolatency`: the same stream at the same speed, but x264 then gives each frame back
/// at once instead of one frame late, which lets a monitor go on with the same encoder from one
/// episode's video to the next (see `H264Encoder`).
///
/// Measured and left out: a longer `keyint` saves nothing measurable; `threads: 0` spends more
/// CPU per frame.
public struct VideoEncodingSettings: Sendable, Hashable {
    /// libavcodec encoder name.
    public var encoder: String
    /// x264 preset.
    public var preset: String
    /// x264 constant rate factor; when set, it decides the quality (and `quantizer` is unused).
    public var constantRateFactor: Int?
    /// x264 constant quantizer (`qp`), used when `constantRateFactor` is nil; nil for neither
    /// (x264's default, CRF 23). Constant quantizer skips the half-resolution analysis that
    /// rate control needs: about 20% less encoding time with ultrafast. At 18, episode videos
    /// of the classic-control scenes come out as CRF 23 makes them (PSNR 59-63 dB against the
    /// YUV input, where CRF 23 gives 58-65 dB), at about the same size.
    public var quantizer: Int?
    /// Encoder threads (x264's `threads`); 0 lets x264 decide.
    public var threads: Int
    /// How RGB frames become YUV pictures.
    public var colorConversion: ColorConversion
    /// x264 tune; nil for none.
    public var tune: String?
    /// Further x264 options, "key=value:key=value" (x264's `x264-params`); nil for none.
    public var x264Parameters: String?

    public init(
        encoder: String = "libx264", preset: String = "ultrafast", constantRateFactor: Int? = nil,
        quantizer: Int? = 18, threads: Int = 1, colorConversion: ColorConversion = .incremental,
        tune: String? = "zerolatency", x264Parameters: String? = nil
    ) {
        self.encoder = encoder
        self.preset = preset
        self.constantRateFactor = constantRateFactor
        self.quantizer = quantizer
        self.threads = threads
        self.colorConversion = colorConversion
        self.tune = tune
        self.x264Parameters = x264Parameters
    }
}

/// Writes RGB24 frames to an H.264 (yuv420p) MP4 file with libavcodec/libavformat, in-process.
///
/// Frames of odd width or height are padded to even sizes (yuv420p needs them) by repeating the
/// last column/row. Not thread-safe: one thread at a time uses a writer. The file is complete
/// only after `finish()`; write under a temporary name and rename it afterwards.
///
/// A monitor filming episode after episode hands the encoder of a finished video to the next
/// (`finishKeepingEncoder()`, `init(path:continuing:)`): see `H264Encoder`.
public final class H264VideoWriter {
    public static let maximumSide = 8192

    /// Size of the frames given to `append`.
    public let width: Int
    public let height: Int
    /// Size of the encoded picture (rounded up to even).
    public let encodedWidth: Int
    public let encodedHeight: Int
    public let framesPerSecond: Double
    public let settings: VideoEncodingSettings
    public let path: String
    public private(set) var frameCount = 0
    /// x264's self-description found in the stream, e.g. "x264 - core 164 r3095 baee400".
    public var encoderIdentification: String? { identification ?? encoder?.identification }

    private var encoder: H264Encoder?
    private var identification: String?
    private var format: UnsafeMutablePointer<AVFormatContext>?
    private var stream: UnsafeMutablePointer<AVStream>?
    /// The encoder's time stamp of this video's first frame (the encoder counts on across videos).
    private let firstTimestamp: Int64
    private var fileOpen = false
    private var done = false
    private var staged = false

    /// Opens the encoder and the output file, and writes the MP4 header.
    public convenience init(
        path: String, width: Int, height: Int, framesPerSecond: Double,
        settings: VideoEncodingSettings = VideoEncodingSettings()
    ) throws(VideoEncodingError) {
        guard (1...Self.maximumSide).contains(width), (1...Self.maximumSide).contains(height) else {
            throw .invalidFrameSize(width: width, height: height)
        }
        Self.quietLibraryLogs()
        let encoder = try H264Encoder(
            width: width, height: height, framesPerSecond: framesPerSecond, settings: settings)
        try self.init(path: path, continuing: encoder)
    }

    /// Opens the output file for a new video encoded by `encoder`, which a finished writer gave
    /// back (`finishKeepingEncoder()`); the video starts with an IDR frame.
    init(path: String, continuing encoder: H264Encoder) throws(VideoEncodingError) {
        self.path = path
        self.width = encoder.width
        self.height = encoder.height
        self.encodedWidth = encoder.encodedWidth
        self.encodedHeight = encoder.encodedHeight
        self.framesPerSecond = encoder.framesPerSecond
        self.settings = encoder.settings
        self.encoder = encoder
        self.firstTimestamp = encoder.nextTimestamp
        do {
            try openFile()
        } catch {
            release(deleteFile: true)
            throw error
        }
    }

    deinit {
        release(deleteFile: !done)
    }

    /// Encodes one frame: `rgb` holds `height` rows of `width * 3` bytes.
    public func append(rgb: UnsafeRawBufferPointer) throws(VideoEncodingError) {
        try stage(rgb: rgb)
        try encodeStaged()
    }

    /// Converts a frame to YUV into the writer's own picture (after this, `rgb` may be reused).
    public func stage(rgb: UnsafeRawBufferPointer) throws(VideoEncodingError) {
        guard !done, let encoder else { throw .finished }
        guard rgb.count == width * height * 3, let base = rgb.baseAddress else {
            throw .invalidFrame(
                "a \(width)x\(height) RGB frame has \(width * height * 3) bytes, this one has \(rgb.count)")
        }
        try encoder.stage(rgb: base.assumingMemoryBound(to: UInt8.self))
        staged = true
    }

    /// Encodes the frame converted by `stage(rgb:)` and writes any packets that are ready.
    public func encodeStaged() throws(VideoEncodingError) {
        guard !done, let encoder, staged else { throw .finished }
        staged = false
        // Each video starts with an IDR frame, also when the encoder goes on from another one.
        try encoder.sendStaged(keyFrame: frameCount == 0)
        frameCount += 1
        try writeReadyPackets()
    }

    /// Drains the encoder, writes the MP4 trailer (moving the index to the front) and closes the file.
    public func finish() throws(VideoEncodingError) {
        guard !done, let encoder else { throw .finished }
        defer {
            done = true
            release(deleteFile: false)
        }
        try encoder.drain()
        try writeReadyPackets()
        try closeFile()
    }

    /// `finish()`, except that an encoder holding no frames back is not drained but returned,
    /// to go on with the next video of the same size (`init(path:continuing:)`); nil if it had
    /// to be drained (settings with B-frames or a lookahead).
    func finishKeepingEncoder() throws(VideoEncodingError) -> H264Encoder? {
        guard !done, let encoder else { throw .finished }
        guard encoder.holdsNoFrames else {
            try finish()
            return nil
        }
        defer {
            done = true
            release(deleteFile: false)
        }
        try writeReadyPackets()
        try closeFile()
        identification = encoder.identification
        self.encoder = nil
        return encoder
    }

    /// Stops without finishing and deletes the partial file.
    public func abandon() {
        done = true
        release(deleteFile: true)
    }

    // MARK: libav* plumbing

    private func openFile() throws(VideoEncodingError) {
        guard let encoder else { throw .finished }
        var context: UnsafeMutablePointer<AVFormatContext>?
        try check(avformat_alloc_output_context2(&context, nil, "mp4", path), "avformat_alloc_output_context2")
        guard let context else {
            throw .library(call: "avformat_alloc_output_context2", code: -1, reason: "no context")
        }
        format = context
        guard let newStream = avformat_new_stream(context, nil) else {
            throw .library(call: "avformat_new_stream", code: -1, reason: "out of memory")
        }
        stream = newStream
        try check(
            avcodec_parameters_from_context(newStream.pointee.codecpar, encoder.codec),
            "avcodec_parameters_from_context")
        newStream.pointee.time_base = encoder.codec.pointee.time_base
        newStream.pointee.avg_frame_rate = encoder.codec.pointee.framerate

        try check(avio_open(&context.pointee.pb, path, AVIO_FLAG_WRITE), "avio_open")
        fileOpen = true
        var muxerOptions: OpaquePointer?
        defer { av_dict_free(&muxerOptions) }
        av_dict_set(&muxerOptions, "movflags", "+faststart", 0)
        try check(avformat_write_header(context, &muxerOptions), "avformat_write_header")
    }

    private func closeFile() throws(VideoEncodingError) {
        guard let format else { throw .finished }
        try check(av_write_trailer(format), "av_write_trailer")
        if fileOpen {
            try check(avio_closep(&format.pointee.pb), "avio_closep")
            fileOpen = false
        }
    }

    private func writeReadyPackets() throws(VideoEncodingError) {
        guard let encoder, let format, let stream else { throw .finished }
        let codec = encoder.codec
        let packet = encoder.packet
        while true {
            let result = avcodec_receive_packet(codec, packet)
            if result == cffmpeg_averror_eagain() || result == cffmpeg_averror_eof() { return }
            try check(result, "avcodec_receive_packet")
            encoder.received(packet)
            packet.pointee.pts -= firstTimestamp
            packet.pointee.dts -= firstTimestamp
            av_packet_rescale_ts(packet, codec.pointee.time_base, stream.pointee.time_base)
            packet.pointee.stream_index = stream.pointee.index
            let written = av_interleaved_write_frame(format, packet)
            av_packet_unref(packet)
            try check(written, "av_interleaved_write_frame")
        }
    }

    private func release(deleteFile: Bool) {
        if identification == nil { identification = encoder?.identification }
        encoder = nil
        if let format {
            if fileOpen { avio_closep(&format.pointee.pb) }
            avformat_free_context(format)
        }
        fileOpen = false
        format = nil
        stream = nil
        if deleteFile { unlink(path) }
    }

    private func check(_ code: Int32, _ call: String) throws(VideoEncodingError) {
        try Self.check(code, call)
    }

    static func check(_ code: Int32, _ call: String) throws(VideoEncodingError) {
        guard code < 0 else { return }
        throw .library(call: call, code: code, reason: errorText(code))
    }

    // MARK: library facts

    static func errorText(_ code: Int32) -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        return buffer.withUnsafeMutableBufferPointer { pointer in
            guard let base = pointer.baseAddress else { return "error \(code)" }
            if av_strerror(code, base, pointer.count) < 0 { return "error \(code)" }
            return String(cString: base)
        }
    }

    /// "x264 - core 164 r3095 baee400" from x264's SEI message in the first packet.
    static func x264Identification(in bytes: UnsafeBufferPointer<UInt8>) -> String? {
        let marker = Array("x264 - core ".utf8)
        guard bytes.count >= marker.count else { return nil }
        var index = 0
        while index + marker.count <= bytes.count {
            if bytes[index] == marker[0], zip(marker.indices, marker).allSatisfy({ bytes[index + $0] == $1 }) {
                var end = index
                while end < bytes.count, bytes[end] >= 0x20, bytes[end] < 0x7F, end - index < 200 { end += 1 }
                let text = String(decoding: bytes[index..<end], as: UTF8.self)
                let parts = text.components(separatedBy: " - ")
                return parts.count >= 2 ? parts[0] + " - " + parts[1] : text
            }
            index += 1
        }
        return nil
    }

    private static let logLevelSet: Bool = {
        av_log_set_level(AV_LOG_ERROR)
        return true
    }()

    static func quietLibraryLogs() { _ = logLevelSet }

    /// nil if `settings.encoder` is available in this process, else why not.
    public static func unavailabilityReason(for settings: VideoEncodingSettings = VideoEncodingSettings()) -> String? {
        avcodec_find_encoder_by_name(settings.encoder) == nil
            ? VideoEncodingError.encoderNotFound(settings.encoder).message : nil
    }

    /// "FFmpeg 5.1.x; libavcodec 59.37.100; ..." as loaded at run time.
    public static var libraryVersions: String {
        func version(_ packed: UInt32) -> String { "\(packed >> 16).\((packed >> 8) & 0xFF).\(packed & 0xFF)" }
        let ffmpeg = av_version_info().map { String(cString: $0) } ?? "unknown"
        return
            "FFmpeg \(ffmpeg); libavcodec \(version(avcodec_version())); libavformat \(version(avformat_version())); "
            + "libswscale \(version(swscale_version())); libavutil \(version(avutil_version()))"
    }
}
