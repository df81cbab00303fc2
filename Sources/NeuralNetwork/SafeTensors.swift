import Foundation
import TensorCore

#if _endian(big)
#error("The safetensors reader and writer copy little-endian bytes directly and need a little-endian host.")
#endif

/// An int64 tensor, as stored under dtype `I64` (BatchNorm `num_batches_tracked`, optimizer step counts).
public struct IntegerTensor: Equatable, Sendable {
    /// The extent of each dimension, outermost first (`[]` for a scalar).
    public var shape: [Int]
    /// The elements in row-major order.
    public var scalars: [Int64]

    /// A tensor of `shape` holding `scalars` in row-major order.
    public init(shape: [Int], scalars: [Int64]) {
        precondition(Tensor.elementCount(shape) == scalars.count,
                     "IntegerTensor shape \(shape) needs \(Tensor.elementCount(shape)) scalars, got \(scalars.count)")
        self.shape = shape
        self.scalars = scalars
    }

    /// A rank-0 tensor.
    public init(scalar: Int64) { self.init(shape: [], scalars: [scalar]) }
}

/// A problem reading or writing a safetensors file. Every case names the file, and the tensor where one
/// is involved, so the message alone says what to fix.
public enum SafeTensorsError: Error, CustomStringConvertible, Equatable {
    /// The file does not exist.
    case fileNotFound(file: String)
    /// The file exists but could not be read or written (permissions, disk full, missing directory).
    case ioFailure(file: String, reason: String)
    /// The file ends before the header or a tensor's data does.
    case truncated(file: String, detail: String)
    /// The header is not the JSON object safetensors prescribes.
    case invalidHeader(file: String, detail: String)
    /// A tensor entry is malformed (shape and byte range disagree, range out of bounds).
    case invalidTensor(file: String, tensor: String, detail: String)
    /// A tensor has a dtype other than F32 or I64.
    case unsupportedDType(file: String, tensor: String, dtype: String)

    public var description: String {
        switch self {
        case .fileNotFound(let file):
            return "safetensors file \(file) does not exist; check the path"
        case .ioFailure(let file, let reason):
            return "safetensors file \(file): \(reason)"
        case .truncated(let file, let detail):
            return "safetensors file \(file) is truncated: \(detail); the file is incomplete, write or copy it again"
        case .invalidHeader(let file, let detail):
            return "safetensors file \(file) has an invalid header: \(detail); it is not a safetensors file or is corrupt"
        case .invalidTensor(let file, let tensor, let detail):
            return "safetensors file \(file), tensor \(tensor): \(detail)"
        case .unsupportedDType(let file, let tensor, let dtype):
            return "safetensors file \(file), tensor \(tensor): dtype \(dtype) is not supported (only F32 and I64); "
                + "convert the checkpoint, e.g. tensor.float() in PyTorch, before loading"
        }
    }
}

/// The contents of a safetensors file: float32 tensors, int64 tensors and the `__metadata__` string map.
///
/// Format (https://github.com/huggingface/safetensors): 8-byte little-endian header length N; N bytes of
/// JSON mapping each tensor name to `{"dtype", "shape", "data_offsets": [begin, end]}` (offsets relative
/// to the data section) plus an optional `"__metadata__"` string→string map; then the raw little-endian
/// data. The writer reproduces the Python package's bytes: tensors ordered by dtype (I64 before F32, as
/// the Rust core sorts by descending dtype) and then by name, data laid out in that order, compact JSON
/// with `__metadata__` first, header padded with spaces to a multiple of 8 bytes. The one freedom we take:
/// metadata keys are written sorted, where the Python package writes them in hash-map order.
public struct SafeTensorsFile: Sendable {
    /// Float32 tensors by name.
    public var tensors: [String: Tensor]
    /// Int64 tensors by name.
    public var integerTensors: [String: IntegerTensor]
    /// The `__metadata__` map (model configuration, versions, epoch…).
    public var metadata: [String: String]
    /// Where this content came from (a path, or a description for in-memory data); used in error messages.
    public var source: String

