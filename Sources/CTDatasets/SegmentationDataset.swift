import Foundation
import ImageIO
import TensorCore

/// One slice of the segmentation layout with its lesion instances (spec §1.1.4).
public struct SegmentationSample: Sendable {
    /// The image file.
    public let imageURL: URL
    /// The mask file.
    public let maskURL: URL
    /// The model input `[3, H, W]` in [0, 1] (grey replicated).
    public let image: Tensor
    /// Lesion instances, ordered by class then component label.
    public let instances: [LesionInstance]

    /// The image's file name (e.g. `12_34.jpg`).
    public var name: String { imageURL.lastPathComponent }
    /// Rows.
    public var height: Int { image.shape[1] }
    /// Columns.
    public var width: Int { image.shape[2] }
    /// `[K, 4]` boxes `[x1, y1, x2, y2]`, half-open pixel extents; `[0, 4]` when there are no lesions
    /// (the original gave shape `[0]`; a fixed rank is easier to consume).
    public var boxes: Tensor { Tensor(shape: [instances.count, 4], scalars: instances.flatMap(\.box)) }
    /// `[K]` class labels (1-based).
    public var labels: [Int] { instances.map(\.label) }
    /// `[K, H, W]` binary instance masks (0 or 1).
    public var masks: Tensor {
        Tensor(shape: [instances.count, height, width], scalars: instances.flatMap { $0.mask.map(Float.init) })
    }
}

/// The CNCB lesion-segmentation layout (spec §1.1): `root/imgs/*` and `root/masks/*`, paired by basename.
///
/// Construction lists and checks the folders (pairing, duplicates, split membership) but decodes nothing;
/// `sample(at:)` decodes one slice. Call `validate()` to check every size and mask value up front.
public struct SegmentationDataset: Sendable {
    /// The layout folder holding `imgs/` and `masks/`.
    public let root: URL
    /// The image folder.
    public let imagesFolder: URL
    /// The mask folder.
    public let masksFolder: URL
    /// How masks become instances.
    public let extraction: InstanceExtraction
    /// Image file names in data-set order (sorted, or the split file's order).
    public let imageNames: [String]
    /// Mask file names, parallel to `imageNames`.
    public let maskNames: [String]

    /// Opens `root/imagesFolder` and `root/masksFolder` and pairs them by basename.
    ///
    /// - Parameters:
    ///   - split: image file names to use (e.g. read with `DatasetSplit.read`), in that order; every one must
    ///     exist, or the error lists all missing names. `nil` uses every image, sorted.
    ///   - areaThreshold: components of at most this many pixels are dropped (strict `>`; default 100).
    /// - Throws: `DatasetError` for missing/empty folders, non-image files, duplicate basenames, unpaired files
    ///   (listing all of them) and names in `split` that are not on disk.
    public init(root: URL, maskType: MaskType = .both, areaThreshold: Int = 100, connectivity: Connectivity = .eight,
                imagesFolderName: String = "imgs", masksFolderName: String = "masks", split: [String]? = nil,
                splitFile: String = "<split>") throws {
        self.root = root
        imagesFolder = root.appendingPathComponent(imagesFolderName)
        masksFolder = root.appendingPathComponent(masksFolderName)
        extraction = InstanceExtraction(maskType: maskType, areaThreshold: areaThreshold, connectivity: connectivity)
        let images = try FolderListing.imageNames(in: imagesFolder)
        let masks = try FolderListing.imageNames(in: masksFolder)
        let imageByStem = try FolderListing.byStem(images, folder: imagesFolder)
        let maskByStem = try FolderListing.byStem(masks, folder: masksFolder)
        let withoutMask = images.filter { maskByStem[FolderListing.stem($0)] == nil }
        let withoutImage = masks.filter { imageByStem[FolderListing.stem($0)] == nil }
        guard withoutMask.isEmpty && withoutImage.isEmpty else {
            throw DatasetError.unpairedFiles(imagesFolder: imagesFolder.path, masksFolder: masksFolder.path,
                                             imagesWithoutMask: withoutMask, masksWithoutImage: withoutImage)
        }
        var selected = images
        if let split {
            let onDisk = Set(images)
            let missing = split.filter { !onDisk.contains($0) }
            guard missing.isEmpty else {
                throw DatasetError.missingSplitNames(splitFile: splitFile, folder: imagesFolder.path, names: missing)
            }
            selected = split
        }
        imageNames = selected
        maskNames = selected.map { maskByStem[FolderListing.stem($0)]! }
    }

