// COCOEvaluator: COCO detection evaluation (bbox and segm), step for step as pycocotools' COCOeval:
// prepare → per-image IoU → per-image matching (evaluateImg) → per-category accumulation → summarize.

import Foundation

/// Which geometry COCO evaluation compares.
public enum COCOIoUType: String, Sendable, CaseIterable, Codable {
    /// Box IoU on `bbox`.
    case bbox
    /// Mask IoU on `segmentation` (RLE).
    case segm
}

/// One named object-area range of COCO evaluation, inclusive at both ends (`area < lower || area > upper` is outside).
public struct COCOAreaRange: Equatable, Sendable {
    /// `all`, `small`, `medium` or `large` for the standard ranges.
    public var label: String
    /// Smallest area inside the range.
    public var lower: Double
    /// Largest area inside the range.
    public var upper: Double

    /// A labelled range.
    public init(label: String, lower: Double, upper: Double) {
        self.label = label
        self.lower = lower
        self.upper = upper
    }
}

/// The parameters of COCO evaluation; the defaults are pycocotools' `Params(iouType='segm'|'bbox')`.
public struct COCOEvaluationParameters: Equatable, Sendable {
    /// IoU thresholds: `np.linspace(.5, .95, 10)` (note 0.8999999999999999 for the 9th).
    public var iouThresholds: [Double]
    /// Recall thresholds: `np.linspace(0, 1, 101)`.
    public var recallThresholds: [Double]
    /// Maximum detections per image, ascending: `[1, 10, 100]`.
    public var maxDetections: [Int]
    /// Area ranges: all `[0, 1e10]`, small `[0, 32²]`, medium `[32², 96²]`, large `[96², 1e10]`.
    public var areaRanges: [COCOAreaRange]

    /// pycocotools' defaults for `bbox` and `segm`.
    public init() {
        iouThresholds = COCOEvaluationParameters.linspace(0.5, 0.95, count: 10)
        recallThresholds = COCOEvaluationParameters.linspace(0.0, 1.0, count: 101)
        maxDetections = [1, 10, 100]
        areaRanges = [
            COCOAreaRange(label: "all", lower: 0, upper: 1e10),
            COCOAreaRange(label: "small", lower: 0, upper: 1024),
            COCOAreaRange(label: "medium", lower: 1024, upper: 9216),
            COCOAreaRange(label: "large", lower: 9216, upper: 1e10),
        ]
    }

    /// `np.linspace(start, stop, count)` bit for bit: `i * ((stop - start) / (count - 1)) + start`, last = `stop`.
    public static func linspace(_ start: Double, _ stop: Double, count: Int) -> [Double] {
        precondition(count >= 2, "linspace: count \(count) < 2")
        let step = (stop - start) / Double(count - 1)
        var values = (0..<count).map { Double($0) * step + start }
        values[count - 1] = stop
        return values
    }
}

/// The result of COCO evaluation: pycocotools' `eval['precision']`, `eval['recall']` and the 12 statistics.
public struct COCOEvaluation: Sendable {
    /// The parameters used.
    public let parameters: COCOEvaluationParameters
    /// The geometry compared.
    public let iouType: COCOIoUType
    /// Category ids in evaluation order (sorted ascending, as pycocotools).
    public let categoryIDs: [Int]
    /// Image ids evaluated (sorted ascending).
    public let imageIDs: [Int]
    /// Precision `[T, R, K, A, M]` flattened row-major; −1 where a category has no non-ignored ground truth.
    public let precision: [Double]
    /// Recall `[T, K, A, M]` flattened row-major; −1 where a category has no non-ignored ground truth.
    public let recall: [Double]
    /// The 12 standard statistics of `summarize()`.
    public let statistics: COCOStatistics

    /// `precision[t, r, k, a, m]`.
    public func precision(t: Int, r: Int, k: Int, a: Int, m: Int) -> Double {
        let (R, K, A, M) = (parameters.recallThresholds.count, categoryIDs.count,
                            parameters.areaRanges.count, parameters.maxDetections.count)
        return precision[(((t * R + r) * K + k) * A + a) * M + m]
    }

    /// `recall[t, k, a, m]`.
    public func recall(t: Int, k: Int, a: Int, m: Int) -> Double {
        let (K, A, M) = (categoryIDs.count, parameters.areaRanges.count, parameters.maxDetections.count)
        return recall[((t * K + k) * A + a) * M + m]
    }
}

