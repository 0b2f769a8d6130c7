/// Anti-aliased scan conversion by signed-area accumulation (the method of stb_truetype and
/// font-rs): every edge adds, to the cells of the rows it crosses, the signed area it sweeps to
/// its right; a running sum along each row then gives each pixel's exact coverage. Memory is
/// proportional to the shape's bounding box clipped to the frame, work mostly to the pixels the
/// shape covers.
///
/// Coverage is `min(1, |winding area|)`: a contour's own orientation does not matter, contours
/// of the same orientation merge, contours of opposite orientation cut (see `Path`).
enum CoverageRasterizer {
    /// Contours reaching further than this from the origin are first clipped to the square of
    /// this half-width (which keeps their slopes), so absurd inputs can neither overflow nor slow
    /// the scan; no frame is anywhere near that large.
    static let coordinateLimit = 1.0e7

    /// Fills `contours` (after `transform`) on `canvas` with `color` at `opacity`.
    static func fill(
        contours: [[Point]], transform: Transform, color: RGBColor, opacity: Double, canvas: inout Canvas
    ) {
        guard canvas.width > 0, canvas.height > 0, opacity > 0 else { return }
        // Map and vet the vertices; a contour with a non-finite vertex is dropped whole.
        var mapped: [Point] = []
        var starts: [Int] = []
        mapped.reserveCapacity(contours.reduce(0) { $0 + $1.count })
        var minX = Double.infinity
        var minY = Double.infinity
        var maxX = -Double.infinity
        var maxY = -Double.infinity
        let limit = coordinateLimit
        for contour in contours where contour.count >= 2 {
            let start = mapped.count
            var finite = true
            var faraway = false
            for point in contour {
                let p = transform.apply(point)
                guard p.x.isFinite, p.y.isFinite else {
                    finite = false
                    break
                }
                faraway = faraway || abs(p.x) > limit || abs(p.y) > limit
                mapped.append(p)
            }
            if finite && faraway {
                let clipped = clip(Array(mapped[start...]), limit: limit)
                mapped.removeSubrange(start...)
                if let clipped {
                    mapped.append(contentsOf: clipped)
                } else {
                    finite = false
                }
            }
            if !finite || mapped.count - start < 2 {
                mapped.removeSubrange(start...)
                continue
            }
            for q in mapped[start...] {
                minX = min(minX, q.x)
                maxX = max(maxX, q.x)
                minY = min(minY, q.y)
                maxY = max(maxY, q.y)
            }
            starts.append(start)
        }
        guard !starts.isEmpty else { return }
        starts.append(mapped.count)

        // The region of the frame the shape can touch.
        let x0 = max(0, Int(minX.rounded(.down)))
        let x1 = min(canvas.width, Int(maxX.rounded(.up)))
        let y0 = max(0, Int(minY.rounded(.down)))
        let y1 = min(canvas.height, Int(maxY.rounded(.up)))
        guard x0 < x1, y0 < y1 else { return }
        let regionWidth = x1 - x0
        let regionHeight = y1 - y0
        // Two spare cells per row: edges on the right border write one or two past the last pixel.
        let stride = regionWidth + 2
        let alphaScale = Float(min(opacity, 1) * 255)
        let chunkCount = (stride + Accumulator.chunkSize - 1) >> Accumulator.chunkShift
        let wordsPerRow = (chunkCount + 63) >> 6

        // Cells are zeroed lazily, in chunks of 8 per row, and the blend pass skips the chunks no
        // edge touched (painting them whole when they lie inside the shape), so a thin shape with a
        // large bounding box (a curve across the frame) costs what it covers, not what its box covers.
        withUnsafeTemporaryAllocation(of: Float.self, capacity: stride * regionHeight) { cells in
            withUnsafeTemporaryAllocation(of: UInt64.self, capacity: wordsPerRow * regionHeight) { maskStorage in
                guard let area = cells.baseAddress, let masks = maskStorage.baseAddress else { return }
                masks.initialize(repeating: 0, count: wordsPerRow * regionHeight)
                var accumulator = Accumulator(
                    area: area, touched: masks, stride: stride, wordsPerRow: wordsPerRow, width: Double(regionWidth),
                    height: Double(regionHeight))
                let ox = Double(x0)
                let oy = Double(y0)
                for c in 0..<(starts.count - 1) {
                    let first = starts[c]
                    let end = starts[c + 1]
                    var previous = mapped[end - 1]
                    for i in first..<end {
                        let point = mapped[i]
                        accumulator.addEdge(previous.x - ox, previous.y - oy, point.x - ox, point.y - oy)
                        previous = point
                    }
                }
                let canvasStride = canvas.bytesPerRow
                let chunkSize = Accumulator.chunkSize
                canvas.withUnsafeMutableBytes { raw in
                    guard let pixels = raw.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return }
                    for row in 0..<regionHeight {
                        let rowMasks = masks + row * wordsPerRow
                        let cellsRow = area + row * stride
                        let rowPixels = pixels + (y0 + row) * canvasStride + x0 * 3
                        var sum: Float = 0
                        var chunk = 0
                        while chunk * chunkSize < regionWidth {
                            let first = chunk * chunkSize
                            let last = min(first + chunkSize, regionWidth)
                            let touched = rowMasks[chunk >> 6] & (1 << UInt64(chunk & 63)) != 0
                            if touched {
                                var dst = rowPixels + first * 3
                                for column in first..<last {
                                    sum += cellsRow[column]
                                    let alpha = UInt32(min(abs(sum), 1) * alphaScale + 0.5)
                                    if alpha >= 255 {
                                        dst[0] = color.red
                                        dst[1] = color.green
                                        dst[2] = color.blue
                                    } else if alpha > 0 {
                                        Canvas.blend(dst, color, alpha)
                                    }
                                    dst += 3
                                }
                            } else {
                                // No edge here: the coverage stays what it was on entering the chunk.
                                let alpha = UInt32(min(abs(sum), 1) * alphaScale + 0.5)
                                if alpha > 0 {
                                    var dst = rowPixels + first * 3
                                    for _ in first..<last {
                                        if alpha >= 255 {
                                            dst[0] = color.red
                                            dst[1] = color.green
                                            dst[2] = color.blue
                                        } else {
                                            Canvas.blend(dst, color, alpha)
                                        }
                                        dst += 3
                                    }
                                } else {
                                    // Nothing covered and nothing to add: jump to the next touched chunk
                                    // of this 64-chunk word, or to the next word.
                                    let ahead = rowMasks[chunk >> 6] >> UInt64(chunk & 63)
                                    chunk = ahead == 0 ? (chunk | 63) + 1 : chunk + ahead.trailingZeroBitCount
                                    continue
                                }
                            }
                            chunk += 1
                        }
                    }
                }
            }
        }
    }

    /// `contour` clipped to the square `-limit...limit` on both axes (Sutherland-Hodgman: the part
    /// inside keeps its exact shape), or nil if the arithmetic overflowed.
    static func clip(_ contour: [Point], limit: Double) -> [Point]? {
        var points = contour
        // Each boundary as (which coordinate, sign): keep points with sign * coordinate <= limit.
        for (useX, sign) in [(true, 1.0), (true, -1.0), (false, 1.0), (false, -1.0)] {
            guard let last = points.last else { return [] }
            func inside(_ p: Point) -> Bool { sign * (useX ? p.x : p.y) <= limit }
            var result: [Point] = []
            result.reserveCapacity(points.count + 2)
            var previous = last
            for point in points {
                if inside(point) != inside(previous) {
                    // Interpolate from the end inside: the far end may be so far that starting
                    // from it would lose every digit that matters.
                    let (near, far) = inside(point) ? (point, previous) : (previous, point)
                    let bound = sign * limit
                    let t = (bound - (useX ? near.x : near.y)) / ((useX ? far.x : far.y) - (useX ? near.x : near.y))
                    var cut = Point(near.x + (far.x - near.x) * t, near.y + (far.y - near.y) * t)
                    if useX { cut.x = bound } else { cut.y = bound }
                    guard cut.isFinite else { return nil }
                    result.append(cut)
                }
                if inside(point) { result.append(point) }
                previous = point
            }
            points = result
        }
        return points
    }

    /// The accumulation buffer of one fill, in region coordinates (0...width, 0...height).
    struct Accumulator {
        /// Cells per chunk, the unit of lazy zeroing and of skipping (8 measured fastest on our scenes).
        static let chunkSize = 8
        static let chunkShift = 3

        /// `stride` cells per row; only the chunks marked in `touched` are initialised.
        let area: UnsafeMutablePointer<Float>
        /// Per row, `wordsPerRow` words of one bit per chunk: set once the chunk is initialised.
        let touched: UnsafeMutablePointer<UInt64>
        let stride: Int
        let wordsPerRow: Int
        let width: Double
        let height: Double

        /// Initialises (zeroes) the chunks of `row` holding cells `first...last` not yet in use.
        @inline(__always)
        func touch(row: Int, _ first: Int, _ last: Int) {
            let rowMasks = touched + row * wordsPerRow
            let line = area + row * stride
            for chunk in (first >> Accumulator.chunkShift)...(last >> Accumulator.chunkShift) {
                let bit: UInt64 = 1 << UInt64(chunk & 63)
                if rowMasks[chunk >> 6] & bit == 0 {
                    rowMasks[chunk >> 6] |= bit
                    let start = chunk << Accumulator.chunkShift
                    (line + start).initialize(repeating: 0, count: min(Accumulator.chunkSize, stride - start))
                }
            }
        }

        /// Adds the edge from `(ax, ay)` to `(bx, by)`, clipped to the region: the parts left or
        /// right of it are pressed onto its border (they still change the winding of the pixels
        /// to their right), the parts above or below are dropped.
        @inline(__always)
        mutating func addEdge(_ ax: Double, _ ay: Double, _ bx: Double, _ by: Double) {
            if ay == by { return }
            let inside = ax >= 0 && ax <= width && bx >= 0 && bx <= width
            if inside {
                addLine(ax, ay, bx, by)
                return
            }
            // Split where the edge crosses x = 0 and x = width, then clamp each piece.
            var cuts: (Double, Double) = (2, 2)
            let dx = bx - ax
            if dx != 0 {
                let t0 = (0 - ax) / dx
                let t1 = (width - ax) / dx
                let lo = min(t0, t1)
                let hi = max(t0, t1)
                cuts = (lo > 0 && lo < 1 ? lo : 2, hi > 0 && hi < 1 ? hi : 2)
                if cuts.0 == 2 { cuts = (cuts.1, 2) }
            }
            var px = ax
            var py = ay
            for t in [cuts.0, cuts.1] where t <= 1 {
                let qx = ax + dx * t
                let qy = ay + (by - ay) * t
                addLine(min(max(px, 0), width), py, min(max(qx, 0), width), qy)
                px = qx
                py = qy
            }
            addLine(min(max(px, 0), width), py, min(max(bx, 0), width), by)
        }

        /// Adds an edge lying within `0...width` horizontally.
        @inline(__always)
        mutating func addLine(_ ax: Double, _ ay: Double, _ bx: Double, _ by: Double) {
            if ay == by { return }
            let direction: Double
            let top: (x: Double, y: Double)
            let bottom: (x: Double, y: Double)
            if ay < by {
                direction = 1
                top = (ax, ay)
                bottom = (bx, by)
            } else {
                direction = -1
                top = (bx, by)
                bottom = (ax, ay)
            }
            if bottom.y <= 0 || top.y >= height { return }
            let dxdy = (bottom.x - top.x) / (bottom.y - top.y)
            var x = top.x
            var yStart = top.y
            if yStart < 0 {
                x -= yStart * dxdy
                yStart = 0
            }
            let yEnd = min(bottom.y, height)
            let firstRow = Int(yStart)
            let endRow = Int(yEnd.rounded(.up))
            let w = width
            for row in firstRow..<endRow {
                let rowTop = Double(row)
                let dy = min(rowTop + 1, bottom.y) - max(rowTop, top.y)
                if dy <= 0 { continue }
                let xNext = x + dxdy * dy
                let d = Float(dy * direction)
                let line = area + row * stride
                let xa = min(max(min(x, xNext), 0), w)
                let xb = min(max(max(x, xNext), 0), w)
                let xaFloor = xa.rounded(.down)
                let xbCeil = xb.rounded(.up)
                let ia = Int(xaFloor)
                let ib = Int(xbCeil)
                touch(row: row, ia, max(ib, ia + 1))
                if ib <= ia + 1 {
                    // The edge stays within one pixel of this row.
                    let middle = Float(0.5 * (xa + xb) - xaFloor)
                    line[ia] += d - d * middle
                    line[ia + 1] += d * middle
                } else {
                    let s = 1 / (xb - xa)
                    let fa = xa - xaFloor
                    let a0 = 0.5 * s * (1 - fa) * (1 - fa)
                    let fb = xb - xbCeil + 1
                    let am = 0.5 * s * fb * fb
                    line[ia] += d * Float(a0)
                    if ib == ia + 2 {
                        line[ia + 1] += d * Float(1 - a0 - am)
                    } else {
                        let a1 = s * (1.5 - fa)
                        line[ia + 1] += d * Float(a1 - a0)
                        let step = d * Float(s)
                        var i = ia + 2
                        while i < ib - 1 {
                            line[i] += step
                            i += 1
                        }
                        let a2 = a1 + Double(ib - ia - 3) * s
                        line[ib - 1] += d * Float(1 - a2 - am)
                    }
                    line[ib] += d * Float(am)
                }
                x = xNext
            }
        }
    }
}

extension Canvas {
    /// Fills `path` (mapped by `transform`) with `color`, anti-aliased by exact pixel coverage;
    /// `opacity` (0...1) scales the coverage.
    public mutating func fill(_ path: Path, color: RGBColor, transform: Transform = .identity, opacity: Double = 1) {
        CoverageRasterizer.fill(
            contours: path.contours, transform: transform, color: color, opacity: opacity, canvas: &self)
    }

    /// Fills a simple polygon (convex or not, either orientation).
    public mutating func fillPolygon(
        _ points: [Point], color: RGBColor, transform: Transform = .identity, opacity: Double = 1
    ) {
        guard points.count >= 3 else { return }
        CoverageRasterizer.fill(contours: [points], transform: transform, color: color, opacity: opacity, canvas: &self)
    }
}
