import Foundation
import SVGPlotting
@testable import Visualization
import XCTest

/// The seed's four-column figure with crowded detections, as a trained model gives them (several
/// overlapping boxes above the display threshold): captions must not cover each other, and the mask
/// logit maps must show each detection inside its box only.
final class SliceFigureTests: XCTestCase {
    func figure() -> SliceFigure {
        let (w, h) = (32, 32)
        func square(_ x0: Int, _ y0: Int, _ size: Int) -> [Bool] {
            (0..<(w * h)).map { i in (x0..<(x0 + size)).contains(i % w) && (y0..<(y0 + size)).contains(i / w) }
        }
        // Four detections on nearly the same box (logits 4 inside the mask, 0 elsewhere as pasted), one lesion.
        let predictions = (0..<4).map { k in
            SliceFigure.Instance(mask: square(10 + k, 10, 8), box: [Float(10 + k), 10, Float(18 + k), 18], label: 1,
                                 score: 0.9 - Float(k) * 0.1, logits: square(10 + k, 10, 8).map { $0 ? 4 : 0 })
        }
        let truth = [SliceFigure.Instance(mask: square(11, 10, 8), box: [11, 10, 19, 18], label: 2)]
        let row = SliceFigure.Row(name: "slice.png", grey: [Float](repeating: 0.5, count: w * h), width: w, height: h,
                                  predictions: predictions, groundTruth: truth, note: "AP 0.5")
        return SliceFigure(title: "t", classNames: ["background", "GGO", "C"], rows: [row])
    }

    func testCaptionsOfOverlappingDetectionsDoNotCoverEachOther() throws {
        let markup = try figure().render(png: { _ in Data([0]) }).markup
        let pattern = try NSRegularExpression(pattern: "<rect x=\"([^\"]+)\" y=\"([^\"]+)\" width=\"([^\"]+)\" height=\"([^\"]+)\" fill=\"rgba\\(0,0,0,0.72\\)\"/>")
        let ns = markup as NSString
        let tabs = pattern.matches(in: markup, range: NSRange(location: 0, length: ns.length)).map { m in
            (1...4).map { Double(ns.substring(with: m.range(at: $0)))! }
        }
        XCTAssertGreaterThanOrEqual(tabs.count, 4 + 3 + 1, "every prediction, logit map and lesion has a caption")
        for i in tabs.indices { for j in tabs.indices where j > i {
            let (a, b) = (tabs[i], tabs[j])
            XCTAssertFalse(a[0] < b[0] + b[2] && b[0] < a[0] + a[2] && a[1] < b[1] + b[3] && b[1] < a[1] + a[3], "tabs \(a) and \(b) overlap")
        } }
        XCTAssertTrue(markup.contains("detections: #1 GGO 0.90, #2 GGO 0.80, #3 GGO 0.70, #4 GGO 0.60"), "the row lists every detection")
        XCTAssertTrue(markup.contains(">C<"), "the class legend")
    }

    func testLogitMapsStayInsideTheirBoxes() throws {
        var canvases: [RGBCanvas] = []
        _ = try figure().render(png: { canvases.append($0); return Data([0]) })
        let heat = canvases[1]   // prediction, logit maps, ground truth, difference
        func pixel(_ x: Int, _ y: Int) -> [UInt8] { Array(heat.pixels[(3 * (y * heat.width + x))..<(3 * (y * heat.width + x) + 3)]) }
        // Outside every box: the slice dimmed (0.5 × 0.35 grey), not sigmoid(0) = ½ on the colour scale.
        let dimmed = UInt8((0.5 * 0.35 * 255 as Float).rounded())
        XCTAssertEqual(pixel(2, 2), [dimmed, dimmed, dimmed])
        XCTAssertNotEqual(pixel(2, 2).map(Int.init), [SliceFigure.inferno(0.5)].map { [Int($0.red), Int($0.green), Int($0.blue)] }[0])
        // Inside the first box the top map's probability sigmoid(4) ≈ 0.98: near the bright end.
        let inside = pixel(12, 12)
        XCTAssertEqual(inside, { let c = SliceFigure.inferno(Double(1 / (1 + exp(-4 as Float)))); return [c.red, c.green, c.blue] }())
    }
}
