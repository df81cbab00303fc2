import ArgumentParser
import CTDatasets
import Foundation

extension Masknet {
    /// `masknet synth`: writes the synthetic CT data set (both real layouts and a manifest).
    struct Synth: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "synth",
            abstract: "Generate synthetic chest CT slices in the CNCB segmentation and COVIDx-CT classification layouts.",
            discussion: """
            Writes OUT/segmentation/{imgs,masks}/<scan>_<slice>.png (mask values 0 background, 1 lung, 2 GGO, \
            3 consolidation), OUT/classification/[Class]_[Patient]_[Scan]_[Slice].png (0 Control, 1 CP, \
            2 COVID-19) and OUT/manifest.json. The same options give byte-identical files.
            """)

        @Option(name: .long, help: "Output folder (created if missing).")
        var out: String

        @Option(name: .long, help: "Slices per layout.")
        var count: Int = 300

        @Option(name: .long, help: "Slice width and height in pixels.")
        var size: Int = 128

        @Option(name: .long, help: "Seed; every slice draws from its own stream derived from it.")
        var seed: UInt64 = 0

        @Option(name: .long, help: "segmentation, classification or both.")
        var layout: String = "both"

        @Option(name: .long, help: "Slices per synthetic scan.")
        var slicesPerScan: Int = 5

        @Flag(name: .long, help: "Delete existing layout folders in --out first.")
        var replace = false

        func validate() throws {
            guard count >= 1 else { throw ValidationError("--count must be at least 1, got \(count)") }
            guard size >= 32 else { throw ValidationError("--size must be at least 32, got \(size)") }
            guard slicesPerScan >= 1 else { throw ValidationError("--slices-per-scan must be at least 1") }
            guard SyntheticLayout(rawValue: layout) != nil else {
                throw ValidationError("--layout must be segmentation, classification or both, got '\(layout)'")
            }
        }

        func run() throws {
            let configuration = SyntheticCTConfiguration(seed: seed, size: size, count: count,
                                                         layout: SyntheticLayout(rawValue: layout)!,
                                                         slicesPerScan: slicesPerScan)
            let folder = URL(fileURLWithPath: out)
            let start = Date()
            let manifest = try SyntheticCTGenerator(configuration).write(to: folder, replacingExisting: replace)
            let seconds = Date().timeIntervalSince(start)
            for name in manifest.slices.keys.sorted() {
                let classes = (manifest.classSlices[name] ?? [:]).sorted { $0.key < $1.key }
                    .map { "\($0.key) \($0.value)" }.joined(separator: ", ")
                let place = name == "segmentation" ? "\(name)/imgs + \(name)/masks" : name
                print("wrote \(manifest.slices[name]!) \(size)x\(size) slices (\(manifest.scans[name] ?? 0) scans; "
                      + "\(classes)) to \(folder.appendingPathComponent(place).path)")
            }
            print("wrote \(folder.appendingPathComponent("manifest.json").path) "
                  + "(generator version \(SyntheticCTGenerator.version), seed \(seed)) in "
                  + String(format: "%.1f", seconds) + " s")
        }
    }
}
