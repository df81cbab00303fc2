
import Foundation

/// The `segmentation` of an annotation: polygons, or a run-length mask (compressed or not in JSON).
public enum COCOSegmentation: Equatable, Sendable {
    /// One object as one or more polygons `[x0, y0, x1, y1, ...]`, rasterised at the image size.
    case polygons([[Double]])
    /// A run-length mask with its own size.
    case rle(RLEMask)
}
