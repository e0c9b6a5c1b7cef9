import Foundation

/// A human text in both languages of the deliverables: the English one goes to rejects.csv and
/// findings.csv (read by engineers and scripts, beside the rule code), the reader's one to the
/// workbook, the report and the digest.
public struct LocalizedText: Sendable, Equatable {
    public var english: String
    public var french: String

    public init(english: String, french: String) {
        self.english = english
        self.french = french
    }

    /// The same text in both languages (a value, a name).
    public init(_ text: String) {
        self.init(english: text, french: text)
    }

    /// The text for a reader of `locale`.
    public func text(for locale: ReportLocale) -> String { locale.isFrench ? french : english }
}

/// The messages of rejects and findings, the names of rules and the words of coded values, in French
/// and English. Numbers in French messages follow the French format (`1 234,56 €`); the English ones
/// keep the exact decimal text (`1234.56`) that scripts and tests read.
public struct MessageCatalogue: Sendable {
    let french: ReportLocale

    public init(currency: String) {
        french = ReportLocale(identifier: "fr_FR", currency: currency)
    }

    public init(_ settings: PipelineSettings) {
        self.init(currency: settings.currency)
    }

    private func money(_ amount: Money) -> String { french.money(amount) }

    private func number(_ value: Value) -> String {
        switch value {
        case .int(let number): return french.integer(number)
        case .decimal(let amount): return french.number(amount, places: amount.scale)
        default: return value.description
        }
    }

    // MARK: - Orders (rules 1 and 2)

    public func orderUnknownProduct(_ product: Value) -> LocalizedText {
        LocalizedText(english: "order for unknown product \(product) (rule 2: an order must name an existing product)",
                      french: "commande d’un produit inconnu \(product) (règle 2 : une commande désigne un produit existant)")
    }

    public func orderQuantity(_ quantity: Value) -> LocalizedText {
        LocalizedText(english: "quantity \(quantity) is under 1 (an order quantity is at least 1)",
                      french: "quantité \(number(quantity)) inférieure à 1 (une commande porte sur au moins 1 unité)")
    }

    public func productPriceMissing(_ product: Value) -> LocalizedText {
        LocalizedText(english: "product \(product) has no unit price", french: "le produit \(product) n’a pas de prix unitaire")
    }

    public func orderTotalMismatch(stored: Money, units: Int64, unitPrice: Money, total: Money, difference: Money) -> LocalizedText {
        LocalizedText(english: "stored total \(stored) differs from \(units) × \(unitPrice) = \(total) by \(difference); the recomputed total is used",
                      french: "montant enregistré \(money(stored)) différent de \(french.integer(units)) × \(money(unitPrice)) = \(money(total)) (écart \(money(difference))) ; le montant recalculé est retenu")
    }

    // MARK: - Invoices (rule 3)

    public func invoiceWithoutOrder(_ invoice: Value) -> LocalizedText {
        LocalizedText(english: "invoice \(invoice) has no order (rule 3: every invoice belongs to one order)",
                      french: "la facture \(invoice) n’a pas de commande (règle 3 : chaque facture appartient à une commande)")
    }

    public func invoiceGenerated(order: Value, total: Money) -> LocalizedText {
        LocalizedText(english: "order \(order) had no invoice; one was generated for \(total)",
                      french: "la commande \(order) n’avait pas de facture ; une facture de \(money(total)) a été générée")
    }

    public func invoiceTotalMismatch(invoice: Value, stored: Money, units: Int64, unitPrice: Money, total: Money) -> LocalizedText {
        LocalizedText(english: "invoice \(invoice) stores \(stored), the order's gross is \(units) × \(unitPrice) = \(total); the gross is used",
                      french: "la facture \(invoice) porte \(money(stored)), le brut de la commande est \(french.integer(units)) × \(money(unitPrice)) = \(money(total)) ; le brut est retenu")
    }

    // MARK: - Returns (rule 4)

