/// A dictionary keyed by one `Value`, with integer keys (ids, codes: nearly every key of the rulebook)
/// kept apart from other values: small non-negative ones (customer and product codes, numbered from 1)
/// index an array, other integers hash as `Int64` instead of through `Value`'s synthesized hash.
/// `.int(5)` and `.decimal(5)` stay different keys, as in a `[Value: Element]`.
struct KeyedByValue<Element> {
    /// Slot `k` holds integer key `k`; grown (doubling) while the keys stay dense, at most
    /// `denseSlack` slots per key, so ids spread over a wide range hash instead.
    private var dense: [Element?] = []
    private var denseCount = 0
    private var integers: [Int64: Element] = [:]
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
            if number >= 0 && number < dense.count { return dense[Int(number)] }
            return integers[number]
        }
        set {
            if number >= 0 && (number < dense.count || growDense(toHold: number)) {
                let slot = Int(number)
                if dense[slot] == nil { if newValue != nil { denseCount += 1 } } else if newValue == nil { denseCount -= 1 }
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
        if number >= 0 && (number < dense.count || growDense(toHold: number)) {
            let slot = Int(number)
            // Taken out and put back (the slot is then the only reference: no copy of its storage).
            var entry: Element
            if let existing = dense[slot] {
                entry = existing
                dense[slot] = nil
            } else {
                entry = initial()
                denseCount += 1
            }
            defer { dense[slot] = entry }
            return try body(&entry)
        }
        return try body(&integers[number, default: initial()])
    }

    /// Grows the array to hold `number` when the keys would still fill a quarter of it; moves the
    /// hashed integer keys it now covers. False when `number` stays hashed.
    private mutating func growDense(toHold number: Int64) -> Bool {
        let keys = denseCount + integers.count + 1
        guard number < Int64(max(Self.denseFloor, keys * Self.denseSlack)) else { return false }
        let size = max(Int(number) + 1, dense.count * 2, 64)
        dense.append(contentsOf: repeatElement(nil, count: size - dense.count))
        for (key, value) in integers where key >= 0 && key < size {
            dense[Int(key)] = value
            denseCount += 1
            integers[key] = nil
        }
        return true
    }

    /// The number of keys.
    var count: Int { denseCount + integers.count + others.count }

    /// Every key with its entry, integers first (in no promised order, like a dictionary's).
    var entries: [(key: Value, value: Element)] {
        var result: [(key: Value, value: Element)] = []
        result.reserveCapacity(count)
        for (slot, entry) in dense.enumerated() {
            if let entry { result.append((.int(Int64(slot)), entry)) }
        }
        for (key, entry) in integers { result.append((.int(key), entry)) }
        for (key, entry) in others { result.append((key, entry)) }
        return result
    }

    /// Every key (in no promised order).
    var keys: [Value] { entries.map(\.key) }

    /// The entries alone.
    var values: [Element] { entries.map(\.value) }
}
