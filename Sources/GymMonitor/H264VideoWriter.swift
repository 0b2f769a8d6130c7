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
/// fastest preset, one encoder thread per video so that many monitors share the cores fairly.
public struct VideoEncodingSettings: Sendable, Hashable {
    /// libavcodec encoder name.
    public var encoder: String
    /// x264 preset.
    public var preset: String
    /// x264 constant rate factor; `nil` keeps x264's default (23).
    public var constantRateFactor: Int?
    /// Encoder threads (x264's `threads`); 0 lets x264 decide.
    public var threads: Int

    public init(
        encoder: String = "libx264", preset: String = "ultrafast", constantRateFactor: Int? = nil, threads: Int = 1
    ) {
        self.encoder = encoder
        self.preset = preset
        self.constantRateFactor = constantRateFactor
        self.threads = threads
    }
}

/// Writes RGB24 frames to an H.264 (yuv420p) MP4 file with libavcodec/libavformat, in-process.
///
/// Frames of odd width or height are padded to even sizes (yuv420p needs them) by repeating the
/// last column/row. Not thread-safe: one thread at a time uses a writer. The file is complete
/// only after `finish()`; write under a temporary name and rename it afterwards.
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
    public private(set) var encoderIdentification: String?

    private var format: UnsafeMutablePointer<AVFormatContext>?
    private var codec: UnsafeMutablePointer<AVCodecContext>?
    private var stream: UnsafeMutablePointer<AVStream>?
    private var frame: UnsafeMutablePointer<AVFrame>?
    private var packet: UnsafeMutablePointer<AVPacket>?
    private var scaler: OpaquePointer?
    private var padded: [UInt8] = []
    private var fileOpen = false
    private var done = false
    private var staged = false
    private var scannedFirstPacket = false

    /// Opens the encoder and the output file, and writes the MP4 header.
    public init(
        path: String, width: Int, height: Int, framesPerSecond: Double,
        settings: VideoEncodingSettings = VideoEncodingSettings()
    ) throws(VideoEncodingError) {
        guard (1...Self.maximumSide).contains(width), (1...Self.maximumSide).contains(height) else {
            throw .invalidFrameSize(width: width, height: height)
        }
        Self.quietLibraryLogs()
        self.path = path
        self.width = width
        self.height = height
        self.encodedWidth = (width + 1) & ~1
        self.encodedHeight = (height + 1) & ~1
        self.framesPerSecond = framesPerSecond.isFinite && framesPerSecond > 0 ? framesPerSecond : 30
        self.settings = settings
        do {
            try open()
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
        guard !done, let frame, let scaler, let base = rgb.baseAddress else { throw .finished }
        guard rgb.count == width * height * 3 else {
            throw .invalidFrame(
                "a \(width)x\(height) RGB frame has \(width * height * 3) bytes, this one has \(rgb.count)")
        }
        try check(av_frame_make_writable(frame), "av_frame_make_writable")
        let result: Int32
        if encodedWidth == width && encodedHeight == height {
            result = cffmpeg_scale_rgb24_into_frame(
                scaler, base.assumingMemoryBound(to: UInt8.self), Int32(width * 3), Int32(height), frame)
        } else {
            padToEven(base.assumingMemoryBound(to: UInt8.self))
            result = padded.withUnsafeBufferPointer { buffer in
                cffmpeg_scale_rgb24_into_frame(
                    scaler, buffer.baseAddress, Int32(encodedWidth * 3), Int32(encodedHeight), frame)
            }
        }
        guard result == Int32(encodedHeight) else {
            throw .library(call: "sws_scale", code: result, reason: "converted \(result) of \(encodedHeight) rows")
        }
        staged = true
    }

    /// Encodes the frame converted by `stage(rgb:)` and writes any packets that are ready.
    public func encodeStaged() throws(VideoEncodingError) {
        guard !done, let frame, let codec, staged else { throw .finished }
        staged = false
        frame.pointee.pts = Int64(frameCount)
        try check(avcodec_send_frame(codec, frame), "avcodec_send_frame")
        frameCount += 1
        try writeReadyPackets()
    }

    /// Drains the encoder, writes the MP4 trailer (moving the index to the front) and closes the file.
    public func finish() throws(VideoEncodingError) {
        guard !done, let codec, let format else { throw .finished }
        defer {
            done = true
            release(deleteFile: false)
        }
        try check(avcodec_send_frame(codec, nil), "avcodec_send_frame")
        try writeReadyPackets()
        try check(av_write_trailer(format), "av_write_trailer")
        if fileOpen {
            try check(avio_closep(&format.pointee.pb), "avio_closep")
            fileOpen = false
        }
    }

    /// Stops without finishing and deletes the partial file.
    public func abandon() {
        done = true
        release(deleteFile: true)
    }

    // MARK: libav* plumbing

    private func open() throws(VideoEncodingError) {
        guard let encoder = avcodec_find_encoder_by_name(settings.encoder) else {
            throw .encoderNotFound(settings.encoder)
        }
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
        guard let codecContext = avcodec_alloc_context3(encoder) else {
            throw .library(call: "avcodec_alloc_context3", code: -1, reason: "out of memory")
        }
        codec = codecContext
        let rate = av_d2q(framesPerSecond, 100_000)
        codecContext.pointee.width = Int32(encodedWidth)
        codecContext.pointee.height = Int32(encodedHeight)
        codecContext.pointee.pix_fmt = AV_PIX_FMT_YUV420P
        codecContext.pointee.time_base = AVRational(num: rate.den, den: rate.num)
        codecContext.pointee.framerate = rate
        codecContext.pointee.thread_count = Int32(max(0, settings.threads))
        codecContext.pointee.color_range = AVCOL_RANGE_MPEG
        codecContext.pointee.colorspace = AVCOL_SPC_BT709
        codecContext.pointee.color_primaries = AVCOL_PRI_BT709
        codecContext.pointee.color_trc = AVCOL_TRC_BT709
        if (context.pointee.oformat.pointee.flags & AVFMT_GLOBALHEADER) != 0 {
            codecContext.pointee.flags |= cffmpeg_codec_flag_global_header()
        }
        var options: OpaquePointer?
        defer { av_dict_free(&options) }
        av_dict_set(&options, "preset", settings.preset, 0)
        if let crf = settings.constantRateFactor {
            av_dict_set(&options, "crf", String(crf), 0)
        }
        try check(avcodec_open2(codecContext, encoder, &options), "avcodec_open2 (\(settings.encoder))")
        try check(
            avcodec_parameters_from_context(newStream.pointee.codecpar, codecContext), "avcodec_parameters_from_context"
        )
        newStream.pointee.time_base = codecContext.pointee.time_base
        newStream.pointee.avg_frame_rate = rate

        try check(avio_open(&context.pointee.pb, path, AVIO_FLAG_WRITE), "avio_open")
        fileOpen = true
        var muxerOptions: OpaquePointer?
        defer { av_dict_free(&muxerOptions) }
        av_dict_set(&muxerOptions, "movflags", "+faststart", 0)
        try check(avformat_write_header(context, &muxerOptions), "avformat_write_header")

        guard let picture = av_frame_alloc() else {
            throw .library(call: "av_frame_alloc", code: -1, reason: "out of memory")
        }
        frame = picture
        picture.pointee.format = AV_PIX_FMT_YUV420P.rawValue
        picture.pointee.width = Int32(encodedWidth)
        picture.pointee.height = Int32(encodedHeight)
        try check(av_frame_get_buffer(picture, 0), "av_frame_get_buffer")
        guard let newPacket = av_packet_alloc() else {
            throw .library(call: "av_packet_alloc", code: -1, reason: "out of memory")
        }
        packet = newPacket
        guard
            let newScaler = sws_getContext(
                Int32(encodedWidth), Int32(encodedHeight), AV_PIX_FMT_RGB24,
                Int32(encodedWidth), Int32(encodedHeight), AV_PIX_FMT_YUV420P,
                SWS_BILINEAR, nil, nil, nil)
        else {
            throw .library(call: "sws_getContext", code: -1, reason: "unsupported conversion")
        }
        scaler = newScaler
        _ = cffmpeg_use_bt709(newScaler)
        if encodedWidth != width || encodedHeight != height {
            padded = [UInt8](repeating: 0, count: encodedWidth * encodedHeight * 3)
        }
    }

    private func writeReadyPackets() throws(VideoEncodingError) {
        guard let codec, let packet, let format, let stream else { throw .finished }
        while true {
            let result = avcodec_receive_packet(codec, packet)
            if result == cffmpeg_averror_eagain() || result == cffmpeg_averror_eof() { return }
            try check(result, "avcodec_receive_packet")
            if !scannedFirstPacket, let data = packet.pointee.data {
                scannedFirstPacket = true
                encoderIdentification = Self.x264Identification(
                    in: UnsafeBufferPointer(start: data, count: Int(packet.pointee.size)))
            }
            av_packet_rescale_ts(packet, codec.pointee.time_base, stream.pointee.time_base)
            packet.pointee.stream_index = stream.pointee.index
            let written = av_interleaved_write_frame(format, packet)
            av_packet_unref(packet)
            try check(written, "av_interleaved_write_frame")
        }
    }

    /// Copies a frame into `padded`, repeating its last column and row.
    private func padToEven(_ source: UnsafePointer<UInt8>) {
        let sourceRow = width * 3
        let targetRow = encodedWidth * 3
        padded.withUnsafeMutableBufferPointer { target in
            guard let base = target.baseAddress else { return }
            for y in 0..<encodedHeight {
                let row = base + y * targetRow
                row.update(from: source + min(y, height - 1) * sourceRow, count: sourceRow)
                if encodedWidth != width {
                    row.advanced(by: sourceRow).update(from: row.advanced(by: sourceRow - 3), count: 3)
                }
            }
        }
    }

    private func release(deleteFile: Bool) {
        if let scaler { sws_freeContext(scaler) }
        scaler = nil
        av_frame_free(&frame)
        av_packet_free(&packet)
        avcodec_free_context(&codec)
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
        guard code < 0 else { return }
        throw .library(call: call, code: code, reason: Self.errorText(code))
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

    private static func quietLibraryLogs() { _ = logLevelSet }

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
