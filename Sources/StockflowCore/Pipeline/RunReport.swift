/// What a run did, as written to run.json (snake_case keys, camelCase properties).
public struct RunReport: Codable, Sendable {
    /// One stage's figures.
    public struct StageReport: Codable, Sendable {
        public var id: String
        public var kind: String
        public var rowsIn: Int
        public var rowsOut: Int
        public var rowsRejected: Int
        public var rowsFiltered: Int
        public var rowsEmitted: Int
        public var findings: Int
        public var filteredReasons: [String: Int]
        public var notes: [String]
        public var seconds: Double

        enum CodingKeys: String, CodingKey {
            case id, kind, findings, notes, seconds
            case rowsIn = "rows_in", rowsOut = "rows_out", rowsRejected = "rows_rejected"
            case rowsFiltered = "rows_filtered", rowsEmitted = "rows_emitted", filteredReasons = "filtered_reasons"
        }
    }

    public var pipeline: String
    public var asOf: String
    public var started: String
    public var finished: String
    public var status: String
    public var exitCode: Int32
    public var error: String?
    public var stages: [StageReport]
    public var outputs: [String]
    public var rejects: Int
    public var findings: Int
    public var rejectsFile: String
    public var findingsFile: String

    enum CodingKeys: String, CodingKey {
        case pipeline, started, finished, status, error, stages, outputs, rejects, findings
        case asOf = "as_of", exitCode = "exit_code", rejectsFile = "rejects_file", findingsFile = "findings_file"
    }
}
