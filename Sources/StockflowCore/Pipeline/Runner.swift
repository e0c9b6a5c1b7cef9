import Foundation

/// Runs a pipeline: streams batches from extracts through transforms into loads, then commits the
/// outputs atomically and writes run.json, rejects.csv and findings.csv.
public final class PipelineRunner {
    private let pipeline: Pipeline
    private let outputDirectory: URL
    private let asOf: CivilDate
    private let clock: () -> Date
    private let cancellation: RunCancellation?
    private let redact: (String) -> String
    private let watermarks: WatermarkLedger?
    private let environment: [String: String]
    /// Most threads this run uses (nil: no cap), from `settings: threads:` or STOCKFLOW_THREADS.
    private var threadCap: Int?
    /// Whether extracts read on their own thread (else on the runner's, one call at a time).
    private var extractsOnOwnThread = true
    /// Loads writing on their own threads, by node index.
    private var loadThreads: [Int: LoadThread] = [:]
    /// The thread folding the batches of `foldingNodes` (aggregates, totals by customer or supplier), if any.
    private var folding: FoldingThread?
    private var foldingNodes = Set<Int>()

    /// One node of the running graph.
    private final class Node {
        let stage: PlannedStage
        let context: StageContext
        /// Downstream (node index, port) pairs.
        var consumers: [(node: Int, port: Int)] = []
        var finishedPorts = Set<Int>()
        var held: [(port: Int, batch: Batch)] = []
        var finished = false
        var seconds: Double = 0
        /// Rows an extract emitted, counted on the runner's thread while the extract runs on its own.
        var emittedWhileProducing = 0
        /// Time the extract's thread spent reading (not waiting for room in the queue).
        var producerSeconds: Double = 0

        /// Adds what was counted on the runner's thread to the extract's own counters.
        func mergeProducerCounts() {
            context.counters.rowsEmitted += emittedWhileProducing
            if !stage.runner.countsOwnOutput { context.counters.rowsOut += emittedWhileProducing }
            emittedWhileProducing = 0
            seconds += producerSeconds
            producerSeconds = 0
        }

        init(stage: PlannedStage, context: StageContext) {
            self.stage = stage
            self.context = context
        }

        var lookupPorts: [Int] { stage.inputs.indices.filter { stage.inputs[$0].lookup } }
        var lookupsReady: Bool { lookupPorts.allSatisfy { finishedPorts.contains($0) } }
    }

    private var nodes: [Node] = []
    /// Nodes currently running, innermost last, with the time they (re)started: stage seconds are
    /// exclusive of the stages they call downstream.
    private var running: [(node: Int, since: UInt64)] = []

    private func enter(_ index: Int) {
        let now = DispatchTime.now().uptimeNanoseconds
        if let top = running.last { nodes[top.node].seconds += Double(now - top.since) / 1e9 }
        running.append((index, now))
    }

    private func leave() {
        let now = DispatchTime.now().uptimeNanoseconds
        guard let top = running.popLast() else { return }
        nodes[top.node].seconds += Double(now - top.since) / 1e9
        if !running.isEmpty { running[running.count - 1].since = now }
    }

    /// Prepares a run writing into `outputDirectory` for the day `asOf`; `clock` is injectable for tests.
    /// `redact` cleans every text of the report before run.json is written (secrets from the environment).
    /// `watermarks`, when given, are committed right after the outputs. `environment` may hold
    /// STOCKFLOW_THREADS, which overrides the pipeline's `threads:`.
    public init(pipeline: Pipeline, outputDirectory: URL, asOf: CivilDate, clock: @escaping () -> Date = Date.init,
                cancellation: RunCancellation? = nil, redact: @escaping (String) -> String = { $0 },
                watermarks: WatermarkLedger? = nil, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.watermarks = watermarks
        self.environment = environment
        self.pipeline = pipeline
        self.outputDirectory = outputDirectory
        self.asOf = asOf
        self.clock = clock
        self.cancellation = cancellation
        self.redact = redact
    }

