// PostgreSQL COPY text format: the escaping shared by the driver and the migration.

/// Appends bytes in COPY text form: backslash, tab, newline and carriage return escaped; copied whole when none occurs.
@inline(__always)
func appendCopyEscaped(_ bytes: UnsafeBufferPointer<UInt8>, to line: inout [UInt8]) {
    var clean = true
    for byte in bytes where byte == UInt8(ascii: "\\") || byte == 9 || byte == 10 || byte == 13 { clean = false; break }
    if clean {
        line.append(contentsOf: bytes)
        return
    }
    for byte in bytes { appendCopyEscaped(byte: byte, to: &line) }
}

/// Appends one byte in COPY text form: backslash, tab, newline and carriage return escaped.
@inline(__always)
func appendCopyEscaped(byte: UInt8, to line: inout [UInt8]) {
    switch byte {
    case UInt8(ascii: "\\"): line.append(UInt8(ascii: "\\")); line.append(UInt8(ascii: "\\"))
    case 9: line.append(UInt8(ascii: "\\")); line.append(UInt8(ascii: "t"))
    case 10: line.append(UInt8(ascii: "\\")); line.append(UInt8(ascii: "n"))
    case 13: line.append(UInt8(ascii: "\\")); line.append(UInt8(ascii: "r"))
    default: line.append(byte)
    }
}

/// Appends bytes in COPY text form (an array).
func appendCopyEscaped(_ bytes: [UInt8], to line: inout [UInt8]) {
    bytes.withUnsafeBufferPointer { appendCopyEscaped($0, to: &line) }
}
