import Foundation
import SVGPlotting

/// The seed's figure for a set of test slices, one row per slice and four columns: the slice with the
/// predicted masks and boxes (class, score); the mask logit maps of the top detections; the ground-truth
/// masks; and the difference (true positive, missed and false-positive pixels, with missed lesions and
/// false-positive detections boxed). Slices are embedded at their own resolution and enlarged by the
/// browser with nearest-neighbour sampling (`image-rendering: pixelated`), so a 128-pixel slice is
/// readable without inflating the file; boxes and labels are SVG, legible at any zoom.
public struct SliceFigure {
    /// One instance: a mask `[H·W]`, a box x1, y1, x2, y2, a 1-based class label and a score.
    public struct Instance {
        public var mask: [Bool]
        public var box: [Float]
        public var label: Int
        public var score: Float?
        /// Mask logits `[H·W]` pasted into the slice (predictions only).
        public var logits: [Float]?
        public init(mask: [Bool], box: [Float], label: Int, score: Float? = nil, logits: [Float]? = nil) {
            self.mask = mask; self.box = box; self.label = label; self.score = score; self.logits = logits
        }
    }

    /// One slice row.
    public struct Row {
        public var name: String
        /// Grey slice `[H·W]` in [0, 1].
        public var grey: [Float]
        public var width: Int, height: Int
        /// Detections above the display threshold, highest score first.
        public var predictions: [Instance]
        public var groundTruth: [Instance]
        /// A short note after the name (e.g. "AP 0.42").
        public var note: String
        public init(name: String, grey: [Float], width: Int, height: Int, predictions: [Instance], groundTruth: [Instance], note: String) {
            self.name = name; self.grey = grey; self.width = width; self.height = height
            self.predictions = predictions; self.groundTruth = groundTruth; self.note = note
        }
    }

    public var title: String
    /// Class names by label (index 0 is background).
    public var classNames: [String]
    public var rows: [Row]
    /// Displayed width of each panel in CSS pixels.
    public var panelSize = 250.0
    /// Detections whose logit maps are shown.
    public var logitMapCount = 3
    /// Mask IoU at which a detection counts as finding a lesion (for the difference column's boxes).
    public var matchIoU: Float = 0.5

    public init(title: String, classNames: [String], rows: [Row]) {
        self.title = title; self.classNames = classNames; self.rows = rows
    }

    /// Colours: lesion classes as in the seed's figures (GGO yellow-orange, consolidation red).
    static let classColors = ["#ffc800", "#ff2828", "#00c8ff"]
    static let missedColor = RGBColor(230, 0, 200), falsePositiveColor = RGBColor(40, 130, 255), hitColor = RGBColor(40, 200, 80)

    func className(_ label: Int) -> String { label < classNames.count ? classNames[label] : "class \(label)" }
    func classColor(_ label: Int) -> String { Self.classColors[max(0, label - 1) % Self.classColors.count] }

