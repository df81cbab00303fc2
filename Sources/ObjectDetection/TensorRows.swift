import TensorCore

// Row gathers on box lists and per-RoI tensors, shared by the RPN, the RoI heads and the classifier's
// ranked-box extraction (they are not the RPN's own logic, so they do not live in its file).
extension Tensor {
    /// The rows `indices` of a `[N, D]` tensor, in that order: `[indices.count, D]` (a rank-1 tensor is
    /// read as `[N, 4]` boxes).
    func rows(_ indices: [Int]) -> Tensor {
        let width = rank == 2 ? shape[1] : 4
        return Tensor(shape: [indices.count, width]) { out in
            withUnsafeBufferPointer { source in
                for (i, row) in indices.enumerated() {
                    (out.baseAddress! + i * width).update(from: source.baseAddress! + row * width, count: width)
                }
            }
        }
    }

    /// Box lists `[N_i, 4]` stacked into one `[ΣN_i, 4]`.
    init(concatenatingBoxes boxes: [Tensor]) {
        if boxes.count == 1 {
            self = boxes[0]
        } else {
            self.init(shape: [boxes.reduce(0) { $0 + $1.shape[0] }, 4], scalars: boxes.flatMap(\.scalars))
        }
    }
}
