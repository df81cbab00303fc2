import Foundation
import ImageIO

/// How mask values become lesion classes (spec §1.1.3 with the explicit mapping of Appendix D/B1).
public enum MaskType: String, Sendable, CaseIterable, Codable {
    /// Two lesion classes: GGO (2) → label 1, consolidation (3) → label 2.
    case both
    /// GGO only: GGO (2) → label 1; consolidation (3) becomes background.
    case ggo
    /// One lesion class: GGO (2) and consolidation (3) → label 1, as one connected region.
    case merge

    /// Detector classes including background: 3 for `both`, 2 otherwise (spec §0.1 "n_c").
    public var classCount: Int { self == .both ? 3 : 2 }

    /// Display names of the detector classes, indexed by label (0 is background): the names the seed's
    /// inference figure gives them (spec §8), used by every overlay, figure and COCO category list.
    public var classNames: [String] {
        switch self {
        case .both: return ["background", "GGO", "CL"]
        case .ggo: return ["background", "GGO"]
        case .merge: return ["background", "Lesion"]
        }
    }

    /// The lesion label of a raw mask value (0 for background), for values already known to be in 0...3.
    @inlinable
    public func label(ofMaskValue value: UInt8) -> Int {
        switch (self, value) {
        case (.both, 2), (.ggo, 2), (.merge, 2), (.merge, 3): return 1
        case (.both, 3): return 2
        default: return 0
        }
    }
}

/// Pixel neighbourhood for connected components.
public enum Connectivity: Int, Sendable, Codable {
    /// Edge neighbours only.
    case four = 4
    /// Edge and corner neighbours (skimage's default for 2-D, and the original's).
    case eight = 8
}

/// One lesion instance: a connected component of one class.
public struct LesionInstance: Sendable, Equatable {
    /// The class label (1-based; see `MaskType`).
    public let label: Int
    /// `[x1, y1, x2, y2]` with half-open pixel extents: `x2 = last column + 1`, `y2 = last row + 1`.
    public let box: [Float]
    /// Pixel count.
    public let area: Int
    /// `height * width` bytes, 1 inside the component, row-major.
    public let mask: [UInt8]
}

/// Turns a label mask into lesion instances (spec §1.1.4 with the decisions of Appendix D/B1–B2).
public struct InstanceExtraction: Sendable {
    /// Value mapping.
    public var maskType: MaskType
    /// A component is kept only if its area is strictly greater than this (default 100 px).
    public var areaThreshold: Int
    /// Neighbourhood for components (default 8).
    public var connectivity: Connectivity

    /// An extraction with the given settings; the defaults are the original's.
    public init(maskType: MaskType = .both, areaThreshold: Int = 100, connectivity: Connectivity = .eight) {
        self.maskType = maskType
        self.areaThreshold = areaThreshold
        self.connectivity = connectivity
    }

    /// The instances of `mask`, ordered by class label, then by component label (raster order of each
    /// component's first pixel). Throws `DatasetError.unknownMaskValues` naming `path` and every bad value.
    public func instances(of mask: LabelMap, path: String) throws -> [LesionInstance] {
        var present = [Bool](repeating: false, count: 256)
        for v in mask.values { present[Int(v)] = true }
        let unknown = (4..<256).filter { present[$0] }
        guard unknown.isEmpty else { throw DatasetError.unknownMaskValues(path: path, values: unknown) }

        let labelCount = maskType.classCount - 1
        var classMap = [UInt8](repeating: 0, count: mask.values.count)
        for (i, v) in mask.values.enumerated() { classMap[i] = UInt8(maskType.label(ofMaskValue: v)) }

        var result: [LesionInstance] = []
        for label in 1...labelCount {
            for component in Self.components(of: classMap, value: UInt8(label), width: mask.width,
                                             height: mask.height, connectivity: connectivity)
            where component.pixels.count > areaThreshold {
                var instanceMask = [UInt8](repeating: 0, count: mask.values.count)
                for p in component.pixels { instanceMask[p] = 1 }
                result.append(LesionInstance(
                    label: label,
                    box: [Float(component.minColumn), Float(component.minRow),
                          Float(component.maxColumn + 1), Float(component.maxRow + 1)],
                    area: component.pixels.count, mask: instanceMask))
            }
        }
        return result
    }

    /// A connected component: its pixel indices and inclusive extents.
    struct Component {
        var pixels: [Int] = []
        var minRow = Int.max, maxRow = Int.min, minColumn = Int.max, maxColumn = Int.min
    }

    /// Components of the pixels equal to `value`, in raster order of their first pixel (flood fill from
    /// each unvisited pixel met by a raster scan, so the numbering matches skimage.measure.label).
    static func components(of map: [UInt8], value: UInt8, width: Int, height: Int,
                           connectivity: Connectivity) -> [Component] {
        var visited = [Bool](repeating: false, count: map.count)
        var result: [Component] = []
        var stack: [Int] = []
        let eight = connectivity == .eight
        for start in 0..<map.count where map[start] == value && !visited[start] {
            var component = Component()
            visited[start] = true
            stack.append(start)
            while let p = stack.popLast() {
                let row = p / width, column = p % width
                component.pixels.append(p)
                component.minRow = min(component.minRow, row); component.maxRow = max(component.maxRow, row)
                component.minColumn = min(component.minColumn, column)
                component.maxColumn = max(component.maxColumn, column)
                for dy in -1...1 {
                    let r = row + dy
                    guard r >= 0 && r < height else { continue }
                    for dx in -1...1 where (dx != 0 || dy != 0) && (eight || dx == 0 || dy == 0) {
                        let c = column + dx
                        guard c >= 0 && c < width else { continue }
                        let q = r * width + c
                        if map[q] == value && !visited[q] { visited[q] = true; stack.append(q) }
                    }
                }
            }
            component.pixels.sort()
            result.append(component)
        }
        return result
    }
}
