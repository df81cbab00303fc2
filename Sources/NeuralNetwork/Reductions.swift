import TensorCore

// Differentiable reductions used to compose losses (total = Σ of the five Mask R-CNN losses, weighted
// terms). Each backward sits right after its forward.

/// Sum of all elements. `x`: any shape → scalar `[]`. ∂/∂x = upstream gradient broadcast to every element.
public func sum(_ x: Variable) -> Variable {
    let shape = x.shape
    return Variable.result(Tensor(scalar: x.value.sum()), inputs: [x]) { gradOutput in
        [Tensor(shape: shape, repeating: gradOutput.scalar)]
    }
}

/// Mean of all elements. `x`: any shape with at least one element → scalar `[]`.
public func mean(_ x: Variable) -> Variable {
    let shape = x.shape, count = x.value.count
    precondition(count > 0, "mean: empty tensor of shape \(shape)")
    return Variable.result(Tensor(scalar: x.value.sum() / Float(count)), inputs: [x]) { gradOutput in
        [Tensor(shape: shape, repeating: gradOutput.scalar / Float(count))]
    }
}

/// Elementwise sum of variables that all have the same shape (for example the scalar losses of a model).
/// Named `addVariables` so that it cannot collide with the binary `add(_:_:)` op.
public func addVariables(_ terms: [Variable]) -> Variable {
    precondition(!terms.isEmpty, "addVariables: no terms")
    let shape = terms[0].shape
    for term in terms {
        precondition(term.shape == shape, "addVariables: shape \(term.shape) vs \(shape)")
    }
    var total = terms[0].value
    for term in terms.dropFirst() { total.add(term.value) }
    let termCount = terms.count
    return Variable.result(total, inputs: terms) { gradOutput in
        Array(repeating: gradOutput, count: termCount)
    }
}

extension Variable {
    /// This variable times a constant (same shape). ∂/∂x = factor · upstream gradient.
    public func scaled(by factor: Float) -> Variable {
        Variable.result(value * factor, inputs: [self]) { gradOutput in [gradOutput * factor] }
    }
}
