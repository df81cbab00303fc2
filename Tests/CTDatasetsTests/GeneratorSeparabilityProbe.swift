@testable import CTDatasets
import Foundation
import XCTest

/// Not a check but a measurement, run on request: how well the generated classes can be told apart from the
/// generator's own lesion masks, an upper bound for any classifier that sees lesions (the README's seed study
/// of the quickstart cites it). With `MASKNET_SEPARABILITY_CSV=FILE` it writes one line per classification
/// slice (label 0 control / 1 CP / 2 COVID-19, GGO pixels, consolidation pixels, mean lateral offset of lesion
/// pixels from the image's vertical midline, −1 without lesion) for three seeds at the quickstart's size and
/// one slice per scan; `python3 Tools/generator_separability.py FILE` fits a classifier on those columns.
final class GeneratorSeparabilityProbe: XCTestCase {
    func testWritesPerSliceLesionStatisticsWhenAsked() throws {
        guard let path = ProcessInfo.processInfo.environment["MASKNET_SEPARABILITY_CSV"] else {
            throw XCTSkip("a measurement, not a check: set MASKNET_SEPARABILITY_CSV=FILE to run it")
        }
        let size = 128
        var lines = ["label,ggo,consolidation,lateral_offset"]
        for seed: UInt64 in [11, 12, 13] {
            let generator = SyntheticCTGenerator(SyntheticCTConfiguration(seed: seed, size: size, count: 600,
                                                                          layout: .classification, slicesPerScan: 1))
            for descriptor in generator.plan(.classification) {
                let mask = generator.render(descriptor).mask.values
                var ggo = 0, consolidation = 0, offset = 0
                for (index, value) in mask.enumerated() {
                    if value == 2 { ggo += 1 }
                    if value == 3 { consolidation += 1 }
                    if value >= 2 { offset += abs(index % size - size / 2) }
                }
                let lesion = ggo + consolidation
                lines.append("\(descriptor.label.rawValue),\(ggo),\(consolidation),\(lesion > 0 ? Double(offset) / Double(lesion) : -1)")
            }
        }
        try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
    }
}
