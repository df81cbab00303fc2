import Foundation
import CTDatasets
import LesionClassifier
import NeuralNetwork
import ObjectDetection
import TensorCore
import TestSupport
import VisionBackbones
import XCTest

/// Module S, the classifier losses and the ranked-box extraction against PyTorch (fixtures made by
/// Tools/make_classifier_fixtures.py; tolerance rtol 1e-4, atol 1e-6 unless stated).
final class ClassifierParityTests: XCTestCase {
    // MARK: - Module S

    /// S with D = 8, s = 16 holding the fixture's weights.
    func moduleS(_ fixture: SafeTensorsFile) throws -> (ParameterStore, ClassificationModule) {
        XCTAssertEqual(fixture.metadata["roi_batch_size"], "8")
        let store = ParameterStore()
        var generator = SeededGenerator(seed: 0)
        let module = ClassificationModule(ParameterScope(store: store, prefix: "s2new"), roiBatchSize: 8, features: 16,
                                          generator: &generator)
        XCTAssertEqual(store.parameters.map(\.name).sorted(),
                       fixture.tensors.keys.filter { $0.hasPrefix("s2new.") }.sorted(), "S's state-dict keys")
        for parameter in store.parameters { parameter.value = try fixture.float(parameter.name) }
        return (store, module)
    }

    func testModuleSForwardAndBackwardMatchPyTorch() throws {
        let fixture = try classifierFixture("module_s")
        let (store, module) = try moduleS(fixture)
        let tape = GradientTape()
        let input = tape.watch(try fixture.float("input"))
        let logits = module(input, ForwardContext(tape: tape, batchNormMode: .evaluation))
        assertClose(logits.value, try fixture.float("logits"), "S logits")
        tape.backward(from: logits, seed: try fixture.float("upstream"))
        assertClose(try XCTUnwrap(tape.gradient(of: input)), try fixture.float("input_grad"), "∂/∂ ranked rows")
        for parameter in store.parameters {
            assertClose(try XCTUnwrap(parameter.gradient, parameter.name), try fixture.float("grad." + parameter.name),
                        "∂/∂ \(parameter.name)")
        }
    }

    /// Two images run one at a time, stacked to [2, 3], then the loss (spec §5.1; B9's option).
    func testClassifierLossesOfStackedSingleImageOutputsMatchPyTorch() throws {
        let fixture = try classifierFixture("module_s")
        let (store, module) = try moduleS(fixture)
        let batch = try fixture.float("batch_input").scalars
        let labels = try fixture.ints("batch_labels").map { try XCTUnwrap(CTClass(rawValue: $0)) }
        for (kind, key) in [(ClassifierLoss.binaryCrossEntropy, "bce"), (.softmaxCrossEntropy, "softmax")] {
            store.zeroGradients()
            let tape = GradientTape()
            let context = ForwardContext(tape: tape, batchNormMode: .evaluation)
            let outputs = (0..<2).map { image in
                module(Variable(Tensor(shape: [8, 5], scalars: Array(batch[(40 * image)..<(40 * image + 40)]))), context)
            }
            let logits = concatenateRows(outputs)
            assertClose(logits.value, try fixture.float("\(key).logits"), "\(key) stacked logits")
            let loss = ClassifierTrainer.loss(logits, labels: labels, kind: kind)
            assertClose(loss.value.reshaped([1]), try fixture.float("\(key).loss"), "\(key) loss")
            tape.backward(from: loss)
            for parameter in store.parameters {
                assertClose(try XCTUnwrap(parameter.gradient), try fixture.float("\(key).grad.\(parameter.name)"),
                            "\(key) ∂loss/∂ \(parameter.name)")
            }
        }
    }

    // MARK: - Ranked boxes

