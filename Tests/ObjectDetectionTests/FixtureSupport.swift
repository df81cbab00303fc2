import Foundation
import TensorCore
import XCTest

/// A parity fixture written by Tools/make_detection_fixtures.py: a safetensors file (8-byte
/// little-endian header length, JSON header, raw little-endian data). Only F32 and I64 are needed.
struct Fixture {
    let tensors: [String: (dtype: String, shape: [Int], bytes: Data)]
    let metadata: [String: String]

    init(_ name: String) throws {
        guard let url = Bundle.module.url(forResource: name, withExtension: "safetensors", subdirectory: "Fixtures") else {
            throw NSError(domain: "Fixture", code: 1, userInfo: [NSLocalizedDescriptionKey:
                "fixture \(name).safetensors missing: run /work/refenv/bin/python Tools/make_detection_fixtures.py"])
        }
        let data = try Data(contentsOf: url)
        let headerLength = Int(data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
        let header = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + headerLength))) as! [String: Any]
        var tensors: [String: (String, [Int], Data)] = [:]
        var metadata: [String: String] = [:]
        for (key, value) in header {
            if key == "__metadata__" { metadata = value as? [String: String] ?? [:]; continue }
            let entry = value as! [String: Any]
            let offsets = entry["data_offsets"] as! [Int]
            tensors[key] = (entry["dtype"] as! String, entry["shape"] as! [Int],
                            data.subdata(in: (8 + headerLength + offsets[0])..<(8 + headerLength + offsets[1])))
        }
        self.tensors = tensors
        self.metadata = metadata
    }

    func tensor(_ key: String) -> Tensor {
        guard let entry = tensors[key] else { fatalError("fixture has no tensor \(key)") }
        precondition(entry.dtype == "F32", "\(key) is \(entry.dtype), not F32")
        let values = entry.bytes.withUnsafeBytes { raw in
            (0..<(entry.bytes.count / 4)).map { Float(bitPattern: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self)) }
        }
        return Tensor(shape: entry.shape, scalars: values)
    }

    func integers(_ key: String) -> [Int] {
        guard let entry = tensors[key] else { fatalError("fixture has no tensor \(key)") }
        precondition(entry.dtype == "I64", "\(key) is \(entry.dtype), not I64")
        return entry.bytes.withUnsafeBytes { raw in
            (0..<(entry.bytes.count / 8)).map { Int(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self))) }
        }
    }
}

/// A tensor of standard normal values from a seeded generator.
func randomTensor(_ shape: [Int], seed: UInt64) -> Tensor {
    var generator = SeededGenerator(seed: seed)
    return Tensor(shape: shape) { for i in 0..<$0.count { $0[i] = generator.nextNormal() } }
}

/// Boxes `[N, 4]` from rows.
func boxes(_ rows: [[Float]]) -> Tensor { Tensor(shape: [rows.count, 4], scalars: rows.flatMap { $0 }) }
