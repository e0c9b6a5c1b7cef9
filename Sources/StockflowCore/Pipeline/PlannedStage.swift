/// One stage, built and placed in run order.
public struct PlannedStage {
    /// The stage id.
    public var id: String
    /// Its kind's spec.
    public var spec: StageSpec
    /// The stages feeding it, by port.
    public var inputs: [InputReference]
    /// The runnable stage.
    public var runner: StageRunner
    /// Free text from `description:`.
    public var description: String?
    /// Where the stage is written in the pipeline file.
    public var position: SourcePosition?
}