    /// The figure as SVG; `png` encodes a canvas as PNG bytes (the caller's encoder).
    public func render(png: (RGBCanvas) throws -> Data) throws -> SVGDocument {
        let gap = 10.0, headerHeight = 44.0, rowLabel = 22.0
        let width = 4 * panelSize + 5 * gap
        let rowHeight = rowLabel + panelSize + gap
        var svg = SVGDocument(width: width, height: headerHeight + Double(rows.count) * rowHeight + 44, title: title)
        svg.text(title, x: gap, y: 18, size: 14, weight: "600")
        let headers = ["prediction (class, score)", "mask logits, top \(logitMapCount)", "ground truth", "difference"]
        for (c, header) in headers.enumerated() {
            svg.text(header, x: gap + Double(c) * (panelSize + gap) + panelSize / 2, y: 38, size: 12.5, anchor: "middle", weight: "600")
        }
        for (r, row) in rows.enumerated() {
            let top = headerHeight + Double(r) * rowHeight
            svg.text("\(row.name) · \(row.note)", x: gap, y: top + 15, size: 12, fill: "#333")
            // Every detection with its score in reading order, so a caption that had to shorten loses nothing.
            let listed = row.predictions.prefix(5).enumerated().map { "#\($0.offset + 1) \(className($0.element.label)) \($0.element.score.map { String(format: "%.2f", $0) } ?? "")" }
            if !listed.isEmpty {
                svg.text("detections: " + listed.joined(separator: ", ") + (row.predictions.count > 5 ? ", …" : ""),
                         x: gap + 3 * (panelSize + gap) + panelSize, y: top + 15, size: 11.5, anchor: "end", fill: "#555")
            }
            let y = top + rowLabel
            let scale = panelSize / Double(max(row.width, row.height))
            func x(_ column: Int) -> Double { gap + Double(column) * (panelSize + gap) }
            func uri(_ canvas: RGBCanvas) throws -> String {
                let bytes = try png(canvas)
                return "data:image/png;base64," + bytes.base64EncodedString()
            }
            let (w, h) = (Double(row.width) * scale, Double(row.height) * scale)

            // 1: predictions tinted, boxes and labels as vectors.
            var predicted = RGBCanvas(grey: row.grey, width: row.width, height: row.height)
            for p in row.predictions.reversed() { predicted.blend(mask: p.mask, color: Self.rgb(classColor(p.label)), alpha: 0.4) }
            svg.image(dataURI: try uri(predicted), x: x(0), y: y, width: w, height: h)
            var captions = CaptionPlacer(panel: (x(0), y, panelSize, panelSize))
            for (rank, p) in row.predictions.enumerated() {
                drawBox(&svg, p.box, origin: (x(0), y), scale: scale, color: classColor(p.label), dash: "5 3",
                        caption: "#\(rank + 1) \(className(p.label)) \(p.score.map { String(format: "%.2f", $0) } ?? "")",
                        shortCaption: "#\(rank + 1)", placer: &captions)
            }
            if row.predictions.isEmpty { svg.text("no detection", x: x(0) + 6, y: y + 16, size: 12, fill: "white") }

            // 2: the logit maps of the top detections: per pixel the largest sigmoid(logit), on a dark-to-bright scale.
            let topLogits = row.predictions.prefix(logitMapCount).compactMap(\.logits)
            var probability = [Float](repeating: 0, count: row.width * row.height)
            // A detection's logits are pasted into its box; outside it they are 0 (probability ½), which
            // would paint the whole panel mid-scale, so each map counts only inside its own box.
            for (p, logits) in zip(row.predictions.prefix(logitMapCount), topLogits) {
                let x0 = max(0, Int(floor(p.box[0]))), y0 = max(0, Int(floor(p.box[1])))
                let x1 = min(row.width, Int(ceil(p.box[2]))), y1 = min(row.height, Int(ceil(p.box[3])))
                guard x0 < x1, y0 < y1 else { continue }
                for py in y0..<y1 { for px in x0..<x1 {
                    let i = py * row.width + px
                    probability[i] = max(probability[i], 1 / (1 + exp(-logits[i])))
                } }
            }
            // The slice, dimmed, where no map reaches: it keeps the maps in place anatomically.
            var heat = RGBCanvas(grey: row.grey.map { $0 * 0.35 }, width: row.width, height: row.height)
            for i in probability.indices where probability[i] > 0.02 {
                heat.set(i % row.width, i / row.width, Self.inferno(Double(probability[i])))
            }
            svg.image(dataURI: try uri(heat), x: x(1), y: y, width: w, height: h)
            var rankCaptions = CaptionPlacer(panel: (x(1), y, panelSize, panelSize))
            for (rank, p) in row.predictions.prefix(logitMapCount).enumerated() {
                drawBox(&svg, p.box, origin: (x(1), y), scale: scale, color: "#ffffff", dash: "2 3", caption: "#\(rank + 1)",
                        shortCaption: "#\(rank + 1)", placer: &rankCaptions)
            }

            // 3: ground truth.
            var truth = RGBCanvas(grey: row.grey, width: row.width, height: row.height)
            for g in row.groundTruth { truth.blend(mask: g.mask, color: Self.rgb(classColor(g.label)), alpha: 0.45) }
            svg.image(dataURI: try uri(truth), x: x(2), y: y, width: w, height: h)
            var truthCaptions = CaptionPlacer(panel: (x(2), y, panelSize, panelSize))
            for g in row.groundTruth {
                drawBox(&svg, g.box, origin: (x(2), y), scale: scale, color: classColor(g.label), dash: nil, caption: className(g.label),
                        shortCaption: String(className(g.label).prefix(1)), placer: &truthCaptions)
            }
            if row.groundTruth.isEmpty { svg.text("no lesion", x: x(2) + 6, y: y + 16, size: 12, fill: "white") }

            // 4: difference: hits green, missed magenta, false positives blue; unmatched instances boxed.
            var difference = RGBCanvas(grey: row.grey.map { $0 * 0.6 }, width: row.width, height: row.height)
            var predictedAny = [Bool](repeating: false, count: row.width * row.height), truthAny = predictedAny
            for p in row.predictions { for i in p.mask.indices where p.mask[i] { predictedAny[i] = true } }
            for g in row.groundTruth { for i in g.mask.indices where g.mask[i] { truthAny[i] = true } }
            difference.blend(mask: zip(predictedAny, truthAny).map { $0 && $1 }, color: Self.hitColor, alpha: 0.75)
            difference.blend(mask: zip(predictedAny, truthAny).map { !$0 && $1 }, color: Self.missedColor, alpha: 0.75)
            difference.blend(mask: zip(predictedAny, truthAny).map { $0 && !$1 }, color: Self.falsePositiveColor, alpha: 0.75)
            svg.image(dataURI: try uri(difference), x: x(3), y: y, width: w, height: h)
            let missed = row.groundTruth.filter { g in !row.predictions.contains { Self.iou($0.mask, g.mask) >= matchIoU } }
            let falsePositives = row.predictions.filter { p in !row.groundTruth.contains { Self.iou(p.mask, $0.mask) >= matchIoU } }
            var differenceCaptions = CaptionPlacer(panel: (x(3), y, panelSize, panelSize))
            for g in missed {
                drawBox(&svg, g.box, origin: (x(3), y), scale: scale, color: "#ff4fe0", dash: nil, caption: "missed", shortCaption: "M", placer: &differenceCaptions)
            }
            for p in falsePositives {
                let rank = (row.predictions.firstIndex { $0.box == p.box }).map { "#\($0 + 1) " } ?? ""
                drawBox(&svg, p.box, origin: (x(3), y), scale: scale, color: "#5aa9ff", dash: "5 3", caption: "\(rank)false positive",
                        shortCaption: rank.isEmpty ? "FP" : String(rank.dropLast()), placer: &differenceCaptions)
            }
        }
        let legendY = headerHeight + Double(rows.count) * rowHeight + 10
        for (i, (name, color)) in [("overlap", Self.hitColor), ("missed", Self.missedColor), ("false positive", Self.falsePositiveColor)].enumerated() {
            let lx = gap + 3 * (panelSize + gap) + Double(i) * 82
            svg.rect(lx, legendY - 9, 11, 11, fill: Self.hex(color))
            svg.text(name, x: lx + 15, y: legendY, size: 11.5)
        }
        svg.text("Boxes on the difference: lesions no detection overlaps at mask IoU ≥ \(String(format: "%.2g", matchIoU)), and detections overlapping no lesion.",
                 x: gap, y: legendY, size: 11.5, fill: "#555")
        // Class colours of the prediction and ground-truth columns (a short caption shows the initial only).
        for (i, name) in classNames.dropFirst().enumerated() {
            let lx = gap + Double(i) * 130
            svg.rect(lx, legendY + 7, 11, 11, fill: classColor(i + 1))
            svg.text(name, x: lx + 15, y: legendY + 16, size: 11.5)
        }
        return svg
    }

