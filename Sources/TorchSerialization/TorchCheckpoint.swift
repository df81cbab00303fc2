import Foundation
import ZIPFoundation

/// A file written by `torch.save`, read without executing it: the unpickled object (`root`) with its
/// tensors' storages attached.
///
/// Two containers are understood:
/// * **zip** (torch ≥ 1.6): entries `<prefix>/data.pkl` (the object pickle), `<prefix>/data/<key>` (raw
///   little-endian storages, one per key), `<prefix>/byteorder` and `<prefix>/version`; the prefix is
///   `archive` for recent versions and the file's stem for early ones. Read with ZIPFoundation.
/// * **legacy** (`_use_new_zipfile_serialization=False`, and every torch before 1.6): five pickles in a
///   row — the magic number 0x1950a86a20f9469cfc6c, the protocol version 1001, a sys-info dict, the object,
///   the list of storage keys — followed for each key by its element count (int64 LE) and raw bytes.
///
/// Persistent ids are `('storage', torch.<Type>Storage, key, location, numel)` (legacy: plus a view entry
/// that torch ≥ 0.4 always leaves `None`); `location` is ignored (everything is read to the CPU).
public struct TorchCheckpoint: Sendable {
    /// Which container the file uses.
    public enum Format: String, Sendable {
        case zip, legacy
    }

    /// The container.
    public var format: Format
    /// The object `torch.load` would return, as inert values.
    public var root: PickleValue
    /// The file (or description) it was read from.
    public var source: String

    static let legacyMagic: [UInt8] = [0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19] // 0x1950a86a20f9469cfc6c LE
    static let legacyProtocolVersion: Int64 = 1001

    /// Whether `prefix` (the first bytes of a file) starts like a `torch.save` file of either format.
    public static func looksLikeCheckpoint(_ prefix: Data) -> Bool {
        let head = Array(prefix.prefix(4))
        return head == [0x50, 0x4b, 0x03, 0x04] || head == [0x80, 0x02, 0x8a, 0x0a]
    }

    /// Reads `url`; every failure is a `TorchCheckpointError` naming the file.
    public static func read(_ url: URL, limits: PickleLimits = .init()) throws -> TorchCheckpoint {
        let path = url.path
        guard FileManager.default.fileExists(atPath: path) else {
            throw TorchCheckpointError(file: path, part: "file", offset: 0, reason: "no such file; check the path")
        }
        let data: Data
        do {
            data = try Data(contentsOf: url, options: .mappedIfSafe)
        } catch {
            throw TorchCheckpointError(file: path, part: "file", offset: 0, reason: "cannot be read (\(error.localizedDescription))")
        }
        if Array(data.prefix(4)) == zipMagic {
            if let problem = ZipBoundsCheck.problem(in: data) {
                throw TorchCheckpointError(file: path, part: "zip container", offset: problem.offset, reason: problem.reason)
            }
            return try ZipContainer(url: url, fileSize: data.count, source: path, limits: limits).read()
        }
        return try decode(data, source: path, limits: limits)
    }

    static let zipMagic: [UInt8] = [0x50, 0x4b, 0x03, 0x04]

    /// Parses the bytes of a `torch.save` file; `source` names them in errors.
    public static func decode(_ data: Data, source: String, limits: PickleLimits = .init()) throws -> TorchCheckpoint {
        let head = Array(data.prefix(4))
        if head == zipMagic {
            if let problem = ZipBoundsCheck.problem(in: data) {
                throw TorchCheckpointError(file: source, part: "zip container", offset: problem.offset, reason: problem.reason)
            }
            // ZIPFoundation's in-memory archives trap on offsets past the end of the data (found by fuzzing:
            // Fuzz/Regressions/pth/zip-offset-past-end), while its file-backed archives get a short read and
            // an error; so in-memory bytes are read through a temporary file.
            let temporary = FileManager.default.temporaryDirectory
                .appendingPathComponent("masknet-pth-\(ProcessInfo.processInfo.globallyUniqueString).zip")
            do {
                try data.write(to: temporary)
            } catch {
                throw TorchCheckpointError(file: source, part: "file", offset: 0,
                                           reason: "cannot stage the archive in \(temporary.path) (\(error.localizedDescription))")
            }
            defer { try? FileManager.default.removeItem(at: temporary) }
            return try ZipContainer(url: temporary, fileSize: data.count, source: source, limits: limits).read()
        }
        if head.first == 0x80 {
            return try decodeLegacy(data, source: source, limits: limits)
        }
        throw TorchCheckpointError(
            file: source, part: "file", offset: 0,
            reason: "neither a zip archive nor a legacy pickle stream; this is not a file written by torch.save")
    }

