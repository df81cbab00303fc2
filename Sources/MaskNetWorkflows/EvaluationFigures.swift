import EvaluationMetrics
import Foundation
import ImageIO
import SVGPlotting
import Visualization

/// The charts of the evaluation stages, written as SVG into an evaluation's `figures/` folder.
enum EvaluationFigures {
    /// Precision–recall curves of the COCO mask evaluation at IoU 0.5 and 0.75 (all areas, 100
    /// detections), averaged over the categories that have ground truth, as pycocotools' AP averages them.
    static func precisionRecall(_ evaluation: COCOEvaluation) -> SVGDocument {
        let p = evaluation.parameters
        let series: [LinePlot.Series] = [0.5, 0.75].enumerated().compactMap { index, iou in
            guard let t = p.iouThresholds.firstIndex(where: { abs($0 - iou) < 1e-9 }) else { return nil }
            let points = p.recallThresholds.indices.compactMap { r -> (x: Double, y: Double)? in
                let values = evaluation.categoryIDs.indices.map { evaluation.precision(t: t, r: r, k: $0, a: 0, m: p.maxDetections.count - 1) }
                    .filter { $0 >= 0 }
                return values.isEmpty ? nil : (p.recallThresholds[r], values.reduce(0, +) / Double(values.count))
            }
            return LinePlot.Series(name: "IoU \(iou)", points: points, colorIndex: index)
        }
        var plot = LinePlot(title: "Precision–recall (COCO mask evaluation)", xLabel: "recall", yLabel: "precision", series: series)
        plot.xRange = 0...1
        plot.yRange = 0...1
        return plot.render()
    }

    /// AP against the IoU threshold: the seed's per-slice mAP and the COCO mask AP.
    static func apAgainstIoU(seed: SeedMAPResult, coco: COCOEvaluation) -> SVGDocument {
        let p = coco.parameters
        let cocoPoints = p.iouThresholds.indices.compactMap { t -> (x: Double, y: Double)? in
            var values: [Double] = []
            for k in coco.categoryIDs.indices {
                let precisions = p.recallThresholds.indices.map { coco.precision(t: t, r: $0, k: k, a: 0, m: p.maxDetections.count - 1) }
                if precisions.allSatisfy({ $0 >= 0 }) { values.append(precisions.reduce(0, +) / Double(precisions.count)) }
            }
            return values.isEmpty ? nil : (p.iouThresholds[t], values.reduce(0, +) / Double(values.count))
        }
        let seedPoints = zip(seed.thresholds, seed.averagePrecisions).map { (Double($0), $1) }
        var plot = LinePlot(title: "AP against IoU threshold", xLabel: "IoU threshold", yLabel: "AP",
                            series: [.init(name: "seed AP (per slice)", points: seedPoints, markers: true, colorIndex: 0),
                                     .init(name: "COCO mask AP", points: cocoPoints, markers: true, colorIndex: 1)])
        plot.xRange = 0.5...0.95
        plot.yRange = 0...1
        return plot.render()
    }

    /// Encodes a canvas as PNG (fast compression: figures are rebuilt, not archived).
    static func png(_ canvas: RGBCanvas) throws -> Data {
        try PNGEncoder.encode(bytes: canvas.pixels, width: canvas.width, height: canvas.height, channels: 3)
    }
}

extension EvaluationFigures {
    /// The confusion matrix as a heat map: counts and row percentages, coloured by the row fraction
    /// (so a class with few slices reads as clearly as a large one).
    static func confusionMatrix(_ report: ClassificationReport) -> SVGDocument {
        let rows = report.confusion.rows
        let names = report.classes.map(\.name)
        var map = HeatMap(title: "Confusion matrix (\(report.confusion.total) slices)", rowTitle: "true class", columnTitle: "predicted class",
                          rowLabels: names, columnLabels: names, values: rows.map { $0.map { Double($0) } })
        let totals = rows.map { max(1, $0.reduce(0, +)) }
        map.cellText = { r, _, v in [String(Int(v)), String(format: "%.0f%% of row", 100 * v / Double(totals[r]))] }
        map.intensity = { r, _, v in v / Double(totals[r]) }
        return map.render(cellWidth: 110, cellHeight: 50)
    }

    /// Per-class sensitivity and specificity with their Wilson 95% intervals.
    static func sensitivitySpecificity(_ report: ClassificationReport) -> SVGDocument {
        var rows: [IntervalPlot.Row] = []
        for (index, c) in report.classes.enumerated() {
            if let s = c.sensitivity, let i = c.sensitivityInterval {
                rows.append(.init(label: c.name, group: "sensitivity", value: s, lower: i.lower, upper: i.upper))
            }
            let negatives = report.confusion.total - report.confusion.support(index)
            let trueNegatives = negatives - (report.confusion.predicted(index) - report.confusion[index, index])
            if let s = c.specificity, let i = ProportionInterval.wilson(successes: trueNegatives, trials: negatives) {
                rows.append(.init(label: c.name, group: "specificity", value: s, lower: i.lower, upper: i.upper))
            }
        }
        return IntervalPlot(title: "Sensitivity and specificity per class (95% Wilson intervals)", rows: rows).render()
    }
}