    /// The extraction, box heads (for n_c and the (10, 10, 5, 5) coder) and transformed image of a fixture.
    /// The detector keeps its default box score threshold 0.05: the classifier path must ignore it (B25).
    func extractionSetup(_ fixture: SafeTensorsFile) throws -> (RankedBoxExtraction, RoIHeads, TransformedImage) {
        let classCount = try XCTUnwrap(Int(fixture.metadata["num_classes"] ?? ""))
        let rows = try XCTUnwrap(Int(fixture.metadata["roi_batch_size"] ?? ""))
        let height = try XCTUnwrap(Int(fixture.metadata["image_height"] ?? ""))
        let width = try XCTUnwrap(Int(fixture.metadata["image_width"] ?? ""))
        var configuration = MaskRCNNConfiguration(backbone: BackboneConfiguration(depth: .resnet18, truncation: 1),
                                                  maskType: classCount == 3 ? .both : .merge)
        configuration.minSize = min(height, width)
        configuration.maxSize = 2 * max(height, width)
        XCTAssertEqual(configuration.boxScoreThreshold, 0.05)
        var generator = SeededGenerator(seed: 0)
        let heads = RoIHeads(ParameterScope(store: ParameterStore(), prefix: "roi_heads"), configuration: configuration,
                             withMasks: false, generator: &generator)
        let image = DetectionTransform(configuration: configuration)(Tensor(shape: [3, height, width]))
        XCTAssertEqual([image.height, image.width], [height, width], "the transform must keep the fixture's image size")
        let threshold = try XCTUnwrap(Float(fixture.metadata["nms_threshold"] ?? ""))
        return (RankedBoxExtraction(roiBatchSize: rows, nmsThreshold: threshold), heads, image)
    }

    /// Survivors exactly, rows and their gradients with the fixture's slots, and the seeded call's structure.
    func checkRankedBoxes(_ name: String, expectedSurvivors: Int) throws {
        let fixture = try classifierFixture("ranked_boxes_\(name)")
        let (extraction, heads, image) = try extractionSetup(fixture)
        let d = extraction.roiBatchSize
        let classLogits = try fixture.float("class_logits"), deltas = try fixture.float("deltas")
        let proposals = try fixture.float("proposals")

        let survivors = extraction.survivors(logits: classLogits, deltas: deltas, proposals: proposals, image: image,
                                             roiHeads: heads)
        XCTAssertEqual(survivors.count, expectedSurvivors, "\(name): k")
        XCTAssertEqual(survivors.map(\.proposal), try fixture.ints("survivor_proposals"), "\(name): survivor proposals")
        XCTAssertEqual(survivors.map(\.label), try fixture.ints("survivor_labels"), "\(name): survivor labels")

        // Rows and gradients with the fixture's (torch.randperm) slots.
        let slots = try fixture.ints("slots")
        let tape = GradientTape()
        let trackedLogits = tape.watch(classLogits), trackedDeltas = tape.watch(deltas)
        let ranked = extraction.rows(logits: trackedLogits, deltas: trackedDeltas, survivors: survivors, slots: slots)
        XCTAssertEqual(ranked.survivorCount, expectedSurvivors)
        let expectedRows = try fixture.float("rows")
        assertClose(ranked.rows.value, expectedRows, "\(name): ranked rows")
        if expectedSurvivors > 0 {
            let scores = stride(from: 0, to: 5 * d, by: 5).map { ranked.rows.value.scalars[$0] }
            XCTAssertEqual(scores, scores.sorted(by: >), "\(name): rows in descending score order")
            tape.backward(from: ranked.rows, seed: try fixture.float("upstream"))
            assertClose(try XCTUnwrap(tape.gradient(of: trackedLogits)), try fixture.float("class_logits_grad"),
                        "\(name): ∂rows/∂class logits")
            assertClose(try XCTUnwrap(tape.gradient(of: trackedDeltas)), try fixture.float("deltas_grad"),
                        "\(name): ∂rows/∂deltas")
        } else {
            XCTAssertFalse(ranked.rows.requiresGradient, "k = 0: the zero rows are a constant")
            XCTAssertEqual(ranked.rows.value.scalars, [Float](repeating: 0, count: 5 * d))
        }

        // The seeded call: same survivors, padding with our generator. Every row must be one survivor's row.
        var generator = SeededGenerator(seed: 77, stream: "parity.\(name)")
        let seeded = extraction(logits: Variable(classLogits), deltas: Variable(deltas), proposals: proposals, image: image,
                                roiHeads: heads, generator: &generator)
        XCTAssertEqual(seeded.rows.shape, [d, 5])
        XCTAssertEqual(seeded.survivorCount, expectedSurvivors)
        guard expectedSurvivors > 0 else {
            XCTAssertEqual(seeded.rows.value.scalars, [Float](repeating: 0, count: 5 * d), "k = 0 gives D zero rows")
            return
        }
        var survivorRows: [Int: ArraySlice<Float>] = [:]
        for (position, survivor) in slots.enumerated() where survivorRows[survivor] == nil {
            survivorRows[survivor] = expectedRows.scalars[(5 * position)..<(5 * position + 5)]
        }
        XCTAssertEqual(seeded.slotSurvivors.count, d)
        XCTAssertEqual(seeded.slotSurvivors, seeded.slotSurvivors.sorted(), "\(name): contiguous runs in score order")
        XCTAssertEqual(Set(seeded.slotSurvivors), Set(0..<min(expectedSurvivors, d)), "\(name): every survivor present")
        XCTAssertEqual(seeded.slotSurvivors.last, min(expectedSurvivors, d) - 1, "\(name): position D−1 holds the last")
        for (position, survivor) in seeded.slotSurvivors.enumerated() {
            let row = Tensor(shape: [5], scalars: Array(seeded.rows.value.scalars[(5 * position)..<(5 * position + 5)]))
            assertClose(row, Tensor(shape: [5], scalars: Array(try XCTUnwrap(survivorRows[survivor]))),
                        "\(name): seeded row \(position) = survivor \(survivor)")
        }
    }

