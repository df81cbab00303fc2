import Foundation
import NeuralNetwork
import TensorCore

/// Maps each RoI to a pyramid level by its size (torchvision 0.3.0 `LevelMapper`, FPN paper eq. 1):
/// k = clamp(floor(4 + log2(sqrt(area)/224 + 1e-6)), kMin, kMax), returned as k − kMin.
///
/// The 1e-6 sits inside the log2 as in 0.3.0 (torchvision ≥ 0.4 adds it outside), in float32. For the
/// R50 pyramid (kMin 2, kMax 5): sqrt(area) < 112 → P2, [112, 224) → P3, [224, 448) → P4, ≥ 448 → P5.
public struct LevelMapper: Sendable {
    /// Level of the finest map (−log2 of its scale).
    public let kMin: Int
    /// Level of the coarsest map.
    public let kMax: Int

    /// A mapper for levels `kMin...kMax`.
    public init(kMin: Int, kMax: Int) {
        precondition(kMin <= kMax, "LevelMapper needs kMin ≤ kMax, got \(kMin), \(kMax)")
        self.kMin = kMin
        self.kMax = kMax
    }

    /// The level index (0 = finest) of each box of `boxes` `[R, 4]`.
    public func callAsFunction(_ boxes: Tensor) -> [Int] {
        BoxOperations.area(boxes).map { area in
            let s = area.squareRoot()
            let level = (4 + Foundation.log2(s / 224 + Float(1e-6))).rounded(.down)
            // A NaN level needs a negative area, which decoded and clipped boxes cannot have; the
            // seed's integer cast of NaN is undefined, we pick the finest level.
            guard !level.isNaN else { return 0 }
            return Int(Swift.min(Swift.max(level, Float(kMin)), Float(kMax))) - kMin
        }
    }
}

/// RoIAlign over a feature pyramid (torchvision 0.3.0 `MultiScaleRoIAlign`, spec §0.3 and §4.1).
///
/// The scale of each level, 2^round(log2(feature size / image size)), is inferred on the first call
/// from the largest unpadded image of that batch and then kept, as the seed does. With one level this
/// is plain `roiAlign`; with several, each RoI is pooled from the level `LevelMapper` assigns it.
///
/// Unchecked Sendable: `scales` is read and written only under `lock` (`levelScales`, `resolveScales`);
/// the rest is `let`.
public final class MultiScaleRoIAlign: @unchecked Sendable {
    /// Output height and width.
    public let outputSize: Int
    /// Samples per bin axis (≤ 0: adaptive).
    public let samplingRatio: Int
    private var scales: [Float]?
    private let lock = NSLock()

    /// A pooler with `outputSize × outputSize` bins (7 for boxes, 14 for masks) and `samplingRatio` (2).
    public init(outputSize: Int, samplingRatio: Int) {
        precondition(outputSize > 0, "MultiScaleRoIAlign output size must be positive, got \(outputSize)")
        self.outputSize = outputSize
        self.samplingRatio = samplingRatio
    }

    /// The inferred per-level scales (nil before the first call).
    public var levelScales: [Float]? {
        lock.lock(); defer { lock.unlock() }
        return scales
    }

    /// 2^round(log2(feature / image)) for one axis, in float32 like the seed (round half to even).
    public static func inferScale(featureSize: Int, imageSize: Int) -> Float {
        let approximate = Float(Double(featureSize) / Double(imageSize))
        return Foundation.pow(2, Foundation.log2(approximate).rounded(.toNearestOrEven))
    }

    /// Pools `features` (levels finest first, each `[N, C, H_l, W_l]`) over `rois` `[R, 4]` into
    /// `[R, C, outputSize, outputSize]`, in the order of `rois`. `imageHeight`/`imageWidth` are the
    /// largest unpadded image sizes of the batch (only read on the first call).
    public func callAsFunction(_ features: [Variable], rois: Tensor, batchIndices: [Int], imageHeight: Int,
                               imageWidth: Int) -> Variable {
        precondition(!features.isEmpty, "MultiScaleRoIAlign needs at least one feature map")
        let scales = resolveScales(features, imageHeight: imageHeight, imageWidth: imageWidth)
        if features.count == 1 {
            return roiAlign(features[0], rois: rois, batchIndices: batchIndices, outputSize: outputSize,
                            spatialScale: scales[0], samplingRatio: samplingRatio)
        }
        let kMin = Int(-Foundation.log2(scales[0]).rounded()), kMax = Int(-Foundation.log2(scales[scales.count - 1]).rounded())
        let levels = LevelMapper(kMin: kMin, kMax: kMax)(rois)
        let channels = features[0].shape[1]
        precondition(features.allSatisfy { $0.shape[1] == channels && $0.shape[0] == features[0].shape[0] },
                     "pyramid levels must share batch and channels, got \(features.map(\.shape))")
        let r = rois.shape[0], binCount = channels * outputSize * outputSize
        let members: [[Int]] = (0..<features.count).map { level in (0..<r).filter { levels[$0] == level } }
        let boxes = rois.scalars
        func subset(_ rows: [Int]) -> (Tensor, [Int]) {
            (Tensor(shape: [rows.count, 4], scalars: rows.flatMap { boxes[(4 * $0)..<(4 * $0 + 4)] }),
             rows.map { batchIndices[$0] })
        }
        var output = Tensor(shape: [r, channels, outputSize, outputSize])
        for (level, rows) in members.enumerated() where !rows.isEmpty {
            let (levelRois, levelBatch) = subset(rows)
            let pooled = RoIAlignKernels.forward(features: features[level].value, rois: levelRois,
                                                 batchIndices: levelBatch, outputHeight: outputSize,
                                                 outputWidth: outputSize, spatialScale: scales[level],
                                                 samplingRatio: samplingRatio)
            pooled.withUnsafeBufferPointer { p in
                output.withUnsafeMutableBufferPointer { o in
                    for (k, row) in rows.enumerated() {
                        (o.baseAddress! + row * binCount).update(from: p.baseAddress! + k * binCount, count: binCount)
                    }
                }
            }
        }
        let shapes = features.map(\.shape), ratio = samplingRatio
        return Variable.result(output, inputs: features) { gradient in
            (0..<shapes.count).map { level -> Tensor? in
                let rows = members[level]
                guard !rows.isEmpty else { return nil }
                let (levelRois, levelBatch) = subset(rows)
                let levelGradient = Tensor(shape: [rows.count, channels, gradient.shape[2], gradient.shape[3]]) { g in
                    gradient.withUnsafeBufferPointer { source in
                        for (k, row) in rows.enumerated() {
                            (g.baseAddress! + k * binCount).update(from: source.baseAddress! + row * binCount,
                                                                   count: binCount)
                        }
                    }
                }
                return RoIAlignKernels.backward(outputGradient: levelGradient, featureShape: shapes[level],
                                                rois: levelRois, batchIndices: levelBatch,
                                                spatialScale: scales[level], samplingRatio: ratio)
            }
        }
    }

    private func resolveScales(_ features: [Variable], imageHeight: Int, imageWidth: Int) -> [Float] {
        lock.lock(); defer { lock.unlock() }
        if let scales, scales.count == features.count { return scales }
        let inferred = features.map { feature -> Float in
            let alongY = Self.inferScale(featureSize: feature.shape[2], imageSize: imageHeight)
            let alongX = Self.inferScale(featureSize: feature.shape[3], imageSize: imageWidth)
            precondition(alongY == alongX, "feature \(feature.shape) gives scale \(alongY) along y but \(alongX) along x for image \(imageHeight)×\(imageWidth)")
            return alongY
        }
        scales = inferred
        return inferred
    }
}
