import Foundation
import XCTest
@testable import EvaluationMetrics

/// Fixtures made by Tools/make_coco_fixtures.py (pycocotools 2.0.11), copied into the test bundle.
enum Fixtures {
    static func url(_ name: String) -> URL {
        guard let url = Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Fixtures") else {
            fatalError("fixture \(name) missing from the test bundle; rerun Tools/make_coco_fixtures.py")
        }
        return url
    }

    /// Parsed with the module's JSONDecoder-based reader: Linux JSONSerialization misrounds doubles.
    static func json(_ name: String) throws -> Any {
        try JSONDecoder().decode(_JSONValue.self, from: Data(contentsOf: url(name))).any
    }
}

func double(_ any: Any?) -> Double {
    if let b = any as? Bool { return b ? 1 : 0 }
    return any as! Double
}

func doubles(_ any: Any?) -> [Double] {
    (any as! [Any]).map { double($0) }
}

func int(_ any: Any?) -> Int {
    Int(double(any))
}

func ints(_ any: Any?) -> [Int] {
    (any as! [Any]).map { int($0) }
}
