import Foundation
import Synchronization

/// 3×3, stride-1, undilated convolutions by Winograd's minimal filtering F(4×4, 3×3)
/// (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", CVPR 2016).
///
/// Each 4×4 block of output pixels ("tile") comes from the 6×6 input patch under it. In the transformed
/// space the 3×3 correlation becomes an elementwise product over 36 points,
/// Y = Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A, and the sum over input channels turns the 36 products into 36
/// independent GEMMs `U[ξ] (O×C) · V[ξ] (C×tiles)`: 36 multiply-adds per 16 outputs instead of 144,
/// a quarter of im2col's GEMM work. This is why PyTorch's CPU convolutions (oneDNN's Winograd kernels)
/// beat the sgemm ceiling that bounds any im2col convolution; no GEMM tuning alone reaches them.
///
/// The weight gradient uses the dual algorithm F(3×3, 4×4), obtained from the forward one by the
/// transposition principle: dW = Gᵀ[Σ_tiles (A u Aᵀ) ⊙ (Bᵀ d B)]G with u the 4×4 output-gradient tile,
/// so it shares the input transform and again reduces to 36 GEMMs. The input gradient of a stride-1
/// convolution is itself a 3×3 stride-1 convolution (flipped kernel), so it runs through `forward`.
///
/// The transforms are vectorised across the tiles of a tile row. A tile row's image rows are first
/// gathered "phase-major" (element x of a row goes to phase x mod 4, slot x / 4), so that the i-th
/// value of every tile in the row is one contiguous vector; both passes of each 2-D transform are then
/// plain SIMD arithmetic. Tiles are processed in chunks of whole tile rows sized so that a chunk's
/// transformed input and output stay a few MiB (`chunkBytes`): the mask head's 100 RoIs would otherwise
/// need ~60 MiB. F(4×4, 3×3) costs some Float32 precision through its larger transform coefficients;
/// `ConvolutionKernelTests` bounds the error against a direct Double convolution.
public enum WinogradConvolution {
    /// On unless the environment sets `MASKNET_CONVOLUTION=im2col` (to time or check the im2col path;
    /// the benchmarks' child processes inherit it). Tests switch it directly.
    public static var isEnabled: Bool {
        get { enabled.load(ordering: .relaxed) }
        set { enabled.store(newValue, ordering: .relaxed) }
    }
    // The tunables are atomic (relaxed) so that tests may change them while other threads convolve:
    // either value gives a correct result.
    static let enabled = Atomic<Bool>(ProcessInfo.processInfo.environment["MASKNET_CONVOLUTION"] != "im2col")
    /// Target bytes of one chunk's transformed input (36·C·tiles floats) or output (36·O·tiles floats).
    static let chunkBytes = Atomic<Int>(4 << 20)
    /// Fewest tiles per chunk, so that deep layers with many channels still make GEMMs worth calling.
    static let minimumChunkTiles = Atomic<Int>(128)

    static let points = 36
    typealias Lanes = SIMD8<Float>
    static let laneCount = 8

    /// Whether a convolution of this geometry goes through Winograd: 3×3, stride 1, dilation 1, and
    /// enough channels for the 36 GEMMs to be worth their transforms.
    static func applies(_ g: Convolution2DGeometry) -> Bool {
        isEnabled && g.kernelHeight == 3 && g.kernelWidth == 3 && g.stride == 1 && g.dilation == 1
            && g.channels >= 16 && g.outputChannels >= 16
    }

    /// The tiling of a convolution's output into 4×4 tiles, numbered image by image, row by row, and
    /// its division into chunks of whole tile rows.
    struct Tiling {
        let g: Convolution2DGeometry
        let images, tilesHigh, tilesWide: Int
        /// Tile rows per chunk.
        let chunkRows: Int
        /// Row stride of each transformed matrix V[ξ], M[ξ]: a chunk's tiles plus room for the vector
        /// tail of its last tile row.
        let leadingDimension: Int
        /// Slots per phase in the gathered row buffers: every tile of a row plus one, rounded up to whole vectors.
        let slots: Int

        var tileRows: Int { images * tilesHigh }
        var count: Int { tileRows * tilesWide }

        init(_ g: Convolution2DGeometry, images: Int, channels: Int) {
            self.g = g
            self.images = images
            tilesHigh = (g.outputHeight + 3) / 4
            tilesWide = (g.outputWidth + 3) / 4
            let perTile = WinogradConvolution.points * channels * MemoryLayout<Float>.size
            let tiles = max(WinogradConvolution.minimumChunkTiles.load(ordering: .relaxed),
                            WinogradConvolution.chunkBytes.load(ordering: .relaxed) / max(1, perTile))
            chunkRows = max(1, min(images * tilesHigh, tiles / tilesWide))
            let lanes = WinogradConvolution.laneCount
            leadingDimension = (chunkRows * tilesWide + lanes - 1) / lanes * lanes + lanes
            slots = (tilesWide + lanes - 1) / lanes * lanes + lanes
        }

