// swift-tools-version:6.0
// libFuzzer entry point for masknet's parsers of untrusted files. Built only by Fuzz/run.sh, with
// -sanitize=fuzzer,address (libFuzzer supplies main), never by the main package or CI; CI replays the
// corpora through the same harness functions in Tests/FuzzHarnessesTests.
import PackageDescription

let package = Package(
    name: "masknet-fuzz",
    dependencies: [.package(name: "masknet", path: "..")],
    targets: [
        .executableTarget(name: "masknet-fuzz", dependencies: [.product(name: "FuzzHarnesses", package: "masknet")],
                          path: "Sources/masknet-fuzz"),
    ],
    swiftLanguageModes: [.v5]
)
