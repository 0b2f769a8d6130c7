import CFFmpeg

/// How `H264VideoWriter` turns RGB24 frames into the encoder's YUV 4:2:0 pictures. All three
/// give BT.709, limited-range pictures (what the stream's colour metadata says) that differ by
/// at most a level or so.
public enum ColorConversion: String, Sendable, Hashable, CaseIterable {
    /// gym-server's converter, converting only the columns of the rows that changed since the
    /// previous frame of the video (the default: episode frames change little from step to step).
    case incremental
    /// gym-server's converter over every pixel of every frame.
    case full
    /// libswscale (`SWS_BILINEAR`), the reference the others are checked against; about five
    /// times slower than `full`.
    case swscale
}

/// Converts RGB24 frames of one size into an `AVFrame`'s YUV420P planes with one method.
/// Incremental conversion relies on the frame still holding the previous result.
final class FrameConverter {
    let width: Int
    let height: Int
    let encodedWidth: Int
    let encodedHeight: Int
    let conversion: ColorConversion

    private let native: YUV420Converter?
    private var scaler: OpaquePointer?
    /// swscale only, odd sizes: the frame padded to even sizes.
    private var padded: UnsafeMutableRawBufferPointer?

    init(width: Int, height: Int, conversion: ColorConversion) throws(VideoEncodingError) {
        self.width = width
        self.height = height
        self.encodedWidth = (width + 1) & ~1
        self.encodedHeight = (height + 1) & ~1
        self.conversion = conversion
        switch conversion {
        case .incremental, .full:
            native = YUV420Converter(width: width, height: height, incremental: conversion == .incremental)
        case .swscale:
            native = nil
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
                padded = .allocate(byteCount: encodedWidth * encodedHeight * 3, alignment: 64)
            }
        }
    }

    deinit {
        if let scaler { sws_freeContext(scaler) }
        padded?.deallocate()
    }

    /// Pixels converted by the last `convert` (all of them unless incremental).
    var lastConvertedPixels: Int { native?.lastChangedPixels ?? width * height }

    /// The next frame is converted whole (the planes no longer hold the previous result).
    func forgetPreviousFrame() {
        native?.forgetPreviousFrame()
    }

    /// Converts `rgb` (`height` rows of `width * 3` bytes) into `frame`, a writable YUV420P
    /// frame of the encoded size.
    func convert(rgb: UnsafePointer<UInt8>, into frame: UnsafeMutablePointer<AVFrame>) throws(VideoEncodingError) {
        guard let y = frame.pointee.data.0, let u = frame.pointee.data.1, let v = frame.pointee.data.2 else {
            throw .library(call: "av_frame_get_buffer", code: -1, reason: "the picture has no planes")
        }
        if let native {
            native.convert(
                rgb: rgb,
                into: YUV420PlanePointers(
                    y: y, yStride: Int(frame.pointee.linesize.0), u: u, uStride: Int(frame.pointee.linesize.1),
                    v: v, vStride: Int(frame.pointee.linesize.2)))
            return
        }
        guard let scaler else { throw .finished }
        let result: Int32
        if let padded, let target = padded.baseAddress?.assumingMemoryBound(to: UInt8.self) {
            padToEven(rgb, into: target)
            result = cffmpeg_scale_rgb24_into_frame(
                scaler, target, Int32(encodedWidth * 3), Int32(encodedHeight), frame)
        } else {
            result = cffmpeg_scale_rgb24_into_frame(scaler, rgb, Int32(width * 3), Int32(height), frame)
        }
        guard result == Int32(encodedHeight) else {
            throw .library(call: "sws_scale", code: result, reason: "converted \(result) of \(encodedHeight) rows")
        }
    }

    /// Copies a frame into `target`, repeating its last column and row.
    private func padToEven(_ source: UnsafePointer<UInt8>, into target: UnsafeMutablePointer<UInt8>) {
        let sourceRow = width * 3
        let targetRow = encodedWidth * 3
        for y in 0..<encodedHeight {
            let row = target + y * targetRow
            row.update(from: source + min(y, height - 1) * sourceRow, count: sourceRow)
            if encodedWidth != width {
                (row + sourceRow).update(from: row + (sourceRow - 3), count: 3)
            }
        }
    }
}