    // MARK: Legacy stream

    private static func decodeLegacy(_ data: Data, source: String, limits: PickleLimits) throws -> TorchCheckpoint {
        var storages: [String: TorchStorage] = [:]
        var declaredBytes = 0
        let resolve: Unpickler.StorageResolver = { id in
            let storage = try storageReference(id, existing: storages, legacy: true)
            if storages[storage.key] == nil {
                declaredBytes += storage.elementCount * storage.dtype.elementSize
                guard declaredBytes <= limits.maximumStorageBytes else {
                    throw PersistentIDError(reason: "storages declare more than \(limits.maximumStorageBytes) bytes (PickleLimits.maximumStorageBytes)")
                }
                storages[storage.key] = storage
            }
            return storages[storage.key]!
        }
        let noStorages: Unpickler.StorageResolver = { _ in
            throw PersistentIDError(reason: "a storage reference outside the object pickle")
        }
        return try data.withUnsafeBytes { raw -> TorchCheckpoint in
            var position = 0
            func pickle(_ part: String, _ resolver: @escaping Unpickler.StorageResolver) throws -> PickleValue {
                do {
                    let (value, end) = try Unpickler.load(raw, from: position, limits: limits, resolveStorage: resolver)
                    position = end
                    return value
                } catch let error as PickleError {
                    throw TorchCheckpointError(file: source, part: "legacy stream (\(part))", offset: error.offset, reason: error.reason)
                }
            }
            func fail(_ part: String, _ offset: Int, _ reason: String) -> TorchCheckpointError {
                TorchCheckpointError(file: source, part: "legacy stream (\(part))", offset: offset, reason: reason)
            }
            let magic = try pickle("magic number", noStorages)
            guard magic == .largeInteger(legacyMagic) else {
                throw fail("magic number", 0, "the first pickle is not torch's magic number 0x1950a86a20f9469cfc6c; not a torch.save file")
            }
            let versionOffset = position
            guard case .integer(let version) = try pickle("protocol version", noStorages), version == legacyProtocolVersion else {
                throw fail("protocol version", versionOffset, "unsupported torch serialization protocol (expected 1001)")
            }
            let infoOffset = position
            let info = try pickle("sys info", noStorages)
            if let littleEndian = info["little_endian"], littleEndian == .bool(false) {
                throw fail("sys info", infoOffset, "the file was written on a big-endian machine, which is not supported")
            }
            let root = try pickle("object", resolve)
            let keysOffset = position
            guard let keyValues = try pickle("storage keys", noStorages).elements else {
                throw fail("storage keys", keysOffset, "the storage key list is not a list")
            }
            var filled = Set<String>()
            for keyValue in keyValues {
                let recordOffset = position
                guard case .string(let key) = keyValue else { throw fail("storage keys", keysOffset, "a storage key is not a string") }
                guard let storage = storages[key] else {
                    throw fail("storage \(key)", recordOffset, "storage \(key) is listed but no tensor uses it")
                }
                guard !filled.contains(key) else { throw fail("storage \(key)", recordOffset, "storage \(key) is listed twice") }
                guard raw.count - position >= 8 else { throw fail("storage \(key)", recordOffset, "the file ends before the storage's size") }
                var count: UInt64 = 0
                for i in 0..<8 { count |= UInt64(raw[position + i]) << (8 * UInt64(i)) }
                position += 8
                guard count == UInt64(storage.elementCount) else {
                    throw fail("storage \(key)", recordOffset,
                               "the record holds \(count) elements but the pickle declares \(storage.elementCount)")
                }
                let byteCount = storage.elementCount * storage.dtype.elementSize
                guard raw.count - position >= byteCount else {
                    throw fail("storage \(key)", recordOffset,
                               "needs \(byteCount) bytes but only \(raw.count - position) remain; the file is truncated")
                }
                storage.bytes = Data(raw[position..<(position + byteCount)])
                position += byteCount
                filled.insert(key)
            }
            if let missing = storages.keys.sorted().first(where: { !filled.contains($0) }) {
                throw fail("storage keys", keysOffset, "storage \(missing) is used by a tensor but its bytes are not in the file")
            }
            return TorchCheckpoint(format: .legacy, root: root, source: source)
        }
    }

