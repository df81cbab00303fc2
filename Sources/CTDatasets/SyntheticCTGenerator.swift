import Foundation
import ImageIO
import TensorCore

/// Which data layouts the synthetic generator writes.
public enum SyntheticLayout: String, Sendable, Codable, CaseIterable {
    /// `segmentation/imgs/<scan>_<slice>.png` and `segmentation/masks/<scan>_<slice>.png` (values 0/1/2/3).
    case segmentation
    /// `classification/[Class]_[Patient]_[Scan]_[Slice].png`.
    case classification
    /// Both of the above.
    case both

    /// The single layouts this choice includes.
    public var parts: [SyntheticLayout] { self == .both ? [.segmentation, .classification] : [self] }
    /// The subfolder of the output folder a single layout is written to.
    public var folderName: String { rawValue }
}

/// Settings of the synthetic CT generator. Every default is documented; the output depends only on these.
public struct SyntheticCTConfiguration: Sendable, Codable, Equatable {
    /// Master seed; every patient, scan and slice draws from its own stream derived from it.
    public var seed: UInt64
    /// Slice width and height in pixels (default 128; 512 matches CNCB).
    public var size: Int
    /// Slices in the segmentation layout (default 300).
    public var segmentationCount: Int
    /// Slices in the classification layout (default 300, balanced over the three classes by patient).
    public var classificationCount: Int
    /// Slices per synthetic scan (default 5, as in the seed's segmentation split).
    public var slicesPerScan: Int
    /// Which layouts to write (default both).
    public var layout: SyntheticLayout
    /// Scan classes of the segmentation layout, as fractions (COVID-19, CP, control); default 0.6/0.3/0.1, since
    /// CNCB's lesion masks come from COVID-19 and CP patients, with some lesion-free slices.
    public var segmentationClassFractions: [Double]
    /// Faster, larger PNGs (zlib speed setting); pixels are identical either way. Default true.
    public var fastCompression: Bool

    /// A configuration; `count` sets both layouts' slice counts.
    public init(seed: UInt64 = 0, size: Int = 128, count: Int = 300, layout: SyntheticLayout = .both,
                slicesPerScan: Int = 5, segmentationClassFractions: [Double] = [0.6, 0.3, 0.1],
                fastCompression: Bool = true) {
        self.seed = seed
        self.size = size
        segmentationCount = count
        classificationCount = count
        self.slicesPerScan = slicesPerScan
        self.layout = layout
        self.segmentationClassFractions = segmentationClassFractions
        self.fastCompression = fastCompression
    }
}

/// One planned slice: where it goes and what it shows. Rendering it is deterministic.
public struct SyntheticSliceDescriptor: Sendable {
    /// `.segmentation` or `.classification`.
    public let layout: SyntheticLayout
    /// The file name (the same name is used for image and mask in the segmentation layout).
    public let fileName: String
    /// The scan's class.
    public let label: CTClass
    /// Patient number within the layout.
    public let patient: Int
    /// Scan number within the patient.
    public let scan: Int
    /// Slice height in the chest, 0 (apex) … 1 (base).
    public let z: Float
    let anatomy: SyntheticAnatomy
    let scanSpec: SyntheticScan
    let sliceSeed: UInt64
}

/// A rendered slice: 8-bit grey pixels and the 0/1/2/3 mask.
public struct SyntheticSlice: Sendable {
    /// What was rendered.
    public let descriptor: SyntheticSliceDescriptor
    /// The image, `size × size` 8-bit grey intensities (raw bytes, as the PNG stores them).
    public let image: LabelMap
    /// The mask: 0 outside the lungs, 1 lung, 2 GGO, 3 consolidation.
    public let mask: LabelMap

    /// The image as an `Image` in [0, 1] (one channel).
    public var greyImage: Image { Image(width: image.width, height: image.height, channels: 1, bytes: image.values) }
}