/// A YUV 4:2:0 picture with tightly packed planes: `width` x `height` luma samples, then
/// `width / 2` x `height / 2` samples of U and of V (both sizes even).
public struct YUV420Picture: Sendable, Hashable {
    public let width: Int
    public let height: Int
    public var y: [UInt8]
    public var u: [UInt8]
    public var v: [UInt8]

    public init(width: Int, height: Int, y: [UInt8], u: [UInt8], v: [UInt8]) {
        self.width = width
        self.height = height
        self.y = y
        self.u = u
        self.v = v
    }
}

/// The RGB24 -> YUV420P conversion of `H264VideoWriter` on its own, for checking one method
/// against another and for measuring it. Converts into a picture of its own (kept from frame to
/// frame, as the writer's is).
public final class YUV420FrameConverter {
    public let width: Int
    public let height: Int
    public let conversion: ColorConversion
    private let converter: FrameConverter
    private var frame: UnsafeMutablePointer<AVFrame>?

    public init(width: Int, height: Int, conversion: ColorConversion) throws(VideoEncodingError) {
        guard (1...H264VideoWriter.maximumSide).contains(width), (1...H264VideoWriter.maximumSide).contains(height)
        else {
            throw .invalidFrameSize(width: width, height: height)
        }
        self.width = width
        self.height = height
        self.conversion = conversion
        converter = try FrameConverter(width: width, height: height, conversion: conversion)
        guard let picture = av_frame_alloc() else {
            throw .library(call: "av_frame_alloc", code: -1, reason: "out of memory")
        }
        frame = picture
        picture.pointee.format = AV_PIX_FMT_YUV420P.rawValue
        picture.pointee.width = Int32(converter.encodedWidth)
        picture.pointee.height = Int32(converter.encodedHeight)
        let status = av_frame_get_buffer(picture, 0)
        guard status >= 0 else {
            throw .library(call: "av_frame_get_buffer", code: status, reason: H264VideoWriter.errorText(status))
        }
    }

    deinit {
        av_frame_free(&frame)
    }

    /// Pixels converted by the last `convert` (fewer than all when incremental).
    public var lastConvertedPixels: Int { converter.lastConvertedPixels }

    /// Converts a frame (`height` rows of `width * 3` bytes) into the converter's picture.
    public func convert(rgb: UnsafeRawBufferPointer) throws(VideoEncodingError) {
        guard rgb.count == width * height * 3 else {
            throw .invalidFrame(
                "a \(width)x\(height) RGB frame has \(width * height * 3) bytes, this one has \(rgb.count)")
        }
        guard let frame, let base = rgb.baseAddress else { throw .finished }
        try converter.convert(rgb: base.assumingMemoryBound(to: UInt8.self), into: frame)
    }

    /// The picture of the last frame converted.
    public var picture: YUV420Picture {
        guard let frame else { return YUV420Picture(width: 0, height: 0, y: [], u: [], v: []) }
        let width = converter.encodedWidth
        let height = converter.encodedHeight
        func plane(_ data: UnsafeMutablePointer<UInt8>?, _ stride: Int32, _ width: Int, _ height: Int) -> [UInt8] {
            guard let data else { return [] }
            var out = [UInt8]()
            out.reserveCapacity(width * height)
            for row in 0..<height {
                out.append(contentsOf: UnsafeBufferPointer(start: data + row * Int(stride), count: width))
            }
            return out
        }
        return YUV420Picture(
            width: width, height: height,
            y: plane(frame.pointee.data.0, frame.pointee.linesize.0, width, height),
            u: plane(frame.pointee.data.1, frame.pointee.linesize.1, width / 2, height / 2),
            v: plane(frame.pointee.data.2, frame.pointee.linesize.2, width / 2, height / 2))
    }
}
