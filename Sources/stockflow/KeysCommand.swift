import ArgumentParser
import Foundation
import StockflowCore
import StockflowServer

struct Keys: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage API keys for machines (schedulers, CI): sent as `Authorization: Bearer <key>`.",
        discussion: "A key is printed once, when created; only its SHA-256 digest is stored.",
        subcommands: [KeysCreate.self, KeysList.self, KeysRevoke.self])
}

struct KeysCreate: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "create", abstract: "Create a key and print it (the only time it is shown).")
    @Argument(help: "The key's name (what it is for).") var name: String
    @Option(help: "viewer, operator or admin.") var role: Role = .operator
    @Option(help: "Lifetime like 90d, 12h or 30m; no expiry when left out.") var expires: String?
    @OptionGroup var options: StateOption

    func validate() throws {
        if let expires, KeysCreate.seconds(expires) == nil {
            throw ValidationError("--expires must be a number followed by d, h or m, like 90d; found '\(expires)'")
        }
    }

    static func seconds(_ text: String) -> TimeInterval? {
        guard let unit = text.last, let number = Int(text.dropLast()), number > 0 else { return nil }
        switch unit {
        case "d": return TimeInterval(number) * 86_400
        case "h": return TimeInterval(number) * 3_600
        case "m": return TimeInterval(number) * 60
        default: return nil
        }
    }

    func run() throws {
        let store = try options.store()
        let end = expires.flatMap(KeysCreate.seconds).map { Date().addingTimeInterval($0) }
        var key = ""
        try authAction { key = try store.createKey(name: name, role: role, expires: end) }
        FileHandle.standardError.write(Data("key \(name) (\(role.rawValue)) created; it is shown once, store it now:\n".utf8))
        print(key)
    }
}

struct KeysList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the keys (names, roles, expiry; never the keys).")
    @OptionGroup var options: StateOption

    func run() throws {
        for key in try options.store().keys() {
            print("\(key.name)\t\(key.role.rawValue)\tcreated \(key.created)\t\(key.expires.isEmpty ? "never expires" : "expires \(key.expires)")")
        }
    }
}

struct KeysRevoke: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "revoke", abstract: "Delete a key; requests bearing it are refused from then on.")
    @Argument(help: "The key's name.") var name: String
    @OptionGroup var options: StateOption

    func run() throws {
        let store = try options.store()
        try authAction { try store.revokeKey(name: name) }
        print("key \(name) revoked")
    }
}
