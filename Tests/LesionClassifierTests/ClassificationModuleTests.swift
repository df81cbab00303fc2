import LesionClassifier
import NeuralNetwork
import TensorCore
import XCTest

final class ClassificationModuleTests: XCTestCase {
    func testParameterCountsMatchSpec() {
        XCTAssertEqual(ClassificationModule.parameterCount(roiBatchSize: 128, features: 512), 592_387)
        XCTAssertEqual(ClassificationModule.parameterCount(roiBatchSize: 256, features: 1024), 2_364_419)
        let store = ParameterStore()
        var generator = SeededGenerator(seed: 1)
        _ = ClassificationModule(ParameterScope(store: store, prefix: "s2new"), roiBatchSize: 128, features: 512,
                                 generator: &generator)
        XCTAssertEqual(store.trainableCount, 592_387)
        XCTAssertNotNil(store["s2new.fc_scores.weight"])
        XCTAssertEqual(store["s2new.fc_scores.weight"]?.value.shape, [512, 640])
    }

    func testPaddingSlotsFollowTheSeedsContiguousRuns() {
        var generator = SeededGenerator(seed: 9)
        XCTAssertEqual(RankedBoxExtraction.paddingSlots(survivors: 0, rows: 8, generator: &generator), [])
        XCTAssertEqual(RankedBoxExtraction.paddingSlots(survivors: 1, rows: 8, generator: &generator), [Int](repeating: 0, count: 8))
        XCTAssertEqual(RankedBoxExtraction.paddingSlots(survivors: 9, rows: 8, generator: &generator), Array(0..<8))
        for k in 2..<8 {
            let slots = RankedBoxExtraction.paddingSlots(survivors: k, rows: 8, generator: &generator)
            XCTAssertEqual(slots.count, 8)
            XCTAssertEqual(slots, slots.sorted(), "runs are contiguous and in score order")
            XCTAssertEqual(Set(slots), Set(0..<k), "every survivor gets at least one slot")
            XCTAssertEqual(slots.last, k - 1, "position D−1 belongs to the last survivor")
            XCTAssertEqual(slots.first, 0)
        }
    }
}
