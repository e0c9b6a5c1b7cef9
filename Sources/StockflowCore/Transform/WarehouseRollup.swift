/// `transform: warehouse_rollup` — DOMAIN.md rule 5: stock units and value per warehouse or per product.
public final class WarehouseRollup: StageRunner, StageKind {
    public static let spec = StageSpec(
        kind: "warehouse_rollup", role: .transform,
        summary: "Rule 5 of DOMAIN.md. From stock lines (product, warehouse, units) computes per warehouse: products held (distinct products with a stock line there), units, stock value (units × prix_unit) and products whose units in that warehouse (all their lines summed) are under the low-stock threshold; or per product: units, value and whether it is low stock. Stock lines of soft-deleted products and inactive warehouses are left out (counted as filtered, with a note). Lines naming an unknown product or warehouse, or a negative quantity, are rejected. With `by: product`, a product whose legacy `quantite` differs from the sum of all its stock lines (inactive warehouses included) is listed as a finding.",
        options: [
            OptionSpec("by", .choice(["warehouse", "product"]), default: "warehouse", "One row per active warehouse, or per current (not soft-deleted) product."),
            OptionSpec("low_stock_threshold", .int, defaultNote: "settings.low_stock_threshold", "Units under which a product is low stock."),
            OptionSpec("stock_product", .string, default: "produit_id", "Product column of the stock lines."),
            OptionSpec("stock_warehouse", .string, default: "entrepot_id", "Warehouse column of the stock lines."),
            OptionSpec("stock_quantity", .string, default: "quantite", "Units column of the stock lines."),
        ],
        ports: [
            PortSpec("stock", "Stock lines (stock_produitentrepot)."),
            PortSpec("products", lookup: true, "Products: code_prod, nom_prod, prix_unit, is_deleted, quantite (legacy)."),
            PortSpec("warehouses", lookup: true, "Warehouses: code_entrepot, nom_entrepot, is_actif."),
        ],
        example: """
        stock_by_warehouse:
          transform: warehouse_rollup
          inputs: {stock: stock, products: products, warehouses: warehouses}
          by: warehouse
        """)

    struct Product {
        var name: Value
        var price: Money
        var deleted: Bool
        var legacy: Value
        var origin: RowOrigin
        var row: Row
    }

    struct Warehouse {
        var name: Value
        var active: Bool
    }

    /// One warehouse's figures; units per product so that a product held on several stock lines
    /// counts once, with its units summed, in "products" and "products under the threshold".
    struct Totals {
        var units: Int64 = 0
        var value = Money.zero(scale: 2)
        var unitsByProduct: [Value: Int64] = [:]
    }

    let byProduct: Bool
    let threshold: Int64
    let stockColumns: (product: Int, warehouse: Int, quantity: Int)
    let productColumns: (key: Int, name: Int, price: Int, deleted: Int?, legacy: Int?)
    let warehouseColumns: (key: Int, name: Int, active: Int?)
    let stockSchema: Schema
    let productSchema: Schema
    public let outputSchema: Schema

    private var products: [Value: Product] = [:]
    private var productOrder: [Value] = []
    private var warehouses: [Value: Warehouse] = [:]
    private var warehouseOrder: [Value] = []
    private var byWarehouse: [Value: Totals] = [:]
    private var unitsByProduct: [Value: Int64] = [:]
    private var allUnitsByProduct: [Value: Int64] = [:]
    private var valueByProduct: [Value: Money] = [:]
    private var excludedDeleted = 0
    private var excludedInactive = 0

    init(byProduct: Bool, threshold: Int64, stockColumns: (Int, Int, Int),
         productColumns: (Int, Int, Int, Int?, Int?), warehouseColumns: (Int, Int, Int?),
         stockSchema: Schema, productSchema: Schema, outputSchema: Schema) {
        self.byProduct = byProduct
        self.threshold = threshold
        self.stockColumns = stockColumns
        self.productColumns = productColumns
        self.warehouseColumns = warehouseColumns
        self.stockSchema = stockSchema
        self.productSchema = productSchema
        self.outputSchema = outputSchema
    }

