import Foundation

/// The element types of the storages a checkpoint may hold.
public enum TorchDType: String, Sendable, CaseIterable {
    case float32, float16, bfloat16, float64, int64, int32, int16, int8, uint8, bool

    /// Bytes per element.
    public var elementSize: Int {
        switch self {
        case .float64, .int64: return 8
        case .float32, .int32: return 4
        case .float16, .bfloat16, .int16: return 2
        case .int8, .uint8, .bool: return 1
        }
    }

    /// Whether values are floating point (read with `floatValues()`), else integer (`integerValues()`).
    public var isFloatingPoint: Bool { [.float32, .float16, .bfloat16, .float64].contains(self) }

    /// The dtype of a legacy typed-storage class (`torch.FloatStorage`…), nil for any other name.
    public init?(storageClass name: String) {
        let table: [String: TorchDType] = [
            "torch.FloatStorage": .float32, "torch.HalfStorage": .float16, "torch.BFloat16Storage": .bfloat16,
            "torch.DoubleStorage": .float64, "torch.LongStorage": .int64, "torch.IntStorage": .int32,
            "torch.ShortStorage": .int16, "torch.CharStorage": .int8, "torch.ByteStorage": .uint8,
            "torch.BoolStorage": .bool,
        ]
        guard let dtype = table[name] else { return nil }
        self = dtype
    }

    /// The typed-storage class name torch pickles for this dtype.
    public var storageClass: String {
        switch self {
        case .float32: return "torch.FloatStorage"
        case .float16: return "torch.HalfStorage"
        case .bfloat16: return "torch.BFloat16Storage"
        case .float64: return "torch.DoubleStorage"
        case .int64: return "torch.LongStorage"
        case .int32: return "torch.IntStorage"
        case .int16: return "torch.ShortStorage"
        case .int8: return "torch.CharStorage"
        case .uint8: return "torch.ByteStorage"
        case .bool: return "torch.BoolStorage"
        }
    }
}

/// The raw bytes of one storage (a zip entry `data/<key>` or a legacy record), shared by every tensor
/// viewing it. A reference type because legacy files give the bytes only after the pickle that uses them.
/// Unchecked Sendable: `bytes` is the only `var`; `TorchCheckpoint`'s loader sets it while parsing, before
/// the checkpoint (and any tensor viewing the storage) is returned, and nothing writes it afterwards.
public final class TorchStorage: @unchecked Sendable {
    /// The storage key in the file.
    public let key: String
    /// Element type.
    public let dtype: TorchDType
    /// Elements the pickle declares; the bytes must hold exactly this many.
    public let elementCount: Int
    /// Little-endian element bytes, `elementCount * dtype.elementSize` long once loaded.
    public internal(set) var bytes: Data?

    init(key: String, dtype: TorchDType, elementCount: Int, bytes: Data? = nil) {
        self.key = key
        self.dtype = dtype
        self.elementCount = elementCount
        self.bytes = bytes
    }
}

/// A tensor of a checkpoint: a strided view (offset, sizes, strides) of a storage, as torch stores it.
/// Values are read on demand, so tensors nobody asks for (optimizer state) cost nothing.
public struct TorchTensor: Equatable, Sendable {
    /// The storage it views.
    public let storage: TorchStorage
    /// First element of the view, in elements of the storage.
    public let storageOffset: Int
    /// Extent of each dimension.
    public let shape: [Int]
    /// Step in elements between neighbours along each dimension (0 for broadcast dimensions).
    public let stride: [Int]
    /// Whether it was saved as an `nn.Parameter`.
    public var isParameter = false

    /// Element type.
    public var dtype: TorchDType { storage.dtype }
    /// Number of elements of the view.
    public var elementCount: Int { shape.reduce(1, *) }