/// What `SyntheticCTGenerator.write(to:)` produced; also written as `manifest.json` in the output folder.
public struct SyntheticCTManifest: Sendable, Codable, Equatable {
    /// Always "masknet-synthetic-ct".
    public var generator: String
    /// `SyntheticCTGenerator.version`.
    public var version: Int
    /// The configuration used.
    public var configuration: SyntheticCTConfiguration
    /// Slices written per layout name.
    public var slices: [String: Int]
    /// Slices per class name, per layout name.
    public var classSlices: [String: [String: Int]]
    /// Scans per layout name.
    public var scans: [String: Int]
}

/// The embedded default data set: synthetic chest CT slices in both real layouts (spec §1.1, §1.3).
///
/// Deterministic: the same configuration gives byte-identical files. Slices are planned serially (cheap) and
/// rendered and written in parallel, each from its own seeded stream, so the output does not depend on the
/// number of threads.
public struct SyntheticCTGenerator: Sendable {
    /// Bumped whenever the same configuration would render different pixels.
    public static let version = 1

    /// The settings.
    public let configuration: SyntheticCTConfiguration

    /// A generator with the given settings.
    public init(_ configuration: SyntheticCTConfiguration) {
        precondition(configuration.size >= 32, "synthetic slices need size >= 32, got \(configuration.size)")
        precondition(configuration.slicesPerScan >= 1, "slicesPerScan must be >= 1, got \(configuration.slicesPerScan)")
        self.configuration = configuration
    }

    /// The slices of one layout (`.segmentation` or `.classification`), in file-name order of creation.
    public func plan(_ layout: SyntheticLayout) -> [SyntheticSliceDescriptor] {
        precondition(layout != .both, "plan(_:) takes a single layout")
        let target = layout == .segmentation ? configuration.segmentationCount : configuration.classificationCount
        var result: [SyntheticSliceDescriptor] = []
        var patient = 0
        let seed = configuration.seed
        while result.count < target {
            var patientGenerator = SeededGenerator(seed: seed, stream: "\(layout.rawValue)/patient/\(patient)")
            let anatomy = SyntheticAnatomy(generator: &patientGenerator)
            let label: CTClass
            let scans: Int
            if layout == .classification {
                label = CTClass(rawValue: patient % 3)!
                scans = patientGenerator.nextUniform() < 0.3 ? 2 : 1
            } else {
                label = Self.segmentationClass(patientGenerator.nextUniform(), fractions: configuration.segmentationClassFractions)
                scans = 1
            }
            for scan in 0..<scans where result.count < target {
                var scanGenerator = SeededGenerator(seed: seed, stream: "\(layout.rawValue)/scan/\(patient)/\(scan)")
                let spec = SyntheticScan(label: label, generator: &scanGenerator)
                let heights = spec.sliceHeights(count: configuration.slicesPerScan, generator: &scanGenerator)
                var used: Set<Int> = []
                for (k, z) in heights.enumerated() where result.count < target {
                    var number = Int(z * 300)
                    while !used.insert(number).inserted { number += 1 }
                    let name: String
                    if layout == .segmentation {
                        name = "\(patient)_\(number).png"
                    } else {
                        name = COVIDxSliceName(label: label, patient: String(1000 + patient),
                                               scan: String(5000 + 2 * patient + scan), slice: number).fileName()
                    }
                    result.append(SyntheticSliceDescriptor(
                        layout: layout, fileName: name, label: label, patient: patient, scan: scan, z: z,
                        anatomy: anatomy, scanSpec: spec,
                        sliceSeed: SeededGenerator.derive(seed: seed, stream: "\(layout.rawValue)/slice/\(patient)/\(scan)/\(k)")))
                }
            }
            patient += 1
        }
        return result
    }

    private static func segmentationClass(_ u: Float, fractions: [Double]) -> CTClass {
        let total = fractions.reduce(0, +)
        let covid = fractions.count > 0 ? fractions[0] / total : 1
        let cp = fractions.count > 1 ? fractions[1] / total : 0
        if Double(u) < covid { return .covid19 }
        if Double(u) < covid + cp { return .commonPneumonia }
        return .control
    }

