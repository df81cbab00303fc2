import Foundation
import XCTest

/// Fixtures made by Tools/make_coco_fixtures.py (pycocotools 2.0.11), copied into the test bundle.
enum Fixtures {
    static func url(_ name: String) -> URL {
        guard let url = Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Fixtures") else {
            fatalError("fixture \(name) missing from the test bundle; rerun Tools/make_coco_fixtures.py")
        }
        return url
    }

    static func json(_ name: String) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(contentsOf: url(name)))
    }
}

/// JSON numbers as Double (test helper).
func double(_ any: Any?) -> Double {
    (any as! NSNumber).doubleValue
}

func doubles(_ any: Any?) -> [Double] {
    (any as! [Any]).map { double($0) }
}

func ints(_ any: Any?) -> [Int] {
    (any as! [Any]).map { (($0 as! NSNumber).intValue) }
}
