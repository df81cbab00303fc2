import Foundation
import Synchronization

/// A dense Float32 tensor in row-major (C-contiguous) layout; 4-D tensors are NCHW, as in PyTorch,
/// so weights and fixtures need no transposes.
///
/// `Tensor` has value semantics: copies share storage until one of them is mutated (copy-on-write).
/// Raw memory is reachable only inside `withUnsafeBufferPointer` / `withUnsafeMutableBufferPointer`.
///
/// Sendable on copy-on-write's word: a tensor sent to another thread shares its storage, which neither side
/// writes without first making its own copy (`isKnownUniquelyReferenced` fails while both hold it), so
/// shared storage is only ever read. The storage class itself is not Sendable.
public struct Tensor: @unchecked Sendable {
    /// The extent of each dimension, outermost first.
    public private(set) var shape: [Int]
    @usableFromInline var storage: TensorStorage

    /// Number of elements (the product of `shape`; 1 for a scalar with shape `[]`).
    public var count: Int { storage.count }
    /// Number of dimensions.
    public var rank: Int { shape.count }

    /// A tensor of `shape` with every element set to `value`.
    public init(shape: [Int], repeating value: Float = 0) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor shape \(shape) has a negative extent")
        self.shape = shape
        self.storage = TensorStorage(count: Tensor.elementCount(shape), repeating: value)
    }

    /// A tensor of `shape` holding `scalars` in row-major order.
    public init(shape: [Int], scalars: [Float]) {
        precondition(Tensor.elementCount(shape) == scalars.count,
                     "Tensor shape \(shape) needs \(Tensor.elementCount(shape)) scalars, got \(scalars.count)")
        self.shape = shape
        self.storage = TensorStorage(copying: scalars)
    }

    /// A tensor of `shape` whose elements are written by `initializer` into uninitialised-but-zeroed memory.
    public init(shape: [Int], initializer: (UnsafeMutableBufferPointer<Float>) throws -> Void) rethrows {
        self.init(shape: shape)
        try initializer(UnsafeMutableBufferPointer(start: storage.pointer, count: storage.count))
    }

    /// A tensor whose elements are NOT initialised: for kernels that overwrite every element, where
    /// zero-filling large activations would cost a full extra pass over memory.
    public init(uninitializedShape shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor shape \(shape) has a negative extent")
        self.shape = shape
        self.storage = TensorStorage(uninitializedCount: Tensor.elementCount(shape))
    }

    /// All zeros.
    public static func zeros(_ shape: [Int]) -> Tensor { Tensor(shape: shape) }
    /// All ones.
    public static func ones(_ shape: [Int]) -> Tensor { Tensor(shape: shape, repeating: 1) }
    /// A rank-0 tensor.
    public init(scalar: Float) { self.init(shape: [], scalars: [scalar]) }

    /// The elements in row-major order.
    public var scalars: [Float] { withUnsafeBufferPointer { Array($0) } }

    /// The single element of a one-element tensor.
    public var scalar: Float {
        precondition(count == 1, "scalar requires one element, shape is \(shape)")
        return storage.pointer[0]
    }

    /// Read-only access to the elements.
    @inlinable
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: storage.pointer, count: storage.count))
    }

    /// Mutable access to the elements; copies the storage first if it is shared.
    @inlinable
    public mutating func withUnsafeMutableBufferPointer<R>(
        _ body: (UnsafeMutableBufferPointer<Float>) throws -> R
    ) rethrows -> R {
        if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
        return try body(UnsafeMutableBufferPointer(start: storage.pointer, count: storage.count))
    }

    /// The first element's address, for kernels of this module that work on several tensors' memory at once
    /// without nesting a closure per tensor. The kernel keeps the tensor alive across every use
    /// (`withExtendedLifetime`) and writes only into tensors it created itself, which no copy shares.
    var kernelAddress: UnsafeMutablePointer<Float> { storage.pointer }

    /// The same elements viewed with another shape of equal element count (no copy).
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var resolved = newShape
        if let inferred = newShape.firstIndex(of: -1) {
            let known = newShape.enumerated().filter { $0.offset != inferred }.reduce(1) { $0 * $1.element }
            precondition(known > 0 && count % known == 0, "cannot reshape \(shape) to \(newShape)")
            resolved[inferred] = count / known
        }
        precondition(Tensor.elementCount(resolved) == count, "cannot reshape \(shape) to \(newShape)")
        var copy = self
        copy.shape = resolved
        return copy
    }

    /// Element access by full index (slow; for tests and small bookkeeping only).
    public subscript(indices: Int...) -> Float {
        get { storage.pointer[flatIndex(indices)] }
        set {
            let index = flatIndex(indices)
            withUnsafeMutableBufferPointer { $0[index] = newValue }
        }
    }

    func flatIndex(_ indices: [Int]) -> Int {
        precondition(indices.count == shape.count, "index \(indices) does not match shape \(shape)")
        var flat = 0
        for (index, extent) in zip(indices, shape) {
            precondition(index >= 0 && index < extent, "index \(indices) out of bounds for shape \(shape)")
            flat = flat * extent + index
        }
        return flat
    }

    /// Product of the extents.
    public static func elementCount(_ shape: [Int]) -> Int { shape.reduce(1, *) }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let preview = scalars.prefix(8).map { String(format: "%.5g", $0) }.joined(separator: ", ")
        return "Tensor(shape: \(shape), [\(preview)\(count > 8 ? ", …" : "")])"
    }
}

