import Foundation
import ZIPFoundation

/// Writes values as a `torch.save` zip archive (pickle protocol 2, stored entries `archive/data.pkl`,
/// `archive/data/<key>`, `archive/byteorder`, `archive/version`): the minimal writer the tests and fuzzing
/// corpora use to make checkpoints without Python. Tensors sharing a storage share it in the file.
///
/// Dictionaries are written as plain dicts; a `PickleObject` named `collections.OrderedDict` is written as
/// an OrderedDict of its `items`, any other object as `NEWOBJ` of its class followed by `BUILD` of its state.
public enum TorchCheckpointWriter {
    /// The archive bytes for `root`.
    public static func encode(_ root: PickleValue) throws -> Data {
        var pickle = PickleEmitter()
        pickle.bytes += [0x80, 0x02]
        pickle.emit(root)
        pickle.bytes.append(UInt8(ascii: "."))

        let archive = try Archive(accessMode: .create)
        func add(_ path: String, _ data: Data) throws {
            try archive.addEntry(with: path, type: .file, uncompressedSize: Int64(data.count), compressionMethod: .none,
                                 provider: { position, size in data.subdata(in: Int(position)..<(Int(position) + size)) })
        }
        try add("archive/data.pkl", Data(pickle.bytes))
        try add("archive/byteorder", Data("little".utf8))
        for (key, storage) in pickle.storages {
            try add("archive/data/\(key)", storage.bytes ?? Data())
        }
        try add("archive/version", Data("3\n".utf8))
        guard let data = archive.data else { throw CocoaError(.fileWriteUnknown) }
        return data
    }

    /// Writes `root` to `url` atomically (temporary file, then rename).
    public static func write(_ root: PickleValue, to url: URL) throws {
        let data = try encode(root)
        let temporary = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).tmp-\(ProcessInfo.processInfo.globallyUniqueString)")
        try data.write(to: temporary)
        if Foundation.rename(temporary.path, url.path) != 0 {
            try? FileManager.default.removeItem(at: temporary)
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: url.path])
        }
    }
}

/// Pickle protocol 2 opcodes for the values a checkpoint holds.
private struct PickleEmitter {
    var bytes: [UInt8] = []
    var storages: [(key: String, storage: TorchStorage)] = []
    var keys: [ObjectIdentifier: String] = [:]

    mutating func op(_ character: Character) { bytes.append(character.asciiValue!) }

    mutating func global(_ qualifiedName: String) {
        let dot = qualifiedName.lastIndex(of: ".")!
        op("c")
        bytes += Array(qualifiedName[..<dot].utf8) + [0x0a]
        bytes += Array(qualifiedName[qualifiedName.index(after: dot)...].utf8) + [0x0a]
    }

    mutating func string(_ text: String) {
        let utf8 = Array(text.utf8)
        op("X")
        withUnsafeBytes(of: UInt32(utf8.count).littleEndian) { bytes += $0 }
        bytes += utf8
    }

    mutating func integer(_ value: Int64) {
        if let small = Int32(exactly: value) {
            op("J")
            withUnsafeBytes(of: small.littleEndian) { bytes += $0 }
        } else {
            bytes += [0x8a, 8]
            withUnsafeBytes(of: value.littleEndian) { bytes += $0 }
        }
    }

    mutating func tuple(_ items: [PickleValue]) {
        if items.isEmpty { op(")"); return }
        op("(")
        items.forEach { emit($0) }
        op("t")
    }

    mutating func emit(_ value: PickleValue) {
        switch value {
        case .none: op("N")
        case .bool(let flag): bytes.append(flag ? 0x88 : 0x89)
        case .integer(let number): integer(number)
        case .largeInteger(let raw):
            bytes += [0x8b]
            withUnsafeBytes(of: UInt32(raw.count).littleEndian) { bytes += $0 }
            bytes += raw
        case .float(let number):
            op("G")
            withUnsafeBytes(of: number.bitPattern.bigEndian) { bytes += $0 }
        case .string(let text): string(text)
        case .bytes(let raw):
            op("B")
            withUnsafeBytes(of: UInt32(raw.count).littleEndian) { bytes += $0 }
            bytes += raw
        case .tuple(let items): tuple(items)
        case .list(let items):
            op("]")
            if !items.isEmpty {
                op("(")
                items.forEach { emit($0) }
                op("e")
            }
        case .dictionary(let entries):
            op("}")
            setItems(entries)
        case .global(let name): global(name)
        case .object(let object):
            if object.className == "collections.OrderedDict" {
                global(object.className)
                op(")")
                op("R")
                setItems(object.items)
            } else {
                global(object.className)
                tuple(object.arguments)
                bytes.append(0x81) // NEWOBJ
                if let state = object.state {
                    emit(state)
                    op("b")
                }
            }
        case .tensor(let tensor): emitTensor(tensor)
        }
    }

    mutating func setItems(_ entries: [PickleValue.DictionaryEntry]) {
        guard !entries.isEmpty else { return }
        op("(")
        for entry in entries {
            emit(entry.key)
            emit(entry.value)
        }
        op("u")
    }

    mutating func emitTensor(_ tensor: TorchTensor) {
        let identity = ObjectIdentifier(tensor.storage)
        let key: String
        if let existing = keys[identity] {
            key = existing
        } else {
            key = "\(storages.count)"
            keys[identity] = key
            storages.append((key, tensor.storage))
        }
        if tensor.isParameter { global("torch._utils._rebuild_parameter"); op("(") }
        global("torch._utils._rebuild_tensor_v2")
        op("(")
        // Persistent id ('storage', torch.FloatStorage, key, 'cpu', numel).
        op("(")
        string("storage")
        global(tensor.dtype.storageClass)
        string(key)
        string("cpu")
        integer(Int64(tensor.storage.elementCount))
        op("t")
        op("Q")
        integer(Int64(tensor.storageOffset))
        tuple(tensor.shape.map { .integer(Int64($0)) })
        tuple(tensor.stride.map { .integer(Int64($0)) })
        bytes.append(0x89) // requires_grad False
        global("collections.OrderedDict"); op(")"); op("R")
        op("t")
        op("R")
        if tensor.isParameter {
            bytes.append(0x88)
            global("collections.OrderedDict"); op(")"); op("R")
            op("t")
            op("R")
        }
    }
}
