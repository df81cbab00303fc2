import Foundation

/// A restricted unpickler: it interprets the opcodes of pickle protocols 0–5 but never imports or calls
/// anything. `GLOBAL` only names a class; calling it (`REDUCE`, `NEWOBJ`, `INST`, `OBJ`) builds a
/// `PickleObject` record, except for the few callables whose meaning is data — `collections.OrderedDict`
/// (a dict), `torch._utils._rebuild_tensor_v2` / `_rebuild_tensor` (a strided view of a storage),
/// `_rebuild_parameter` / `_rebuild_parameter_with_state` (the same tensor), `copyreg._reconstructor` (a
/// record of its class) and `builtins.set` / `frozenset` (a list). Storages come from the caller's
/// persistent-id resolver. The extension registry (`EXT1/2/4`) and out-of-band buffers are refused.
///
/// Mutable containers live in an arena and are referred to by index while the program runs, so neither a
/// self-referencing list nor a deep chain can create reference cycles or recursive destruction; the final
/// value is built from the arena with `PickleLimits.maximumDepth` (a cycle hits it) and `maximumObjects`.
struct Unpickler {
    /// Resolves a persistent id (torch: `('storage', type, key, location, numel[, view])`) to a storage.
    typealias StorageResolver = (PickleValue) throws -> TorchStorage

    private indirect enum Node {
        case value(PickleValue)          // scalars, strings, bytes
        case tuple([Node], depth: Int)   // immutable, so held by value
        case box(Int)                    // a mutable container in `boxes`
        case global(String)
        case tensor(TorchTensor)
        case storage(TorchStorage)
    }

    private final class ListBox { var items: [Node] = [] }
    private final class DictBox {
        var keys: [Node] = []
        var values: [Node] = []
        var index: [String: Int] = [:]   // string and integer keys, for SETITEM's replace semantics
    }
    private final class ObjectBox {
        var className: String
        var arguments: [Node]
        var state: Node?
        var keys: [Node?] = []
        var values: [Node] = []
        init(className: String, arguments: [Node]) {
            self.className = className
            self.arguments = arguments
        }
    }
    private enum Box {
        case list(ListBox)
        case dict(DictBox)
        case object(ObjectBox)
    }

    private let bytes: UnsafeRawBufferPointer
    private var position: Int
    private var opcodeOffset = 0
    private let limits: PickleLimits
    private let resolveStorage: StorageResolver

    private var stack: [Node] = []
    private var marks: [Int] = []
    private var memo: [Int: Node] = [:]
    private var boxes: [Box] = []
    private var objectCount = 0

    /// Unpickles one pickle starting at `start` of `bytes`.
    /// - Returns: the value and the offset just past its `STOP`.
    /// - Throws: `PickleError` with the offset of the offending opcode.
    static func load(_ bytes: UnsafeRawBufferPointer, from start: Int, limits: PickleLimits,
                     resolveStorage: @escaping StorageResolver) throws -> (value: PickleValue, end: Int) {
        var unpickler = Unpickler(bytes: bytes, position: start, limits: limits, resolveStorage: resolveStorage)
        let node = try unpickler.run()
        var budget = 0
        let value = try unpickler.materialize(node, depth: 0, budget: &budget)
        return (value, unpickler.position)
    }

    private init(bytes: UnsafeRawBufferPointer, position: Int, limits: PickleLimits, resolveStorage: @escaping StorageResolver) {
        self.bytes = bytes
        self.position = position
        self.limits = limits
        self.resolveStorage = resolveStorage
    }

    // MARK: Reading bytes

    private func fail(_ reason: String) -> PickleError { PickleError(offset: opcodeOffset, reason: reason) }

    private mutating func take(_ count: Int, _ what: String) throws -> UnsafeRawBufferPointer {
        guard count >= 0, count <= bytes.count - position else {
            throw fail("\(what) needs \(count) bytes but only \(bytes.count - position) remain (truncated file?)")
        }
        defer { position += count }
        return UnsafeRawBufferPointer(rebasing: bytes[position..<(position + count)])
    }

