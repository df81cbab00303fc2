import Foundation
import TensorCore

/// How a loss turns its per-element terms into one scalar (PyTorch's `reduction=`).
public enum LossReduction: String, Sendable {
    /// Sum of the terms divided by their number.
    case mean
    /// Sum of the terms.
    case sum
}

// Every loss below returns a rank-0 `Variable` (shape `[]`, like PyTorch). Its backward is written right
// after the forward and reads like it in reverse: each per-element gradient is the derivative of the
// per-element term, times the upstream scalar gradient, divided by the element count for `.mean`.
//
// Per-element terms are computed in parallel into a buffer and then summed sequentially in Double, so the
// loss value does not depend on the number of threads. The regression losses take `reduction` without a
// default because their callers disagree with PyTorch's default (torchvision sums box losses).
// A `.sum` over no elements is 0 with an empty gradient (no positives in a batch).

/// Binary cross-entropy on logits, with soft targets allowed (`torch.nn.functional.binary_cross_entropy_with_logits`).
///
/// - Parameters:
///   - logits: any shape.
///   - targets: same shape as `logits`, values in [0, 1].
/// - Returns: scalar `[]`.
///
/// Per element, ℓ(x, t) = max(x, 0) − x·t + log(1 + exp(−|x|)), which equals −t·log σ(x) − (1−t)·log(1−σ(x))
/// but never exponentiates a large positive number. ∂ℓ/∂x = σ(x) − t.
public func binaryCrossEntropyWithLogits(
    logits: Variable, targets: Tensor, reduction: LossReduction = .mean
) -> Variable {
    precondition(logits.shape == targets.shape,
                 "binaryCrossEntropyWithLogits: logits \(logits.shape) vs targets \(targets.shape)")
    let count = logits.value.count
    let divisor = _lossDivisor(reduction, count: count, name: "binaryCrossEntropyWithLogits")
    let total = _sumOfTerms(logits.value, targets) { x, t in
        Swift.max(x, 0) - x * t + FixedMath.log1p(FixedMath.exp(-Swift.abs(x)))
    }
    let x = logits.value
    return Variable.result(Tensor(scalar: Float(total / divisor)), inputs: [logits]) { gradOutput in
        let g = gradOutput.scalar / Float(divisor)
        return [_elementwise(x, targets) { x, t in (_sigmoid(x) - t) * g }]
    }
}

/// Softmax cross-entropy over classes (`torch.nn.functional.cross_entropy` with integer labels).
///
/// - Parameters:
///   - logits: `[N, C]`.
///   - labels: N class indices in `0..<C`.
/// - Returns: scalar `[]`.
///
/// Per row, ℓ = logsumexp(x) − x[label], with logsumexp computed as m + log Σ exp(x − m), m = max(x).
/// ∂ℓ/∂x = softmax(x) − onehot(label).
public func softmaxCrossEntropy(logits: Variable, labels: [Int], reduction: LossReduction = .mean) -> Variable {
    precondition(logits.shape.count == 2, "softmaxCrossEntropy: logits must be [N, C], got \(logits.shape)")
    let rows = logits.shape[0], classes = logits.shape[1]
    precondition(labels.count == rows, "softmaxCrossEntropy: logits \(logits.shape) vs \(labels.count) labels")
    precondition(labels.allSatisfy { $0 >= 0 && $0 < classes },
                 "softmaxCrossEntropy: labels must lie in 0..<\(classes), got \(labels.filter { $0 < 0 || $0 >= classes })")
    let divisor = _lossDivisor(reduction, count: rows, name: "softmaxCrossEntropy")
    let x = logits.value
    // (N, C) row-wise softmax, kept for the backward pass; (N) per-row loss.
    var probabilities = Tensor(shape: [rows, classes])
    var rowLoss = [Double](repeating: 0, count: rows)
    x.withUnsafeBufferPointer { input in
        probabilities.withUnsafeMutableBufferPointer { output in
            rowLoss.withUnsafeMutableBufferPointer { losses in
                let xp = input.baseAddress!, pp = output.baseAddress!, lp = losses.baseAddress!
                parallelChunks(rows, minimumChunk: Swift.max(1, 4096 / Swift.max(classes, 1))) { range in
                    for row in range {
                        let base = row * classes
                        var maximum = -Double.infinity
                        for c in 0..<classes { maximum = Swift.max(maximum, Double(xp[base + c])) }
                        var total = 0.0
                        for c in 0..<classes { total += FixedMath.exp(Double(xp[base + c]) - maximum) }
                        let logSumExp = maximum + FixedMath.log(total)
                        for c in 0..<classes { pp[base + c] = Float(FixedMath.exp(Double(xp[base + c]) - logSumExp)) }
                        lp[row] = logSumExp - Double(xp[base + labels[row]])
                    }
                }
            }
        }
    }
    let total = rowLoss.reduce(0, +)
    return Variable.result(Tensor(scalar: Float(total / divisor)), inputs: [logits]) { gradOutput in
        let g = gradOutput.scalar / Float(divisor)
        var gradient = probabilities
        gradient.withUnsafeMutableBufferPointer { buffer in
            let p = buffer.baseAddress!
            parallelChunks(buffer.count, minimumChunk: 1 << 14) { range in
                for i in range { p[i] *= g }
            }
            for row in 0..<rows { p[row * classes + labels[row]] -= g }
        }
        return [gradient]
    }
}