/// COCO evaluation identical to pycocotools' `COCOeval` (`useCats=1`) for `bbox` and `segm`.
public enum COCOEvaluator {
    /// A ground truth or detection ready for matching.
    struct _Object {
        var id: Int
        var area: Double
        var isCrowd: Bool
        var score: Double
        var box: COCOBox
        var mask: RLEMask
    }

    /// The outcome of matching one image and category in one area range (`evaluateImg`).
    struct _ImageEvaluation {
        /// Scores of the kept detections, highest first `[D]`.
        var detectionScores: [Double]
        /// Id of the matched ground truth per threshold and detection `[T, D]`; 0 = unmatched.
        var detectionMatches: [Int]
        /// Ignore flag per threshold and detection `[T, D]`.
        var detectionIgnore: [Bool]
        /// Ignore flag per ground truth `[G]`.
        var groundTruthIgnore: [Bool]
    }

    /// Runs evaluate(), accumulate() and summarize() on ground truth and (loadRes-completed) detections.
    ///
    /// Throws `COCOFormatError` when an annotation lacks the `bbox` or `segmentation` the IoU type needs,
    /// or a polygon is malformed.
    public static func evaluate(groundTruth: COCOGroundTruth, detections: COCODetections, iouType: COCOIoUType,
                                parameters: COCOEvaluationParameters = COCOEvaluationParameters()) throws -> COCOEvaluation {
        let imageIDs = Array(Set(groundTruth.images.map(\.id))).sorted()
        let categoryIDs = Array(Set(groundTruth.categoryIDs)).sorted()
        var imageSize: [Int: (height: Int, width: Int)] = [:]
        for image in groundTruth.images where imageSize[image.id] == nil {
            imageSize[image.id] = (image.height, image.width)
        }
        let imageIndex = Dictionary(uniqueKeysWithValues: imageIDs.enumerated().map { ($1, $0) })
        let categoryIndex = Dictionary(uniqueKeysWithValues: categoryIDs.enumerated().map { ($1, $0) })
        let maxDetections = parameters.maxDetections.sorted()
        let lastMaxDetections = maxDetections.last ?? 0

        // _prepare: group by (image, category), keeping file order inside a group.
        func prepare(_ annotations: [COCOAnnotation], file: String, keyPrefix: String,
                     isResults: Bool) throws -> [[[_Object]]] {
            var grouped = [[[_Object]]](repeating: [[_Object]](repeating: [], count: categoryIDs.count),
                                        count: imageIDs.count)
            for (n, annotation) in annotations.enumerated() {
                guard let i = imageIndex[annotation.imageID], let k = categoryIndex[annotation.categoryID] else { continue }
                let key = isResults ? "[\(n)]" : "\(keyPrefix)[\(n)]"
                let size = imageSize[annotation.imageID]!
                var object = _Object(id: annotation.id, area: annotation.area, isCrowd: isResults ? false : annotation.isCrowd,
                                     score: annotation.score, box: COCOBox(x: 0, y: 0, width: 0, height: 0),
                                     mask: RLEMask(height: 0, width: 0, counts: []))
                switch iouType {
                case .bbox:
                    guard let box = annotation.bbox else {
                        throw COCOFormatError(file: file, key: key + ".bbox", message: "missing; bbox evaluation needs a box for every annotation")
                    }
                    object.box = box
                case .segm:
                    guard let segmentation = annotation.segmentation else {
                        throw COCOFormatError(file: file, key: key + ".segmentation", message: "missing; segm evaluation needs a segmentation for every annotation")
                    }
                    object.mask = try _toRLE(segmentation, height: size.height, width: size.width, file: file, key: key + ".segmentation")
                }
                grouped[i][k].append(object)
            }
            return grouped
        }
        let gts = try prepare(groundTruth.annotations, file: groundTruth.source, keyPrefix: "annotations", isResults: false)
        var dts = try prepare(detections.annotations, file: detections.source, keyPrefix: "", isResults: true)

        // Detections per (image, category) sorted by score (stable) and capped at the largest maxDets,
        // which is what computeIoU and evaluateImg both see.
        for i in dts.indices {
            for k in dts[i].indices where !dts[i][k].isEmpty {
                let order = _stableDescending(dts[i][k].map(\.score))
                dts[i][k] = Array(order.prefix(lastMaxDetections).map { dts[i][k][$0] })
            }
        }

        let T = parameters.iouThresholds.count
        let A = parameters.areaRanges.count
        // evaluateImg for every (category, area range, image).
        var evaluations = [_ImageEvaluation?](repeating: nil, count: categoryIDs.count * A * imageIDs.count)
        for k in categoryIDs.indices {
            for i in imageIDs.indices {
                let gt = gts[i][k], dt = dts[i][k]
                if gt.isEmpty && dt.isEmpty { continue }
                let ious: [[Double]]
                if gt.isEmpty || dt.isEmpty {
                    ious = []
                } else {
                    let crowd = gt.map(\.isCrowd)
                    switch iouType {
                    case .bbox: ious = COCOBox.iou(detections: dt.map(\.box), groundTruths: gt.map(\.box), isCrowd: crowd)
                    case .segm: ious = RLEMask.iou(detections: dt.map(\.mask), groundTruths: gt.map(\.mask), isCrowd: crowd)
                    }
                }
                for (a, range) in parameters.areaRanges.enumerated() {
                    evaluations[(k * A + a) * imageIDs.count + i] =
                        _evaluateImage(gt: gt, dt: dt, ious: ious, range: range, thresholds: parameters.iouThresholds)
                }
            }
        }

        // accumulate
        let R = parameters.recallThresholds.count, K = categoryIDs.count, M = maxDetections.count
        var precision = [Double](repeating: -1, count: T * R * K * A * M)
        var recall = [Double](repeating: -1, count: T * K * A * M)
        let eps = Double.ulpOfOne  // np.spacing(1)
        for k in 0..<K {
            for a in 0..<A {
                for (m, maxDet) in maxDetections.enumerated() {
                    let e = (0..<imageIDs.count).compactMap { evaluations[(k * A + a) * imageIDs.count + $0] }
                    if e.isEmpty { continue }
                    var scores: [Double] = []
                    for ev in e { scores.append(contentsOf: ev.detectionScores.prefix(maxDet)) }
                    let order = _stableDescending(scores)
                    let nonIgnoredGT = e.reduce(0) { $0 + $1.groundTruthIgnore.filter { !$0 }.count }
                    if nonIgnoredGT == 0 { continue }
                    let nd = scores.count
                    for t in 0..<T {
                        // Concatenate [t, 0:maxDet] of every image, then reorder by score.
                        var matched: [Bool] = [], ignored: [Bool] = []
                        matched.reserveCapacity(nd)
                        ignored.reserveCapacity(nd)
                        for ev in e {
                            let d = ev.detectionScores.count
                            for j in 0..<min(d, maxDet) {
                                matched.append(ev.detectionMatches[t * d + j] != 0)
                                ignored.append(ev.detectionIgnore[t * d + j])
                            }
                        }
                        var tp = 0.0, fp = 0.0
                        var rc = [Double](repeating: 0, count: nd)
                        var pr = [Double](repeating: 0, count: nd)
                        for (j, o) in order.enumerated() {
                            if !ignored[o] {
                                if matched[o] { tp += 1 } else { fp += 1 }
                            }
                            rc[j] = tp / Double(nonIgnoredGT)
                            pr[j] = tp / (fp + tp + eps)
                        }
                        recall[((t * K + k) * A + a) * M + m] = nd > 0 ? rc[nd - 1] : 0
                        if nd > 1 {
                            for j in stride(from: nd - 1, to: 0, by: -1) where pr[j] > pr[j - 1] { pr[j - 1] = pr[j] }
                        }
                        // q[r] = pr[searchsorted(rc, recThr, 'left')]; recall levels never reached stay 0.
                        var position = 0
                        for (r, threshold) in parameters.recallThresholds.enumerated() {
                            while position < nd && rc[position] < threshold { position += 1 }
                            if position >= nd { break }
                            precision[(((t * R + r) * K + k) * A + a) * M + m] = pr[position]
                        }
                        // Entries past the last reached recall are 0, not −1.
                        for r in 0..<R where precision[(((t * R + r) * K + k) * A + a) * M + m] == -1 {
                            precision[(((t * R + r) * K + k) * A + a) * M + m] = 0
                        }
                    }
                }
            }
        }

        let partial = COCOEvaluation(parameters: parameters, iouType: iouType, categoryIDs: categoryIDs, imageIDs: imageIDs,
                                     precision: precision, recall: recall,
                                     statistics: COCOStatistics(iouType: iouType, values: []))
        let statistics = COCOStatistics(iouType: iouType, values: _summarize(partial))
        return COCOEvaluation(parameters: parameters, iouType: iouType, categoryIDs: categoryIDs, imageIDs: imageIDs,
                              precision: precision, recall: recall, statistics: statistics)
    }

