import Foundation
import NeuralNetwork
import TensorCore
import XCTest

/// safetensors both ways: a file written by Python's `safetensors` package loads with the right values,
/// metadata and I64 scalars, and our writer reproduces that file byte for byte; plus every failure mode.
final class SafeTensorsTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("masknet-st-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    /// (arange(count) · step + start) in Double, rounded to Float — `ramp` in Tools/make_nn_fixtures.py.
    private func ramp(_ shape: [Int], _ start: Double, _ step: Double) -> Tensor {
        let count = shape.reduce(1, *)
        return Tensor(shape: shape, scalars: (0..<count).map { Float(Double($0) * step + start) })
    }

    /// The tensors of `python_written_tensors()` in the fixture script.
    private func pythonWrittenContent(metadata: [String: String]) -> SafeTensorsFile {
        SafeTensorsFile(
            tensors: [
                "backbone.body.conv1.weight": ramp([2, 3, 1, 2], -1.5, 0.25),
                "backbone.body.bn1.running_var": ramp([3], 0.5, 0.125),
                "Zeta": ramp([], 3.25, 0),
                "a_b": ramp([4], 1e-3, -2.5e-4),
                "a.b": ramp([1, 1], 1e30, 0),
                "a1": ramp([0, 3], 0, 0),
            ],
            integerTensors: [
                "backbone.body.bn1.num_batches_tracked": IntegerTensor(scalar: 7),
                "counts": IntegerTensor(shape: [4], scalars: [-3, 0, 1 << 40, -(1 << 62)]),
            ],
            metadata: metadata)
    }

    private func fixtureURL(_ name: String) throws -> URL {
        try XCTUnwrap(Bundle.module.url(forResource: name, withExtension: "safetensors", subdirectory: "Fixtures"))
    }

    func testReadsFileWrittenByPython() throws {
        let file = try SafeTensorsFile.read(try fixtureURL("python_written"))
        let expected = pythonWrittenContent(metadata: [:])
        XCTAssertEqual(Set(file.tensors.keys), Set(expected.tensors.keys))
        for (name, tensor) in expected.tensors {
            XCTAssertEqual(file.tensors[name]?.shape, tensor.shape, name)
            XCTAssertEqual(file.tensors[name]?.scalars, tensor.scalars, name)
        }
        XCTAssertEqual(file.integerTensors, expected.integerTensors)
        XCTAssertEqual(file.integerTensors["backbone.body.bn1.num_batches_tracked"]?.shape, [])
        let config = try XCTUnwrap(file.metadata["config"])
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(config.utf8)) as? [String: Any])
        XCTAssertEqual(object["backbone"] as? String, "resnet18")
        XCTAssertEqual(object["note"] as? String, "quote \" slash / tab \t é")
        XCTAssertTrue((object["versions"] as? String ?? "").contains("safetensors"))
    }

    /// Our bytes equal the Python package's for the same tensors and metadata (one metadata key, because
    /// Python orders several keys randomly). Byte equality implies the Python package reads our files.
    func testWriterReproducesPythonBytes() throws {
        let url = try fixtureURL("python_written")
        let pythonBytes = try Data(contentsOf: url)
        let metadata = try SafeTensorsFile.read(url).metadata
        let ours = pythonWrittenContent(metadata: metadata).encoded()
        XCTAssertEqual(ours.count, pythonBytes.count)
        XCTAssertTrue(ours == pythonBytes, "bytes differ from the Python safetensors writer")
    }

    /// The other fixtures were written by the Python package with their (several) metadata keys sorted
    /// afterwards (Tools/make_nn_fixtures.py `save_deterministic`); reading and re-encoding them must give the
    /// same bytes: dozens of tensors, I64 and F32 mixed, multi-key metadata with JSON values.
    func testReencodedFixturesAreByteIdentical() throws {
        for name in ["ops", "optimizers"] {
            let url = try fixtureURL(name)
            let original = try Data(contentsOf: url)
            let file = try SafeTensorsFile.read(url)
            XCTAssertGreaterThan(file.metadata.count, 2, name)
            XCTAssertFalse(file.integerTensors.isEmpty, name)
            XCTAssertTrue(file.encoded() == original, "\(name): re-encoded bytes differ")
        }
    }

    /// Writes the python_written content to $TMPDIR/masknet-swift-written.safetensors (kept after the test)
    /// so a developer can run `Tools/make_nn_fixtures.py --check-swift-written <that file>`.
    func testWriteForPython() throws {
        let metadata = try SafeTensorsFile.read(try fixtureURL("python_written")).metadata
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("masknet-swift-written.safetensors")
        try pythonWrittenContent(metadata: metadata).write(to: url)
        XCTAssertEqual(try Data(contentsOf: url), try Data(contentsOf: try fixtureURL("python_written")))
    }

    func testRoundTripAndAtomicWrite() throws {
        var generator = SeededGenerator(seed: 5)
        let big = Tensor(shape: [17, 33]) { b in for i in 0..<b.count { b[i] = generator.nextNormal() } }
        let content = SafeTensorsFile(tensors: ["w": big, "s": Tensor(scalar: -0.0)],
                                      integerTensors: ["n": IntegerTensor(scalar: Int64.min)],
                                      metadata: ["b": "2", "a": "1", "ctl": "\u{1}\n\"\\"])
        let url = directory.appendingPathComponent("model.safetensors")
        try content.write(to: url)
        try content.write(to: url)  // overwrite in place
        let back = try SafeTensorsFile.read(url)
        XCTAssertEqual(back.tensors["w"]?.scalars, big.scalars)
        XCTAssertEqual(back.tensors["s"]?.scalars.first?.sign, .minus)
        XCTAssertEqual(back.integerTensors["n"], IntegerTensor(scalar: Int64.min))
        XCTAssertEqual(back.metadata, content.metadata)
        XCTAssertEqual(back.source, url.path)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        XCTAssertEqual(leftovers, ["model.safetensors"], "no temporary files left behind")
        let bytes = try Data(contentsOf: url)
        let headerLength = bytes.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        XCTAssertEqual((8 + headerLength) % 8, 0, "data section aligned to 8 bytes")
    }

    // MARK: Errors

    private func assertThrows(_ bytes: Data?, name: String, _ expected: (SafeTensorsError) -> Bool,
                              mentions: [String], line: UInt = #line) {
        let url = directory.appendingPathComponent(name)
        if let bytes { XCTAssertNoThrow(try bytes.write(to: url)) }
        XCTAssertThrowsError(try SafeTensorsFile.read(url), line: line) { error in
            guard let error = error as? SafeTensorsError else { return XCTFail("unexpected \(error)", line: line) }
            XCTAssertTrue(expected(error), "\(error)", line: line)
            for word in mentions + [url.path] {
                XCTAssertTrue(error.description.contains(word), "'\(error)' does not mention \(word)", line: line)
            }
        }
    }

    private func file(header: String, dataBytes: Int) -> Data {
        var data = Data()
        var length = UInt64(header.utf8.count).littleEndian
        withUnsafeBytes(of: &length) { data.append(contentsOf: $0) }
        data.append(contentsOf: Array(header.utf8))
        data.append(contentsOf: [UInt8](repeating: 0, count: dataBytes))
        return data
    }

    func testMissingFile() {
        assertThrows(nil, name: "absent.safetensors", { if case .fileNotFound = $0 { true } else { false } },
                     mentions: ["does not exist"])
    }

    func testTruncatedFiles() throws {
        let whole = pythonWrittenContent(metadata: ["k": "v"]).encoded()
        assertThrows(whole.prefix(5), name: "tiny.safetensors", { if case .truncated = $0 { true } else { false } },
                     mentions: ["truncated"])
        assertThrows(whole.prefix(40), name: "header.safetensors", { if case .truncated = $0 { true } else { false } },
                     mentions: ["header needs"])
        assertThrows(whole.prefix(whole.count - 3), name: "data.safetensors",
                     { if case .truncated = $0 { true } else { false } }, mentions: ["tensor backbone.body.conv1.weight"])
    }

    func testBadHeader() {
        assertThrows(file(header: "{\"a\": {\"dtype\": ", dataBytes: 0), name: "json.safetensors",
                     { if case .invalidHeader = $0 { true } else { false } }, mentions: ["not valid JSON"])
        assertThrows(file(header: "[1, 2]", dataBytes: 0), name: "array.safetensors",
                     { if case .invalidHeader = $0 { true } else { false } }, mentions: ["not a JSON object"])
        assertThrows(file(header: "{\"__metadata__\": {\"a\": 1}}", dataBytes: 0), name: "meta.safetensors",
                     { if case .invalidHeader = $0 { true } else { false } }, mentions: ["__metadata__"])
        var huge = Data(repeating: 0xFF, count: 8)
        huge.append(contentsOf: Array("{}".utf8))
        assertThrows(huge, name: "huge.safetensors", { if case .invalidHeader = $0 { true } else { false } },
                     mentions: ["implausibly large"])
        assertThrows(file(header: "{\"w\": {\"dtype\": \"F32\", \"shape\": [2]}}", dataBytes: 8), name: "entry.safetensors",
                     { if case .invalidTensor = $0 { true } else { false } }, mentions: ["tensor w", "data_offsets"])
        assertThrows(file(header: "{\"w\": {\"dtype\": \"F32\", \"shape\": [3], \"data_offsets\": [0, 8]}}", dataBytes: 8),
                     name: "span.safetensors", { if case .invalidTensor = $0 { true } else { false } },
                     mentions: ["tensor w", "needs 12 bytes"])
    }

    func testWrongDType() {
        let header = "{\"ok\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]},"
            + " \"half\": {\"dtype\": \"F16\", \"shape\": [2], \"data_offsets\": [4, 8]}}"
        assertThrows(file(header: header, dataBytes: 8), name: "f16.safetensors",
                     { $0 == .unsupportedDType(file: self.directory.appendingPathComponent("f16.safetensors").path,
                                               tensor: "half", dtype: "F16") },
                     mentions: ["tensor half", "F16"])
    }

    func testWriteIntoMissingDirectoryNamesTheFile() {
        let url = directory.appendingPathComponent("no/such/dir/model.safetensors")
        XCTAssertThrowsError(try SafeTensorsFile(tensors: ["w": Tensor(shape: [1])]).write(to: url)) { error in
            XCTAssertTrue("\(error)".contains(url.path), "\(error)")
        }
    }
}
