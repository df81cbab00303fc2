
import Foundation

/// A COCO ground-truth file: images, category ids and annotations.
public struct COCOGroundTruth: Sendable {
    /// Images, in file order.
    public var images: [COCOImage]
    /// Category ids, in file order.
    public var categoryIDs: [Int]
    /// Annotations, in file order.
    public var annotations: [COCOAnnotation]
    /// Where the data came from (used in error messages).
    public var source: String

    /// Ground truth from values.
    public init(images: [COCOImage], categoryIDs: [Int], annotations: [COCOAnnotation], source: String = "<memory>") {
        self.images = images
        self.categoryIDs = categoryIDs
        self.annotations = annotations
        self.source = source
    }

    /// Reads a COCO ground-truth JSON file.
    public init(contentsOf url: URL) throws {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw COCOFormatError(file: url.path, key: "(file)", message: "cannot read the file: \(error.localizedDescription)")
        }
        try self.init(jsonData: data, source: url.path)
    }

    /// Parses COCO ground-truth JSON. Required: `images[].id/height/width`, `categories[].id`,
    /// `annotations[].id/image_id/category_id/area`; `bbox` and `segmentation` are checked when evaluated;
    /// a missing `iscrowd` means 0.
    public init(jsonData: Data, source: String) throws {
        let reader = _JSONReader(file: source)
        let root = try reader.object(try reader.parse(jsonData), key: "(root)")
        var images: [COCOImage] = []
        for (i, item) in try reader.array(root["images"], key: "images").enumerated() {
            let key = "images[\(i)]"
            let object = try reader.object(item, key: key)
            let height = try reader.integer(object["height"], key: key + ".height")
            let width = try reader.integer(object["width"], key: key + ".width")
            try reader.checkSize(height: height, width: width, key: key)
            images.append(COCOImage(id: try reader.integer(object["id"], key: key + ".id"), height: height, width: width))
        }
        var categories: [Int] = []
        for (i, item) in try reader.array(root["categories"], key: "categories").enumerated() {
            let object = try reader.object(item, key: "categories[\(i)]")
            categories.append(try reader.integer(object["id"], key: "categories[\(i)].id"))
        }
        var annotations: [COCOAnnotation] = []
        var seenIDs = Set<Int>()
        for (i, item) in try reader.array(root["annotations"] ?? [Any](), key: "annotations").enumerated() {
            let key = "annotations[\(i)]"
            let object = try reader.object(item, key: key)
            let id = try reader.integer(object["id"], key: key + ".id")
            // pycocotools indexes annotations by id, so a repeated id silently replaces the earlier one;
            // we refuse the file instead of evaluating something else than it says.
            guard seenIDs.insert(id).inserted else {
                throw COCOFormatError(file: source, key: key + ".id", message: "annotation id \(id) is used twice; ids must be unique")
            }
            var annotation = COCOAnnotation(
                id: id,
                imageID: try reader.integer(object["image_id"], key: key + ".image_id"),
                categoryID: try reader.integer(object["category_id"], key: key + ".category_id"),
                area: try reader.number(object["area"], key: key + ".area"))
            if let crowd = object["iscrowd"], !(crowd is NSNull) {
                annotation.isCrowd = try reader.number(crowd, key: key + ".iscrowd") != 0
            }
            if let box = object["bbox"], !(box is NSNull) {
                annotation.bbox = try reader.box(box, key: key + ".bbox")
            }
            if let segmentation = object["segmentation"], !(segmentation is NSNull) {
                annotation.segmentation = try reader.segmentation(segmentation, key: key + ".segmentation")
            }
            annotations.append(annotation)
        }
        self.init(images: images, categoryIDs: categories, annotations: annotations, source: source)
    }
}
