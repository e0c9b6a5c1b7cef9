import Foundation

/// What stage builders may use besides their own options.
public struct BuildContext: Sendable {
    /// The pipeline's settings.
    public var settings: PipelineSettings
    /// The folder of the pipeline file; relative input paths start here.
    public var baseDirectory: URL
    /// The pipeline's `retries:`, for stages that talk to a server.
    public var retries = RetryPolicy()
    /// The pipeline's `description:`, the title of its deliverables.
    public var description: String?
}
