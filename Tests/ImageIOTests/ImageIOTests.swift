import Foundation
import XCTest
@testable import ImageIO

/// Decoding against PIL's reading of the committed fixtures (Tools/make_imageio_fixtures.py), encoding
/// round trips, and the error cases, each of which must name the file.
final class ImageIOTests: XCTestCase {
    struct Expected: Decodable {
        struct File: Decodable {
            let width: Int, height: Int, channels: Int, scale: Int
            let values: [Int]
            let indices: [Int]?
        }
        struct Resize: Decodable {
            struct Case: Decodable { let height: Int, width: Int, values: [Double] }
            let source: String
            let torch: [Case]
            let pil: [Case]
        }
        let files: [String: File]
        let resize: Resize
    }

    static let fixtures: URL = Bundle.module.resourceURL!.appendingPathComponent("Fixtures")
    static let expected: Expected = {
        let data = try! Data(contentsOf: fixtures.appendingPathComponent("expected.json"))
        return try! JSONDecoder().decode(Expected.self, from: data)
    }()

    var temporary: URL!

    override func setUpWithError() throws {
        temporary = FileManager.default.temporaryDirectory
            .appendingPathComponent("imageio-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: temporary, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: temporary)
    }

    private func fixture(_ name: String) -> URL { Self.fixtures.appendingPathComponent(name) }

    /// Decodes a fixture and compares every sample with PIL's raw value / scale, within `tolerance` steps.
    private func checkDecode(_ name: String, toleranceSteps: Double = 0, file: StaticString = #filePath,
                             line: UInt = #line) throws {
        let want = try XCTUnwrap(Self.expected.files[name])
        let image = try ImageDecoder.decode(contentsOf: fixture(name))
        XCTAssertEqual(image.width, want.width, name, file: file, line: line)
        XCTAssertEqual(image.height, want.height, name, file: file, line: line)
        XCTAssertEqual(image.channels, want.channels, name, file: file, line: line)
        XCTAssertEqual(image.pixels.count, want.values.count, name, file: file, line: line)
        var worst = 0.0
        for (got, raw) in zip(image.pixels, want.values) {
            worst = max(worst, abs(Double(got) * Double(want.scale) - Double(raw)))
        }
        XCTAssertLessThanOrEqual(worst, toleranceSteps + 1e-3, "\(name): worst difference \(worst) steps",
                                 file: file, line: line)
    }

    func testDecodesEightBitGreyExactly() throws { try checkDecode("grey8.png") }
    func testDecodesGreyAlphaExactly() throws { try checkDecode("grey_alpha.png") }
    func testDecodesRGBExactly() throws { try checkDecode("rgb.png") }
    func testDecodesRGBAExactly() throws { try checkDecode("rgba.png") }
    func testDecodesPaletteToItsColours() throws { try checkDecode("palette.png") }

    func testSixteenBitGreyIsScaledBy65535() throws {
        try checkDecode("grey16.png", toleranceSteps: 0.01)
        let image = try ImageDecoder.decode(contentsOf: fixture("grey16.png"))
        XCTAssertEqual(image.pixels[0], 0)
        XCTAssertEqual(image.pixels[1], 1)
        XCTAssertEqual(image.pixels[2], Float(32768) / 65535)
        XCTAssertEqual(try ImageDecoder.info(contentsOf: fixture("grey16.png")).bitDepth, 16)
    }

    func testDecodesJPEGLikePIL() throws {
        // Same libjpeg-turbo ISLOW IDCT and fancy upsampling as PIL: identical, allowing one step for
        // differing libjpeg-turbo builds.
        try checkDecode("grey.jpg", toleranceSteps: 1)
        try checkDecode("rgb.jpg", toleranceSteps: 1)
        let info = try ImageDecoder.info(contentsOf: fixture("rgb.jpg"))
        XCTAssertEqual(info, ImageInfo(format: .jpeg, width: 16, height: 12, channels: 3, bitDepth: 8))
    }

    func testLabelsOfPalettePNGAreIndices() throws {
        let want = try XCTUnwrap(Self.expected.files["palette.png"]?.indices)
        let labels = try ImageDecoder.decodeLabels(contentsOf: fixture("palette.png"))
        XCTAssertEqual(labels.values.map(Int.init), want)
    }

    func testLabelsOfGreyMaskAreRawValues() throws {
        let want = try XCTUnwrap(Self.expected.files["mask.png"])
        let labels = try ImageDecoder.decodeLabels(contentsOf: fixture("mask.png"))
        XCTAssertEqual(labels.values.map(Int.init), want.values)
        XCTAssertEqual(labels.width, want.width)
    }

    func testColourLabelMaskIsRejectedNamingTheFile() throws {
        XCTAssertThrowsError(try ImageDecoder.decodeLabels(contentsOf: fixture("rgb.png"))) { error in
            guard case ImageIOError.unsupported(let path, _) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(path.hasSuffix("rgb.png"))
        }
    }

    func testModelInputPolicyReplicatesGreyAndDropsAlpha() throws {
        let grey = try ImageDecoder.decode(contentsOf: fixture("grey8.png")).rgb()
        XCTAssertEqual(grey.channels, 3)
        for p in 0..<(grey.width * grey.height) {
            XCTAssertEqual(grey.pixels[3 * p], grey.pixels[3 * p + 1])
            XCTAssertEqual(grey.pixels[3 * p], grey.pixels[3 * p + 2])
        }
        let rgba = try ImageDecoder.decode(contentsOf: fixture("rgba.png"))
        let rgb = rgba.rgb()
        XCTAssertEqual(rgb.channels, 3)
        XCTAssertEqual(rgb[1, 2, 1], rgba[1, 2, 1])
        let planar = rgb.planar()
        XCTAssertEqual(planar[2 * rgb.width * rgb.height + 1 * rgb.width + 2], rgba[1, 2, 2])
    }

    func testRoundTripsEveryEncodableLayout() throws {
        for channels in 1...4 {
            let bytes = (0..<(7 * 5 * channels)).map { UInt8(($0 * 37 + channels) % 256) }
            let url = temporary.appendingPathComponent("round\(channels).png")
            try PNGEncoder.write(bytes: bytes, width: 7, height: 5, channels: channels, to: url)
            let back = try ImageDecoder.decode(contentsOf: url)
            XCTAssertEqual(back.channels, channels)
            XCTAssertEqual(back.quantized(), bytes, "channels \(channels)")
        }
        let image = Image(width: 3, height: 2, channels: 1, pixels: [0, 0.5, 1, 0.25, 0.75, 0.1])
        let data = try PNGEncoder.encode(image)
        XCTAssertEqual(try ImageDecoder.decode(data: data, path: "memory").quantized(), image.quantized())
    }

    func testLabelMapRoundTripsAndFastEncodingDecodesTheSame() throws {
        var labels = LabelMap(width: 9, height: 4)
        for i in 0..<labels.values.count { labels.values[i] = UInt8(i % 4) }
        let url = temporary.appendingPathComponent("mask.png")
        try PNGEncoder.write(labels, to: url, fast: true)
        XCTAssertEqual(try ImageDecoder.decodeLabels(contentsOf: url), labels)
        let slow = try PNGEncoder.encode(labels)
        XCTAssertEqual(try ImageDecoder.decodeLabels(data: slow, path: "slow"), labels)
    }

    func testLargeNoisyImageEncodes() throws {
        // Noise barely compresses: exercises the output-buffer sizing.
        var state: UInt32 = 12345
        let bytes = (0..<(300 * 200 * 3)).map { _ -> UInt8 in
            state = state &* 1_664_525 &+ 1_013_904_223
            return UInt8(state >> 24)
        }
        let data = try PNGEncoder.encode(bytes: bytes, width: 300, height: 200, channels: 3)
        XCTAssertEqual(try ImageDecoder.decode(data: data, path: "noise").quantized(), bytes)
    }

    // MARK: - Errors name the file

    private func assertError(_ url: URL, file: StaticString = #filePath, line: UInt = #line,
                             _ matches: (ImageIOError) -> Bool) {
        for attempt in 0..<2 {
            let call: () throws -> Void = attempt == 0
                ? { _ = try ImageDecoder.decode(contentsOf: url) }
                : { _ = try ImageDecoder.decodeLabels(contentsOf: url) }
            XCTAssertThrowsError(try call(), file: file, line: line) { error in
                guard let error = error as? ImageIOError else { return XCTFail("\(error)", file: file, line: line) }
                XCTAssertTrue(matches(error), "unexpected \(error)", file: file, line: line)
                XCTAssertEqual(error.path, url.path, file: file, line: line)
                XCTAssertTrue(error.description.contains(url.path), file: file, line: line)
            }
        }
    }

    func testMissingFile() {
        let url = temporary.appendingPathComponent("absent.png")
        assertError(url) { if case .missingFile = $0 { return true } else { return false } }
    }

    func testTruncatedPNG() throws {
        let data = try Data(contentsOf: fixture("rgb.png"))
        let url = temporary.appendingPathComponent("cut.png")
        try data.prefix(data.count - 30).write(to: url)
        assertError(url) { if case .truncated = $0 { return true } else { return false } }
        try data.prefix(5).write(to: url)
        assertError(url) { if case .truncated = $0 { return true } else { return false } }
    }

    func testTruncatedJPEG() throws {
        let data = try Data(contentsOf: fixture("rgb.jpg"))
        let url = temporary.appendingPathComponent("cut.jpg")
        try data.prefix(data.count / 2).write(to: url)
        assertError(url) { if case .truncated = $0 { return true } else { return false } }
    }

    func testCorruptPNGData() throws {
        var data = try Data(contentsOf: fixture("resize_source.png"))
        // Overwrite the middle of the IDAT payload: zlib or the CRC check fails.
        for i in 60..<90 { data[i] ^= 0x5A }
        let url = temporary.appendingPathComponent("corrupt.png")
        try data.write(to: url)
        assertError(url) { if case .corrupt = $0 { return true } else { return false } }
    }

    func testCorruptJPEGData() throws {
        // Set the frame header's sample precision (the byte after SOF0's marker and length) to 7 bits:
        // libjpeg raises a fatal error, which must come back through the shim as a thrown error.
        var data = try Data(contentsOf: fixture("rgb.jpg"))
        let bytes = [UInt8](data)
        let sof = try XCTUnwrap((0..<(bytes.count - 1)).first { bytes[$0] == 0xFF && bytes[$0 + 1] == 0xC0 })
        data[sof + 4] = 7
        let url = temporary.appendingPathComponent("corrupt.jpg")
        try data.write(to: url)
        assertError(url) { if case .corrupt = $0 { return true } else { return false } }
        XCTAssertThrowsError(try ImageDecoder.info(contentsOf: url))
    }

    func testNotAnImage() throws {
        let url = temporary.appendingPathComponent("notes.png")
        try Data("these are notes, not pixels".utf8).write(to: url)
        assertError(url) { if case .notAnImage = $0 { return true } else { return false } }
        let empty = temporary.appendingPathComponent("empty.jpg")
        try Data().write(to: empty)
        assertError(empty) { if case .truncated = $0 { return true } else { return false } }
    }

    func testCMYKJPEGIsUnsupported() {
        assertError(fixture("cmyk.jpg")) { if case .unsupported = $0 { return true } else { return false } }
        XCTAssertThrowsError(try ImageDecoder.info(contentsOf: fixture("cmyk.jpg")))
    }

    func testDirectoryIsUnreadable() throws {
        let url = temporary.appendingPathComponent("folder.png")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        assertError(url) { if case .unreadable = $0 { return true } else { return false } }
    }

    func testWriteIntoMissingFolderNamesTheFile() {
        let url = temporary.appendingPathComponent("no/such/folder/out.png")
        XCTAssertThrowsError(try PNGEncoder.write(LabelMap(width: 2, height: 2), to: url)) { error in
            guard case ImageIOError.writeFailed(let path, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(path, url.path)
        }
    }

    // MARK: - Resizing

    func testBilinearMatchesTorchInterpolate() throws {
        let source = try ImageDecoder.decode(contentsOf: fixture(Self.expected.resize.source))
        for want in Self.expected.resize.torch {
            let got = ImageResampling.bilinear(source, width: want.width, height: want.height)
            XCTAssertEqual(got.pixels.count, want.values.count)
            let worst = zip(got.pixels, want.values).map { abs(Double($0) - $1) }.max() ?? 0
            XCTAssertLessThan(worst, 1e-6, "torch bilinear \(want.height)x\(want.width)")
        }
    }

    func testPILBilinearOnBytesMatchesPILExactly() throws {
        let source = try ImageDecoder.decode(contentsOf: fixture(Self.expected.resize.source))
        for want in Self.expected.resize.pil {
            let got = ImageResampling.pilBilinear(bytes: source.quantized(), width: source.width, height: source.height,
                                                  channels: 1, outputWidth: want.width, outputHeight: want.height)
            let mismatches = zip(got.map(Double.init), want.values).enumerated().filter { $0.element.0 != $0.element.1 }
            XCTAssertEqual(got.count, want.values.count)
            XCTAssertTrue(mismatches.isEmpty, "PIL bilinear \(want.height)x\(want.width): \(mismatches.count) differ, first \(mismatches.prefix(3))")
        }
    }

    func testPILBilinearMatchesPILWithinOneStep() throws {
        let source = try ImageDecoder.decode(contentsOf: fixture(Self.expected.resize.source))
        for want in Self.expected.resize.pil {
            let got = ImageResampling.pilBilinear(source, width: want.width, height: want.height)
            XCTAssertEqual(got.pixels.count, want.values.count)
            // PIL rounds its intermediate (horizontal) pass to 8 bits; we do not: allow 1 step.
            let worst = zip(got.pixels, want.values).map { abs(Double($0) * 255 - $1) }.max() ?? 0
            XCTAssertLessThanOrEqual(worst, 1.0 + 1e-4, "PIL bilinear \(want.height)x\(want.width)")
        }
    }
}
