import Foundation

/// Reads what Django's SQLite DDL loses from a Django project's migration files: the precision and
/// scale of `DecimalField(max_digits=, decimal_places=)` (SQLite declares a bare `decimal`) and which
/// primary keys are `BigAutoField` (SQLite declares both auto fields `integer`).
public enum DjangoModelHints {
    /// Decimal hints as `app_model.field` → (precision, scale); BigAutoField keys are added as `app_model.field` → (0, -1), AutoField keys → (0, -2).
    public static func read(projectDirectory: String) throws -> [String: (Int, Int)] {
        let root = URL(fileURLWithPath: projectDirectory)
        let files = FileManager.default
        guard let apps = try? files.contentsOfDirectory(atPath: root.path) else {
            throw StageError("--django-project \(projectDirectory): not a folder")
        }
        var hints: [String: (Int, Int)] = [:]
        for app in apps.sorted() {
            let folder = root.appendingPathComponent(app).appendingPathComponent("migrations")
            guard let names = try? files.contentsOfDirectory(atPath: folder.path) else { continue }
            for name in names.sorted() where name.hasSuffix(".py") && name != "__init__.py" {
                let text = try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)
                collect(text, app: app, into: &hints)
            }
        }
        if hints.isEmpty { throw StageError("--django-project \(projectDirectory): no DecimalField found in */migrations/*.py") }
        return hints
    }

    /// Scans one migration: `CreateModel(name="X", fields=[("f", models.DecimalField(...))])` and
    /// `AddField/AlterField(model_name="x", name="f", field=models.DecimalField(...))`.
    static func collect(_ text: String, app: String, into hints: inout [String: (Int, Int)]) {
        let model = try! NSRegularExpression(pattern: #"(?:CreateModel\(\s*name=|model_name=)["']([A-Za-z0-9_]+)["']"#)
        let field = try! NSRegularExpression(pattern: #"(?:\(\s*["']([A-Za-z0-9_]+)["']\s*,|name=["']([A-Za-z0-9_]+)["']\s*,\s*field=)\s*models\.(DecimalField|BigAutoField|AutoField)\(([^)]*)\)"#)
        let ns = text as NSString
        let models = model.matches(in: text, range: NSRange(location: 0, length: ns.length))
        for match in field.matches(in: text, range: NSRange(location: 0, length: ns.length)) {
            guard let owner = models.last(where: { $0.range.location < match.range.location }) else { continue }
            let modelName = ns.substring(with: owner.range(at: 1)).lowercased()
            let fieldRange = match.range(at: 1).location != NSNotFound ? match.range(at: 1) : match.range(at: 2)
            let fieldName = ns.substring(with: fieldRange)
            switch ns.substring(with: match.range(at: 3)) {
            case "BigAutoField": hints["\(app)_\(modelName).\(fieldName)"] = (0, -1); continue
            case "AutoField": hints["\(app)_\(modelName).\(fieldName)"] = (0, -2); continue
            default: break
            }
            let arguments = ns.substring(with: match.range(at: 4))
            func number(_ key: String) -> Int? {
                guard let range = arguments.range(of: "\(key)=") else { return nil }
                return Int(arguments[range.upperBound...].prefix { $0.isNumber })
            }
            guard let digits = number("max_digits"), let places = number("decimal_places") else { continue }
            hints["\(app)_\(modelName).\(fieldName)"] = (digits, places)
        }
    }
}
