import Foundation
import LesionClassifier
import NeuralNetwork
import ObjectDetection
import TensorCore
import VisionBackbones
import XCTest

/// Issue 6's training evidence on tiny models: weight transfer, the trainable set of spec §5.3 /
/// Appendix D/B10 after real training steps, frozen BN statistics (§5.4), and checkpoints.
final class ClassifierTrainingTests: XCTestCase {
    typealias Support = ClassifierTestSupport

    /// R18 t1 has body.bn1 and bn1/bn2 in six basic blocks; downsample BNs in layer2.0 and layer3.0.
    static let expectedBatchNormAffine: [String] = {
        var names = ["backbone.body.bn1"]
        for layer in 1...3 { for block in 0...1 { for bn in 1...2 { names.append("backbone.body.layer\(layer).\(block).bn\(bn)") } } }
        return names.flatMap { ["\($0).weight", "\($0).bias"] }
    }()
    static let downsampleAffine = ["layer2", "layer3"].flatMap {
        ["backbone.body.\($0).0.downsample.1.weight", "backbone.body.\($0).0.downsample.1.bias"]
    }
    static let moduleS = ["fc_scores", "fc_scores_2", "fc_scores_img"].flatMap { ["s2new.\($0).weight", "s2new.\($0).bias"] }

    func testTransferCopiesEverySharedTensorAndDropsTheMaskBranch() throws {
        let folder = try Support.scratchFolder(self)
        let configuration = Support.detector()
        let (checkpoint, segmentation) = try Support.segmentationCheckpoint(configuration, seed: 1, in: folder)
        let (model, report) = try WeightTransfer.classifier(fromSegmentation: checkpoint, roiBatchSize: 8, features: 16,
                                                            expected: configuration, seed: 2)
        XCTAssertEqual(report.freshlyInitialised.sorted(), Self.moduleS.sorted())
        XCTAssertFalse(report.dropped.isEmpty)
        XCTAssertTrue(report.dropped.allSatisfy { $0.hasPrefix("roi_heads.mask_head.") || $0.hasPrefix("roi_heads.mask_predictor.") },
                      "only the mask branch is dropped: \(report.dropped)")
        let shared = segmentation.parameters.parameters.filter { model.parameters[$0.name] != nil }
        XCTAssertEqual(Set(report.copied), Set(shared.map(\.name)).union(model.parameters.integerBufferNames))
        for source in shared {
            XCTAssertTrue(Support.bitIdentical(model.parameters[source.name]!.value.scalars, source.value.scalars),
                          "\(source.name) copied bit for bit")
        }
        XCTAssertEqual(model.parameters.integerBuffers, segmentation.parameters.integerBuffers)
        XCTAssertEqual(model.parameters.parameters.filter { segmentation.parameters[$0.name] == nil }.map(\.name).sorted(),
                       Self.moduleS.sorted())
        XCTAssertNil(model.detector.roiHeads.maskBranch)
    }

    /// A few Adam steps (weight decay off, so only gradients move weights) through `ClassifierTrainer`.
    func trainAFewSteps(downsample: Bool, batchNorm: Bool = true, boxPredictor: Bool = false) throws -> (before: (tensors: [String: [Float]], integers: [String: Int64]),
                                                       model: CovidCTMaskNet, trainer: ClassifierTrainer) {
        let folder = try Support.scratchFolder(self)
        let configuration = Support.detector()
        let (checkpoint, _) = try Support.segmentationCheckpoint(configuration, seed: 1, in: folder)
        let (model, _) = try WeightTransfer.classifier(fromSegmentation: checkpoint, roiBatchSize: 8, features: 16,
                                                       expected: configuration, seed: 2,
                                                       trainDownsampleBatchNorm: downsample, trainBatchNormAffine: batchNorm,
                                                       trainBoxPredictor: boxPredictor)
        let before = Support.snapshot(model.parameters)
        var settings = ClassifierTrainingConfiguration()
        settings.epochs = 1
        settings.batchSize = 2
        settings.learningRate = 1e-3
        settings.weightDecay = 0
        settings.seed = 3
        let trainer = ClassifierTrainer(model: model, configuration: settings)
        try trainer.train(training: Support.source(count: 4), validation: nil, checkpoint: nil)
        XCTAssertEqual(trainer.history.count, 1)
        XCTAssertTrue(trainer.history[0].trainLoss.isFinite && trainer.history[0].trainLoss > 0)
        XCTAssertEqual(trainer.optimizer.stepCount(of: model.parameters["s2new.fc_scores.weight"]!), 2, "two batches of two")
        return (before, model, trainer)
    }

