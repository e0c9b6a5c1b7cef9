import Foundation
import Testing
@testable import StockflowCore

/// Orders priced against products, with bad rows rejected both by the extract (a quantity that is not
/// a number) and by the transform (an unknown product), into a CSV file and a workbook.
private let pricedOrders = """
version: 1
name: threads
stages:
  products:
    extract: csv
    path: products.csv
    columns: {code_prod: int, prix_unit: {type: decimal, scale: 2}}
  orders:
    extract: csv
    path: orders.csv
    columns: {code_cmd: int, code_prod: int, quantite_cmd: int, montant_commande: {type: decimal, scale: 2}}
  totals:
    transform: order_totals
    inputs: {orders: orders, products: products}
  lines:
    load: csv
    input: totals
    path: lines.csv
  book:
    load: xlsx
    path: book.xlsx
    sheets: [{name: Lignes, input: totals}]
  by_product:
    transform: aggregate
    input: totals
    group_by: [code_prod]
    measures: {lignes: count(), quantite: sum(quantite_cmd)}
  products_out:
    load: csv
    input: by_product
    path: by_product.csv

"""

/// A load that fails (or cancels the run) at a given batch and records the thread it ran on: the
/// injected failure no user would run.
private final class ProbeLoad: StageRunner {
    let outputSchema = Schema([])
    var countsOwnOutput: Bool { true }
    let failAtBatch: Int?
    let cancelling: RunCancellation?
    private(set) var batches = 0
    private(set) var threads = Set<ObjectIdentifier>()
    private(set) var finished = false

    init(failAtBatch: Int? = nil, cancelling: RunCancellation? = nil) {
        self.failAtBatch = failAtBatch
        self.cancelling = cancelling
    }

    func receive(_ batch: Batch, port: Int, context: StageContext, emit: Emit) throws {
        batches += 1
        threads.insert(ObjectIdentifier(Thread.current))
        if batches == failAtBatch { throw StageError("probe load cannot write batch \(batches)") }
        if batches == 1 { cancelling?.cancel() }
        context.countOut(batch.count)
    }

    func finish(_ context: StageContext, emit: Emit) throws { finished = true }
}

/// A folding stage (it only adds rows up until `finish`) that fails at a given batch and records the
/// thread it folded on.
private final class ProbeFold: FoldingStage {
    let outputSchema = Schema([])
    let failAtBatch: Int?
    private(set) var batches = 0
    private(set) var threads = Set<ObjectIdentifier>()
    private(set) var finishedOn: ObjectIdentifier?

    init(failAtBatch: Int? = nil) { self.failAtBatch = failAtBatch }

    func receive(_ batch: Batch, port: Int, context: StageContext, emit: Emit) throws {
        batches += 1
        threads.insert(ObjectIdentifier(Thread.current))
        if batches == failAtBatch { throw StageError("probe fold cannot add batch \(batches)") }
    }

    func finish(_ context: StageContext, emit: Emit) throws { finishedOn = ObjectIdentifier(Thread.current) }
}

@Suite struct DeterminismTests {
    /// The batches the 12,000 orders of `writeInputs` come in (more than one, so that threads take turns).
    private let batchesOfOrders = (12_000 + Batch.preferredSize - 1) / Batch.preferredSize

    /// 12,000 orders (`batchesOfOrders` batches), every 997th with a quantity that is not a number and every 1,009th
    /// for a product that does not exist.
    private func writeInputs(_ scratch: Scratch) {
        scratch.write("pipeline.yml", pricedOrders)
        scratch.write("products.csv", "code_prod,prix_unit\n" + (1...50).map { "\($0),\($0).25\n" }.joined())
        var orders = "code_cmd,code_prod,quantite_cmd,montant_commande\n"
        for code in 1...12_000 {
            let product = code % 1009 == 0 ? 999 : code % 50 + 1
            let quantity = code % 997 == 0 ? "deux" : String(code % 7 + 1)
            orders += "\(code),\(product),\(quantity),1.00\n"
        }
        scratch.write("orders.csv", orders)
    }

    private func run(_ scratch: Scratch, threads: String?, replacing stage: String? = nil, with probe: StageRunner? = nil,
                     cancellation: RunCancellation? = nil, folder: String = "out") throws -> RunReport {
        var pipeline = try Pipeline.load(path: scratch.url.appendingPathComponent("pipeline.yml").path, environment: [:])
        if let stage, let probe, let index = pipeline.stages.firstIndex(where: { $0.id == stage }) {
            pipeline.stages[index].runner = probe
        }
        return PipelineRunner(pipeline: pipeline, outputDirectory: scratch.url.appendingPathComponent(folder),
                              asOf: CivilDate(iso: "2026-11-25")!, cancellation: cancellation,
                              environment: threads.map { [PipelineSettings.threadsVariable: $0] } ?? [:]).run()
    }

