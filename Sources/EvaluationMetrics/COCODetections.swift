
import Foundation

/// A COCO results file (a JSON array of detections), completed the way pycocotools' `COCO.loadRes` does.
///
/// `loadRes` picks one branch for the whole file from the FIRST result: if it has a non-empty `bbox`,
/// every result gets `area = bbox.w * bbox.h` (even for `segm` evaluation, where that area decides the
/// area range) and, when it has no `segmentation`, the box's polygon; otherwise every result gets
/// `area` = mask area and, when it has no `bbox`, the mask's tight box. Ids are 1, 2, ... in file order.
public struct COCODetections: Sendable {
    /// Detections in file order, completed as above.
    public var annotations: [COCOAnnotation]
    /// Where the data came from (used in error messages).
    public var source: String

    /// Detections from values, taken as they are (no `loadRes` completion).
    public init(annotations: [COCOAnnotation], source: String = "<memory>") {
        self.annotations = annotations
        self.source = source
    }

    /// Reads a results JSON file for the given ground truth.
    public init(contentsOf url: URL, groundTruth: COCOGroundTruth) throws {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw COCOFormatError(file: url.path, key: "(file)", message: "cannot read the file: \(error.localizedDescription)")
        }
        try self.init(jsonData: data, source: url.path, groundTruth: groundTruth)
    }

    /// Parses results JSON: an array of `{image_id, category_id, score, bbox and/or segmentation}`.
    /// Every `image_id` must be an image of the ground truth (pycocotools asserts the same).
    public init(jsonData: Data, source: String, groundTruth: COCOGroundTruth) throws {
        let reader = _JSONReader(file: source)
        let items = try reader.array(try reader.parse(jsonData), key: "(root)")
        let imageIDs = Set(groundTruth.images.map(\.id))
        var objects: [[String: Any]] = []
        for (i, item) in items.enumerated() {
            objects.append(try reader.object(item, key: "[\(i)]"))
        }
        // The branch of loadRes, decided by the first result.
        let boxBranch: Bool
        if let first = objects.first, let box = first["bbox"] as? [Any], !box.isEmpty {
            boxBranch = true
        } else {
            boxBranch = false
        }
        var annotations: [COCOAnnotation] = []
        annotations.reserveCapacity(objects.count)
        for (i, object) in objects.enumerated() {
            let key = "[\(i)]"
            let imageID = try reader.integer(object["image_id"], key: key + ".image_id")
            guard imageIDs.contains(imageID) else {
                throw COCOFormatError(file: source, key: key + ".image_id",
                                      message: "image \(imageID) is not in the ground truth \(groundTruth.source); results must refer to its images")
            }
            var annotation = COCOAnnotation(
                id: i + 1, imageID: imageID,
                categoryID: try reader.integer(object["category_id"], key: key + ".category_id"),
                area: 0,
                score: try reader.number(object["score"], key: key + ".score"))
            if let segmentation = object["segmentation"], !(segmentation is NSNull) {
                annotation.segmentation = try reader.segmentation(segmentation, key: key + ".segmentation")
            }
            if boxBranch {
                let box = try reader.box(object["bbox"], key: key + ".bbox")
                annotation.bbox = box
                annotation.area = box.width * box.height
                if annotation.segmentation == nil {
                    annotation.segmentation = .polygons([[box.x, box.y, box.x, box.y + box.height,
                                                          box.x + box.width, box.y + box.height,
                                                          box.x + box.width, box.y]])
                }
            } else {
                guard case .rle(let mask)? = annotation.segmentation else {
                    throw COCOFormatError(file: source, key: key + ".segmentation",
                                          message: "results without a bbox need an RLE segmentation {\"size\": [h, w], \"counts\": ...}")
                }
                annotation.area = Double(mask.area)
                if let box = object["bbox"], !(box is NSNull) {
                    annotation.bbox = try reader.box(box, key: key + ".bbox")
                } else {
                    annotation.bbox = mask.boundingBox
                }
            }
            annotations.append(annotation)
        }
        self.init(annotations: annotations, source: source)
    }
}
