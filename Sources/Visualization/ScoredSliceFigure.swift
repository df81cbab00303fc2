import Foundation
import SVGPlotting

/// Slices with their class scores, e.g. the ones a classifier got most wrong: each slice enlarged with
/// nearest-neighbour sampling, its true and predicted class, and one bar per class score.
public struct ScoredSliceFigure {
    /// One slice.
    public struct Item {
        public var name: String
        /// Grey slice `[H·W]` in [0, 1].
        public var grey: [Float]
        public var width: Int, height: Int
        public var truth: Int, prediction: Int
        /// One score in [0, 1] per class.
        public var scores: [Double]
        public init(name: String, grey: [Float], width: Int, height: Int, truth: Int, prediction: Int, scores: [Double]) {
            self.name = name; self.grey = grey; self.width = width; self.height = height
            self.truth = truth; self.prediction = prediction; self.scores = scores
        }
    }

    public var title: String
    public var classNames: [String]
    /// What the scores are ("softmax of the logits").
    public var scoreDescription: String
    public var items: [Item]
    public var panelSize = 200.0
    public var columns = 4

    public init(title: String, classNames: [String], scoreDescription: String, items: [Item]) {
        self.title = title; self.classNames = classNames; self.scoreDescription = scoreDescription; self.items = items
    }

    /// The figure as SVG; `png` encodes a canvas as PNG bytes.
    public func render(png: (RGBCanvas) throws -> Data) throws -> SVGDocument {
        let gap = 14.0, barHeight = 15.0, textBlock = 50 + Double(classNames.count) * (barHeight + 3)
        let cellHeight = panelSize + textBlock + gap
        let rows = (items.count + columns - 1) / columns
        let width = Double(min(columns, max(items.count, 1))) * (panelSize + gap) + gap
        var svg = SVGDocument(width: max(width, 420), height: 46 + Double(max(rows, 1)) * cellHeight, title: title)
        svg.text(title, x: gap, y: 18, size: 14, weight: "600")
        svg.text("bars: \(scoreDescription); the predicted class is the largest", x: gap, y: 36, size: 11.5, fill: "#555")
        if items.isEmpty { svg.text("none: every slice was classified correctly", x: gap, y: 64, size: 12.5); return svg }
        for (i, item) in items.enumerated() {
            let x = gap + Double(i % columns) * (panelSize + gap), y = 46 + Double(i / columns) * cellHeight
            let scale = panelSize / Double(max(item.width, item.height))
            let canvas = RGBCanvas(grey: item.grey, width: item.width, height: item.height)
            let bytes = try png(canvas)
            svg.image(dataURI: "data:image/png;base64," + bytes.base64EncodedString(), x: x, y: y,
                      width: Double(item.width) * scale, height: Double(item.height) * scale)
            let ty = y + panelSize + 15
            svg.text(item.name, x: x, y: ty, size: 11, fill: "#555")
            svg.text("truth: \(name(item.truth))", x: x, y: ty + 15, size: 11.5, fill: "#12602c", weight: "600")
            svg.text("predicted: \(name(item.prediction))", x: x, y: ty + 30, size: 11.5,
                     fill: item.truth == item.prediction ? "#12602c" : "#9b1c1c", weight: "600")
            for (c, score) in item.scores.enumerated() {
                let by = ty + 38 + Double(c) * (barHeight + 3)
                let labelWidth = 70.0, barWidth = panelSize - labelWidth - 36
                svg.text(name(c), x: x, y: by + 11, size: 11)
                svg.rect(x + labelWidth, by, barWidth, barHeight, fill: "#eeeeee")
                svg.rect(x + labelWidth, by, barWidth * max(0, min(1, score)), barHeight,
                         fill: c == item.truth ? "#009E73" : (c == item.prediction ? "#D55E00" : "#999999"))
                svg.text(String(format: "%.2f", score), x: x + labelWidth + barWidth + 4, y: by + 11, size: 11)
            }
        }
        return svg
    }

    func name(_ index: Int) -> String { index < classNames.count ? classNames[index] : "class \(index)" }
}
