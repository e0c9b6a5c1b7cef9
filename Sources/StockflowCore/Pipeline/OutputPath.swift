/// A path under the output folder, possibly with `{as_of}` and `{pipeline}` placeholders.
public struct OutputPath: Sendable {
    /// The path as written in the pipeline.
    public var template: String

    /// Why a path cannot be used, or nil when it is fine.
    static func problem(with path: String) -> String? {
        if path.isEmpty { return "is empty" }
        if path.hasPrefix("/") || path.hasPrefix("~") {
            return "is absolute; output paths are relative to the output folder (--out)"
        }
        if path.split(separator: "/").contains("..") {
            return "leaves the output folder through '..'; outputs stay inside the output folder (--out)"
        }
        return nil
    }

    /// The relative path with its placeholders filled in.
    public func resolved(asOf: CivilDate, pipeline: String) -> String {
        template.replacingOccurrences(of: "{as_of}", with: asOf.description)
            .replacingOccurrences(of: "{pipeline}", with: pipeline)
    }
}
