import Foundation
import FuzzSupport
@testable import StockflowCore

// Input: one byte picking the time zone, then a cron expression. An expression that parses must
// fire (crons that never fire are refused), each fire time after the previous one, on a day the
// expression allows.

private let zones = ["UTC", "Europe/Paris", "America/New_York", "Australia/Lord_Howe"].compactMap { TimeZone(identifier: $0) }
private let start = Date(timeIntervalSince1970: 1_795_000_000)  // 2026-11-18

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCron(_ bytes: UnsafeRawPointer, _ count: Int) -> CInt {
    guard count >= 1, count < 512 else { return 0 }
    let zone = zones[Int(bytes.load(as: UInt8.self)) % zones.count]
    let text = String(decoding: UnsafeRawBufferPointer(start: bytes + 1, count: count - 1), as: UTF8.self)
    guard let cron = try? CronExpression(text) else { return 0 }
    let schedule = CronSchedule(cron: cron, timeZone: zone)
    var cursor = start
    for _ in 0..<3 {
        guard let fire = schedule.nextFire(after: cursor) else {
            require(false, "'\(text)' parses but never fires")
            return 0
        }
        require(fire > cursor, "'\(text)': \(fire) is not after \(cursor)")
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        // (A time skipped by a DST change moves to the end of the gap, on the same day in these zones.)
        let parts = calendar.dateComponents([.day, .month, .weekday], from: fire)
        if let month = parts.month, let day = parts.day, let weekday = parts.weekday {
            require(cron.months.contains(month) && cron.matches(dayOfMonth: day, weekday: weekday - 1),
                    "'\(text)' fires on \(schedule.describe(fire)), a day it does not allow")
        }
        _ = schedule.describe(fire)
        cursor = fire
    }
    return 0
}
