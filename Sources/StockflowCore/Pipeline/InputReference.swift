/// A reference from a stage to the stage feeding one of its inputs.
public struct InputReference: Sendable {
    /// The port (input name) of the consuming stage.
    public var port: String
    /// The id of the producing stage.
    public var stage: String
    /// Where the reference is written.
    public var position: SourcePosition
    /// True when the port is read whole before the others stream.
    public var lookup: Bool
}