    /// Number of slices.
    public var count: Int { imageNames.count }

    /// The image and mask files of slice `index`.
    public func files(at index: Int) -> (image: URL, mask: URL) {
        (imagesFolder.appendingPathComponent(imageNames[index]), masksFolder.appendingPathComponent(maskNames[index]))
    }

    /// Decodes slice `index`: the image as a `[3, H, W]` tensor and the mask's lesion instances.
    /// Throws `ImageIOError` for unreadable files and `DatasetError` for bad mask values or a size mismatch.
    public func sample(at index: Int) throws -> SegmentationSample {
        precondition(index >= 0 && index < count, "sample index \(index) outside 0..<\(count)")
        let (imageURL, maskURL) = files(at: index)
        let image = try ImageDecoder.decode(contentsOf: imageURL)
        let mask = try ImageDecoder.decodeLabels(contentsOf: maskURL)
        guard image.width == mask.width && image.height == mask.height else {
            throw DatasetError.sizeMismatch(imagePath: imageURL.path, maskPath: maskURL.path,
                                            imageSize: "\(image.width)x\(image.height)",
                                            maskSize: "\(mask.width)x\(mask.height)")
        }
        let instances = try extraction.instances(of: mask, path: maskURL.path)
        return SegmentationSample(imageURL: imageURL, maskURL: maskURL, image: image.modelInput(), instances: instances)
    }

    /// Checks every slice before any work starts: both files decode, sizes match, mask values are in 0...3.
    /// Reads image headers only; decodes every mask once and extracts its instances, so the caller learns
    /// which slices have a lesion without decoding anything again. Throws one `DatasetError.problems`
    /// listing every problem.
    /// - Returns: the number of slices with at least one lesion instance above the area threshold.
    @discardableResult
    public func validate() throws -> Int {
        var problems = [String?](repeating: nil, count: count)
        var hasLesion = [Bool](repeating: false, count: count)
        problems.withUnsafeMutableBufferPointer { slots in
            hasLesion.withUnsafeMutableBufferPointer { lesionSlots in
                let (slots, lesionSlots) = (slots, lesionSlots)
                parallelFor(count) { index in
                    let (imageURL, maskURL) = files(at: index)
                    do {
                        let info = try ImageDecoder.info(contentsOf: imageURL)
                        let mask = try ImageDecoder.decodeLabels(contentsOf: maskURL)
                        if info.width != mask.width || info.height != mask.height {
                            throw DatasetError.sizeMismatch(imagePath: imageURL.path, maskPath: maskURL.path,
                                                            imageSize: "\(info.width)x\(info.height)",
                                                            maskSize: "\(mask.width)x\(mask.height)")
                        }
                        let unknown = Set(mask.values.filter { $0 > 3 }).sorted().map(Int.init)
                        if !unknown.isEmpty { throw DatasetError.unknownMaskValues(path: maskURL.path, values: unknown) }
                        lesionSlots[index] = !(try extraction.instances(of: mask, path: maskURL.path)).isEmpty
                    } catch {
                        slots[index] = "\(error)"
                    }
                }
            }
        }
        let lines = problems.compactMap { $0 }
        guard lines.isEmpty else { throw DatasetError.problems(folder: root.path, lines: lines) }
        return hasLesion.filter { $0 }.count
    }
}
