import Testing
@testable import StockflowCore

/// Calendar days, instants and the date patterns of French CSV exports.
@Suite struct DateTests {
    // MARK: CivilDate

    @Test func everySampledDayFrom1970To2100RoundTripsThroughItsComponents() throws {
        let first = try #require(CivilDate(year: 1970, month: 1, day: 1))
        let last = try #require(CivilDate(year: 2100, month: 12, day: 31))
        #expect(first.days == 0)
        #expect(last.days == 47_846)
        var previous: (year: Int, month: Int, day: Int)? = nil
        for days in stride(from: first.days, through: last.days, by: 1) {
            let date = CivilDate(days: days)
            let (year, month, day) = date.components
            #expect(CivilDate(year: year, month: month, day: day)?.days == days)
            #expect(CivilDate(iso: date.description) == date)
            // Consecutive day counts are consecutive calendar days.
            if let previous {
                let next = previous.day < CivilDate.daysIn(month: previous.month, year: previous.year)
                    ? (previous.year, previous.month, previous.day + 1)
                    : (previous.month == 12 ? (previous.year + 1, 1, 1) : (previous.year, previous.month + 1, 1))
                #expect(next == (year, month, day), "day \(days)")
            }
            previous = (year, month, day)
        }
    }

    @Test(arguments: [
        (1970, 1, 1, Int32(0)), (1969, 12, 31, -1), (2000, 3, 1, 11_017), (2026, 11, 25, 20_782), (2024, 2, 29, 19_782),
    ])
    func knownDaysHaveTheirDayCount(year: Int, month: Int, day: Int, days: Int32) {
        #expect(CivilDate(year: year, month: month, day: day)?.days == days)
    }

    @Test(arguments: [(2024, 29), (2025, 28), (2000, 29), (1900, 28), (2100, 28), (2028, 29)])
    func februaryHas29DaysOnlyInLeapYears(year: Int, days: Int) {
        #expect(CivilDate.daysIn(month: 2, year: year) == days)
        #expect((CivilDate(year: year, month: 2, day: 29) != nil) == (days == 29))
    }

    @Test(arguments: [(2025, 4, 31), (2025, 13, 1), (2025, 0, 10), (2025, 1, 0), (2025, 6, 31), (0, 1, 1)])
    func daysThatDoNotExistAreRefused(year: Int, month: Int, day: Int) {
        #expect(CivilDate(year: year, month: month, day: day) == nil)
    }

    @Test(arguments: [
        ("2026-01-01", 2026, 1), ("2024-12-30", 2025, 1), ("2021-01-03", 2020, 53), ("2021-01-04", 2021, 1),
        ("2020-12-31", 2020, 53), ("2026-11-25", 2026, 48), ("2027-01-01", 2026, 53), ("2018-12-31", 2019, 1),
    ])
    func isoWeeksBelongToTheYearOfTheirThursday(iso: String, year: Int, week: Int) throws {
        let date = try #require(CivilDate(iso: iso))
        #expect(date.isoWeek == (year, week))
    }

    @Test func isoWeekdaysRunFromMondayToSunday() {
        #expect(CivilDate(iso: "1970-01-01")?.isoWeekday == 4)  // Thursday
        #expect(CivilDate(iso: "2026-11-23")?.isoWeekday == 1)  // Monday
        #expect(CivilDate(iso: "2026-11-29")?.isoWeekday == 7)  // Sunday
        #expect(CivilDate(iso: "1969-12-29")?.isoWeekday == 1)  // before the epoch
    }

    @Test(arguments: [("2026-11-25", 46_351.0), ("1970-01-01", 25_569.0), ("2024-01-01", 45_292.0), ("1900-03-01", 61.0)])
    func excelSerialsCountFromExcels1900Epoch(iso: String, serial: Double) {
        #expect(CivilDate(iso: iso)?.excelSerial == serial)
    }

    @Test(arguments: ["2026-11-31", "26-11-25", "2026/11/25", "2026-11", "", "abcd-ef-gh"])
    func isoTextThatIsNotADayGivesNothing(text: String) {
        #expect(CivilDate(iso: text) == nil)
    }

    // MARK: Timestamp

    @Test func timestampsKnowTheirUTCDayAndPrintInISO() throws {
        let day = try #require(CivilDate(iso: "2026-11-24"))
        let stamp = Timestamp(date: day, hour: 14, minute: 5, second: 0)
        #expect(stamp.description == "2026-11-24T14:05:00Z")
        #expect(stamp.utcDate == day)
        let precise = Timestamp(date: day, hour: 23, minute: 59, second: 59, microsecond: 123_456)
        #expect(precise.description == "2026-11-24T23:59:59.123456Z")
        #expect(precise.utcDate == day)
        #expect(Timestamp(date: day, hour: 12, minute: 0, second: 0).excelSerial == day.excelSerial + 0.5)
    }

