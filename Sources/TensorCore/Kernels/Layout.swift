import Foundation

/// Memory-layout permutations between channels-first `[N, C, H, W]` and channels-last `[N, H, W, C]`.
public enum TensorLayout {
    /// `[N, C, H, W]` → `[N, H, W, C]`.
    public static func permuteNCHWToNHWC(_ x: Tensor) -> Tensor {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        return Tensor(shape: [n, h, w, c]) { out in
            x.withUnsafeBufferPointer { channelsLast($0.baseAddress!, n: n, c: c, plane: h * w, into: out.baseAddress!) }
        }
    }

    /// `[N, H, W, C]` → `[N, C, H, W]`.
    public static func permuteNHWCToNCHW(_ x: Tensor) -> Tensor {
        let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        return Tensor(shape: [n, c, h, w]) { out in
            x.withUnsafeBufferPointer { channelsFirst($0.baseAddress!, n: n, c: c, plane: h * w, into: out.baseAddress!) }
        }
    }

    /// `[N, C, H·W]` → `[N, H·W, C]` between raw buffers, parallel over positions. Consecutive positions
    /// reuse the same C source cache lines, so the strided reads stay in L1.
    public static func channelsLast(_ source: UnsafePointer<Float>, n: Int, c: Int, plane: Int,
                                    into target: UnsafeMutablePointer<Float>) {
        for image in 0..<n {
            let s = source + image * c * plane, t = target + image * c * plane
            parallelChunks(plane, minimumChunk: 64) { positions in
                for p in positions { for channel in 0..<c { t[p * c + channel] = s[channel * plane + p] } }
            }
        }
    }

    /// `[N, H·W, C]` → `[N, C, H·W]` between raw buffers, parallel over channels.
    public static func channelsFirst(_ source: UnsafePointer<Float>, n: Int, c: Int, plane: Int,
                                     into target: UnsafeMutablePointer<Float>) {
        for image in 0..<n {
            let s = source + image * c * plane, t = target + image * c * plane
            parallelChunks(c, minimumChunk: 4) { channels in
                for channel in channels { for p in 0..<plane { t[channel * plane + p] = s[p * c + channel] } }
            }
        }
    }
}