    func testAfterTrainingOnlyTheTrainableSetChangedAndBNStatisticsAreBitIdentical() throws {
        let (before, model, trainer) = try trainAFewSteps(downsample: false)
        let trainable = Set(model.trainableParameters.map(\.name))
        XCTAssertEqual(trainable, Set(Self.moduleS + Self.expectedBatchNormAffine))
        XCTAssertEqual(Set(trainer.optimizer.parameters.map(\.name)), trainable, "Adam sees exactly the trainable set")
        XCTAssertTrue(model.parameters.parameters.allSatisfy { $0.gradient == nil }, "buffers released after the step")
        var statistics = 0, frozen = 0
        for parameter in model.parameters.parameters {
            let unchanged = Support.bitIdentical(parameter.value.scalars, before.tensors[parameter.name]!)
            if trainable.contains(parameter.name) {
                XCTAssertFalse(unchanged, "\(parameter.name) is trainable and must have moved")
            } else {
                XCTAssertTrue(unchanged, "\(parameter.name) is outside the trainable set and must be bit-identical")
                frozen += 1
            }
            if parameter.name.hasSuffix("running_mean") || parameter.name.hasSuffix("running_var") {
                XCTAssertTrue(unchanged, "\(parameter.name): BN statistics are frozen")
                statistics += 1
            }
        }
        XCTAssertEqual(statistics, 2 * 15, "15 BatchNorms in R18 t1 (13 bn + 2 downsample)")
        XCTAssertGreaterThan(frozen, 50)
        XCTAssertEqual(model.parameters.integerBuffers, before.integers, "num_batches_tracked untouched")
        for name in Self.downsampleAffine {
            XCTAssertTrue(Support.bitIdentical(model.parameters[name]!.value.scalars, before.tensors[name]!),
                          "\(name): downsample BN is not trained by default")
        }
    }

    func testWithoutBatchNormAffineOnlySMovesAndTheDetectorIsBitIdentical() throws {
        let (before, model, trainer) = try trainAFewSteps(downsample: false, batchNorm: false)
        XCTAssertEqual(Set(model.trainableParameters.map(\.name)), Set(Self.moduleS))
        XCTAssertEqual(Set(trainer.optimizer.parameters.map(\.name)), Set(Self.moduleS))
        XCTAssertEqual(model.configuration.trainableSetName, "s2new")
        for parameter in model.parameters.parameters {
            let unchanged = Support.bitIdentical(parameter.value.scalars, before.tensors[parameter.name]!)
            XCTAssertEqual(unchanged, !parameter.name.hasPrefix("s2new."), parameter.name)
        }
    }

    func testTheBoxPredictorTrainsWhenAskedAndNothingElseOfTheDetectorMoves() throws {
        let (before, model, _) = try trainAFewSteps(downsample: false, batchNorm: false, boxPredictor: true)
        let predictor = ["roi_heads.box_predictor.cls_score.weight", "roi_heads.box_predictor.cls_score.bias",
                         "roi_heads.box_predictor.bbox_pred.weight", "roi_heads.box_predictor.bbox_pred.bias"]
        XCTAssertEqual(Set(model.trainableParameters.map(\.name)), Set(Self.moduleS + predictor))
        XCTAssertEqual(model.configuration.trainableSetName, "s2new+box-predictor")
        for parameter in model.parameters.parameters {
            let unchanged = Support.bitIdentical(parameter.value.scalars, before.tensors[parameter.name]!)
            XCTAssertEqual(unchanged, !(parameter.name.hasPrefix("s2new.") || predictor.contains(parameter.name)), parameter.name)
        }
    }

