/// Whether a stage reads data, reshapes it or writes it.
public enum StageRole: String, Sendable, CaseIterable {
    case extract, transform, load
}
