import CFFmpeg

/// libx264 (through libavcodec) with its input picture and RGB converter: the part of an
/// `H264VideoWriter` that can outlive one video.
///
/// Opening x264 costs about 2 ms (its tables and buffers), as much as encoding seven or eight
/// frames, and a new converter converts its first frame whole: for short episodes filmed one
/// after the other, that is a large part of the cost. So when a video ends and the next one
/// (same frame size) follows, the encoder goes on: the next file's first frame is forced to an
/// IDR frame, which starts a stream of its own (frame numbers and picture order reset, same
/// SPS/PPS in the file's header), and its time stamps are counted from that frame.
///
/// That requires an encoder that gives each frame back at once, holding none for later:
/// ultrafast (no B-frames, no lookahead) with `tune=zerolatency` and one thread, the defaults.
/// `holdsNoFrames` tells whether that held for every frame so far; if not, the video is
/// drained and the encoder closed as before.
final class H264Encoder {
    let width: Int
    let height: Int
    let encodedWidth: Int
    let encodedHeight: Int
    let framesPerSecond: Double
    let settings: VideoEncodingSettings
    let codec: UnsafeMutablePointer<AVCodecContext>
    let packet: UnsafeMutablePointer<AVPacket>
    private let frame: UnsafeMutablePointer<AVFrame>
    private let converter: FrameConverter
    /// Time stamp of the next frame, counting on from one video to the next.
    private(set) var nextTimestamp: Int64 = 0
    /// Every frame sent so far came out as a packet before the next was sent, the last one too.
    var holdsNoFrames: Bool { !heldFramesBack && packetsOwed == 0 }
    private var heldFramesBack = false
    /// x264's self-description, from the encoder's first packet.
    private(set) var identification: String?
    private var packetsOwed = 0
    private var scannedFirstPacket = false

    init(width: Int, height: Int, framesPerSecond: Double, settings: VideoEncodingSettings)
        throws(VideoEncodingError)
    {
        self.width = width
        self.height = height
        self.encodedWidth = (width + 1) & ~1
        self.encodedHeight = (height + 1) & ~1
        self.framesPerSecond = framesPerSecond.isFinite && framesPerSecond > 0 ? framesPerSecond : 30
        self.settings = settings
        guard let encoder = avcodec_find_encoder_by_name(settings.encoder) else {
            throw .encoderNotFound(settings.encoder)
        }
        guard let codec = avcodec_alloc_context3(encoder) else {
            throw .library(call: "avcodec_alloc_context3", code: -1, reason: "out of memory")
        }
        guard let packet = av_packet_alloc() else {
            var context: UnsafeMutablePointer<AVCodecContext>? = codec
            avcodec_free_context(&context)
            throw .library(call: "av_packet_alloc", code: -1, reason: "out of memory")
        }
        guard let frame = av_frame_alloc() else {
            var context: UnsafeMutablePointer<AVCodecContext>? = codec
            avcodec_free_context(&context)
            var unused: UnsafeMutablePointer<AVPacket>? = packet
            av_packet_free(&unused)
            throw .library(call: "av_frame_alloc", code: -1, reason: "out of memory")
        }
        self.codec = codec
        self.packet = packet
        self.frame = frame
        do {
            converter = try FrameConverter(width: width, height: height, conversion: settings.colorConversion)
        } catch {
            Self.free(codec: codec, packet: packet, frame: frame)
            throw error
        }
        try open(encoder)  // on failure, deinit frees what was allocated
    }

    deinit {
        Self.free(codec: codec, packet: packet, frame: frame)
    }

    private static func free(
        codec: UnsafeMutablePointer<AVCodecContext>, packet: UnsafeMutablePointer<AVPacket>,
        frame: UnsafeMutablePointer<AVFrame>
    ) {
        var context: UnsafeMutablePointer<AVCodecContext>? = codec
        avcodec_free_context(&context)
        var packetPointer: UnsafeMutablePointer<AVPacket>? = packet
        av_packet_free(&packetPointer)
        var framePointer: UnsafeMutablePointer<AVFrame>? = frame
        av_frame_free(&framePointer)
    }

