import TensorCore

/// max(x, 0), any shape. The backward passes the gradient where the output is positive.
public func relu(_ x: Variable) -> Variable {
    let output = x.value.parallelMap { max($0, 0) }
    return Variable.result(output, inputs: [x]) { gradient in
        var inputGradient = gradient
        inputGradient.withUnsafeMutableBufferPointer { g in
            output.withUnsafeBufferPointer { y in
                let gp = g.baseAddress!, yp = y.baseAddress!
                parallelChunks(g.count, minimumChunk: 1 << 15) { range in
                    for i in range where yp[i] <= 0 { gp[i] = 0 }
                }
            }
        }
        return [inputGradient]
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