    /// A box and its caption on a dark tab. The caption goes where `placer` finds room (above the box,
    /// below it, inside its top edge…); where the full caption fits nowhere the short one does.
    func drawBox(_ svg: inout SVGDocument, _ box: [Float], origin: (Double, Double), scale: Double, color: String, dash: String?,
                 caption: String, shortCaption: String, placer: inout CaptionPlacer) {
        let x1 = origin.0 + Double(box[0]) * scale, y1 = origin.1 + Double(box[1]) * scale
        let x2 = origin.0 + Double(box[2]) * scale, y2 = origin.1 + Double(box[3]) * scale
        svg.append("<rect x=\"\(SVGDocument.n(x1))\" y=\"\(SVGDocument.n(y1))\" width=\"\(SVGDocument.n(max(1, x2 - x1)))\" height=\"\(SVGDocument.n(max(1, y2 - y1)))\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.5\"\(dash.map { " stroke-dasharray=\"\($0)\"" } ?? "")/>")
        guard let (text, tx, ty, width) = placer.place([caption, shortCaption], box: (x1, y1, x2, y2)) else { return }
        svg.rect(tx, ty, width, CaptionPlacer.height, fill: "rgba(0,0,0,0.72)")
        svg.text(text, x: tx + 3, y: ty + 11, size: 11, fill: color)
    }

    static func iou(_ a: [Bool], _ b: [Bool]) -> Float {
        var intersection = 0, union = 0
        for i in a.indices { if a[i] && b[i] { intersection += 1 }; if a[i] || b[i] { union += 1 } }
        return union == 0 ? 0 : Float(intersection) / Float(union)
    }

    static func rgb(_ hexColor: String) -> RGBColor {
        let v = UInt32(hexColor.dropFirst(), radix: 16) ?? 0
        return RGBColor(UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF))
    }

    static func hex(_ c: RGBColor) -> String { String(format: "#%02x%02x%02x", c.red, c.green, c.blue) }

    /// An approximation of the inferno colour map (black → purple → orange → pale yellow).
    static func inferno(_ t: Double) -> RGBColor {
        let stops: [(Double, Double, Double)] = [(0, 0, 4), (66, 10, 104), (147, 38, 103), (221, 81, 58), (252, 165, 10), (252, 255, 164)]
        let x = max(0, min(1, t)) * Double(stops.count - 1)
        let i = min(Int(x), stops.count - 2), f = x - Double(i)
        let (a, b) = (stops[i], stops[i + 1])
        return RGBColor(UInt8(a.0 + (b.0 - a.0) * f), UInt8(a.1 + (b.1 - a.1) * f), UInt8(a.2 + (b.2 - a.2) * f))
    }
}

