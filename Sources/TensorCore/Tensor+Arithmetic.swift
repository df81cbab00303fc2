/// Elementwise arithmetic on whole tensors (parallel over chunks for large tensors).
extension Tensor {
    /// self += other (same shape).
    public mutating func add(_ other: Tensor) {
        precondition(shape == other.shape, "add: shape \(shape) vs \(other.shape)")
        addScaled(other, by: 1)
    }

    /// self += alpha · other (same shape).
    public mutating func addScaled(_ other: Tensor, by alpha: Float) {
        precondition(count == other.count, "addScaled: shape \(shape) vs \(other.shape)")
        other.withUnsafeBufferPointer { source in
            withUnsafeMutableBufferPointer { target in
                let s = source.baseAddress!, t = target.baseAddress!
                parallelChunks(target.count, minimumChunk: 1 << 15) { range in
                    for i in range { t[i] += alpha * s[i] }
                }
            }
        }
    }

    /// self *= alpha.
    public mutating func scale(by alpha: Float) {
        withUnsafeMutableBufferPointer { target in
            let t = target.baseAddress!
            parallelChunks(target.count, minimumChunk: 1 << 15) { range in
                for i in range { t[i] *= alpha }
            }
        }
    }

    /// Elementwise sum of two tensors of the same shape.
    public static func + (lhs: Tensor, rhs: Tensor) -> Tensor {
        precondition(lhs.shape == rhs.shape, "add: shape \(lhs.shape) vs \(rhs.shape)")
        // One pass into a fresh buffer (copying lhs and then adding would be two).
        var result = Tensor(uninitializedShape: lhs.shape)
        lhs.withUnsafeBufferPointer { a in
            rhs.withUnsafeBufferPointer { b in
                result.withUnsafeMutableBufferPointer { target in
                    let ap = a.baseAddress!, bp = b.baseAddress!, t = target.baseAddress!
                    parallelChunks(target.count, minimumChunk: 1 << 15) { range in
                        for i in range { t[i] = ap[i] + bp[i] }
                    }
                }
            }
        }
        return result
    }

    /// Elementwise difference of two tensors of the same shape.
    public static func - (lhs: Tensor, rhs: Tensor) -> Tensor {
        var result = lhs
        result.addScaled(rhs, by: -1)
        return result
    }

    /// Scalar multiple.
    public static func * (lhs: Tensor, rhs: Float) -> Tensor {
        var result = lhs
        result.scale(by: rhs)
        return result
    }

    /// A new tensor with `transform` applied to each element.
    public func map(_ transform: (Float) -> Float) -> Tensor {
        var result = Tensor(shape: shape)
        withUnsafeBufferPointer { source in
            result.withUnsafeMutableBufferPointer { target in
                for i in 0..<source.count { target[i] = transform(source[i]) }
            }
        }
        return result
    }

    /// Sum of all elements (accumulated in Double so long sums stay accurate).
    public func sum() -> Float {
        withUnsafeBufferPointer { buffer in
            var total = 0.0
            for value in buffer { total += Double(value) }
            return Float(total)
        }
    }

    /// Largest absolute elementwise difference to `other`.
    public func maxAbsoluteDifference(_ other: Tensor) -> Float {
        precondition(count == other.count, "maxAbsoluteDifference: shape \(shape) vs \(other.shape)")
        return withUnsafeBufferPointer { a in
            other.withUnsafeBufferPointer { b in
                var worst: Float = 0
                for i in 0..<a.count { worst = Swift.max(worst, abs(a[i] - b[i])) }
                return worst
            }
        }
    }
}