    private func open(_ encoder: UnsafePointer<AVCodec>) throws(VideoEncodingError) {
        let rate = av_d2q(framesPerSecond, 100_000)
        codec.pointee.width = Int32(encodedWidth)
        codec.pointee.height = Int32(encodedHeight)
        codec.pointee.pix_fmt = AV_PIX_FMT_YUV420P
        codec.pointee.time_base = AVRational(num: rate.den, den: rate.num)
        codec.pointee.framerate = rate
        codec.pointee.thread_count = Int32(max(0, settings.threads))
        codec.pointee.color_range = AVCOL_RANGE_MPEG
        codec.pointee.colorspace = AVCOL_SPC_BT709
        codec.pointee.color_primaries = AVCOL_PRI_BT709
        codec.pointee.color_trc = AVCOL_TRC_BT709
        // MP4 keeps SPS/PPS in its header (avcC), not in the stream.
        codec.pointee.flags |= cffmpeg_codec_flag_global_header()
        var options: OpaquePointer?
        defer { av_dict_free(&options) }
        av_dict_set(&options, "preset", settings.preset, 0)
        if let crf = settings.constantRateFactor {
            av_dict_set(&options, "crf", String(crf), 0)
        } else if let quantizer = settings.quantizer {
            av_dict_set(&options, "qp", String(quantizer), 0)
        }
        if let tune = settings.tune {
            av_dict_set(&options, "tune", tune, 0)
        }
        // A frame marked as a key frame becomes an IDR frame (each video starts with one).
        av_dict_set(&options, "forced-idr", "1", 0)
        if let parameters = settings.x264Parameters {
            av_dict_set(&options, "x264-params", parameters, 0)
        }
        try H264VideoWriter.check(avcodec_open2(codec, encoder, &options), "avcodec_open2 (\(settings.encoder))")

        frame.pointee.format = AV_PIX_FMT_YUV420P.rawValue
        frame.pointee.width = Int32(encodedWidth)
        frame.pointee.height = Int32(encodedHeight)
        try H264VideoWriter.check(av_frame_get_buffer(frame, 0), "av_frame_get_buffer")
    }

    /// Converts a frame (`height` rows of `width * 3` bytes) into the encoder's picture.
    func stage(rgb: UnsafePointer<UInt8>) throws(VideoEncodingError) {
        // The picture still holds the previous frame's conversion, which incremental conversion
        // builds on: x264 copies what it is given, and should anything else hold a reference to
        // the buffer, av_frame_make_writable copies the picture into a new one.
        try H264VideoWriter.check(av_frame_make_writable(frame), "av_frame_make_writable")
        try converter.convert(rgb: rgb, into: frame)
    }

    /// Sends the staged picture; `keyFrame` makes it an IDR frame. Receive its packet next.
    func sendStaged(keyFrame: Bool) throws(VideoEncodingError) {
        if packetsOwed > 0 { heldFramesBack = true }  // the previous frame is still inside
        frame.pointee.pts = nextTimestamp
        frame.pointee.pict_type = keyFrame ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE
        try H264VideoWriter.check(avcodec_send_frame(codec, frame), "avcodec_send_frame")
        nextTimestamp += 1
        packetsOwed += 1
    }

    /// Sends the end of the stream: the encoder gives back what it holds, then nothing more.
    func drain() throws(VideoEncodingError) {
        heldFramesBack = true
        try H264VideoWriter.check(avcodec_send_frame(codec, nil), "avcodec_send_frame")
    }

    /// Notes a packet received from the encoder.
    func received(_ packet: UnsafeMutablePointer<AVPacket>) {
        packetsOwed = max(0, packetsOwed - 1)
        if !scannedFirstPacket, let data = packet.pointee.data {
            scannedFirstPacket = true
            identification = H264VideoWriter.x264Identification(
                in: UnsafeBufferPointer(start: data, count: Int(packet.pointee.size)))
        }
    }
}