    private mutating func byte(_ what: String) throws -> UInt8 { try take(1, what)[0] }

    private mutating func unsignedLittleEndian(_ count: Int, _ what: String) throws -> UInt64 {
        let raw = try take(count, what)
        var value: UInt64 = 0
        for i in 0..<count { value |= UInt64(raw[i]) << (8 * UInt64(i)) }
        return value
    }

    /// A length field, checked against the bytes left before anything is allocated.
    private mutating func length(_ count: Int, _ what: String) throws -> Int {
        let value = try unsignedLittleEndian(count, what + " length")
        guard value <= UInt64(bytes.count - position) else {
            throw fail("\(what) claims \(value) bytes but only \(bytes.count - position) remain")
        }
        return Int(value)
    }

    /// A text line (protocol 0 arguments), without its newline.
    private mutating func line(_ what: String) throws -> String {
        guard let newline = bytes[position...].firstIndex(of: UInt8(ascii: "\n")) else {
            throw fail("\(what): no end of line before the end of the data")
        }
        let raw = UnsafeRawBufferPointer(rebasing: bytes[position..<newline])
        position = newline + 1
        guard let text = String(bytes: raw, encoding: .utf8) else { throw fail("\(what) is not UTF-8 text") }
        return text
    }

    private func utf8(_ raw: UnsafeRawBufferPointer, _ what: String) throws -> String {
        guard let text = String(bytes: raw, encoding: .utf8) else { throw fail("\(what) is not valid UTF-8") }
        return text
    }

    // MARK: Stack

    private mutating func countObjects(_ n: Int = 1) throws {
        objectCount += n
        guard objectCount <= limits.maximumObjects else {
            throw fail("more than \(limits.maximumObjects) objects (PickleLimits.maximumObjects)")
        }
    }

    private mutating func push(_ node: Node) throws {
        try countObjects()
        stack.append(node)
    }

    /// Values above the innermost mark (pickle's metastack: a MARK hides what is below it).
    private var visibleCount: Int { stack.count - (marks.last ?? 0) }

    private mutating func pop(_ what: String) throws -> Node {
        guard visibleCount > 0 else { throw fail("\(what) needs a value but the stack is empty") }
        return stack.removeLast()
    }

    private func top(_ what: String) throws -> Node {
        guard visibleCount > 0, let node = stack.last else { throw fail("\(what) needs a value but the stack is empty") }
        return node
    }

    private mutating func popToMark(_ what: String) throws -> [Node] {
        guard let mark = marks.popLast() else { throw fail("\(what) without a MARK") }
        let items = Array(stack[mark...])
        stack.removeSubrange(mark...)
        return items
    }

    private func depth(of node: Node) -> Int {
        if case .tuple(_, let depth) = node { return depth }
        return 1
    }

    private mutating func makeTuple(_ items: [Node]) throws -> Node {
        let nesting = 1 + (items.map { self.depth(of: $0) }.max() ?? 0)
        guard nesting <= limits.maximumDepth else {
            throw fail("tuples nested deeper than \(limits.maximumDepth) levels (PickleLimits.maximumDepth)")
        }
        return .tuple(items, depth: nesting)
    }

    private mutating func newBox(_ box: Box) throws -> Node {
        try countObjects()
        boxes.append(box)
        return .box(boxes.count - 1)
    }

    private static func indexKey(_ node: Node) -> String? {
        switch node {
        case .value(.string(let text)): return "s" + text
        case .value(.integer(let value)): return "i\(value)"
        default: return nil
        }
    }