    public func returnUnknownInvoice(_ invoice: Value) -> LocalizedText {
        LocalizedText(english: "return against unknown invoice \(invoice)", french: "retour sur une facture inconnue \(invoice)")
    }

    public func returnQuantity(_ quantity: Value) -> LocalizedText {
        LocalizedText(english: "returned quantity \(quantity) is under 1", french: "quantité retournée \(number(quantity)) inférieure à 1")
    }

    public func returnReason(_ reason: Value) -> LocalizedText {
        LocalizedText(english: "reason '\(reason)' is not one of defaut, insatisfaction, rupture",
                      french: "motif « \(reason) » absent de la liste (défaut, insatisfaction, rupture)")
    }

    public func returnOverQuantity(invoice: Value, units: Int64, ordered: Int64) -> LocalizedText {
        LocalizedText(english: "returns against invoice \(invoice) would total \(units) units, more than the \(ordered) ordered",
                      french: "les retours sur la facture \(invoice) totaliseraient \(french.integer(units)) unités, plus que les \(french.integer(ordered)) commandées")
    }

    /// A return so large that the total with the earlier ones is past 64-bit integers: both parts named.
    public func returnOverQuantity(invoice: Value, units: Int64, already: Int64, ordered: Int64) -> LocalizedText {
        LocalizedText(english: "a return of \(units) units against invoice \(invoice), after \(already) already returned, is more than the \(ordered) ordered",
                      french: "un retour de \(french.integer(units)) unités sur la facture \(invoice), après \(french.integer(already)) déjà retournées, dépasse les \(french.integer(ordered)) commandées")
    }

    public func returnRefundNegative(_ amount: Money) -> LocalizedText {
        LocalizedText(english: "refund \(amount) is negative", french: "remboursement \(money(amount)) négatif")
    }

    public func returnOverRefund(invoice: Value, refunds: Money, gross: Money) -> LocalizedText {
        LocalizedText(english: "refunds against invoice \(invoice) would total \(refunds), more than its gross \(gross)",
                      french: "les remboursements de la facture \(invoice) totaliseraient \(money(refunds)), plus que son brut de \(money(gross))")
    }

    // MARK: - Stock (rule 5)

    public func stockUnknownProduct(_ product: Value) -> LocalizedText {
        LocalizedText(english: "stock line for unknown product \(product)", french: "ligne de stock d’un produit inconnu \(product)")
    }

    public func stockUnknownWarehouse(_ warehouse: Value) -> LocalizedText {
        LocalizedText(english: "stock line for unknown warehouse \(warehouse)", french: "ligne de stock d’un entrepôt inconnu \(warehouse)")
    }

    public func stockQuantity(_ quantity: Value) -> LocalizedText {
        LocalizedText(english: "stock quantity \(quantity) is not a whole number ≥ 0", french: "quantité en stock \(quantity) : un nombre entier ≥ 0 est attendu")
    }

    public func stockLegacyQuantity(legacy: Int64, lines: Int64) -> LocalizedText {
        LocalizedText(english: "legacy quantite \(legacy) differs from the sum of its stock lines \(lines) (by \(legacy - lines))",
                      french: "quantité historique \(french.integer(legacy)) différente de la somme de ses lignes de stock \(french.integer(lines)) (écart \(french.integer(legacy - lines)))")
    }

    // MARK: - Source rows

    public static func fieldCount(tooMany: Bool, expected: Int, found: Int) -> LocalizedText {
        LocalizedText(english: "\(tooMany ? "too many fields" : "too few fields"): expected \(expected), found \(found)",
                      french: "\(tooMany ? "trop de champs" : "champs manquants") : \(expected) attendus, \(found) trouvés")
    }

    public static func requiredValue(column: String) -> LocalizedText {
        LocalizedText(english: "column '\(column)' is empty; a value is required", french: "colonne « \(column) » vide ; une valeur est requise")
    }

