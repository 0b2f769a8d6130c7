import Foundation

/// Three planes of a YUV 4:2:0 picture in memory the caller owns (e.g. an `AVFrame`'s).
struct YUV420PlanePointers {
    var y: UnsafeMutablePointer<UInt8>
    var yStride: Int
    var u: UnsafeMutablePointer<UInt8>
    var uStride: Int
    var v: UnsafeMutablePointer<UInt8>
    var vStride: Int
}

/// RGB24 -> YUV 4:2:0 (8 bits, BT.709 matrix, limited range: Y 16...235, U/V 16...240), the
/// conversion libswscale does for `H264VideoWriter` (`SWS_BILINEAR`, `cffmpeg_use_bt709`): luma
/// pixel by pixel; chroma from the average of each horizontal pair of pixels, filtered
/// vertically with weights 1 3 3 1 over luma rows 2j-1 ... 2j+2 (edge rows repeated), which
/// is how swscale's bilinear filter halves the height. Fixed point with 15-bit coefficients,
/// rounded to nearest: within one level of swscale's output.
///
/// Frames of odd width or height are padded to even by repeating the last column and row.
///
/// Incremental mode keeps a copy of the previous frame and converts only the columns of the
/// rows that changed since (episode frames are mostly the same flat picture from one step to
/// the next), leaving the rest of the planes as they were: the caller must give it the same
/// planes, holding the previous result, every time (or call `forgetPreviousFrame()`).
final class YUV420Converter {
    /// Size of the RGB frames.
    let width: Int
    let height: Int
    /// Size of the YUV picture (even).
    let encodedWidth: Int
    let encodedHeight: Int
    let incremental: Bool

    /// The previous frame (incremental mode), `height` rows of `width * 3` bytes.
    private let previous: UnsafeMutableRawBufferPointer?
    private var previousValid = false
    /// Per source row: the chroma pairs [first, end) that changed (first == end: none).
    private let dirtyPairs: UnsafeMutablePointer<(first: Int32, end: Int32)>

    /// Pixels of the last frame that were converted (all of them for a whole frame).
    private(set) var lastChangedPixels = 0

    init(width: Int, height: Int, incremental: Bool) {
        precondition(width > 0 && height > 0)
        self.width = width
        self.height = height
        self.encodedWidth = (width + 1) & ~1
        self.encodedHeight = (height + 1) & ~1
        self.incremental = incremental
        previous = incremental ? .allocate(byteCount: width * height * 3, alignment: 64) : nil
        dirtyPairs = .allocate(capacity: height)
    }

    deinit {
        previous?.deallocate()
        dirtyPairs.deallocate()
    }

    /// The next frame converts every pixel (the planes no longer hold the previous result).
    func forgetPreviousFrame() {
        previousValid = false
    }

    // MARK: coefficients

    // Kr = 0.2126, Kb = 0.0722 (BT.709); limited range scales luma by 219/255 and chroma by
    // 224/255. Coefficients are those factors times 2^15, rounded; the chroma rows sum to zero
    // so that greys have U = V = 128 exactly.
    static let kr = 0.2126
    static let kb = 0.0722
    static let scale = Double(1 << 15)
    static let coefficients:
        (ry: Int32, gy: Int32, by: Int32, ru: Int32, gu: Int32, bu: Int32, rv: Int32, gv: Int32, bv: Int32) = {
            let kg = 1 - kr - kb
            let ys = 219.0 / 255 * scale
            let cs = 224.0 / 255 * scale
            func q(_ value: Double) -> Int32 { Int32(value.rounded()) }
            let ru = q(-kr / (2 * (1 - kb)) * cs)
            let bu = q(0.5 * cs)
            let rv = q(0.5 * cs)
            let bv = q(-kb / (2 * (1 - kr)) * cs)
            return (q(kr * ys), q(kg * ys), q(kb * ys), ru, -(ru + bu), bu, rv, -(rv + bv), bv)
        }()

    // MARK: converting