/// Heap storage behind `Tensor`, 64-byte aligned so BLAS and vector loops get aligned rows.
@usableFromInline
final class TensorStorage {
    @usableFromInline let pointer: UnsafeMutablePointer<Float>
    @usableFromInline let count: Int

    init(count: Int, repeating value: Float) {
        self.count = count
        pointer = LargeBlockPool.allocate(byteCount: max(count, 1) * 4).bindMemory(to: Float.self, capacity: max(count, 1))
        pointer.initialize(repeating: value, count: count)
    }

    init(uninitializedCount count: Int) {
        self.count = count
        pointer = LargeBlockPool.allocate(byteCount: max(count, 1) * 4).bindMemory(to: Float.self, capacity: max(count, 1))
    }

    init(copying scalars: [Float]) {
        self.count = scalars.count
        pointer = LargeBlockPool.allocate(byteCount: max(count, 1) * 4).bindMemory(to: Float.self, capacity: max(count, 1))
        scalars.withUnsafeBufferPointer { source in
            if let base = source.baseAddress { pointer.initialize(from: base, count: count) }
        }
    }

    @usableFromInline func copy() -> TensorStorage {
        let result = TensorStorage(uninitializedCount: count)
        result.pointer.update(from: pointer, count: count)
        return result
    }

    deinit { LargeBlockPool.release(UnsafeMutableRawPointer(pointer), byteCount: max(count, 1) * 4) }
}

/// Keeps freed large tensor blocks for reuse by later tensors of the same size class.
///
/// A training step allocates and frees the same activation sizes every iteration. Through malloc alone
/// (told by `BLAS.configured` never to trim or mmap) the heap fragmented and kept growing: brk rose by
/// ~75 MiB per ResNet18 step, and peak memory depended on the interleaving of steps. Blocks of 1 MiB and
/// more are rounded up to a size class (at most 1/8 larger) and parked here on release, up to
/// `limitBytes` in total; beyond that they go back to malloc.
enum LargeBlockPool {
    static let minimumBytes = 1 << 20
    /// Upper bound on parked (free) bytes.
    static let limitBytes = Atomic<Int>(1 << 30)
    /// Free blocks by size class (as addresses, which may cross threads), and their total bytes.
    struct Parked {
        var blocks: [Int: [UInt]] = [:]
        var bytes = 0
    }
    static let parked = Mutex(Parked())

    /// The size class of a request: rounded up to a multiple of 1/8 of its highest power of two.
    static func sizeClass(_ byteCount: Int) -> Int {
        let high = 1 << (Int.bitWidth - 1 - byteCount.leadingZeroBitCount)
        let step = max(64, high / 8)
        return (byteCount + step - 1) / step * step
    }

    static func allocate(byteCount: Int) -> UnsafeMutableRawPointer {
        guard byteCount >= minimumBytes else { return .allocate(byteCount: byteCount, alignment: 64) }
        let size = sizeClass(byteCount)
        let reused = parked.withLock { parked -> UInt? in
            guard let address = parked.blocks[size]?.popLast() else { return nil }
            parked.bytes -= size
            return address
        }
        return reused.flatMap { UnsafeMutableRawPointer(bitPattern: $0) } ?? .allocate(byteCount: size, alignment: 64)
    }

    static func release(_ block: UnsafeMutableRawPointer, byteCount: Int) {
        guard byteCount >= minimumBytes else { return block.deallocate() }
        let size = sizeClass(byteCount)
        let limit = limitBytes.load(ordering: .relaxed)
        let address = UInt(bitPattern: block)
        let kept = parked.withLock { parked -> Bool in
            guard parked.bytes + size <= limit else { return false }
            parked.blocks[size, default: []].append(address)
            parked.bytes += size
            return true
        }
        if !kept { block.deallocate() }
    }
}