        var chunkCount: Int { (tileRows + chunkRows - 1) / chunkRows }
        /// The tile rows of chunk `index`.
        func rows(ofChunk index: Int) -> Range<Int> { index * chunkRows..<min(tileRows, (index + 1) * chunkRows) }
    }

    // MARK: Forward

    /// The transforms a forward pass keeps for its backward pass: U for the input gradient, every
    /// chunk's V for the weight gradient. Recomputing V costs a full pass over the input; keeping it costs
    /// 36/16 of the input's size (2.25×) until the backward pass has run.
    public final class SavedTransforms {
        let tiling: Tiling
        let transformedWeight: Tensor?
        /// `[chunks, 36, C, leadingDimension]`.
        let transformedInput: Tensor?
        init(tiling: Tiling, transformedWeight: Tensor?, transformedInput: Tensor?) {
            self.tiling = tiling
            self.transformedWeight = transformedWeight
            self.transformedInput = transformedInput
        }
    }

    /// Output `[N, O, Ho, Wo]` of the convolution with `weight` `[O, C, 3, 3]` (+ bias) and the padding in
    /// `g`, and, if asked, the transforms that the backward pass can reuse.
    static func forward(input: Tensor, weight: Tensor, bias: Tensor?, _ g: Convolution2DGeometry,
                        keepWeight: Bool = false, keepInput: Bool = false) -> (output: Tensor, saved: SavedTransforms?) {
        let n = input.shape[0]
        let (c, o) = (g.channels, g.outputChannels)
        let tiling = Tiling(g, images: n, channels: max(c, o))
        let ld = tiling.leadingDimension
        let output = Tensor(uninitializedShape: [n, o, g.outputHeight, g.outputWidth])
        let transformedWeight = transformWeights(weight, g)
        // Columns past a chunk's tiles are scratch for the vector tail: never read into results.
        let transformedInput = Tensor(uninitializedShape: [keepInput ? tiling.chunkCount : 1, points, c, ld])
        let products = Tensor(uninitializedShape: [points, o, ld])
        let biasValues = bias?.scalars
        withExtendedLifetime((input, transformedWeight, transformedInput, products, output)) {
            for chunk in 0..<tiling.chunkCount {
                let rows = tiling.rows(ofChunk: chunk)
                let v = transformedInput.kernelAddress + (keepInput ? chunk * points * c * ld : 0)
                transformInput(input.kernelAddress, tiling, rows: rows, into: v)
                // M[ξ] (O×tiles) = U[ξ] (O×C) · V[ξ] (C×tiles)
                multiplyPoints(transposeA: false, transposeB: false, m: o, n: rows.count * tiling.tilesWide, k: c,
                               a: transformedWeight.kernelAddress, lda: c, b: v, ldb: ld,
                               accumulate: false, into: products.kernelAddress, ldc: ld)
                transformOutput(products.kernelAddress, tiling, rows: rows, bias: biasValues, into: output.kernelAddress)
            }
        }
        guard keepWeight || keepInput else { return (output, nil) }
        return (output, SavedTransforms(tiling: tiling, transformedWeight: keepWeight ? transformedWeight : nil,
                                        transformedInput: keepInput ? transformedInput : nil))
    }

    /// U `[36, O, C]` of a weight `[O, C, 3, 3]`.
    static func transformWeights(_ weight: Tensor, _ g: Convolution2DGeometry) -> Tensor {
        var transformed = Tensor(uninitializedShape: [points, g.outputChannels, g.channels])
        weight.withUnsafeBufferPointer { w in
            transformed.withUnsafeMutableBufferPointer { u in
                transformWeights(w.baseAddress!, outputChannels: g.outputChannels, channels: g.channels, into: u.baseAddress!)
            }
        }
        return transformed
    }