    /// Converts `rgb` (`height` rows of `width * 3` bytes) into `planes`.
    func convert(rgb: UnsafePointer<UInt8>, into planes: YUV420PlanePointers) {
        let pairs = encodedWidth / 2
        let rowBytes = width * 3
        var changedRows = 0
        var changedPixels = 0
        if let previous, previousValid, let saved = previous.baseAddress?.assumingMemoryBound(to: UInt8.self) {
            for row in 0..<height {
                let new = rgb + row * rowBytes
                let old = saved + row * rowBytes
                guard let (first, last) = Self.differingBytes(new, old, count: rowBytes) else {
                    dirtyPairs[row] = (0, 0)
                    continue
                }
                (old + first).update(from: new + first, count: last - first + 1)
                let firstPair = first / 6
                let endPair = last / 6 + 1
                dirtyPairs[row] = (Int32(firstPair), Int32(endPair))
                changedRows += 1
                changedPixels += min(width, endPair * 2) - firstPair * 2
            }
        } else {
            for row in 0..<height { dirtyPairs[row] = (0, Int32(pairs)) }
            if let previous, let saved = previous.baseAddress {
                saved.copyMemory(from: rgb, byteCount: rowBytes * height)
                previousValid = true
            }
            changedRows = height
            changedPixels = width * height
        }
        lastChangedPixels = changedPixels
        if changedRows == 0 { return }

        // Luma, one encoded row at a time (the padding row repeats the last source row).
        for row in 0..<encodedHeight {
            let source = min(row, height - 1)
            let (first, end) = dirtyPairs[source]
            if first == end { continue }
            Self.lumaRow(
                rgb + source * rowBytes, planes.y + row * planes.yStride, width: width,
                from: Int(first) * 2, to: Int(end) * 2)
        }
        // Chroma: row j from source rows 2j-1 ... 2j+2, converted where any of them changed.
        for chromaRow in 0..<(encodedHeight / 2) {
            let rows = (
                min(max(2 * chromaRow - 1, 0), height - 1), min(2 * chromaRow, height - 1),
                min(2 * chromaRow + 1, height - 1), min(2 * chromaRow + 2, height - 1)
            )
            var first = Int32.max
            var end = Int32.min
            @inline(__always) func include(_ row: Int) {
                let span = dirtyPairs[row]
                if span.first != span.end {
                    first = min(first, span.first)
                    end = max(end, span.end)
                }
            }
            include(rows.0)
            include(rows.1)
            include(rows.2)
            include(rows.3)
            if first >= end { continue }
            Self.chromaRow(
                rgb + rows.0 * rowBytes, rgb + rows.1 * rowBytes, rgb + rows.2 * rowBytes, rgb + rows.3 * rowBytes,
                u: planes.u + chromaRow * planes.uStride, v: planes.v + chromaRow * planes.vStride, width: width,
                from: Int(first), to: Int(end))
        }
    }

    /// The first and last byte at which `a` and `b` differ, or nil if they are equal.
    @inline(__always)
    static func differingBytes(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, count: Int) -> (Int, Int)? {
        if memcmp(a, b, count) == 0 { return nil }
        let rawA = UnsafeRawPointer(a)
        let rawB = UnsafeRawPointer(b)
        var first = 0
        while first + 8 <= count
            && rawA.loadUnaligned(fromByteOffset: first, as: UInt64.self)
                == rawB.loadUnaligned(fromByteOffset: first, as: UInt64.self)
        {
            first += 8
        }
        while a[first] == b[first] { first += 1 }
        var last = count - 1
        while last - 7 > first
            && rawA.loadUnaligned(fromByteOffset: last - 7, as: UInt64.self)
                == rawB.loadUnaligned(fromByteOffset: last - 7, as: UInt64.self)
        {
            last -= 8
        }
        while a[last] == b[last] { last -= 1 }
        return (first, last)
    }

    /// Bytes 0...5 of a 64-bit little-endian load: one pair of RGB pixels.
    static let pairMask: UInt64 = 0xFFFF_FFFF_FFFF