    /// Runs the pipeline and returns its report (also written to run.json). Never throws for data
    /// problems: they end up in the report's status and exit code.
    public func run() -> RunReport {
        let started = clock()
        var report = RunReport(pipeline: pipeline.name, asOf: asOf.description, started: iso8601(started),
                               finished: "", status: "failed", exitCode: ExitStatus.failed.rawValue, error: nil,
                               stages: [], outputs: [], rejects: 0, findings: 0, rejectsFile: "rejects.csv",
                               findingsFile: "findings.csv")
        let outputs: OutputSet
        let run: RunContext
        do {
            outputs = try OutputSet(directory: outputDirectory)
            run = try RunContext(pipelineName: pipeline.name, asOf: asOf, settings: pipeline.settings, outputs: outputs,
                             watermarks: watermarks)
        } catch {
            report.error = "\(error)"
            report.finished = iso8601(clock())
            return report
        }
        var status = ExitStatus.success
        do {
            threadCap = try pipeline.settings.threadCap(environment: environment)
            try execute(run)
            if let limit = pipeline.settings.maxRejects, run.rejects.count > limit {
                status = .tooManyRejects
                report.error = "\(run.rejects.count) rows rejected, over the pipeline's max_rejects of \(limit); no report written (see rejects.csv)"
            }
        } catch let error as StageError {
            status = error.kind == .temporary ? .temporary : .failed
            report.error = error.message
        } catch let error as DiagnosticList {
            status = .invalid
            report.error = error.description
        } catch {
            status = .failed
            report.error = "\(error)"
        }
        let cancelled = cancellation?.isCancelled == true
        if cancelled {
            status = .temporary
            report.error = "cancelled (SIGTERM) before it finished; no output replaced"
        }
        report.stages = nodes.map { node in
            let counters = node.context.counters
            return RunReport.StageReport(
                id: node.stage.id, kind: "\(node.stage.spec.role.rawValue):\(node.stage.spec.kind)",
                rowsIn: counters.rowsIn, rowsOut: counters.rowsOut, rowsRejected: counters.rowsRejected,
                rowsFiltered: counters.rowsFiltered, rowsEmitted: counters.rowsEmitted,
                findings: counters.findings, filteredReasons: counters.filteredReasons, notes: counters.notes,
                seconds: (node.seconds * 1000).rounded() / 1000)
        }
        report.rejects = run.rejects.count
        report.findings = run.findings.count
        do {
            try run.rejects.close()
            try run.findings.close()
            if cancelled { outputs.discardAll() }
            try outputs.commit(run.rejects.temporary)
            try outputs.commit(run.findings.temporary)
            if status == .success {
                report.outputs = outputs.pendingFinalPaths.map(\.path)
                try outputs.commitAll()
                do { try watermarks?.commit() } catch {
                    status = .failed
                    report.error = "outputs written, but the incremental watermarks were not saved, so the next run reads these rows again: \(error)"
                }
                deliver(outputs, status: &status, report: &report)
            } else {
                outputs.discardAll()
            }
        } catch {
            outputs.discardAll()
            report.outputs = []
            if status == .success { status = .failed }
            report.error = report.error ?? "\(error)"
        }
        report.status = status == .success ? "succeeded" : (status == .tooManyRejects ? "too_many_rejects" : "failed")
        if cancelled { report.status = "cancelled" }
        report.exitCode = status.rawValue
        report.finished = iso8601(clock())
        report = report.redacted(redact)
        writeRunFile(report, outputs: outputs)
        return report
    }

