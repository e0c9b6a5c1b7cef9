import ArgumentParser
import Foundation
import StockflowCore
import StockflowServer

extension Role: ExpressibleByArgument {}

struct Users: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage the people who log in to `stockflow serve` (roles viewer, operator, admin).",
        discussion: """
        Passwords are read from a prompt (or one line of standard input when it is not a terminal), never from an
        argument, and stored as bcrypt hashes (cost 12). A password change or a removal ends that user's sessions
        and tokens at once.
        """,
        subcommands: [UsersAdd.self, UsersList.self, UsersPasswd.self, UsersRemove.self])
}

/// The state database option shared by the users and keys commands.
struct StateOption: ParsableArguments {
    @Option(help: "The state database (run history, users, keys).")
    var state: String = RunHistory.defaultPath

    func store() throws -> AuthStore {
        do { return try AuthStore(path: state) } catch {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            throw ExitCode(ExitStatus.failed.rawValue)
        }
    }
}

/// Runs a users or keys action, printing its problem and exiting 1 on failure.
func authAction(_ body: () throws -> Void) throws {
    do { try body() } catch let error as AuthStoreError {
        FileHandle.standardError.write(Data("error: \(error.description)\n".utf8))
        throw ExitCode(ExitStatus.failed.rawValue)
    }
}

/// A password typed at a prompt without echo, twice; or one line of standard input when it is not a terminal.
func readPassword(prompt: String) throws -> String {
    if isatty(STDIN_FILENO) != 0 {
        guard let first = getpass("\(prompt): ").map({ String(cString: $0) }),
              let second = getpass("again: ").map({ String(cString: $0) }) else { throw ValidationError("no password read") }
        guard first == second else { throw ValidationError("the two passwords differ") }
        return first
    }
    guard let line = readLine(strippingNewline: true) else { throw ValidationError("no password on standard input") }
    return line
}

struct UsersAdd: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "add", abstract: "Add a user; the password is asked for (or read from standard input).")
    @Argument(help: "The user name (letters, digits, . _ - @).") var name: String
    @Option(help: "viewer (read, download), operator (also run and cancel), admin (also users and keys).") var role: Role = .viewer
    @OptionGroup var options: StateOption

    func run() throws {
        let store = try options.store()
        let password = try readPassword(prompt: "password for \(name)")
        try authAction { try store.addUser(name: name, role: role, password: password) }
        print("user \(name) added (\(role.rawValue))")
    }
}

struct UsersList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the users and their roles.")
    @OptionGroup var options: StateOption

    func run() throws {
        for user in try options.store().users() { print("\(user.name)\t\(user.role.rawValue)\tsince \(user.created)") }
    }
}

struct UsersPasswd: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "passwd", abstract: "Set a user's password; their tokens stop working at once.")
    @Argument(help: "The user name.") var name: String
    @OptionGroup var options: StateOption

    func run() throws {
        let store = try options.store()
        let password = try readPassword(prompt: "new password for \(name)")
        try authAction { try store.changePassword(name: name, password: password) }
        print("password of \(name) changed; their sessions and tokens are revoked")
    }
}

struct UsersRemove: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "remove", abstract: "Remove a user; their tokens stop working at once.")
    @Argument(help: "The user name.") var name: String
    @OptionGroup var options: StateOption

    func run() throws {
        let store = try options.store()
        try authAction { try store.removeUser(name: name) }
        print("user \(name) removed")
    }
}
