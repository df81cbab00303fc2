import Foundation
import TensorCore

/// A problem restoring optimizer state from a checkpoint.
public struct OptimizerStateError: Error, CustomStringConvertible, Equatable {
    /// The file (or source description) the state came from.
    public var file: String
    /// What is wrong, naming the tensors involved.
    public var problems: [String]

    /// An error for the state read from `file`.
    public init(file: String, problems: [String]) {
        self.file = file
        self.problems = problems
    }

    public var description: String {
        "optimizer state in \(file) does not fit this optimizer:\n  " + problems.joined(separator: "\n  ")
            + "\n  resume with the same trainable parameters and optimizer kind, or start the optimizer afresh"
    }
}

/// Something that updates a caller-chosen list of parameters from their accumulated gradients.
///
/// Per-parameter state is keyed by the parameter's `state_dict` name, so it survives rebuilding the model
/// and can be saved beside the weights. Parameters whose gradient is nil in a step are skipped entirely
/// (no state change, no weight decay), as in PyTorch.
public protocol Optimizer: AnyObject {
    /// The parameters this optimizer updates, in the caller's order.
    var parameters: [Parameter] { get }
    /// The learning rate (mutable for schedules).
    var learningRate: Double { get set }
    /// Applies one update from the current gradients.
    func step()
    /// The per-parameter state as named tensors, plus the optimizer kind and hyperparameters as metadata.
    func exportState() -> SafeTensorsFile
    /// Restores state exported by `exportState()` so that training resumes exactly.
    /// - Throws: `OptimizerStateError` naming every unknown, mis-shaped or incomplete entry.
    func importState(_ file: SafeTensorsFile) throws
}

extension Optimizer {
    /// Drops the gradients of this optimizer's parameters.
    public func zeroGradients() { for parameter in parameters { parameter.zeroGradient() } }
}

/// Adam with PyTorch's exact semantics (`torch.optim.Adam`, single-tensor path, amsgrad off).
///
/// Per parameter with gradient g at step t (t counted per parameter):
///
///     g ← g + λ·p                                 (L2 weight decay, unless decoupled)
///     p ← p·(1 − lr·λ)                            (decoupled weight decay = AdamW, instead of the line above)
///     m ← m + (1 − β1)·(g − m)                    (torch's lerp form of β1·m + (1 − β1)·g)
///     v ← β2·v + (1 − β2)·g²
///     p ← p − lr/(1 − β1^t) · m / (√v / √(1 − β2^t) + ε)
///
/// The bias corrections are computed in Double and rounded once, as PyTorch does with Python floats.
/// State names: `<param>.exp_avg`, `<param>.exp_avg_sq` (F32) and `<param>.step` (I64 scalar).
public final class Adam: Optimizer {
    public let parameters: [Parameter]
    public var learningRate: Double
    /// β1, β2.
    public let betas: (Double, Double)
    /// ε added to the denominator.
    public let epsilon: Double
    /// λ.
    public var weightDecay: Double
    /// Whether weight decay shrinks the weights directly (AdamW) instead of entering the gradient (Adam).
    public let decoupledWeightDecay: Bool

    struct Slot {
        var exponentialAverage: Tensor
        var exponentialAverageOfSquares: Tensor
        var step: Int64
    }

    private var slots: [String: Slot] = [:]

    /// An optimizer over `parameters` (the trainable set chosen by the caller; names must be unique).
    /// Hyperparameters are Doubles, like PyTorch's Python floats, so derived constants round the same way.
    public init(parameters: [Parameter], learningRate: Double, betas: (Double, Double) = (0.9, 0.999),
                epsilon: Double = 1e-8, weightDecay: Double = 0, decoupledWeightDecay: Bool = false) {
        precondition(Set(parameters.map(\.name)).count == parameters.count, "Adam: duplicate parameter names")
        self.parameters = parameters
        self.learningRate = learningRate
        self.betas = betas
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        self.decoupledWeightDecay = decoupledWeightDecay
    }

    /// The step count of a parameter (0 before its first update).
    public func stepCount(of parameter: Parameter) -> Int64 { slots[parameter.name]?.step ?? 0 }