    /// A view checked against the storage's declared size and `maximumElements`.
    /// - Throws: `TensorGeometryError` saying what does not fit.
    static func validated(storage: TorchStorage, offset: Int, shape: [Int], stride: [Int], maximumElements: Int)
        throws -> TorchTensor {
        guard shape.count == stride.count else {
            throw TensorGeometryError(reason: "size has \(shape.count) dimensions but stride has \(stride.count)")
        }
        guard shape.count <= 64 else { throw TensorGeometryError(reason: "\(shape.count) dimensions (at most 64)") }
        guard offset >= 0, shape.allSatisfy({ $0 >= 0 }), stride.allSatisfy({ $0 >= 0 }) else {
            throw TensorGeometryError(reason: "negative storage offset, size or stride (offset \(offset), size \(shape), stride \(stride))")
        }
        var count = 1
        for extent in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: extent)
            guard !overflow, product <= maximumElements else {
                throw TensorGeometryError(reason: "size \(shape) has more than the \(maximumElements) elements a tensor may have")
            }
            count = product
        }
        if count > 0 {
            // The last element the view touches must lie inside the storage.
            var last = offset
            for (extent, step) in zip(shape, stride) {
                let (span, overflow1) = (extent - 1).multipliedReportingOverflow(by: step)
                let (sum, overflow2) = last.addingReportingOverflow(span)
                guard !overflow1, !overflow2 else { throw TensorGeometryError(reason: "stride \(stride) overflows") }
                last = sum
            }
            guard last < storage.elementCount else {
                throw TensorGeometryError(reason: "view (offset \(offset), size \(shape), stride \(stride)) reaches element \(last) "
                    + "of storage \(storage.key), which has \(storage.elementCount)")
            }
        }
        return TorchTensor(storage: storage, storageOffset: offset, shape: shape, stride: stride)
    }

    /// `element(i)` for the storage index `i` of every element of the view, in row-major order (no index
    /// array: the result is the only allocation).
    private func gather<T>(_ element: (Int) -> T) -> [T] {
        let count = elementCount
        guard count > 0 else { return [] }
        if shape.isEmpty { return [element(storageOffset)] }
        var result: [T] = []
        result.reserveCapacity(count)
        var position = [Int](repeating: 0, count: shape.count)
        var index = storageOffset
        for _ in 0..<count {
            result.append(element(index))
            var axis = shape.count - 1
            while axis >= 0 {
                position[axis] += 1
                index += stride[axis]
                if position[axis] < shape[axis] { break }
                index -= stride[axis] * shape[axis]
                position[axis] = 0
                axis -= 1
            }
        }
        return result
    }

    private func loadedBytes() throws -> Data {
        guard let bytes = storage.bytes else {
            throw TorchTensorError(storageKey: storage.key, reason: "its storage bytes were never read")
        }
        return bytes
    }

    /// The elements in row-major order as Float (float16/bfloat16 widened exactly, float64 rounded to
    /// nearest, as `tensor.float()` does).
    /// - Throws: `TorchTensorError` for an integer dtype.
    public func floatValues() throws -> [Float] {
        guard dtype.isFloatingPoint else {
            throw TorchTensorError(storageKey: storage.key, reason: "dtype \(dtype.rawValue) is not floating point")
        }
        let bytes = try loadedBytes()
                return bytes.withUnsafeBytes { raw -> [Float] in
            switch dtype {
            case .float32:
                return gather { Float(bitPattern: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self).littleEndian) }
            case .float64:
                return gather { Float(Double(bitPattern: raw.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self).littleEndian)) }
            case .float16:
                return gather { Float(Float16(bitPattern: raw.loadUnaligned(fromByteOffset: $0 * 2, as: UInt16.self).littleEndian)) }
            case .bfloat16:
                // bfloat16 is the upper half of a float32.
                return gather {
                    Float(bitPattern: UInt32(raw.loadUnaligned(fromByteOffset: $0 * 2, as: UInt16.self).littleEndian) << 16)
                }
            default:
                return []
            }
        }
    }

    /// The elements in row-major order as Int64.
    /// - Throws: `TorchTensorError` for a floating-point dtype.
    public func integerValues() throws -> [Int64] {
        guard !dtype.isFloatingPoint else {
            throw TorchTensorError(storageKey: storage.key, reason: "dtype \(dtype.rawValue) is not an integer type")
        }
        let bytes = try loadedBytes()
                return bytes.withUnsafeBytes { raw -> [Int64] in
            switch dtype {
            case .int64: return gather { Int64(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self)) }
            case .int32: return gather { Int64(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: Int32.self))) }
            case .int16: return gather { Int64(Int16(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 2, as: Int16.self))) }
            case .int8: return gather { Int64(raw.load(fromByteOffset: $0, as: Int8.self)) }
            case .uint8, .bool: return gather { Int64(raw[$0]) }
            default: return []
            }
        }
    }

    public static func == (lhs: TorchTensor, rhs: TorchTensor) -> Bool {
        lhs.storage === rhs.storage && lhs.storageOffset == rhs.storageOffset && lhs.shape == rhs.shape
            && lhs.stride == rhs.stride && lhs.isParameter == rhs.isParameter
    }
}

/// A tensor whose values cannot be read as asked.
public struct TorchTensorError: Error, CustomStringConvertible {
    /// The storage key of the tensor.
    public var storageKey: String
    /// What is wrong.
    public var reason: String

    public var description: String { "tensor on storage \(storageKey): \(reason)" }
}

/// A tensor view that does not fit its storage (reported by the unpickler with its offset).
struct TensorGeometryError: Error {
    var reason: String
}

extension TorchTensor {
    /// A contiguous float32 tensor on a fresh storage (for writing checkpoints).
    public init(float32 values: [Float], shape: [Int]) {
        precondition(shape.reduce(1, *) == values.count, "TorchTensor: shape \(shape) needs \(shape.reduce(1, *)) values, got \(values.count)")
        let bytes = values.withUnsafeBytes { Data($0) }
        self.init(storage: TorchStorage(key: "", dtype: .float32, elementCount: values.count, bytes: bytes),
                  storageOffset: 0, shape: shape, stride: TorchTensor.contiguousStrides(shape))
    }

    /// A contiguous int64 tensor on a fresh storage (for writing checkpoints).
    public init(int64 values: [Int64], shape: [Int]) {
        precondition(shape.reduce(1, *) == values.count, "TorchTensor: shape \(shape) needs \(shape.reduce(1, *)) values, got \(values.count)")
        let bytes = values.withUnsafeBytes { Data($0) }
        self.init(storage: TorchStorage(key: "", dtype: .int64, elementCount: values.count, bytes: bytes),
                  storageOffset: 0, shape: shape, stride: TorchTensor.contiguousStrides(shape))
    }

    /// Row-major strides of `shape`.
    public static func contiguousStrides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var step = 1
        for axis in shape.indices.reversed() {
            strides[axis] = step
            step *= max(shape[axis], 1)
        }
        return strides
    }
}