    func testTrainableSetOptionsAreWrittenOnlyWhenTheyLeaveTheSeedsSetAndOldConfigurationsReadAsTheSeeds() throws {
        var configuration = ClassifierConfiguration(detector: Support.detector(), roiBatchSize: 8, features: 16)
        let seedSet = canonicalJSONString(configuration)
        XCTAssertFalse(seedSet.contains("trainBatchNormAffine"), "the seed's set keeps the bytes written before the option")
        XCTAssertEqual(ClassifierConfiguration.from(metadata: ["classifier_configuration": seedSet])?.trainBatchNormAffine, true)
        configuration.trainBatchNormAffine = false
        configuration.trainBoxPredictor = true
        let changed = canonicalJSONString(configuration)
        XCTAssertEqual(ClassifierConfiguration.from(metadata: ["classifier_configuration": changed]), configuration)
        XCTAssertEqual(ClassifierConfiguration.from(metadata: ["classifier_configuration": seedSet])?.trainBoxPredictor, false)
    }

    func testRowClassColumnsWidenSAndTrainAndAreRecordedOnlyWhenOn() throws {
        // 5 seed columns and one per lesion class (GGO, C).
        try checkWidenedRows(RankedRowLayout(classColumns: true), width: 7, key: "rowClassColumns") { $0.rowClassColumns = false }
    }

    func testRowBoxColumnsWidenSAndTrainAndAreRecordedOnlyWhenOn() throws {
        // 5 seed columns, 2 class columns, 4 box columns.
        try checkWidenedRows(RankedRowLayout(classColumns: true, boxColumns: true), width: 11, key: "rowBoxColumns") {
            $0.rowBoxColumns = false
        }
    }

    /// A classifier whose rows have `layout`: S is `width` columns per row wide, the configuration records
    /// `key` only while the option is on (`unset` turns it off), S trains, and a reloaded checkpoint keeps
    /// the layout.
    private func checkWidenedRows(_ layout: RankedRowLayout, width: Int, key: String,
                                  unset: (inout ClassifierConfiguration) -> Void) throws {
        let folder = try Support.scratchFolder(self)
        let configuration = Support.detector(maskType: .both)
        let (checkpoint, _) = try Support.segmentationCheckpoint(configuration, seed: 1, in: folder)
        let (model, _) = try WeightTransfer.classifier(fromSegmentation: checkpoint, roiBatchSize: 8, features: 16,
                                                       expected: configuration, seed: 2, rankedRows: layout)
        XCTAssertEqual(model.configuration.rankedRowWidth, width)
        XCTAssertEqual(model.extraction.rowWidth, width)
        XCTAssertEqual(model.parameters["s2new.fc_scores.weight"]?.value.shape, [16, width * 8])
        let json = canonicalJSONString(model.configuration)
        XCTAssertTrue(json.contains(key))
        XCTAssertEqual(ClassifierConfiguration.from(metadata: ["classifier_configuration": json]), model.configuration)
        var without = model.configuration
        unset(&without)
        XCTAssertFalse(canonicalJSONString(without).contains(key), "rows without the option keep the bytes written before it")

        let before = Support.snapshot(model.parameters)
        let reloaded = try trainOneEpochAndReload(model, in: folder)
        XCTAssertFalse(Support.bitIdentical(model.parameters["s2new.fc_scores.weight"]!.value.scalars,
                                            before.tensors["s2new.fc_scores.weight"]!), "S trains on the widened rows")
        XCTAssertEqual(reloaded.configuration.rankedRows, layout, "a classifier checkpoint keeps its row layout")
        XCTAssertEqual(reloaded.extraction.rowWidth, width, "a classifier checkpoint rebuilds S at its own width")
    }

