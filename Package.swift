// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "stockflow",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "stockflow", targets: ["stockflow"]),
        .library(name: "StockflowCore", targets: ["StockflowCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite", pkgConfig: "sqlite3",
                       providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CXLSXWriter", path: "Sources/CXLSXWriter", pkgConfig: "xlsxwriter",
                       providers: [.apt(["libxlsxwriter-dev"])]),
        .systemLibrary(name: "CLibPQ", path: "Sources/CLibPQ", pkgConfig: "libpq",
                       providers: [.apt(["libpq-dev"])]),
        .target(
            name: "StockflowCore",
            dependencies: [
                "CSQLite", "CXLSXWriter", "CLibPQ", "Yams",
            ]
        ),
        .executableTarget(
            name: "stockflow",
            dependencies: [
                "StockflowCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "StockflowCoreTests", dependencies: ["StockflowCore"]),
    ]
)
