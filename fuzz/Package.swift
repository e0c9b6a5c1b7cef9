// swift-tools-version: 6.0
// libFuzzer targets for stockflow. Built only by `make fuzz` (fuzz/run.sh):
//   swift build --package-path fuzz --scratch-path .build-fuzz --sanitize=fuzzer --sanitize=address
// Each target's input format is in its source; seed corpora are in corpus/<target>/.
import PackageDescription

let core: Target.Dependency = .product(name: "StockflowCore", package: "stockflow")

let package = Package(
    name: "stockflow-fuzz",
    dependencies: [.package(name: "stockflow", path: "..")],
    targets: [
        .target(name: "FuzzSupport", dependencies: [core]),
        .executableTarget(name: "FuzzCSV", dependencies: [core, "FuzzSupport"]),
        .executableTarget(name: "FuzzPipeline", dependencies: [core, "FuzzSupport"]),
        .executableTarget(name: "FuzzCron", dependencies: [core, "FuzzSupport"]),
        .executableTarget(name: "FuzzExpression", dependencies: [core, "FuzzSupport"]),
    ]
)
