import GymCore
import GymRender

/// The frame of a vector instance: every sub-environment's frame in a grid, sub-environment 0 at
/// the top left, then along the rows. Large vectors are drawn smaller: the mosaic is at most
/// `maximumSide` pixels wide and high, each sub-environment's frame scaled down by averaging.
public enum Mosaic {
    public static let maximumSide = 1600

    /// Columns, rows and the size of a tile for `count` frames of `width` x `height`.
    public static func layout(count: Int, width: Int, height: Int, maximumSide: Int = maximumSide)
        -> (columns: Int, rows: Int, tileWidth: Int, tileHeight: Int)
    {
        let columns = max(1, Int(Double(count).squareRoot().rounded(.up)))
        let rows = max(1, (count + columns - 1) / columns)
        let scale = min(1, Double(maximumSide) / Double(columns * width), Double(maximumSide) / Double(rows * height))
        return (columns, rows, max(1, Int(Double(width) * scale)), max(1, Int(Double(height) * scale)))
    }

    /// Copies `frame` into `mosaic` at (`x`, `y`) scaled to `width` x `height` (each output pixel the
    /// average of up to 4 x 4 samples of the area it covers).
    public static func place(_ frame: Canvas, into mosaic: inout Canvas, x: Int, y: Int, width: Int, height: Int) {
        let sx = Double(frame.width) / Double(width)
        let sy = Double(frame.height) / Double(height)
        let samplesX = max(1, min(4, Int(sx.rounded(.up))))
        let samplesY = max(1, min(4, Int(sy.rounded(.up))))
        let (targetWidth, targetHeight, targetRow) = (mosaic.width, mosaic.height, mosaic.bytesPerRow)
        frame.withUnsafeBytes { source in
            mosaic.withUnsafeMutableBytes { target in
                for row in 0..<height {
                    let ty = y + row
                    guard ty >= 0 && ty < targetHeight else { continue }
                    for column in 0..<width {
                        let tx = x + column
                        guard tx >= 0 && tx < targetWidth else { continue }
                        var r = 0
                        var g = 0
                        var b = 0
                        for j in 0..<samplesY {
                            let fy = min(frame.height - 1, Int((Double(row) + (Double(j) + 0.5) / Double(samplesY)) * sy))
                            for i in 0..<samplesX {
                                let fx = min(frame.width - 1, Int((Double(column) + (Double(i) + 0.5) / Double(samplesX)) * sx))
                                let offset = fy * frame.bytesPerRow + fx * 3
                                r += Int(source[offset])
                                g += Int(source[offset + 1])
                                b += Int(source[offset + 2])
                            }
                        }
                        let count = samplesX * samplesY
                        let offset = ty * targetRow + tx * 3
                        target[offset] = UInt8((r + count / 2) / count)
                        target[offset + 1] = UInt8((g + count / 2) / count)
                        target[offset + 2] = UInt8((b + count / 2) / count)
                    }
                }
            }
        }
    }
}

extension VectorEnvironment {
    /// All sub-environments' frames as one mosaic (`Mosaic`); throws before the first reset or for
    /// an environment that cannot draw.
    public func renderMosaic(maximumSide: Int = Mosaic.maximumSide) throws(GymError) -> Canvas {
        let first = try envs[0].renderFrame()
        if envs.count == 1 { return first }
        let layout = Mosaic.layout(count: envs.count, width: first.width, height: first.height, maximumSide: maximumSide)
        var mosaic = Canvas(width: layout.columns * layout.tileWidth, height: layout.rows * layout.tileHeight, background: RGBColor(224, 228, 233))
        for index in envs.indices {
            let frame = index == 0 ? first : try envs[index].renderFrame()
            let x = (index % layout.columns) * layout.tileWidth
            let y = (index / layout.columns) * layout.tileHeight
            Mosaic.place(frame, into: &mosaic, x: x, y: y, width: layout.tileWidth, height: layout.tileHeight)
        }
        return mosaic
    }
}