    private mutating func setItems(_ pairs: ArraySlice<Node>, on target: Node, _ what: String) throws {
        guard pairs.count % 2 == 0 else { throw fail("\(what) needs key/value pairs, got an odd number of items") }
        guard case .box(let index) = target else { throw fail("\(what) on a value that is not a dict") }
        try countObjects(pairs.count)
        var i = pairs.startIndex
        while i < pairs.endIndex {
            let key = pairs[i], value = pairs[i + 1]
            switch boxes[index] {
            case .dict(let dict):
                if let hashKey = Self.indexKey(key), let existing = dict.index[hashKey] {
                    dict.values[existing] = value
                } else {
                    if let hashKey = Self.indexKey(key) { dict.index[hashKey] = dict.keys.count }
                    dict.keys.append(key)
                    dict.values.append(value)
                }
            case .object(let object):
                object.keys.append(key)
                object.values.append(value)
            case .list:
                throw fail("\(what) on a list")
            }
            i += 2
        }
    }

    private mutating func appendItems(_ items: [Node], to target: Node, _ what: String) throws {
        guard case .box(let index) = target else { throw fail("\(what) on a value that is not a list") }
        try countObjects(items.count)
        switch boxes[index] {
        case .list(let list): list.items.append(contentsOf: items)
        case .object(let object):
            object.keys.append(contentsOf: [Node?](repeating: nil, count: items.count))
            object.values.append(contentsOf: items)
        case .dict: throw fail("\(what) on a dict")
        }
    }

    // MARK: The interpreter

