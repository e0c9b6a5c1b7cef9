/// Every stage kind stockflow knows. Registering a kind is one line here; `validate`, `plan` and
/// docs/pipelines.md are built from this list.
public enum StageRegistry {
    /// All kinds, in documentation order. Computed, not stored: a stored array of metatypes is a global
    /// the compiler cannot prove Sendable.
    public static var all: [any StageKind.Type] { [
        CSVExtract.self,
        SQLiteExtract.self,
        PostgresExtract.self,
        SQLiteMigrationExtract.self,
        OrderTotals.self,
        WarehouseRollup.self,
        Returns.self,
        Invoices.self,
        Customers.self,
        Suppliers.self,
        Trends.self,
        SQLTransform.self,
        Filter.self,
        Select.self,
        Join.self,
        Aggregate.self,
        XLSXLoad.self,
        HTMLReportLoad.self,
        EmailLoad.self,
        CSVLoad.self,
        PostgresLoad.self,
    ] }

    /// The kinds of one role.
    public static func kinds(role: StageRole) -> [StageKind.Type] {
        all.filter { $0.spec.role == role }
    }

    /// The kind with this role and name.
    public static func kind(role: StageRole, name: String) -> StageKind.Type? {
        all.first { $0.spec.role == role && $0.spec.kind == name }
    }
}
