import Foundation
import FuzzSupport
@testable import StockflowCore

// Input: a pipeline file, as `stockflow validate` reads it (Pipeline.load builds every stage and
// reports problems as diagnostics). It sits in pipelines/ next to a copy of the repository's
// fixtures/, so the bundled pipelines' paths (../fixtures/commandes.csv) resolve.

private let pipelineFolder: URL = {
    let fixtures = fuzzScratch.appendingPathComponent("fixtures")
    if !FileManager.default.fileExists(atPath: fixtures.path) {
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../../fixtures").standardizedFileURL
        try? FileManager.default.copyItem(at: source, to: fixtures)
    }
    let folder = fuzzScratch.appendingPathComponent("pipelines")
    try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    try? Data("code,nom,prix\n1,a,2.50\n".utf8).write(to: folder.appendingPathComponent("in.csv"))
    return folder
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPipeline(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let file = pipelineFolder.appendingPathComponent("p.yml")
    FileManager.default.createFile(atPath: file.path, contents: Data(UnsafeRawBufferPointer(start: start, count: count)))
    do {
        let pipeline = try Pipeline.load(path: file.path, environment: ["HOME": "/nonexistent"])
        _ = pipeline.stages.count
    } catch let list as DiagnosticList {
        _ = list.description
    } catch {
        _ = "\(error)"
    }
    return 0
}