    private mutating func run() throws -> Node {
        while true {
            opcodeOffset = position
            let opcode = try byte("opcode")
            switch opcode {
            case 0x80: // PROTO
                let version = try byte("protocol version")
                guard version <= 5 else { throw fail("pickle protocol \(version) is newer than 5") }
            case 0x95: // FRAME: only a hint for buffered readers
                _ = try length(8, "FRAME")
            case UInt8(ascii: "."): // STOP
                return try pop("STOP")
            case UInt8(ascii: "("): // MARK
                try countObjects()
                marks.append(stack.count)
            case UInt8(ascii: "0"): // POP
                if let mark = marks.last, stack.count == mark { marks.removeLast() } else { _ = try pop("POP") }
            case UInt8(ascii: "1"): // POP_MARK
                _ = try popToMark("POP_MARK")
            case UInt8(ascii: "2"): // DUP
                try push(try top("DUP"))

            // Scalars
            case UInt8(ascii: "N"): try push(.value(.none))
            case 0x88: try push(.value(.bool(true)))
            case 0x89: try push(.value(.bool(false)))
            case UInt8(ascii: "J"): // BININT
                try push(.value(.integer(Int64(Int32(truncatingIfNeeded: try unsignedLittleEndian(4, "BININT"))))))
            case UInt8(ascii: "K"): try push(.value(.integer(Int64(try byte("BININT1")))))
            case UInt8(ascii: "M"): try push(.value(.integer(Int64(try unsignedLittleEndian(2, "BININT2")))))
            case UInt8(ascii: "I"): // INT (text; 00/01 are False/True)
                let text = try line("INT")
                if text == "00" { try push(.value(.bool(false))) } else if text == "01" { try push(.value(.bool(true))) } else {
                    guard let value = Int64(text) else { throw fail("INT argument '\(text.prefix(40))' is not an integer") }
                    try push(.value(.integer(value)))
                }
            case UInt8(ascii: "L"): // LONG (text, trailing L)
                var text = try line("LONG")
                if text.hasSuffix("L") { text.removeLast() }
                guard let value = Int64(text) else { throw fail("LONG argument '\(text.prefix(40))' is not a 64-bit integer") }
                try push(.value(.integer(value)))
            case 0x8a: // LONG1
                let n = Int(try byte("LONG1 length"))
                try push(.value(Self.integer(fromLittleEndian: try take(n, "LONG1"))))
            case 0x8b: // LONG4
                let n = try length(4, "LONG4")
                try push(.value(Self.integer(fromLittleEndian: try take(n, "LONG4"))))
            case UInt8(ascii: "G"): // BINFLOAT (big-endian)
                let raw = try take(8, "BINFLOAT")
                var bits: UInt64 = 0
                for i in 0..<8 { bits = bits << 8 | UInt64(raw[i]) }
                try push(.value(.float(Double(bitPattern: bits))))
            case UInt8(ascii: "F"): // FLOAT (text)
                let text = try line("FLOAT")
                guard let value = Double(text) else { throw fail("FLOAT argument '\(text.prefix(40))' is not a number") }
                try push(.value(.float(value)))

            // Strings and bytes
            case UInt8(ascii: "X"): try push(.value(.string(try utf8(try take(try length(4, "BINUNICODE"), "BINUNICODE"), "BINUNICODE"))))
            case 0x8c: try push(.value(.string(try utf8(try take(try length(1, "SHORT_BINUNICODE"), "SHORT_BINUNICODE"), "SHORT_BINUNICODE"))))
            case 0x8d: try push(.value(.string(try utf8(try take(try length(8, "BINUNICODE8"), "BINUNICODE8"), "BINUNICODE8"))))
            case UInt8(ascii: "V"): try push(.value(.string(try line("UNICODE"))))
            case UInt8(ascii: "T"), UInt8(ascii: "U"): // BINSTRING, SHORT_BINSTRING (Python 2 str)
                let raw = try take(try length(opcode == UInt8(ascii: "T") ? 4 : 1, "BINSTRING"), "BINSTRING")
                if let text = String(bytes: raw, encoding: .utf8) { try push(.value(.string(text))) } else {
                    try push(.value(.bytes(Array(raw))))
                }
            case UInt8(ascii: "S"): // STRING (quoted text)
                let text = try line("STRING")
                guard text.count >= 2, let quote = text.first, quote == "'" || quote == "\"", text.last == quote else {
                    throw fail("STRING argument is not a quoted string")
                }
                try push(.value(.string(String(text.dropFirst().dropLast()))))
            case UInt8(ascii: "B"): try push(.value(.bytes(Array(try take(try length(4, "BINBYTES"), "BINBYTES")))))
            case UInt8(ascii: "C"): try push(.value(.bytes(Array(try take(try length(1, "SHORT_BINBYTES"), "SHORT_BINBYTES")))))
            case 0x8e, 0x96: try push(.value(.bytes(Array(try take(try length(8, "BINBYTES8"), "BINBYTES8")))))

            // Containers
            case UInt8(ascii: "]"): try push(try newBox(.list(ListBox())))
            case 0x8f: try push(try newBox(.list(ListBox()))) // EMPTY_SET
            case UInt8(ascii: "l"), 0x91: // LIST, FROZENSET
                let items = try popToMark("LIST")
                let list = ListBox()
                list.items = items
                try push(try newBox(.list(list)))
            case UInt8(ascii: "a"): // APPEND
                let item = try pop("APPEND")
                try appendItems([item], to: try top("APPEND"), "APPEND")
            case UInt8(ascii: "e"), 0x90: // APPENDS, ADDITEMS
                let items = try popToMark("APPENDS")
                try appendItems(items, to: try top("APPENDS"), "APPENDS")
            case UInt8(ascii: ")"): try push(try makeTuple([]))
            case UInt8(ascii: "t"): try push(try makeTuple(try popToMark("TUPLE")))
            case 0x85, 0x86, 0x87: // TUPLE1..3
                let n = Int(opcode - 0x84)
                guard visibleCount >= n else {
                    throw fail("TUPLE\(n) needs \(n) values on the stack")
                }
                let items = Array(stack.suffix(n))
                stack.removeLast(n)
                try push(try makeTuple(items))
            case UInt8(ascii: "}"): try push(try newBox(.dict(DictBox())))
            case UInt8(ascii: "d"): // DICT
                let items = try popToMark("DICT")
                let dict = try newBox(.dict(DictBox()))
                try setItems(items[...], on: dict, "DICT")
                try push(dict)
            case UInt8(ascii: "s"): // SETITEM
                let value = try pop("SETITEM"), key = try pop("SETITEM")
                try setItems([key, value][...], on: try top("SETITEM"), "SETITEM")
            case UInt8(ascii: "u"): // SETITEMS
                let items = try popToMark("SETITEMS")
                try setItems(items[...], on: try top("SETITEMS"), "SETITEMS")

            // Memo
            case UInt8(ascii: "p"):
                guard let index = Int(try line("PUT")) else { throw fail("PUT index is not an integer") }
                try memoize(index)
            case UInt8(ascii: "q"): try memoize(Int(try byte("BINPUT")))
            case UInt8(ascii: "r"): try memoize(Int(try unsignedLittleEndian(4, "LONG_BINPUT")))
            case 0x94: try memoize(memo.count) // MEMOIZE
            case UInt8(ascii: "g"):
                guard let index = Int(try line("GET")) else { throw fail("GET index is not an integer") }
                try recall(index)
            case UInt8(ascii: "h"): try recall(Int(try byte("BINGET")))
            case UInt8(ascii: "j"): try recall(Int(try unsignedLittleEndian(4, "LONG_BINGET")))

            // Classes and objects: named, never imported or called
            case UInt8(ascii: "c"): // GLOBAL
                let module = try line("GLOBAL module"), name = try line("GLOBAL name")
                try push(.global(module + "." + name))
            case 0x93: // STACK_GLOBAL
                guard case .value(.string(let name)) = try pop("STACK_GLOBAL"),
                      case .value(.string(let module)) = try pop("STACK_GLOBAL") else {
                    throw fail("STACK_GLOBAL needs a module and a name string")
                }
                try push(.global(module + "." + name))
            case UInt8(ascii: "R"): // REDUCE
                let arguments = try pop("REDUCE"), callable = try pop("REDUCE")
                guard case .tuple(let items, _) = arguments else { throw fail("REDUCE arguments are not a tuple") }
                try push(try call(callable, items))
            case 0x81: // NEWOBJ
                let arguments = try pop("NEWOBJ"), cls = try pop("NEWOBJ")
                guard case .tuple(let items, _) = arguments else { throw fail("NEWOBJ arguments are not a tuple") }
                try push(try instantiate(cls, items, "NEWOBJ"))
            case 0x92: // NEWOBJ_EX (keyword arguments are kept out of the record)
                _ = try pop("NEWOBJ_EX")
                let arguments = try pop("NEWOBJ_EX"), cls = try pop("NEWOBJ_EX")
                guard case .tuple(let items, _) = arguments else { throw fail("NEWOBJ_EX arguments are not a tuple") }
                try push(try instantiate(cls, items, "NEWOBJ_EX"))
            case UInt8(ascii: "i"): // INST
                let module = try line("INST module"), name = try line("INST name")
                let items = try popToMark("INST")
                try push(try instantiate(.global(module + "." + name), items, "INST"))
            case UInt8(ascii: "o"): // OBJ
                var items = try popToMark("OBJ")
                guard !items.isEmpty else { throw fail("OBJ without a class") }
                let cls = items.removeFirst()
                try push(try instantiate(cls, items, "OBJ"))
            case UInt8(ascii: "b"): // BUILD
                let state = try pop("BUILD")
                try build(try top("BUILD"), state: state)
            case UInt8(ascii: "P"): // PERSID
                try push(try persistentLoad(.value(.string(try line("PERSID")))))
            case UInt8(ascii: "Q"): // BINPERSID
                try push(try persistentLoad(try pop("BINPERSID")))
            case 0x82, 0x83, 0x84:
                throw fail("opcode EXT\(opcode - 0x81) uses the copyreg extension registry, which checkpoints never need; refused")
            case 0x97, 0x98:
                throw fail("out-of-band buffers (NEXT_BUFFER/READONLY_BUFFER) are not supported")
            default:
                throw fail(String(format: "unknown pickle opcode 0x%02x; the file is not a pickle or is damaged", opcode))
            }
        }
    }