    @Test func instantsBeforeTheEpochFallOnTheRightDay() throws {
        let stamp = Timestamp(microseconds: -1)
        #expect(stamp.utcDate == CivilDate(iso: "1969-12-31"))
        #expect(stamp.description == "1969-12-31T23:59:59.999999Z")
        #expect(Timestamp(microseconds: -86_400_000_000).utcDate == CivilDate(iso: "1969-12-31"))
    }

    @Test func sampledInstantsRoundTripThroughTheirDayAndTimeOfDay() {
        for days in stride(from: Int32(0), through: 47_846, by: 97) {
            for second in [0, 1, 43_200, 86_399] {
                let date = CivilDate(days: days)
                let stamp = Timestamp(date: date, hour: second / 3600, minute: second / 60 % 60, second: second % 60)
                #expect(stamp.utcDate == date)
                #expect(stamp.description.hasPrefix(date.description + "T"))
            }
        }
    }

    // MARK: DateFormat

    private func parse(_ pattern: String, _ text: String) throws -> DateFormat.Parsed {
        try #require(DateFormat(pattern)).parse(Array(text.utf8))
    }

    @Test(arguments: [
        ("dd/MM/yyyy", "25/11/2026", "2026-11-25"), ("dd/MM/yyyy", "01/01/1970", "1970-01-01"),
        ("dd/MM/yyyy", "29/02/2024", "2024-02-29"), ("d/M/yy", "5/3/26", "2026-03-05"),
        ("d/M/yy", "25/11/26", "2026-11-25"), ("yyyy-MM-dd", "2026-11-25", "2026-11-25"),
        ("dd.MM.yyyy", "31.12.2099", "2099-12-31"),
    ])
    func datesFollowingTheirPatternParse(pattern: String, text: String, iso: String) throws {
        guard case .value(let date, let micro) = try parse(pattern, text) else {
            Issue.record("'\(text)' should parse with \(pattern)")
            return
        }
        #expect(date.description == iso)
        #expect(micro == 0)
    }

    @Test func datetimesWithMillisecondsParseToTheMicrosecond() throws {
        guard case .value(let date, let micro) = try parse("yyyy-MM-dd HH:mm:ss.SSS", "2026-11-24 14:05:09.250") else {
            Issue.record("should parse")
            return
        }
        #expect(date == CivilDate(iso: "2026-11-24"))
        #expect(micro == Int64(14 * 3600 + 5 * 60 + 9) * 1_000_000 + 250_000)
        #expect(try #require(DateFormat("yyyy-MM-dd HH:mm:ss.SSS")).hasTime)
        #expect(try #require(DateFormat("dd/MM/yyyy")).hasTime == false)
    }

    @Test func theTwentyNinthOfFebruaryOfACommonYearIsImpossibleWithAReason() throws {
        guard case .impossible(let reason) = try parse("dd/MM/yyyy", "29/02/2025") else {
            Issue.record("29/02/2025 should be impossible")
            return
        }
        #expect(reason.contains("February 2025 has 28 days"))
    }

    @Test(arguments: [
        ("dd/MM/yyyy", "31/04/2026"), ("dd/MM/yyyy", "00/01/2026"), ("dd/MM/yyyy", "01/13/2026"),
        ("yyyy-MM-dd HH:mm:ss", "2026-11-24 24:00:00"), ("yyyy-MM-dd HH:mm:ss", "2026-11-24 12:60:00"),
    ])
    func datesThatFollowThePatternButDoNotExistAreImpossible(pattern: String, text: String) throws {
        guard case .impossible = try parse(pattern, text) else {
            Issue.record("'\(text)' should be impossible")
            return
        }
    }

    @Test(arguments: [
        ("dd/MM/yyyy", "2026-11-25"), ("dd/MM/yyyy", "25/11/26"), ("dd/MM/yyyy", "5/11/2026"),
        ("dd/MM/yyyy", "25/11/2026 "), ("dd/MM/yyyy", ""), ("d/M/yy", "5/3/2026"),
        ("yyyy-MM-dd HH:mm:ss.SSS", "2026-11-24 14:05:09"), ("yyyy-MM-dd HH:mm:ss.SSS", "2026-11-24 14:05:09."),
    ])
    func textNotFollowingThePatternIsMalformed(pattern: String, text: String) throws {
        guard case .malformed = try parse(pattern, text) else {
            Issue.record("'\(text)' should be malformed for \(pattern)")
            return
        }
    }

    @Test(arguments: ["MM/yyyy", "dd/MM", "ddd/MM/yyyy", "dd/MM/yyy", "HH:mm"])
    func patternsWithoutDayMonthAndYearAreRefused(pattern: String) {
        #expect(DateFormat(pattern) == nil)
    }
}
