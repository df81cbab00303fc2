// swift-tools-version:6.0
// masknet: reruns, checks and extends COVID-CT-Mask-Net (Ter-Sarkisov, Applied Intelligence 2022).
// Module graph (see README "Architecture"): the ML modules and the pipeline engine never import each
// other; MaskNetStages is the one place where they meet.
import PackageDescription

let optimized: [SwiftSetting] = [.unsafeFlags(["-Ounchecked"], .when(configuration: .release))]

let package = Package(
    name: "masknet",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "masknet", targets: ["masknet"]),
        // For the libFuzzer package in Fuzz/ (built separately with -sanitize=fuzzer).
        .library(name: "FuzzHarnesses", targets: ["FuzzHarnesses"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.0"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.20"),
    ],
    targets: [
        // System libraries: each imported by exactly one Swift module.
        .systemLibrary(name: "COpenBLAS", path: "Sources/COpenBLAS"),   // TensorCore only
        .systemLibrary(name: "CLibPNG", path: "Sources/CLibPNG"),       // ImageIO only
        .systemLibrary(name: "CLibJPEG", path: "Sources/CLibJPEG"),     // CJPEGShim only
        // libjpeg's error handling needs setjmp/longjmp, which must stay in C (see CJPEGShim.h). A C target
        // does not inherit the system library's `link "jpeg"`, hence the explicit linker setting.
        .target(name: "CJPEGShim", dependencies: ["CLibJPEG"], path: "Sources/CJPEGShim",
                linkerSettings: [.linkedLibrary("jpeg")]),                                   // ImageIO only

        // Model library. CKernels holds our GEMM micro-kernels and cpuid (intrinsics need C); TensorCore
        // is its only importer. Instruction sets are enabled per function by target attributes, so the
        // target itself builds for any x86-64 and dispatches at run time.
        .target(name: "CKernels", path: "Sources/CKernels",
                cSettings: [.unsafeFlags(["-ffp-contract=off"]),
                            .unsafeFlags(["-O3"], .when(configuration: .release))]),   // TensorCore only
        .target(name: "TensorCore", dependencies: ["COpenBLAS", "CKernels"], swiftSettings: optimized),
        .target(name: "NeuralNetwork", dependencies: ["TensorCore"], swiftSettings: optimized),
        .target(name: "VisionBackbones", dependencies: ["NeuralNetwork", "TensorCore"], swiftSettings: optimized),
        .target(name: "ImageIO", dependencies: ["CLibPNG", "CJPEGShim"], swiftSettings: optimized),
        .target(name: "CTDatasets", dependencies: ["ImageIO", "TensorCore"], swiftSettings: optimized),
        .target(name: "EvaluationMetrics", dependencies: [], swiftSettings: optimized),
        // PyTorch's `torch.save` files (zip and legacy) read by a restricted unpickler that executes nothing.
        .target(name: "TorchSerialization", dependencies: [.product(name: "ZIPFoundation", package: "ZIPFoundation")],
                swiftSettings: optimized),
        // SVG charts (lines, scatter with Pareto front, heat maps, intervals): no ML, used by the run report
        // of the engine and by the figures of the ML stages.
        .target(name: "SVGPlotting", dependencies: []),
        // Training scalars: TensorBoard event files (hand-encoded protobuf, CRC32C framing) and metrics.csv.
        .target(name: "ScalarLogging", dependencies: []),
        .target(name: "Visualization", dependencies: ["SVGPlotting"], swiftSettings: optimized),
        // The detector and the classifier take their label vocabularies (MaskType, CTClass) from CTDatasets,
        // the lower module: the data set decides the classes, the models count them.
        .target(name: "ObjectDetection",
                dependencies: ["CTDatasets", "VisionBackbones", "NeuralNetwork", "TensorCore"], swiftSettings: optimized),
        .target(name: "LesionClassifier",
                dependencies: ["CTDatasets", "ObjectDetection", "VisionBackbones", "NeuralNetwork", "TensorCore"],
                swiftSettings: optimized),

        // End-to-end tasks on files (data sets, checkpoints, reports) that both the CLI and the stage kinds
        // call: the ML modules composed with image and metric I/O. Knows nothing about the pipeline engine.
        .target(name: "MaskNetWorkflows", dependencies: [
            "TensorCore", "NeuralNetwork", "VisionBackbones", "ImageIO", "CTDatasets", "EvaluationMetrics",
            "ObjectDetection", "LesionClassifier", "Visualization", "TorchSerialization", "ScalarLogging", "SVGPlotting",
        ], swiftSettings: optimized),

        // Pipeline engine: knows nothing about ML. Its output is the console reporter, the run records and
        // per-stage log files; swift-log was declared and never imported (its global bootstrap would be the
        // only global configuration in the engine), so it is not a dependency.
        .target(name: "PipelineEngine", dependencies: [
            "SVGPlotting",
            .product(name: "Yams", package: "Yams"),
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        // Running stages as Slurm jobs: the engine's executor seam on sbatch/squeue/scancel (knows nothing about ML).
        .target(name: "SlurmExecution", dependencies: [
            "PipelineEngine", .product(name: "Yams", package: "Yams"), .product(name: "Crypto", package: "swift-crypto"),
        ]),
        // The built-in stage kinds: each binds one library call to the engine.
        .target(name: "MaskNetStages", dependencies: [
            "PipelineEngine", "TensorCore", "NeuralNetwork", "VisionBackbones", "CTDatasets", "ObjectDetection", "LesionClassifier",
            "MaskNetWorkflows",
        ]),
        // Every parser of untrusted files as a function of bytes: used by Fuzz/ and replayed by its test.
        .target(name: "FuzzHarnesses", dependencies: [
            "TorchSerialization", "NeuralNetwork", "ImageIO", "CTDatasets", "EvaluationMetrics", "PipelineEngine", "MaskNetStages",
        ]),
        // The benchmarks behind `masknet bench` (our side of each comparison, the machine's FMA peak) and the
        // lookup of the PyTorch reference scripts; kept out of the library modules they measure.
        .target(name: "Benchmarks", dependencies: [
            "CKernels", "TensorCore", "NeuralNetwork", "VisionBackbones", "ObjectDetection",
        ], swiftSettings: optimized),
        .executableTarget(name: "masknet", dependencies: [
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            "MaskNetStages", "PipelineEngine", "SlurmExecution", "TensorCore", "VisionBackbones", "CTDatasets",
            "EvaluationMetrics", "ObjectDetection", "MaskNetWorkflows", "Benchmarks",
        ], swiftSettings: optimized),

        // What several test targets share: one `assertClose` with one set of default tolerances, temporary
        // folders, and a pipeline workspace (store + kind registry + run). A regular target, so test targets
        // can depend on it; nothing in Sources/ does.
        .target(name: "TestSupport", dependencies: ["TensorCore", "PipelineEngine"], path: "Tests/TestSupport"),

        // Test targets: one per module. Every target (above and below) lists exactly the modules it imports.
        .testTarget(name: "MaskNetStagesTests", dependencies: ["TestSupport", "MaskNetStages", "PipelineEngine"],
                    path: "Tests/MaskNetStagesTests"),
        .testTarget(name: "MaskNetWorkflowsTests", dependencies: ["MaskNetWorkflows", "CTDatasets", "ObjectDetection", "LesionClassifier", "EvaluationMetrics", "ImageIO", "TensorCore", "NeuralNetwork", "VisionBackbones", "TorchSerialization"],
                    path: "Tests/MaskNetWorkflowsTests", resources: [.copy("Fixtures")]),
        .testTarget(name: "LesionClassifierTests", dependencies: ["TestSupport", "LesionClassifier", "ObjectDetection", "CTDatasets", "VisionBackbones", "NeuralNetwork", "TensorCore"],
                    path: "Tests/LesionClassifierTests", resources: [.copy("Fixtures")]),
        .testTarget(name: "TensorCoreTests", dependencies: ["TestSupport", "TensorCore"], path: "Tests/TensorCoreTests"),
        .testTarget(name: "ObjectDetectionTests", dependencies: ["TestSupport", "ObjectDetection", "VisionBackbones", "NeuralNetwork", "TensorCore"],
                    path: "Tests/ObjectDetectionTests", resources: [.copy("Fixtures")]),
        .testTarget(name: "VisionBackbonesTests", dependencies: ["TestSupport", "VisionBackbones", "NeuralNetwork", "TensorCore"],
                    path: "Tests/VisionBackbonesTests", resources: [.copy("Fixtures")]),
        .testTarget(name: "EvaluationMetricsTests", dependencies: ["EvaluationMetrics"],
                    path: "Tests/EvaluationMetricsTests", resources: [.copy("Fixtures")]),
        .testTarget(name: "NeuralNetworkTests", dependencies: ["TestSupport", "NeuralNetwork", "TensorCore"],
                    path: "Tests/NeuralNetworkTests", resources: [.copy("Fixtures")]),
        .testTarget(name: "ImageIOTests", dependencies: ["ImageIO"], path: "Tests/ImageIOTests",
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "CTDatasetsTests", dependencies: ["CTDatasets", "ImageIO", "TensorCore"],
                    path: "Tests/CTDatasetsTests"),
        .testTarget(name: "TorchSerializationTests", dependencies: ["TorchSerialization"],
                    path: "Tests/TorchSerializationTests", resources: [.copy("Fixtures")]),
        .testTarget(name: "FuzzHarnessesTests", dependencies: ["FuzzHarnesses", "ImageIO", "NeuralNetwork", "EvaluationMetrics"],
                    path: "Tests/FuzzHarnessesTests"),
        .testTarget(name: "PipelineEngineTests", dependencies: ["TestSupport", "PipelineEngine"], path: "Tests/PipelineEngineTests"),
        .testTarget(name: "SlurmExecutionTests", dependencies: ["SlurmExecution", "PipelineEngine"], path: "Tests/SlurmExecutionTests"),
        // The CLI: help-text snapshots of every command (Snapshots/, read through #filePath) and the built
        // binary's exit codes.
        .testTarget(name: "MasknetCLITests", dependencies: [
            "masknet", "PipelineEngine", "TestSupport", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], path: "Tests/MasknetCLITests", exclude: ["Snapshots"]),
        .testTarget(name: "BenchmarksTests", dependencies: ["Benchmarks"], path: "Tests/BenchmarksTests"),
        .testTarget(name: "ReportTests", dependencies: ["TestSupport", "SVGPlotting", "ScalarLogging", "PipelineEngine", "MaskNetStages", "Visualization"],
                    path: "Tests/ReportTests"),
    ],
    swiftLanguageModes: [.v6]
)
