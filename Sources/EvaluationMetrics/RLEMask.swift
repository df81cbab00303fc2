// RLEMask: COCO run-length encoding (pycocotools' maskApi semantics, our own code).

/// A binary mask in COCO run-length encoding: alternating runs of 0s and 1s over the pixels in
/// column-major order (down the first column, then the next), always starting with a run of 0s
/// (which is empty when the first pixel is set).
///
/// This is the representation pycocotools evaluates `segm` on; its compressed string form is the
/// `counts` string of COCO JSON (`{"size": [h, w], "counts": "..."}`).
public struct RLEMask: Equatable, Hashable, Sendable {
    /// Mask height `h` (COCO `size[0]`).
    public var height: Int
    /// Mask width `w` (COCO `size[1]`).
    public var width: Int
    /// Run lengths, starting with a run of zeros.
    public var counts: [UInt32]

    /// A mask from explicit runs (COCO's "uncompressed RLE"); the runs are taken as given.
    public init(height: Int, width: Int, counts: [UInt32]) {
        self.height = height
        self.width = width
        self.counts = counts
    }

    /// Encodes a row-major binary mask (walks it column-major, as `maskApi.rleEncode` on a Fortran array).
    public init(encoding mask: BinaryMask) {
        self.height = mask.height
        self.width = mask.width
        var runs: [UInt32] = []
        var previous: UInt8 = 0
        var run: UInt32 = 0
        mask.pixels.withUnsafeBufferPointer { px in
            for x in 0..<mask.width {
                var index = x
                for _ in 0..<mask.height {
                    let value = px[index]
                    if value != previous {
                        runs.append(run)
                        run = 0
                        previous = value
                    }
                    run += 1
                    index += mask.width
                }
            }
        }
        runs.append(run)
        self.counts = runs
    }

    /// Decodes to a row-major binary mask `[height, width]`.
    ///
    /// Runs beyond `height * width` pixels are a programmer error (the mask does not fit its size).
    public func decoded() -> BinaryMask {
        var pixels = [UInt8](repeating: 0, count: height * width)
        var position = 0  // column-major pixel index
        var value: UInt8 = 0
        for run in counts {
            let end = position + Int(run)
            precondition(end <= height * width,
                         "RLEMask.decoded: runs cover \(counts.reduce(0) { $0 + Int($1) }) pixels for size [\(height), \(width)]")
            if value == 1 {
                for p in position..<end {
                    let column = p / height, row = p % height
                    pixels[row * width + column] = 1
                }
            }
            position = end
            value ^= 1
        }
        return BinaryMask(height: height, width: width, pixels: pixels)
    }

    /// Number of foreground pixels (the sum of the odd-indexed runs, as `maskApi.rleArea`).
    public var area: Int {
        var total = 0
        var index = 1
        while index < counts.count {
            total += Int(counts[index])
            index += 2
        }
        return total
    }

    /// The tight bounding box `[x, y, w, h]` of the foreground, as pycocotools 2.0.11's `rleToBbox`;
    /// all zeros when there is no foreground run.
    ///
    /// As in pycocotools, a foreground run that wraps from one column into the next makes the box span
    /// the full height (the run touches the bottom of one column and the top of the next); zero-length
    /// foreground runs are skipped.
    public var boundingBox: COCOBox {
        let evenCount = (counts.count / 2) * 2
        if evenCount == 0 { return COCOBox(x: 0, y: 0, width: 0, height: 0) }
        let h = UInt32(truncatingIfNeeded: height)
        var xs = UInt32(truncatingIfNeeded: width), ys = h, xe: UInt32 = 0, ye: UInt32 = 0
        var cumulative: UInt32 = 0
        for j in 0..<evenCount {
            let start = cumulative  // first pixel of this run
            cumulative &+= counts[j]
            if j % 2 == 0 || counts[j] == 0 { continue }
            let yStart = start % h, xStart = (start - yStart) / h
            let last = cumulative - 1
            let yEnd = last % h, xEnd = (last - yEnd) / h
            xs = Swift.min(xs, xStart)
            xe = Swift.max(xe, xEnd)
            if xStart < xEnd {
                ys = 0
                ye = h - 1
            } else {
                ys = Swift.min(ys, yStart)
                ye = Swift.max(ye, yEnd)
            }
        }
        return COCOBox(x: Double(xs), y: Double(ys), width: Double(xe &- xs &+ 1), height: Double(ye &- ys &+ 1))
    }