    /// k ≥ D: only the top D of 83 NMS survivors, classes interleaved; includes clamped dw/dh.
    func testRankedBoxesWithMoreSurvivorsThanRowsMatchPyTorch() throws {
        try checkRankedBoxes("many", expectedSurvivors: 16)
    }

    /// k = 7 < D = 16: zero-area candidates dropped before NMS, one suppressed, a score below the detector's
    /// 0.05 threshold kept (B25), then the contiguous-run padding with the fixture's slots.
    func testRankedBoxesWithFewerSurvivorsThanRowsMatchPyTorch() throws {
        try checkRankedBoxes("few", expectedSurvivors: 7)
        let fixture = try classifierFixture("ranked_boxes_few")
        XCTAssertLessThan(try fixture.float("rows").scalars.enumerated().filter { $0.offset % 5 == 0 }.map(\.element).min()!,
                          0.05, "the fixture must hold a survivor the segmentation threshold would drop")
    }

    /// k = 0: every candidate has zero area; D zero rows and no crash (Appendix D/B6).
    func testRankedBoxesWithoutSurvivorsAreZeroRows() throws {
        try checkRankedBoxes("none", expectedSurvivors: 0)
    }

    /// The row-class option (not in the seed) appends each row's class one-hot to the PyTorch-checked rows:
    /// the first five columns and their gradients are the seed's, the class columns are constants.
    func testRowClassColumnsFollowTheSeedsRowsWithEachRowsClass() throws {
        let fixture = try classifierFixture("ranked_boxes_many")
        let (seedExtraction, heads, image) = try extractionSetup(fixture)
        let classCount = try XCTUnwrap(Int(fixture.metadata["num_classes"] ?? ""))
        XCTAssertEqual(classCount, 3, "the fixture must interleave two lesion classes")
        let extraction = RankedBoxExtraction(roiBatchSize: seedExtraction.roiBatchSize,
                                             nmsThreshold: seedExtraction.nmsThreshold, classColumns: classCount - 1)
        let d = extraction.roiBatchSize, width = extraction.rowWidth
        XCTAssertEqual(width, 7)
        let classLogits = try fixture.float("class_logits"), deltas = try fixture.float("deltas")
        let survivors = extraction.survivors(logits: classLogits, deltas: deltas, proposals: try fixture.float("proposals"),
                                             image: image, roiHeads: heads)
        XCTAssertEqual(Set(survivors.prefix(d).map(\.label)), [1, 2], "both classes among the rows")
        let slots = try fixture.ints("slots")
        let tape = GradientTape()
        let trackedLogits = tape.watch(classLogits), trackedDeltas = tape.watch(deltas)
        let ranked = extraction.rows(logits: trackedLogits, deltas: trackedDeltas, survivors: survivors, slots: slots)
        XCTAssertEqual(ranked.rows.shape, [d, width])
        let expectedRows = try fixture.float("rows").scalars
        let rows = ranked.rows.value.scalars
        for position in 0..<d {
            let row = Array(rows[(width * position)..<(width * position + width)])
            assertClose(Tensor(shape: [5], scalars: Array(row.prefix(5))),
                        Tensor(shape: [5], scalars: Array(expectedRows[(5 * position)..<(5 * position + 5)])),
                        "row \(position): the seed's five columns")
            let label = survivors[slots[position]].label
            XCTAssertEqual(Array(row.suffix(2)), label == 1 ? [1, 0] : [0, 1], "row \(position): class \(label) one-hot")
        }
        // The fixture's upstream on the seed's columns, anything on the class columns: the same gradients.
        let upstream = try fixture.float("upstream").scalars
        var widened = [Float](repeating: 0, count: d * width)
        for position in 0..<d {
            for column in 0..<5 { widened[width * position + column] = upstream[5 * position + column] }
            widened[width * position + 5] = Float(position) + 3
            widened[width * position + 6] = -7
        }
        tape.backward(from: ranked.rows, seed: Tensor(shape: [d, width], scalars: widened))
        assertClose(try XCTUnwrap(tape.gradient(of: trackedLogits)), try fixture.float("class_logits_grad"), "∂rows/∂class logits")
        assertClose(try XCTUnwrap(tape.gradient(of: trackedDeltas)), try fixture.float("deltas_grad"), "∂rows/∂deltas")

        let empty = extraction.rows(logits: trackedLogits, deltas: trackedDeltas, survivors: [], slots: [])
        XCTAssertEqual(empty.rows.shape, [d, width], "k = 0 gives D zero rows of the widened width")
    }

