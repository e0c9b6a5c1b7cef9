import Foundation
import Mustache

/// A Mustache layout read from disk: the main file plus every other `*.mustache` file of its folder,
/// usable as partials by their names (`{{> chart}}` for `chart.mustache`).
struct ReportTemplate {
    let library: MustacheLibrary
    let name: String
    let url: URL

    /// Reads `url` and its sibling partials. Files named `*.txt.mustache` render as plain text (no HTML escaping).
    static func load(_ url: URL) throws -> ReportTemplate {
        let folder = url.deletingLastPathComponent()
        let siblings = (try? FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)) ?? []
        var library = MustacheLibrary()
        for file in siblings.filter({ $0.lastPathComponent.hasSuffix(".mustache") }) + [url] {
            let text: String
            do {
                text = try String(contentsOf: file, encoding: .utf8)
            } catch {
                throw StageError("cannot read template \(file.path): \(error.localizedDescription)")
            }
            let source = file.lastPathComponent.hasSuffix(".txt.mustache") ? "{{% CONTENT_TYPE: TEXT }}" + text : text
            do {
                try library.register(source, named: templateName(file))
            } catch {
                throw StageError("template \(file.path) is not valid Mustache: \(error)")
            }
        }
        return ReportTemplate(library: library, name: templateName(url), url: url)
    }

    /// A template given as text (a subject line), rendered without HTML escaping.
    static func text(_ source: String, named name: String) throws -> ReportTemplate {
        var library = MustacheLibrary()
        do {
            try library.register("{{% CONTENT_TYPE: TEXT }}" + source, named: name)
        } catch {
            throw StageError("'\(name)' is not valid Mustache: \(error)")
        }
        return ReportTemplate(library: library, name: name, url: URL(fileURLWithPath: name))
    }

    static func templateName(_ url: URL) -> String {
        String(url.lastPathComponent.dropLast(".mustache".count))
    }

    /// Fills the template with `context`.
    func render(_ context: [String: Any]) throws -> String {
        guard let text = library.render(context, withTemplate: name) else {
            throw StageError("template \(url.path) could not be rendered")
        }
        return text
    }
}

/// The templates shipped in the repository's `reports/` folder.
enum BundledReports {
    /// The bundled file `name`, looked for in `STOCKFLOW_REPORTS`, then in a `reports/` folder beside
    /// the stockflow executable or one of its parents (a checkout's `.build/debug/stockflow`, an
    /// install's `bin/../share/stockflow/reports`), then under the current folder.
    static func url(_ name: String) -> URL? {
        var folders: [URL] = []
        if let custom = ProcessInfo.processInfo.environment["STOCKFLOW_REPORTS"] { folders.append(URL(fileURLWithPath: custom)) }
        var directory = URL(fileURLWithPath: CommandLine.arguments.first ?? ".").resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<5 {
            folders.append(directory.appendingPathComponent("reports"))
            folders.append(directory.appendingPathComponent("share/stockflow/reports"))
            directory.deleteLastPathComponent()
        }
        folders.append(URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent("reports"))
        return folders.map { $0.appendingPathComponent(name) }.first { FileManager.default.fileExists(atPath: $0.path) }
    }

    /// A template file: the pipeline's `option` when given (relative to the pipeline), else the bundled `name`.
    static func resolve(_ config: StageConfig, option: String, bundled name: String) -> URL? {
        if config.node[option] != nil { return config.inputPath(option) }
        guard let url = url(name) else {
            config.error("stage '\(config.id)' found no bundled template reports/\(name) (looked beside the stockflow executable and in STOCKFLOW_REPORTS); set '\(option):' to a template file")
            return nil
        }
        return url
    }
}

/// Checks that a page loads nothing from outside itself: no script, no `src`/`href`/`url()` to
/// another file or server (only `#fragment`, `data:` and `mailto:` links).
enum SelfContainedPage {
    /// The first offending reference, or nil.
    static func outsideReference(in html: String) -> String? {
        func excerpt(_ start: String.Index) -> String { String(html[start...].prefix(60)) }
        for marker in ["<script", "@import"] {
            if let range = html.range(of: marker, options: .caseInsensitive) { return excerpt(range.lowerBound) }
        }
        for marker in ["src=", "href=", "url("] {
            var searchStart = html.startIndex
            while let range = html.range(of: marker, options: .caseInsensitive, range: searchStart..<html.endIndex) {
                searchStart = range.upperBound
                let rest = html[range.upperBound...].drop { $0 == "\"" || $0 == "'" || $0 == " " }.prefix(7).lowercased()
                if rest.hasPrefix("#") || rest.hasPrefix("data:") || rest.hasPrefix("mailto:") { continue }
                return excerpt(range.lowerBound)
            }
        }
        return nil
    }
}
