import Foundation

/// A linear or logarithmic axis mapping data values to pixels, with "nice" tick values (1, 2, 5 × 10ⁿ).
public struct PlotAxis: Sendable {
    public var lower: Double, upper: Double
    /// Pixel positions of `lower` and `upper` (for a y axis, `from` is the bottom).
    public var from: Double, to: Double
    public var logarithmic: Bool

    /// An axis covering `values` (padded to nice ticks; a single value gets a unit-wide range).
    public init(covering values: [Double], from: Double, to: Double, logarithmic: Bool = false, includeZero: Bool = false) {
        let finite = values.filter { $0.isFinite && (!logarithmic || $0 > 0) }
        var lo = finite.min() ?? 0, hi = finite.max() ?? 1
        if includeZero && !logarithmic { lo = min(lo, 0); hi = max(hi, 0) }
        if logarithmic {
            if finite.isEmpty { lo = 1; hi = 10 }
            lo = pow(10, floor(log10(lo))); hi = pow(10, ceil(log10(hi)))
            if hi <= lo { hi = lo * 10 }
        } else {
            if hi <= lo { let pad = lo == 0 ? 1 : abs(lo) * 0.1; lo -= pad; hi += pad }
            let step = Self.niceStep((hi - lo) / 5)
            lo = floor(lo / step) * step; hi = ceil(hi / step) * step
        }
        self.lower = lo; self.upper = hi; self.from = from; self.to = to; self.logarithmic = logarithmic
    }

    /// An axis over a fixed range.
    public init(lower: Double, upper: Double, from: Double, to: Double) {
        self.lower = lower; self.upper = upper; self.from = from; self.to = to; self.logarithmic = false
    }

    /// The pixel position of a value.
    public func position(_ value: Double) -> Double {
        let t = logarithmic ? (log10(max(value, 1e-300)) - log10(lower)) / (log10(upper) - log10(lower))
                            : (value - lower) / (upper - lower)
        return from + t * (to - from)
    }

    /// Tick values inside the range.
    public var ticks: [Double] {
        if logarithmic {
            var ticks: [Double] = [], v = lower
            while v <= upper * 1.0001 { ticks.append(v); v *= 10 }
            return ticks
        }
        let step = Self.niceStep((upper - lower) / 5)
        var ticks: [Double] = []
        var v = (lower / step).rounded(.up) * step
        while v <= upper + step * 1e-9 { ticks.append(abs(v) < step * 1e-9 ? 0 : v); v += step }
        return ticks
    }

    /// A tick label: short, without trailing zeros; thousands as k/M.
    public func label(_ value: Double) -> String { PlotAxis.format(value) }

    /// A compact number: 0.25, 3, 1.5k, 2M.
    public static func format(_ value: Double) -> String {
        let a = abs(value)
        if a >= 1_000_000 { return trim(String(format: "%.1f", value / 1_000_000)) + "M" }
        if a >= 10_000 { return trim(String(format: "%.1f", value / 1000)) + "k" }
        if a >= 100 || value == value.rounded() { return String(format: "%.0f", value) }
        if a >= 1 { return trim(String(format: "%.2f", value)) }
        if a == 0 { return "0" }
        if a < 0.01 {
            // 1.5e-3 rather than 0.0015: short enough for a tick column.
            let exponent = Int(floor(log10(a)))
            return trim(String(format: "%.2f", value / pow(10, Double(exponent)))) + "e\(exponent)"
        }
        return trim(String(format: "%.3g", value))
    }

    static func trim(_ s: String) -> String {
        guard s.contains("."), !s.contains("e") else { return s }
        var t = s
        while t.hasSuffix("0") { t.removeLast() }
        if t.hasSuffix(".") { t.removeLast() }
        return t
    }

    static func niceStep(_ raw: Double) -> Double {
        guard raw > 0, raw.isFinite else { return 1 }
        let magnitude = pow(10, floor(log10(raw)))
        let f = raw / magnitude
        return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * magnitude
    }
}

/// The shared palette: colour-blind-safe series colours (Okabe–Ito) and a sequential scale for heat maps.
public enum PlotColors {
    /// Series colours in order.
    public static let series = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"]

    /// The colour of `t` in [0, 1] on a white → blue sequential scale (light for low, dark for high).
    public static func sequential(_ t: Double) -> String {
        let x = max(0, min(1, t.isFinite ? t : 0))
        let stops: [(Double, Double, Double)] = [(247, 251, 255), (198, 219, 239), (107, 174, 214), (33, 113, 181), (8, 48, 107)]
        let scaled = x * Double(stops.count - 1)
        let i = min(Int(scaled), stops.count - 2)
        let f = scaled - Double(i)
        let (a, b) = (stops[i], stops[i + 1])
        return String(format: "#%02x%02x%02x", Int((a.0 + (b.0 - a.0) * f).rounded()),
                      Int((a.1 + (b.1 - a.1) * f).rounded()), Int((a.2 + (b.2 - a.2) * f).rounded()))
    }

    /// Whether text on the sequential colour of `t` should be white.
    public static func needsLightText(_ t: Double) -> Bool { t > 0.55 }
}
