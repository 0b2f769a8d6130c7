// numpy's ziggurat samplers for the standard normal and standard exponential distributions
// (`random_standard_normal`, `random_standard_exponential` in distributions.c), used by
// Gymnasium's Box.sample for unbounded and half-bounded dimensions. The tables are numpy's,
// in ZigguratTables.swift.

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

extension RandomGenerator {
    /// `standard_normal()`.
    public mutating func standardNormal() -> Double {
        while true {
            // 8 bits of layer index, 1 sign bit, 52 bits of magnitude.
            var bits = bitGenerator.nextUInt64()
            let layer = Int(bits & 0xff)
            bits >>= 8
            let negative = bits & 1 != 0
            let magnitude = (bits >> 1) & 0x000f_ffff_ffff_ffff
            var x = Double(magnitude) * ZigguratTables.normalW(layer)
            if negative { x = -x }
            if magnitude < ZigguratTables.normalK[layer] {
                return x
            }
            if layer == 0 {
                // The tail beyond r, by Marsaglia's method.
                while true {
                    let xx = -ZigguratTables.normalInverseR * log1p(-bitGenerator.nextDouble())
                    let yy = -log1p(-bitGenerator.nextDouble())
                    if yy + yy > xx * xx {
                        return (magnitude >> 8) & 1 != 0
                            ? -(ZigguratTables.normalR + xx) : ZigguratTables.normalR + xx
                    }
                }
            } else {
                let below = ZigguratTables.normalF(layer - 1)
                let above = ZigguratTables.normalF(layer)
                if (below - above) * bitGenerator.nextDouble() + above < exp(-0.5 * x * x) {
                    return x
                }
            }
        }
    }

    /// `standard_normal(size=count)`.
    public mutating func standardNormal(count: Int) -> [Double] {
        (0..<count).map { _ in standardNormal() }
    }

    /// `normal(loc, scale)`: `loc + scale * standard_normal()`.
    public mutating func normal(loc: Double = 0, scale: Double = 1) -> Double {
        loc + scale * standardNormal()
    }

    /// `normal(loc, scale, size=count)` (Box.sample's `normal(size=...)` is `loc: 0, scale: 1`).
    public mutating func normal(loc: Double = 0, scale: Double = 1, count: Int) -> [Double] {
        (0..<count).map { _ in loc + scale * standardNormal() }
    }

    /// `standard_exponential()` (the default ziggurat method).
    public mutating func standardExponential() -> Double {
        while true {
            // 3 bits dropped, 8 bits of layer index, 53 bits of magnitude.
            var bits = bitGenerator.nextUInt64() >> 3
            let layer = Int(bits & 0xff)
            bits >>= 8
            let x = Double(bits) * ZigguratTables.exponentialW(layer)
            if bits < ZigguratTables.exponentialK[layer] {
                return x
            }
            if layer == 0 {
                return ZigguratTables.exponentialR - log1p(-bitGenerator.nextDouble())
            }
            let below = ZigguratTables.exponentialF(layer - 1)
            let above = ZigguratTables.exponentialF(layer)
            if (below - above) * bitGenerator.nextDouble() + above < exp(-x) {
                return x
            }
            // Otherwise numpy starts over with a fresh draw.
        }
    }

    /// `standard_exponential(size=count)`.
    public mutating func standardExponential(count: Int) -> [Double] {
        (0..<count).map { _ in standardExponential() }
    }

    /// `exponential(scale)`: `scale * standard_exponential()`.
    public mutating func exponential(scale: Double = 1) -> Double {
        scale * standardExponential()
    }

    /// `exponential(scale, size=count)` (Box.sample's `exponential(size=...)` is `scale: 1`).
    public mutating func exponential(scale: Double = 1, count: Int) -> [Double] {
        (0..<count).map { _ in scale * standardExponential() }
    }
}
