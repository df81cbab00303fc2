import Foundation

/// A problem with a data folder, a split file or a mask; every case names the file(s) and says what to do.
public enum DatasetError: Error, Equatable, CustomStringConvertible, LocalizedError {
    /// A folder the layout needs does not exist.
    case missingFolder(path: String)
    /// A folder holds no image files.
    case emptyFolder(path: String)
    /// A folder holds files that are not PNG/JPEG images by extension.
    case unexpectedFiles(folder: String, names: [String])
    /// Two files in one folder share a basename (e.g. `a.jpg` and `a.png`), so pairing is ambiguous.
    case duplicateNames(folder: String, names: [String])
    /// Images without a mask of the same basename, and masks without an image.
    case unpairedFiles(imagesFolder: String, masksFolder: String, imagesWithoutMask: [String], masksWithoutImage: [String])
    /// A mask holds values other than 0 (background), 1 (lungs), 2 (GGO), 3 (consolidation).
    case unknownMaskValues(path: String, values: [Int])
    /// An image and its mask differ in size.
    case sizeMismatch(imagePath: String, maskPath: String, imageSize: String, maskSize: String)
    /// File names that do not follow `[Class]_[PatientID]_[ScanNum]_[SliceNum].png` (or `<scan>_<slice>.ext`).
    case unparsableNames(folder: String, names: [String], expected: String)
    /// Names listed in a split file that are not in the data folder.
    case missingSplitNames(splitFile: String, folder: String, names: [String])
    /// A split file lists a name twice.
    case duplicateSplitNames(splitFile: String, names: [String])
    /// A split file could not be read or written.
    case splitFileUnreadable(path: String, reason: String)
    /// Invalid split fractions (each must be positive and together they must sum to 1).
    case invalidFractions([Double])
    /// Several problems found by an up-front check, one line each.
    case problems(folder: String, lines: [String])
    /// An output folder or manifest could not be written.
    case writeFailed(path: String, reason: String)

    /// One line naming the file(s), the problem and what to do.
    public var description: String {
        func list(_ names: [String]) -> String {
            names.count <= 50 ? names.joined(separator: ", ")
                : names.prefix(50).joined(separator: ", ") + ", … (\(names.count) in all)"
        }
        switch self {
        case .missingFolder(let path):
            return "data folder '\(path)' does not exist; check the data path"
        case .emptyFolder(let path):
            return "data folder '\(path)' holds no PNG or JPEG images; check the data path"
        case .unexpectedFiles(let folder, let names):
            return "data folder '\(folder)' holds files that are not .png/.jpg images: \(list(names)); move them out"
        case .duplicateNames(let folder, let names):
            return "data folder '\(folder)' has several files with the same basename: \(list(names)); keep one of each"
        case .unpairedFiles(let images, let masks, let noMask, let noImage):
            var parts: [String] = []
            if !noMask.isEmpty { parts.append("images in '\(images)' without a mask in '\(masks)': \(list(noMask))") }
            if !noImage.isEmpty { parts.append("masks in '\(masks)' without an image in '\(images)': \(list(noImage))") }
            return "images and masks are paired by basename, and some are unpaired: " + parts.joined(separator: "; ")
                + "; add or remove the files so that every image has exactly one mask"
        case .unknownMaskValues(let path, let values):
            return "mask '\(path)' holds values \(values.map(String.init).joined(separator: ", ")) outside "
                + "0 (background), 1 (lungs), 2 (GGO), 3 (consolidation); fix the mask export"
        case .sizeMismatch(let image, let mask, let imageSize, let maskSize):
            return "image '\(image)' is \(imageSize) but its mask '\(mask)' is \(maskSize); they must match"
        case .unparsableNames(let folder, let names, let expected):
            return "file names in '\(folder)' do not follow \(expected): \(list(names)); rename them"
        case .missingSplitNames(let split, let folder, let names):
            return "split file '\(split)' lists \(names.count) name(s) missing from '\(folder)': \(names.joined(separator: ", "))"
        case .duplicateSplitNames(let split, let names):
            return "split file '\(split)' lists names more than once: \(list(names)); remove the duplicates"
        case .splitFileUnreadable(let path, let reason):
            return "split file '\(path)' cannot be read or written (\(reason)); check the path"
        case .invalidFractions(let fractions):
            return "split fractions \(fractions) are invalid: each must be > 0 and together they must sum to 1"
        case .problems(let folder, let lines):
            return "data folder '\(folder)' has \(lines.count) problem(s):\n  " + lines.joined(separator: "\n  ")
        case .writeFailed(let path, let reason):
            return "cannot write '\(path)' (\(reason)); check the output folder and free space"
        }
    }

    /// The same text as `description`, for `localizedDescription`.
    public var errorDescription: String? { description }
}
