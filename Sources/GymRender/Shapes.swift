/// Everyday shapes, each one `Path` filled with exact coverage. Coordinates go through
/// `transform` first; widths and radii are in the same (untransformed) units.
extension Canvas {
    /// How far (in pixels) a flattened curve may stray from the true one.
    static let curveTolerance = 0.05

    /// Flattening tolerance in path units for a path drawn through `transform`.
    static func tolerance(for transform: Transform) -> Double {
        let scale = transform.meanScale
        return scale > 0 && scale.isFinite ? curveTolerance / scale : curveTolerance
    }

    /// Fills the disc of `radius` around `center`.
    public mutating func fillCircle(
        center: Point, radius: Double, color: RGBColor, transform: Transform = .identity, opacity: Double = 1
    ) {
        var path = Path()
        path.addCircle(center: center, radius: radius, tolerance: Canvas.tolerance(for: transform))
        fill(path, color: color, transform: transform, opacity: opacity)
    }

    /// Draws the circle of `radius` around `center` as a ring `lineWidth` wide, centred on it.
    public mutating func strokeCircle(
        center: Point, radius: Double, lineWidth: Double = 1, color: RGBColor, transform: Transform = .identity,
        opacity: Double = 1
    ) {
        var path = Path()
        path.addRing(center: center, radius: radius, lineWidth: lineWidth, tolerance: Canvas.tolerance(for: transform))
        fill(path, color: color, transform: transform, opacity: opacity)
    }

    /// Draws the segment from `start` to `end`, `lineWidth` wide.
    public mutating func strokeLine(
        from start: Point, to end: Point, lineWidth: Double = 1, color: RGBColor, cap: LineCap = .butt,
        transform: Transform = .identity, opacity: Double = 1
    ) {
        var path = Path()
        path.addLine(from: start, to: end, lineWidth: lineWidth, cap: cap)
        fill(path, color: color, transform: transform, opacity: opacity)
    }

    /// Draws a polyline `lineWidth` wide; `closed` joins the last point back to the first.
    /// Overlaps at the joints are painted once.
    public mutating func strokePolyline(
        _ points: [Point], lineWidth: Double = 1, color: RGBColor, closed: Bool = false, cap: LineCap = .butt,
        join: LineJoin = .round, transform: Transform = .identity, opacity: Double = 1
    ) {
        var path = Path()
        path.addPolyline(points, lineWidth: lineWidth, closed: closed, cap: cap, join: join)
        fill(path, color: color, transform: transform, opacity: opacity)
    }

    /// Fills `rect`, anti-aliased where its sides do not fall on pixel boundaries.
    public mutating func fillRect(_ rect: Rect, color: RGBColor, transform: Transform = .identity, opacity: Double = 1) {
        fillPolygon(rect.corners, color: color, transform: transform, opacity: opacity)
    }

    /// Draws the outline of `rect`, `lineWidth` wide and centred on its sides.
    public mutating func strokeRect(
        _ rect: Rect, lineWidth: Double = 1, color: RGBColor, transform: Transform = .identity, opacity: Double = 1
    ) {
        let half = lineWidth / 2
        var path = Path()
        path.addPolygon(
            Rect(x: rect.x - half, y: rect.y - half, width: rect.width + lineWidth, height: rect.height + lineWidth)
                .corners)
        if rect.width > lineWidth, rect.height > lineWidth {
            path.addHole(
                Rect(x: rect.x + half, y: rect.y + half, width: rect.width - lineWidth, height: rect.height - lineWidth)
                    .corners)
        }
        fill(path, color: color, transform: transform, opacity: opacity)
    }

    /// Draws the outline of the pixel-aligned rectangle of columns `x..<x+width`, rows
    /// `y..<y+height`, `thickness` pixels thick and inside it (pygame's `draw.rect` with a width).
    public mutating func strokePixels(x: Int, y: Int, width w: Int, height h: Int, thickness: Int = 1, color: RGBColor) {
        guard w > 0, h > 0, thickness > 0 else { return }
        let t = min(thickness, (min(w, h) + 1) / 2)
        fillPixels(x: x, y: y, width: w, height: t, color: color)
        fillPixels(x: x, y: y + h - t, width: w, height: t, color: color)
        fillPixels(x: x, y: y + t, width: t, height: h - 2 * t, color: color)
        fillPixels(x: x + w - t, y: y + t, width: t, height: h - 2 * t, color: color)
    }
}
