import Foundation

/// The numpy (and CPython) arithmetic the classic-control environments need bit for bit, where it
/// is not plain IEEE arithmetic or what the Swift optimizer would make of `Foundation`'s functions.
enum NumpyMath {
    // MARK: float32 sin and cos

    /// numpy's `np.sin` on a float32 value. On CPUs with FMA3 (every x86-64 since Haswell, and
    /// the machines the fixtures were made on) numpy 2.x does not call libm's `sinf` but its own
    /// vectorised algorithm (numpy/_core/src/umath/loops_trigonometric.dispatch.cpp): Cody-Waite
    /// reduction by pi/2 in three fused steps, then a degree-9 sine or degree-8 cosine polynomial,
    /// up to 1.49 ulp from the true value; arguments too large for Cody-Waite go to libm.
    /// (float64 `np.sin`/`np.cos` are libm's, so Foundation's `sin` and `cos` serve there.)
    static func sin(_ x: Float) -> Float { sinCos(x, cosine: false) }

    /// numpy's `np.cos` on a float32 value: see `sin`.
    static func cos(_ x: Float) -> Float { sinCos(x, cosine: true) }

    private static let twoOverPi: Float = 0x1.45f306p-1
    private static let codyWaitePiOver2High: Float = -0x1.921fb0p+00
    private static let codyWaitePiOver2Medium: Float = -0x1.5110b4p-22
    private static let codyWaitePiOver2Low: Float = -0x1.846988p-48
    private static let roundingMagic: Float = 0x1.800000p+23

    private static func sinCos(_ x: Float, cosine: Bool) -> Float {
        if x.isNaN { return .nan }
        let codyWaiteLimit: Float = cosine ? 71476.0625 : 117435.992
        guard abs(x) <= codyWaiteLimit else { return cosine ? Foundation.cos(x) : Foundation.sin(x) }

        // The quadrant, rounded to the nearest integer by the float32 magic-number trick. numpy's
        // source multiplies and adds separately, but GCC (which builds numpy's wheels, contracting
        // by default) fuses the two: fma(x, 2/pi, magic) - magic.
        var quadrant = roundingMagic.addingProduct(x, twoOverPi)
        quadrant = quadrant - roundingMagic

        // x - quadrant * pi/2, in three fused steps.
        var r = x.addingProduct(quadrant, codyWaitePiOver2High)
        r = r.addingProduct(quadrant, codyWaitePiOver2Medium)
        r = r.addingProduct(quadrant, codyWaitePiOver2Low)
        let r2 = r * r

        var c: Float = (-0x1.6c06dcp-10 as Float).addingProduct(0x1.98e616p-16, r2)
        c = (0x1.55553cp-05 as Float).addingProduct(c, r2)
        c = (-0x1.000000p-01 as Float).addingProduct(c, r2)
        c = (0x1.000000p+00 as Float).addingProduct(c, r2)

        var s: Float = (-0x1.a06bbap-13 as Float).addingProduct(0x1.7d3bbcp-19, r2)
        s = (0x1.11119ap-07 as Float).addingProduct(s, r2)
        s = (-0x1.555556p-03 as Float).addingProduct(s, r2)
        s = (0 as Float).addingProduct(s, r2)
        s = r.addingProduct(s, r)

        // Sine or cosine of the reduced angle by quadrant, negated in the lower half-turn.
        var k = Int32(quadrant)
        if cosine { k &+= 1 }
        var result = (k & 1) == 0 ? s : c
        if (k & 2) == 2 { result = 0 - result }
        return result
    }

    // MARK: float64 remainder and power

    /// numpy's (and Python's) floating-point `%`: `fmod`, moved into the divisor's sign.
    static func remainder(_ a: Double, _ b: Double) -> Double {
        var mod = fmod(a, b)
        if b == 0 { return mod }
        if mod != 0 {
            if (b < 0) != (mod < 0) { mod += b }
        } else {
            mod = Double(signOf: b, magnitudeOf: 0)
        }
        return mod
    }

    /// numpy's `**` on float64 scalars (and Python's `math.pow`): libm's `pow`. It has to stay a
    /// call: the optimizer rewrites `pow(x, 2)` as `x * x`, and glibc's `pow(x, 2)` is not always
    /// the correctly rounded `x * x` (about one value in a thousand differs in the last bit).
    @_optimize(none)
    static func pow(_ x: Double, _ y: Double) -> Double {
        Foundation.pow(x, y)
    }

    /// numpy's `**` on float32 scalars: libm's `powf`, kept a call for the same reason.
    @_optimize(none)
    static func pow(_ x: Float, _ y: Float) -> Float {
        Foundation.pow(x, y)
    }
}
