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

