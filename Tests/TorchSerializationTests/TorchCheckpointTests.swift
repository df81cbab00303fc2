import Foundation
import TorchSerialization
import XCTest

/// The reader against what `torch.load` returns (fixtures from Tools/make_pth_fixtures.py, torch 2.15).
final class TorchCheckpointTests: XCTestCase {
    private func fixture(_ name: String) -> URL {
        Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: nil)!
    }

    private func expected() throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: fixture("seed_layout_expected.json"))) as! [String: Any]
    }

    /// Every tensor of a value by the path `make_pth_fixtures.py` gives it.
    private func tensors(_ value: PickleValue, path: String, into out: inout [String: TorchTensor]) {
        func join(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }
        switch value {
        case .tensor(let tensor): out[path] = tensor
        case .dictionary(let entries):
            for entry in entries {
                switch entry.key {
                case .string(let key): tensors(entry.value, path: join(key), into: &out)
                case .integer(let key): tensors(entry.value, path: join("\(key)"), into: &out)
                default: XCTFail("unexpected key \(entry.key)")
                }
            }
        case .list(let items), .tuple(let items):
            for (index, item) in items.enumerated() { tensors(item, path: join("\(index)"), into: &out) }
        case .object(let object):
            if let anchors = object.attribute("cell_anchors") { tensors(anchors, path: join("cell_anchors"), into: &out) }
        default: break
        }
    }

    private func checkAgainstTorch(_ name: String, format: TorchCheckpoint.Format) throws {
        let checkpoint = try TorchCheckpoint.read(fixture(name))
        XCTAssertEqual(checkpoint.format, format)
        let reference = try expected()
        let root = checkpoint.root
        XCTAssertEqual(root["epoch"], .string(reference["epoch"] as! String))
        XCTAssertEqual(root["lrate"], .float(reference["lrate"] as! Double))
        XCTAssertEqual(root["model_name"], .string(reference["model_name"] as! String))
        guard case .object(let anchors)? = root["anchor_generator"] else { return XCTFail("anchor_generator is not an object") }
        XCTAssertEqual(anchors.className, reference["anchor_class"] as? String)
        let sizes = anchors.attribute("sizes")?.elements?.map { $0.elements?.compactMap(\.doubleValue) ?? [] }
        let ratios = anchors.attribute("aspect_ratios")?.elements?.map { $0.elements?.compactMap(\.doubleValue) ?? [] }
        XCTAssertEqual(sizes, (reference["anchor_sizes"] as! [[Double]]))
        XCTAssertEqual(ratios, (reference["anchor_aspect_ratios"] as! [[Double]]))
        XCTAssertEqual(root["model_weights"]?.stringKeyedEntries?.map(\.key), reference["model_weight_keys"] as? [String])
        let groups = try XCTUnwrap(root["optimizer_state"]?["param_groups"]?.elements)
        XCTAssertEqual(groups.first?["lr"], .float(1e-5))
        XCTAssertEqual(groups.first?["betas"], .tuple([.float(0.9), .float(0.999)]))

        var found: [String: TorchTensor] = [:]
        tensors(root, path: "", into: &found)
        let references = reference["tensors"] as! [String: [String: Any]]
        XCTAssertEqual(Set(found.keys), Set(references.keys))
        for (path, entry) in references {
            guard let tensor = found[path] else { continue }
            XCTAssertEqual(tensor.shape, entry["shape"] as! [Int], path)
            XCTAssertEqual(tensor.dtype.rawValue, entry["source_dtype"] as? String, path)
            if entry["dtype"] as! String == "int64" {
                XCTAssertEqual(try tensor.integerValues(), (entry["values"] as! [NSNumber]).map(\.int64Value), path)
            } else {
                // float32 exactly; float64 rounded to Float as tensor.float() does.
                let values = (entry["values"] as! [NSNumber]).map { Float($0.doubleValue) }
                let ours = try tensor.floatValues()
                XCTAssertEqual(ours.map(\.bitPattern), values.map(\.bitPattern), path)
            }
        }
        // The views share one storage, as in the file.
        let transposed = try XCTUnwrap(found["model_weights.views.transposed"])
        let slice = try XCTUnwrap(found["model_weights.views.slice"])
        XCTAssertTrue(transposed.storage === slice.storage)
        XCTAssertEqual(transposed.stride, [1, 6])
        XCTAssertEqual(slice.storageOffset, 8)
        XCTAssertEqual(found["model_weights.views.expanded"]?.stride, [1, 0])
        XCTAssertEqual(found["parameter"]?.isParameter, true)
    }

    func testZipFormatGivesTorchLoadTensors() throws {
        try checkAgainstTorch("seed_layout_zip.pth", format: .zip)
    }

    func testLegacyFormatGivesTorchLoadTensors() throws {
        try checkAgainstTorch("seed_layout_legacy.pth", format: .legacy)
    }

    func testWriterRoundTripsThroughReader() throws {
        let original = try TorchCheckpoint.read(fixture("seed_layout_zip.pth"))
        let data = try TorchCheckpointWriter.encode(original.root)
        let again = try TorchCheckpoint.decode(data, source: "<round trip>")
        var before: [String: TorchTensor] = [:], after: [String: TorchTensor] = [:]
        tensors(original.root, path: "", into: &before)
        tensors(again.root, path: "", into: &after)
        XCTAssertEqual(Set(before.keys), Set(after.keys))
        for (path, tensor) in before {
            let copy = try XCTUnwrap(after[path])
            XCTAssertEqual(copy.shape, tensor.shape, path)
            if tensor.dtype.isFloatingPoint {
                XCTAssertEqual(try copy.floatValues(), try tensor.floatValues(), path)
            } else {
                XCTAssertEqual(try copy.integerValues(), try tensor.integerValues(), path)
            }
        }
        XCTAssertTrue(after["model_weights.views.transposed"]!.storage === after["model_weights.views.slice"]!.storage)
        XCTAssertEqual(again.root["epoch"], .string("3"))
    }

    // MARK: Bad input

    private func error(_ bytes: [UInt8], source: String = "bad.pth") -> TorchCheckpointError? {
        do {
            _ = try TorchCheckpoint.decode(Data(bytes), source: source)
            return nil
        } catch let error as TorchCheckpointError {
            return error
        } catch {
            XCTFail("unexpected error type \(error)")
            return nil
        }
    }

    /// A legacy stream whose object pickle is `objectPickle` (no storages).
    private func legacy(_ objectPickle: [UInt8]) -> [UInt8] {
        let magic: [UInt8] = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e]
        let version: [UInt8] = [0x80, 0x02, 0x4d, 0xe9, 0x03, 0x2e]
        let info: [UInt8] = [0x80, 0x02, 0x7d, 0x2e]
        let keys: [UInt8] = [0x80, 0x02, 0x5d, 0x2e]
        return magic + version + info + objectPickle + keys
    }

    func testTruncatedFilesNameFileAndOffset() throws {
        let bytes = [UInt8](try Data(contentsOf: fixture("seed_layout_legacy.pth")))
        for cut in [3, 20, bytes.count / 2, bytes.count - 5] {
            let failure = try XCTUnwrap(error(Array(bytes.prefix(cut))), "cut at \(cut)")
            XCTAssertEqual(failure.file, "bad.pth")
            XCTAssertTrue(failure.description.contains("bad.pth"), failure.description)
        }
        let zip = [UInt8](try Data(contentsOf: fixture("seed_layout_zip.pth")))
        XCTAssertNotNil(error(Array(zip.prefix(zip.count / 2))))
        XCTAssertNotNil(error(Array("hello".utf8)))
        XCTAssertNotNil(error([]))
    }

    func testGlobalsAreNeverCalled() throws {
        // cos.system / (S'touch /tmp/pwned' tR. : the classic exploit becomes an inert record.
        let exploit = Array("cos\nsystem\n(S'touch /tmp/masknet-pwned'\ntR.".utf8)
        let checkpoint = try TorchCheckpoint.decode(Data(legacy(exploit)), source: "exploit.pth")
        XCTAssertEqual(checkpoint.root, .object(PickleObject(className: "os.system", arguments: [.string("touch /tmp/masknet-pwned")])))
        XCTAssertFalse(FileManager.default.fileExists(atPath: "/tmp/masknet-pwned"))
    }

    func testLimitsRefuseHugeAndDeepInputsBeforeAllocating() throws {
        // A BINUNICODE claiming 4 GiB.
        let huge = error(legacy([0x80, 0x02, 0x58, 0xff, 0xff, 0xff, 0xff, 0x2e]))
        XCTAssertTrue(huge?.reason.contains("claims 4294967295 bytes") == true, "\(String(describing: huge))")
        XCTAssertEqual(huge?.offset, 27) // the object pickle starts at byte 25 of the stream; its opcode at +2
        // 10,000 nested empty tuples (TUPLE1) exceed the nesting limit.
        let deep = error(legacy([0x80, 0x02, 0x29] + [UInt8](repeating: 0x85, count: 10_000) + [0x2e]))
        XCTAssertTrue(deep?.reason.contains("deeper") == true, "\(String(describing: deep))")
        // A list that contains itself.
        let cycle = error(legacy([0x80, 0x02, 0x5d, 0x71, 0x00, 0x68, 0x00, 0x61, 0x2e]))
        XCTAssertTrue(cycle?.reason.contains("refers to itself") == true, "\(String(describing: cycle))")
        // A tensor whose view lies outside its 4-element storage.
        var tensor: [UInt8] = Array("ctorch._utils\n_rebuild_tensor_v2\n(".utf8)
        tensor += [0x28, 0x58, 7, 0, 0, 0] + Array("storage".utf8) + Array("ctorch\nFloatStorage\n".utf8)
        tensor += [0x58, 1, 0, 0, 0] + Array("0".utf8) + [0x58, 3, 0, 0, 0] + Array("cpu".utf8) + [0x4b, 4, 0x74, 0x51]
        tensor += [0x4b, 0, 0x4d, 0xe8, 0x03, 0x85, 0x4b, 1, 0x85, 0x89, 0x4e, 0x74, 0x52, 0x2e]
        let outside = error(legacy(tensor))
        XCTAssertTrue(outside?.reason.contains("reaches element 999 of storage 0, which has 4") == true, "\(String(describing: outside))")
        // Unknown opcode.
        let unknown = error(legacy([0x80, 0x02, 0xff]))
        XCTAssertTrue(unknown?.description.contains("unknown pickle opcode 0xff") == true)
    }
}
