import Crypto
import Foundation

/// Fingerprints of files outside the store, for `StageKind.externalState`.
///
/// A fingerprint lists every regular file under the given paths with its relative path, size and
/// modification time, and hashes the list: cheap enough for folders of hundreds of thousands of slices,
/// and changed by any added, removed, resized or rewritten file. (Content hashing would cost a full read
/// of the data set on every plan.)
public enum ExternalState {
    public static func fingerprint(_ paths: [String]) -> JSONValue {
        var listing: [String] = []
        var fileCount = 0
        for path in paths {
            let url = URL(fileURLWithPath: path)
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
                listing.append("\(path)\tmissing")
                continue
            }
            if !isDirectory.boolValue {
                listing.append("\(path)\t\(describe(url))")
                fileCount += 1
                continue
            }
            let enumerator = FileManager.default.enumerator(at: url, includingPropertiesForKeys: [.isRegularFileKey])
            var entries: [String] = []
            while let file = enumerator?.nextObject() as? URL {
                guard (try? file.resourceValues(forKeys: [.isRegularFileKey]))?.isRegularFile == true else { continue }
                let relative = String(file.path.dropFirst(url.path.count))
                entries.append("\(path)\(relative)\t\(describe(file))")
            }
            fileCount += entries.count
            listing.append(contentsOf: entries.sorted())
        }
        let digest = SHA256.hash(data: Data(listing.joined(separator: "\n").utf8)).map { String(format: "%02x", $0) }.joined()
        return .object(["paths": .array(paths.map { .string($0) }), "files": .integer(fileCount), "listing_sha256": .string(digest)])
    }

    static func describe(_ url: URL) -> String {
        let attributes = (try? FileManager.default.attributesOfItem(atPath: url.path)) ?? [:]
        let size = (attributes[.size] as? NSNumber)?.intValue ?? -1
        let modified = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
        return "\(size)\t\(String(format: "%.6f", modified))"
    }
}