    /// `score_encoding: log`: the score column is log(1 + p/ε) / log(1 + 1/ε) of the seed's score p, every
    /// other column is the seed's, and the gradient reaching the class logits is the seed's scaled by
    /// 1 / ((ε + p) · log(1 + 1/ε)) on the score column — checked by handing the log rows an upstream of
    /// g·(ε + p)·log(1 + 1/ε), which must reproduce the fixture's gradients as the seed's rows do with g.
    func testLogScoreEncodingIsTheLogOfTheSeedsScoreWithTheSameOtherColumnsAndChainRuleGradients() throws {
        let fixture = try classifierFixture("ranked_boxes_many")
        let (seedExtraction, heads, image) = try extractionSetup(fixture)
        let extraction = RankedBoxExtraction(roiBatchSize: seedExtraction.roiBatchSize, nmsThreshold: seedExtraction.nmsThreshold,
                                             scoreEncoding: .log)
        let d = extraction.roiBatchSize, epsilon = RankedBoxExtraction.logScoreFloor
        let range = Foundation.log1p(1 / epsilon)
        let classLogits = try fixture.float("class_logits"), deltas = try fixture.float("deltas")
        let survivors = extraction.survivors(logits: classLogits, deltas: deltas, proposals: try fixture.float("proposals"),
                                             image: image, roiHeads: heads)
        let slots = try fixture.ints("slots")
        let tape = GradientTape()
        let trackedLogits = tape.watch(classLogits), trackedDeltas = tape.watch(deltas)
        let ranked = extraction.rows(logits: trackedLogits, deltas: trackedDeltas, survivors: survivors, slots: slots)
        XCTAssertEqual(ranked.rows.shape, [d, 5])
        let expectedRows = try fixture.float("rows").scalars, rows = ranked.rows.value.scalars
        var upstream = try fixture.float("upstream").scalars
        for position in 0..<d {
            let p = expectedRows[5 * position]
            XCTAssertEqual(rows[5 * position], Foundation.log1p(p / epsilon) / range, accuracy: 1e-5,
                           "row \(position): the seed's score \(p) on the log scale")
            XCTAssertTrue((0...1).contains(rows[5 * position]))
            XCTAssertEqual(Array(rows[(5 * position + 1)..<(5 * position + 5)]),
                           Array(expectedRows[(5 * position + 1)..<(5 * position + 5)]), "row \(position): the seed's deltas")
            upstream[5 * position] *= (p + epsilon) * range
        }
        tape.backward(from: ranked.rows, seed: Tensor(shape: [d, 5], scalars: upstream))
        assertClose(try XCTUnwrap(tape.gradient(of: trackedLogits)), try fixture.float("class_logits_grad"), "∂rows/∂class logits")
        assertClose(try XCTUnwrap(tape.gradient(of: trackedDeltas)), try fixture.float("deltas_grad"), "∂rows/∂deltas")

        let empty = extraction.rows(logits: trackedLogits, deltas: trackedDeltas, survivors: [], slots: []).rows.value
        XCTAssertEqual(empty.scalars, [Float](repeating: 0, count: d * 5), "k = 0: zero rows, a zero score being 0 on the log scale too")
    }