    public static func encoding(column: String, encoding: String, hint: String) -> LocalizedText {
        // `hint` starts with its own separator: " holds the C1 control character …" or "; is this windows-1252? …".
        LocalizedText(english: hint.hasPrefix(" holds") ? "column '\(column)'\(hint)" : "column '\(column)' is not valid \(encoding) text\(hint)",
                      french: "colonne « \(column) » : texte \(encoding) invalide (le fichier est-il en windows-1252 ?)")
    }

    public static func notWholeNumber(column: String, text: String) -> LocalizedText {
        LocalizedText(english: "column '\(column)': '\(text)' is not a whole number", french: "colonne « \(column) » : « \(text) » n’est pas un nombre entier")
    }

    public static func notDecimal(column: String, text: String, decimalMark: String) -> LocalizedText {
        LocalizedText(english: "column '\(column)': '\(text)' is not a decimal number (decimal mark '\(decimalMark)')",
                      french: "colonne « \(column) » : « \(text) » n’est pas un nombre décimal (séparateur décimal « \(decimalMark) »)")
    }

    public static func tooManyPlaces(column: String, text: String, scale: Int) -> LocalizedText {
        LocalizedText(english: "column '\(column)': '\(text)' has more than \(scale) decimal places",
                      french: "colonne « \(column) » : « \(text) » a plus de \(scale) décimales")
    }

    public static func notBoolean(column: String, text: String) -> LocalizedText {
        LocalizedText(english: "column '\(column)': '\(text)' is not a boolean (true/false, 1/0, oui/non)",
                      french: "colonne « \(column) » : « \(text) » n’est ni vrai ni faux (true/false, 1/0, oui/non)")
    }

    public static func formatMismatch(column: String, text: String, type: String, pattern: String) -> LocalizedText {
        LocalizedText(english: "column '\(column)': '\(text)' does not match the \(type) format \(pattern)",
                      french: "colonne « \(column) » : « \(text) » ne suit pas le format \(pattern)")
    }

    public static func invalidDate(column: String, text: String, type: String, why: String) -> LocalizedText {
        LocalizedText(english: "column '\(column)': '\(text)' is not a valid \(type) (\(why))",
                      french: "colonne « \(column) » : « \(text) » n’est pas une date valide")
    }

    // MARK: - Database rows (SQLite and PostgreSQL extracts)

    /// What a database value should have been and was not.
    public enum StoredValueExpectation: Sendable {
        case wholeNumber, decimal, exactDecimal, boolean, date, datetime
    }

    public static func nullInRequiredColumn(column: String) -> LocalizedText {
        LocalizedText(english: "column '\(column)' is NULL; a value is required",
                      french: "colonne « \(column) » à NULL ; une valeur est requise")
    }

    /// A database value that does not read as its column's type. `frenchValue` is the value in French
    /// notation when the database stores it as a number (`2,5` for the REAL 2.5); a text is quoted as it is.
    public static func unreadableStoredValue(column: String, value: String, frenchValue: String? = nil,
                                             expected: StoredValueExpectation) -> LocalizedText {
        let words: LocalizedText
        switch expected {
        case .wholeNumber: words = LocalizedText(english: "is not a whole number", french: "n’est pas un nombre entier")
        case .decimal: words = LocalizedText(english: "is not a decimal", french: "n’est pas un nombre décimal")
        case .exactDecimal: words = LocalizedText(english: "does not fit an exact decimal", french: "ne tient pas dans un nombre décimal exact")
        case .boolean: words = LocalizedText(english: "is not a boolean", french: "n’est ni vrai ni faux")
        case .date: words = LocalizedText(english: "is not a date (YYYY-MM-DD)", french: "n’est pas une date (AAAA-MM-JJ)")
        case .datetime: words = LocalizedText(english: "is not a datetime (YYYY-MM-DD HH:MM:SS)", french: "n’est pas une date et heure (AAAA-MM-JJ HH:MM:SS)")
        }
        return LocalizedText(english: "column '\(column)': '\(value)' \(words.english)",
                             french: "colonne « \(column) » : « \(frenchValue ?? value) » \(words.french)")
    }

