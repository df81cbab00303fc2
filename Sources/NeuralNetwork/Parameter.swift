import TensorCore

/// A named tensor of a model: a trainable weight or a buffer (BatchNorm running statistics).
///
/// Names are torchvision `state_dict` keys (`backbone.body.layer1.0.conv1.weight`), so one naming
/// serves checkpoints, gradients, optimizer state and fixtures.
public final class Parameter {
    /// The `state_dict` key.
    public let name: String
    /// Current value.
    public var value: Tensor
    /// Accumulated gradient, allocated on the first backward pass that reaches this parameter.
    public var gradient: Tensor?
    /// Whether this tensor is learned (false for buffers such as `running_mean`).
    public let isTrainable: Bool
    /// Whether backward passes accumulate a gradient for it (set by the caller's trainable set;
    /// frozen weights still pass gradients through to earlier layers, but get no buffer of their own).
    public var requiresGradient: Bool

    public init(name: String, value: Tensor, isTrainable: Bool = true) {
        self.name = name
        self.value = value
        self.isTrainable = isTrainable
        self.requiresGradient = isTrainable
    }

    /// Adds `delta` into the gradient buffer (allocating it on first use).
    public func accumulateGradient(_ delta: Tensor) {
        precondition(delta.shape == value.shape,
                     "gradient shape \(delta.shape) does not match parameter \(name) shape \(value.shape)")
        if gradient == nil {
            gradient = delta
        } else {
            gradient!.add(delta)
        }
    }

    /// Drops the gradient buffer.
    public func zeroGradient() { gradient = nil }
}

/// All tensors of a model by `state_dict` key, in registration order; plus integer buffers
/// (`num_batches_tracked`), which PyTorch stores as int64.
public final class ParameterStore {
    public private(set) var parameters: [Parameter] = []
    private var indexByName: [String: Int] = [:]
    /// Int64 scalars such as `bn1.num_batches_tracked`, by key.
    public var integerBuffers: [String: Int64] = [:]
    /// Keys of `integerBuffers` in registration order.
    public private(set) var integerBufferNames: [String] = []

    public init() {}

    /// Registers a tensor under a new key; registering a key twice is a programming error.
    @discardableResult
    public func register(_ name: String, _ value: Tensor, trainable: Bool = true) -> Parameter {
        precondition(indexByName[name] == nil, "parameter \(name) registered twice")
        let parameter = Parameter(name: name, value: value, isTrainable: trainable)
        indexByName[name] = parameters.count
        parameters.append(parameter)
        return parameter
    }

    /// Registers an int64 scalar buffer.
    public func registerInteger(_ name: String, _ value: Int64 = 0) {
        precondition(integerBuffers[name] == nil, "integer buffer \(name) registered twice")
        integerBuffers[name] = value
        integerBufferNames.append(name)
    }

    /// The parameter under `name`, if any.
    public subscript(name: String) -> Parameter? {
        indexByName[name].map { parameters[$0] }
    }

    /// The learned tensors (no buffers).
    public var trainableParameters: [Parameter] { parameters.filter(\.isTrainable) }

    /// Number of learned scalars.
    public var trainableCount: Int { trainableParameters.reduce(0) { $0 + $1.value.count } }

    /// Number of scalars in all float tensors, buffers included (PyTorch's state-dict element count
    /// without the int64 `num_batches_tracked` scalars).
    public var stateCount: Int { parameters.reduce(0) { $0 + $1.value.count } }

    /// Drops every gradient buffer.
    public func zeroGradients() { for p in parameters { p.zeroGradient() } }

    /// Chooses which trainable parameters accumulate gradients; all others become frozen.
    public func setTrainable(where predicate: (Parameter) -> Bool) {
        for p in parameters { p.requiresGradient = p.isTrainable && predicate(p) }
    }
}

/// A naming scope used while building a model: `scope.child("layer1").child("0")` names
/// parameters `…layer1.0.<name>`.
public struct ParameterScope {
    public let store: ParameterStore
    public let prefix: String

    public init(store: ParameterStore, prefix: String = "") {
        self.store = store
        self.prefix = prefix
    }

    /// A scope one level deeper.
    public func child(_ component: String) -> ParameterScope {
        ParameterScope(store: store, prefix: key(component))
    }

    /// The full key for a local name.
    public func key(_ name: String) -> String { prefix.isEmpty ? name : prefix + "." + name }

    /// Registers a tensor under this scope.
    @discardableResult
    public func register(_ name: String, _ value: Tensor, trainable: Bool = true) -> Parameter {
        store.register(key(name), value, trainable: trainable)
    }
}
