import Testing
@testable import StockflowCore

/// Exact decimals: parsing, arithmetic, rounding half away from zero, overflow, equality and text.
@Suite struct MoneyTests {
    private func money(_ units: Int64, _ scale: Int) -> Money { Money(units: units, scale: scale) }

    private func parse(_ text: String, mark: Character = ".", thousands: Character? = nil) -> Money? {
        Money.parse(Array(text.utf8), decimalMark: mark.asciiValue!, thousandsSeparator: thousands?.asciiValue)
    }

    // MARK: Parsing

    @Test(arguments: [
        ("1234.50", Int64(123_450), 2),
        ("-0.05", -5, 2),
        ("+12", 12, 0),
        ("0", 0, 0),
        ("0.000001", 1, 6),
        ("-1234567.891", -1_234_567_891, 3),
    ])
    func plainDecimalsParseExactlyWithTheirScale(text: String, units: Int64, scale: Int) throws {
        let value = try #require(parse(text))
        #expect(value.units == units)
        #expect(value.scale == scale)
    }

    @Test(arguments: [
        ("1 234,56", Int64(123_456), 2),
        ("12 345 678,9", 123_456_789, 1),
        ("-1 000,00", -100_000, 2),
        ("999,5", 9995, 1),
    ])
    func frenchDecimalsWithSpaceGroupingAndCommaMarkParse(text: String, units: Int64, scale: Int) throws {
        let value = try #require(parse(text, mark: ",", thousands: " "))
        #expect(value.units == units)
        #expect(value.scale == scale)
    }

    @Test(arguments: ["12,5,0", "1e5", "abc", "", "--1", "-", "+", ",", "1,5x", "1 2,5,", "12.5", " ", "1,2e3", "0x10"])
    func textThatIsNotAPlainFrenchDecimalIsRejected(text: String) {
        #expect(parse(text, mark: ",", thousands: " ") == nil, "'\(text)' should not parse")
    }

    @Test(arguments: ["1e5", "abc", "", "--1", "1.2.3", "+-1", "1,5", "1 000", "1.5e-3", "∞", "١٢"])
    func textThatIsNotAPlainDecimalIsRejected(text: String) {
        #expect(parse(text) == nil, "'\(text)' should not parse")
        #expect(Money(text) == nil)
    }

    @Test(arguments: ["1 2 3,4", "12 34,5", "1234 567,8", " 123,4"])
    func groupingSeparatorsMustSeparateGroupsOfThreeDigits(text: String) {
        // A misplaced separator is more likely a second number than grouping: never guess.
        #expect(parse(text, mark: ",", thousands: " ") == nil, "'\(text)' should not parse")
    }

    @Test func aGroupingSeparatorRightBeforeTheDecimalMarkIsRejected() {
        #expect(parse("1 ,5", mark: ",", thousands: " ") == nil)
        #expect(parse("1 234 ", mark: ",", thousands: " ") == nil)
    }

    @Test func tooManyDigitsIsRejectedNotWrapped() {
        #expect(parse("9223372036854775807") == money(.max, 0))
        #expect(parse("9223372036854775808") == nil)
        #expect(parse("0.0000000000000000001") == nil)  // 19 places, more than the 18 carried
    }

    // MARK: Arithmetic

    @Test func additionAndSubtractionAreExactAcrossScales() throws {
        let sum = try money(15, 1).adding(money(2, 3))  // 1.5 + 0.002
        #expect(sum.units == 1502)
        #expect(sum.scale == 3)
        let difference = try money(1, 2).subtracting(money(3, 0))  // 0.01 - 3
        #expect(difference == money(-299, 2))
        // 0.1 + 0.2 is exactly 0.3, unlike binary floating point.
        #expect(try Money("0.1")!.adding(Money("0.2")!) == Money("0.3")!)
    }

    @Test func multiplicationIsExactAndAddsScales() throws {
        let product = try money(1999, 2).multiplied(by: Money(3))  // 19.99 × 3
        #expect(product == money(5997, 2))
        let fine = try money(125, 3).multiplied(by: money(15, 1))  // 0.125 × 1.5
        #expect(fine.units == 1875)
        #expect(fine.scale == 4)
        #expect(try money(-25, 1).multiplied(by: money(-4, 0)) == Money(10))
    }

    @Test(arguments: [
        ("2.345", "2.35"), ("-2.345", "-2.35"), ("2.344", "2.34"), ("-2.344", "-2.34"),
        ("0.005", "0.01"), ("-0.005", "-0.01"), ("0.0049999", "0.00"), ("2.355", "2.36"),
        ("1.995", "2.00"), ("-1.995", "-2.00"), ("7", "7.00"), ("7.1", "7.10"),
    ])
    func roundingToCentsGoesHalfAwayFromZero(text: String, expected: String) throws {
        let rounded = try #require(Money(text)).rounded(to: 2)
        #expect(rounded.description == expected)
        #expect(rounded.scale == 2)
    }

