import Foundation
import NeuralNetwork
import TensorCore
import XCTest

/// Loads a fixture from the test bundle's Fixtures directory.
func loadFixture(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws -> SafeTensorsFile {
    guard let url = Bundle.module.url(forResource: name, withExtension: "safetensors", subdirectory: "Fixtures") else {
        XCTFail("fixture \(name).safetensors is missing; run Tools/make_nn_fixtures.py", file: file, line: line)
        throw SafeTensorsError.fileNotFound(file: "Fixtures/\(name).safetensors")
    }
    return try SafeTensorsFile.read(url)
}

extension SafeTensorsFile {
    /// The float tensor `name`, failing the test when absent.
    func tensor(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws -> Tensor {
        guard let tensor = tensors[name] else {
            XCTFail("fixture \(source) has no tensor \(name)", file: file, line: line)
            throw SafeTensorsError.invalidTensor(file: source, tensor: name, detail: "missing")
        }
        return tensor
    }

    /// The JSON object stored under metadata key `name`.
    func jsonMetadata(_ name: String) -> [String: Any] {
        guard let text = metadata[name], let data = text.data(using: .utf8),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return [:] }
        return object
    }
}

/// Asserts `actual` ≈ `expected` elementwise: |a − e| ≤ atol + rtol·|e|, shapes equal. Reports the worst element.
func assertClose(_ actual: Tensor?, _ expected: Tensor, rtol: Float, atol: Float, _ what: String,
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
        let difference = abs(a[i] - e[i])
        if !(difference <= atol + rtol * abs(e[i])) {
            let excess = difference.isNaN ? .infinity : difference - (atol + rtol * abs(e[i]))
            if worstIndex < 0 || excess > worstExcess { worstExcess = excess; worstIndex = i }
        }
        if abs(e[i]) > atol { maxRelative = max(maxRelative, difference / abs(e[i])) }
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

/// Largest |a − e| / |e| over elements with |e| > floor (for reporting measured accuracy).
func maxRelativeError(_ actual: Tensor, _ expected: Tensor, floor: Float = 1e-5) -> Float {
    var worst: Float = 0
    for (a, e) in zip(actual.scalars, expected.scalars) where abs(e) > floor {
        worst = max(worst, abs(a - e) / abs(e))
    }
    return worst
}
