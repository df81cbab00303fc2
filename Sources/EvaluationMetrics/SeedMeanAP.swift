// SeedMeanAP: the seed's "matterport-style" segmentation mAP (spec §7.1; Appendix D/B20 "seed_map"),
// reproduced rule for rule so the README's numbers can be compared. It is NOT COCO mAP; see
// COCOEvaluator for that. The differences (spec §7.1.6) are deliberate.

func _fixed4(_ v: Double) -> String { _fixed(v, 4) }
func _fixed2(_ v: Double) -> String { _fixed(v, 2) }

/// Decimal rendering with `digits` places without Foundation formatting (round half away from zero
/// on the double; enough for reports, not for bit-exact printf emulation).
func _fixed(_ v: Double, _ digits: Int) -> String {
    if !v.isFinite { return "\(v)" }
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let scaled = (abs(v) * scale).rounded()
    let integer = Int(scaled / scale)
    var fraction = String(Int(scaled) - integer * Int(scale))
    while fraction.count < digits { fraction = "0" + fraction }
    return (v < 0 && scaled != 0 ? "-" : "") + String(integer) + "." + fraction
}

/// The seed's segmentation mean AP (spec §7.1): per-image AP with the seed's matching, averaged over images.
///
/// Rules reproduced (spec §7.1.3–7.1.5, Appendix D/B3, B20):
/// - mask IoU `[num_pred, num_gt]` = inter / (area_p + area_g − inter) in float32, no epsilon (0/0 is NaN,
///   which never passes a threshold);
/// - predictions sorted by score, descending; the loop runs over ground truths in order; each takes the
///   predictions with IoU **strictly greater** than the threshold, visits them by descending IoU, and
///   matches the first whose label equals its label; a prediction may be claimed by several ground truths
///   (the last claim is kept), there is no "already matched" check;
/// - precision_i = TP_i / i, recall_i = TP_i / num_gt (float32), padded with 0…0 and 0…1, made
///   non-increasing from the right, AP = Σ (r_i − r_{i−1}) p_i where recall changes (all-point);
/// - an image with neither ground truth nor predictions scores 1; with only one of them, 0;
/// - dataset AP = mean over all images; mAP = mean over thresholds.
///
/// Ties (not specified by the seed, whose `argsort` is unstable): equal scores keep their input order;
/// equal IoUs are visited in score order.
public enum SeedMeanAP {
    /// The spec's thresholds (§7.1.1, B20): float32 `arange(0.5, 1.0, 0.05)` accumulated in float32 as
    /// numpy does (`0.5 + i * (Float(0.55) - 0.5)`), giving 0.5, 0.55000001, 0.60000002, 0.65000004,
    /// 0.70000005, 0.75000006, 0.80000007, 0.85000008, 0.90000010, 0.95000011.
    public static let thresholds: [Float] = {
        let start: Float = 0.5
        let delta: Float = Float(0.55) - start
        return (0..<10).map { start + Float($0) * delta }
    }()

    /// What the seed's own call `torch.arange(0.5, 1, 0.05)` yields in float32 (each value the float32
    /// nearest `0.5 + i * 0.05` computed in double): 0.5, 0.55, 0.6, 0.65, 0.69999999, 0.75, ... 0.94999999.
    /// Differs from `thresholds` only for IoUs lying exactly between the two float32 values.
    public static let torchArangeThresholds: [Float] = (0..<10).map { Float(0.5 + Double($0) * 0.05) }

    /// Evaluates a data set: dataset AP at each threshold (mean over images) and their mean.
    ///
    /// For large data sets prefer `SeedMeanAPAccumulator`, which keeps no masks between images.
    public static func evaluate(images: [SeedMAPImage], thresholds: [Float] = SeedMeanAP.thresholds) -> SeedMAPResult {
        var accumulator = SeedMeanAPAccumulator(thresholds: thresholds)
        for image in images { accumulator.add(image) }
        return accumulator.result
    }

    /// Per-image AP at every threshold (the IoU matrix is computed once: predictions do not depend on
    /// the threshold, so re-inferring per threshold as the seed does gives the same numbers, spec B20).
    public static func averagePrecisions(image: SeedMAPImage, thresholds: [Float]) -> [Float] {
        let ious = maskIoU(predictions: sortedByScore(image.predictions).map { $0.mask },
                           groundTruths: image.groundTruths.map(\.mask))
        return thresholds.map { _averagePrecision(image: image, ious: ious, threshold: $0) }
    }

    /// Per-image AP at one threshold, including the empty-image rules.
    public static func averagePrecision(image: SeedMAPImage, threshold: Float) -> Float {
        let ious = maskIoU(predictions: sortedByScore(image.predictions).map { $0.mask },
                           groundTruths: image.groundTruths.map(\.mask))
        return _averagePrecision(image: image, ious: ious, threshold: threshold)
    }

    static func _averagePrecision(image: SeedMAPImage, ious: [[Float]], threshold: Float) -> Float {
        switch (image.predictions.isEmpty, image.groundTruths.isEmpty) {
        case (true, true): return 1
        case (true, false), (false, true): return 0
        case (false, false):
            let matches = _match(image: image, ious: ious, threshold: threshold)
            return allPointAP(predictionMatch: matches.predictionMatch, groundTruthCount: image.groundTruths.count)
        }
    }