    /// One epoch of 2-image batches on 4 slices (its loss must be finite), then the model written as a
    /// classifier checkpoint and read back.
    private func trainOneEpochAndReload(_ model: CovidCTMaskNet, in folder: URL) throws -> CovidCTMaskNet {
        var settings = ClassifierTrainingConfiguration()
        settings.epochs = 1
        settings.batchSize = 2
        settings.seed = 3
        let trainer = ClassifierTrainer(model: model, configuration: settings)
        try trainer.train(training: Support.source(count: 4), validation: nil, checkpoint: nil)
        XCTAssertTrue(trainer.history[0].trainLoss.isFinite)
        let path = folder.appendingPathComponent("classifier.safetensors")
        try model.parameters.stateDictionary(metadata: model.configuration.metadata()).write(to: path)
        return try WeightTransfer.classifier(fromClassifier: try SafeTensorsFile.read(path), roiBatchSize: 8, features: 16)
    }

    func testLogScoreEncodingTrainsAndIsRecordedOnlyWhenOn() throws {
        let folder = try Support.scratchFolder(self)
        let configuration = Support.detector(maskType: .both)
        let (checkpoint, _) = try Support.segmentationCheckpoint(configuration, seed: 1, in: folder)
        let (model, _) = try WeightTransfer.classifier(fromSegmentation: checkpoint, roiBatchSize: 8, features: 16,
                                                       expected: configuration, seed: 2,
                                                       rankedRows: RankedRowLayout(scoreEncoding: .log))
        XCTAssertEqual(model.extraction.scoreEncoding, .log)
        let json = canonicalJSONString(model.configuration)
        XCTAssertTrue(json.contains("\"scoreEncoding\":\"log\""), json)
        var seed = model.configuration
        seed.scoreEncoding = .probability
        XCTAssertFalse(canonicalJSONString(seed).contains("scoreEncoding"), "the seed's rows keep the bytes written before the option")

        let reloaded = try trainOneEpochAndReload(model, in: folder)
        XCTAssertEqual(reloaded.extraction.scoreEncoding, .log, "a classifier checkpoint keeps its score encoding")
    }

    func testDownsampleBatchNormTrainsWhenAsked() throws {
        let (before, model, _) = try trainAFewSteps(downsample: true)
        XCTAssertTrue(model.configuration.trainDownsampleBatchNorm)
        XCTAssertEqual(Set(model.trainableParameters.map(\.name)),
                       Set(Self.moduleS + Self.expectedBatchNormAffine + Self.downsampleAffine))
        for name in Self.downsampleAffine {
            XCTAssertFalse(Support.bitIdentical(model.parameters[name]!.value.scalars, before.tensors[name]!),
                           "\(name) must move when downsample BN is trainable")
        }
        for parameter in model.parameters.parameters where parameter.name.contains("running_") {
            XCTAssertTrue(Support.bitIdentical(parameter.value.scalars, before.tensors[parameter.name]!), parameter.name)
        }
        XCTAssertEqual(model.parameters.integerBuffers, before.integers)
    }

    /// Appendix D/B10: frozen tensors get no gradient buffer; every trainable one gets a nonzero gradient.
    func testFrozenTensorsGetNoGradientBuffer() throws {
        let folder = try Support.scratchFolder(self)
        let configuration = Support.detector()
        let (checkpoint, _) = try Support.segmentationCheckpoint(configuration, seed: 1, in: folder)
        let model = try WeightTransfer.classifier(fromSegmentation: checkpoint, roiBatchSize: 8, features: 16,
                                                  expected: configuration, seed: 2).model
        model.applyTrainableSet()
        let tape = GradientTape()
        var padding = ClassifierTrainer.paddingGenerator(seed: 1, identity: "a")
        let logits = model.logits(image: Support.slice(.covid19, variant: 0),
                                  context: ForwardContext(tape: tape, batchNormMode: .evaluation),
                                  paddingGenerator: &padding).logits
        tape.backward(from: ClassifierTrainer.loss(logits, labels: [.covid19], kind: .binaryCrossEntropy))
        for parameter in model.parameters.parameters {
            let inSet = CovidCTMaskNet.isInTrainableSet(parameter.name, includeDownsample: false)
            XCTAssertEqual(parameter.requiresGradient, inSet, parameter.name)
            if inSet {
                let gradient = try XCTUnwrap(parameter.gradient, "\(parameter.name) needs a gradient")
                XCTAssertTrue(gradient.scalars.contains { $0 != 0 }, "\(parameter.name) gradient is all zero")
            } else {
                XCTAssertNil(parameter.gradient, "\(parameter.name) is frozen and must get no gradient buffer")
            }
        }
    }