/// Smooth L1 (Huber-like) loss with PyTorch's `beta` (`torch.nn.functional.smooth_l1_loss`).
///
/// - Parameters:
///   - input: any shape.
///   - target: same shape as `input`.
///   - beta: the transition point; `beta = 1` gives 0.5·d² for |d| < 1 and |d| − 0.5 otherwise.
///     `beta = 0` is plain L1, as in PyTorch.
/// - Returns: scalar `[]`.
///
/// With d = input − target: ℓ = 0.5·d²/β if |d| < β, else |d| − 0.5·β; ∂ℓ/∂d = d/β or sign(d).
public func smoothL1(_ input: Variable, target: Tensor, beta: Float = 1, reduction: LossReduction) -> Variable {
    precondition(input.shape == target.shape, "smoothL1: input \(input.shape) vs target \(target.shape)")
    precondition(beta >= 0, "smoothL1: beta must be non-negative, got \(beta)")
    if beta == 0 { return l1(input, target: target, reduction: reduction) }
    let divisor = _lossDivisor(reduction, count: input.value.count, name: "smoothL1")
    let halfBeta = 0.5 * beta
    let total = _sumOfTerms(input.value, target) { x, t in
        let d = x - t, magnitude = Swift.abs(d)
        return magnitude < beta ? 0.5 * d * d / beta : magnitude - halfBeta
    }
    let x = input.value
    return Variable.result(Tensor(scalar: Float(total / divisor)), inputs: [input]) { gradOutput in
        let g = gradOutput.scalar / Float(divisor)
        return [_elementwise(x, target) { x, t in
            let d = x - t
            return (Swift.abs(d) < beta ? d / beta : _sign(d)) * g
        }]
    }
}

/// L1 loss, |input − target| (`torch.nn.functional.l1_loss`).
///
/// - Parameters:
///   - input: any shape.
///   - target: same shape as `input`.
/// - Returns: scalar `[]`.
///
/// ∂ℓ/∂input = sign(input − target), with sign(0) = 0 as in PyTorch.
public func l1(_ input: Variable, target: Tensor, reduction: LossReduction) -> Variable {
    precondition(input.shape == target.shape, "l1: input \(input.shape) vs target \(target.shape)")
    let divisor = _lossDivisor(reduction, count: input.value.count, name: "l1")
    let total = _sumOfTerms(input.value, target) { x, t in Swift.abs(x - t) }
    let x = input.value
    return Variable.result(Tensor(scalar: Float(total / divisor)), inputs: [input]) { gradOutput in
        let g = gradOutput.scalar / Float(divisor)
        return [_elementwise(x, target) { x, t in _sign(x - t) * g }]
    }
}

// MARK: - Helpers shared by the losses

/// The number the summed terms are divided by. A mean over nothing is NaN in PyTorch; here it is a
/// programmer error, because the callers (Mask R-CNN heads) must handle "no positives" explicitly.
func _lossDivisor(_ reduction: LossReduction, count: Int, name: String) -> Double {
    switch reduction {
    case .sum: return 1
    case .mean:
        precondition(count > 0, "\(name): mean over an empty tensor (handle the empty case in the caller)")
        return Double(count)
    }
}

/// σ(x) without overflow for large |x|.
@inline(__always)
func _sigmoid(_ x: Float) -> Float {
    // FixedMath rather than libm: the same bits on every machine.
    FixedMath.sigmoid(x)
}

/// sign(x) with sign(0) = 0.
@inline(__always)
func _sign(_ x: Float) -> Float { x > 0 ? 1 : (x < 0 ? -1 : 0) }

/// Σ term(a[i], b[i]): terms computed in parallel in Float, summed sequentially in Double.
func _sumOfTerms(_ a: Tensor, _ b: Tensor, _ term: (Float, Float) -> Float) -> Double {
    let terms = _elementwise(a, b, term)
    return terms.withUnsafeBufferPointer { buffer in
        var total = 0.0
        for value in buffer { total += Double(value) }
        return total
    }
}

/// A new tensor with f(a[i], b[i]) at each element (shapes must have equal counts), parallel over chunks.
func _elementwise(_ a: Tensor, _ b: Tensor, _ f: (Float, Float) -> Float) -> Tensor {
    precondition(a.count == b.count, "elementwise: shape \(a.shape) vs \(b.shape)")
    var result = Tensor(shape: a.shape)
    a.withUnsafeBufferPointer { left in
        b.withUnsafeBufferPointer { right in
            result.withUnsafeMutableBufferPointer { output in
                let l = left.baseAddress!, r = right.baseAddress!, o = output.baseAddress!
                parallelChunks(output.count, minimumChunk: 1 << 13) { range in
                    for i in range { o[i] = f(l[i], r[i]) }
                }
            }
        }
    }
    return result
}
