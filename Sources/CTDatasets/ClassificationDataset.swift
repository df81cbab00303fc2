import Foundation
import ImageIO
import TensorCore

/// The three image classes of COVIDx-CT (spec §1.3); the raw value is the class id in file names.
public enum CTClass: Int, Sendable, CaseIterable, Codable, Comparable {
    /// Normal control.
    case control = 0
    /// Common pneumonia (CP).
    case commonPneumonia = 1
    /// COVID-19 (NCP).
    case covid19 = 2

    /// Short display name.
    public var name: String { ["Control", "CP", "COVID-19"][rawValue] }

    /// Orders classes by id.
    public static func < (a: CTClass, b: CTClass) -> Bool { a.rawValue < b.rawValue }
}

/// A parsed COVIDx-CT slice name `[Class]_[PatientID]_[ScanNum]_[SliceNum].ext`, e.g. `0_1728_1013_0023.png`.
public struct COVIDxSliceName: Sendable, Hashable {
    /// The naming rule, for error messages.
    public static let convention = "[Class]_[PatientID]_[ScanNum]_[SliceNum].png with Class 0, 1 or 2"

    /// The label (the integer before the first underscore).
    public let label: CTClass
    /// Patient id as written (zero padding kept).
    public let patient: String
    /// Scan number as written.
    public let scan: String
    /// Slice number as written.
    public let slice: String

    /// Parses a file name; `nil` if it does not follow the convention.
    public init?(_ fileName: String) {
        let parts = FolderListing.stem(fileName).split(separator: "_", omittingEmptySubsequences: false)
        guard parts.count == 4, let raw = Int(parts[0]), let label = CTClass(rawValue: raw),
              parts[1...].allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" } })
        else { return nil }
        self.label = label
        patient = String(parts[1])
        scan = String(parts[2])
        slice = String(parts[3])
    }

    /// A name from its parts; `slice` is zero-padded to 4 digits as in the split file.
    public init(label: CTClass, patient: String, scan: String, slice: Int) {
        self.label = label
        self.patient = patient
        self.scan = scan
        self.slice = String(format: "%04d", slice)
    }

    /// The file name with the given extension.
    public func fileName(extension ext: String = "png") -> String { "\(label.rawValue)_\(patient)_\(scan)_\(slice).\(ext)" }
}

/// How the classification loader resizes images before making the model input.
public enum ClassificationResize: Sendable, Equatable {
    /// Keep the file's size (the model transform then resizes, spec Appendix D/B18).
    case none
    /// PIL bilinear to exactly `width × height`, ignoring aspect ratio (the original training loader).
    case exact(width: Int, height: Int)
    /// PIL bilinear with the shorter side scaled to `size`, keeping aspect ratio (the original evaluation).
    case shorterSide(Int)
}

/// One classification slice.
public struct ClassificationSample: Sendable {
    /// The file.
    public let url: URL
    /// Its parsed name.
    public let sliceName: COVIDxSliceName
    /// The model input `[3, H, W]` in [0, 1].
    public let image: Tensor

    /// The class.
    public var label: CTClass { sliceName.label }
    /// The one-hot float target of length 3 used by the original loss.
    public var oneHot: [Float] { CTClass.allCases.map { $0 == label ? 1 : 0 } }
}

/// A folder of COVIDx-CT named slices (spec §1.3): every image file, sorted, labelled by its name.
public struct ClassificationDataset: Sendable {
    /// The folder.
    public let folder: URL
    /// File names in data-set order (sorted, or the split file's order).
    public let names: [String]
    /// Parsed names, parallel to `names`.
    public let sliceNames: [COVIDxSliceName]
    /// Resize policy applied in `sample(at:)`.
    public let resize: ClassificationResize

    /// Opens `folder`. Every file name must parse (the error lists all that do not) and basenames must be
    /// unique; with `split`, only those names are used, in that order, and every one must exist (the error
    /// lists all missing names).
    public init(folder: URL, split: [String]? = nil, splitFile: String = "<split>",
                resize: ClassificationResize = .none) throws {
        self.folder = folder
        self.resize = resize
        let onDisk = try FolderListing.imageNames(in: folder)
        _ = try FolderListing.byStem(onDisk, folder: folder)   // `a.png` next to `a.jpg` is ambiguous
        let parsed = onDisk.map { COVIDxSliceName($0) }
        let bad = zip(onDisk, parsed).filter { $0.1 == nil }.map(\.0)
        guard bad.isEmpty else {
            throw DatasetError.unparsableNames(folder: folder.path, names: bad, expected: COVIDxSliceName.convention)
        }
        if let split {
            let present = Set(onDisk)
            let missing = split.filter { !present.contains($0) }
            guard missing.isEmpty else {
                throw DatasetError.missingSplitNames(splitFile: splitFile, folder: folder.path, names: missing)
            }
            names = split
            sliceNames = split.map { COVIDxSliceName($0)! }
        } else {
            names = onDisk
            sliceNames = parsed.map { $0! }
        }
    }

    /// Number of slices.
    public var count: Int { names.count }

    /// Slices per class.
    public var classCounts: [CTClass: Int] {
        Dictionary(grouping: sliceNames, by: \.label).mapValues(\.count)
    }

    /// Decodes slice `index` (RGB policy, then the resize policy). Throws `ImageIOError` naming the file.
    public func sample(at index: Int) throws -> ClassificationSample {
        precondition(index >= 0 && index < count, "sample index \(index) outside 0..<\(count)")
        let url = folder.appendingPathComponent(names[index])
        let image = try ImageDecoder.decode(contentsOf: url).rgb()
        let target: (width: Int, height: Int)
        switch resize {
        case .none:
            target = (image.width, image.height)
        case .exact(let width, let height):
            target = (width, height)
        case .shorterSide(let size):
            // torchvision Resize(int): the shorter side becomes `size`, the longer int(size * long / short).
            target = image.width <= image.height
                ? (size, Int(Double(size) * Double(image.height) / Double(image.width)))
                : (Int(Double(size) * Double(image.width) / Double(image.height)), size)
        }
        guard target.width != image.width || target.height != image.height else {
            return ClassificationSample(url: url, sliceName: sliceNames[index], image: image.modelInput())
        }
        // The original resized 8-bit PIL images; quantising back to 8 bits is lossless for 8-bit files, and
        // PIL's fixed-point resampler then gives the original's exact pixels.
        let resized = ImageResampling.pilBilinear(bytes: image.quantized(), width: image.width, height: image.height,
                                                  channels: 3, outputWidth: target.width, outputHeight: target.height)
        let output = Image(width: target.width, height: target.height, channels: 3, bytes: resized)
        return ClassificationSample(url: url, sliceName: sliceNames[index], image: output.modelInput())
    }
}
