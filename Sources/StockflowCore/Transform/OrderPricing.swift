/// DOMAIN.md rules 1 and 2 for one order line, shared by `order_totals` and `invoices`: the product
/// must exist, the quantity be at least 1, and the total is quantity × unit price rounded half away
/// from zero to 2 places.
struct OrderPricing {
    /// A priced order line.
    struct Priced {
        var units: Int64
        var unitPrice: Money
        var total: Money
        /// The product row's extra columns, as asked for.
        var extra: [Value]
    }

    /// Why an order line cannot be priced: the reject rule and message.
    struct Broken: Error {
        var rule: String
        var message: LocalizedText
    }

    /// By product code: integer codes index an array or hash as integers.
    private var products = KeyedByValue<(price: Value, extra: [Value])>()
    let productKey: Int
    let quantity: Int

    init(productKey: Int, quantity: Int) {
        self.productKey = productKey
        self.quantity = quantity
    }

    /// Remembers a product row (from the products lookup input).
    mutating func addProduct(key: Value, price: Value, extra: [Value]) {
        products[key] = (price, extra)
    }

    /// Prices an order row, or says which rule it breaks.
    func price(_ row: Row, words: MessageCatalogue) throws -> Result<Priced, Broken> {
        guard let product = products[row[productKey]] else {
            return .failure(Broken(rule: "order-unknown-product", message: words.orderUnknownProduct(row[productKey])))
        }
        guard case .int(let units) = row[quantity], units >= 1 else {
            return .failure(Broken(rule: "order-quantity", message: words.orderQuantity(row[quantity])))
        }
        guard var unitPrice = product.price.asMoney else {
            return .failure(Broken(rule: "product-price-missing", message: words.productPriceMissing(row[productKey])))
        }
        if unitPrice.scale < 2 { unitPrice = try unitPrice.rescaledUp(to: 2) }
        let total = try unitPrice.multiplied(by: Money(units)).rounded(to: 2)
        return .success(Priced(units: units, unitPrice: unitPrice, total: total, extra: product.extra))
    }
}