    /// Content built in memory.
    public init(tensors: [String: Tensor] = [:], integerTensors: [String: IntegerTensor] = [:],
                metadata: [String: String] = [:], source: String = "<in memory>") {
        self.tensors = tensors
        self.integerTensors = integerTensors
        self.metadata = metadata
        self.source = source
    }

    /// All tensor names (float and integer), sorted.
    public var names: [String] { (Array(tensors.keys) + Array(integerTensors.keys)).sorted() }

    // MARK: Reading

    /// Reads and validates a whole file; every failure is a `SafeTensorsError` naming the file.
    public static func read(_ url: URL) throws -> SafeTensorsFile {
        let path = url.path
        guard FileManager.default.fileExists(atPath: path) else { throw SafeTensorsError.fileNotFound(file: path) }
        let data: Data
        do {
            data = try Data(contentsOf: url, options: .mappedIfSafe)
        } catch {
            throw SafeTensorsError.ioFailure(file: path, reason: "cannot be read (\(error.localizedDescription))")
        }
        return try decode(data, source: path)
    }

    /// Parses safetensors bytes; `source` names them in errors.
    public static func decode(_ data: Data, source: String) throws -> SafeTensorsFile {
        guard data.count >= 8 else {
            throw SafeTensorsError.truncated(file: source, detail: "\(data.count) bytes, fewer than the 8-byte header length")
        }
        let headerLength = data.withUnsafeBytes { raw -> UInt64 in
            var value: UInt64 = 0
            for i in 0..<8 { value |= UInt64(raw[i]) << (8 * UInt64(i)) }
            return value
        }
        // The Rust reference rejects headers above 100 MB; a larger number means a corrupt or foreign file.
        guard headerLength <= 100_000_000 else {
            throw SafeTensorsError.invalidHeader(file: source, detail: "header length \(headerLength) is implausibly large")
        }
        guard UInt64(data.count - 8) >= headerLength else {
            throw SafeTensorsError.truncated(
                file: source, detail: "header needs \(headerLength) bytes but only \(data.count - 8) follow the length")
        }
        let headerEnd = 8 + Int(headerLength)
        let headerBytes = data.subdata(in: (data.startIndex + 8)..<(data.startIndex + headerEnd))
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: headerBytes, options: [])
        } catch {
            throw SafeTensorsError.invalidHeader(file: source, detail: "not valid JSON")
        }
        guard let header = json as? [String: Any] else {
            throw SafeTensorsError.invalidHeader(file: source, detail: "not a JSON object")
        }
        var result = SafeTensorsFile(source: source)
        if let rawMetadata = header["__metadata__"] {
            guard let metadata = rawMetadata as? [String: String] else {
                throw SafeTensorsError.invalidHeader(file: source, detail: "__metadata__ is not a string-to-string map")
            }
            result.metadata = metadata
        }
        let dataSectionSize = data.count - headerEnd
        for (name, rawEntry) in header where name != "__metadata__" {
            guard let entry = rawEntry as? [String: Any],
                  let dtype = entry["dtype"] as? String,
                  let shape = SafeTensorsFile._integers(entry["shape"]),
                  let offsets = SafeTensorsFile._integers(entry["data_offsets"]), offsets.count == 2
            else {
                throw SafeTensorsError.invalidTensor(
                    file: source, tensor: name, detail: "entry lacks dtype, shape or a two-element data_offsets")
            }
            let begin = offsets[0], end = offsets[1]
            guard shape.allSatisfy({ $0 >= 0 }), begin >= 0, end >= begin else {
                throw SafeTensorsError.invalidTensor(
                    file: source, tensor: name, detail: "negative extent or offsets (shape \(shape), offsets [\(begin), \(end)])")
            }
            let elementSize: Int
            switch dtype {
            case "F32": elementSize = 4
            case "I64": elementSize = 8
            default: throw SafeTensorsError.unsupportedDType(file: source, tensor: name, dtype: dtype)
            }
            let count = Tensor.elementCount(shape)
            guard end - begin == count * elementSize else {
                throw SafeTensorsError.invalidTensor(
                    file: source, tensor: name,
                    detail: "shape \(shape) of \(dtype) needs \(count * elementSize) bytes but data_offsets span \(end - begin)")
            }
            guard end <= dataSectionSize else {
                throw SafeTensorsError.truncated(
                    file: source, detail: "tensor \(name) ends at data byte \(end) but the data section has \(dataSectionSize) bytes")
            }
            let start = data.startIndex + headerEnd + begin
            if dtype == "F32" {
                result.tensors[name] = Tensor(shape: shape) { buffer in
                    _ = data.copyBytes(to: UnsafeMutableRawBufferPointer(buffer), from: start..<(start + count * 4))
                }
            } else {
                var scalars = [Int64](repeating: 0, count: count)
                scalars.withUnsafeMutableBufferPointer { buffer in
                    _ = data.copyBytes(to: UnsafeMutableRawBufferPointer(buffer), from: start..<(start + count * 8))
                }
                result.integerTensors[name] = IntegerTensor(shape: shape, scalars: scalars)
            }
        }
        return result
    }

    // MARK: Writing

    /// The file's bytes, laid out as the Python `safetensors` package lays them out.
    public func encoded() -> Data {
        let clashes = Set(tensors.keys).intersection(integerTensors.keys)
        precondition(clashes.isEmpty, "SafeTensorsFile: names used by both a float and an integer tensor: \(clashes.sorted())")
        // I64 sorts before F32 (descending dtype in the Rust core), then names in byte order.
        let integerNames = integerTensors.keys.sorted(by: SafeTensorsFile._byteOrder)
        let floatNames = tensors.keys.sorted(by: SafeTensorsFile._byteOrder)

        var header = "{"
        var entries: [String] = []
        if !metadata.isEmpty {
            let pairs = metadata.keys.sorted(by: SafeTensorsFile._byteOrder).map {
                SafeTensorsFile._jsonString($0) + ":" + SafeTensorsFile._jsonString(metadata[$0]!)
            }
            entries.append("\"__metadata__\":{" + pairs.joined(separator: ",") + "}")
        }
        var offset = 0
        func entry(_ name: String, dtype: String, shape: [Int], byteCount: Int) -> String {
            defer { offset += byteCount }
            return SafeTensorsFile._jsonString(name) + ":{\"dtype\":\"\(dtype)\",\"shape\":["
                + shape.map(String.init).joined(separator: ",") + "],\"data_offsets\":[\(offset),\(offset + byteCount)]}"
        }
        for name in integerNames {
            let tensor = integerTensors[name]!
            entries.append(entry(name, dtype: "I64", shape: tensor.shape, byteCount: tensor.scalars.count * 8))
        }
        for name in floatNames {
            let tensor = tensors[name]!
            entries.append(entry(name, dtype: "F32", shape: tensor.shape, byteCount: tensor.count * 4))
        }
        header += entries.joined(separator: ",") + "}"
        var headerBytes = Array(header.utf8)
        headerBytes.append(contentsOf: Array(repeating: UInt8(ascii: " "), count: (8 - headerBytes.count % 8) % 8))

        var data = Data(capacity: 8 + headerBytes.count + offset)
        var length = UInt64(headerBytes.count).littleEndian
        withUnsafeBytes(of: &length) { data.append(contentsOf: $0) }
        data.append(contentsOf: headerBytes)
        for name in integerNames {
            integerTensors[name]!.scalars.withUnsafeBytes { data.append(contentsOf: $0) }
        }
        for name in floatNames {
            tensors[name]!.withUnsafeBufferPointer { data.append(contentsOf: UnsafeRawBufferPointer($0)) }
        }
        return data
    }

    /// Writes the file atomically: the bytes go to a temporary file in the same directory, which is then
    /// renamed over `url`, so a crash never leaves a half-written checkpoint under the final name.
    public func write(to url: URL) throws {
        let data = encoded()
        let directory = url.deletingLastPathComponent()
        let temporary = directory.appendingPathComponent(
            ".\(url.lastPathComponent).tmp-\(ProcessInfo.processInfo.globallyUniqueString)")
        do {
            try data.write(to: temporary)
        } catch {
            throw SafeTensorsError.ioFailure(
                file: url.path, reason: "cannot be written (\(error.localizedDescription)); check that \(directory.path) exists and is writable")
        }
        if Foundation.rename(temporary.path, url.path) != 0 {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(at: temporary)
            throw SafeTensorsError.ioFailure(file: url.path, reason: "cannot be renamed into place (\(reason))")
        }
    }

    // MARK: Combining

    /// This content plus `other`'s tensors with `prefix` prepended to their names (metadata of `other`
    /// is ignored). Use it to store optimizer state beside the model in one checkpoint.
    public func merging(_ other: SafeTensorsFile, prefix: String) -> SafeTensorsFile {
        var result = self
        for (name, tensor) in other.tensors {
            precondition(result.tensors[prefix + name] == nil && result.integerTensors[prefix + name] == nil,
                         "merging: \(prefix + name) exists in both")
            result.tensors[prefix + name] = tensor
        }
        for (name, tensor) in other.integerTensors {
            precondition(result.tensors[prefix + name] == nil && result.integerTensors[prefix + name] == nil,
                         "merging: \(prefix + name) exists in both")
            result.integerTensors[prefix + name] = tensor
        }
        return result
    }

    /// The tensors whose names start with `prefix`, with the prefix removed (metadata and source kept).
    public func subset(prefix: String) -> SafeTensorsFile {
        var result = SafeTensorsFile(metadata: metadata, source: source)
        for (name, tensor) in tensors where name.hasPrefix(prefix) {
            result.tensors[String(name.dropFirst(prefix.count))] = tensor
        }
        for (name, tensor) in integerTensors where name.hasPrefix(prefix) {
            result.integerTensors[String(name.dropFirst(prefix.count))] = tensor
        }
        return result
    }

    /// The tensors whose names do not start with `prefix` (metadata and source kept).
    public func removing(prefix: String) -> SafeTensorsFile {
        var result = self
        result.tensors = tensors.filter { !$0.key.hasPrefix(prefix) }
        result.integerTensors = integerTensors.filter { !$0.key.hasPrefix(prefix) }
        return result
    }

    // MARK: Helpers

    /// A JSON array of integers, or nil if `value` is anything else.
    static func _integers(_ value: Any?) -> [Int]? {
        guard let array = value as? [Any] else { return nil }
        var result: [Int] = []
        for element in array {
            if let integer = element as? Int {
                result.append(integer)
            } else if let number = element as? NSNumber, number.doubleValue == Double(number.intValue) {
                result.append(number.intValue)
            } else {
                return nil
            }
        }
        return result
    }

    /// Byte-wise (UTF-8) order, which is how the Rust core compares names.
    static func _byteOrder(_ a: String, _ b: String) -> Bool { a.utf8.lexicographicallyPrecedes(b.utf8) }

    /// A JSON string literal escaped as serde_json escapes it (quote, backslash, control characters;
    /// `/` and non-ASCII are written as they are).
    static func _jsonString(_ value: String) -> String {
        var result = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case "\u{08}": result += "\\b"
            case "\u{0C}": result += "\\f"
            default:
                if scalar.value < 0x20 {
                    result += String(format: "\\u%04x", scalar.value)
                } else {
                    result.unicodeScalars.append(scalar)
                }
            }
        }
        return result + "\""
    }
}