    /// Spec §4.7 step 6 and B10: gradients reach the box predictor, box head, FPN and backbone through S,
    /// never the RPN head (proposals are detached), even when those tensors are made trainable.
    func testGradientsFlowFromSIntoTheDetectorButNotTheRPNHead() throws {
        let model = CovidCTMaskNet(configuration: ClassifierConfiguration(detector: Support.detector(), roiBatchSize: 8,
                                                                          features: 16), seed: 4)
        model.applyTrainableSet()
        let probes = ["roi_heads.box_predictor.cls_score.weight", "roi_heads.box_predictor.bbox_pred.weight",
                      "roi_heads.box_head.fc6.weight", "roi_heads.box_head.fc7.bias", "backbone.fpn.inner_blocks.0.weight",
                      "backbone.fpn.layer_blocks.0.weight", "backbone.body.layer3.1.conv2.weight",
                      "backbone.body.conv1.weight"]
        let rpn = model.parameters.parameters.filter { $0.name.hasPrefix("rpn.") }
        XCTAssertEqual(rpn.count, 6)
        for name in probes { model.parameters[name]!.requiresGradient = true }
        for parameter in rpn { parameter.requiresGradient = true }
        let tape = GradientTape()
        var padding = ClassifierTrainer.paddingGenerator(seed: 1, identity: "b")
        let output = model.logits(image: Support.slice(.commonPneumonia, variant: 1),
                                  context: ForwardContext(tape: tape, batchNormMode: .evaluation), paddingGenerator: &padding)
        XCTAssertGreaterThan(output.ranked.survivorCount, 0, "the test needs real candidates")
        tape.backward(from: ClassifierTrainer.loss(output.logits, labels: [.commonPneumonia], kind: .binaryCrossEntropy))
        for name in probes + ["backbone.body.layer1.0.bn1.weight", "backbone.body.bn1.bias", "backbone.body.layer3.1.bn2.weight"] {
            let gradient = try XCTUnwrap(model.parameters[name]!.gradient, "\(name) should receive a gradient")
            XCTAssertTrue(gradient.scalars.contains { $0 != 0 }, "\(name) gradient is all zero")
        }
        for parameter in rpn { XCTAssertNil(parameter.gradient, "\(parameter.name): the RPN head gets no gradient from S") }
    }

