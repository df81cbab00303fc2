import Foundation
import ScalarLogging
import XCTest

/// TensorBoard event files and metrics.csv: the checksum against its published check value, records read
/// back bit for bit, damage detected, and a resumed log keeping only completed epochs. (TensorBoard's own
/// reader accepts the files: `Tools/check_tensorboard_events.py`.)
final class ScalarLoggingTests: XCTestCase {
    func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("masknet-scalars-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    func testCRC32CMatchesTheCheckValueAndTheMaskedFormOfTensorFlow() {
        // CRC-32C check value (RFC 3720 / the CRC catalogue) and iSCSI's 32 zero bytes vector.
        XCTAssertEqual(CRC32C.checksum(Array("123456789".utf8)), 0xE306_9283)
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0, count: 32)), 0x8A91_36AA)
        let crc = CRC32C.checksum(Array("123456789".utf8))
        XCTAssertEqual(CRC32C.masked(Array("123456789".utf8)), ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8)
    }

    func testEventFileRoundTripsEveryScalar() throws {
        let folder = try temporaryDirectory()
        let log = try ScalarLog(journal: nil)
        log.add(step: 1, epoch: 1, ["loss/total": 2.5, "loss/mask": 0.75, "learning_rate": 1e-3], wallTime: 1_700_000_000.25)
        log.add(step: 2, epoch: 1, ["loss/total": 2.0, "loss/mask": 0.5, "learning_rate": 1e-3], wallTime: 1_700_000_001.5)
        log.add(step: 2, epoch: 1, ["epoch/validation_loss": 2.25], wallTime: 1_700_000_002)
        try log.publish(csv: folder.appendingPathComponent("metrics.csv"), eventDirectory: folder.appendingPathComponent("tb"))
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.appendingPathComponent("tb").path)
        XCTAssertEqual(files.count, 1)
        XCTAssertTrue(files[0].hasPrefix("events.out.tfevents.1700000000."), files[0])
        let events = try TensorBoardEventFile.read(folder.appendingPathComponent("tb").appendingPathComponent(files[0]))
        XCTAssertEqual(events.first?.fileVersion, "brain.Event:2")
        XCTAssertEqual(events.count, 3)
        XCTAssertEqual(events[1].step, 1)
        XCTAssertEqual(events[1].wallTime, 1_700_000_000.25)
        XCTAssertEqual(Dictionary(uniqueKeysWithValues: events[1].scalars.map { ($0.tag, $0.value) }),
                       ["learning_rate": 1e-3, "loss/mask": 0.75, "loss/total": 2.5])
        XCTAssertEqual(Dictionary(uniqueKeysWithValues: events[2].scalars.map { ($0.tag, $0.value) })["epoch/validation_loss"], 2.25)
        let csv = try String(contentsOf: folder.appendingPathComponent("metrics.csv"), encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(csv[0], "step,epoch,wall_time,epoch/validation_loss,learning_rate,loss/mask,loss/total")
        XCTAssertEqual(csv[1], "1,1,1700000000.250,,0.001,0.75,2.5")
        XCTAssertEqual(csv[2], "2,1,1700000001.500,2.25,0.001,0.5,2.0")
    }

    func testDamagedEventFileIsRefusedWithItsPath() throws {
        let folder = try temporaryDirectory()
        let url = try TensorBoardEventFile.write([TensorBoardEvent(wallTime: 1, step: 3, scalars: [("a", 1)])], to: folder, wallTime: 1)
        var bytes = [UInt8](try Data(contentsOf: url))
        bytes[bytes.count - 6] ^= 0x40
        try Data(bytes).write(to: url)
        XCTAssertThrowsError(try TensorBoardEventFile.read(url)) { error in
            XCTAssertTrue("\(error)".contains(url.path) && "\(error)".contains("checksum"), "\(error)")
        }
        try Data(bytes.prefix(20)).write(to: url)
        XCTAssertThrowsError(try TensorBoardEventFile.read(url))
    }

    func testResumedLogKeepsOnlyCompletedEpochs() throws {
        let journal = try temporaryDirectory().appendingPathComponent("scalars.csv")
        do {
            let log = try ScalarLog(journal: journal)
            log.add(step: 1, epoch: 1, ["loss/total": 3])
            log.add(step: 2, epoch: 2, ["loss/total": 2])   // epoch 2 interrupted before its checkpoint
        }
        let resumed = try ScalarLog(journal: journal, keepingEpochs: 1)
        XCTAssertEqual(resumed.series("loss/total").map(\.step), [1])
        resumed.add(step: 2, epoch: 2, ["loss/total": 1.5])
        let reread = try ScalarLog(journal: journal, keepingEpochs: 2)
        XCTAssertEqual(reread.series("loss/total").map(\.value), [3, 1.5])
    }

    func testLogResumedInsideAnEpochKeepsItsStepsUpToThePause() throws {
        let journal = try temporaryDirectory().appendingPathComponent("scalars.csv")
        do {
            let log = try ScalarLog(journal: journal)
            for step in 1...4 { log.add(step: step, epoch: 1, ["loss/total": Double(step)]) }
            // Epoch 2: paused after its second step (global step 6); step 7 ran after the pause checkpoint.
            for step in 5...7 { log.add(step: step, epoch: 2, ["loss/total": Double(step)]) }
        }
        let resumed = try ScalarLog(journal: journal, keepingEpochs: 1, keepingStepsThrough: 6)
        XCTAssertEqual(resumed.series("loss/total").map(\.step), [1, 2, 3, 4, 5, 6])
    }
}