    /// The storage a persistent id names (bytes not yet attached).
    static func storageReference(_ id: PickleValue, existing: [String: TorchStorage], legacy: Bool) throws -> TorchStorage {
        guard let parts = id.elements, parts.count >= 5, parts[0] == .string("storage") else {
            throw PersistentIDError(reason: "persistent id \(id.kindDescription) is not a ('storage', type, key, location, size) tuple")
        }
        guard case .global(let typeName) = parts[1], let dtype = TorchDType(storageClass: typeName) else {
            throw PersistentIDError(reason: "storage type \(parts[1].kindDescription) is not a supported torch storage class")
        }
        guard case .string(let key) = parts[2] else { throw PersistentIDError(reason: "storage key is not a string") }
        guard case .integer(let declared) = parts[4], declared >= 0, declared <= Int64(Int.max / 8) else {
            throw PersistentIDError(reason: "storage \(key) has no valid element count")
        }
        if legacy, parts.count >= 6, parts[5] != .none {
            throw PersistentIDError(reason: "storage \(key) is a storage view, which only torch before 0.4 wrote; load and save it with a newer torch")
        }
        if let storage = existing[key] {
            guard storage.dtype == dtype, storage.elementCount == Int(declared) else {
                throw PersistentIDError(reason: "storage \(key) is declared twice with different types or sizes")
            }
            return storage
        }
        return TorchStorage(key: key, dtype: dtype, elementCount: Int(declared))
    }
}

/// The zip container (torch ≥ 1.6), read through ZIPFoundation.
private struct ZipContainer {
    let url: URL
    let fileSize: Int
    let source: String
    let limits: PickleLimits

    func fail(_ part: String, _ offset: Int = 0, _ reason: String) -> TorchCheckpointError {
        TorchCheckpointError(file: source, part: part, offset: offset, reason: reason)
    }

    /// The bytes of one entry, refusing entries that declare more than `maximum` bytes or expand past
    /// what they declare.
    func contents(of entry: Entry, in archive: Archive, maximum: Int) throws -> Data {
        guard entry.type == .file else { throw fail(entry.path, 0, "is not a regular file entry") }
        guard entry.uncompressedSize <= UInt64(maximum) else {
            throw fail(entry.path, 0, "declares \(entry.uncompressedSize) bytes, more than the \(maximum) it may have")
        }
        // A stored entry cannot be larger than the archive; a deflated one is capped by its declared size.
        if !entry.isCompressed, entry.uncompressedSize > UInt64(fileSize) {
            throw fail(entry.path, 0, "declares \(entry.uncompressedSize) bytes but the archive has only \(fileSize)")
        }
        var result = Data()
        result.reserveCapacity(Int(entry.uncompressedSize))
        do {
            _ = try archive.extract(entry, skipCRC32: false) { chunk in
                guard result.count + chunk.count <= Int(entry.uncompressedSize) else {
                    throw TorchCheckpointError(file: source, part: entry.path, offset: result.count,
                                               reason: "expands beyond its declared \(entry.uncompressedSize) bytes")
                }
                result.append(chunk)
            }
        } catch let error as TorchCheckpointError {
            throw error
        } catch {
            throw fail(entry.path, result.count, "cannot be extracted (\(error)); the archive is damaged")
        }
        guard result.count == Int(entry.uncompressedSize) else {
            throw fail(entry.path, result.count, "holds \(result.count) bytes but declares \(entry.uncompressedSize); the archive is damaged")
        }
        return result
    }