    /// The backbone BN gradient agrees with a central difference of the same function, proposals held fixed
    /// (they are detached by design, spec §4.7 step 6), padding from the same seed.
    func testBackboneBatchNormGradientMatchesFiniteDifferences() throws {
        let model = CovidCTMaskNet(configuration: ClassifierConfiguration(detector: Support.detector(), roiBatchSize: 8,
                                                                          features: 16), seed: 5)
        model.applyTrainableSet()
        let image = Support.slice(.covid19, variant: 2)
        let prepared = model.detector.transform(image)
        var unused = SeededGenerator(seed: 0)
        let proposals = model.detector.rpn(model.detector.backbone(Variable(prepared.batch), .inference), image: prepared,
                                           training: false, target: nil, context: .inference, generator: &unused).proposals
        let weights = Tensor(shape: [1, 3], scalars: [0.7, -1.3, 0.4])
        func objective(_ context: ForwardContext) -> (Variable, Int) {
            let levels = model.detector.backbone(Variable(prepared.batch), context)
            let (classLogits, deltas) = model.detector.roiHeads.boxOutputs(levels, rois: proposals, image: prepared, context)
            var padding = SeededGenerator(seed: 9)
            let ranked = model.extraction(logits: classLogits, deltas: deltas, proposals: proposals, image: prepared,
                                          roiHeads: model.detector.roiHeads, generator: &padding)
            let logits = model.classificationModule(ranked.rows, context)
            return (linear(logits, weight: Variable(weights), bias: nil), ranked.survivorCount)
        }
        let parameter = model.parameters["backbone.body.layer1.0.bn1.weight"]!
        let tape = GradientTape()
        let (value, survivors) = objective(ForwardContext(tape: tape, batchNormMode: .evaluation))
        XCTAssertGreaterThan(survivors, 0)
        tape.backward(from: value)
        let gradient = try XCTUnwrap(parameter.gradient).scalars
        var generator = SeededGenerator(seed: 10)
        let direction = (0..<gradient.count).map { _ in generator.nextNormal() }
        let analytic = zip(gradient, direction).reduce(0) { $0 + Double($1.0) * Double($1.1) }
        let original = parameter.value
        func shifted(_ step: Float) -> Double {
            parameter.value = Tensor(shape: original.shape, scalars: zip(original.scalars, direction).map { $0 + step * $1 })
            defer { parameter.value = original }
            return Double(objective(.inference).0.value.scalar)
        }
        // The objective is float32 and its rounding noise is a few 1e-6 (from step to step, not smooth), so a
        // central difference at one small step scatters by ±20% (measured, with OpenBLAS and with our GEMM
        // alike, whose analytic gradients agree to 1e-5), while steps above ~5e-4 cross the kinks of ReLU and
        // max-pool. The least-squares slope of f over 33 evenly spaced steps in [−4e-4, 4e-4] averages the
        // noise down to ~1% of this gradient (measured: 0.2008 with our GEMM, 0.2002 with OpenBLAS, against 0.2035).
        let stepCount = 16, spacing: Float = 2.5e-5
        var weightedSum = 0.0, squareSum = 0.0
        for index in -stepCount...stepCount where index != 0 {
            let step = Float(index) * spacing
            weightedSum += Double(step) * shifted(step)
            squareSum += Double(step) * Double(step)
        }
        let numeric = weightedSum / squareSum
        XCTAssertGreaterThan(abs(analytic), 1e-3, "the probe must see a real gradient")
        XCTAssertEqual(numeric, analytic, accuracy: 0.03 * abs(analytic),
                       "directional derivative: analytic \(analytic), least-squares slope \(numeric)")
    }

    /// Spec §2.4 "trainable (S + "bn" affine)" column, counted on built models without training.
    func testTrainableCountsMatchSpecTable() {
        func counts(_ depth: ResNetDepth, truncation: Int, d: Int, s: Int, downsample: Bool = false)
            -> (trainable: Int, parameters: Int, state: Int) {
            var configuration = ClassifierConfiguration(
                detector: MaskRCNNConfiguration(backbone: BackboneConfiguration(depth: depth, truncation: truncation),
                                                maskType: .merge), roiBatchSize: d, features: s)
            configuration.trainDownsampleBatchNorm = downsample
            let model = CovidCTMaskNet(configuration: configuration, seed: 0)
            model.applyTrainableSet()
            return (model.trainableParameters.reduce(0) { $0 + $1.value.count }, model.parameters.trainableCount,
                    model.parameters.stateCount)
        }
        let r18 = counts(.resnet18, truncation: 1, d: 128, s: 512)
        XCTAssertEqual(r18.trainable, 596_099)
        XCTAssertEqual(r18.parameters, 6_283_235, "spec §2.4 classifier params, R18 t1")
        XCTAssertEqual(r18.state, 6_287_715, "spec §2.4 classifier state, R18 t1")
        XCTAssertEqual(counts(.resnet18, truncation: 1, d: 128, s: 512, downsample: true).trainable,
                       596_099 + 2 * (128 + 256), "plus layer2.0 and layer3.0 downsample BN affine")
        let r50 = counts(.resnet50, truncation: 0, d: 256, s: 1024)
        XCTAssertEqual(r50.trainable, 2_409_859)
        XCTAssertEqual(r50.parameters, 31_469_027, "spec §2.4 classifier params, R50")
        XCTAssertEqual(r50.state, 31_522_147, "spec §2.4 classifier state, R50")
    }

