import Foundation

/// Summary statistics over replicate values and the intervals and tests the aggregate and baseline
/// gates use: Student's t (quantiles from the regularized incomplete beta function, not a table),
/// Wilson's score interval for a pooled proportion, and Welch's unequal-variance t test.
public enum ReplicateStatistics {
    /// The standard normal 97.5 % quantile, for Wilson's 95 % interval.
    public static let z975 = 1.959963984540054

    /// Arithmetic mean (NaN for no values).
    public static func mean(_ x: [Double]) -> Double { x.isEmpty ? .nan : x.reduce(0, +) / Double(x.count) }

    /// Sample standard deviation (n − 1 in the denominator); NaN for fewer than two values.
    public static func standardDeviation(_ x: [Double]) -> Double {
        guard x.count >= 2 else { return .nan }
        let m = mean(x)
        return (x.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(x.count - 1)).squareRoot()
    }

    /// The two-sided 95 % Student-t interval of the mean: mean ∓ t(0.975, n − 1) · s / √n; nil for n < 2.
    public static func studentInterval95(_ x: [Double]) -> (low: Double, high: Double)? {
        guard x.count >= 2 else { return nil }
        let half = studentTQuantile(0.975, degreesOfFreedom: Double(x.count - 1)) * standardDeviation(x) / Double(x.count).squareRoot()
        return (mean(x) - half, mean(x) + half)
    }

    /// Wilson's 95 % score interval for `successes` of `trials`; nil for no trials.
    public static func wilsonInterval95(successes: Double, trials: Double) -> (low: Double, high: Double)? {
        guard trials > 0 else { return nil }
        let z = z975, p = successes / trials, z2 = z * z
        let centre = (p + z2 / (2 * trials)) / (1 + z2 / trials)
        let half = z / (1 + z2 / trials) * (p * (1 - p) / trials + z2 / (4 * trials * trials)).squareRoot()
        return (centre - half, centre + half)
    }

    /// P(T ≤ t) for Student's t with `nu` degrees of freedom: 1 − I_{ν/(ν+t²)}(ν/2, 1/2) / 2 for t ≥ 0.
    public static func studentTCDF(_ t: Double, degreesOfFreedom nu: Double) -> Double {
        if t.isNaN || nu.isNaN || nu <= 0 { return .nan }
        if t.isInfinite { return t > 0 ? 1 : 0 }
        let tail = 0.5 * regularizedIncompleteBeta(nu / (nu + t * t), a: nu / 2, b: 0.5)
        return t >= 0 ? 1 - tail : tail
    }

    /// The p-quantile of Student's t: the CDF inverted by bisection on a bracket grown until it holds p
    /// (the CDF is monotone, so this converges to the last bit without a starting guess).
    public static func studentTQuantile(_ p: Double, degreesOfFreedom nu: Double) -> Double {
        guard p > 0, p < 1, nu > 0 else { return .nan }
        if p == 0.5 { return 0 }
        if p < 0.5 { return -studentTQuantile(1 - p, degreesOfFreedom: nu) }
        var low = 0.0, high = 1.0
        while studentTCDF(high, degreesOfFreedom: nu) < p { low = high; high *= 2 }
        for _ in 0..<200 {
            let mid = (low + high) / 2
            if mid == low || mid == high { break }
            if studentTCDF(mid, degreesOfFreedom: nu) < p { low = mid } else { high = mid }
        }
        return (low + high) / 2
    }

    /// The regularized incomplete beta function I_x(a, b), by its continued fraction (modified Lentz),
    /// using the symmetry I_x(a, b) = 1 − I_{1−x}(b, a) where the fraction converges slowly.
    public static func regularizedIncompleteBeta(_ x: Double, a: Double, b: Double) -> Double {
        if x <= 0 { return 0 }
        if x >= 1 { return 1 }
        // Prefactor x^a (1−x)^b / (a B(a, b)), in logs to keep large a, b finite.
        let logFront = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x)
        if x > (a + 1) / (a + b + 2) { return 1 - regularizedIncompleteBeta(1 - x, a: b, b: a) }
        let tiny = 1e-300
        var c = 1.0, d = 1 - (a + b) * x / (a + 1)
        if abs(d) < tiny { d = tiny }
        d = 1 / d
        var h = d
        for m in 1...10_000 {
            let m = Double(m)
            // Even step: d_{2m} = m (b − m) x / ((a + 2m − 1)(a + 2m)).
            var num = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
            d = 1 + num * d; if abs(d) < tiny { d = tiny }
            c = 1 + num / c; if abs(c) < tiny { c = tiny }
            d = 1 / d; h *= d * c
            // Odd step: d_{2m+1} = −(a + m)(a + b + m) x / ((a + 2m)(a + 2m + 1)).
            num = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
            d = 1 + num * d; if abs(d) < tiny { d = tiny }
            c = 1 + num / c; if abs(c) < tiny { c = tiny }
            d = 1 / d
            let delta = d * c
            h *= delta
            if abs(delta - 1) < 1e-15 { break }
        }
        return exp(logFront) * h / a
    }

    /// Welch's t test of "current is worse than baseline by more than `margin`": the statistic
    /// t = (mean(current) − mean(baseline) + margin) / √(s₁²/n₁ + s₂²/n₂) with Welch–Satterthwaite degrees
    /// of freedom and the one-sided p = P(T ≤ t). A side with one value borrows the other side's variance
    /// (the same noise assumed); with one value on both sides there is no test (p is nil).
    public static func welchWorse(current x: [Double], baseline y: [Double], margin: Double)
        -> (t: Double, degreesOfFreedom: Double, p: Double)? {
        guard !x.isEmpty, !y.isEmpty, x.count >= 2 || y.count >= 2 else { return nil }
        var vx = x.count >= 2 ? pow(standardDeviation(x), 2) : .nan
        var vy = y.count >= 2 ? pow(standardDeviation(y), 2) : .nan
        if vx.isNaN { vx = vy }
        if vy.isNaN { vy = vx }
        let ax = vx / Double(x.count), ay = vy / Double(y.count)
        let se = (ax + ay).squareRoot()
        let diff = mean(x) - mean(y) + margin
        if se == 0 { return (diff < 0 ? -.infinity : .infinity, .infinity, diff < 0 ? 0 : 1) }
        // Welch–Satterthwaite; a side that borrowed its variance contributes no degrees of freedom.
        let dx = x.count >= 2 ? ax * ax / Double(x.count - 1) : 0
        let dy = y.count >= 2 ? ay * ay / Double(y.count - 1) : 0
        let df = pow(ax + ay, 2) / (dx + dy)
        let t = diff / se
        return (t, df, studentTCDF(t, degreesOfFreedom: df))
    }
}