    /// `row_box_columns`: after the seed's five columns and the class one-hot, each row carries its survivor's
    /// box as (centre x, centre y, width, height) over the image size. Checked against torchvision's decode
    /// written out here (weights (10, 10, 5, 5), dw and dh clamped at log(1000/16), boxes clipped to the
    /// image) from the fixture's proposals and raw deltas; the seed's columns and their gradients are
    /// unchanged and the box columns, being constants, add no gradient.
    func testRowBoxColumnsCarryEachRowsDecodedBoxOverTheImageSize() throws {
        let fixture = try classifierFixture("ranked_boxes_many")
        let (seedExtraction, heads, image) = try extractionSetup(fixture)
        let classCount = try XCTUnwrap(Int(fixture.metadata["num_classes"] ?? ""))
        let extraction = RankedBoxExtraction(roiBatchSize: seedExtraction.roiBatchSize, nmsThreshold: seedExtraction.nmsThreshold,
                                             classColumns: classCount - 1, boxColumns: true)
        let d = extraction.roiBatchSize, width = extraction.rowWidth
        XCTAssertEqual(width, 5 + (classCount - 1) + 4)
        let classLogits = try fixture.float("class_logits"), deltas = try fixture.float("deltas")
        let proposals = try fixture.float("proposals")
        let survivors = extraction.survivors(logits: classLogits, deltas: deltas, proposals: proposals, image: image,
                                             roiHeads: heads)
        XCTAssertEqual(survivors.map(\.proposal), try fixture.ints("survivor_proposals"), "box columns leave the selection alone")
        let slots = try fixture.ints("slots")
        let tape = GradientTape()
        let trackedLogits = tape.watch(classLogits), trackedDeltas = tape.watch(deltas)
        let ranked = extraction.rows(logits: trackedLogits, deltas: trackedDeltas, survivors: survivors, slots: slots)
        XCTAssertEqual(ranked.rows.shape, [d, width])
        let expectedRows = try fixture.float("rows").scalars, rows = ranked.rows.value.scalars
        let imageWidth = Float(image.width), imageHeight = Float(image.height)
        let clamp = Float(Foundation.log(1000.0 / 16.0))
        for position in 0..<d {
            let row = Array(rows[(width * position)..<(width * position + width)])
            assertClose(Tensor(shape: [5], scalars: Array(row.prefix(5))),
                        Tensor(shape: [5], scalars: Array(expectedRows[(5 * position)..<(5 * position + 5)])),
                        "row \(position): the seed's five columns")
            let survivor = survivors[slots[position]]
            let p = (0..<4).map { proposals[survivor.proposal, $0] }
            let t = (0..<4).map { deltas[survivor.proposal, 4 * survivor.label + $0] }
            let (pw, ph) = (p[2] - p[0], p[3] - p[1])
            let cx = p[0] + 0.5 * pw + t[0] / 10 * pw, cy = p[1] + 0.5 * ph + t[1] / 10 * ph
            let w = Foundation.exp(min(t[2] / 5, clamp)) * pw, h = Foundation.exp(min(t[3] / 5, clamp)) * ph
            let x1 = min(max(cx - 0.5 * w, 0), imageWidth), x2 = min(max(cx + 0.5 * w, 0), imageWidth)
            let y1 = min(max(cy - 0.5 * h, 0), imageHeight), y2 = min(max(cy + 0.5 * h, 0), imageHeight)
            let expected = [(x1 + x2) / 2 / imageWidth, (y1 + y2) / 2 / imageHeight, (x2 - x1) / imageWidth, (y2 - y1) / imageHeight]
            for (column, value) in expected.enumerated() {
                XCTAssertEqual(row[5 + classCount - 1 + column], value, accuracy: 1e-5, "row \(position): box column \(column)")
            }
            XCTAssertTrue(row.suffix(4).allSatisfy { (0...1).contains($0) }, "row \(position): geometry inside the image")
        }
        // The fixture's upstream on the seed's columns, anything on the others: the seed's gradients.
        let upstream = try fixture.float("upstream").scalars
        var widened = [Float](repeating: 0, count: d * width)
        for position in 0..<d {
            for column in 0..<width { widened[width * position + column] = column < 5 ? upstream[5 * position + column] : 11 }
        }
        tape.backward(from: ranked.rows, seed: Tensor(shape: [d, width], scalars: widened))
        assertClose(try XCTUnwrap(tape.gradient(of: trackedLogits)), try fixture.float("class_logits_grad"), "∂rows/∂class logits")
        assertClose(try XCTUnwrap(tape.gradient(of: trackedDeltas)), try fixture.float("deltas_grad"), "∂rows/∂deltas")

        let empty = extraction.rows(logits: trackedLogits, deltas: trackedDeltas, survivors: [], slots: [])
        XCTAssertEqual(empty.rows.shape, [d, width], "k = 0 gives D zero rows of the widened width")
    }
}