    /// Prediction indices in descending score order, ties in input order.
    static func _scoreOrder(_ predictions: [SeedMAPPrediction]) -> [Int] {
        predictions.indices.sorted { a, b in
            predictions[a].score > predictions[b].score || (predictions[a].score == predictions[b].score && a < b)
        }
    }

    static func sortedByScore(_ predictions: [SeedMAPPrediction]) -> [SeedMAPPrediction] {
        _scoreOrder(predictions).map { predictions[$0] }
    }

    /// The seed's `compute_matches` for one image at one threshold.
    public static func match(image: SeedMAPImage, threshold: Float) -> SeedMAPMatches {
        let ious = maskIoU(predictions: sortedByScore(image.predictions).map { $0.mask },
                           groundTruths: image.groundTruths.map(\.mask))
        return _match(image: image, ious: ious, threshold: threshold)
    }

    /// `ious` is `[pred][gt]` with predictions already in score order.
    static func _match(image: SeedMAPImage, ious: [[Float]], threshold: Float) -> SeedMAPMatches {
        let order = _scoreOrder(image.predictions)
        let labels = order.map { image.predictions[$0].label }
        var gtMatch = [Int](repeating: -1, count: image.groundTruths.count)
        var predMatch = [Int](repeating: -1, count: order.count)
        for (g, gt) in image.groundTruths.enumerated() {
            // Candidates strictly above the threshold, best IoU first (ties: better score first).
            let candidates = order.indices.filter { ious[$0][g] > threshold }
                .sorted { a, b in ious[a][g] > ious[b][g] || (ious[a][g] == ious[b][g] && a < b) }
            for p in candidates where labels[p] == gt.label {
                predMatch[p] = g  // no "already matched" check: a later gt may claim it again
                gtMatch[g] = p
                break
            }
        }
        return SeedMAPMatches(order: order, groundTruthMatch: gtMatch, predictionMatch: predMatch)
    }

    /// The seed's `compute_ap` from the matches of predictions in score order: all-point interpolated AP,
    /// in float32 like the seed's torch code.
    public static func allPointAP(predictionMatch: [Int], groundTruthCount: Int) -> Float {
        precondition(groundTruthCount > 0, "allPointAP: no ground truth (the empty-image rules handle that case)")
        var precisions: [Float] = [0]
        var recalls: [Float] = [0]
        var truePositives = 0
        for (i, match) in predictionMatch.enumerated() {
            if match > -1 { truePositives += 1 }
            precisions.append(Float(truePositives) / (Float(i) + 1))
            recalls.append(Float(truePositives) / Float(groundTruthCount))
        }
        precisions.append(0)
        recalls.append(1)
        for i in stride(from: precisions.count - 2, through: 0, by: -1) {
            precisions[i] = Swift.max(precisions[i], precisions[i + 1])
        }
        var ap: Float = 0
        for i in 1..<recalls.count where recalls[i - 1] != recalls[i] {
            ap += (recalls[i] - recalls[i - 1]) * precisions[i]
        }
        return ap
    }

    /// Mask IoU `[predictions.count][groundTruths.count]` in float32 as the seed computes it:
    /// `inter / (area_p + area_g − inter)`, no epsilon. Pixels are only compared inside the overlap of
    /// the two masks' row/column extents (a pure speed-up: outside it the intersection is 0).
    public static func maskIoU(predictions: [BinaryMask], groundTruths: [BinaryMask]) -> [[Float]] {
        var result = [[Float]](repeating: [Float](repeating: 0, count: groundTruths.count), count: predictions.count)
        let gtExtents = groundTruths.map(_Extent.init)
        for (p, prediction) in predictions.enumerated() {
            let pe = _Extent(prediction)
            for (g, gt) in groundTruths.enumerated() {
                precondition(prediction.height == gt.height && prediction.width == gt.width,
                             "SeedMeanAP.maskIoU: prediction [\(prediction.height), \(prediction.width)] vs ground truth [\(gt.height), \(gt.width)]")
                let ge = gtExtents[g]
                var intersection = 0
                let y0 = Swift.max(pe.minY, ge.minY), y1 = Swift.min(pe.maxY, ge.maxY)
                let x0 = Swift.max(pe.minX, ge.minX), x1 = Swift.min(pe.maxX, ge.maxX)
                if y0 <= y1 && x0 <= x1 {
                    let width = prediction.width
                    prediction.pixels.withUnsafeBufferPointer { a in
                        gt.pixels.withUnsafeBufferPointer { b in
                            for y in y0...y1 {
                                let row = y * width
                                for x in x0...x1 { intersection &+= Int(a[row + x] & b[row + x]) }
                            }
                        }
                    }
                }
                let inter = Float(intersection)
                result[p][g] = inter / (Float(pe.area) + Float(ge.area) - inter)
            }
        }
        return result
    }

    /// Row/column extent and area of a mask (an empty mask has an empty extent).
    struct _Extent {
        var minY = Int.max, maxY = -1, minX = Int.max, maxX = -1, area = 0

        init(_ mask: BinaryMask) {
            mask.pixels.withUnsafeBufferPointer { px in
                for y in 0..<mask.height {
                    let row = y * mask.width
                    for x in 0..<mask.width where px[row + x] != 0 {
                        area += 1
                        if y < minY { minY = y }
                        maxY = y
                        if x < minX { minX = x }
                        if x > maxX { maxX = x }
                    }
                }
            }
        }
    }
}