    /// Runs the stages' `afterCommit` (sending an email with the committed files). The outputs stay in
    /// place whatever happens; a failure sets the exit code and the report's error.
    private func deliver(_ outputs: OutputSet, status: inout ExitStatus, report: inout RunReport) {
        let before = Set(outputs.committed)
        for node in nodes {
            do {
                try node.stage.runner.afterCommit(node.context)
            } catch let error as StageError {
                if status == .success { status = error.kind == .temporary ? .temporary : .failed }
                report.error = report.error ?? "stage '\(node.stage.id)': \(error.message)"
            } catch {
                if status == .success { status = .failed }
                report.error = report.error ?? "stage '\(node.stage.id)': \(error)"
            }
        }
        report.outputs += outputs.committed.filter { !before.contains($0) }.map(\.path)
    }

    private func writeRunFile(_ report: RunReport, outputs: OutputSet) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(report), let temporary = try? outputs.create("run.json") else { return }
        if (try? data.write(to: temporary)) != nil { try? outputs.commit(temporary) }
    }

    private func execute(_ run: RunContext) throws {
        var indexByID: [String: Int] = [:]
        for stage in pipeline.stages {
            indexByID[stage.id] = nodes.count
            nodes.append(Node(stage: stage, context: StageContext(stageID: stage.id, run: run)))
        }
        for (index, node) in nodes.enumerated() {
            for (port, input) in node.stage.inputs.enumerated() {
                guard let producer = indexByID[input.stage] else { continue }
                nodes[producer].consumers.append((index, port))
            }
        }
        startThreads()
        do {
            for source in extractOrder() {
                try produce(nodes[source], source)
                try finish(source)
            }
            // A stage with no inputs at all that is not an extract never runs; report it rather than skip it.
            if let stuck = nodes.first(where: { !$0.finished }) {
                throw StageError("stage '\(stuck.stage.id)' never received the end of its inputs")
            }
        } catch {
            // Every thread stops before the run reports or discards anything.
            for worker in loadThreads.values { worker.abandon() }
            collectLoadThreads()
            collectFoldingThread { $0.abandon() }
            throw error
        }
        collectFoldingThread { $0.join() }
        // The loads' threads write what they were given; the first failure, in file order, fails the run.
        let failures = loadThreads.keys.sorted().compactMap { loadThreads[$0]?.join() }
        collectLoadThreads()
        if let failure = failures.first { throw failure }
        for (index, node) in nodes.enumerated() {
            enter(index)
            defer { leave() }
            try node.stage.runner.finalize(node.context)
        }
    }

    /// Decides which stages get a thread of their own under the run's cap, and starts the loads'.
    /// The threads beyond the runner's go first to the loads (in the order of the file: a workbook's
    /// writer is the longest part of most runs), then one to the extracts.
    private func startThreads() {
        let loads = nodes.indices.filter { index in
            let stage = nodes[index].stage
            // A load feeding another stage stays on the runner's thread, which owns the graph.
            return stage.spec.role == .load && !stage.inputs.isEmpty && nodes[index].consumers.isEmpty
        }
        let workers = threadCap.map { $0 - 1 } ?? Int.max
        for index in loads.prefix(max(min(workers, loads.count), 0)) {
            let worker = LoadThread(stage: nodes[index].stage, context: nodes[index].context, cancellation: cancellation)
            loadThreads[index] = worker
            worker.start()
        }
        extractsOnOwnThread = workers > loadThreads.count
        // Then one to the folding stages, whose rows the runner's thread need not wait for.
        let foldable = nodes.indices.filter { nodes[$0].stage.runner is FoldingStage && !nodes[$0].stage.inputs.isEmpty }
        if workers > loadThreads.count + 1, !foldable.isEmpty {
            foldingNodes = Set(foldable)
            let thread = FoldingThread()
            folding = thread
            thread.start()
        }
    }

    /// Ends the folding thread (`end` joins or abandons it) and adds its time to the stages it ran.
    private func collectFoldingThread(_ end: (FoldingThread) -> [Int: Double]) {
        guard let thread = folding else { return }
        folding = nil
        for (index, seconds) in end(thread) { nodes[index].seconds += seconds }
    }

    /// Adds the time each load's thread spent writing to its stage (once its thread has ended).
    private func collectLoadThreads() {
        for (index, worker) in loadThreads {
            nodes[index].seconds += worker.busySeconds
        }
        loadThreads.removeAll()
    }

    /// Counts a batch a stage passed on: rows emitted, and rows out unless the stage counts its own.
    static func countEmitted(_ count: Int, by stage: PlannedStage, in context: StageContext) {
        context.counters.rowsEmitted += count
        if !stage.runner.countsOwnOutput { context.counters.rowsOut += count }
    }

    /// Extracts in an order where lookup inputs are complete before the streams that probe them.
    private func extractOrder() -> [Int] {
        let sources = nodes.indices.filter { nodes[$0].stage.inputs.isEmpty }
        var upstream: [[Int]] = Array(repeating: [], count: nodes.count)
        for index in nodes.indices {
            if nodes[index].stage.inputs.isEmpty { upstream[index] = [index] }
        }
        // Nodes are in topological order, so one forward pass fills every upstream set.
        for index in nodes.indices {
            for consumer in nodes[index].consumers {
                upstream[consumer.node] = Array(Set(upstream[consumer.node] + upstream[index]))
            }
        }
        var before: [Int: Set<Int>] = [:]
        for node in nodes.indices {
            var producersOfPort: [Int: [Int]] = [:]
            for producer in nodes.indices {
                for edge in nodes[producer].consumers where edge.node == node {
                    producersOfPort[edge.port, default: []].append(contentsOf: upstream[producer])
                }
            }
            let lookupSources = nodes[node].lookupPorts.flatMap { producersOfPort[$0] ?? [] }
            let streamSources = nodes[node].stage.inputs.indices.filter { !nodes[node].stage.inputs[$0].lookup }
                .flatMap { producersOfPort[$0] ?? [] }
            for late in streamSources {
                for early in lookupSources where early != late && !streamSources.contains(early) {
                    before[late, default: []].insert(early)
                }
            }
        }
        var order: [Int] = []
        var remaining = sources
        while !remaining.isEmpty {
            let next = remaining.firstIndex { candidate in
                (before[candidate] ?? []).allSatisfy { order.contains($0) || !remaining.contains($0) }
            } ?? 0
            order.append(remaining.remove(at: next))
        }
        return order
    }

    /// Runs an extract, retrying it per the pipeline's `retries:` when it fails temporarily (a
    /// database locked, a server unreachable) before reading any row.
    private static func read(_ node: Node, retries: RetryPolicy, cancellation: RunCancellation?, emit: Emit) throws {
        try retries.perform(isTemporary: { error in
            // Retry only what failed before a single row was read: nothing went downstream yet.
            (error as? StageError)?.kind == .temporary && node.context.counters.rowsIn == 0
                && node.context.counters.rowsRejected == 0 && cancellation?.isCancelled != true
        }, onRetry: { error, attempt, wait in
            node.context.note(String(format: "retry %d after a temporary failure, waiting %.1f s: %@", attempt, wait, "\(error)"))
        }) { _ in
            try node.stage.runner.produce(node.context, emit: emit)
        }
    }

    /// Runs an extract on its own thread, handing batches over through a bounded queue, while this
    /// thread pushes them through the transforms and loads: reading overlaps with the rest. The
    /// extract's rejects and findings travel with the batch they were recorded for and are written
    /// here, in the order one thread would have written them.
    private func produce(_ node: Node, _ index: Int) throws {
        guard extractsOnOwnThread else {
            enter(index)
            defer {
                leave()
                node.mergeProducerCounts()
            }
            try Self.read(node, retries: pipeline.retries, cancellation: cancellation) { batch in try self.dispatch(batch, from: index) }
            return
        }
        let queue = BatchQueue()
        let issues = ThreadIssueBuffer()
        node.context.issueBuffer = issues
        defer { node.context.issueBuffer = nil }
        let work = UncheckedSendable((node: node, retries: pipeline.retries, cancellation: cancellation))
        let thread = Thread {
            let (node, retries, cancellation) = work.value
            let start = DispatchTime.now().uptimeNanoseconds
            do {
                try Self.read(node, retries: retries, cancellation: cancellation) { batch in
                    try queue.put(ExtractedBatch(batch: batch, issues: issues.drain()))
                }
                queue.finish(nil)
            } catch {
                queue.finish(error)
            }
            node.producerSeconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 - queue.producerWaitSeconds
        }
        thread.stackSize = 8 << 20
        thread.start()
        while true {
            let item: ExtractedBatch?
            do {
                item = try queue.take()
            } catch {
                // The extract failed: what it recorded before failing is kept, as on one thread.
                queue.waitUntilFinished()
                node.mergeProducerCounts()
                try ThreadIssueBuffer.write(issues.drain(), to: node.context.run)
                throw error
            }
            guard let item else { break }
            do {
                try ThreadIssueBuffer.write(item.issues, to: node.context.run)
                try dispatch(item.batch, from: index)
            } catch {
                queue.cancelAndWait()
                node.mergeProducerCounts()
                throw error
            }
        }
        queue.waitUntilFinished()
        node.mergeProducerCounts()
        try ThreadIssueBuffer.write(issues.drain(), to: node.context.run)
    }

    private func dispatch(_ batch: Batch, from index: Int) throws {
        if cancellation?.isCancelled == true { throw StageError("cancelled", kind: .temporary) }
        guard !batch.isEmpty else { return }
        let node = nodes[index]
        if node.stage.inputs.isEmpty {
            // An extract's counters belong to its thread until it ends; count here, merge afterwards.
            node.emittedWhileProducing += batch.count
        } else {
            Self.countEmitted(batch.count, by: node.stage, in: node.context)
        }
        for edge in node.consumers {
            try deliver(batch, to: edge.node, port: edge.port)
        }
    }

    private func deliver(_ batch: Batch, to index: Int, port: Int) throws {
        let node = nodes[index]
        let isLookup = node.stage.inputs[port].lookup
        if !isLookup && !node.lookupsReady {
            // Held until the lookups are complete; the extract order makes this rare.
            node.held.append((port, batch))
            return
        }
        try receive(batch, at: index, port: port)
    }

    private func receive(_ batch: Batch, at index: Int, port: Int) throws {
        if let worker = loadThreads[index] { return try worker.send(batch, port: port) }
        let node = nodes[index]
        if let folding, foldingNodes.contains(index) {
            // Its counters are the folding thread's until the stage finishes.
            return try folding.send(FoldingThread.Work(node: index, port: port, batch: batch, countsRowsIn: !node.stage.inputs[port].lookup,
                                                       runner: node.stage.runner, context: node.context))
        }
        if !node.stage.inputs[port].lookup { node.context.counters.rowsIn += batch.count }
        enter(index)
        defer { leave() }
        try node.stage.runner.receive(batch, port: port, context: node.context) { output in
            try self.dispatch(output, from: index)
        }
    }

    private func finish(_ index: Int) throws {
        let node = nodes[index]
        guard !node.finished else { return }
        if !node.stage.inputs.isEmpty {
            guard node.finishedPorts.count == node.stage.inputs.count else { return }
            if let worker = loadThreads[index] {
                try worker.finish()
            } else {
                if foldingNodes.contains(index) { try folding?.wait(for: index) }
                enter(index)
                defer { leave() }
                try node.stage.runner.finish(node.context) { output in try self.dispatch(output, from: index) }
            }
        }
        node.finished = true
        for edge in node.consumers {
            let consumer = nodes[edge.node]
            consumer.finishedPorts.insert(edge.port)
            if consumer.lookupsReady && !consumer.held.isEmpty {
                let held = consumer.held
                consumer.held.removeAll()
                for item in held { try receive(item.batch, at: edge.node, port: item.port) }
            }
            try finish(edge.node)
        }
    }
}
