/// An opaque 8-bit sRGB colour, the unit of every `Canvas` pixel.
public struct RGBColor: Hashable, Sendable, CustomStringConvertible {
    /// Red, 0...255.
    public var red: UInt8
    /// Green, 0...255.
    public var green: UInt8
    /// Blue, 0...255.
    public var blue: UInt8

    /// A colour from its three channels.
    public init(_ red: UInt8, _ green: UInt8, _ blue: UInt8) {
        self.red = red
        self.green = green
        self.blue = blue
    }

    /// A colour written as `0xRRGGBB`.
    public init(hex: UInt32) {
        self.init(UInt8(truncatingIfNeeded: hex >> 16), UInt8(truncatingIfNeeded: hex >> 8), UInt8(truncatingIfNeeded: hex))
    }

    /// `(255, 255, 255)`.
    public static let white = RGBColor(255, 255, 255)
    /// `(0, 0, 0)`.
    public static let black = RGBColor(0, 0, 0)

    /// This colour laid `coverage` (0...1) of the way over `background`, rounded to the nearest level.
    public func blended(over background: RGBColor, coverage: Double) -> RGBColor {
        let alpha = coverage.isNaN ? 0 : min(max(coverage, 0), 1)
        func mix(_ top: UInt8, _ bottom: UInt8) -> UInt8 {
            UInt8((Double(bottom) + (Double(top) - Double(bottom)) * alpha).rounded())
        }
        return RGBColor(mix(red, background.red), mix(green, background.green), mix(blue, background.blue))
    }

    public var description: String { "RGB(\(red), \(green), \(blue))" }
}