    /// U[ξ, o, c] = (G g Gᵀ)[ξ] for each 3×3 kernel g = weight[o, c], vectorised across input channels.
    static func transformWeights(_ w: UnsafePointer<Float>, outputChannels o: Int, channels c: Int,
                                 into u: UnsafeMutablePointer<Float>) {
        let lanes = laneCount
        let padded = (c + lanes - 1) / lanes * lanes
        parallelChunks(o, minimumChunk: max(1, 4096 / max(1, c))) { range in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: (9 + points) * padded) { scratch in
                let taps = scratch.baseAddress!, result = taps + 9 * padded
                taps.initialize(repeating: 0, count: 9 * padded)
                for oc in range {
                    // taps[k][cc] = weight[oc, cc, k]: each tap of every kernel as one vector.
                    let kernels = w + oc * c * 9
                    for cc in 0..<c { for k in 0..<9 { taps[k * padded + cc] = kernels[cc * 9 + k] } }
                    for lane in stride(from: 0, to: padded, by: lanes) {
                        let tap = { (k: Int) in load(taps + k * padded + lane) }
                        // G g: 6×3, one kernel column (taps j, 3 + j, 6 + j) at a time…
                        let c0 = filterTransform(tap(0), tap(3), tap(6))
                        let c1 = filterTransform(tap(1), tap(4), tap(7))
                        let c2 = filterTransform(tap(2), tap(5), tap(8))
                        // …then (G g) Gᵀ, one row (c0.i, c1.i, c2.i) at a time: point ξ = 6i + j.
                        let out = result + lane
                        store(filterTransform(c0.0, c1.0, c2.0), out, step: padded)
                        store(filterTransform(c0.1, c1.1, c2.1), out + 6 * padded, step: padded)
                        store(filterTransform(c0.2, c1.2, c2.2), out + 12 * padded, step: padded)
                        store(filterTransform(c0.3, c1.3, c2.3), out + 18 * padded, step: padded)
                        store(filterTransform(c0.4, c1.4, c2.4), out + 24 * padded, step: padded)
                        store(filterTransform(c0.5, c1.5, c2.5), out + 30 * padded, step: padded)
                    }
                    for xi in 0..<points { (u + (xi * o + oc) * c).update(from: result + xi * padded, count: c) }
                }
            }
        }
    }

    /// V[ξ, c, ·] for the tiles of tile rows `rows`: (Bᵀ d B)[ξ] of the 6×6 input patch d of channel c
    /// under each tile (zeros outside the image), column (row − rows.lowerBound)·tilesWide + tile column.
    static func transformInput(_ x: UnsafePointer<Float>, _ tiling: Tiling, rows: Range<Int>,
                               into v: UnsafeMutablePointer<Float>) {
        let g = tiling.g
        transformPatches(InputPatch.self, x, planes: g.channels, height: g.height, width: g.width,
                         padding: g.padding, tiling, rows: rows, into: v)
    }

    /// The two patch transforms that turn image data into the 36 points of a tile.
    protocol PatchTransform {
        /// Patch side: 6 for an input patch, 4 for an output-gradient tile.
        static var size: Int { get }
        /// The one-dimensional transform of `size` values (`value(0)`, …) to 6 points.
        static func apply(_ value: (Int) -> Lanes) -> (Lanes, Lanes, Lanes, Lanes, Lanes, Lanes)
    }

    /// Bᵀ on the 6×6 input patch under a tile.
    enum InputPatch: PatchTransform {
        static var size: Int { 6 }
        @inline(__always)
        static func apply(_ value: (Int) -> Lanes) -> (Lanes, Lanes, Lanes, Lanes, Lanes, Lanes) {
            inputTransform(value(0), value(1), value(2), value(3), value(4), value(5))
        }
    }

    /// A on a 4×4 output-gradient tile.
    enum GradientTile: PatchTransform {
        static var size: Int { 4 }
        @inline(__always)
        static func apply(_ value: (Int) -> Lanes) -> (Lanes, Lanes, Lanes, Lanes, Lanes, Lanes) {
            gradientTransform(value(0), value(1), value(2), value(3))
        }
    }

    /// T[ξ, plane, ·] = (P d Pᵀ)[ξ] for the size×size patch d of each plane at (4·tile row − padding,
    /// 4·tile column − padding), zeros outside the plane, for the tiles of tile rows `rows`. Parallel over
    /// planes; each tile row's image rows are gathered phase-major (x → phase x mod 4, slot x / 4), so the
    /// j-th patch column of every tile in the row is one vector (phase j mod 4, slots shifted by j / 4).
    @inline(__always)
    static func transformPatches<P: PatchTransform>(_ transform: P.Type, _ source: UnsafePointer<Float>, planes: Int,
                                                    height h: Int, width w: Int, padding p: Int, _ tiling: Tiling,
                                                    rows: Range<Int>, into target: UnsafeMutablePointer<Float>) {
        let (tw, slots, ld) = (tiling.tilesWide, tiling.slots, tiling.leadingDimension)
        let phaseLength = 4 * slots
        // Slots the vertical pass must fill: every tile of the row plus the next one's first columns.
        let usedSlots = min(slots, (tw + 1 + laneCount - 1) / laneCount * laneCount)
        parallelChunks(planes, minimumChunk: 1) { planeRange in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 12 * phaseLength) { scratch in
                let gathered = scratch.baseAddress!, vertical = gathered + 6 * phaseLength
                gathered.initialize(repeating: 0, count: 12 * phaseLength)
                for plane in planeRange {
                    for row in rows {
                        let image = row / tiling.tilesHigh, top = (row % tiling.tilesHigh) * 4 - p
                        let base = source + (image * planes + plane) * h * w
                        for k in 0..<P.size {
                            gatherPhases(base, row: top + k, height: h, width: w, offset: -p,
                                         count: 4 * (tw + 1), slots: slots, into: gathered + k * phaseLength)
                        }
                        // Down the columns: elementwise over every phase and used slot.
                        for phase in 0..<4 {
                            for slot in stride(from: 0, to: usedSlots, by: laneCount) {
                                let index = phase * slots + slot
                                store(P.apply { load(gathered + $0 * phaseLength + index) }, vertical + index, step: phaseLength)
                            }
                        }
                        // Along the rows: patch column j of tile t is phase j mod 4, slot t + j / 4.
                        let column = (row - rows.lowerBound) * tw
                        for i in 0..<6 {
                            let values = vertical + i * phaseLength
                            for t in stride(from: 0, to: tw, by: laneCount) {
                                store(P.apply { load(values + ($0 & 3) * slots + t + ($0 >> 2)) },
                                      target + ((i * 6) * planes + plane) * ld + column + t, step: planes * ld)
                            }
                        }
                    }
                }
            }
        }
    }

    /// Output pixels of the tiles of tile rows `rows`: Aᵀ M A for each output channel's 36 products,
    /// plus the bias, cropped to the output where the last tile row or column overhangs it.
    static func transformOutput(_ m: UnsafePointer<Float>, _ tiling: Tiling, rows: Range<Int>,
                                bias: [Float]?, into y: UnsafeMutablePointer<Float>) {
        let g = tiling.g
        let (o, ho, wo) = (g.outputChannels, g.outputHeight, g.outputWidth)
        let (tw, slots, ld) = (tiling.tilesWide, tiling.slots, tiling.leadingDimension)
        let phaseLength = 4 * slots
        parallelChunks(o, minimumChunk: 1) { channels in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 10 * phaseLength) { scratch in
                let horizontal = scratch.baseAddress!, vertical = horizontal + 6 * phaseLength
                horizontal.initialize(repeating: 0, count: 10 * phaseLength)
                for oc in channels {
                    let offset = bias?[oc] ?? 0
                    for row in rows {
                        let column = (row - rows.lowerBound) * tw
                        // Along each row i of the tiles' 6×6 M: horizontal[i][phase j][tile] = (M[i, ·] A)_j.
                        for i in 0..<6 {
                            let source = m + ((i * 6) * o + oc) * ld + column
                            let step = o * ld
                            let target = horizontal + i * phaseLength
                            for t in stride(from: 0, to: tw, by: laneCount) {
                                let r = outputTransform(load(source + t), load(source + step + t), load(source + 2 * step + t),
                                                        load(source + 3 * step + t), load(source + 4 * step + t),
                                                        load(source + 5 * step + t))
                                store(r, target + t, step: slots)
                            }
                        }
                        // Aᵀ (·) down the columns: vertical[r][phase][tile] is output row 4·tileRow + r.
                        for index in stride(from: 0, to: phaseLength, by: laneCount) {
                            let s = horizontal + index
                            store(outputTransform(load(s), load(s + phaseLength), load(s + 2 * phaseLength),
                                                  load(s + 3 * phaseLength), load(s + 4 * phaseLength),
                                                  load(s + 5 * phaseLength)),
                                  vertical + index, step: phaseLength)
                        }
                        let image = row / tiling.tilesHigh, top = (row % tiling.tilesHigh) * 4
                        let plane = y + (image * o + oc) * ho * wo
                        for r in 0..<min(4, ho - top) {
                            scatterPhases(vertical + r * phaseLength, slots: slots, count: wo, adding: offset,
                                          into: plane + (top + r) * wo)
                        }
                    }
                }
            }
        }
    }

    /// The 36 per-point products C[ξ] = op(A[ξ]) · op(B[ξ]) (+ C[ξ] when accumulating), spread over the workers
    /// one point at a time. Each operand is `[36, stored rows, ld]`: point ξ's matrix starts ξ · stored rows · ld
    /// floats in, where the stored rows are op's rows or columns as the transpose says.
    static func multiplyPoints(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
                               a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                               accumulate: Bool, into c: UnsafeMutablePointer<Float>, ldc: Int) {
        let aPoint = (transposeA ? k : m) * lda, bPoint = (transposeB ? n : k) * ldb, cPoint = m * ldc
        parallelFor(points) { xi in
            MatrixMultiply.serialGemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
                                      a: a + xi * aPoint, lda: lda, b: b + xi * bPoint, ldb: ldb,
                                      beta: accumulate ? 1 : 0, c: c + xi * cPoint, ldc: ldc)
        }
    }

    // MARK: Weight gradient

    /// Input and weight gradients from the output gradient, both from its transform E = A u Aᵀ per tile:
    /// the weight gradient by F(3×3, 4×4), dW = Gᵀ[Σ_tiles E ⊙ V]G; the input gradient by the adjoint of
    /// the forward algorithm, each tile adding the 6×6 patch B[Uᵀ E]Bᵀ into dX (neighbouring patches
    /// overlap by two pixels). `saved` supplies U and V from the forward pass; whatever it lacks is
    /// recomputed from `weight` and `input`.
    static func backward(outputGradient: Tensor, input: Tensor, weight: Tensor, _ g: Convolution2DGeometry,
                         saved: SavedTransforms?, needsInput: Bool, needsWeight: Bool)
        -> (input: Tensor?, weight: Tensor?) {
        let n = input.shape[0]
        let (c, o) = (g.channels, g.outputChannels)
        let tiling = saved?.tiling ?? Tiling(g, images: n, channels: max(c, o))
        precondition(tiling.g == g && tiling.images == n, "Winograd backward: saved transforms of another convolution")
        let ld = tiling.leadingDimension
        let transformedWeight = needsInput ? (saved?.transformedWeight ?? transformWeights(weight, g)) : Tensor(shape: [0])
        let savedInput = needsWeight ? saved?.transformedInput : nil
        let transformedSum = Tensor(uninitializedShape: needsWeight ? [points, o, c] : [0])
        let freshInput = Tensor(uninitializedShape: needsWeight && savedInput == nil ? [points, c, ld] : [0])
        let transformedGradient = Tensor(uninitializedShape: [points, o, ld])
        let patches = Tensor(uninitializedShape: needsInput ? [points, c, ld] : [0])
        let inputGradient = Tensor(shape: needsInput ? input.shape : [0])
        withExtendedLifetime((input, outputGradient, transformedWeight, savedInput, transformedSum, freshInput,
                              transformedGradient, patches, inputGradient)) {
            let e = transformedGradient.kernelAddress
            for chunk in 0..<tiling.chunkCount {
                let rows = tiling.rows(ofChunk: chunk)
                let tiles = rows.count * tiling.tilesWide
                // The forward pass in reverse: its output transform Y = Aᵀ M A becomes E = A dY Aᵀ …
                transformGradient(outputGradient.kernelAddress, tiling, rows: rows, into: e)
                if needsWeight {
                    // … its products M = U · V give S += E · Vᵀ (V saved by the forward pass, or recomputed) …
                    let v: UnsafePointer<Float>
                    if let savedInput {
                        v = UnsafePointer(savedInput.kernelAddress) + chunk * points * c * ld
                    } else {
                        transformInput(input.kernelAddress, tiling, rows: rows, into: freshInput.kernelAddress)
                        v = UnsafePointer(freshInput.kernelAddress)
                    }
                    multiplyPoints(transposeA: false, transposeB: true, m: o, n: c, k: tiles, a: e, lda: ld, b: v, ldb: ld,
                                   accumulate: chunk > 0, into: transformedSum.kernelAddress, ldc: c)
                }
                if needsInput {
                    // … and P = Uᵀ · E, whose input transform's adjoint B P Bᵀ adds into dX.
                    multiplyPoints(transposeA: true, transposeB: false, m: c, n: tiles, k: o,
                                   a: transformedWeight.kernelAddress, lda: c, b: e, ldb: ld,
                                   accumulate: false, into: patches.kernelAddress, ldc: ld)
                    addInputPatches(patches.kernelAddress, tiling, rows: rows, into: inputGradient.kernelAddress)
                }
            }
        }
        guard needsWeight else { return (needsInput ? inputGradient : nil, nil) }
        // Finally the weight transform's adjoint: dW = Gᵀ S G.
        let weightGradient = Tensor(uninitializedShape: [o, c, 3, 3])
        withExtendedLifetime((transformedSum, weightGradient)) {
            untransformWeightGradient(transformedSum.kernelAddress, outputChannels: o, channels: c,
                                      into: weightGradient.kernelAddress)
        }
        return (needsInput ? inputGradient : nil, weightGradient)
    }

    /// Adds B P Bᵀ of every tile of tile rows `rows` into the input gradient: the 6×6 patch of channel c
    /// under the tile, clipped to the image. Parallel over channels, so no two threads add to one pixel.
    static func addInputPatches(_ p: UnsafePointer<Float>, _ tiling: Tiling, rows: Range<Int>,
                                into dx: UnsafeMutablePointer<Float>) {
        let g = tiling.g
        let (c, h, w, pad) = (g.channels, g.height, g.width, g.padding)
        let (tw, slots, ld) = (tiling.tilesWide, tiling.slots, tiling.leadingDimension)
        let phaseLength = 4 * slots
        let laneIndex = SIMD8<Int32>(0, 1, 2, 3, 4, 5, 6, 7)
        parallelChunks(c, minimumChunk: 1) { channels in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 12 * phaseLength) { scratch in
                let horizontal = scratch.baseAddress!, vertical = horizontal + 6 * phaseLength
                for cc in channels {
                    for row in rows {
                        let column = (row - rows.lowerBound) * tw
                        horizontal.update(repeating: 0, count: 6 * phaseLength)
                        // Along each patch row i: B p over the tile's 6 columns j; patch column k of tile t is
                        // phase k mod 4, slot t + k / 4, so columns 4 and 5 overlap the next tile's 0 and 1.
                        for i in 0..<6 {
                            let source = p + ((i * 6) * c + cc) * ld + column
                            let step = c * ld
                            let target = horizontal + i * phaseLength
                            for t in stride(from: 0, to: tw, by: laneCount) {
                                // Lanes past the row's last tile hold other rows' tiles or scratch: zero them.
                                let outside = laneIndex .>= SIMD8<Int32>(repeating: Int32(tw - t))
                                let value = { (j: Int) in load(source + j * step + t).replacing(with: 0, where: outside) }
                                let q = inputTransformTransposed(value(0), value(1), value(2), value(3), value(4), value(5))
                                add(q.0, target + t); add(q.1, target + slots + t)
                                add(q.2, target + 2 * slots + t); add(q.3, target + 3 * slots + t)
                                add(q.4, target + t + 1); add(q.5, target + slots + t + 1)
                            }
                        }
                        // Down the columns: B (·) over the 6 patch rows, elementwise over phases and slots.
                        for index in stride(from: 0, to: phaseLength, by: laneCount) {
                            let d = horizontal + index
                            store(inputTransformTransposed(load(d), load(d + phaseLength), load(d + 2 * phaseLength),
                                                           load(d + 3 * phaseLength), load(d + 4 * phaseLength),
                                                           load(d + 5 * phaseLength)),
                                  vertical + index, step: phaseLength)
                        }
                        let image = row / tiling.tilesHigh, top = (row % tiling.tilesHigh) * 4 - pad
                        let plane = dx + (image * c + cc) * h * w
                        for k in 0..<6 where top + k >= 0 && top + k < h {
                            addPhases(vertical + k * phaseLength, slots: slots, count: 4 * (tw + 1), offset: -pad,
                                      width: w, into: plane + (top + k) * w)
                        }
                    }
                }
            }
        }
    }

    /// dW[o, c] = Gᵀ S[·, o, c] G for every kernel, vectorised across input channels.
    static func untransformWeightGradient(_ s: UnsafePointer<Float>, outputChannels o: Int, channels c: Int,
                                          into dw: UnsafeMutablePointer<Float>) {
        let lanes = laneCount
        let padded = (c + lanes - 1) / lanes * lanes
        parallelChunks(o, minimumChunk: max(1, 4096 / max(1, c))) { range in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: (points + 9) * padded) { scratch in
                let gathered = scratch.baseAddress!, taps = gathered + points * padded
                gathered.initialize(repeating: 0, count: (points + 9) * padded)
                for oc in range {
                    for xi in 0..<points { (gathered + xi * padded).update(from: s + (xi * o + oc) * c, count: c) }
                    for lane in stride(from: 0, to: padded, by: lanes) {
                        // Gᵀ S: 3×6, one column (points j, 6 + j, …, 30 + j) at a time…
                        let point = { (xi: Int) in load(gathered + xi * padded + lane) }
                        let column = { (j: Int) in
                            filterTransformTransposed(point(j), point(6 + j), point(12 + j), point(18 + j),
                                                      point(24 + j), point(30 + j))
                        }
                        let (c0, c1, c2, c3, c4, c5) = (column(0), column(1), column(2), column(3), column(4), column(5))
                        // …then (Gᵀ S) G, one row at a time: tap k = 3i + j.
                        let out = taps + lane
                        store(filterTransformTransposed(c0.0, c1.0, c2.0, c3.0, c4.0, c5.0), out, step: padded)
                        store(filterTransformTransposed(c0.1, c1.1, c2.1, c3.1, c4.1, c5.1), out + 3 * padded, step: padded)
                        store(filterTransformTransposed(c0.2, c1.2, c2.2, c3.2, c4.2, c5.2), out + 6 * padded, step: padded)
                    }
                    let kernels = dw + oc * c * 9
                    for cc in 0..<c { for k in 0..<9 { kernels[cc * 9 + k] = taps[k * padded + cc] } }
                }
            }
        }
    }

    /// E[ξ, o, ·] for the tiles of tile rows `rows`: (A u Aᵀ)[ξ] of each 4×4 output-gradient tile u
    /// (zeros where the tile overhangs the output).
    static func transformGradient(_ dy: UnsafePointer<Float>, _ tiling: Tiling, rows: Range<Int>,
                                  into e: UnsafeMutablePointer<Float>) {
        let g = tiling.g
        transformPatches(GradientTile.self, dy, planes: g.outputChannels, height: g.outputHeight, width: g.outputWidth,
                         padding: 0, tiling, rows: rows, into: e)
    }

    // MARK: Phase-major rows

    /// Writes `target[phase · slots + slot]` = `plane[row, 4·slot + phase + offset]` for the first `count`
    /// positions 4·slot + phase (count a multiple of 4), zero where the row or column lies outside the plane.
    @inline(__always)
    static func gatherPhases(_ plane: UnsafePointer<Float>, row: Int, height: Int, width: Int, offset: Int,
                             count: Int, slots slotStride: Int, into target: UnsafeMutablePointer<Float>) {
        let slotCount = count / 4, slots = slotStride
        let (t0, t1, t2, t3) = (target, target + slots, target + 2 * slots, target + 3 * slots)
        guard row >= 0, row < height else {
            t0.update(repeating: 0, count: slotCount); t1.update(repeating: 0, count: slotCount)
            t2.update(repeating: 0, count: slotCount); t3.update(repeating: 0, count: slotCount)
            return
        }
        let source = plane + row * width + offset
        // Slots whose four positions all lie inside the row: a plain 4-way de-interleave.
        let firstInside = min(slotCount, max(0, (-offset + 3) / 4))
        let lastInside = max(firstInside, min(slotCount, (width - offset) / 4))
        var slot = firstInside
        while slot + 4 <= lastInside {
            // Four slots at once: a 4×4 transpose of 16 contiguous values.
            let v = UnsafeRawPointer(source + 4 * slot).loadUnaligned(as: SIMD16<Float>.self)
            UnsafeMutableRawPointer(t0 + slot).storeBytes(of: SIMD4(v[0], v[4], v[8], v[12]), as: SIMD4<Float>.self)
            UnsafeMutableRawPointer(t1 + slot).storeBytes(of: SIMD4(v[1], v[5], v[9], v[13]), as: SIMD4<Float>.self)
            UnsafeMutableRawPointer(t2 + slot).storeBytes(of: SIMD4(v[2], v[6], v[10], v[14]), as: SIMD4<Float>.self)
            UnsafeMutableRawPointer(t3 + slot).storeBytes(of: SIMD4(v[3], v[7], v[11], v[15]), as: SIMD4<Float>.self)
            slot += 4
        }
        while slot < lastInside {
            let p = source + 4 * slot
            t0[slot] = p[0]; t1[slot] = p[1]; t2[slot] = p[2]; t3[slot] = p[3]
            slot += 1
        }
        // Slots that reach into the padding, at either end.
        func gatherEdge(_ slots: Range<Int>) {
            for slot in slots {
                for phase in 0..<4 {
                    let column = 4 * slot + phase + offset
                    target[phase * slotStride + slot] = column >= 0 && column < width ? source[4 * slot + phase] : 0
                }
            }
        }
        gatherEdge(0..<firstInside)
        gatherEdge(lastInside..<slotCount)
    }

    /// Adds `source[phase · slots + slot]` into `row[4·slot + phase + offset]` for the first `count`
    /// positions, skipping columns outside `0..<width`.
    @inline(__always)
    static func addPhases(_ source: UnsafePointer<Float>, slots: Int, count: Int, offset: Int, width: Int,
                          into row: UnsafeMutablePointer<Float>) {
        let first = max(0, -offset), last = min(count, width - offset)
        guard first < last else { return }
        let (s0, s1, s2, s3) = (source, source + slots, source + 2 * slots, source + 3 * slots)
        // Whole slots inside the row, four at a time: the inverse 4×4 transpose, added.
        let firstWhole = (first + 3) / 4
        var slot = firstWhole
        while 4 * (slot + 4) <= last {
            let target = UnsafeMutableRawPointer(row + 4 * slot + offset)
            let sum = target.loadUnaligned(as: SIMD16<Float>.self) + interleaved(s0, s1, s2, s3, slot: slot)
            target.storeBytes(of: sum, as: SIMD16<Float>.self)
            slot += 4
        }
        // The partial slots at either end.
        for position in first..<max(first, min(last, 4 * firstWhole)) {
            row[position + offset] += source[(position & 3) * slots + (position >> 2)]
        }
        for position in min(4 * slot, last)..<last {
            row[position + offset] += source[(position & 3) * slots + (position >> 2)]
        }
    }

    /// Positions 4·slot ..< 4·slot + 16 of a phase-major row back in row order: slots `slot ..< slot + 4`
    /// of the four phases, transposed.
    @inline(__always)
    static func interleaved(_ s0: UnsafePointer<Float>, _ s1: UnsafePointer<Float>, _ s2: UnsafePointer<Float>,
                            _ s3: UnsafePointer<Float>, slot: Int) -> SIMD16<Float> {
        let a = UnsafeRawPointer(s0 + slot).loadUnaligned(as: SIMD4<Float>.self)
        let b = UnsafeRawPointer(s1 + slot).loadUnaligned(as: SIMD4<Float>.self)
        let c = UnsafeRawPointer(s2 + slot).loadUnaligned(as: SIMD4<Float>.self)
        let d = UnsafeRawPointer(s3 + slot).loadUnaligned(as: SIMD4<Float>.self)
        return SIMD16(a[0], b[0], c[0], d[0], a[1], b[1], c[1], d[1], a[2], b[2], c[2], d[2], a[3], b[3], c[3], d[3])
    }

    /// Writes `row[x]` = `source[(x mod 4) · slots + x / 4]` + `offset` for x < `count`.
    @inline(__always)
    static func scatterPhases(_ source: UnsafePointer<Float>, slots: Int, count: Int, adding offset: Float,
                              into row: UnsafeMutablePointer<Float>) {
        let (s0, s1, s2, s3) = (source, source + slots, source + 2 * slots, source + 3 * slots)
        let whole = count / 4
        var slot = 0
        while slot + 4 <= whole {
            // Four slots at once: the inverse 4×4 transpose.
            let v = interleaved(s0, s1, s2, s3, slot: slot) + SIMD16(repeating: offset)
            UnsafeMutableRawPointer(row + 4 * slot).storeBytes(of: v, as: SIMD16<Float>.self)
            slot += 4
        }
        while slot < whole {
            let p = row + 4 * slot
            p[0] = s0[slot] + offset; p[1] = s1[slot] + offset; p[2] = s2[slot] + offset; p[3] = s3[slot] + offset
            slot += 1
        }
        for x in (4 * whole)..<count { row[x] = source[(x & 3) * slots + (x >> 2)] + offset }
    }

    // MARK: One-dimensional transforms, eight lanes at a time

    @inline(__always) static func load(_ p: UnsafePointer<Float>) -> Lanes {
        UnsafeRawPointer(p).loadUnaligned(as: Lanes.self)
    }
    @inline(__always) static func load(_ p: UnsafeMutablePointer<Float>) -> Lanes { load(UnsafePointer(p)) }
    @inline(__always) static func store(_ value: Lanes, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: value, as: Lanes.self)
    }

    @inline(__always) static func store(_ r: (Lanes, Lanes, Lanes), _ p: UnsafeMutablePointer<Float>, step: Int) {
        store(r.0, p); store(r.1, p + step); store(r.2, p + 2 * step)
    }
    @inline(__always) static func store(_ r: (Lanes, Lanes, Lanes, Lanes), _ p: UnsafeMutablePointer<Float>, step: Int) {
        store(r.0, p); store(r.1, p + step); store(r.2, p + 2 * step); store(r.3, p + 3 * step)
    }
    @inline(__always)
    static func store(_ r: (Lanes, Lanes, Lanes, Lanes, Lanes, Lanes), _ p: UnsafeMutablePointer<Float>, step: Int) {
        store(r.0, p); store(r.1, p + step); store(r.2, p + 2 * step)
        store(r.3, p + 3 * step); store(r.4, p + 4 * step); store(r.5, p + 5 * step)
    }

    @inline(__always) static func add(_ value: Lanes, _ p: UnsafeMutablePointer<Float>) {
        store(load(p) + value, p)
    }

    /// B p: 6 points back to 6 patch values (the adjoint of `inputTransform`).
    @inline(__always)
    static func inputTransformTransposed(_ p0: Lanes, _ p1: Lanes, _ p2: Lanes, _ p3: Lanes, _ p4: Lanes, _ p5: Lanes)
        -> (Lanes, Lanes, Lanes, Lanes, Lanes, Lanes) {
        let sum12 = p1 + p2, difference12 = p2 - p1, sum34 = p3 + p4, difference34 = p3 - p4
        return (4 * p0,
                4 * difference12 - 2 * difference34 + 4 * p5,
                -5 * p0 - 4 * sum12 - sum34,
                -difference12 + 2 * difference34 - 5 * p5,
                p0 + sum12 + sum34,
                p5)
    }

    /// Bᵀ d: 6 inputs to 6 points.
    @inline(__always)
    static func inputTransform(_ d0: Lanes, _ d1: Lanes, _ d2: Lanes, _ d3: Lanes, _ d4: Lanes, _ d5: Lanes)
        -> (Lanes, Lanes, Lanes, Lanes, Lanes, Lanes) {
        let a = d4 - 4 * d2, b = d3 - 4 * d1
        let c = d4 - d2, e = 2 * (d3 - d1)
        return (4 * d0 - 5 * d2 + d4, a + b, a - b, c + e, c - e, 4 * d1 - 5 * d3 + d5)
    }

    /// Aᵀ m: 6 products to 4 outputs.
    @inline(__always)
    static func outputTransform(_ m0: Lanes, _ m1: Lanes, _ m2: Lanes, _ m3: Lanes, _ m4: Lanes, _ m5: Lanes)
        -> (Lanes, Lanes, Lanes, Lanes) {
        let sum12 = m1 + m2, difference12 = m1 - m2, sum34 = m3 + m4, difference34 = m3 - m4
        return (m0 + sum12 + sum34, difference12 + 2 * difference34, sum12 + 4 * sum34,
                difference12 + 8 * difference34 + m5)
    }

    /// G g: a 3-tap kernel to 6 points.
    @inline(__always)
    static func filterTransform(_ g0: Lanes, _ g1: Lanes, _ g2: Lanes) -> (Lanes, Lanes, Lanes, Lanes, Lanes, Lanes) {
        let outer = g0 + g2
        return (g0 / 4, -(outer + g1) / 6, -(outer - g1) / 6,
                g0 / 24 + g1 / 12 + g2 / 6, g0 / 24 - g1 / 12 + g2 / 6, g2)
    }

    /// Gᵀ s: 6 points back to a 3-tap kernel (the adjoint of `filterTransform`).
    @inline(__always)
    static func filterTransformTransposed(_ m0: Lanes, _ m1: Lanes, _ m2: Lanes, _ m3: Lanes, _ m4: Lanes, _ m5: Lanes)
        -> (Lanes, Lanes, Lanes) {
        let sum12 = m1 + m2, sum34 = m3 + m4
        return (m0 / 4 - sum12 / 6 + sum34 / 24, (m2 - m1) / 6 + (m3 - m4) / 12, (sum34 - sum12) / 6 + m5)
    }

    /// A u: a 4-tap output gradient to 6 points (the adjoint of `outputTransform`).
    @inline(__always)
    static func gradientTransform(_ u0: Lanes, _ u1: Lanes, _ u2: Lanes, _ u3: Lanes)
        -> (Lanes, Lanes, Lanes, Lanes, Lanes, Lanes) {
        let even = u0 + u2, odd = u1 + u3
        let evenFar = u0 + 4 * u2, oddFar = 2 * u1 + 8 * u3
        return (u0, even + odd, even - odd, evenFar + oddFar, evenFar - oddFar, u3)
    }
}