    func testTrainableSetRuleByName() {
        let cases: [(String, Bool, Bool)] = [
            ("s2new.fc_scores.weight", true, true), ("s2new.fc_scores_img.bias", true, true),
            ("backbone.body.bn1.weight", true, true), ("backbone.body.layer1.0.bn2.bias", true, true),
            ("backbone.body.layer4.2.bn3.weight", true, true), ("backbone.body.bn1.running_mean", false, false),
            ("backbone.body.layer1.0.bn1.running_var", false, false),
            ("backbone.body.layer2.0.downsample.1.weight", false, true),
            ("backbone.body.layer2.0.downsample.1.running_mean", false, false),
            ("backbone.body.layer2.0.downsample.0.weight", false, false), ("backbone.body.conv1.weight", false, false),
            ("backbone.fpn.inner_blocks.0.weight", false, false), ("rpn.head.bbox_pred.weight", false, false),
            ("roi_heads.box_predictor.bbox_pred.bias", false, false), ("roi_heads.box_head.fc6.weight", false, false),
        ]
        for (name, plain, withDownsample) in cases {
            XCTAssertEqual(CovidCTMaskNet.isInTrainableSet(name, includeDownsample: false), plain, name)
            XCTAssertEqual(CovidCTMaskNet.isInTrainableSet(name, includeDownsample: true), withDownsample, name)
        }
    }

    /// A training context asking for BN training mode still leaves the statistics frozen (§5.4).
    func testLogitsIgnoreATrainingModeContext() {
        let model = CovidCTMaskNet(configuration: ClassifierConfiguration(detector: Support.detector(), roiBatchSize: 8,
                                                                          features: 16), seed: 6)
        let before = Support.snapshot(model.parameters)
        var first = ClassifierTrainer.paddingGenerator(seed: 1, identity: "c")
        let evaluation = model.logits(image: Support.slice(.control, variant: 3), context: .inference,
                                      paddingGenerator: &first).logits.value
        var second = ClassifierTrainer.paddingGenerator(seed: 1, identity: "c")
        let training = model.logits(image: Support.slice(.control, variant: 3), context: .training(tape: GradientTape()),
                                    paddingGenerator: &second).logits.value
        XCTAssertTrue(Support.bitIdentical(evaluation.scalars, training.scalars))
        XCTAssertEqual(model.parameters.integerBuffers, before.integers)
        for parameter in model.parameters.parameters where parameter.name.contains("running_") {
            XCTAssertTrue(Support.bitIdentical(parameter.value.scalars, before.tensors[parameter.name]!), parameter.name)
        }
    }

    /// The checkpoint records the frozen statistics and the trainable set, reloads strictly with identical
    /// logits, and resuming restores epochs, history and Adam state.
    func testCheckpointRoundTripAndResume() throws {
        let folder = try Support.scratchFolder(self)
        let (_, model, trainer) = try trainAFewSteps(downsample: false)
        let url = folder.appendingPathComponent("classifier.safetensors")
        try trainer.saveCheckpoint(to: url)
        let file = try SafeTensorsFile.read(url)
        XCTAssertEqual(file.metadata["format"], "masknet-classifier")
        XCTAssertEqual(file.metadata["bn_statistics"], "frozen")
        XCTAssertEqual(file.metadata["trainable_set"], "s2new+bn")
        XCTAssertEqual(file.metadata["roi_batch_size"], "8")
        XCTAssertEqual(file.metadata["s_features"], "16")
        XCTAssertEqual(file.metadata["epoch"], "1")
        let reloaded = try WeightTransfer.classifier(fromClassifier: file, roiBatchSize: 8, features: 16)
        XCTAssertEqual(reloaded.configuration, model.configuration)
        let source = Support.source(count: 3)
        let original = try ClassifierEvaluation.run(model: model, source: source, seed: 5)
        let again = try ClassifierEvaluation.run(model: reloaded, source: source, seed: 5)
        XCTAssertTrue(Support.bitIdentical(original.logits.flatMap { $0 }, again.logits.flatMap { $0 }))

        var settings = trainer.configuration
        settings.epochs = 2
        let resumed = ClassifierTrainer(model: reloaded, configuration: settings)
        try resumed.resume(from: url)
        XCTAssertEqual(resumed.completedEpochs, 1)
        // Epoch wall times are for logs only and not stored (checkpoints hold no wall-clock time, issue 12):
        // everything else in the history must come back.
        func withoutWallTimes(_ history: [ClassifierEpochRecord]) -> [ClassifierEpochRecord] {
            history.map { var record = $0; record.seconds = 0; return record }
        }
        XCTAssertEqual(resumed.history, withoutWallTimes(trainer.history))
        XCTAssertEqual(resumed.optimizer.stepCount(of: reloaded.parameters["s2new.fc_scores.weight"]!), 2)
        let statistics = Support.snapshot(reloaded.parameters)
        try resumed.train(training: Support.source(count: 2), validation: Support.source(count: 2, offset: 5),
                          checkpoint: nil)
        for parameter in reloaded.parameters.parameters where parameter.name.contains("running_") {
            XCTAssertTrue(Support.bitIdentical(parameter.value.scalars, statistics.tensors[parameter.name]!),
                          "\(parameter.name) after a training and a validation pass")
        }
        XCTAssertEqual(reloaded.parameters.integerBuffers, statistics.integers)
        XCTAssertEqual(resumed.completedEpochs, 2)
        XCTAssertEqual(resumed.history.count, 2)
        XCTAssertNotNil(resumed.history[1].validationAccuracy)
        XCTAssertEqual(resumed.optimizer.stepCount(of: reloaded.parameters["s2new.fc_scores.weight"]!), 3)
    }