    public func step() {
        let lr = learningRate, beta1 = betas.0, beta2 = betas.1
        for parameter in parameters {
            guard let gradient = parameter.gradient else { continue }
            precondition(gradient.shape == parameter.value.shape,
                         "Adam: gradient \(gradient.shape) vs parameter \(parameter.name) \(parameter.value.shape)")
            var slot = slots.removeValue(forKey: parameter.name) ?? Slot(
                exponentialAverage: Tensor(shape: parameter.value.shape),
                exponentialAverageOfSquares: Tensor(shape: parameter.value.shape), step: 0)
            slot.step += 1
            let t = Double(slot.step)
            let stepSize = Float(lr / (1 - FixedMath.pow(beta1, t)))
            let correction2Root = Float((1 - FixedMath.pow(beta2, t)).squareRoot())
            let decay = decoupledWeightDecay ? Float(0) : Float(weightDecay)
            let shrink = decoupledWeightDecay ? Float(1 - lr * weightDecay) : 1
            let oneMinusBeta1 = Float(1 - beta1), b2 = Float(beta2), oneMinusBeta2 = Float(1 - beta2)
            let eps = Float(epsilon)
            gradient.withUnsafeBufferPointer { gBuffer in
                slot.exponentialAverage.withUnsafeMutableBufferPointer { mBuffer in
                    slot.exponentialAverageOfSquares.withUnsafeMutableBufferPointer { vBuffer in
                        parameter.value.withUnsafeMutableBufferPointer { pBuffer in
                            let g = gBuffer.baseAddress!, m = mBuffer.baseAddress!, v = vBuffer.baseAddress!
                            let p = pBuffer.baseAddress!
                            parallelChunks(pBuffer.count, minimumChunk: 1 << 14) { range in
                                for i in range {
                                    if shrink != 1 { p[i] *= shrink }
                                    let gi = decay != 0 ? g[i] + decay * p[i] : g[i]
                                    m[i] += oneMinusBeta1 * (gi - m[i])
                                    v[i] = v[i] * b2 + oneMinusBeta2 * gi * gi
                                    let denominator = v[i].squareRoot() / correction2Root + eps
                                    p[i] += (-stepSize * m[i]) / denominator  // torch's addcdiv order
                                }
                            }
                        }
                    }
                }
            }
            slots[parameter.name] = slot
        }
    }

    public func exportState() -> SafeTensorsFile {
        var file = SafeTensorsFile(metadata: [
            "optimizer": decoupledWeightDecay ? "AdamW" : "Adam",
            "lr": "\(learningRate)", "betas": "\(betas.0),\(betas.1)", "eps": "\(epsilon)",
            "weight_decay": "\(weightDecay)",
        ])
        for (name, slot) in slots {
            file.tensors[name + ".exp_avg"] = slot.exponentialAverage
            file.tensors[name + ".exp_avg_sq"] = slot.exponentialAverageOfSquares
            file.integerTensors[name + ".step"] = IntegerTensor(scalar: slot.step)
        }
        return file
    }

    public func importState(_ file: SafeTensorsFile) throws {
        let kind = decoupledWeightDecay ? "AdamW" : "Adam"
        var problems: [String] = []
        if let stored = file.metadata["optimizer"], stored != kind {
            problems.append("the state was written by \(stored), this optimizer is \(kind)")
        }
        var restored: [String: Slot] = [:]
        var known = Set<String>()
        for parameter in parameters {
            let name = parameter.name
            let keys = [name + ".exp_avg", name + ".exp_avg_sq", name + ".step"]
            known.formUnion(keys)
            let m = file.tensors[keys[0]], v = file.tensors[keys[1]], step = file.integerTensors[keys[2]]
            if m == nil && v == nil && step == nil { continue }  // never updated: fresh state
            guard let m, let v, let step else {
                problems.append("\(name): incomplete state (needs exp_avg, exp_avg_sq and step)")
                continue
            }
            if m.shape != parameter.value.shape || v.shape != parameter.value.shape {
                problems.append("\(name): state shapes \(m.shape), \(v.shape) vs parameter \(parameter.value.shape)")
                continue
            }
            guard step.shape == [], step.scalars[0] >= 1 else {
                problems.append("\(name): step must be an I64 scalar ≥ 1, got shape \(step.shape) \(step.scalars)")
                continue
            }
            restored[name] = Slot(exponentialAverage: m, exponentialAverageOfSquares: v, step: step.scalars[0])
        }
        let unknown = file.names.filter { !known.contains($0) }
        if !unknown.isEmpty { problems.append("entries for parameters not in this optimizer: " + unknown.joined(separator: ", ")) }
        guard problems.isEmpty else { throw OptimizerStateError(file: file.source, problems: problems) }
        slots = restored
    }
}

