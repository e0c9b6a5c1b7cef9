/// Exit codes shared by every command (documented in the README).
public enum ExitStatus: Int32, Sendable {
    case success = 0
    case failed = 1
    case invalid = 2
    case tooManyRejects = 65
    case temporary = 75
}
