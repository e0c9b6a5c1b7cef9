/// A dictionary keyed by one `Value`, with integer keys (ids, codes: nearly every key of the rulebook)
/// kept apart from other values: small non-negative ones (customer and product codes, numbered from 1)
/// index an array, other integers go to an open-addressing table hashed by one multiplication
/// (`IntegerTable`) instead of through `Value`'s synthesized hash. `.int(5)` and `.decimal(5)` stay
/// different keys, as in a `[Value: Element]`.
struct KeyedByValue<Element> {
    /// Slot `k` holds integer key `k` when `present[k]`; grown (doubling) while the keys stay dense,
    /// at most `denseSlack` slots per key, so ids spread over a wide range go to the table instead.
    private var dense: [Element] = []
    private var present: [Bool] = []
    private var denseCount = 0
    private var integers = IntegerTable<Element>()
    private var others: [Value: Element] = [:]
    private static var denseSlack: Int { 4 }
    private static var denseFloor: Int { 1024 }

    subscript(key: Value) -> Element? {
        get {
            if case .int(let number) = key { return self[integer: number] }
            return others[key]
        }
        set {
            if case .int(let number) = key { self[integer: number] = newValue } else { others[key] = newValue }
        }
    }

    /// The entry of an integer key (the same entry as `self[.int(number)]`).
    subscript(integer number: Int64) -> Element? {
        get {
            if number >= 0 && number < present.count { return present[Int(number)] ? dense[Int(number)] : nil }
            return integers[number]
        }
        set {
            guard let newValue else {
                if number >= 0 && number < present.count {
                    if present[Int(number)] { denseCount -= 1 }
                    present[Int(number)] = false
                } else {
                    integers[number] = nil
                }
                return
            }
            if let slot = denseSlot(number, filler: newValue) {
                if !present[slot] { denseCount += 1 }
                present[slot] = true
                dense[slot] = newValue
            } else {
                integers[number] = newValue
            }
        }
    }

    /// Changes the entry of `key` in place (starting from `initial` when absent): one look-up, no copy.
    mutating func update<Result>(_ key: Value, default initial: @autoclosure () -> Element,
                                 _ body: (inout Element) throws -> Result) rethrows -> Result {
        guard case .int(let number) = key else { return try body(&others[key, default: initial()]) }
        if let slot = denseSlot(number, filler: initial()) {
            if !present[slot] {
                present[slot] = true
                dense[slot] = initial()
                denseCount += 1
            }
            return try body(&dense[slot])
        }
        return try integers.update(number, default: initial(), body)
    }

    /// The array slot of `number`, growing the array when the keys would still fill a quarter of it
    /// (empty slots hold `filler`, never read) and moving the table's keys it now covers; nil when
    /// `number` belongs in the table.
    private mutating func denseSlot(_ number: Int64, filler: @autoclosure () -> Element) -> Int? {
        guard number >= 0 else { return nil }
        if number < present.count { return Int(number) }
        let keys = denseCount + integers.count + 1
        guard number < Int64(max(Self.denseFloor, keys * Self.denseSlack)) else { return nil }
        let size = max(Int(number) + 1, present.count * 2, 64)
        dense.append(contentsOf: repeatElement(filler(), count: size - dense.count))
        present.append(contentsOf: repeatElement(false, count: size - present.count))
        for (key, value) in integers.entries where key >= 0 && key < size {
            dense[Int(key)] = value
            present[Int(key)] = true
            denseCount += 1
            integers[key] = nil
        }
        return Int(number)
    }

    /// The number of keys.
    var count: Int { denseCount + integers.count + others.count }

    /// Every key with its entry, integers first (in no promised order, like a dictionary's).
    var entries: [(key: Value, value: Element)] {
        var result: [(key: Value, value: Element)] = []
        result.reserveCapacity(count)
        for slot in present.indices where present[slot] { result.append((.int(Int64(slot)), dense[slot])) }
        for (key, entry) in integers.entries { result.append((.int(key), entry)) }
        for (key, entry) in others { result.append((key, entry)) }
        return result
    }

    /// Every key (in no promised order).
    var keys: [Value] { entries.map(\.key) }

    /// The entries alone.
    var values: [Element] { entries.map(\.value) }
}