    /// Union (or intersection) of masks of one size, as `maskApi.rleMerge`.
    ///
    /// An empty list gives a 0×0 mask with no runs; masks of differing sizes give a 0×0 mask with no runs,
    /// which is what pycocotools returns too.
    public static func merge(_ masks: [RLEMask], intersect: Bool = false) -> RLEMask {
        guard let first = masks.first else { return RLEMask(height: 0, width: 0, counts: []) }
        if masks.count == 1 { return first }
        var accumulated = first.counts
        for other in masks.dropFirst() {
            if other.height != first.height || other.width != first.width {
                return RLEMask(height: 0, width: 0, counts: [])
            }
            accumulated = _mergeRuns(accumulated, other.counts, intersect: intersect)
        }
        return RLEMask(height: first.height, width: first.width, counts: accumulated)
    }

    /// Walks two run lists in step and emits the runs of `a OR b` (or `a AND b`).
    static func _mergeRuns(_ a: [UInt32], _ b: [UInt32], intersect: Bool) -> [UInt32] {
        var out: [UInt32] = []
        out.reserveCapacity(a.count + b.count)
        var ca = a.first ?? 0, cb = b.first ?? 0
        var va = false, vb = false, v = false
        var ia = 1, ib = 1
        var pending: UInt32 = 0
        var remaining: UInt32 = 1
        while remaining > 0 {
            let c = Swift.min(ca, cb)
            pending &+= c
            remaining = 0
            ca -= c
            if ca == 0 && ia < a.count { ca = a[ia]; ia += 1; va.toggle() }
            remaining &+= ca
            cb -= c
            if cb == 0 && ib < b.count { cb = b[ib]; ib += 1; vb.toggle() }
            remaining &+= cb
            let previous = v
            v = intersect ? (va && vb) : (va || vb)
            if v != previous || remaining == 0 {
                out.append(pending)
                pending = 0
            }
        }
        return out
    }

    /// Intersection and union pixel counts of two masks of one size, by walking both run lists.
    static func _intersectionAndUnion(_ a: RLEMask, _ b: RLEMask) -> (intersection: Int, union: Int) {
        var ca = a.counts.first ?? 0, cb = b.counts.first ?? 0
        var va = false, vb = false
        var ia = 1, ib = 1
        var intersection = 0, union = 0
        var remaining: UInt32 = 1
        while remaining > 0 {
            let c = Swift.min(ca, cb)
            if va || vb {
                union += Int(c)
                if va && vb { intersection += Int(c) }
            }
            remaining = 0
            ca -= c
            if ca == 0 && ia < a.counts.count { ca = a.counts[ia]; ia += 1; va.toggle() }
            remaining &+= ca
            cb -= c
            if cb == 0 && ib < b.counts.count { cb = b.counts[ib]; ib += 1; vb.toggle() }
            remaining &+= cb
        }
        return (intersection, union)
    }

    /// Mask IoU matrix `[detections.count][groundTruths.count]` with pycocotools' semantics (`maskApi.rleIou`).
    ///
    /// - A crowd ground truth uses the detection's area as the union.
    /// - Pairs whose bounding boxes do not overlap score 0 without looking at pixels (as pycocotools).
    /// - Pairs of different mask sizes whose boxes overlap score −1 (as pycocotools), so they never match.
    public static func iou(detections: [RLEMask], groundTruths: [RLEMask], isCrowd: [Bool]) -> [[Double]] {
        precondition(isCrowd.count == groundTruths.count,
                     "RLEMask.iou: \(isCrowd.count) crowd flags for \(groundTruths.count) ground truths")
        var result = COCOBox.iou(detections: detections.map(\.boundingBox),
                                 groundTruths: groundTruths.map(\.boundingBox), isCrowd: isCrowd)
        for g in groundTruths.indices {
            for d in detections.indices where result[d][g] > 0 {
                let dt = detections[d], gt = groundTruths[g]
                if dt.height != gt.height || dt.width != gt.width {
                    result[d][g] = -1
                    continue
                }
                let (intersection, union) = _intersectionAndUnion(dt, gt)
                let denominator: Int
                if intersection == 0 {
                    denominator = 1
                } else if isCrowd[g] {
                    denominator = dt.area
                } else {
                    denominator = union
                }
                result[d][g] = Double(intersection) / Double(denominator)
            }
        }
        return result
    }
}
