import TensorCore

/// Box utilities with torchvision 0.3.0 semantics (spec §0.3): boxes are `[N, 4]` rows
/// `[x1, y1, x2, y2]` in pixels, areas and IoUs use no "+1".
///
/// Float arithmetic follows the reference kernels operation by operation (same operand order), so IoUs
/// compared against a threshold land on the same side as in torchvision.
public enum BoxOperations {
    /// Area `(x2 − x1)·(y2 − y1)` of each row of `boxes` `[N, 4]` (negative extents give negative or
    /// zero products, exactly as torchvision's `box_area`).
    public static func area(_ boxes: Tensor) -> [Float] {
        precondition(boxes.rank == 2 && boxes.shape[1] == 4, "area needs boxes [N, 4], got \(boxes.shape)")
        return boxes.withUnsafeBufferPointer { b in
            (0..<boxes.shape[0]).map { i in (b[4 * i + 2] - b[4 * i]) * (b[4 * i + 3] - b[4 * i + 1]) }
        }
    }

    /// Pairwise IoU `[Na, Nb]` of `a` `[Na, 4]` and `b` `[Nb, 4]`: inter / (area_a + area_b − inter).
    /// Two zero-area boxes give 0/0 = NaN, as in torchvision.
    public static func iou(_ a: Tensor, _ b: Tensor) -> Tensor {
        precondition(a.rank == 2 && a.shape[1] == 4 && b.rank == 2 && b.shape[1] == 4,
                     "iou needs boxes [Na, 4] and [Nb, 4], got \(a.shape) and \(b.shape)")
        let (na, nb) = (a.shape[0], b.shape[0])
        let areaA = area(a), areaB = area(b)
        var result = Tensor(uninitializedShape: [na, nb])
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                result.withUnsafeMutableBufferPointer { out in
                    let out = out.baseAddress!
                    // Rows of a are few (ground truths) and b long (anchors): split b into chunks.
                    parallelChunks(nb, minimumChunk: 8192) { range in
                        for i in 0..<na {
                            let (ax1, ay1, ax2, ay2) = (pa[4 * i], pa[4 * i + 1], pa[4 * i + 2], pa[4 * i + 3])
                            let row = out + i * nb
                            for j in range {
                                let w = max(Float(0), min(ax2, pb[4 * j + 2]) - max(ax1, pb[4 * j]))
                                let h = max(Float(0), min(ay2, pb[4 * j + 3]) - max(ay1, pb[4 * j + 1]))
                                let inter = w * h
                                row[j] = inter / (areaA[i] + areaB[j] - inter)
                            }
                        }
                    }
                }
            }
        }
        return result
    }

    /// Greedy non-maximum suppression: visits boxes by decreasing score and drops a box whose IoU with an
    /// already kept box is strictly greater than `iouThreshold`. Returns kept indices by decreasing score.
    ///
    /// Ties in score are visited in index order (a stable descending sort). torch's `sort` is not
    /// stable, so for exactly equal scores the reference may visit them in another order; with
    /// continuous network scores this does not arise.
    public static func nms(boxes: Tensor, scores: [Float], iouThreshold: Float) -> [Int] {
        precondition(boxes.rank == 2 && boxes.shape[1] == 4 && boxes.shape[0] == scores.count,
                     "nms needs boxes [N, 4] and N scores, got \(boxes.shape) and \(scores.count)")
        let order = sortedByDecreasingScore(Array(0..<scores.count), scores)
        return boxes.withUnsafeBufferPointer { suppress(order, boxes: $0, iouThreshold: iouThreshold) }
    }

    /// NMS applied independently within each group (class or pyramid level); the merged kept indices are
    /// sorted by decreasing score (ties by index).
    ///
    /// The seed runs one NMS over boxes shifted by `group·(max coordinate + 1)`. We suppress per group,
    /// but on those same shifted float32 coordinates, so each IoU is rounded exactly as in the seed. The
    /// only difference: the seed can compare boxes of different groups when coordinates are below −1,
    /// which never happens after clipping to the image.
    public static func batchedNMS(boxes: Tensor, scores: [Float], groups: [Int], iouThreshold: Float) -> [Int] {
        precondition(boxes.rank == 2 && boxes.shape[1] == 4 && boxes.shape[0] == scores.count
                     && scores.count == groups.count,
                     "batchedNMS needs boxes [N, 4], N scores and N groups, got \(boxes.shape), \(scores.count), \(groups.count)")
        let n = scores.count
        guard n > 0 else { return [] }
        let values = boxes.scalars
        let maxCoordinate = values.max()!
        let shifted: [Float] = (0..<(4 * n)).map { k in values[k] + Float(groups[k / 4]) * (maxCoordinate + 1) }
        // Bucket the indices by group, keeping index order inside each bucket.
        var buckets: [Int: [Int]] = [:]
        for i in 0..<n { buckets[groups[i], default: []].append(i) }
        var kept: [Int] = []
        shifted.withUnsafeBufferPointer { b in
            for group in buckets.keys.sorted() {
                let order = sortedByDecreasingScore(buckets[group]!, scores)
                kept += suppress(order, boxes: b, iouThreshold: iouThreshold)
            }
        }
        return sortedByDecreasingScore(kept.sorted(), scores)
    }

    /// Clamps x to `[0, width]` and y to `[0, height]` (the resized, unpadded image). NaN stays NaN.
    public static func clip(_ boxes: Tensor, height: Int, width: Int) -> Tensor {
        precondition(boxes.rank == 2 && boxes.shape[1] == 4, "clip needs boxes [N, 4], got \(boxes.shape)")
        let (h, w) = (Float(height), Float(width))
        var result = boxes
        result.withUnsafeMutableBufferPointer { b in
            for k in 0..<b.count {
                let limit = k % 2 == 0 ? w : h
                // Comparisons (not min/max) so that NaN passes through, as torch.clamp does.
                if b[k] < 0 { b[k] = 0 } else if b[k] > limit { b[k] = limit }
            }
        }
        return result
    }

    /// Indices of boxes with width ≥ `minSize` and height ≥ `minSize` (with 0, every finite box is kept,
    /// including zero-area ones).
    public static func removeSmall(_ boxes: Tensor, minSize: Float) -> [Int] {
        precondition(boxes.rank == 2 && boxes.shape[1] == 4, "removeSmall needs boxes [N, 4], got \(boxes.shape)")
        return boxes.withUnsafeBufferPointer { b in
            (0..<boxes.shape[0]).filter { i in
                b[4 * i + 2] - b[4 * i] >= minSize && b[4 * i + 3] - b[4 * i + 1] >= minSize
            }
        }
    }

    /// `indices` sorted by decreasing `scores[index]`, ties by increasing index (stable).
    static func sortedByDecreasingScore(_ indices: [Int], _ scores: [Float]) -> [Int] {
        indices.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }
    }

    /// Greedy suppression over `order` (already sorted by decreasing score). A candidate is kept iff its
    /// IoU with every kept box is ≤ threshold, which is the same as the reference's "kept box suppresses
    /// later boxes" loop because IoU is symmetric. Kept boxes are held as structure-of-arrays and checked
    /// in blocks without early exit inside a block, so the inner loop vectorises; cost O(n · kept).
    static func suppress(_ order: [Int], boxes b: UnsafeBufferPointer<Float>, iouThreshold: Float) -> [Int] {
        let n = order.count
        let storage = UnsafeMutablePointer<Float>.allocate(capacity: max(1, 5 * n))
        defer { storage.deallocate() }
        let kx1 = storage, ky1 = storage + n, kx2 = storage + 2 * n, ky2 = storage + 3 * n, ka = storage + 4 * n
        var kept: [Int] = []
        kept.reserveCapacity(n)
        let block = 32
        for index in order {
            let (cx1, cy1, cx2, cy2) = (b[4 * index], b[4 * index + 1], b[4 * index + 2], b[4 * index + 3])
            let candidateArea = (cx2 - cx1) * (cy2 - cy1)
            let count = kept.count
            var start = 0, hits = 0
            while start < count && hits == 0 {
                let end = min(count, start + block)
                for k in start..<end {
                    // Same operation order as torchvision's CPU nms kernel (kept box as "i").
                    let w = max(Float(0), min(kx2[k], cx2) - max(kx1[k], cx1))
                    let h = max(Float(0), min(ky2[k], cy2) - max(ky1[k], cy1))
                    let inter = w * h
                    let overlap = inter / (ka[k] + candidateArea - inter)
                    hits &+= overlap > iouThreshold ? 1 : 0
                }
                start = end
            }
            if hits > 0 { continue }
            kx1[count] = cx1; ky1[count] = cy1; kx2[count] = cx2; ky2[count] = cy2; ka[count] = candidateArea
            kept.append(index)
        }
        return kept
    }
}