    public var countsOwnOutput: Bool { true }

    public static func build(_ config: StageConfig, inputs: [Schema], context: BuildContext) -> StageRunner? {
        guard let stock = config.input("stock"), let products = config.input("products"),
              let warehouses = config.input("warehouses") else { return nil }
        let sp = config.requireColumn(named: "stock_product", in: stock, input: "stock")
        let sw = config.requireColumn(named: "stock_warehouse", in: stock, input: "stock")
        let sq = config.requireColumn(named: "stock_quantity", in: stock, input: "stock", types: [.int])
        let pk = config.requireColumn("code_prod", in: products, input: "products", option: "inputs")
        let pn = config.requireColumn("nom_prod", in: products, input: "products", option: "inputs")
        let pp = config.requireColumn("prix_unit", in: products, input: "products", option: "inputs", types: [.decimal, .int])
        let wk = config.requireColumn("code_entrepot", in: warehouses, input: "warehouses", option: "inputs")
        let wn = config.requireColumn("nom_entrepot", in: warehouses, input: "warehouses", option: "inputs")
        guard let sp, let sw, let sq, let pk, let pn, let pp, let wk, let wn else { return nil }
        let byProduct = config.text("by") == "product"
        let columns: [Column]
        if byProduct {
            columns = [products.columns[pk], products.columns[pn], Column("unites", .int), Column("valeur", .decimal, scale: 2),
                       Column("sous_seuil", .bool)]
        } else {
            columns = [warehouses.columns[wk], warehouses.columns[wn], Column("nb_produits", .int), Column("unites", .int),
                       Column("valeur", .decimal, scale: 2), Column("produits_sous_seuil", .int)]
        }
        let threshold = config.string("low_stock_threshold").flatMap { Int64($0) } ?? context.settings.lowStockThreshold
        return WarehouseRollup(byProduct: byProduct, threshold: threshold, stockColumns: (sp, sw, sq),
                               productColumns: (pk, pn, pp, products.index(of: "is_deleted"), products.index(of: "quantite")),
                               warehouseColumns: (wk, wn, warehouses.index(of: "is_actif")),
                               stockSchema: stock, productSchema: products, outputSchema: Schema(columns))
    }

    public func receive(_ batch: Batch, port: Int, context: StageContext, emit: Emit) throws {
        switch port {
        case 1:
            for (row, origin) in zip(batch.rows, batch.origins) {
                let key = row[productColumns.key]
                let deleted = productColumns.deleted.map { row[$0] == .bool(true) } ?? false
                products[key] = Product(name: row[productColumns.name], price: row[productColumns.price].asMoney ?? Money(0),
                                        deleted: deleted, legacy: productColumns.legacy.map { row[$0] } ?? .null,
                                        origin: origin, row: row)
                productOrder.append(key)
            }
        case 2:
            for row in batch.rows {
                let key = row[warehouseColumns.key]
                let active = warehouseColumns.active.map { row[$0] != .bool(false) } ?? true
                warehouses[key] = Warehouse(name: row[warehouseColumns.name], active: active)
                warehouseOrder.append(key)
            }
        default:
            try receiveStock(batch, context: context)
        }
    }

    private func receiveStock(_ batch: Batch, context: StageContext) throws {
        var deleted = 0, inactive = 0
        for (row, origin) in zip(batch.rows, batch.origins) {
            let productKey = row[stockColumns.product], warehouseKey = row[stockColumns.warehouse]
            let product = products[productKey], warehouse = warehouses[warehouseKey]
            guard let units = try checkedUnits(row, origin: origin, knownProduct: product != nil, knownWarehouse: warehouse != nil, context: context),
                  let product, let warehouse else { continue }
            allUnitsByProduct[productKey, default: 0] += units
            if product.deleted { deleted += 1; continue }
            if !warehouse.active { inactive += 1; continue }
            let value = try product.price.multiplied(by: Money(units))
            context.countOut(1)
            if byProduct {
                unitsByProduct[productKey, default: 0] += units
                valueByProduct[productKey] = try (valueByProduct[productKey] ?? Money.zero(scale: 2)).adding(value)
            } else {
                var totals = byWarehouse[warehouseKey] ?? Totals()
                totals.units += units
                totals.value = try totals.value.adding(value)
                totals.unitsByProduct[productKey, default: 0] += units
                byWarehouse[warehouseKey] = totals
            }
        }
        excludedDeleted += deleted
        excludedInactive += inactive
        context.filtered(deleted, reason: "soft-deleted product")
        context.filtered(inactive, reason: "inactive warehouse")
    }