    private mutating func memoize(_ index: Int) throws {
        guard index >= 0 else { throw fail("negative memo index") }
        let node = try top("memo store")
        try countObjects()
        memo[index] = node
    }

    private mutating func recall(_ index: Int) throws {
        guard let node = memo[index] else { throw fail("memo entry \(index) was never stored") }
        try push(node)
    }

    private static func integer(fromLittleEndian raw: UnsafeRawBufferPointer) -> PickleValue {
        if raw.isEmpty { return .integer(0) }
        if raw.count <= 8 {
            var value: UInt64 = 0
            for i in 0..<raw.count { value |= UInt64(raw[i]) << (8 * UInt64(i)) }
            if raw.count < 8, raw[raw.count - 1] & 0x80 != 0 { value |= ~0 << (8 * UInt64(raw.count)) } // sign-extend
            return .integer(Int64(bitPattern: value))
        }
        return .largeInteger(Array(raw))
    }

    // MARK: Calls, as data

    private func scalarInteger(_ node: Node) -> Int? {
        if case .value(.integer(let value)) = node, let int = Int(exactly: value) { return int }
        return nil
    }

    private func integerTuple(_ node: Node) -> [Int]? {
        guard case .tuple(let items, _) = node else { return nil }
        var result: [Int] = []
        for item in items {
            guard let value = scalarInteger(item) else { return nil }
            result.append(value)
        }
        return result
    }