/// Finds room for box captions inside one panel so that they do not cover each other.
struct CaptionPlacer {
    static let height = 14.0
    /// The panel: x, y, width, height.
    var panel: (x: Double, y: Double, width: Double, height: Double)
    var taken: [(x: Double, y: Double, width: Double)] = []

    init(panel: (Double, Double, Double, Double)) { self.panel = panel }

    /// The tab's width: DejaVu Sans, the widest of the usual sans faces, sets digits at 0.64 em (7 px at 11 px).
    static func width(_ text: String) -> Double { Double(text.count) * 7 + 6 }

    /// The first text of `texts` (longest first) with a free spot next to the box, and that spot
    /// (text, x, y of the tab's top, tab width); nil when not even the last one fits.
    mutating func place(_ texts: [String], box: (x1: Double, y1: Double, x2: Double, y2: Double)) -> (String, Double, Double, Double)? {
        let h = CaptionPlacer.height
        for text in texts {
            let w = CaptionPlacer.width(text)
            let left = min(max(box.x1, panel.x), panel.x + panel.width - w)
            let right = min(max(box.x2 - w, panel.x), panel.x + panel.width - w)
            let candidates = [(left, box.y1 - h - 1), (left, box.y2 + 1), (left, box.y1 + 1), (right, box.y1 - h - 1), (right, box.y2 + 1),
                              (left, box.y1 - 2 * h - 2), (left, box.y2 + h + 2)]
            for (x, y) in candidates where y >= panel.y && y + h <= panel.y + panel.height {
                if !taken.contains(where: { x < $0.x + $0.width && $0.x < x + w && y < $0.y + h && $0.y < y + h }) {
                    taken.append((x, y, w))
                    return (text, x, y, w)
                }
            }
        }
        return nil
    }
}