    /// A stock line's units, or nil once it is rejected (unknown product or warehouse, bad quantity);
    /// also replays the rejects of a pushed run (Pushdown/).
    func checkedUnits(_ row: Row, origin: RowOrigin, knownProduct: Bool, knownWarehouse: Bool, context: StageContext) throws -> Int64? {
        // The catalogue is made only for a line that is rejected: this runs for every stock line.
        guard knownProduct else {
            try context.reject(origin, rule: "stock-unknown-product", message: MessageCatalogue(context.run.settings).stockUnknownProduct(row[stockColumns.product]), row: describeRow(row, schema: stockSchema))
            return nil
        }
        guard knownWarehouse else {
            try context.reject(origin, rule: "stock-unknown-warehouse", message: MessageCatalogue(context.run.settings).stockUnknownWarehouse(row[stockColumns.warehouse]), row: describeRow(row, schema: stockSchema))
            return nil
        }
        guard case .int(let units) = row[stockColumns.quantity], units >= 0 else {
            try context.reject(origin, rule: "stock-quantity", message: MessageCatalogue(context.run.settings).stockQuantity(row[stockColumns.quantity]), row: describeRow(row, schema: stockSchema))
            return nil
        }
        return units
    }

    /// The finding of a current product whose legacy `quantite` differs from its stock lines' units.
    func legacyFinding(_ productRow: Row, origin: RowOrigin, legacy: Int64, lines: Int64, context: StageContext) throws {
        try context.finding(origin, rule: "stock-legacy-quantity",
                            message: MessageCatalogue(context.run.settings).stockLegacyQuantity(legacy: legacy, lines: lines),
                            row: describeRow(productRow, schema: productSchema))
    }

    public func finish(_ context: StageContext, emit: Emit) throws {
        var batch = Batch()
        if byProduct {
            for key in productOrder {
                guard let product = products[key] else { continue }
                let all = allUnitsByProduct[key] ?? 0
                // Soft-deleted products are out of current stock: their legacy figure is history, not a finding.
                if !product.deleted, case .int(let legacy) = product.legacy, legacy != all {
                    try legacyFinding(product.row, origin: product.origin, legacy: legacy, lines: all, context: context)
                }
                guard !product.deleted else { continue }
                let units = unitsByProduct[key] ?? 0
                let value = (valueByProduct[key] ?? Money.zero(scale: 2)).rounded(to: 2)
                batch.append([key, product.name, .int(units), .decimal(value), .bool(units < threshold)], origin: product.origin)
            }
        } else {
            for key in warehouseOrder {
                guard let warehouse = warehouses[key], warehouse.active else { continue }
                let totals = byWarehouse[key] ?? Totals()
                // DOMAIN.md "Low stock": products (not stock lines) whose units in this warehouse are under
                // the threshold; a product stocked here with 0 units is under it.
                let low = totals.unitsByProduct.values.filter { $0 < threshold }.count
                batch.append([key, warehouse.name, .int(Int64(totals.unitsByProduct.count)), .int(totals.units),
                              .decimal(totals.value.rounded(to: 2)), .int(Int64(low))], origin: .derived)
            }
        }
        let deletedProducts = products.values.filter(\.deleted).count
        let inactiveWarehouses = warehouses.values.filter { !$0.active }.count
        if deletedProducts > 0 || inactiveWarehouses > 0 {
            context.note("left out: \(deletedProducts) soft-deleted product(s) (\(excludedDeleted) stock lines), \(inactiveWarehouses) inactive warehouse(s) (\(excludedInactive) stock lines)")
        }
        try emit(batch)
    }
}
