
import Foundation

/// One annotation (ground truth) or one detection (results), with the fields evaluation needs.
public struct COCOAnnotation: Equatable, Sendable {
    /// `id` (results get 1, 2, ... in file order, as pycocotools' `loadRes`).
    public var id: Int
    /// `image_id`.
    public var imageID: Int
    /// `category_id`.
    public var categoryID: Int
    /// `area`: from the file for ground truth; for results as `loadRes` sets it (see `COCODetections`).
    public var area: Double
    /// `bbox`, when given or derived.
    public var bbox: COCOBox?
    /// `segmentation`, when given or derived.
    public var segmentation: COCOSegmentation?
    /// `iscrowd` (ground truth only; results are never crowd).
    public var isCrowd: Bool
    /// `score` (results only).
    public var score: Double

    /// An annotation record.
    public init(id: Int, imageID: Int, categoryID: Int, area: Double, bbox: COCOBox? = nil,
                segmentation: COCOSegmentation? = nil, isCrowd: Bool = false, score: Double = 0) {
        self.id = id
        self.imageID = imageID
        self.categoryID = categoryID
        self.area = area
        self.bbox = bbox
        self.segmentation = segmentation
        self.isCrowd = isCrowd
        self.score = score
    }
}