    private mutating func call(_ callable: Node, _ arguments: [Node]) throws -> Node {
        guard case .global(let name) = callable else {
            throw fail("REDUCE calls something that is not a class or function name")
        }
        switch name {
        case "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor":
            guard arguments.count >= 4, case .storage(let storage) = arguments[0],
                  let offset = scalarInteger(arguments[1]), let shape = integerTuple(arguments[2]),
                  let stride = integerTuple(arguments[3]) else {
                throw fail("\(name) needs (storage, offset, size tuple, stride tuple, …)")
            }
            do {
                return .tensor(try TorchTensor.validated(storage: storage, offset: offset, shape: shape, stride: stride,
                                                         maximumElements: limits.maximumTensorElements))
            } catch let error as TensorGeometryError {
                throw fail("tensor on storage \(storage.key): \(error.reason)")
            }
        case "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state":
            guard let first = arguments.first, case .tensor(var tensor) = first else {
                throw fail("\(name) needs a tensor as its first argument")
            }
            tensor.isParameter = true
            return .tensor(tensor)
        case "collections.OrderedDict", "builtins.dict", "__builtin__.dict":
            let dict = try newBox(.dict(DictBox()))
            if let first = arguments.first, case .box(let index) = first, case .list(let list) = boxes[index] {
                var pairs: [Node] = []
                for item in list.items {
                    guard case .tuple(let pair, _) = item, pair.count == 2 else { throw fail("\(name) items are not pairs") }
                    pairs += pair
                }
                try setItems(pairs[...], on: dict, name)
            }
            return dict
        case "builtins.set", "builtins.frozenset", "__builtin__.set", "__builtin__.frozenset":
            let list = ListBox()
            if let first = arguments.first {
                switch first {
                case .box(let index):
                    if case .list(let source) = boxes[index] { list.items = source.items }
                case .tuple(let items, _): list.items = items
                default: break
                }
            }
            try countObjects(list.items.count)
            return try newBox(.list(list))
        case "copyreg._reconstructor", "copy_reg._reconstructor":
            guard let cls = arguments.first, case .global(let className) = cls else {
                throw fail("copyreg._reconstructor needs a class as its first argument")
            }
            return try newBox(.object(ObjectBox(className: className, arguments: Array(arguments.dropFirst()))))
        default:
            return try newBox(.object(ObjectBox(className: name, arguments: arguments)))
        }
    }

