import Foundation

/// Memory-layout permutations.
public enum TensorLayout {
    /// `[N, C, H, W]` → `[N, H, W, C]`.
    public static func permuteNCHWToNHWC(_ x: Tensor) -> Tensor {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        return Tensor(shape: [n, h, w, c]) { out in
            x.withUnsafeBufferPointer { source in
                for image in 0..<n {
                    for channel in 0..<c {
                        let plane = source.baseAddress! + (image * c + channel) * h * w
                        let target = out.baseAddress! + image * h * w * c + channel
                        for p in 0..<(h * w) { target[p * c] = plane[p] }
                    }
                }
            }
        }
    }

    /// `[N, H, W, C]` → `[N, C, H, W]`.
    public static func permuteNHWCToNCHW(_ x: Tensor) -> Tensor {
        let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        return Tensor(shape: [n, c, h, w]) { out in
            x.withUnsafeBufferPointer { source in
                for image in 0..<n {
                    for channel in 0..<c {
                        let plane = out.baseAddress! + (image * c + channel) * h * w
                        let base = source.baseAddress! + image * h * w * c + channel
                        for p in 0..<(h * w) { plane[p] = base[p * c] }
                    }
                }
            }
        }
    }
}
