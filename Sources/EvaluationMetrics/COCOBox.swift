// COCOBox: the `[x, y, width, height]` box of COCO annotations and results, and its IoU.

/// A COCO box `[x, y, width, height]` in pixels (top-left corner and extent), as in COCO JSON.
public struct COCOBox: Equatable, Hashable, Sendable, Codable {
    /// Left edge.
    public var x: Double
    /// Top edge.
    public var y: Double
    /// Extent along x.
    public var width: Double
    /// Extent along y.
    public var height: Double

    /// A box from its corner and extent.
    public init(x: Double, y: Double, width: Double, height: Double) {
        self.x = x
        self.y = y
        self.width = width
        self.height = height
    }

    /// The box as the COCO JSON array `[x, y, width, height]`.
    public var array: [Double] { [x, y, width, height] }

    /// Decodes the COCO JSON array `[x, y, width, height]`.
    public init(from decoder: Decoder) throws {
        var container = try decoder.unkeyedContainer()
        let values = [try container.decode(Double.self), try container.decode(Double.self),
                      try container.decode(Double.self), try container.decode(Double.self)]
        guard container.isAtEnd else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "a COCO box has exactly 4 numbers")
        }
        self.init(x: values[0], y: values[1], width: values[2], height: values[3])
    }

    /// Encodes as the COCO JSON array `[x, y, width, height]`.
    public func encode(to encoder: Encoder) throws {
        var container = encoder.unkeyedContainer()
        try container.encode(contentsOf: array)
    }

    /// IoU matrix `[detections.count][groundTruths.count]` with pycocotools' crowd semantics (maskApi `bbIou`).
    ///
    /// For a crowd ground truth the union is the detection's area alone, so a detection inside a crowd
    /// region scores its covered fraction. Non-overlapping pairs (`w <= 0` or `h <= 0`) score exactly 0.
    /// `isCrowd` has one flag per ground truth.
    public static func iou(detections: [COCOBox], groundTruths: [COCOBox], isCrowd: [Bool]) -> [[Double]] {
        precondition(isCrowd.count == groundTruths.count,
                     "COCOBox.iou: \(isCrowd.count) crowd flags for \(groundTruths.count) ground truths")
        var result = [[Double]](repeating: [Double](repeating: 0, count: groundTruths.count),
                                count: detections.count)
        for (g, gt) in groundTruths.enumerated() {
            let gtArea = gt.width * gt.height
            for (d, dt) in detections.enumerated() {
                let dtArea = dt.width * dt.height
                // Same expression order as maskApi so the doubles round identically.
                let w = Swift.min(dt.width + dt.x, gt.width + gt.x) - Swift.max(dt.x, gt.x)
                if w <= 0 { continue }
                let h = Swift.min(dt.height + dt.y, gt.height + gt.y) - Swift.max(dt.y, gt.y)
                if h <= 0 { continue }
                let intersection = w * h
                let union = isCrowd[g] ? dtArea : dtArea + gtArea - intersection
                result[d][g] = intersection / union
            }
        }
        return result
    }
}