/// `Int64` keys in open addressing with linear probing, hashed by a multiplication (Fibonacci
/// hashing): a look-up of an id is a multiply, a shift and usually one compare, where a Swift
/// dictionary runs SipHash. Kept at most half full; removal shifts the following entries back, so
/// no tombstones.
///
/// Most look-ups of the rulebook miss (the refunds by invoice: 3 % of the invoices have one), and a
/// miss in a table larger than the cache costs a memory access or two. A bit per 4 bits of table
/// (`filter`, 16 slots per word, set from other bits of the same product) answers most misses from
/// a few kilobytes that stay in cache; a removed key leaves its bit set (a false "maybe", never a
/// wrong answer) until the table grows and the filter is rebuilt.
struct IntegerTable<Element> {
    private var keys: [Int64] = []
    private var values: [Element?] = []
    private var filter: [UInt64] = []
    private(set) var count = 0
    private var shift = 64

    private func home(_ key: Int64) -> Int {
        Int(truncatingIfNeeded: (UInt64(bitPattern: key) &* 0x9E37_79B9_7F4A_7C15) >> UInt64(shift))
    }

    /// The filter's bit of `key`: bits of the product below the home slot's, so independent of it.
    private func filterBit(_ key: Int64) -> (word: Int, mask: UInt64) {
        let product = UInt64(bitPattern: key) &* 0x9E37_79B9_7F4A_7C15
        let bits = Int(truncatingIfNeeded: product >> 16) & (filter.count &* 64 &- 1)
        return (bits >> 6, 1 << UInt64(bits & 63))
    }

    /// False when `key` is certainly absent.
    private func mayHold(_ key: Int64) -> Bool {
        let (word, mask) = filterBit(key)
        return filter[word] & mask != 0
    }

    private mutating func markFilter(_ key: Int64) {
        let (word, mask) = filterBit(key)
        filter[word] |= mask
    }

    /// The slot holding `key`, or the empty slot where it would go.
    private func find(_ key: Int64) -> (slot: Int, found: Bool) {
        let mask = keys.count - 1
        var slot = home(key)
        while values[slot] != nil {
            if keys[slot] == key { return (slot, true) }
            slot = (slot + 1) & mask
        }
        return (slot, false)
    }

    subscript(key: Int64) -> Element? {
        get {
            guard count > 0, mayHold(key) else { return nil }
            let (slot, found) = find(key)
            return found ? values[slot] : nil
        }
        set {
            if let newValue {
                update(key, default: newValue) { $0 = newValue }
            } else if count > 0 {
                let (slot, found) = find(key)
                if found { remove(at: slot) }
            }
        }
    }

    /// Changes the entry of `key` in place, starting from `initial` when absent.
    mutating func update<Result>(_ key: Int64, default initial: @autoclosure () -> Element,
                                 _ body: (inout Element) throws -> Result) rethrows -> Result {
        if (count + 1) * 2 > keys.count { grow() }
        let (slot, found) = find(key)
        if !found {
            keys[slot] = key
            values[slot] = initial()
            count += 1
            markFilter(key)
        }
        // The optional slot is changed through a local: taken out, changed, put back.
        var entry = values[slot] ?? initial()
        values[slot] = nil
        defer { values[slot] = entry }
        return try body(&entry)
    }

    private mutating func remove(at start: Int) {
        let mask = keys.count - 1
        values[start] = nil
        count -= 1
        var hole = start, slot = (start + 1) & mask
        while let value = values[slot] {
            let wanted = home(keys[slot])
            // Moves back an entry whose home is not between the hole and its slot (cyclically).
            if (slot > hole && (wanted <= hole || wanted > slot)) || (slot < hole && wanted <= hole && wanted > slot) {
                keys[hole] = keys[slot]
                values[hole] = value
                values[slot] = nil
                hole = slot
            }
            slot = (slot + 1) & mask
        }
    }

    private mutating func grow() {
        let old = entries
        let size = max(keys.count * 2, 16)
        keys = Array(repeating: 0, count: size)
        values = Array(repeating: nil, count: size)
        // 4 bits per slot: at most half full, so under one key in 8 bits (a miss passes 1 time in 8 or less).
        filter = Array(repeating: 0, count: max(size / 16, 1))
        shift = 64 - size.trailingZeroBitCount
        count = 0
        for (key, value) in old {
            let (slot, _) = find(key)
            keys[slot] = key
            values[slot] = value
            count += 1
            markFilter(key)
        }
    }

    /// Every key with its entry, in slot order.
    var entries: [(key: Int64, value: Element)] {
        var result: [(key: Int64, value: Element)] = []
        result.reserveCapacity(count)
        for slot in keys.indices { if let value = values[slot] { result.append((keys[slot], value)) } }
        return result
    }
}
