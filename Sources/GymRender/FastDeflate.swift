#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A zlib (RFC 1950) / deflate (RFC 1951) encoder specialised for the image data of rendered
/// frames, the fast path of `PNGEncoder`.
///
/// The data compressed is the PNG scanlines with filter type 0 (None): for every row a 0 byte,
/// then the row's pixels. Rendered frames are made of flat areas, so instead of hashing every
/// byte as zlib does, each row is matched greedily against only two places:
///
/// - the pixel to its left (distance 3: a run of one colour), and
/// - the pixel above (distance = the scanline length, `rowBytes + 1`: an unchanged stretch).
///
/// Matches never cross a row end, so a row's tokens depend only on the row and the one above.
/// A row identical to the one above (found with `memcmp`) is tokenised once and its tokens are
/// reused for the identical rows that follow; its Adler-32 contribution is reused too, combined
/// arithmetically. The tokens are then coded with the cheapest of a dynamic Huffman block,
/// a fixed Huffman block or stored blocks, sized exactly beforehand so the output is written
/// into one preallocated buffer with a 64-bit bit buffer.
///
/// Rows longer than 32767 bytes (RGB frames over 10,922 pixels wide) do not use the row distance
/// (deflate's window is 32 KB); they still get the colour runs and the identical-row reuse.
///
/// Memory: the tokens take 2 bytes each, at most one per input byte (noise), so up to twice the
/// image's size while encoding; flat frames need a few dozen tokens per row.
enum FastDeflate {
    /// Which kind of deflate block to write; `.automatic` picks the smallest.
    enum BlockType: Sendable, Hashable, CaseIterable {
        case automatic, stored, fixed, dynamic
    }

    /// Tuning and test knobs. The defaults are what `PNGEncoder` uses.
    struct Options: Sendable, Hashable {
        /// Block type to write.
        let blockType: BlockType
        /// Whether matches against the row above may be used (when the row length allows).
        let rowMatches: Bool
        /// Shortest match against the row above worth coding (its distance costs ~10 extra bits),
        /// 3...258.
        let minimumRowMatch: Int
        init(blockType: BlockType = .automatic, rowMatches: Bool = true, minimumRowMatch: Int = 4) {
            self.blockType = blockType
            self.rowMatches = rowMatches
            self.minimumRowMatch = max(3, min(minimumRowMatch, 258))
        }
    }

    /// deflate's largest match distance.
    static let maxDistance = 32768
    /// The Adler-32 modulus.
    static let adlerModulus: UInt32 = 65521

    // MARK: - Tokens

    /// A token is a `UInt16`: a literal byte (0...255), or a match: its length (3...258) with one
    /// of these flags telling its distance.
    static let shortMatchFlag: UInt16 = 0x4000
    static let rowMatchFlag: UInt16 = 0x8000
    static let lengthMask: UInt16 = 0x01FF
    /// The distance of a short match: the previous pixel.
    static let shortDistance = 3

    // MARK: - Entry point

    /// The zlib stream of the PNG image data of `height` rows of `rowBytes` bytes, `stride` bytes
    /// apart from `base`, each preceded by filter byte 0. `rowBytes` and `height` must be positive
    /// and `stride >= rowBytes`.
    static func compressScanlines(
        _ base: UnsafePointer<UInt8>, rowBytes: Int, stride: Int, height: Int, options: Options = Options()
    ) -> [UInt8] {
        precondition(rowBytes > 0 && height > 0 && stride >= rowBytes, "invalid scanline geometry")
        var encoder = Encoder(
            base: base, rowBytes: rowBytes, stride: stride, height: height,
            rowMatches: options.rowMatches && rowBytes + 1 <= maxDistance && height > 1,
            minimumRowMatch: options.minimumRowMatch)
        defer { encoder.deallocate() }
        encoder.tokenize()
        return encoder.write(blockType: options.blockType)
    }

    // MARK: - Adler-32

    /// Adler-32 of `count` bytes starting from the checksum `adler` (1 for a new stream),
    /// a plain reference implementation (used by tests).
    static func referenceAdler32(_ bytes: UnsafeRawBufferPointer, adler: UInt32 = 1) -> UInt32 {
        var a = adler & 0xFFFF
        var b = adler >> 16
        for byte in bytes {
            a = (a + UInt32(byte)) % adlerModulus
            b = (b + a) % adlerModulus
        }
        return b << 16 | a
    }

