import Foundation

/// The short human summary printed after a run.
public enum RunSummary {
    /// The summary text of a run report.
    public static func text(_ report: RunReport) -> String {
        var lines = ["\(report.pipeline) as of \(report.asOf): \(report.status) (exit \(report.exitCode))"]
        if let error = report.error { lines.append("error: \(error)") }
        let header = ["stage", "kind", "in", "out", "rejected", "filtered", "emitted"]
        var rows = [header]
        for stage in report.stages {
            rows.append([stage.id, stage.kind, "\(stage.rowsIn)", "\(stage.rowsOut)", "\(stage.rowsRejected)",
                         "\(stage.rowsFiltered)", "\(stage.rowsEmitted)"])
        }
        let widths = header.indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        for row in rows {
            lines.append("  " + row.enumerated().map { index, cell in
                index < 2 ? cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
                          : String(repeating: " ", count: widths[index] - cell.count) + cell
            }.joined(separator: "  "))
        }
        for stage in report.stages {
            for note in stage.notes { lines.append("  note (\(stage.id)): \(note)") }
        }
        lines.append("rejects: \(report.rejects) (\(report.rejectsFile)), findings: \(report.findings) (\(report.findingsFile))")
        for output in report.outputs { lines.append("wrote \(output)") }
        return lines.joined(separator: "\n")
    }
}
