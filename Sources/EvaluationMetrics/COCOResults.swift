// COCOResults: writing detections as a COCO results file (what `masknet coco-eval --dt` and pycocotools read).

import Foundation

extension RLEMask: Codable {
    enum CodingKeys: String, CodingKey {
        case size
        case counts
    }

    /// Decodes a COCO segmentation object `{"size": [h, w], "counts": "<compressed>" | [runs]}`.
    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let size = try container.decode([Int].self, forKey: .size)
        guard size.count == 2 else {
            throw DecodingError.dataCorruptedError(forKey: .size, in: container, debugDescription: "size must be [height, width]")
        }
        if let string = try? container.decode(String.self, forKey: .counts) {
            do { try self.init(compressed: string, height: size[0], width: size[1]) } catch {
                throw DecodingError.dataCorruptedError(forKey: .counts, in: container, debugDescription: "\(error)")
            }
        } else {
            self.init(height: size[0], width: size[1], counts: try container.decode([UInt32].self, forKey: .counts))
        }
    }

    /// Encodes as pycocotools writes it: `{"size": [h, w], "counts": "<compressed string>"}`.
    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode([height, width], forKey: .size)
        try container.encode(compressedString, forKey: .counts)
    }
}

/// One detection of a COCO results file.
///
/// Whether to include `bbox` for `segm` results matters: pycocotools' `loadRes` then takes the box
/// branch for the whole file and uses the box area (not the mask area) for the small/medium/large
/// ranges. Detectron2 and torchvision's reference scripts write both; omit the box to have mask areas.
public struct COCOResult: Equatable, Sendable, Encodable {
    /// `image_id`.
    public var imageID: Int
    /// `category_id`.
    public var categoryID: Int
    /// `score`.
    public var score: Double
    /// `bbox` `[x, y, w, h]`, or nil to omit it.
    public var bbox: COCOBox?
    /// `segmentation` as compressed RLE, or nil to omit it.
    public var segmentation: RLEMask?

    enum CodingKeys: String, CodingKey {
        case imageID = "image_id"
        case categoryID = "category_id"
        case score
        case bbox
        case segmentation
    }

    /// A detection record.
    public init(imageID: Int, categoryID: Int, score: Double, bbox: COCOBox? = nil, segmentation: RLEMask? = nil) {
        self.imageID = imageID
        self.categoryID = categoryID
        self.score = score
        self.bbox = bbox
        self.segmentation = segmentation
    }

    /// A results file: a JSON array of detections, keys sorted so the bytes are deterministic.
    public static func jsonData(_ results: [COCOResult]) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(results)
    }
}
