// COCOData: the ground-truth and results files of COCO evaluation, read the way pycocotools reads them.

import Foundation

/// A COCO JSON file that cannot be used; the message names the file and the key.
public struct COCOFormatError: Error, Equatable, CustomStringConvertible {
    /// The file (or a label for in-memory data).
    public let file: String
    /// The JSON path of the offending key, e.g. `annotations[3].bbox`.
    public let key: String
    /// What is wrong and what to do.
    public let message: String

    /// An error about `key` in `file`.
    public init(file: String, key: String, message: String) {
        self.file = file
        self.key = key
        self.message = message
    }

    /// Human-readable description naming file and key.
    public var description: String { "\(file): \(key): \(message)" }
}

/// One image of a COCO ground-truth file (the fields evaluation needs).
public struct COCOImage: Equatable, Sendable {
    /// `id`.
    public var id: Int
    /// `height` in pixels.
    public var height: Int
    /// `width` in pixels.
    public var width: Int

    /// An image record.
    public init(id: Int, height: Int, width: Int) {
        self.id = id
        self.height = height
        self.width = width
    }
}

/// The `segmentation` of an annotation: polygons, or a run-length mask (compressed or not in JSON).
public enum COCOSegmentation: Equatable, Sendable {
    /// One object as one or more polygons `[x0, y0, x1, y1, ...]`, rasterised at the image size.
    case polygons([[Double]])
    /// A run-length mask with its own size.
    case rle(RLEMask)
}

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

/// Reads values out of `JSONSerialization` trees with errors that name the file and key.
struct _JSONReader {
    let file: String

    func fail(_ key: String, _ message: String) -> COCOFormatError {
        COCOFormatError(file: file, key: key, message: message)
    }

    /// Parses with `JSONDecoder`, not `JSONSerialization`: on Linux the latter misrounds doubles
    /// (it reads 0.7000000000000001 as 0.7000000000000003), which would shift IoUs and scores by ulps.
    func parse(_ data: Data) throws -> Any {
        do {
            return try JSONDecoder().decode(_JSONValue.self, from: data).any
        } catch {
            throw fail("(root)", "not valid JSON: \(error)")
        }
    }

    func object(_ value: Any?, key: String) throws -> [String: Any] {
        guard let value else { throw fail(key, "missing") }
        guard let object = value as? [String: Any] else { throw fail(key, "expected a JSON object") }
        return object
    }

    func array(_ value: Any?, key: String) throws -> [Any] {
        guard let value else { throw fail(key, "missing") }
        guard let array = value as? [Any] else { throw fail(key, "expected a JSON array") }
        return array
    }

    func number(_ value: Any?, key: String) throws -> Double {
        guard let value, !(value is NSNull) else { throw fail(key, "missing") }
        if let d = value as? Double {
            guard d.isFinite else { throw fail(key, "expected a finite number") }
            return d
        }
        if let b = value as? Bool { return b ? 1 : 0 }  // e.g. "iscrowd": true
        throw fail(key, "expected a number")
    }

    func integer(_ value: Any?, key: String) throws -> Int {
        let d = try number(value, key: key)
        guard d == d.rounded(), abs(d) < 9.0e15 else { throw fail(key, "expected an integer, found \(d)") }
        return Int(d)
    }

    /// The largest image side and pixel count accepted (far above any CT or COCO image). Sizes come from
    /// the file, so without a bound `height * width` could overflow and masks could claim any memory;
    /// RLE runs are 32-bit, as in pycocotools, so a mask cannot have more than 2^32 − 1 pixels anyway.
    static let maximumSide = 1 << 20
    static let maximumPixels = Int(UInt32.max)
    /// Coordinates beyond this magnitude are refused: polygons are rasterised by walking their edges at
    /// five sub-pixel steps per pixel, so a far-away vertex would make one polygon cost billions of steps.
    static let maximumCoordinate = Double(1 << 20)
    /// Most sub-pixel steps one polygon's edges may take (its perimeter × 5).
    static let maximumPolygonSteps = 1 << 24

    func checkSize(height: Int, width: Int, key: String) throws {
        guard height >= 0, width >= 0 else { throw fail(key, "negative size [\(height), \(width)]") }
        guard height <= Self.maximumSide, width <= Self.maximumSide, height * width <= Self.maximumPixels else {
            throw fail(key, "size [\(height), \(width)] is larger than masknet accepts (sides up to \(Self.maximumSide), "
                + "at most 2^32 − 1 pixels); the file is damaged")
        }
    }

