/// exp, log and friends in fixed code made of IEEE basic operations only, so every machine computes
/// the same bits.
///
/// libm's versions differ by ISA (glibc picks FMA or non-FMA variants at load time, other C libraries
/// use other algorithms) and are not correctly rounded, so the same input can give a different last bit
/// on another machine; one such bit in a loss or a softmax is enough for two training runs to drift
/// apart. Swift never fuses `a * b + c` on its own, so each line below rounds the same way everywhere.
/// Accuracy: within about 1 ulp of the true value in Double (checked against libm in the tests);
/// the Float entry points round the Double result once more.
public enum FixedMath {
    // Cody–Waite split of ln 2 (fdlibm's constants): k · ln2High is exact for |k| < 2¹¹.
    static let ln2High = 6.93147180369123816490e-01
    static let ln2Low = 1.90821492927058770002e-10
    static let log2e = 1.44269504088896338700e+00

    /// eˣ. Range reduction x = k·ln 2 + r with |r| ≤ ln 2 / 2, then a degree-13 Taylor polynomial of
    /// eʳ (truncation error below 5e-18 relative) and an exact scaling by 2ᵏ.
    public static func exp(_ x: Double) -> Double {
        if x.isNaN { return x }
        if x > 709.782712893384 { return .infinity }
        if x < -745.1332191019412 { return 0 }
        let k = (x * log2e).rounded(.toNearestOrEven)
        let r = (x - k * ln2High) - k * ln2Low
        // Horner form of Σ rⁿ/n!, n = 0…13.
        var p = 1.0 / 6_227_020_800.0
        p = p * r + 1.0 / 479_001_600.0
        p = p * r + 1.0 / 39_916_800.0
        p = p * r + 1.0 / 3_628_800.0
        p = p * r + 1.0 / 362_880.0
        p = p * r + 1.0 / 40_320.0
        p = p * r + 1.0 / 5_040.0
        p = p * r + 1.0 / 720.0
        p = p * r + 1.0 / 120.0
        p = p * r + 1.0 / 24.0
        p = p * r + 1.0 / 6.0
        p = p * r + 0.5
        p = p * r + 1.0
        p = p * r + 1.0
        return scaled(p, byPowerOfTwo: Int(k))
    }

    /// Natural logarithm. x = 2ᵉ·m with m in [√½, √2), then log m = 2·atanh(f), f = (m − 1)/(m + 1),
    /// |f| ≤ 0.172, by its odd series to f²⁵ (truncation below 1e-19 relative).
    public static func log(_ x: Double) -> Double {
        if x.isNaN || x < 0 { return .nan }
        if x == 0 { return -.infinity }
        if x.isInfinite { return x }
        var m = x.significand                 // [1, 2), exact
        var e = Double(x.exponent)            // subnormals included: Swift normalises them
        if m > 1.4142135623730951 { m *= 0.5; e += 1 }
        let f = (m - 1) / (m + 1)
        let s = f * f
        // Σ s^j / (2j + 1), j = 0…12, in Horner form.
        var p = 1.0 / 25.0
        p = p * s + 1.0 / 23.0
        p = p * s + 1.0 / 21.0
        p = p * s + 1.0 / 19.0
        p = p * s + 1.0 / 17.0
        p = p * s + 1.0 / 15.0
        p = p * s + 1.0 / 13.0
        p = p * s + 1.0 / 11.0
        p = p * s + 1.0 / 9.0
        p = p * s + 1.0 / 7.0
        p = p * s + 1.0 / 5.0
        p = p * s + 1.0 / 3.0
        let logM = 2 * f + 2 * f * (s * p)
        return e * ln2High + (logM + e * ln2Low)
    }

    /// log(1 + x), accurate for small x (Goldberg's correction of the rounding in 1 + x).
    public static func log1p(_ x: Double) -> Double {
        if x.isNaN { return x }
        let u = 1 + x
        if u == 1 { return x }
        if u.isInfinite { return u }
        return log(u) * (x / (u - 1))
    }

    /// xʸ for x > 0 as e^(y·log x) (Adam's bias corrections).
    public static func pow(_ x: Double, _ y: Double) -> Double {
        precondition(x > 0, "FixedMath.pow needs a positive base, got \(x)")
        return exp(y * log(x))
    }

    /// eˣ in Float (through Double, rounded once to Float).
    @inline(__always)
    public static func exp(_ x: Float) -> Float { Float(exp(Double(x))) }

    /// Natural logarithm in Float.
    @inline(__always)
    public static func log(_ x: Float) -> Float { Float(log(Double(x))) }

    /// log(1 + x) in Float.
    @inline(__always)
    public static func log1p(_ x: Float) -> Float { Float(log1p(Double(x))) }

    /// σ(x) = 1 / (1 + e⁻ˣ) without overflow for large |x|.
    @inline(__always)
    public static func sigmoid(_ x: Float) -> Float {
        let e = exp(-Swift.abs(Double(x)))
        return Float(x >= 0 ? 1 / (1 + e) : e / (1 + e))
    }

    /// p · 2ᵏ exactly where the result is normal; in two steps for subnormal results.
    static func scaled(_ p: Double, byPowerOfTwo k: Int) -> Double {
        if k > 1023 { return p * 0x1p1023 * Double(sign: .plus, exponent: k - 1023, significand: 1) }
        if k < -1022 { return p * 0x1p-1022 * Double(sign: .plus, exponent: k + 1022, significand: 1) }
        return p * Double(sign: .plus, exponent: k, significand: 1)
    }
}