    /// `(Σ p[i], Σ (count - i) * p[i])`, both mod 65521: what a block of bytes adds to Adler-32's
    /// sums, independent of where it lies in the stream. Appending the block to a stream with sums
    /// `(a, b)` gives `(a + s, b + count * a + w)`.
    static func blockSums(_ p: UnsafePointer<UInt8>, count: Int) -> (s: UInt32, w: UInt32) {
        let modulus = UInt64(adlerModulus)
        // Lane weights 16 - j of the even and odd 16-bit lanes j, seen as 32-bit lanes.
        let evenWeights = SIMD8<UInt32>(16, 14, 12, 10, 8, 6, 4, 2)
        let oddWeights = SIMD8<UInt32>(15, 13, 11, 9, 7, 5, 3, 1)
        let raw = UnsafeRawPointer(p)
        var s: UInt64 = 0
        var w: UInt64 = 0
        var offset = 0
        // Up to 22 chunks of 16 bytes with 16-bit lanes: per lane, `v1` sums the bytes and `v2` the
        // running sums of the chunks before (at most 255 * 22 * 21 / 2 < 2^16), which gives the
        // weighted sum without multiplications in the loop.
        while count &- offset >= 16 {
            let chunks = min(22, (count &- offset) &>> 4)
            var v1 = SIMD16<UInt16>()
            var v2 = SIMD16<UInt16>()
            for c in 0..<chunks {
                let bytes = raw.loadUnaligned(fromByteOffset: offset &+ c &<< 4, as: SIMD16<UInt8>.self)
                v2 &+= v1
                v1 &+= SIMD16<UInt16>(truncatingIfNeeded: bytes)
            }
            // Chunk c's byte in lane j has weight 16 * (chunks - 1 - c) + (16 - j) within the block.
            // Widen the 16-bit lanes by reading them as 32-bit pairs (little-endian: even lane low).
            let pairs1 = unsafeBitCast(v1, to: SIMD8<UInt32>.self)
            let pairs2 = unsafeBitCast(v2, to: SIMD8<UInt32>.self)
            #if _endian(little)
            let even1 = pairs1 & 0xFFFF
            let odd1 = pairs1 &>> 16
            #else
            let even1 = pairs1 &>> 16
            let odd1 = pairs1 & 0xFFFF
            #endif
            let sum2 = (pairs2 & 0xFFFF) &+ (pairs2 &>> 16)
            let bs = UInt64((even1 &+ odd1).wrappedSum())
            let bw = UInt64((sum2 &<< 4 &+ even1 &* evenWeights &+ odd1 &* oddWeights).wrappedSum())
            let m = chunks &<< 4
            w = (w &+ bw &+ UInt64(truncatingIfNeeded: count &- offset &- m) % modulus &* bs) % modulus
            s &+= bs
            offset &+= m
        }
        while offset < count {
            let v = UInt64(p[offset])
            s &+= v
            w &+= v &* UInt64(truncatingIfNeeded: count &- offset)
            offset &+= 1
        }
        return (UInt32(s % modulus), UInt32(w % modulus))
    }

    /// `blockSums` of `count` (>= 3) bytes repeating `c0, c1, c2`, in closed form (not reduced).
    @inline(__always)
    static func periodicSums(_ c0: UInt8, _ c1: UInt8, _ c2: UInt8, count n: Int) -> (s: UInt64, w: UInt64) {
        // Indices r, r + 3, ... below n: k of them, their weights n - i sum to k (n - r) - 3 k (k - 1) / 2.
        let k0 = (n + 2) / 3
        let k1 = (n + 1) / 3
        let k2 = n / 3
        let w0 = k0 * n - 3 * (k0 * (k0 - 1) / 2)
        let w1 = k1 * (n - 1) - 3 * (k1 * (k1 - 1) / 2)
        let w2 = k2 * (n - 2) - 3 * (k2 * (k2 - 1) / 2)
        let s = k0 * Int(c0) + k1 * Int(c1) + k2 * Int(c2)
        let w = w0 * Int(c0) + w1 * Int(c1) + w2 * Int(c2)
        return (UInt64(s), UInt64(w))
    }

    // MARK: - Code tables (RFC 1951 3.2.5)

