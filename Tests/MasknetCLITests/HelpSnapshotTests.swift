import ArgumentParser
import XCTest
@testable import masknet

/// The help text of every command against a committed snapshot (as swift-argument-parser tests its own),
/// so a changed option, default or wording shows up in review. After an intended change, rerun with
/// `UPDATE_SNAPSHOTS=1` and commit `Tests/MasknetCLITests/Snapshots/`.
final class HelpSnapshotTests: XCTestCase {
    static let snapshots = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Snapshots")

    /// Every command below `root` with its path of names (`masknet`, `masknet bench backbone`, …).
    static func commands(_ root: ParsableCommand.Type, path: [String]) -> [(path: [String], type: ParsableCommand.Type)] {
        [(path, root)] + root.configuration.subcommands.flatMap { sub in
            commands(sub, path: path + [sub.configuration.commandName ?? String(describing: sub).lowercased()])
        }
    }

    func testHelpOfEveryCommandMatchesItsSnapshot() throws {
        let update = ProcessInfo.processInfo.environment["UPDATE_SNAPSHOTS"] != nil
        if update { try FileManager.default.createDirectory(at: Self.snapshots, withIntermediateDirectories: true) }
        let all = Self.commands(Masknet.self, path: ["masknet"])
        XCTAssertGreaterThan(all.count, 20, "every command and subcommand is listed")
        var expectedFiles: Set<String> = []
        for (path, type) in all {
            let help = Masknet.helpMessage(for: type, columns: 100) + "\n"
            let file = Self.snapshots.appendingPathComponent(path.joined(separator: "-") + ".txt")
            expectedFiles.insert(file.lastPathComponent)
            if update {
                try help.write(to: file, atomically: true, encoding: .utf8)
                continue
            }
            guard let snapshot = try? String(contentsOf: file, encoding: .utf8) else {
                XCTFail("no snapshot \(file.lastPathComponent) for `\(path.joined(separator: " "))`: run with UPDATE_SNAPSHOTS=1")
                continue
            }
            XCTAssertEqual(help, snapshot, "`\(path.joined(separator: " ")) --help` differs from \(file.lastPathComponent)")
        }
        // A snapshot without a command is a command that disappeared.
        let onDisk = Set((try? FileManager.default.contentsOfDirectory(atPath: Self.snapshots.path)) ?? []).filter { $0.hasSuffix(".txt") }
        XCTAssertEqual(onDisk.subtracting(expectedFiles), [], "snapshots of commands that no longer exist")
    }
}
