import Foundation
import TensorCore

/// Rows of x `[R, D]` at `rows` (repeats allowed) → `[k, D]`; gradients are scattered back and summed
/// over repeats.
public func gatherRows(_ x: Variable, _ rows: [Int]) -> Variable {
    gatherBlocks(x, rows: rows, blocks: [Int](repeating: 0, count: rows.count), blockWidth: x.value.rank == 2 ? x.shape[1] : 1)
}

/// For each i, the `blockWidth` columns starting at `blocks[i]·blockWidth` of row `rows[i]` of x `[R, D]`
/// → `[k, blockWidth]`. Picks the class-specific box deltas (`[R, 4·n_c]`, width 4) and the mask of the
/// labelled class (`[P, n_c·28·28]`, width 784).
public func gatherBlocks(_ x: Variable, rows: [Int], blocks: [Int], blockWidth: Int) -> Variable {
    let matrix = x.value.rank == 2 ? x.value : x.value.reshaped([x.shape[0], -1])
    let (rowCount, width) = (matrix.shape[0], matrix.shape[1])
    precondition(rows.count == blocks.count, "gatherBlocks: \(rows.count) rows vs \(blocks.count) blocks")
    precondition(rows.allSatisfy { $0 >= 0 && $0 < rowCount } && blocks.allSatisfy { $0 >= 0 && ($0 + 1) * blockWidth <= width },
                 "gatherBlocks: index out of range for shape \(x.shape) with block width \(blockWidth)")
    let output = Tensor(shape: [rows.count, blockWidth]) { out in
        matrix.withUnsafeBufferPointer { source in
            for i in 0..<rows.count {
                (out.baseAddress! + i * blockWidth).update(from: source.baseAddress! + rows[i] * width + blocks[i] * blockWidth,
                                                            count: blockWidth)
            }
        }
    }
    let inputShape = x.shape
    return Variable.result(output, inputs: [x]) { gradient in
        var inputGradient = Tensor(shape: [rowCount, width])
        inputGradient.withUnsafeMutableBufferPointer { target in
            gradient.withUnsafeBufferPointer { g in
                for i in 0..<rows.count {
                    let base = target.baseAddress! + rows[i] * width + blocks[i] * blockWidth
                    for j in 0..<blockWidth { base[j] += g[i * blockWidth + j] }
                }
            }
        }
        return [inputGradient.reshaped(inputShape)]
    }
}

/// Concatenates `[R_i, D]` variables along rows → `[ΣR_i, D]`.
public func concatenateRows(_ parts: [Variable]) -> Variable {
    precondition(!parts.isEmpty, "concatenateRows needs at least one part")
    let width = parts[0].value.count / max(parts[0].shape[0], 1)
    let tail = Array(parts[0].shape.dropFirst())
    precondition(parts.allSatisfy { Array($0.shape.dropFirst()) == tail },
                 "concatenateRows: row shapes differ: \(parts.map(\.shape))")
    if parts.count == 1 { return parts[0] }
    let rowCounts = parts.map { $0.shape[0] }
    let total = rowCounts.reduce(0, +)
    let output = Tensor(shape: [total] + tail) { out in
        var offset = 0
        for part in parts {
            part.value.withUnsafeBufferPointer { source in
                if source.count > 0 { (out.baseAddress! + offset).update(from: source.baseAddress!, count: source.count) }
            }
            offset += part.value.count
        }
    }
    return Variable.result(output, inputs: parts) { gradient in
        var start = 0
        return rowCounts.map { rows in
            let count = rows * width
            let piece = Tensor(shape: [rows] + tail) { target in
                gradient.withUnsafeBufferPointer { g in
                    if count > 0 { target.baseAddress!.update(from: g.baseAddress! + start, count: count) }
                }
            }
            start += count
            return piece
        }
    }
}

/// x `[N, C, H, W]` → `[N, H, W, C]`. With C = A·k this lists the RPN head's outputs in the anchor
/// order (y, x, a) with k values per anchor, so a reshape to `[N·H·W·A, k]` follows.
public func channelsLast(_ x: Variable) -> Variable {
    precondition(x.value.rank == 4, "channelsLast expects [N,C,H,W], got \(x.shape)")
    let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let output = TensorLayout.permuteNCHWToNHWC(x.value)
    return Variable.result(output, inputs: [x]) { gradient in
        [TensorLayout.permuteNHWCToNCHW(gradient.reshaped([n, h, w, c]))]
    }
}

/// Row-wise softmax of x `[N, C]`. Backward: dx = y ⊙ (dy − Σ_j dy_j y_j).
public func softmaxRows(_ x: Variable) -> Variable {
    precondition(x.value.rank == 2, "softmaxRows expects [N, C], got \(x.shape)")
    let (n, c) = (x.shape[0], x.shape[1])
    let output = Tensor(shape: x.shape) { y in
        x.value.withUnsafeBufferPointer { source in
            for row in 0..<n {
                let s = source.baseAddress! + row * c, t = y.baseAddress! + row * c
                var m = -Float.infinity
                for j in 0..<c { m = max(m, s[j]) }
                var total: Float = 0
                for j in 0..<c { t[j] = FixedMath.exp(s[j] - m); total += t[j] }
                for j in 0..<c { t[j] /= total }
            }
        }
    }
    return Variable.result(output, inputs: [x]) { gradient in
        [Tensor(shape: [n, c]) { dx in
            output.withUnsafeBufferPointer { y in
                gradient.withUnsafeBufferPointer { dy in
                    for row in 0..<n {
                        var dot: Float = 0
                        for j in 0..<c { dot += dy[row * c + j] * y[row * c + j] }
                        for j in 0..<c { dx[row * c + j] = y[row * c + j] * (dy[row * c + j] - dot) }
                    }
                }
            }
        }]
    }
}

/// Concatenates `[R, D_i]` variables along columns → `[R, ΣD_i]` (the classifier's [score | deltas] rows).
public func concatenateColumns(_ parts: [Variable]) -> Variable {
    precondition(!parts.isEmpty && parts.allSatisfy { $0.value.rank == 2 && $0.shape[0] == parts[0].shape[0] },
                 "concatenateColumns: needs [R, D_i] parts with equal R, got \(parts.map(\.shape))")
    let rows = parts[0].shape[0]
    let widths = parts.map { $0.shape[1] }
    let total = widths.reduce(0, +)
    let output = Tensor(shape: [rows, total]) { out in
        var offset = 0
        for (part, width) in zip(parts, widths) {
            part.value.withUnsafeBufferPointer { source in
                for row in 0..<rows {
                    (out.baseAddress! + row * total + offset).update(from: source.baseAddress! + row * width, count: width)
                }
            }
            offset += width
        }
    }
    return Variable.result(output, inputs: parts) { gradient in
        var offset = 0
        return widths.map { width in
            let start = offset
            offset += width
            return Tensor(shape: [rows, width]) { target in
                gradient.withUnsafeBufferPointer { g in
                    for row in 0..<rows {
                        (target.baseAddress! + row * width).update(from: g.baseAddress! + row * total + start, count: width)
                    }
                }
            }
        }
    }
}
