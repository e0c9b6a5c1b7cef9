import Testing
@testable import StockflowCore

/// The keyed state of joins and rulebook transforms against a plain `[Value: Int]`: the same entries
/// whatever mix of keys (dense codes, sparse ids, negatives, decimals, text, null) and operations.
@Suite struct KeyedByValueTests {
    func below(_ random: inout SeededGenerator, _ bound: Int) -> Int { Int.random(in: 0..<bound, using: &random) }

    func randomKey(_ random: inout SeededGenerator) -> Value {
        switch below(&random, 10) {
        case 0...3: return .int(Int64(below(&random, 3000)))                  // dense codes
        case 4...6: return .int(Int64(below(&random, 5_000_000)))             // sparse ids
        case 7: return .int(-Int64(below(&random, 100)) - 1)                  // negatives
        case 8: return below(&random, 2) == 0 ? .decimal(Money(Int64(below(&random, 50)))) : .text("k\(below(&random, 50))")
        default: return below(&random, 4) == 0 ? .null : .int(Int64.max - Int64(below(&random, 10)))
        }
    }

    @Test(arguments: [1, 2, 3, 4])
    func entriesMatchADictionaryAfterRandomOperations(seed: UInt64) {
        var random = SeededGenerator(seed: seed)  // deterministic: a failure replays
        var keyed = KeyedByValue<Int>()
        var model: [Value: Int] = [:]
        for step in 0..<60_000 {
            let key = randomKey(&random)
            switch below(&random, 6) {
            case 0, 1:
                keyed[key] = step
                model[key] = step
            case 2:
                keyed.update(key, default: 0) { $0 += 1 }
                model[key, default: 0] += 1
            case 3:
                keyed[key] = nil
                model[key] = nil
            default:
                #expect(keyed[key] == model[key], "step \(step), key \(key)")
            }
        }
        #expect(keyed.count == model.count)
        let entries = keyed.entries
        #expect(entries.count == model.count)
        #expect(Dictionary(entries.map { ($0.key, $0.value) }, uniquingKeysWith: { _, _ in -1 }) == model)
        for (key, value) in model { #expect(keyed[key] == value) }
    }

    @Test func integerAndDecimalKeysOfTheSameNumberStayApart() {
        var keyed = KeyedByValue<String>()
        keyed[.int(5)] = "int"
        keyed[.decimal(Money(5))] = "decimal"
        keyed[.int(4_000_000)] = "sparse"
        #expect(keyed[.int(5)] == "int")
        #expect(keyed[.decimal(Money(5))] == "decimal")
        #expect(keyed[integer: 4_000_000] == "sparse")
        #expect(keyed[.int(6)] == nil)
        #expect(keyed.count == 3)
    }

    @Test func aTableOfSparseIdsSurvivesRemovalsInTheMiddleOfItsProbeChains() {
        var table = IntegerTable<Int64>()
        // Multiples of a power of two collide more than random ids in a multiplicative hash's high bits.
        let ids = (1...5000).map { Int64($0) << 20 }
        for id in ids { table[id] = id }
        for id in ids where id % (3 << 20) == 0 { table[id] = nil }
        for id in ids {
            #expect(table[id] == (id % (3 << 20) == 0 ? nil : id))
        }
        #expect(table.count == ids.count - ids.filter { $0 % (3 << 20) == 0 }.count)
    }
}

/// The open-addressing table alone, with its filter of absent keys: many misses among sparse ids,
/// removals (whose filter bits stay set) and growth (which rebuilds the filter).
@Suite struct IntegerTableTests {
    @Test func missesRemovalsAndGrowthAgreeWithADictionary() {
        var random = SeededGenerator(seed: 11)
        var table = IntegerTable<Int>()
        var model: [Int64: Int] = [:]
        for step in 0..<200_000 {
            let key = Int64.random(in: -2_000_000...2_000_000, using: &random) * 7
            switch Int.random(in: 0..<10, using: &random) {
            case 0, 1: table[key] = step; model[key] = step
            case 2: table[key] = nil; model[key] = nil
            case 3: table.update(key, default: 0) { $0 += 1 }; model[key, default: 0] += 1
            default: #expect(table[key] == model[key], "step \(step), key \(key)")
            }
        }
        #expect(table.count == model.count)
        for (key, value) in model { #expect(table[key] == value) }
        // Keys never inserted are all absent, whatever the filter lets through.
        for key in stride(from: Int64(1), to: 100_000, by: 7) where model[key] == nil { #expect(table[key] == nil) }
    }
}
