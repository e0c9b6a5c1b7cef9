import Foundation

/// A scratch folder of this fuzzing process, made once: stockflow-fuzz-<pid> in /dev/shm when there is
/// one (the runs fsync their outputs, which a disk makes the slowest part), else in the temporary folder.
public let fuzzScratch: URL = {
    let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
    let url = URL(fileURLWithPath: base).appendingPathComponent("stockflow-fuzz-\(getpid())")
    try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}()

/// Writes `bytes` to `name` under the scratch folder and returns its path.
public func writeScratch(_ name: String, _ bytes: UnsafeRawBufferPointer) -> String {
    let url = fuzzScratch.appendingPathComponent(name)
    try? FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
    FileManager.default.createFile(atPath: url.path, contents: Data(bytes))
    return url.path
}

/// Stops the process the way libFuzzer records as a crash, when an invariant does not hold.
public func require(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition {
        FileHandle.standardError.write(Data("invariant broken: \(message())\n".utf8))
        abort()
    }
}