    func coordinate(_ value: Any?, key: String) throws -> Double {
        let d = try number(value, key: key)
        guard abs(d) <= Self.maximumCoordinate else {
            throw fail(key, "coordinate \(d) is beyond ±\(Int(Self.maximumCoordinate)); no image is that large")
        }
        return d
    }

    func checkPerimeter(_ xy: [Double], key: String) throws {
        let k = xy.count / 2
        guard k > 1 else { return }
        var steps = 0.0
        for j in 0..<k {
            let next = (j + 1) % k
            steps += 5 * max(abs(xy[2 * next] - xy[2 * j]), abs(xy[2 * next + 1] - xy[2 * j + 1])) + 1
        }
        guard steps <= Double(Self.maximumPolygonSteps) else {
            throw fail(key, "the polygon's perimeter (\(Int(steps / 5)) pixels) is too long to rasterise; the file is damaged")
        }
    }

    func box(_ value: Any?, key: String) throws -> COCOBox {
        let items = try array(value, key: key)
        guard items.count == 4 else { throw fail(key, "expected [x, y, width, height], found \(items.count) numbers") }
        let v = try items.enumerated().map { try coordinate($0.element, key: "\(key)[\($0.offset)]") }
        return COCOBox(x: v[0], y: v[1], width: v[2], height: v[3])
    }

    func segmentation(_ value: Any, key: String) throws -> COCOSegmentation {
        if let polygons = value as? [Any] {
            var result: [[Double]] = []
            for (p, polygon) in polygons.enumerated() {
                let coordinates = try array(polygon, key: "\(key)[\(p)]")
                let polygon = try coordinates.enumerated().map { try coordinate($0.element, key: "\(key)[\(p)][\($0.offset)]") }
                try checkPerimeter(polygon, key: "\(key)[\(p)]")
                result.append(polygon)
            }
            return .polygons(result)
        }
        let object = try object(value, key: key)
        let size = try array(object["size"], key: key + ".size")
        guard size.count == 2 else { throw fail(key + ".size", "expected [height, width]") }
        let height = try integer(size[0], key: key + ".size[0]")
        let width = try integer(size[1], key: key + ".size[1]")
        try checkSize(height: height, width: width, key: key + ".size")
        guard let counts = object["counts"] else { throw fail(key + ".counts", "missing") }
        let mask: RLEMask
        if let string = counts as? String {
            do { mask = try RLEMask(compressed: string, height: height, width: width) } catch {
                throw fail(key + ".counts", "\(error)")
            }
        } else if let runs = counts as? [Any] {
            mask = RLEMask(height: height, width: width, counts: try runs.enumerated().map {
                let run = try integer($0.element, key: "\(key).counts[\($0.offset)]")
                guard run >= 0 && run <= Int(UInt32.max) else { throw fail("\(key).counts[\($0.offset)]", "run out of range") }
                return UInt32(run)
            })
        } else {
            throw fail(key + ".counts", "expected a compressed RLE string or a list of run lengths")
        }
        let covered = mask.counts.reduce(0) { $0 + Int($1) }
        guard covered == height * width else {
            throw fail(key + ".counts", "runs cover \(covered) pixels but size [\(height), \(width)] has \(height * width)")
        }
        return .rle(mask)
    }
}

/// A JSON document decoded with `JSONDecoder` (correctly rounded doubles), turned into plain Swift values:
/// `Double`, `Bool`, `String`, `NSNull`, `[Any]`, `[String: Any]`.
enum _JSONValue: Decodable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([_JSONValue])
    case object([String: _JSONValue])

    init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let number = try? container.decode(Double.self) {
            self = .number(number)
        } else if let string = try? container.decode(String.self) {
            self = .string(string)
        } else if let bool = try? container.decode(Bool.self) {
            self = .bool(bool)
        } else if let array = try? container.decode([_JSONValue].self) {
            self = .array(array)
        } else {
            self = .object(try container.decode([String: _JSONValue].self))
        }
    }

    var any: Any {
        switch self {
        case .null: return NSNull()
        case .bool(let b): return b
        case .number(let d): return d
        case .string(let s): return s
        case .array(let a): return a.map(\.any)
        case .object(let o): return o.mapValues(\.any)
        }
    }
}
