import EvaluationMetrics
import Foundation
import ImageIO
import NeuralNetwork
import XCTest

/// Inputs whose headers claim enormous sizes are refused before anything of that size is allocated
/// (issue 16): each case would need tens of GiB if the claim were believed.
final class HugeClaimsTests: XCTestCase {
    private func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }

    private func chunk(_ type: String, _ payload: [UInt8]) -> [UInt8] {
        let body = Array(type.utf8) + payload
        let length = UInt32(payload.count).bigEndian, crc = crc32(body).bigEndian
        return withUnsafeBytes(of: length) { Array($0) } + body + withUnsafeBytes(of: crc) { Array($0) }
    }

    func testPNGOf100000By100000IsRefusedBeforeDecoding() throws {
        let side = UInt32(100_000).bigEndian
        let header = withUnsafeBytes(of: side) { Array($0) } + withUnsafeBytes(of: side) { Array($0) } + [8, 0, 0, 0, 0]
        // A valid zlib stream of one empty stored block: the data ends long before 10^10 pixels.
        let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + chunk("IHDR", header)
            + chunk("IDAT", [0x78, 0x01, 0x01, 0x00, 0x00, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x01]) + chunk("IEND", [])
        let info = try ImageDecoder.info(contentsOf: try temporaryFile(png))
        XCTAssertEqual(info.width, 100_000) // the header itself is readable…
        XCTAssertThrowsError(try ImageDecoder.decode(data: Data(png), path: "huge.png")) { error in
            XCTAssertTrue("\(error)".contains("100000 × 100000"), "\(error)") // …its pixels are refused
            XCTAssertTrue("\(error)".contains("huge.png"), "\(error)")
        }
        XCTAssertThrowsError(try ImageDecoder.decodeLabels(data: Data(png), path: "huge.png"))
    }

    private func temporaryFile(_ bytes: [UInt8]) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("huge-\(UUID().uuidString).png")
        try Data(bytes).write(to: url)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    func testSafetensorsHeaderOf10To12BytesIsRefused() {
        var length = UInt64(1_000_000_000_000).littleEndian
        var bytes = withUnsafeBytes(of: &length) { Array($0) }
        bytes += Array("{}".utf8)
        XCTAssertThrowsError(try SafeTensorsFile.decode(Data(bytes), source: "huge.safetensors")) { error in
            XCTAssertTrue("\(error)".contains("1000000000000"), "\(error)")
        }
    }

    func testRLEClaimingBillionsOfPixelsStaysRuns() throws {
        // 2^31 pixels in one run: accepted as runs (area and IoU work on runs), nothing decoded.
        let gt = #"{"images":[{"id":1,"height":65536,"width":32768}],"categories":[{"id":1}],"annotations":[{"id":1,"image_id":1,"category_id":1,"area":1,"segmentation":{"size":[65536,32768],"counts":[2147483647,1]}}]}"#
        let groundTruth = try COCOGroundTruth(jsonData: Data(gt.utf8), source: "gt.json")
        guard case .rle(let mask)? = groundTruth.annotations.first?.segmentation else { return XCTFail("no RLE") }
        XCTAssertEqual(mask.area, 1)
        // A size of 2^32 or more pixels cannot be held by 32-bit runs and is refused before any product.
        for size in ["[65536,65536]", "[9000000000000,9000000000000]"] {
            let bad = gt.replacingOccurrences(of: #""size":[65536,32768]"#, with: "\"size\":\(size)")
            XCTAssertThrowsError(try COCOGroundTruth(jsonData: Data(bad.utf8), source: "gt.json")) { error in
                XCTAssertTrue("\(error)".contains("larger than masknet accepts"), "\(error)")
            }
        }
        // A polygon with a far vertex would take billions of rasterisation steps.
        let polygon = gt.replacingOccurrences(of: #"{"size":[65536,32768],"counts":[2147483647,1]}"#, with: "[[0,0,1000000,0,1000000,1000000,0,1000000, 0,500000,900000,500000]]")
        XCTAssertThrowsError(try COCOGroundTruth(jsonData: Data(polygon.utf8), source: "gt.json")) { error in
            XCTAssertTrue("\(error)".contains("too long to rasterise"), "\(error)")
        }
    }
}