    func read() throws -> TorchCheckpoint {
        let archive: Archive
        do {
            archive = try Archive(url: url, accessMode: .read)
        } catch {
            throw fail("zip container", 0, "not a readable zip archive (\(error)); the file is damaged or truncated")
        }
        var entries: [String: Entry] = [:]
        for entry in archive {
            entries[entry.path] = entry
            guard entries.count <= 1_000_000 else { throw fail("zip container", 0, "more than a million entries") }
        }
        let pickles = entries.keys.filter { $0.hasSuffix("data.pkl") && $0.split(separator: "/").count == 2 }.sorted()
        guard pickles.count == 1, let picklePath = pickles.first else {
            throw fail("zip container", 0, pickles.isEmpty
                ? "no <name>/data.pkl entry; a zip file, but not one written by torch.save"
                : "several data.pkl entries (\(pickles.joined(separator: ", ")))")
        }
        let prefix = String(picklePath.dropLast("data.pkl".count))
        if let byteOrderEntry = entries[prefix + "byteorder"] {
            let order = try contents(of: byteOrderEntry, in: archive, maximum: 16)
            if order != Data("little".utf8) {
                throw fail(byteOrderEntry.path, 0, "byte order '\(String(decoding: order, as: UTF8.self))' is not supported (only little-endian)")
            }
        }
        let pickleBytes = try contents(of: entries[picklePath]!, in: archive, maximum: 1 << 30)

        var storages: [String: TorchStorage] = [:]
        var loadedBytes = 0
        let resolve: Unpickler.StorageResolver = { id in
            let storage = try TorchCheckpoint.storageReference(id, existing: storages, legacy: false)
            if storages[storage.key] != nil { return storage }
            let path = prefix + "data/" + storage.key
            guard let entry = entries[path] else {
                throw PersistentIDError(reason: "storage \(storage.key) has no entry \(path) in the archive")
            }
            let byteCount = storage.elementCount * storage.dtype.elementSize
            guard entry.uncompressedSize == UInt64(byteCount) else {
                throw PersistentIDError(reason: "entry \(path) holds \(entry.uncompressedSize) bytes but storage "
                    + "\(storage.key) declares \(storage.elementCount) \(storage.dtype.rawValue) elements (\(byteCount) bytes)")
            }
            loadedBytes += byteCount
            guard loadedBytes <= limits.maximumStorageBytes else {
                throw PersistentIDError(reason: "storages hold more than \(limits.maximumStorageBytes) bytes (PickleLimits.maximumStorageBytes)")
            }
            storage.bytes = try contents(of: entry, in: archive, maximum: byteCount)
            storages[storage.key] = storage
            return storage
        }
        let root: PickleValue
        do {
            root = try pickleBytes.withUnsafeBytes { raw in
                try Unpickler.load(raw, from: 0, limits: limits, resolveStorage: resolve).value
            }
        } catch let error as PickleError {
            throw fail(picklePath, error.offset, error.reason)
        }
        return TorchCheckpoint(format: .zip, root: root, source: source)
    }
}


/// Checks, before ZIPFoundation sees an archive, that every offset and size its central directory gives
/// (zip64 fields included) points inside the file. ZIPFoundation trusts them: fuzzing found it trapping on
/// an offset of 2^63 or more (`off_t(offset)`, Fuzz/Regressions/pth/zip64-offset-beyond-int64) and reading
/// past the end of in-memory data (zip-offset-past-end). This is a bounds check only; ZIPFoundation still
/// does all the reading.
enum ZipBoundsCheck {
    private static func u16(_ raw: UnsafeRawBufferPointer, _ at: Int) -> Int { Int(raw[at]) | Int(raw[at + 1]) << 8 }
    private static func u32(_ raw: UnsafeRawBufferPointer, _ at: Int) -> UInt64 {
        (0..<4).reduce(UInt64(0)) { $0 | UInt64(raw[at + $1]) << (8 * UInt64($1)) }
    }
    private static func u64(_ raw: UnsafeRawBufferPointer, _ at: Int) -> UInt64 {
        (0..<8).reduce(UInt64(0)) { $0 | UInt64(raw[at + $1]) << (8 * UInt64($1)) }
    }

    /// Whether `length` bytes at `offset` lie inside a file of `size` bytes. Written without `size - length`,
    /// which traps below zero: fuzzing found a 53-byte archive whose zip64 locator made that 53 − 56
    /// (Fuzz/Regressions/pth/zip64-locator-in-a-file-shorter-than-its-record).
    private static func fits(_ offset: UInt64, _ length: UInt64, in size: Int) -> Bool {
        UInt64(size) >= length && offset <= UInt64(size) - length
    }

