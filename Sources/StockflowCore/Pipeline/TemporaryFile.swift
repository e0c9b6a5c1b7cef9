import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The one naming of a file being written: `.<name>.tmp-<pid>` beside its final name, so a reader
/// never sees a half-written file and the writer's process can be told from the name.
public enum TemporaryFile {
    /// The temporary beside `final`, owned by process `pid`.
    public static func url(for final: URL, pid: Int32 = getpid()) -> URL {
        final.deletingLastPathComponent().appendingPathComponent(".\(final.lastPathComponent).tmp-\(pid)")
    }

    /// The process that owns a temporary named `name`; nil when the name is not a temporary's.
    public static func owner(ofFileNamed name: String) -> Int32? {
        guard name.hasPrefix("."), let marker = name.range(of: ".tmp-", options: .backwards) else { return nil }
        return Int32(name[marker.upperBound...])
    }

    /// Deletes under `folder` the temporaries whose owner passes `shouldRemove`.
    public static func removeAll(in folder: URL, where shouldRemove: (Int32) -> Bool) {
        guard let enumerator = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: nil) else { return }
        for case let url as URL in enumerator {
            if let pid = owner(ofFileNamed: url.lastPathComponent), shouldRemove(pid) {
                try? FileManager.default.removeItem(at: url)
            }
        }
    }
}
