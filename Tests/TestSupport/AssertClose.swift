import Foundation
import TensorCore
import XCTest

/// The tolerances `assertClose` uses when a test states none: float32 agreement with a float32 or float64
/// reference computed in another order (PyTorch, a direct Double sum). Tests that compare longer chains
/// (whole networks, gradients) state their own, with the reason beside them.
public enum DefaultTolerance {
    /// Relative tolerance.
    public static let rtol: Float = 1e-4
    /// Absolute tolerance (for entries near zero).
    public static let atol: Float = 1e-6
}

/// Asserts `actual` ≈ `expected` elementwise, |a − e| ≤ atol + rtol·|e|, with equal shapes; NaN matches
/// only NaN. Reports the worst element and the largest relative error; with `FIXTURE_VERBOSE` set it
/// prints the measured agreement even when the check passes.
public func assertClose(_ actual: Tensor?, _ expected: Tensor, rtol: Float = DefaultTolerance.rtol,
                        atol: Float = DefaultTolerance.atol, _ what: String,
                        file: StaticString = #filePath, line: UInt = #line) {
    guard let actual else {
        XCTFail("\(what): no value (expected shape \(expected.shape))", file: file, line: line)
        return
    }
    guard actual.shape == expected.shape else {
        XCTFail("\(what): shape \(actual.shape) vs expected \(expected.shape)", file: file, line: line)
        return
    }
    let a = actual.scalars, e = expected.scalars
    var worstIndex = -1, worstExcess: Float = 0, maxRelative: Float = 0
    for i in a.indices {
        let excess: Float = a[i].isNaN || e[i].isNaN
            ? (a[i].isNaN && e[i].isNaN ? 0 : .infinity)
            : abs(a[i] - e[i]) - (atol + rtol * abs(e[i]))
        if excess > 0 && (worstIndex < 0 || excess > worstExcess) { worstExcess = excess; worstIndex = i }
        if abs(e[i]) > atol { maxRelative = max(maxRelative, abs(a[i] - e[i]) / abs(e[i])) }
    }
    if ProcessInfo.processInfo.environment["FIXTURE_VERBOSE"] != nil {
        let maxAbsolute = zip(a, e).map { abs($0 - $1) }.max() ?? 0
        print("fixture \(what): max |error| \(maxAbsolute), max relative error (|expected| > atol) \(maxRelative)")
    }
    if worstIndex >= 0 {
        XCTFail("\(what): element \(worstIndex) is \(a[worstIndex]), expected \(e[worstIndex]) "
                + "(rtol \(rtol), atol \(atol); max relative error \(maxRelative))", file: file, line: line)
    }
}