    @Test(arguments: ["2", "3", nil] as [String?])
    func rejectsAndOutputsAreTheSameByteForByteWhateverTheThreads(threads: String?) throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        writeInputs(scratch)
        let single = try run(scratch, threads: "1", folder: "one")
        #expect(single.exitCode == 0, "\(single.error ?? "")")
        let rejects = scratch.read("one/rejects.csv") ?? ""
        // Both kinds of rejects, interleaved in the order of the rows: the extract's and the transform's.
        #expect(rejects.contains("orders.csv:998"))
        #expect(rejects.contains("orders.csv:1010"))
        #expect(readCSV(rejects).count == 1 + 12 + 11)
        for repetition in 1...2 {
            let folder = "run-\(repetition)"
            let report = try run(scratch, threads: threads, folder: folder)
            #expect(report.exitCode == 0)
            for file in ["rejects.csv", "findings.csv", "lines.csv", "by_product.csv"] {
                #expect(scratch.read("\(folder)/\(file)") == scratch.read("one/\(file)"), "\(file), threads \(threads ?? "default")")
            }
            #expect(report.outputs.map { URL(fileURLWithPath: $0).lastPathComponent } == single.outputs.map { URL(fileURLWithPath: $0).lastPathComponent })
            #expect(report.stages.map(\.rowsIn) == single.stages.map(\.rowsIn))
            #expect(report.stages.map(\.rowsOut) == single.stages.map(\.rowsOut))
            #expect(report.stages.map(\.rowsRejected) == single.stages.map(\.rowsRejected))
            expectStageCountsReconcile(report)
        }
    }

    @Test func aLoadWritesOnItsOwnThreadUnlessThreadsIsOne() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        writeInputs(scratch)
        let threaded = ProbeLoad()
        #expect(try run(scratch, threads: nil, replacing: "lines", with: threaded).exitCode == 0)
        let runner = ObjectIdentifier(Thread.current)
        #expect(threaded.threads.count == 1 && !threaded.threads.contains(runner))
        #expect(threaded.finished && threaded.batches == batchesOfOrders)
        let single = ProbeLoad()
        #expect(try run(scratch, threads: "1", replacing: "lines", with: single).exitCode == 0)
        #expect(single.threads == [runner])
        #expect(single.finished && single.batches == batchesOfOrders)
    }

    @Test func aFoldingStageAddsUpOnAThreadOfItsOwnAndFinishesOnTheRunnersUnlessThreadsAreShort() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        writeInputs(scratch)
        let runner = ObjectIdentifier(Thread.current)
        let threaded = ProbeFold()
        #expect(try run(scratch, threads: nil, replacing: "by_product", with: threaded).exitCode == 0)
        #expect(threaded.batches == batchesOfOrders && threaded.threads.count == 1 && !threaded.threads.contains(runner))
        #expect(threaded.finishedOn == runner)
        // Three threads are the runner's and two loads': the folding stays on the runner's.
        let short = ProbeFold()
        #expect(try run(scratch, threads: "3", replacing: "by_product", with: short).exitCode == 0)
        #expect(short.batches == batchesOfOrders && short.threads == [runner] && short.finishedOn == runner)
    }

    @Test(arguments: ["1", nil] as [String?])
    func aFoldingStageFailingOnItsThreadFailsTheRunAsOnOneThreadAndReplacesNothing(threads: String?) throws {
        let probe = ProbeFold(failAtBatch: 2)
        try expectFailureReplacesNothing(threads: threads, stage: "by_product", probe: probe, error: "probe fold cannot add batch 2",
                                         kept: "out/by_product.csv")
        #expect(probe.finishedOn == nil)
    }

    /// Runs with `probe` failing in place of `stage`: the run fails with `error`, the last good `kept`
    /// file stays, and no temporary file is left.
    private func expectFailureReplacesNothing(threads: String?, stage: String, probe: StageRunner, error: String, kept: String) throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        writeInputs(scratch)
        scratch.write(kept, "the last good file")
        let report = try run(scratch, threads: threads, replacing: stage, with: probe)
        #expect(report.exitCode == 1)
        #expect(report.status == "failed")
        #expect(report.error == error)
        #expect(scratch.read(kept) == "the last good file")
        #expect(temporaryFiles(scratch).isEmpty)
    }

    @Test(arguments: ["1", "2", nil] as [String?])
    func aLoadFailingOnItsThreadFailsTheRunAsOnOneThreadAndReplacesNothing(threads: String?) throws {
        let probe = ProbeLoad(failAtBatch: 2)
        try expectFailureReplacesNothing(threads: threads, stage: "lines", probe: probe, error: "probe load cannot write batch 2",
                                         kept: "out/book.xlsx")
        #expect(!probe.finished)
    }

    @Test(arguments: ["1", nil] as [String?])
    func aCancelledRunStopsEveryThreadAndCommitsNothing(threads: String?) throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        writeInputs(scratch)
        let cancellation = RunCancellation()
        let probe = ProbeLoad(cancelling: cancellation)
        let report = try run(scratch, threads: threads, replacing: "lines", with: probe, cancellation: cancellation)
        #expect(report.exitCode == 75)
        #expect(report.status == "cancelled")
        #expect(probe.batches < 3)
        #expect(!FileManager.default.fileExists(atPath: scratch.url.appendingPathComponent("out/book.xlsx").path))
        #expect(temporaryFiles(scratch).isEmpty)
    }

    @Test func aThreadCountThatIsNotAWholeNumberIsAUsageError() throws {
        let scratch = Scratch()
        defer { scratch.cleanup() }
        writeInputs(scratch)
        let report = try run(scratch, threads: "0")
        #expect(report.exitCode == 2)
        #expect(report.error == "error: STOCKFLOW_THREADS must be a whole number of threads ≥ 1, found '0'")
        #expect(!FileManager.default.fileExists(atPath: scratch.url.appendingPathComponent("out/book.xlsx").path))
        let (found, file) = validateProbe(probeHeader.replacingOccurrences(of: "stages:", with: "settings: {threads: two}\nstages:"))
        #expect(found.map(\.description) == ["\(file):3:21: error: 'threads' must be a whole number of threads ≥ 1, found 'two'"])
    }
}