    /// Nil if the layout is inside the file, else what is wrong and where.
    static func problem(in data: Data) -> (offset: Int, reason: String)? {
        data.withUnsafeBytes { raw -> (Int, String)? in
            let size = raw.count
            // End of central directory: 22 bytes plus a comment of up to 65,535 bytes, at the end.
            guard size >= 22 else { return (0, "too short for a zip archive") }
            var eocd = -1
            var position = size - 22
            while position >= max(0, size - 22 - 65_535) {
                if u32(raw, position) == 0x0605_4b50 { eocd = position; break }
                position -= 1
            }
            guard eocd >= 0 else { return (size, "no end-of-central-directory record; the archive is truncated") }
            var entries = UInt64(u16(raw, eocd + 10)), directorySize = u32(raw, eocd + 12), directoryOffset = u32(raw, eocd + 16)
            let locator = eocd - 20
            let hasZip64 = locator >= 0 && u32(raw, locator) == 0x0706_4b50
            if entries == 0xFFFF || directorySize == 0xFFFF_FFFF || directoryOffset == 0xFFFF_FFFF || hasZip64 {
                // zip64 (torch writes it for every archive): the locator just before the record gives the zip64
                // end-of-central-directory record, whose values ZIPFoundation uses whenever it is present.
                guard hasZip64 else { return (eocd, "zip64 fields without a zip64 locator") }
                let record = u64(raw, locator + 8)
                guard fits(record, 56, in: size), u32(raw, Int(record)) == 0x0606_4b50 else {
                    return (locator, "zip64 end-of-central-directory record at \(record) is outside the file")
                }
                entries = u64(raw, Int(record) + 32)
                directorySize = u64(raw, Int(record) + 40)
                directoryOffset = u64(raw, Int(record) + 48)
            }
            guard directoryOffset <= UInt64(size), directorySize <= UInt64(size) - directoryOffset else {
                return (eocd, "central directory (offset \(directoryOffset), \(directorySize) bytes) is outside the file")
            }
            guard entries <= directorySize / 46 else { return (eocd, "\(entries) entries cannot fit a \(directorySize)-byte directory") }
            var at = Int(directoryOffset)
            let end = Int(directoryOffset + directorySize)
            for _ in 0..<entries {
                guard at + 46 <= end, u32(raw, at) == 0x0201_4b50 else { return (at, "damaged central directory entry") }
                var compressed = u32(raw, at + 20), uncompressed = u32(raw, at + 24), local = u32(raw, at + 42)
                let nameLength = u16(raw, at + 28), extraLength = u16(raw, at + 30), commentLength = u16(raw, at + 32)
                let extraStart = at + 46 + nameLength
                guard extraStart + extraLength + commentLength <= end else { return (at, "central directory entry overruns the directory") }
                // The zip64 extended-information field replaces the 32-bit values that are 0xFFFFFFFF, in order.
                var field = extraStart
                while field + 4 <= extraStart + extraLength {
                    let id = u16(raw, field), length = u16(raw, field + 2)
                    guard field + 4 + length <= extraStart + extraLength else { return (field, "extra field overruns its entry") }
                    if id == 0x0001 {
                        var value = field + 4
                        for slot in 0..<3 {
                            let current = slot == 0 ? uncompressed : slot == 1 ? compressed : local
                            guard current == 0xFFFF_FFFF else { continue }
                            guard value + 8 <= field + 4 + length else { return (field, "zip64 field too short") }
                            let wide = u64(raw, value)
                            if slot == 0 { uncompressed = wide } else if slot == 1 { compressed = wide } else { local = wide }
                            value += 8
                        }
                    }
                    field += 4 + length
                }
                guard fits(local, 30, in: size), u32(raw, Int(local)) == 0x0403_4b50 else {
                    return (at, "local header offset \(local) is outside the file or not a local header")
                }
                let dataStart = UInt64(local) + 30 + UInt64(u16(raw, Int(local) + 26)) + UInt64(u16(raw, Int(local) + 28))
                guard dataStart <= UInt64(size), compressed <= UInt64(size) - dataStart else {
                    return (Int(local), "entry data (\(compressed) bytes from \(dataStart)) extends past the end of the file")
                }
                guard uncompressed < UInt64(Int64.max) else { return (at, "entry size \(uncompressed) is not representable") }
                at = extraStart + extraLength + commentLength
            }
            return nil
        }
    }
}
