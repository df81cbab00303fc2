import Foundation

/// Lists the image files of a data folder, sorted, with the checks every layout needs.
enum FolderListing {
    static let imageExtensions: Set<String> = ["png", "jpg", "jpeg"]

    /// Sorted names of the image files directly in `folder` (hidden files skipped). Throws if the folder is
    /// missing or empty, or holds non-image files.
    static func imageNames(in folder: URL) throws -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw DatasetError.missingFolder(path: folder.path)
        }
        let entries: [String]
        do {
            entries = try FileManager.default.contentsOfDirectory(atPath: folder.path)
        } catch {
            throw DatasetError.missingFolder(path: folder.path)
        }
        var images: [String] = [], others: [String] = []
        for name in entries where !name.hasPrefix(".") {
            if imageExtensions.contains((name as NSString).pathExtension.lowercased()) {
                images.append(name)
            } else {
                others.append(name)
            }
        }
        guard others.isEmpty else { throw DatasetError.unexpectedFiles(folder: folder.path, names: others.sorted()) }
        guard !images.isEmpty else { throw DatasetError.emptyFolder(path: folder.path) }
        return images.sorted()
    }

    /// The basename without extension.
    static func stem(_ name: String) -> String { (name as NSString).deletingPathExtension }

    /// Map from stem to file name; throws if two files share a stem.
    static func byStem(_ names: [String], folder: URL) throws -> [String: String] {
        var map: [String: String] = [:]
        var duplicates: Set<String> = []
        for name in names {
            let key = stem(name)
            if let other = map[key] { duplicates.insert(other); duplicates.insert(name) } else { map[key] = name }
        }
        guard duplicates.isEmpty else { throw DatasetError.duplicateNames(folder: folder.path, names: duplicates.sorted()) }
        return map
    }
}