    /// `annToRLE`: polygons are rasterised at the image size and united; RLE is used as given.
    ///
    /// A first polygon of exactly 4 numbers makes pycocotools (2.0.11) read the list as boxes and fail
    /// with a TypeError; a first polygon of fewer than 6 numbers is rejected by it too. Both are errors here.
    static func _toRLE(_ segmentation: COCOSegmentation, height: Int, width: Int, file: String, key: String) throws -> RLEMask {
        switch segmentation {
        case .rle(let mask):
            return mask
        case .polygons(let polygons):
            guard let first = polygons.first else {
                throw COCOFormatError(file: file, key: key, message: "empty polygon list; give at least one polygon of 3 or more points")
            }
            guard first.count > 4 else {
                throw COCOFormatError(file: file, key: "\(key)[0]", message: "a polygon needs at least 3 points (6 numbers), found \(first.count) numbers")
            }
            return RLEMask.fromPolygons(polygons, height: height, width: width)
        }
    }

    /// Indices that sort `values` descending, ties in input order (`np.argsort(-values, kind='mergesort')`).
    static func _stableDescending(_ values: [Double]) -> [Int] {
        values.indices.sorted { a, b in
            values[a] > values[b] || (values[a] == values[b] && a < b)
        }
    }

    /// `evaluateImg` for one image, one category and one area range, with detections already sorted and capped.
    ///
    /// `ious` is `[D][G]` in the given order (or empty when either side is empty).
    static func _evaluateImage(gt unsortedGT: [_Object], dt: [_Object], ious: [[Double]], range: COCOAreaRange,
                               thresholds: [Double]) -> _ImageEvaluation {
        let outside: (Double) -> Bool = { $0 < range.lower || $0 > range.upper }
        let ignoreFlags = unsortedGT.map { $0.isCrowd || outside($0.area) }
        // Ground truths not ignored first, stable (np.argsort(kind='mergesort') on 0/1 flags).
        let gtOrder = unsortedGT.indices.filter { !ignoreFlags[$0] } + unsortedGT.indices.filter { ignoreFlags[$0] }
        let gt = gtOrder.map { unsortedGT[$0] }
        let gtIgnore = gtOrder.map { ignoreFlags[$0] }
        let T = thresholds.count, G = gt.count, D = dt.count
        var gtMatches = [Int](repeating: 0, count: T * G)
        var dtMatches = [Int](repeating: 0, count: T * D)
        var dtIgnore = [Bool](repeating: false, count: T * D)
        if !ious.isEmpty {
            for (t, threshold) in thresholds.enumerated() {
                for d in 0..<D {
                    var best = Swift.min(threshold, 1 - 1e-10)
                    var match = -1
                    for g in 0..<G {
                        // A matched non-crowd ground truth is taken.
                        if gtMatches[t * G + g] > 0 && !gt[g].isCrowd { continue }
                        // Once matched to a regular ground truth, stop at the first ignored one.
                        if match > -1 && !gtIgnore[match] && gtIgnore[g] { break }
                        let iou = ious[d][gtOrder[g]]
                        if iou < best { continue }
                        best = iou
                        match = g
                    }
                    if match == -1 { continue }
                    dtIgnore[t * D + d] = gtIgnore[match]
                    dtMatches[t * D + d] = gt[match].id
                    gtMatches[t * G + match] = dt[d].id
                }
            }
        }
        // Unmatched detections outside the area range are ignored. "Unmatched" is pycocotools' test
        // `dtm == 0`, i.e. matched-gt id 0, so a ground truth with id 0 behaves as no match, as there.
        for d in 0..<D where outside(dt[d].area) {
            for t in 0..<T where dtMatches[t * D + d] == 0 { dtIgnore[t * D + d] = true }
        }
        return _ImageEvaluation(detectionScores: dt.map(\.score), detectionMatches: dtMatches,
                                detectionIgnore: dtIgnore, groundTruthIgnore: gtIgnore)
    }
}
