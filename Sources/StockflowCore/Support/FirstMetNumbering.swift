/// Numbers keys in the order they are first met (0, 1, 2, ...), for state kept in arrays by that
/// number: the periods of `trends`, the labels of a report's chart.
struct FirstMetNumbering<Key: Hashable> {
    private var numbers: [Key: Int] = [:]

    /// The key's number, and whether this is the first time it is met (the caller then appends its
    /// entry to the arrays the number indexes).
    mutating func number(of key: Key) -> (number: Int, isNew: Bool) {
        if let known = numbers[key] { return (known, false) }
        let number = numbers.count
        numbers[key] = number
        return (number, true)
    }
}