    static let lengthBase: [Int] = [
        3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258,
    ]
    static let lengthExtra: [Int] = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]
    static let distanceBase: [Int] = [
        1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097,
        6145, 8193, 12289, 16385, 24577,
    ]
    static let distanceExtra: [Int] = [
        0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13,
    ]
    /// The order code-length code lengths are sent in.
    static let codeLengthOrder: [Int] = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]

    /// Length code index (0...28, symbol 257 + index) of a match length 3...258.
    static func lengthCode(_ length: Int) -> Int {
        var code = 28
        while lengthBase[code] > length { code -= 1 }
        return code
    }

    /// `lengthCode` of 0...258 (0 below 3).
    static let lengthCodes: [UInt8] = (0...258).map { $0 < 3 ? 0 : UInt8(lengthCode($0)) }

    /// Distance code (0...29) of a distance 1...32768.
    static func distanceCode(_ distance: Int) -> Int {
        var code = 29
        while distanceBase[code] > distance { code -= 1 }
        return code
    }

    /// Tokens index tables of 1536 entries: literals at 0...255, short matches at 512 + length,
    /// row matches at 1024 + length.
    @inline(__always)
    static func tableIndex(_ token: UInt16) -> Int {
        Int(token & lengthMask) | Int(token >> 14) << 9
    }
    static let tableSize = 1536

    // MARK: - Huffman codes

    /// Fills `lengths[0..<count]` with the code lengths (at most `maxLength`) of a prefix code for
    /// the symbols of frequencies `freqs`: an optimal (Huffman) code computed in place with
    /// Moffat and Katajainen's algorithm, then lengths over the limit shortened and the code
    /// rebalanced as miniz does. At least two symbols always get a code (decoders want a complete
    /// code, or at least one that is not a single zero-length one).
    static func buildCodeLengths(
        _ freqs: UnsafePointer<Int>, count: Int, maxLength: Int, into lengths: UnsafeMutablePointer<UInt8>
    ) {
        lengths.initialize(repeating: 0, count: count)
        // Used symbols sorted by frequency (then symbol): keys of frequency << 16 | symbol.
        let keys = UnsafeMutablePointer<UInt64>.allocate(capacity: count)
        defer { keys.deallocate() }
        var used = 0
        for symbol in 0..<count where freqs[symbol] > 0 {
            keys[used] = UInt64(freqs[symbol]) << 16 | UInt64(symbol)
            used += 1
        }
        if used < 2 {
            let first = used == 1 ? Int(keys[0] & 0xFFFF) : 0
            lengths[first] = 1
            lengths[first == 0 ? 1 : 0] = 1
            return
        }
        sortKeys(keys, count: used)
        let a = UnsafeMutablePointer<Int>.allocate(capacity: used + maxLength + 1)
        defer { a.deallocate() }
        for i in 0..<used { a[i] = Int(keys[i] >> 16) }

        // Moffat & Katajainen, "In-place calculation of minimum-redundancy codes" (1995).
        let n = used
        a[0] += a[1]
        var root = 0
        var leaf = 2
        for next in 1..<(n - 1) {
            if leaf >= n || a[root] < a[leaf] {
                a[next] = a[root]
                a[root] = next
                root += 1
            } else {
                a[next] = a[leaf]
                leaf += 1
            }
            if leaf >= n || (root < next && a[root] < a[leaf]) {
                a[next] += a[root]
                a[root] = next
                root += 1
            } else {
                a[next] += a[leaf]
                leaf += 1
            }
        }
        a[n - 2] = 0
        if n >= 3 {
            for next in stride(from: n - 3, through: 0, by: -1) { a[next] = a[a[next]] + 1 }
        }
        var available = 1
        var usedAtDepth = 0
        var depth = 0
        root = n - 2
        var next = n - 1
        while available > 0 {
            while root >= 0 && a[root] == depth {
                usedAtDepth += 1
                root -= 1
            }
            while available > usedAtDepth {
                a[next] = depth
                next -= 1
                available -= 1
            }
            available = 2 * usedAtDepth
            depth += 1
            usedAtDepth = 0
        }
        // a[i] is now the length of the i-th least frequent symbol. Count lengths, clamping.
        let lengthCounts = a + used
        lengthCounts.initialize(repeating: 0, count: maxLength + 1)
        for i in 0..<n { lengthCounts[min(a[i], maxLength)] += 1 }
        var kraft = 0
        for length in 1...maxLength { kraft += lengthCounts[length] << (maxLength - length) }
        while kraft > 1 << maxLength {
            // Remove a code of the longest length and split a shorter one: Kraft sum minus one unit.
            lengthCounts[maxLength] -= 1
            for length in stride(from: maxLength - 1, to: 0, by: -1) where lengthCounts[length] > 0 {
                lengthCounts[length] -= 1
                lengthCounts[length + 1] += 2
                break
            }
            kraft -= 1
        }
        // The most frequent symbols get the shortest codes.
        var j = n
        for length in 1...maxLength {
            for _ in 0..<lengthCounts[length] {
                j -= 1
                lengths[Int(keys[j] & 0xFFFF)] = UInt8(length)
            }
        }
    }

    /// Sorts `count` keys (frequency << 16 | symbol, symbols ascending) by frequency, stably, in
    /// place: insertion sort for a few keys, else a least-significant-digit radix sort on the
    /// frequency's bytes (no comparisons to mispredict).
    static func sortKeys(_ keys: UnsafeMutablePointer<UInt64>, count: Int) {
        if count <= 24 {
            for i in 1..<max(1, count) {
                let key = keys[i]
                var j = i
                while j > 0 && keys[j - 1] > key {
                    keys[j] = keys[j - 1]
                    j -= 1
                }
                keys[j] = key
            }
            return
        }
        var largest: UInt64 = 0
        for i in 0..<count { largest = max(largest, keys[i]) }
        let scratch = UnsafeMutablePointer<UInt64>.allocate(capacity: count)
        let buckets = UnsafeMutablePointer<Int>.allocate(capacity: 256)
        defer {
            scratch.deallocate()
            buckets.deallocate()
        }
        var source = keys
        var target = scratch
        var shift: UInt64 = 16
        while largest >> shift != 0 {
            buckets.initialize(repeating: 0, count: 256)
            for i in 0..<count { buckets[Int(truncatingIfNeeded: source[i] >> shift) & 0xFF] += 1 }
            var total = 0
            for digit in 0..<256 {
                let c = buckets[digit]
                buckets[digit] = total
                total += c
            }
            for i in 0..<count {
                let key = source[i]
                let digit = Int(truncatingIfNeeded: key >> shift) & 0xFF
                target[buckets[digit]] = key
                buckets[digit] += 1
            }
            swap(&source, &target)
            shift += 8
        }
        if source != keys { keys.update(from: source, count: count) }
    }

    /// Canonical codes (RFC 1951 3.2.2) for `lengths` (at most 15), bit-reversed for LSB-first output.
    static func canonicalCodes(
        _ lengths: UnsafePointer<UInt8>, count: Int, into codes: UnsafeMutablePointer<UInt32>
    ) {
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 32) { scratch in
            guard let lengthCounts = scratch.baseAddress else { return }
            let nextCode = lengthCounts + 16
            lengthCounts.initialize(repeating: 0, count: 32)
            for i in 0..<count { lengthCounts[Int(lengths[i])] += 1 }
            lengthCounts[0] = 0
            var code: UInt32 = 0
            for bits in 1..<16 {
                code = (code + lengthCounts[bits - 1]) << 1
                nextCode[bits] = code
            }
            for i in 0..<count {
                let length = Int(lengths[i])
                guard length > 0 else {
                    codes[i] = 0
                    continue
                }
                var v = nextCode[length]
                nextCode[length] = v + 1
                v = (v >> 1) & 0x5555_5555 | (v & 0x5555_5555) << 1
                v = (v >> 2) & 0x3333_3333 | (v & 0x3333_3333) << 2
                v = (v >> 4) & 0x0F0F_0F0F | (v & 0x0F0F_0F0F) << 4
                v = (v >> 8) & 0x00FF_00FF | (v & 0x00FF_00FF) << 8
                v = v >> 16 | v << 16
                codes[i] = v >> UInt32(32 - length)
            }
        }
    }

    // MARK: - The encoder

    /// The state of one compression: the tokens of the rows, per-row token ranges, Adler-32.
    struct Encoder {
        let base: UnsafePointer<UInt8>
        let rowBytes: Int
        let stride: Int
        let height: Int
        let rowMatches: Bool
        let minimumRowMatch: Int

        var tokens: UnsafeMutablePointer<UInt16>
        var tokenCapacity: Int
        var tokenCount = 0
        /// Per row: first token, token count.
        let rowTokens: UnsafeMutablePointer<Int>
        var adlerA: UInt32 = 1
        var adlerB: UInt32 = 0

        init(
            base: UnsafePointer<UInt8>, rowBytes: Int, stride: Int, height: Int, rowMatches: Bool, minimumRowMatch: Int
        ) {
            self.base = base
            self.rowBytes = rowBytes
            self.stride = stride
            self.height = height
            self.rowMatches = rowMatches
            self.minimumRowMatch = minimumRowMatch
            // Flat frames need a dozen tokens per row; grow when a busy row needs more.
            tokenCapacity = max(4096, min(height * (rowBytes + 1), height * 32))
            tokens = UnsafeMutablePointer<UInt16>.allocate(capacity: tokenCapacity)
            rowTokens = UnsafeMutablePointer<Int>.allocate(capacity: 2 * height)
        }

        func deallocate() {
            tokens.deallocate()
            rowTokens.deallocate()
        }

        mutating func reserve(_ extra: Int) {
            guard tokenCount + extra > tokenCapacity else { return }
            let capacity = max(tokenCapacity * 2, tokenCount + extra)
            let grown = UnsafeMutablePointer<UInt16>.allocate(capacity: capacity)
            grown.update(from: tokens, count: tokenCount)
            tokens.deallocate()
            tokens = grown
            tokenCapacity = capacity
        }

        /// The number of equal bytes at `a` and `b`, at most `limit`.
        @inline(__always)
        static func matchLength(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, limit: Int) -> Int {
            let ra = UnsafeRawPointer(a)
            let rb = UnsafeRawPointer(b)
            var n = 0
            // 32 bytes per step while they are all equal, then 8 at a time to find the difference.
            while n + 32 <= limit {
                let equal =
                    ra.loadUnaligned(fromByteOffset: n, as: SIMD16<UInt8>.self)
                    .== rb.loadUnaligned(fromByteOffset: n, as: SIMD16<UInt8>.self)
                let equal2 =
                    ra.loadUnaligned(fromByteOffset: n + 16, as: SIMD16<UInt8>.self)
                    .== rb.loadUnaligned(fromByteOffset: n + 16, as: SIMD16<UInt8>.self)
                if !all(equal .& equal2) { break }
                n += 32
            }
            while n + 8 <= limit {
                let x =
                    UInt64(littleEndian: ra.loadUnaligned(fromByteOffset: n, as: UInt64.self))
                    ^ UInt64(littleEndian: rb.loadUnaligned(fromByteOffset: n, as: UInt64.self))
                if x != 0 { return n + x.trailingZeroBitCount >> 3 }
                n += 8
            }
            while n < limit && a[n] == b[n] { n += 1 }
            return n
        }

        /// Tokenises every row (pass one) and computes Adler-32.
        mutating func tokenize() {
            let modulus = UInt64(adlerModulus)
            let streamRowMod = UInt64((rowBytes + 1) % Int(adlerModulus))
            var rowSums: (s: UInt64, w: UInt64) = (0, 0)
            // The last tokenised row, and whether it was identical to the row above it then
            // (so its tokens, matches against the row above included, fit any identical row after it).
            var reference: (start: Int, count: Int) = (0, 0)
            var referenceIsRepeat = false
            var a = UInt64(1)
            var b = UInt64(0)
            for y in 0..<height {
                let row = base + y * stride
                let identical = y > 0 && memcmp(row, row - stride, rowBytes) == 0
                if identical && (referenceIsRepeat || !rowMatches) {
                    rowTokens[2 * y] = reference.start
                    rowTokens[2 * y + 1] = reference.count
                } else {
                    let start = tokenCount
                    let sums = tokenizeRow(row, above: rowMatches && y > 0)
                    reference = (start, tokenCount - start)
                    referenceIsRepeat = identical
                    rowTokens[2 * y] = reference.start
                    rowTokens[2 * y + 1] = reference.count
                    // An identical row has the sums of the row above.
                    if !identical { rowSums = sums }
                }
                // Adler-32 of the filter byte (0) and the row: a += s; b += (n + 1) * a + w.
                b = (b + streamRowMod * a + rowSums.w) % modulus
                a = (a + rowSums.s) % modulus
            }
            adlerA = UInt32(a)
            adlerB = UInt32(b)
        }

        /// Appends the tokens of one scanline (filter byte and row); returns the scanline's
        /// `blockSums` (mod 65521), worked out token by token: a run of one colour in closed form,
        /// a match against the row above with `blockSums`, literals byte by byte.
        @inline(__always)
        mutating func tokenizeRow(_ row: UnsafePointer<UInt8>, above: Bool) -> (s: UInt64, w: UInt64) {
            reserve(rowBytes + 1)
            var out = tokens + tokenCount
            let n = rowBytes
            let minRow = minimumRowMatch
            // The bytes a match against the row above must start with (little-endian).
            let rowMask: UInt32 = minRow >= 4 ? 0xFFFF_FFFF : 0x00FF_FFFF
            let modulus = UInt64(adlerModulus)
            // Adler-32 sums of the scanline as a stream of its own; the filter byte adds nothing.
            var a: UInt64 = 0
            var b: UInt64 = 0
            var reduceAt = 1 << 16  // keeps a and b far from overflowing on very long rows
            var x = 0
            // The filter byte: 0 above too, so a match against the row above may start here.
            if above {
                let length = 1 + Self.matchLength(row, row - stride, limit: min(257, n))
                if length >= minRow {
                    out.pointee = rowMatchFlag | UInt16(length)
                    out += 1
                    x = length - 1
                    let sums = blockSums(row, count: x)
                    a = UInt64(sums.s)
                    b = UInt64(sums.w)
                } else {
                    out.pointee = 0
                    out += 1
                }
            } else {
                out.pointee = 0
                out += 1
            }
            // Short matches start at x >= 3 so that they stay inside the row.
            while x < 3 && x < n {
                if above {
                    let limit = min(258, n - x)
                    let length = limit >= minRow ? Self.matchLength(row + x, row + x - stride, limit: limit) : 0
                    if length >= minRow {
                        out.pointee = rowMatchFlag | UInt16(length)
                        out += 1
                        let sums = blockSums(row + x, count: length)
                        b += UInt64(length) * a + UInt64(sums.w)
                        a += UInt64(sums.s)
                        x += length
                        continue
                    }
                }
                let v = row[x]
                out.pointee = UInt16(v)
                out += 1
                a += UInt64(v)
                b += a
                x += 1
            }
            while x < n {
                if x >= reduceAt {
                    a %= modulus
                    b %= modulus
                    reduceAt = x + 1 << 16
                }
                let limit = min(258, n - x)
                let p = row + x
                if limit < 3 {
                    let v = p.pointee
                    out.pointee = UInt16(v)
                    out += 1
                    a += UInt64(v)
                    b += a
                    x += 1
                    continue
                }
                // Quick rejections on the first bytes before measuring a match; a run of one colour
                // as long as allowed needs no other look.
                var short = 0
                var long = 0
                if limit >= 4 {
                    let head = UInt32(littleEndian: UnsafeRawPointer(p).loadUnaligned(as: UInt32.self))
                    let left = UInt32(littleEndian: UnsafeRawPointer(p - shortDistance).loadUnaligned(as: UInt32.self))
                    if (head ^ left) & 0x00FF_FFFF == 0 {
                        short = Self.matchLength(p, p - shortDistance, limit: limit)
                    }
                    if above && short < limit
                        && (head ^ UInt32(littleEndian: UnsafeRawPointer(p - stride).loadUnaligned(as: UInt32.self)))
                            & rowMask == 0
                    {
                        long = Self.matchLength(p, p - stride, limit: limit)
                    }
                } else {
                    short = Self.matchLength(p, p - shortDistance, limit: limit)
                    long = above && short < limit ? Self.matchLength(p, p - stride, limit: limit) : 0
                }
                if short >= 3 && short >= long {
                    out.pointee = shortMatchFlag | UInt16(short)
                    out += 1
                    let sums = periodicSums(p[-3], p[-2], p[-1], count: short)
                    b += UInt64(short) * a + sums.w
                    a += sums.s
                    x += short
                } else if long >= minRow {
                    out.pointee = rowMatchFlag | UInt16(long)
                    out += 1
                    let sums = blockSums(p, count: long)
                    b += UInt64(long) * a + UInt64(sums.w)
                    a += UInt64(sums.s)
                    x += long
                } else {
                    let v = p.pointee
                    out.pointee = UInt16(v)
                    out += 1
                    a += UInt64(v)
                    b += a
                    x += 1
                }
            }
            tokenCount = out - tokens
            return (a % modulus, b % modulus)
        }

        // MARK: Pass two

        /// Symbol frequencies of all rows' tokens (literal/length 0...285, distance 0...29).
        func countSymbols(
            literals: UnsafeMutablePointer<Int>, distances: UnsafeMutablePointer<Int>, rowDistanceCode: Int
        ) {
            let histogram = UnsafeMutablePointer<Int>.allocate(capacity: tableSize)
            defer { histogram.deallocate() }
            histogram.initialize(repeating: 0, count: tableSize)
            // Rows sharing tokens are counted once, times the number of rows.
            var y = 0
            while y < height {
                let start = rowTokens[2 * y]
                let count = rowTokens[2 * y + 1]
                var repeats = 1
                while y + repeats < height && rowTokens[2 * (y + repeats)] == start {
                    repeats += 1
                }
                for i in start..<(start + count) {
                    histogram[tableIndex(tokens[i])] += repeats
                }
                y += repeats
            }
            literals.initialize(repeating: 0, count: 286)
            distances.initialize(repeating: 0, count: 30)
            for s in 0..<256 { literals[s] = histogram[s] }
            literals[256] = 1  // end of block
            var short = 0
            var long = 0
            lengthCodes.withUnsafeBufferPointer { codes in
                for length in 3...258 {
                    literals[257 + Int(codes[length])] += histogram[512 + length] + histogram[1024 + length]
                    short += histogram[512 + length]
                    long += histogram[1024 + length]
                }
            }
            distances[distanceCode(shortDistance)] += short
            distances[rowDistanceCode] += long
        }

        /// Writes the zlib stream: header, the cheapest block(s), Adler-32.
        func write(blockType: BlockType) -> [UInt8] {
            let rowDistance = rowBytes + 1
            let rowDistanceCode = rowMatches ? distanceCode(rowDistance) : 0
            // Scratch for frequencies, lengths and codes of both alphabets.
            let literalFreqs = UnsafeMutablePointer<Int>.allocate(capacity: 286)
            let distanceFreqs = UnsafeMutablePointer<Int>.allocate(capacity: 30)
            let literalLengths = UnsafeMutablePointer<UInt8>.allocate(capacity: 288)
            let distanceLengths = UnsafeMutablePointer<UInt8>.allocate(capacity: 32)
            let literalCodes = UnsafeMutablePointer<UInt32>.allocate(capacity: 288)
            let distanceCodes = UnsafeMutablePointer<UInt32>.allocate(capacity: 32)
            defer {
                literalFreqs.deallocate()
                distanceFreqs.deallocate()
                literalLengths.deallocate()
                distanceLengths.deallocate()
                literalCodes.deallocate()
                distanceCodes.deallocate()
            }
            countSymbols(literals: literalFreqs, distances: distanceFreqs, rowDistanceCode: rowDistanceCode)

            // Bits of the symbols' extra bits, the same under any code.
            var extraBits = 0
            for code in 0..<29 { extraBits += literalFreqs[257 + code] * lengthExtra[code] }
            for code in 0..<30 { extraBits += distanceFreqs[code] * distanceExtra[code] }

            // Dynamic block.
            buildCodeLengths(literalFreqs, count: 286, maxLength: 15, into: literalLengths)
            buildCodeLengths(distanceFreqs, count: 30, maxLength: 15, into: distanceLengths)
            let header = DynamicHeader(literalLengths: literalLengths, distanceLengths: distanceLengths)
            var dynamicBits = 3 + header.bitCount + extraBits
            for s in 0..<286 { dynamicBits += literalFreqs[s] * Int(literalLengths[s]) }
            for s in 0..<30 { dynamicBits += distanceFreqs[s] * Int(distanceLengths[s]) }

            // Fixed block.
            var fixedBits = 3 + extraBits
            for s in 0..<286 { fixedBits += literalFreqs[s] * Self.fixedLiteralLength(s) }
            for s in 0..<30 { fixedBits += distanceFreqs[s] * 5 }

            // Stored blocks: 5 bytes of header per 65535 bytes.
            let rawCount = height * rowDistance
            let storedBits = 8 * (rawCount + 5 * ((rawCount + 65534) / 65535))

            var chosen = blockType
            if chosen == .automatic {
                chosen = dynamicBits <= fixedBits ? .dynamic : .fixed
                if storedBits < min(dynamicBits, fixedBits) { chosen = .stored }
            }
            let deflateBits: Int
            switch chosen {
            case .stored: deflateBits = storedBits
            case .fixed: deflateBits = fixedBits
            default: deflateBits = dynamicBits
            }
            let deflateBytes = (deflateBits + 7) / 8
            let total = 2 + deflateBytes + 4
            // 8 bytes of slack: the bit writer stores whole 64-bit words.
            return [UInt8](unsafeUninitializedCapacity: total + 8) { buffer, initialized in
                guard let start = buffer.baseAddress else { return }
                start[0] = 0x78  // deflate, 32 KB window
                start[1] = 0x01  // fastest; (0x78 << 8 | 0x01) % 31 == 0
                var writer = BitWriter(start + 2)
                switch chosen {
                case .stored:
                    writeStored(&writer)
                case .fixed:
                    for s in 0..<288 { literalLengths[s] = UInt8(Self.fixedLiteralLength(s)) }
                    for s in 0..<32 { distanceLengths[s] = 5 }
                    canonicalCodes(literalLengths, count: 288, into: literalCodes)
                    canonicalCodes(distanceLengths, count: 32, into: distanceCodes)
                    writer.put(0b011, 3)  // final, fixed
                    writeTokens(
                        &writer, literalLengths, literalCodes, distanceLengths, distanceCodes,
                        rowDistanceCode: rowDistanceCode)
                default:
                    canonicalCodes(literalLengths, count: 286, into: literalCodes)
                    canonicalCodes(distanceLengths, count: 30, into: distanceCodes)
                    writer.put(0b101, 3)  // final, dynamic
                    header.write(&writer)
                    writeTokens(
                        &writer, literalLengths, literalCodes, distanceLengths, distanceCodes,
                        rowDistanceCode: rowDistanceCode)
                }
                let end = writer.finish()
                // The sizes above are exact; a difference would be a bug here, never bad input.
                precondition(end - (start + 2) == deflateBytes, "deflate size differs from its estimate")
                let adler = adlerB << 16 | adlerA
                end[0] = UInt8(truncatingIfNeeded: adler >> 24)
                end[1] = UInt8(truncatingIfNeeded: adler >> 16)
                end[2] = UInt8(truncatingIfNeeded: adler >> 8)
                end[3] = UInt8(truncatingIfNeeded: adler)
                initialized = end + 4 - start
            }
        }

        static func fixedLiteralLength(_ symbol: Int) -> Int {
            switch symbol {
            case 0..<144: 8
            case 144..<256: 9
            case 256..<280: 7
            default: 8
            }
        }

        /// Writes every row's tokens and the end-of-block code.
        func writeTokens(
            _ writer: inout BitWriter, _ literalLengths: UnsafePointer<UInt8>, _ literalCodes: UnsafePointer<UInt32>,
            _ distanceLengths: UnsafePointer<UInt8>, _ distanceCodes: UnsafePointer<UInt32>, rowDistanceCode: Int
        ) {
            // Per token (see `tableIndex`): the bits of a literal, or of a length code, its extra
            // bits, the distance code and its extra bits: one put per token.
            let tableBits = UnsafeMutablePointer<UInt64>.allocate(capacity: tableSize)
            let tableCounts = UnsafeMutablePointer<UInt8>.allocate(capacity: tableSize)
            defer {
                tableBits.deallocate()
                tableCounts.deallocate()
            }
            for s in 0..<256 {
                tableBits[s] = UInt64(literalCodes[s])
                tableCounts[s] = literalLengths[s]
            }
            let shortCode = distanceCode(shortDistance)
            let shortDistanceBits = UInt64(distanceCodes[shortCode])
            let shortDistanceCount = Int(distanceLengths[shortCode])  // no extra bits for distance 3
            var rowDistanceBits: UInt64 = 0
            var rowDistanceCount = 0
            if rowMatches {
                rowDistanceBits =
                    UInt64(distanceCodes[rowDistanceCode])
                    | UInt64(rowBytes + 1 - distanceBase[rowDistanceCode]) << UInt64(distanceLengths[rowDistanceCode])
                rowDistanceCount = Int(distanceLengths[rowDistanceCode]) + distanceExtra[rowDistanceCode]
            }
            lengthCodes.withUnsafeBufferPointer { codes in
                for length in 3...258 {
                    let code = Int(codes[length])
                    let symbol = 257 + code
                    let lengthBits =
                        UInt64(literalCodes[symbol])
                        | UInt64(length - lengthBase[code]) << UInt64(literalLengths[symbol])
                    let lengthCount = Int(literalLengths[symbol]) + lengthExtra[code]
                    tableBits[512 + length] = lengthBits | shortDistanceBits << UInt64(lengthCount)
                    tableCounts[512 + length] = UInt8(lengthCount + shortDistanceCount)
                    tableBits[1024 + length] = lengthBits | rowDistanceBits << UInt64(lengthCount)
                    tableCounts[1024 + length] = UInt8(lengthCount + rowDistanceCount)
                }
            }
            for y in 0..<height {
                let start = rowTokens[2 * y]
                let end = start + rowTokens[2 * y + 1]
                for i in start..<end {
                    let index = tableIndex(tokens[i])
                    writer.put(tableBits[index], Int(tableCounts[index]))
                }
            }
            writer.put(UInt64(literalCodes[256]), Int(literalLengths[256]))
        }

        /// Writes the scanlines as stored blocks of at most 65535 bytes.
        func writeStored(_ writer: inout BitWriter) {
            let rawCount = height * (rowBytes + 1)
            var remaining = rawCount
            var y = 0
            var offset = 0  // within the scanline: 0 is the filter byte
            var out = writer.alignedPointer()
            while remaining > 0 {
                let count = min(65535, remaining)
                remaining -= count
                out[0] = remaining == 0 ? 1 : 0  // BFINAL, BTYPE 00, padding
                out[1] = UInt8(truncatingIfNeeded: count)
                out[2] = UInt8(truncatingIfNeeded: count >> 8)
                out[3] = ~out[1]
                out[4] = ~out[2]
                out += 5
                var left = count
                while left > 0 {
                    if offset == 0 {
                        out.pointee = 0
                        out += 1
                        left -= 1
                        offset = 1
                        continue
                    }
                    let take = min(left, rowBytes + 1 - offset)
                    out.update(from: base + y * stride + (offset - 1), count: take)
                    out += take
                    left -= take
                    offset += take
                    if offset == rowBytes + 1 {
                        offset = 0
                        y += 1
                    }
                }
            }
            writer.setAlignedPointer(out)
        }
    }

    /// The header of a dynamic block: code lengths of both alphabets, run-length coded and
    /// Huffman coded with the code-length code.
    struct DynamicHeader {
        var literalCount = 257
        var distanceCount = 1
        /// Run-length coded lengths: symbol (0...18) and its extra-bit value.
        var symbols: [(symbol: UInt8, extra: UInt8)] = []
        var codeLengthLengths = [UInt8](repeating: 0, count: 19)
        var codeLengthCodes = [UInt32](repeating: 0, count: 19)
        var codeLengthCount = 4
        var bitCount = 0

        init(literalLengths: UnsafePointer<UInt8>, distanceLengths: UnsafePointer<UInt8>) {
            for s in 0..<286 where literalLengths[s] != 0 { literalCount = max(literalCount, s + 1) }
            for s in 0..<30 where distanceLengths[s] != 0 { distanceCount = max(distanceCount, s + 1) }
            var sequence = [UInt8]()
            sequence.reserveCapacity(literalCount + distanceCount)
            for s in 0..<literalCount { sequence.append(literalLengths[s]) }
            for s in 0..<distanceCount { sequence.append(distanceLengths[s]) }
            symbols.reserveCapacity(sequence.count)
            var i = 0
            while i < sequence.count {
                let value = sequence[i]
                var run = 1
                while i + run < sequence.count && sequence[i + run] == value { run += 1 }
                var left = run
                if value == 0 {
                    while left >= 11 {
                        let k = min(left, 138)
                        symbols.append((18, UInt8(k - 11)))
                        left -= k
                    }
                    if left >= 3 {
                        symbols.append((17, UInt8(left - 3)))
                        left = 0
                    }
                } else {
                    symbols.append((value, 0))
                    left -= 1
                    while left >= 3 {
                        let k = min(left, 6)
                        symbols.append((16, UInt8(k - 3)))
                        left -= k
                    }
                }
                while left > 0 {
                    symbols.append((value, 0))
                    left -= 1
                }
                i += run
            }
            var freqs = [Int](repeating: 0, count: 19)
            for entry in symbols { freqs[Int(entry.symbol)] += 1 }
            freqs.withUnsafeBufferPointer { f in
                codeLengthLengths.withUnsafeMutableBufferPointer { l in
                    guard let fb = f.baseAddress, let lb = l.baseAddress else { return }
                    FastDeflate.buildCodeLengths(fb, count: 19, maxLength: 7, into: lb)
                }
            }
            codeLengthLengths.withUnsafeBufferPointer { l in
                codeLengthCodes.withUnsafeMutableBufferPointer { c in
                    guard let lb = l.baseAddress, let cb = c.baseAddress else { return }
                    FastDeflate.canonicalCodes(lb, count: 19, into: cb)
                }
            }
            for (index, symbol) in codeLengthOrder.enumerated() where codeLengthLengths[symbol] != 0 {
                codeLengthCount = max(codeLengthCount, index + 1)
            }
            bitCount = 5 + 5 + 4 + 3 * codeLengthCount
            for entry in symbols {
                bitCount += Int(codeLengthLengths[Int(entry.symbol)]) + Self.extraBits(entry.symbol)
            }
        }

        static func extraBits(_ symbol: UInt8) -> Int {
            switch symbol {
            case 16: 2
            case 17: 3
            case 18: 7
            default: 0
            }
        }

        func write(_ writer: inout BitWriter) {
            writer.put(UInt64(literalCount - 257), 5)
            writer.put(UInt64(distanceCount - 1), 5)
            writer.put(UInt64(codeLengthCount - 4), 4)
            for index in 0..<codeLengthCount {
                writer.put(UInt64(codeLengthLengths[codeLengthOrder[index]]), 3)
            }
            for entry in symbols {
                let symbol = Int(entry.symbol)
                let count = Int(codeLengthLengths[symbol])
                writer.put(
                    UInt64(codeLengthCodes[symbol]) | UInt64(entry.extra) << UInt64(count),
                    count + Self.extraBits(entry.symbol))
            }
        }
    }

    /// LSB-first bit output through a 64-bit buffer, stored as whole little-endian words: the
    /// destination needs 8 bytes of slack after the last byte written.
    struct BitWriter {
        var out: UnsafeMutablePointer<UInt8>
        var bits: UInt64 = 0
        var count = 0

        init(_ out: UnsafeMutablePointer<UInt8>) { self.out = out }

        /// Appends the low `n` bits of `value` (n <= 56; the bits above `n` must be zero).
        @inline(__always)
        mutating func put(_ value: UInt64, _ n: Int) {
            bits |= value &<< UInt64(truncatingIfNeeded: count)
            count &+= n
            UnsafeMutableRawPointer(out).storeBytes(of: bits.littleEndian, as: UInt64.self)
            let whole = count &>> 3  // at most 7
            out += whole
            bits = bits &>> UInt64(truncatingIfNeeded: whole &<< 3)
            count &= 7
        }

        /// Pads to a byte boundary; returns the next byte to write.
        mutating func alignedPointer() -> UnsafeMutablePointer<UInt8> {
            if count > 0 {
                out += 1
                bits = 0
                count = 0
            }
            return out
        }

        mutating func setAlignedPointer(_ pointer: UnsafeMutablePointer<UInt8>) {
            out = pointer
            bits = 0
            count = 0
        }

        /// Flushes the last partial byte; returns the end of the output.
        mutating func finish() -> UnsafeMutablePointer<UInt8> {
            if count > 0 {
                out.pointee = UInt8(truncatingIfNeeded: bits)
                out += 1
            }
            bits = 0
            count = 0
            return out
        }
    }
}
