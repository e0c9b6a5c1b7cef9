/// The inputs of a stage: the references written under `inputs:`/`input:`, checked against the ports of
/// its spec before any stage is built, and the checked accessor build code reads its inputs through.
extension StageConfig {
    /// The input references declared under `inputs:` (or `input:`), checked against the ports: every
    /// unknown port, port without a stage, or port given several stages is reported, all at once.
    func declaredInputs() -> [InputReference] {
        var references: [InputReference] = []
        let portNames = spec.ports.map(\.name)
        func add(_ port: PortSpec, stage: String, at position: SourcePosition) {
            if references.contains(where: { $0.port == port.name }) {
                error("input '\(port.name)' of stage '\(id)' (\(spec.kind)) takes one stage; '\(stage)' is a second one", at: position)
                return
            }
            references.append(InputReference(port: port.name, stage: stage, position: position, lookup: port.lookup))
        }
        let single = spec.ports.count == 1 ? spec.ports.first : nil
        if let single, let node = node["input"] {
            if let stage = node.scalar {
                add(single, stage: stage, at: node.position)
            } else {
                error("'input' of stage '\(id)' names one stage, found \(node.shapeName)", at: node.position)
            }
        }
        if let inputs = node["inputs"] {
            if let entries = inputs.entries {
                for entry in entries {
                    guard let port = spec.ports.first(where: { $0.name == entry.key }) else {
                        error("stage '\(id)' (\(spec.kind)) has no input '\(entry.key)'\(didYouMean(entry.key, portNames)); its inputs are \(portNames.joined(separator: ", "))", at: entry.keyPosition)
                        continue
                    }
                    guard let stage = entry.value.scalar else {
                        error("input '\(entry.key)' of stage '\(id)' names a stage, found \(entry.value.shapeName)", at: entry.value.position)
                        continue
                    }
                    add(port, stage: stage, at: entry.value.position)
                }
            } else if let items = inputs.items, let single {
                for item in items {
                    if let stage = item.scalar {
                        add(single, stage: stage, at: item.position)
                    } else {
                        error("items of 'inputs' of stage '\(id)' name stages, found \(item.shapeName)", at: item.position)
                    }
                }
            } else if let stage = inputs.scalar, let single {
                add(single, stage: stage, at: inputs.position)
            } else {
                error("'inputs' of stage '\(id)' must map each input (\(portNames.joined(separator: ", "))) to a stage id", at: inputs.position)
            }
        }
        for port in spec.ports where !references.contains(where: { $0.port == port.name }) {
            if node["inputs"] != nil || node["input"] != nil || spec.ports.count > 1 {
                error("stage '\(id)' (\(spec.kind)) is missing input '\(port.name)': \(port.summary)",
                      at: node["inputs"]?.position ?? node["input"]?.position)
            } else {
                error("stage '\(id)' (\(spec.kind)) needs 'input: <stage id>' (\(port.summary))")
            }
        }
        return references
    }

    /// True when every port of the spec has exactly one stage among `references`, so build code may
    /// read each port; kinds whose inputs are named freely (no ports) are always complete.
    func covers(_ references: [InputReference]) -> Bool {
        spec.ports.allSatisfy { port in references.filter { $0.port == port.name }.count == 1 }
    }

    /// The schema arriving on input `port`. A port the stage was not given is reported at the stage
    /// (the pipeline checks the ports before building, so this is a last guard, not a crash).
    public func input(_ port: String) -> Schema? {
        if let bound = boundInputs.first(where: { $0.reference.port == port }) { return bound.schema }
        error("stage '\(id)' (\(spec.kind)) is missing input '\(port)'")
        return nil
    }
}
