import Foundation
@testable import StockflowCore

/// The first lines of every case: a valid csv extract reading in.csv (lines 1-6).
let probeHeader = """
version: 1
name: probe
stages:
  src:
    extract: csv
    path: in.csv

"""

/// Writes the input file the cases refer to, then loads `yaml` and returns its diagnostics.
func validateProbe(_ yaml: String, environment: [String: String] = [:]) -> (diagnostics: [Diagnostic], file: String) {
    let scratch = Scratch()
    defer { scratch.cleanup() }
    scratch.write("in.csv", "code,nom\n1,a\n")
    let found = diagnostics(of: yaml, in: scratch, environment: environment)
    return (found, scratch.url.appendingPathComponent("pipeline.yml").path)
}