    /// A REAL as a French reader writes it (`2,5`), from the shortest text that reads back as the same double.
    public static func frenchNumber(_ double: Double) -> String? {
        guard let amount = Money(shortestRepresentationOf: double) else { return nil }
        return ReportLocale(identifier: "fr_FR", currency: "EUR").number(amount, places: amount.scale)
    }

    // MARK: - Rule names and coded values

    /// A rule code in words, for the column a person reads; the code stays in the CSV files.
    public static func ruleName(_ rule: String) -> LocalizedText {
        switch rule {
        case "decimal": return LocalizedText(english: "Unreadable decimal number", french: "Nombre décimal illisible")
        case "int": return LocalizedText(english: "Unreadable whole number", french: "Nombre entier illisible")
        case "bool": return LocalizedText(english: "Unreadable yes/no value", french: "Valeur oui/non illisible")
        case "date", "datetime": return LocalizedText(english: "Invalid date", french: "Date invalide")
        case "csv-quote": return LocalizedText(english: "Text after a closing quote", french: "Texte après un guillemet fermant")
        case "csv-field-count": return LocalizedText(english: "Wrong number of fields", french: "Nombre de champs incorrect")
        case "required-value": return LocalizedText(english: "Missing value", french: "Valeur manquante")
        case "encoding", "csv-encoding": return LocalizedText(english: "Unreadable text encoding", french: "Encodage du texte illisible")
        case "sqlite-type", "postgres-type": return LocalizedText(english: "Unexpected value type in the database", french: "Type de valeur inattendu dans la base")
        case "order-unknown-product": return LocalizedText(english: "Order for an unknown product", french: "Commande d’un produit inconnu")
        case "order-quantity": return LocalizedText(english: "Order quantity under 1", french: "Quantité commandée inférieure à 1")
        case "product-price-missing": return LocalizedText(english: "Product without a unit price", french: "Produit sans prix unitaire")
        case "order-total-mismatch": return LocalizedText(english: "Stored order total differs", french: "Montant de commande différent du recalcul")
        case "invoice-without-order": return LocalizedText(english: "Invoice without an order", french: "Facture sans commande")
        case "invoice-generated": return LocalizedText(english: "Invoice generated", french: "Facture générée")
        case "invoice-total-mismatch": return LocalizedText(english: "Stored invoice total differs", french: "Montant de facture différent du brut")
        case "return-unknown-invoice": return LocalizedText(english: "Return against an unknown invoice", french: "Retour sur une facture inconnue")
        case "return-quantity": return LocalizedText(english: "Returned quantity under 1", french: "Quantité retournée inférieure à 1")
        case "return-reason": return LocalizedText(english: "Unknown return reason", french: "Motif de retour inconnu")
        case "return-over-quantity": return LocalizedText(english: "Returns over the ordered quantity", french: "Retours au-delà de la quantité commandée")
        case "return-refund-negative": return LocalizedText(english: "Negative refund", french: "Remboursement négatif")
        case "return-over-refund": return LocalizedText(english: "Refunds over the invoice's gross", french: "Remboursements au-delà du brut")
        case "stock-unknown-product": return LocalizedText(english: "Stock of an unknown product", french: "Stock d’un produit inconnu")
        case "stock-unknown-warehouse": return LocalizedText(english: "Stock in an unknown warehouse", french: "Stock d’un entrepôt inconnu")
        case "stock-quantity": return LocalizedText(english: "Invalid stock quantity", french: "Quantité en stock invalide")
        case "stock-legacy-quantity": return LocalizedText(english: "Legacy quantity differs from stock lines", french: "Quantité historique différente des lignes de stock")
        default: return LocalizedText(rule)
        }
    }

