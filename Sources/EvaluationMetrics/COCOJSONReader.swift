// COCOJSONReader: reading COCO ground-truth and results JSON the way pycocotools reads it (the file types are in COCOGroundTruth.swift and COCODetections.swift).

import Foundation

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