    /// Renders one planned slice.
    public func render(_ descriptor: SyntheticSliceDescriptor) -> SyntheticSlice {
        let renderer = SyntheticSliceRenderer(size: configuration.size)
        let output = renderer.render(anatomy: descriptor.anatomy, scan: descriptor.scanSpec, z: descriptor.z,
                                     sliceSeed: descriptor.sliceSeed)
        let size = configuration.size
        return SyntheticSlice(descriptor: descriptor, image: LabelMap(width: size, height: size, values: output.pixels),
                              mask: LabelMap(width: size, height: size, values: output.mask))
    }

    /// Writes the configured layouts under `folder` (`segmentation/imgs`, `segmentation/masks`,
    /// `classification/`) plus `manifest.json`, rendering slices in parallel.
    ///
    /// Refuses to write into a layout folder that already holds files, unless `replacingExisting` is true
    /// (then those layout folders are deleted first), so stale slices never mix with new ones.
    @discardableResult
    public func write(to folder: URL, replacingExisting: Bool = false) throws -> SyntheticCTManifest {
        let fileManager = FileManager.default
        var slices: [String: Int] = [:], classSlices: [String: [String: Int]] = [:], scans: [String: Int] = [:]
        for layout in configuration.layout.parts {
            let layoutFolder = folder.appendingPathComponent(layout.folderName)
            if fileManager.fileExists(atPath: layoutFolder.path) {
                if replacingExisting {
                    do { try fileManager.removeItem(at: layoutFolder) } catch {
                        throw DatasetError.writeFailed(path: layoutFolder.path, reason: error.localizedDescription)
                    }
                } else if let contents = fileManager.enumerator(atPath: layoutFolder.path),
                          contents.contains(where: { _ in true }) {
                    throw DatasetError.writeFailed(path: layoutFolder.path,
                                                   reason: "the folder is not empty; choose a new output folder or ask to replace it (masknet synth --replace)")
                }
            }
            let imageFolder = layout == .segmentation ? layoutFolder.appendingPathComponent("imgs") : layoutFolder
            let maskFolder = layoutFolder.appendingPathComponent("masks")
            do {
                try fileManager.createDirectory(at: imageFolder, withIntermediateDirectories: true)
                if layout == .segmentation { try fileManager.createDirectory(at: maskFolder, withIntermediateDirectories: true) }
            } catch {
                throw DatasetError.writeFailed(path: imageFolder.path, reason: error.localizedDescription)
            }
            let descriptors = plan(layout)
            var failures = [Error?](repeating: nil, count: descriptors.count)
            let fast = configuration.fastCompression
            failures.withUnsafeMutableBufferPointer { failureSlots in
                let failureSlots = failureSlots
                parallelFor(descriptors.count) { i in
                    let slice = render(descriptors[i])
                    do {
                        try PNGEncoder.write(slice.image,
                                             to: imageFolder.appendingPathComponent(slice.descriptor.fileName), fast: fast)
                        if layout == .segmentation {
                            try PNGEncoder.write(slice.mask, to: maskFolder.appendingPathComponent(slice.descriptor.fileName),
                                                 fast: fast)
                        }
                    } catch {
                        failureSlots[i] = error
                    }
                }
            }
            if let failure = failures.compactMap({ $0 }).first { throw failure }
            slices[layout.rawValue] = descriptors.count
            classSlices[layout.rawValue] = Dictionary(grouping: descriptors, by: { $0.label.name }).mapValues(\.count)
            scans[layout.rawValue] = Set(descriptors.map { "\($0.patient)/\($0.scan)" }).count
        }
        let manifest = SyntheticCTManifest(generator: "masknet-synthetic-ct", version: Self.version,
                                           configuration: configuration, slices: slices, classSlices: classSlices,
                                           scans: scans)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let url = folder.appendingPathComponent("manifest.json")
        do {
            try encoder.encode(manifest).write(to: url, options: .atomic)
        } catch {
            throw DatasetError.writeFailed(path: url.path, reason: error.localizedDescription)
        }
        return manifest
    }
}
