/// `load: csv` — writes one stage as a UTF-8, RFC 4180 CSV file for other programs.
public final class CSVLoad: StageRunner, StageKind {
    public static let spec = StageSpec(
        kind: "csv", role: .load,
        summary: "Writes one stage as a UTF-8 CSV file (RFC 4180 quoting, CRLF line ends, header row) for machines: `.` decimals with their full scale, ISO 8601 dates and UTC datetimes, true/false, empty for null. Written to a temporary and renamed into place when the run succeeds.",
        options: [
            OptionSpec("path", .outputPath, required: true, "File path under the output folder; `{as_of}` and `{pipeline}` are filled in."),
            OptionSpec("delimiter", .string, default: ",", "Field separator, one character."),
        ],
        ports: [PortSpec("rows", "The stage to write.")],
        example: """
        lines_csv:
          load: csv
          input: totals
          path: "commandes-{as_of}.csv"
        """)

    let path: OutputPath
    let delimiter: UInt8
    let schema: Schema
    public let outputSchema = Schema([])
    public var countsOwnOutput: Bool { true }
    private var writer: CSVWriter?

    init(path: OutputPath, delimiter: UInt8, schema: Schema) {
        self.path = path
        self.delimiter = delimiter
        self.schema = schema
    }

    public static func build(_ config: StageConfig, inputs: [Schema], context: BuildContext) -> StageRunner? {
        guard let rows = config.input("rows"), let path = config.outputPath("path") else { return nil }
        let text = config.text("delimiter")
        guard text.utf8.count == 1, let delimiter = text.utf8.first else {
            config.error("'delimiter' of stage '\(config.id)' must be one ASCII character, found '\(text)'", at: config.node["delimiter"]?.position)
            return nil
        }
        return CSVLoad(path: path, delimiter: delimiter, schema: rows)
    }

    private func open(_ context: StageContext) throws -> CSVWriter {
        if let writer { return writer }
        let temporary = try context.createOutput(path.resolved(asOf: context.run.asOf, pipeline: context.run.pipelineName))
        let writer = try CSVWriter(url: temporary, delimiter: delimiter)
        try writer.write(schema.names)
        self.writer = writer
        return writer
    }

    public func receive(_ batch: Batch, port: Int, context: StageContext, emit: Emit) throws {
        let writer = try open(context)
        for row in batch.rows { try writer.write(row.map(\.description)) }
        context.countOut(batch.count)
    }

    public func finish(_ context: StageContext, emit: Emit) throws {
        try open(context).close()
    }
}
