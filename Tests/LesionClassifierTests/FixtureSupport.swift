import Foundation
import NeuralNetwork
import TensorCore
import XCTest

/// Reads a parity fixture written by Tools/make_classifier_fixtures.py (see Fixtures/README.md).
func classifierFixture(_ name: String) throws -> SafeTensorsFile {
    guard let url = Bundle.module.url(forResource: name, withExtension: "safetensors", subdirectory: "Fixtures") else {
        throw NSError(domain: "Fixture", code: 1, userInfo: [NSLocalizedDescriptionKey:
            "fixture \(name).safetensors missing: run /work/refenv/bin/python Tools/make_classifier_fixtures.py"])
    }
    return try SafeTensorsFile.read(url)
}

extension SafeTensorsFile {
    /// The float tensor `key` (a test failure, not a crash, when absent).
    func float(_ key: String, file: StaticString = #filePath, line: UInt = #line) throws -> Tensor {
        try XCTUnwrap(tensors[key], "fixture \(source) has no F32 tensor \(key)", file: file, line: line)
    }

    /// The int64 tensor `key` as Ints.
    func ints(_ key: String, file: StaticString = #filePath, line: UInt = #line) throws -> [Int] {
        try XCTUnwrap(integerTensors[key], "fixture \(source) has no I64 tensor \(key)", file: file, line: line)
            .scalars.map { Int($0) }
    }
}

/// Asserts |actual − expected| ≤ atol + rtol·|expected| elementwise (and equal shapes); reports the worst element.
func assertClose(_ actual: Tensor, _ expected: Tensor, rtol: Float = 1e-4, atol: Float = 1e-6, _ message: String,
                 file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(actual.shape, expected.shape, "\(message): shape", file: file, line: line)
    guard actual.shape == expected.shape else { return }
    let a = actual.scalars, e = expected.scalars
    var worst = -1, worstExcess: Float = 0
    for i in 0..<a.count {
        let excess = a[i].isNaN || e[i].isNaN ? (a[i].isNaN == e[i].isNaN ? 0 : .infinity)
            : abs(a[i] - e[i]) - (atol + rtol * abs(e[i]))
        if excess > worstExcess { worstExcess = excess; worst = i }
    }
    if worst >= 0 {
        XCTFail("\(message): element \(worst) is \(a[worst]), expected \(e[worst]) (rtol \(rtol), atol \(atol))",
                file: file, line: line)
    }
}

/// The largest |a − e| / max(|e|, floor) over all elements (for reporting measured agreement).
func maxRelativeError(_ actual: Tensor, _ expected: Tensor, floor: Float = 1e-6) -> Float {
    zip(actual.scalars, expected.scalars).map { abs($0 - $1) / max(abs($1), floor) }.max() ?? 0
}
