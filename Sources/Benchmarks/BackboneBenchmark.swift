import Foundation
import NeuralNetwork
import TensorCore
import VisionBackbones

/// Times a backbone+FPN forward and forward+backward pass (issue 2's speed target), and the SGEMM
/// ceiling that bounds any convolution built on it.
public struct BackboneBenchmark {
    public struct Result: Codable, Sendable {
        public var backbone: String
        public var imageSize: Int
        public var threads: Int
        /// Median seconds of a forward pass (BN in training mode, with a tape, as in training).
        public var forwardSeconds: Double
        /// Median seconds of forward + backward (gradients for every parameter).
        public var forwardBackwardSeconds: Double
        /// Convolution FLOPs of one forward + backward.
        public var convolutionGFLOPs: Double
        /// Convolution GFLOP/s over the forward+backward time.
        public var achievedGFLOPSPerSecond: Double
        /// Measured SGEMM GFLOP/s on a 2048² product.
        public var sgemmCeilingGFLOPSPerSecond: Double
        /// Peak resident memory of this process, MiB.
        public var peakResidentMiB: Double
        /// OpenBLAS's kernel set ("SkylakeX", "Haswell", …).
        public var blasKernels: String
    }

    public var configuration: BackboneConfiguration
    public var imageSize: Int
    public var runs: Int

    public init(configuration: BackboneConfiguration, imageSize: Int = 512, runs: Int = 5) {
        self.configuration = configuration
        self.imageSize = imageSize
        self.runs = runs
    }

    /// Runs the measurement: one warm-up, then `runs` timed repetitions of each pass.
    public func run() -> Result {
        let store = ParameterStore()
        var generator = SeededGenerator(seed: 0)
        let backbone = ResNetFPNBackbone(ParameterScope(store: store, prefix: "backbone"),
                                         configuration: configuration, generator: &generator)
        let input = Initialization.normal([1, 3, imageSize, imageSize], standardDeviation: 1, using: &generator)

        func forward(withBackward: Bool) {
            let tape = GradientTape()
            let context = ForwardContext(tape: tape, batchNormMode: .training)
            let levels = backbone(Variable(input), context)
            if withBackward {
                // One backward from the sum of all outputs: every output element gets gradient 1 and the
                // shared trunk is traversed once with the gradients of all levels (as PyTorch's side does).
                tape.backward(from: addVariables(levels.map { sum($0) }))
                store.zeroGradients()
            }
        }
        forward(withBackward: true)  // warm-up: page in weights and buffers, start BLAS threads
        let forwardTimes = (0..<runs).map { _ in Self.seconds { forward(withBackward: false) } }
        ConvolutionKernels.performedFLOPs = 0
        var flopsPerRun = 0.0
        let trainingTimes = (0..<runs).map { _ -> Double in
            let before = ConvolutionKernels.performedFLOPs
            let time = Self.seconds { forward(withBackward: true) }
            flopsPerRun = ConvolutionKernels.performedFLOPs - before
            return time
        }
        let median = VisionBackbones.median(trainingTimes)
        return Result(
            backbone: "\(configuration.depth.rawValue)-t\(configuration.truncation)", imageSize: imageSize,
            threads: ThreadingConfiguration.workerCount, forwardSeconds: VisionBackbones.median(forwardTimes),
            forwardBackwardSeconds: median, convolutionGFLOPs: flopsPerRun / 1e9,
            achievedGFLOPSPerSecond: flopsPerRun / 1e9 / median,
            sgemmCeilingGFLOPSPerSecond: Self.sgemmCeiling(), peakResidentMiB: Self.peakResidentMiB(),
            blasKernels: BLAS.kernelDescription)
    }

    /// GFLOP/s of a 2048×2048×2048 SGEMM (best of three).
    public static func sgemmCeiling(size: Int = 2048) -> Double {
        let a = Tensor(shape: [size, size], repeating: 0.5), b = Tensor(shape: [size, size], repeating: 0.25)
        var c = Tensor(shape: [size, size])
        var best = Double.infinity
        for _ in 0..<3 {
            let time = seconds {
                a.withUnsafeBufferPointer { pa in
                    b.withUnsafeBufferPointer { pb in
                        c.withUnsafeMutableBufferPointer { pc in
                            MatrixMultiply.gemm(transposeA: false, transposeB: false, m: size, n: size, k: size,
                                      a: pa.baseAddress!, lda: size, b: pb.baseAddress!, ldb: size,
                                      c: pc.baseAddress!, ldc: size)
                        }
                    }
                }
            }
            best = min(best, time)
        }
        return 2 * pow(Double(size), 3) / best / 1e9
    }

    static func seconds(_ body: () -> Void) -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    /// Peak resident set size of this process (getrusage; kilobytes on Linux).
    public static func peakResidentMiB() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_maxrss) / 1024
    }
}