    /// The 8 bytes at `offset` as a little-endian number (byte 0 in the low bits).
    @inline(__always)
    static func load(_ pointer: UnsafeRawPointer, _ offset: Int) -> UInt64 {
        UInt64(littleEndian: pointer.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    /// Pairs 0 ..< this of a row can be read with 8-byte loads without leaving the row.
    @inline(__always)
    static func fastPairs(width: Int) -> Int {
        width * 3 >= 8 ? (width * 3 - 8) / 6 + 1 : 0
    }

    /// Luma of pixels `from ..< to` (even bounds, `to` up to the encoded width) of one row.
    /// A pair of pixels equal to the pair before it (flat colours) reuses its result.
    @inline(__always)
    static func lumaRow(
        _ rgb: UnsafePointer<UInt8>, _ y: UnsafeMutablePointer<UInt8>, width: Int, from: Int, to: Int
    ) {
        let c = coefficients
        let (ry, gy, by) = (c.ry, c.gy, c.by)
        let offset: Int32 = (16 << 15) + (1 << 14)
        @inline(__always) func luma(_ p: UnsafePointer<UInt8>) -> UInt8 {
            let sum = ry &* Int32(p[0]) &+ gy &* Int32(p[1]) &+ by &* Int32(p[2])
            return UInt8(truncatingIfNeeded: (sum &+ offset) &>> 15)
        }
        let (ry64, gy64, by64) = (UInt64(ry), UInt64(gy), UInt64(by))
        let offset64 = UInt64(offset) | UInt64(offset) &<< 32
        let raw = UnsafeRawPointer(rgb)
        let output = UnsafeMutableRawPointer(y)
        // Pairs whose 8-byte load stays within the row; the rest one pixel at a time.
        let fastEnd = min(to / 2, fastPairs(width: width))
        var pair = from / 2
        var lastKey = UInt64.max  // no pair has all 64 bits set
        var lastLuma: UInt16 = 0
        while pair < fastEnd {
            let o = 6 &* pair
            let key = load(raw, o) & pairMask
            if key != lastKey {
                lastKey = key
                // Both pixels at once, one in each 32-bit half: r0 | r1 << 32, and so on.
                let r = (key & 0xFF) | ((key &<< 8) & 0xFF_0000_0000)
                let g = ((key &>> 8) & 0xFF) | (key & 0xFF_0000_0000)
                let b = ((key &>> 16) & 0xFF) | ((key &>> 8) & 0xFF_0000_0000)
                let sum = r &* ry64 &+ g &* gy64 &+ b &* by64 &+ offset64
                lastLuma = UInt16(truncatingIfNeeded: ((sum &>> 15) & 0xFF) | ((sum &>> 39) & 0xFF00))
            }
            output.storeBytes(of: lastLuma.littleEndian, toByteOffset: 2 &* pair, as: UInt16.self)
            pair &+= 1
        }
        var x = max(from, 2 * fastEnd)
        let end = min(to, width)
        while x < end {
            y[x] = luma(rgb + 3 * x)
            x += 1
        }
        if to > width {  // odd width: the padding column repeats the last pixel
            y[width] = y[width - 1]
        }
    }

    /// U and V of chroma pairs `from ..< to` from the four source rows `a`, `b`, `c`, `d`
    /// (weights 1 3 3 1), each pair the average of pixels 2i and 2i+1. A column of pairs equal
    /// to the one before it reuses its result.
    @inline(__always)
    static func chromaRow(
        _ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ c: UnsafePointer<UInt8>, _ d: UnsafePointer<UInt8>,
        u: UnsafeMutablePointer<UInt8>, v: UnsafeMutablePointer<UInt8>, width: Int, from: Int, to: Int
    ) {
        let k = coefficients
        let (ru, gu, bu, rv, gv, bv) = (k.ru, k.gu, k.bu, k.rv, k.gv, k.bv)
        // 16 samples (2 across, weights 1+3+3+1 down): divide by 16 * 2^15.
        let offset: Int32 = (128 << 19) + (1 << 18)
        @inline(__always) func store(_ i: Int, r: Int32, g: Int32, b: Int32) {
            u[i] = UInt8(truncatingIfNeeded: (ru &* r &+ gu &* g &+ bu &* b &+ offset) &>> 19)
            v[i] = UInt8(truncatingIfNeeded: (rv &* r &+ gv &* g &+ bv &* b &+ offset) &>> 19)
        }
        // (U coefficient) + (V coefficient) << 32, as the integer they make.
        @inline(__always) func packed(_ u: Int32, _ v: Int32) -> UInt64 {
            UInt64(bitPattern: Int64(u) &+ Int64(v) &<< 32)
        }
        let (ruv, guv, buv) = (packed(ru, rv), packed(gu, gv), packed(bu, bv))
        let offsetUV = packed(offset, offset)
        let (rawA, rawB, rawC, rawD) = (
            UnsafeRawPointer(a), UnsafeRawPointer(b), UnsafeRawPointer(c), UnsafeRawPointer(d)
        )
        let fastEnd = min(to, fastPairs(width: width))
        // Bytes r0 b0 g1 (even) and g0 r1 b1 (odd) of a pair, in 16-bit lanes: four rows
        // weighted 1 3 3 1 sum to at most 8 * 255 per lane.
        let lanes: UInt64 = 0x00FF_00FF_00FF
        var i = from
        var last = (UInt64.max, UInt64.max, UInt64.max, UInt64.max)
        var lastU: UInt8 = 0
        var lastV: UInt8 = 0
        while i < fastEnd {
            let o = 6 &* i
            let ka = load(rawA, o) & pairMask
            let kb = load(rawB, o) & pairMask
            let kc = load(rawC, o) & pairMask
            let kd = load(rawD, o) & pairMask
            if ((ka ^ last.0) | (kb ^ last.1) | (kc ^ last.2) | (kd ^ last.3)) != 0 {
                last = (ka, kb, kc, kd)
                let even = (ka & lanes) &+ (kd & lanes) &+ 3 &* ((kb & lanes) &+ (kc & lanes))
                let odd =
                    ((ka &>> 8) & lanes) &+ ((kd &>> 8) & lanes) &+ 3 &* (((kb &>> 8) & lanes) &+ ((kc &>> 8) & lanes))
                let r = Int32(truncatingIfNeeded: (even & 0xFFFF) &+ ((odd &>> 16) & 0xFFFF))
                let g = Int32(truncatingIfNeeded: (odd & 0xFFFF) &+ ((even &>> 32) & 0xFFFF))
                let bl = Int32(truncatingIfNeeded: ((even &>> 16) & 0xFFFF) &+ ((odd &>> 32) & 0xFFFF))
                // U in the low 32 bits, V in the high ones: each is non-negative and below 2^32
                // once the offset is added, so the halves come out exact.
                let uv =
                    UInt64(truncatingIfNeeded: r) &* ruv &+ UInt64(truncatingIfNeeded: g) &* guv
                    &+ UInt64(truncatingIfNeeded: bl) &* buv &+ offsetUV
                lastU = UInt8(truncatingIfNeeded: uv &>> 19)
                lastV = UInt8(truncatingIfNeeded: uv &>> 51)
            }
            u[i] = lastU
            v[i] = lastV
            i &+= 1
        }
        // The remaining pairs, reading bytes one at a time (the last pair of an odd width is the
        // last pixel and its copy).
        let fullPairs = width / 2
        while i < to {
            let o0 = 6 * i
            let o1 = i < fullPairs ? o0 + 3 : o0
            @inline(__always) func sum(_ k: Int) -> Int32 {
                let outer = Int32(a[o0 + k]) + Int32(a[o1 + k]) + Int32(d[o0 + k]) + Int32(d[o1 + k])
                let inner = Int32(b[o0 + k]) + Int32(b[o1 + k]) + Int32(c[o0 + k]) + Int32(c[o1 + k])
                return outer + 3 * inner
            }
            store(i, r: sum(0), g: sum(1), b: sum(2))
            i += 1
        }
    }
}