    @Test func roundingToWholeUnitsGoesHalfAwayFromZero() {
        #expect(Money("2.5")!.rounded(to: 0) == Money(3))
        #expect(Money("-2.5")!.rounded(to: 0) == Money(-3))
        #expect(Money("2.49")!.rounded(to: 0) == Money(2))
    }

    @Test func additionOverflowThrowsInsteadOfWrapping() {
        #expect(throws: MoneyError.self) { try money(.max, 0).adding(Money(1)) }
        #expect(throws: MoneyError.self) { try money(.min + 1, 0).subtracting(Money(2)) }
    }

    @Test func rescalingOverflowThrowsInsteadOfWrapping() {
        // 9.2e18 fits as an integer but not once it needs 2 decimal places.
        #expect(throws: MoneyError.self) { try money(.max / 10, 0).adding(money(1, 2)) }
    }

    @Test func multiplicationOverflowThrowsInsteadOfWrapping() {
        #expect(throws: MoneyError.self) { try money(4_000_000_000_000_000_000, 0).multiplied(by: Money(3)) }
        #expect(throws: MoneyError.self) { try money(1, 10).multiplied(by: money(1, 10)) }  // 20 places
    }

    @Test func subtractingTheMostNegativeValueThrowsInsteadOfTrapping() throws {
        let mostNegative = try money(-Int64.max, 0).subtracting(Money(1))
        #expect(mostNegative.units == .min)
        #expect(throws: MoneyError.self) { try Money(0).subtracting(mostNegative) }
    }

    // MARK: Equality, order, hashing

    @Test(arguments: [("1.5", "1.50"), ("0", "0.000"), ("-3", "-3.0"), ("100", "100.00")])
    func equalValuesWithDifferentScalesAreEqualAndHashAlike(left: String, right: String) {
        let a = Money(left)!, b = Money(right)!
        #expect(a.scale != b.scale)
        #expect(a == b)
        #expect(a.hashValue == b.hashValue)
        #expect(Set([a, b]).count == 1)
        #expect(Value.decimal(a) == Value.decimal(b))
    }

    @Test func differentValuesAreNotEqual() {
        #expect(Money("1.5")! != Money("1.51")!)
        #expect(Money("1.5")! != Money("-1.5")!)
        #expect(Money("10")! != Money("1.0")!)
    }

    @Test func orderingComparesValuesNotScales() {
        #expect(Money("1.5")! < Money("1.51")!)
        #expect(Money("-2")! < Money("-1.99")!)
        #expect(!(Money("1.50")! < Money("1.5")!))
        #expect(Money("0.1")! > Money("0.09999")!)
    }

    // MARK: From doubles (Django's REAL storage)

    @Test(arguments: [
        (0.1, Int64(1), 1), (19.99, 1999, 2), (12.0, 12, 0), (1e-05, 1, 5), (1.5e-05, 15, 6),
        (-0.05, -5, 2), (1234.5, 12345, 1), (0.0, 0, 0), (1e16, 10_000_000_000_000_000, 0),
    ])
    func shortestRepresentationRecoversTheStoredDecimal(double: Double, units: Int64, scale: Int) throws {
        let value = try #require(Money(shortestRepresentationOf: double))
        #expect(value.units == units)
        #expect(value.scale == scale)
    }

    @Test(arguments: [Double.nan, .infinity, -.infinity, 1e19, 1e25, Double.leastNonzeroMagnitude])
    func doublesOutsideTheExactRangeGiveNothing(double: Double) {
        #expect(Money(shortestRepresentationOf: double) == nil, "\(double) should not convert")
    }

    // MARK: Text

    @Test(arguments: [
        (Int64(123_456_789), 2, "1 234 567,89"), (-123_456, 2, "-1 234,56"), (5, 2, "0,05"), (-5, 2, "-0,05"),
        (100, 0, "100"), (1000, 0, "1 000"), (123_456, 0, "123 456"), (0, 2, "0,00"),
    ])
    func frenchFormattingGroupsThousandsWithSpacesAndUsesACommaMark(units: Int64, scale: Int, expected: String) {
        #expect(money(units, scale).formatted(decimalMark: ",", groupSeparator: " ") == expected)
    }

    @Test(arguments: [
        (Int64(123_450), 2, "1234.50"), (-5, 2, "-0.05"), (12, 0, "12"), (1, 5, "0.00001"), (-1_000_000, 3, "-1000.000"),
    ])
    func descriptionIsPlainWithADotAndTheFullScale(units: Int64, scale: Int, expected: String) {
        #expect(money(units, scale).description == expected)
        #expect(Money(expected) == money(units, scale))
    }
}