/// SGD with momentum, PyTorch semantics (`torch.optim.SGD`, dampening 0):
///
///     g ← g + λ·p                       (L2 weight decay)
///     b ← g on the first step, else μ·b + g
///     g ← g + μ·b if nesterov, else b
///     p ← p − lr·g
///
/// State name: `<param>.momentum_buffer` (F32). Without momentum there is no state.
public final class SGD: Optimizer {
    public let parameters: [Parameter]
    public var learningRate: Double
    /// μ.
    public let momentum: Double
    /// λ.
    public var weightDecay: Double
    /// Nesterov momentum.
    public let nesterov: Bool

    private var buffers: [String: Tensor] = [:]

    /// An optimizer over `parameters` (the trainable set chosen by the caller; names must be unique).
    public init(parameters: [Parameter], learningRate: Double, momentum: Double = 0, weightDecay: Double = 0,
                nesterov: Bool = false) {
        precondition(Set(parameters.map(\.name)).count == parameters.count, "SGD: duplicate parameter names")
        precondition(!nesterov || momentum > 0, "SGD: nesterov needs a positive momentum")
        self.parameters = parameters
        self.learningRate = learningRate
        self.momentum = momentum
        self.weightDecay = weightDecay
        self.nesterov = nesterov
    }

    public func step() {
        let lr = Float(learningRate), mu = Float(momentum), decay = Float(weightDecay), nesterov = nesterov
        for parameter in parameters {
            guard let gradient = parameter.gradient else { continue }
            precondition(gradient.shape == parameter.value.shape,
                         "SGD: gradient \(gradient.shape) vs parameter \(parameter.name) \(parameter.value.shape)")
            let first = buffers[parameter.name] == nil
            var buffer = buffers.removeValue(forKey: parameter.name) ?? Tensor(shape: parameter.value.shape)
            gradient.withUnsafeBufferPointer { gBuffer in
                buffer.withUnsafeMutableBufferPointer { bBuffer in
                    parameter.value.withUnsafeMutableBufferPointer { pBuffer in
                        let g = gBuffer.baseAddress!, b = bBuffer.baseAddress!, p = pBuffer.baseAddress!
                        parallelChunks(pBuffer.count, minimumChunk: 1 << 14) { range in
                            for i in range {
                                var gi = decay != 0 ? g[i] + decay * p[i] : g[i]
                                if mu != 0 {
                                    b[i] = first ? gi : b[i] * mu + gi
                                    gi = nesterov ? gi + mu * b[i] : b[i]
                                }
                                p[i] -= lr * gi
                            }
                        }
                    }
                }
            }
            if mu != 0 { buffers[parameter.name] = buffer }
        }
    }

    public func exportState() -> SafeTensorsFile {
        var file = SafeTensorsFile(metadata: [
            "optimizer": "SGD", "lr": "\(learningRate)", "momentum": "\(momentum)",
            "weight_decay": "\(weightDecay)", "nesterov": "\(nesterov)",
        ])
        for (name, buffer) in buffers { file.tensors[name + ".momentum_buffer"] = buffer }
        return file
    }

    public func importState(_ file: SafeTensorsFile) throws {
        var problems: [String] = []
        if let stored = file.metadata["optimizer"], stored != "SGD" {
            problems.append("the state was written by \(stored), this optimizer is SGD")
        }
        var restored: [String: Tensor] = [:]
        var known = Set<String>()
        for parameter in parameters {
            let key = parameter.name + ".momentum_buffer"
            known.insert(key)
            guard let buffer = file.tensors[key] else { continue }
            if buffer.shape != parameter.value.shape {
                problems.append("\(parameter.name): momentum buffer \(buffer.shape) vs parameter \(parameter.value.shape)")
            } else {
                restored[parameter.name] = buffer
            }
        }
        let unknown = file.names.filter { !known.contains($0) }
        if !unknown.isEmpty { problems.append("entries for parameters not in this optimizer: " + unknown.joined(separator: ", ")) }
        guard problems.isEmpty else { throw OptimizerStateError(file: file.source, problems: problems) }
        buffers = restored
    }
}
