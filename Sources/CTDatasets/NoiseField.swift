import TensorCore

/// Smooth value noise rendered over a whole square image: lattice values in [-1, 1] from a seeded generator,
/// interpolated with a smoothstep. Octaves are summed (fractal noise). Used for tissue texture and lesion
/// outlines in the synthetic CT generator; the lattice is defined on the unit square, so the same seed gives
/// the same pattern at every image size.
struct NoiseField {
    /// (cells per side, amplitude) per octave.
    let octaves: [(cells: Int, amplitude: Float)]
    private let lattices: [[Float]]

    init(octaves: [(cells: Int, amplitude: Float)], generator: inout SeededGenerator) {
        self.octaves = octaves
        lattices = octaves.map { octave in
            let side = octave.cells + 1
            return (0..<(side * side)).map { _ in generator.nextUniform() * 2 - 1 }
        }
    }

    /// The field sampled at the pixel centres of a `size × size` image, row-major.
    func render(size: Int) -> [Float] {
        var out = [Float](repeating: 0, count: size * size)
        out.withUnsafeMutableBufferPointer { target in
            for (octave, lattice) in zip(octaves, lattices) {
                let cells = octave.cells, side = cells + 1
                // Per-axis cell index and smoothstep weight, shared by rows and columns.
                var index = [Int](repeating: 0, count: size)
                var weight = [Float](repeating: 0, count: size)
                for i in 0..<size {
                    let t = (Float(i) + 0.5) / Float(size) * Float(cells)
                    let cell = min(Int(t), cells - 1)
                    let f = t - Float(cell)
                    index[i] = cell
                    weight[i] = f * f * (3 - 2 * f)
                }
                lattice.withUnsafeBufferPointer { grid in
                    for row in 0..<size {
                        let cy = index[row], wy = weight[row]
                        let top = cy * side, bottom = (cy + 1) * side
                        let base = row * size
                        for column in 0..<size {
                            let cx = index[column], wx = weight[column]
                            let a = grid[top + cx] + wx * (grid[top + cx + 1] - grid[top + cx])
                            let b = grid[bottom + cx] + wx * (grid[bottom + cx + 1] - grid[bottom + cx])
                            target[base + column] += octave.amplitude * (a + wy * (b - a))
                        }
                    }
                }
            }
        }
        return out
    }
}

extension NoiseField {
    /// The field at one point of the unit square (clamped to it); for small regions such as one lesion.
    func value(x: Float, y: Float) -> Float {
        var total: Float = 0
        let px = min(max(x, 0), 1), py = min(max(y, 0), 1)
        for (octave, lattice) in zip(octaves, lattices) {
            let cells = octave.cells, side = cells + 1
            let tx = px * Float(cells), ty = py * Float(cells)
            let cx = min(Int(tx), cells - 1), cy = min(Int(ty), cells - 1)
            var fx = tx - Float(cx), fy = ty - Float(cy)
            fx = fx * fx * (3 - 2 * fx)
            fy = fy * fy * (3 - 2 * fy)
            let a = lattice[cy * side + cx] + fx * (lattice[cy * side + cx + 1] - lattice[cy * side + cx])
            let b = lattice[(cy + 1) * side + cx] + fx * (lattice[(cy + 1) * side + cx + 1] - lattice[(cy + 1) * side + cx])
            total += octave.amplitude * (a + fy * (b - a))
        }
        return total
    }
}
