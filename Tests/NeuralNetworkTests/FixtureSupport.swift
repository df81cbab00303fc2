import Foundation
import NeuralNetwork
import TensorCore
import TestSupport
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