    /// Paused between two batches (Slurm's USR2) and resumed from the pause checkpoint, training ends with
    /// the weights, Adam state, history and checkpoint bytes of a run that never stopped.
    func testPausedInsideAnEpochAndResumedGivesTheUninterruptedRun() throws {
        let folder = try Support.scratchFolder(self)
        let configuration = Support.detector()
        let (segmentation, _) = try Support.segmentationCheckpoint(configuration, seed: 1, in: folder)
        var settings = ClassifierTrainingConfiguration()
        settings.epochs = 2
        settings.batchSize = 2
        settings.learningRate = 1e-3
        settings.seed = 9
        func trainer() throws -> ClassifierTrainer {
            let (model, _) = try WeightTransfer.classifier(fromSegmentation: segmentation, roiBatchSize: 8, features: 16,
                                                           expected: configuration, seed: 2)
            return ClassifierTrainer(model: model, configuration: settings)
        }
        let straight = try trainer()
        let straightCheckpoint = folder.appendingPathComponent("straight.safetensors")
        try straight.train(training: Support.source(count: 5), validation: nil, checkpoint: straightCheckpoint)

        // Batches start at slices 0, 2, 4: the fifth check is epoch 2's second batch.
        let paused = try trainer()
        let checkpoint = folder.appendingPathComponent("paused.safetensors")
        var checks = 0
        XCTAssertThrowsError(try paused.train(training: Support.source(count: 5), validation: nil, checkpoint: checkpoint,
                                              pauseRequested: { checks += 1; return checks == 5 })) { error in
            XCTAssertEqual((error as? TrainingPaused)?.point, TrainingResumePoint(epoch: 1, done: 2, steps: 5), "\(error)")
        }
        XCTAssertNotNil(try SafeTensorsFile.read(checkpoint).metadata["epoch_in_progress"])

        let resumed = try trainer()
        try resumed.resume(from: checkpoint)
        XCTAssertEqual(resumed.resumePoint, TrainingResumePoint(epoch: 1, done: 2, steps: 5))
        try resumed.train(training: Support.source(count: 5), validation: nil, checkpoint: checkpoint)
        XCTAssertEqual(resumed.history.map(\.trainLoss), straight.history.map(\.trainLoss))
        XCTAssertEqual(resumed.history.map(\.trainAccuracy), straight.history.map(\.trainAccuracy))
        for parameter in straight.model.parameters.parameters {
            XCTAssertTrue(Support.bitIdentical(resumed.model.parameters[parameter.name]!.value.scalars, parameter.value.scalars),
                          parameter.name)
        }
        XCTAssertEqual(try Data(contentsOf: checkpoint), try Data(contentsOf: straightCheckpoint),
                       "the final checkpoint is byte-identical to the uninterrupted run's")
    }
}
