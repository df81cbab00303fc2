// COCOStatistics: the 12 numbers of pycocotools' summarize(), its printed layout and a JSON form.

import Foundation

/// The 12 standard COCO detection statistics, in pycocotools' `stats` order; −1 where nothing was evaluated.
public struct COCOStatistics: Equatable, Sendable, Codable {
    /// Short names in `stats` order (Detectron2's keys).
    public static let names = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]

    /// The geometry the statistics are about.
    public let iouType: COCOIoUType
    /// `stats[0...11]`.
    public let values: [Double]

    /// Statistics from values in `stats` order.
    public init(iouType: COCOIoUType, values: [Double]) {
        self.iouType = iouType
        self.values = values
    }

    /// AP @[IoU=0.50:0.95 | area=all | maxDets=100].
    public var averagePrecision: Double { values[0] }
    /// AP @[IoU=0.50 | area=all | maxDets=100].
    public var averagePrecision50: Double { values[1] }
    /// AP @[IoU=0.75 | area=all | maxDets=100].
    public var averagePrecision75: Double { values[2] }

    /// The value for a short name such as `"AP50"`, or nil for an unknown name.
    public subscript(name: String) -> Double? {
        guard let index = COCOStatistics.names.firstIndex(of: name), index < values.count else { return nil }
        return values[index]
    }

    /// The twelve lines pycocotools' `summarize()` prints, e.g.
    /// ` Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.504`.
    public var summaryLines: [String] {
        let rows: [(ap: Bool, iou: String, area: String, maxDets: Int)] = [
            (true, "0.50:0.95", "all", 100), (true, "0.50", "all", 100), (true, "0.75", "all", 100),
            (true, "0.50:0.95", "small", 100), (true, "0.50:0.95", "medium", 100), (true, "0.50:0.95", "large", 100),
            (false, "0.50:0.95", "all", 1), (false, "0.50:0.95", "all", 10), (false, "0.50:0.95", "all", 100),
            (false, "0.50:0.95", "small", 100), (false, "0.50:0.95", "medium", 100), (false, "0.50:0.95", "large", 100),
        ]
        return zip(rows, values).map { row, value in
            let title = row.ap ? "Average Precision" : "Average Recall"
            let kind = row.ap ? "(AP)" : "(AR)"
            return " " + _pad(title, 18) + " " + kind + " @[ IoU=" + _pad(row.iou, 9) + " | area="
                + _padLeft(row.area, 6) + " | maxDets=" + _padLeft(String(row.maxDets), 3) + " ] = "
                + String(format: "%0.3f", value)
        }
    }

    /// The summary as one string with a trailing newline.
    public var summaryText: String { summaryLines.joined(separator: "\n") + "\n" }

    /// A JSON object `{"iouType": "segm", "AP": ..., ..., "ARl": ...}` with keys in `stats` order and
    /// shortest round-trip doubles.
    public var jsonText: String {
        var parts = ["\"iouType\": \"\(iouType.rawValue)\""]
        for (name, value) in zip(COCOStatistics.names, values) {
            parts.append("\"\(name)\": \(value.isFinite ? "\(value)" : "null")")
        }
        return "{" + parts.joined(separator: ", ") + "}\n"
    }

    private func _pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s : s + String(repeating: " ", count: width - s.count)
    }

    private func _padLeft(_ s: String, _ width: Int) -> String {
        s.count >= width ? s : String(repeating: " ", count: width - s.count) + s
    }
}

extension COCOEvaluator {
    /// `summarize()` for detections: the 12 statistics from the accumulated precision and recall.
    static func _summarize(_ e: COCOEvaluation) -> [Double] {
        let p = e.parameters
        let maxDets = p.maxDetections.sorted()
        let last = maxDets.last ?? 100
        func stat(ap: Bool, iou: Double?, area: String, maxDet: Int) -> Double {
            let ts = iou.map { value in p.iouThresholds.indices.filter { p.iouThresholds[$0] == value } }
                ?? Array(p.iouThresholds.indices)
            let aind = p.areaRanges.indices.filter { p.areaRanges[$0].label == area }
            let mind = maxDets.indices.filter { maxDets[$0] == maxDet }
            var selected: [Double] = []
            // Same element order as numpy's C-order slice s[t, :, k, a, m] / s[t, k, a, m].
            for t in ts {
                if ap {
                    for r in p.recallThresholds.indices {
                        for k in e.categoryIDs.indices { for a in aind { for m in mind {
                            let v = e.precision(t: t, r: r, k: k, a: a, m: m)
                            if v > -1 { selected.append(v) }
                        } } }
                    }
                } else {
                    for k in e.categoryIDs.indices { for a in aind { for m in mind {
                        let v = e.recall(t: t, k: k, a: a, m: m)
                        if v > -1 { selected.append(v) }
                    } } }
                }
            }
            return selected.isEmpty ? -1 : numpyMean(selected)
        }
        return [
            stat(ap: true, iou: nil, area: "all", maxDet: last),
            stat(ap: true, iou: 0.5, area: "all", maxDet: last),
            stat(ap: true, iou: 0.75, area: "all", maxDet: last),
            stat(ap: true, iou: nil, area: "small", maxDet: last),
            stat(ap: true, iou: nil, area: "medium", maxDet: last),
            stat(ap: true, iou: nil, area: "large", maxDet: last),
            stat(ap: false, iou: nil, area: "all", maxDet: maxDets.first ?? 1),
            stat(ap: false, iou: nil, area: "all", maxDet: maxDets.count > 1 ? maxDets[1] : last),
            stat(ap: false, iou: nil, area: "all", maxDet: last),
            stat(ap: false, iou: nil, area: "small", maxDet: last),
            stat(ap: false, iou: nil, area: "medium", maxDet: last),
            stat(ap: false, iou: nil, area: "large", maxDet: last),
        ]
    }
}

/// `np.mean` of a contiguous float64 array, bit for bit: numpy's pairwise summation divided by the count.
///
/// numpy sums blocks of up to 128 elements with eight interleaved accumulators and splits longer
/// arrays in halves (rounded down to a multiple of 8); plain left-to-right summation differs in the last bits.
public func numpyMean(_ values: [Double]) -> Double {
    values.withUnsafeBufferPointer { _pairwiseSum($0[...]) } / Double(values.count)
}

func _pairwiseSum(_ a: Slice<UnsafeBufferPointer<Double>>) -> Double {
    let n = a.count
    let start = a.startIndex
    if n < 8 {
        var result = 0.0
        for v in a { result += v }
        return result
    } else if n <= 128 {
        var r = (0..<8).map { a[start + $0] }
        var i = 8
        while i < n - n % 8 {
            for j in 0..<8 { r[j] += a[start + i + j] }
            i += 8
        }
        var result = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
        while i < n {
            result += a[start + i]
            i += 1
        }
        return result
    } else {
        var half = n / 2
        half -= half % 8
        return _pairwiseSum(a[start..<(start + half)]) + _pairwiseSum(a[(start + half)...])
    }
}
