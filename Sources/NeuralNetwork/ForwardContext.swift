/// How BatchNorm layers behave in a forward pass (spec §2.3, §5.4, Appendix D/B11).
public enum BatchNormMode: Sendable {
    /// Batch statistics; running statistics updated with momentum 0.1 unless the context says not to.
    case training
    /// Running statistics; no update. With a tape, gradients still reach the input and, when the affine
    /// parameters require gradients, γ and β — which is the "frozen statistics, trainable affine" mode
    /// of the classifier.
    case evaluation
}

/// Everything a forward pass needs besides the inputs: the tape (nil for inference) and the modes.
public struct ForwardContext {
    /// The tape recording this pass, or nil for a pass without gradients.
    public var tape: GradientTape?
    /// How BatchNorm behaves.
    public var batchNormMode: BatchNormMode
    /// Whether training-mode BatchNorm updates its running statistics (off for validation passes,
    /// Appendix D/B11).
    public var updatesRunningStatistics: Bool

    public init(tape: GradientTape?, batchNormMode: BatchNormMode, updatesRunningStatistics: Bool = true) {
        self.tape = tape
        self.batchNormMode = batchNormMode
        self.updatesRunningStatistics = updatesRunningStatistics
    }

    /// Inference: no tape, running statistics.
    public static var inference: ForwardContext { ForwardContext(tape: nil, batchNormMode: .evaluation) }

    /// Training with batch statistics on a fresh tape.
    public static func training(tape: GradientTape) -> ForwardContext {
        ForwardContext(tape: tape, batchNormMode: .training)
    }

    /// The variable for a parameter in this pass (tracked only when recording and it needs a gradient).
    public func variable(_ parameter: Parameter) -> Variable {
        tape?.variable(parameter) ?? Variable(parameter.value)
    }
}