    /// The words of a coded value the app stores (return reasons, stock effects); other values as they are.
    public static func valueWord(_ value: String) -> LocalizedText {
        switch value {
        case "defaut": return LocalizedText(english: "Defect", french: "Défaut")
        case "insatisfaction": return LocalizedText(english: "Dissatisfaction", french: "Insatisfaction")
        case "rupture": return LocalizedText(english: "Out of stock", french: "Rupture")
        case "written_off": return LocalizedText(english: "Written off", french: "Mis au rebut")
        case "restocked": return LocalizedText(english: "Back in stock", french: "Remis en stock")
        case "refund_only": return LocalizedText(english: "Refund only", french: "Remboursement seul")
        default: return LocalizedText(value)
        }
    }

    /// A source location for a reader: file names without their folders (`commandes.csv:503`, never a
    /// server path), tables and keys as they are.
    public static func displaySource(_ source: String) -> String {
        guard source.contains("/") else { return source }
        return source.split(separator: " ", omittingEmptySubsequences: false).map { word in
            word.contains("/") ? String(word.split(separator: "/").last ?? Substring(word)) : String(word)
        }.joined(separator: " ")
    }

    // MARK: - The reports portal

    /// The words of the reports portal (`stockflow serve`), by key: its titles, forms, column heads and
    /// run statuses.
    public static let portalWords: [String: LocalizedText] = [
        "pipelines": LocalizedText(english: "Pipelines", french: "Traitements"),
        "history": LocalizedText(english: "History", french: "Historique"),
        "login": LocalizedText(english: "Log in", french: "Connexion"),
        "logout": LocalizedText(english: "Log out", french: "Déconnexion"),
        "username": LocalizedText(english: "User name", french: "Identifiant"),
        "password": LocalizedText(english: "Password", french: "Mot de passe"),
        "bad_login": LocalizedText(english: "Wrong user name or password.", french: "Identifiant ou mot de passe incorrect."),
        "throttled": LocalizedText(english: "Too many attempts: retry in a minute.", french: "Trop de tentatives : réessayez dans une minute."),
        "expired_form": LocalizedText(english: "The form expired: reload the page.", french: "Le formulaire a expiré : rechargez la page."),
        "rejects": LocalizedText(english: "Rejects", french: "Rejets"),
        "findings": LocalizedText(english: "Findings", french: "Constats"),
        "last_run": LocalizedText(english: "Last run", french: "Dernière exécution"),
        "never_ran": LocalizedText(english: "Never ran.", french: "Jamais exécuté."),
        "workbook": LocalizedText(english: "Latest workbook", french: "Dernier classeur"),
        "report": LocalizedText(english: "Latest report", french: "Dernier rapport"),
        "rejects_file": LocalizedText(english: "Rejected rows (CSV)", french: "Lignes rejetées (CSV)"),
        "run_now": LocalizedText(english: "Run now", french: "Lancer maintenant"),
        "pipeline": LocalizedText(english: "Pipeline", french: "Traitement"),
        "as_of": LocalizedText(english: "As of", french: "Situation au"),
        "started": LocalizedText(english: "Started", french: "Début"),
        "status": LocalizedText(english: "Status", french: "État"),
        "stages": LocalizedText(english: "Stages", french: "Étapes"),
        "stage": LocalizedText(english: "Stage", french: "Étape"),
        "kind": LocalizedText(english: "Kind", french: "Type"),
        "rows_in": LocalizedText(english: "Rows in", french: "Lignes lues"),
        "rows_out": LocalizedText(english: "Rows out", french: "Transmises"),
        "rejected": LocalizedText(english: "Rejected", french: "Rejetées"),
        "filtered": LocalizedText(english: "Filtered", french: "Filtrées"),
        "files": LocalizedText(english: "Files", french: "Fichiers"),
        "succeeded": LocalizedText(english: "Succeeded", french: "Réussi"),
        "failed": LocalizedText(english: "Failed", french: "Échec"),
        "running": LocalizedText(english: "Running", french: "En cours"),
        "too_many_rejects": LocalizedText(english: "Too many rejects", french: "Trop de rejets"),
        "cancelled": LocalizedText(english: "Cancelled", french: "Annulé"),
        "killed": LocalizedText(english: "Killed", french: "Interrompu"),
    ]
}
