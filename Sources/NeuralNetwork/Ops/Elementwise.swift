import Foundation
import TensorCore

/// max(x, 0), any shape. The backward passes the gradient where the output is positive.
public func relu(_ x: Variable) -> Variable {
    // Plain loops rather than `parallelMap`: an escaping closure per element is not inlined and costs
    // more than the memory traffic.
    var output = Tensor(uninitializedShape: x.shape)
    x.value.withUnsafeBufferPointer { source in
        output.withUnsafeMutableBufferPointer { target in
            let s = source.baseAddress!, t = target.baseAddress!
            parallelChunks(source.count, minimumChunk: 1 << 15) { range in
                for i in range { t[i] = max(s[i], 0) }
            }
        }
    }
    return Variable.result(output, inputs: [x]) { gradient in
        // One pass into a fresh buffer: the tape still holds `gradient`, so masking it in place would
        // first copy it.
        var inputGradient = Tensor(uninitializedShape: gradient.shape)
        inputGradient.withUnsafeMutableBufferPointer { dx in
            gradient.withUnsafeBufferPointer { g in
                output.withUnsafeBufferPointer { y in
                    let dxp = dx.baseAddress!, gp = g.baseAddress!, yp = y.baseAddress!
                    parallelChunks(dx.count, minimumChunk: 1 << 15) { range in
                        // Explicit vector selects: the scalar ternary compiles to a branch that
                        // mispredicts on half of the elements (measured: 4.4% of a training step).
                        var i = range.lowerBound
                        while i + 16 <= range.upperBound {
                            let y16 = UnsafeRawPointer(yp + i).loadUnaligned(as: SIMD16<Float>.self)
                            let g16 = UnsafeRawPointer(gp + i).loadUnaligned(as: SIMD16<Float>.self)
                            UnsafeMutableRawPointer(dxp + i).storeBytes(of: g16.replacing(with: 0, where: y16 .<= 0),
                                                                         as: SIMD16<Float>.self)
                            i += 16
                        }
                        while i < range.upperBound { dxp[i] = yp[i] <= 0 ? 0 : gp[i]; i += 1 }
                    }
                }
            }
        }
        return [inputGradient]
    }
}

/// log(1 + x/ε) / log(1 + 1/ε) for x ≥ 0: [0, 1] onto [0, 1] (0 → 0, 1 → 1) on a logarithmic scale, so
/// values between ε and 1 that differ by orders of magnitude differ by similar steps. The backward scales
/// the gradient by 1 / ((ε + x) · log(1 + 1/ε)). Used on small tensors only (a score column), so plain arrays.
public func logCompress(_ x: Variable, floor epsilon: Float) -> Variable {
    let inputs = x.value.scalars, shape = x.shape
    precondition(epsilon > 0, "logCompress needs ε > 0, got \(epsilon)")
    precondition(inputs.allSatisfy { $0 >= 0 }, "logCompress needs x ≥ 0 everywhere")
    let scale = 1 / Foundation.log1p(1 / epsilon)
    let output = inputs.map { Foundation.log1p($0 / epsilon) * scale }
    return Variable.result(Tensor(shape: shape, scalars: output), inputs: [x]) { gradient in
        [Tensor(shape: shape, scalars: zip(gradient.scalars, inputs).map { $0 * scale / (epsilon + $1) })]
    }
}

/// a + b, same shape.
public func add(_ a: Variable, _ b: Variable) -> Variable {
    precondition(a.shape == b.shape, "add: shape \(a.shape) vs \(b.shape)")
    return Variable.result(a.value + b.value, inputs: [a, b]) { gradient in [gradient, gradient] }
}

/// a + b, same shape.
public func + (lhs: Variable, rhs: Variable) -> Variable { add(lhs, rhs) }

/// [N, d1, d2, …] → [N, d1·d2·…], channel-major (C, then y, then x), as torch.flatten(x, 1).
public func flatten(_ x: Variable) -> Variable {
    precondition(x.value.rank >= 1, "flatten needs rank ≥ 1, got \(x.shape)")
    let n = x.shape[0]
    let rest = x.shape.dropFirst().reduce(1, *)
    let inputShape = x.shape
    return Variable.result(x.value.reshaped([n, rest]), inputs: [x]) { gradient in [gradient.reshaped(inputShape)] }
}

/// The same elements with another shape of equal count.
public func reshape(_ x: Variable, _ shape: [Int]) -> Variable {
    let inputShape = x.shape
    return Variable.result(x.value.reshaped(shape), inputs: [x]) { gradient in [gradient.reshaped(inputShape)] }
}

extension Tensor {
    /// A new tensor with `transform` applied to each element, in parallel chunks.
    public func parallelMap(_ transform: @escaping (Float) -> Float) -> Tensor {
        var result = Tensor(uninitializedShape: shape)
        withUnsafeBufferPointer { source in
            result.withUnsafeMutableBufferPointer { target in
                let s = source.baseAddress!, t = target.baseAddress!
                parallelChunks(source.count, minimumChunk: 1 << 15) { range in
                    for i in range { t[i] = transform(s[i]) }
                }
            }
        }
        return result
    }
}
