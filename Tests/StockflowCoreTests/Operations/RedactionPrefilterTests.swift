import Foundation
import Testing
@testable import StockflowCore

/// The redactors run their regular expressions (ICU) only on text that may match; the result is the same.
struct RedactionPrefilterTests {
    private let texts = ["run succeeded", "password=hunter2 host=db", "PASSWORD = 'a b' user=x", "PaSsWoRd=x&y",
                         "paßword=geheim", "PAẞWORD=geheim", "paſſword=x", "passwort=x", "pass word=x",
                         "postgres://u:secret@db/x et smtp://a:b@c", "http://h/x:y@z", "rejet : montant négatif",
                         "mot de passe", ""]

    @Test func redactPasswordMasksWhatTheRegularExpressionAloneMasks() {
        for text in texts {
            // The reference: the same steps with the regular expression applied unconditionally.
            var reference = text
            if let scheme = reference.range(of: "://"), let at = reference[scheme.upperBound...].firstIndex(of: "@") {
                let userInfo = reference[scheme.upperBound..<at]
                if let colon = userInfo.firstIndex(of: ":") { reference.replaceSubrange(reference.index(after: colon)..<at, with: "***") }
            }
            if let range = reference.range(of: #"password\s*=\s*('([^'\\]|\\.)*'|[^\s&]*)"#, options: [.regularExpression, .caseInsensitive]) {
                reference.replaceSubrange(range, with: "password=***")
            }
            #expect(redactPassword(text) == reference, "\(text)")
        }
    }

    @Test func theRedactorMasksEveryURLPasswordAsBefore() {
        let redactor = SecretRedactor(environment: [:])
        #expect(redactor.redact("postgres://u:secret@db/x et smtp://a:b@c") == "postgres://u:***@db/x et smtp://a:***@c")
        #expect(redactor.redact("rejet : montant négatif") == "rejet : montant négatif")
    }
}
