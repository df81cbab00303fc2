/// A value of an unpickled checkpoint: plain data, containers, tensors and inert records of objects.
/// Nothing in it can run code; classes are only names.
public indirect enum PickleValue: Equatable, Sendable {
    case none
    case bool(Bool)
    /// An integer that fits in 64 bits.
    case integer(Int64)
    /// A wider integer (pickle `LONG1`/`LONG4`), as its little-endian two's-complement bytes.
    case largeInteger([UInt8])
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case tuple([PickleValue])
    /// A list, or a set (pickle has no other use for `ADDITEMS`).
    case list([PickleValue])
    /// A dict or `collections.OrderedDict`, entries in insertion order.
    case dictionary([DictionaryEntry])
    /// A tensor rebuilt by `_rebuild_tensor_v2` (or a parameter wrapping one).
    case tensor(TorchTensor)
    /// Any other object: its class and the arguments and state it was built from.
    case object(PickleObject)
    /// A class or function named by `GLOBAL` but never called.
    case global(String)

    /// One key/value pair of a dictionary.
    public struct DictionaryEntry: Equatable, Sendable {
        public var key: PickleValue
        public var value: PickleValue

        /// The pair `key: value`.
        public init(key: PickleValue, value: PickleValue) {
            self.key = key
            self.value = value
        }
    }

    /// The value stored under the string key `key` of a dictionary (nil for anything else).
    public subscript(key: String) -> PickleValue? {
        guard case .dictionary(let entries) = self else { return nil }
        return entries.last { $0.key == .string(key) }?.value
    }

    /// The entries of a dictionary whose keys are all strings, in order (nil otherwise).
    public var stringKeyedEntries: [(key: String, value: PickleValue)]? {
        guard case .dictionary(let entries) = self else { return nil }
        var result: [(key: String, value: PickleValue)] = []
        for entry in entries {
            guard case .string(let key) = entry.key else { return nil }
            result.append((key, entry.value))
        }
        return result
    }

    /// The elements of a tuple or list.
    public var elements: [PickleValue]? {
        switch self {
        case .tuple(let items), .list(let items): return items
        default: return nil
        }
    }

    /// The number, for integers and floats.
    public var doubleValue: Double? {
        switch self {
        case .integer(let value): return Double(value)
        case .float(let value): return value
        case .bool(let value): return value ? 1 : 0
        default: return nil
        }
    }

    /// A short description of the kind of value, for error messages.
    public var kindDescription: String {
        switch self {
        case .none: return "None"
        case .bool: return "bool"
        case .integer, .largeInteger: return "int"
        case .float: return "float"
        case .string: return "str"
        case .bytes: return "bytes"
        case .tuple: return "tuple"
        case .list: return "list"
        case .dictionary: return "dict"
        case .tensor(let tensor): return "tensor \(tensor.dtype.rawValue) \(tensor.shape)"
        case .object(let object): return "object \(object.className)"
        case .global(let name): return "class \(name)"
        }
    }
}

/// An inert record of an object the unpickler does not know (torchvision's `AnchorGenerator`, say): what
/// `pickle` would have constructed and the state `BUILD` would have given it, with nothing executed.
public struct PickleObject: Equatable, Sendable {
    /// `module.qualname` of its class (or of the function that `REDUCE` would have called).
    public var className: String
    /// The arguments of the constructor call (`NEWOBJ`, `REDUCE`).
    public var arguments: [PickleValue]
    /// The state `BUILD` set (usually the instance `__dict__`), if any.
    public var state: PickleValue?
    /// Items appended (`APPEND(S)`) or set (`SETITEM(S)`) on the object after construction, for list and
    /// dict subclasses.
    public var items: [PickleValue.DictionaryEntry]

    /// A record of an instance of `className`.
    public init(className: String, arguments: [PickleValue] = [], state: PickleValue? = nil,
                items: [PickleValue.DictionaryEntry] = []) {
        self.className = className
        self.arguments = arguments
        self.state = state
        self.items = items
    }

    /// The attribute `name` from the `BUILD` state: a `__dict__` entry, or one of the slot-state pair
    /// `(dict, slots)` that protocol-2 pickles use for classes with `__slots__`.
    public func attribute(_ name: String) -> PickleValue? {
        guard let state else { return nil }
        if let value = state[name] { return value }
        if case .tuple(let parts) = state, parts.count == 2 {
            return parts[0][name] ?? parts[1][name]
        }
        return nil
    }
}