    private mutating func instantiate(_ cls: Node, _ arguments: [Node], _ what: String) throws -> Node {
        guard case .global(let name) = cls else { throw fail("\(what) on something that is not a class name") }
        if ["collections.OrderedDict", "builtins.dict"].contains(name) { return try call(cls, arguments) }
        if ["builtins.set", "builtins.frozenset"].contains(name) { return try call(cls, arguments) }
        return try newBox(.object(ObjectBox(className: name, arguments: arguments)))
    }

    private mutating func build(_ target: Node, state: Node) throws {
        switch target {
        case .box(let index):
            switch boxes[index] {
            case .object(let object): object.state = state
            case .dict, .list: break // attributes of a dict subclass (a state dict's `_metadata`): not data we use
            }
        case .tensor: break // `_rebuild_parameter_with_state`'s attributes
        default:
            throw fail("BUILD on a value that is not an object")
        }
    }

    private mutating func persistentLoad(_ id: Node) throws -> Node {
        var budget = 0
        let value = try materialize(id, depth: 0, budget: &budget)
        // The legacy format saves the class of a pickled nn.Module as ('module', class, source file,
        // source text), to warn when the source changed; only the class name matters here.
        if let parts = value.elements, parts.count >= 2, parts[0] == .string("module"), case .global(let name) = parts[1] {
            return .global(name)
        }
        do {
            return .storage(try resolveStorage(value))
        } catch let error as PersistentIDError {
            throw fail(error.reason)
        }
    }

    // MARK: The result

    private func materialize(_ node: Node, depth: Int, budget: inout Int) throws -> PickleValue {
        guard depth <= limits.maximumDepth else {
            throw fail("the result nests deeper than \(limits.maximumDepth) levels or refers to itself (PickleLimits.maximumDepth)")
        }
        budget += 1
        guard objectCount + budget <= limits.maximumObjects else {
            throw fail("the result has more than \(limits.maximumObjects) values (PickleLimits.maximumObjects)")
        }
        switch node {
        case .value(let value): return value
        case .tuple(let items, _): return .tuple(try items.map { try materialize($0, depth: depth + 1, budget: &budget) })
        case .global(let name): return .global(name)
        case .tensor(let tensor): return .tensor(tensor)
        case .storage(let storage): return .object(PickleObject(className: storage.dtype.storageClass, arguments: [.string(storage.key)]))
        case .box(let index):
            switch boxes[index] {
            case .list(let list):
                return .list(try list.items.map { try materialize($0, depth: depth + 1, budget: &budget) })
            case .dict(let dict):
                var entries: [PickleValue.DictionaryEntry] = []
                entries.reserveCapacity(dict.keys.count)
                for (key, value) in zip(dict.keys, dict.values) {
                    entries.append(.init(key: try materialize(key, depth: depth + 1, budget: &budget),
                                         value: try materialize(value, depth: depth + 1, budget: &budget)))
                }
                return .dictionary(entries)
            case .object(let object):
                var record = PickleObject(className: object.className)
                record.arguments = try object.arguments.map { try materialize($0, depth: depth + 1, budget: &budget) }
                record.state = try object.state.map { try materialize($0, depth: depth + 1, budget: &budget) }
                for (key, value) in zip(object.keys, object.values) {
                    record.items.append(.init(key: try key.map { try materialize($0, depth: depth + 1, budget: &budget) } ?? .none,
                                              value: try materialize(value, depth: depth + 1, budget: &budget)))
                }
                return .object(record)
            }
        }
    }
}

/// A persistent id the caller cannot resolve (thrown by a `StorageResolver`).
struct PersistentIDError: Error {
    var reason: String
}
