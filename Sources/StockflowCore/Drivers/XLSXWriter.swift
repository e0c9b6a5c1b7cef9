// Swift wrapper over libxlsxwriter (C). This is the only file that imports CXLSXWriter:
// callers work with XLSXWorkbook / XLSXWorksheet / XLSXFormat and never see raw pointers.

import CXLSXWriter
import Foundation

/// Hard sheet-size limits of the XLSX format (Excel 2007+).
public enum XLSXLimits {
    /// Maximum number of rows in a worksheet (valid 0-based row indexes are `0..<maxRows`).
    public static let maxRows = 1_048_576
    /// Maximum number of columns in a worksheet (valid 0-based column indexes are `0..<maxColumns`).
    public static let maxColumns = 16_384
    /// Maximum number of characters (UTF-16 code units) Excel stores in one cell.
    public static let maxCellCharacters = 32_767
    /// Maximum length of a worksheet name, in characters.
    public static let maxSheetNameLength = 31
    /// Maximum length of a number format string, in UTF-8 bytes (libxlsxwriter's fixed-size field, minus NUL).
    public static let maxNumberFormatBytes = 127
}

/// An error reported by libxlsxwriter (or detected by this wrapper before calling it).
public struct XLSXError: Error, Sendable, Equatable, CustomStringConvertible {
    /// An error code: libxlsxwriter's `lxw_error` value, or a negative wrapper-specific code.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        /// The raw `lxw_error` value (negative values are wrapper-specific).
        public let rawValue: Int

        /// Wraps a raw code.
        public init(rawValue: Int) { self.rawValue = rawValue }

        fileprivate init(_ error: lxw_error) { self.rawValue = Int(error.rawValue) }

        /// The workbook was already closed (written or discarded); no further calls are possible.
        public static let workbookClosed = Code(rawValue: -1)
        /// An argument was rejected by the wrapper (e.g. a non-finite number or a format from another workbook).
        public static let invalidArgument = Code(rawValue: -2)
        /// libxlsxwriter returned NULL without an error code (allocation or temp-file failure).
        public static let creationFailed = Code(rawValue: -3)

        /// `LXW_ERROR_MEMORY_MALLOC_FAILED`.
        public static let memoryAllocationFailed = Code(LXW_ERROR_MEMORY_MALLOC_FAILED)
        /// `LXW_ERROR_CREATING_XLSX_FILE` (usually a bad path or permissions, reported at close).
        public static let creatingXLSXFile = Code(LXW_ERROR_CREATING_XLSX_FILE)
        /// `LXW_ERROR_CREATING_TMPFILE`.
        public static let creatingTempFile = Code(LXW_ERROR_CREATING_TMPFILE)
        /// `LXW_ERROR_SHEETNAME_LENGTH_EXCEEDED`.
        public static let sheetNameTooLong = Code(LXW_ERROR_SHEETNAME_LENGTH_EXCEEDED)
        /// `LXW_ERROR_INVALID_SHEETNAME_CHARACTER`.
        public static let invalidSheetNameCharacter = Code(LXW_ERROR_INVALID_SHEETNAME_CHARACTER)
        /// `LXW_ERROR_SHEETNAME_START_END_APOSTROPHE`.
        public static let sheetNameApostrophe = Code(LXW_ERROR_SHEETNAME_START_END_APOSTROPHE)
        /// `LXW_ERROR_SHEETNAME_ALREADY_USED`.
        public static let sheetNameAlreadyUsed = Code(LXW_ERROR_SHEETNAME_ALREADY_USED)
        /// `LXW_ERROR_MAX_STRING_LENGTH_EXCEEDED`.
        public static let stringTooLong = Code(LXW_ERROR_MAX_STRING_LENGTH_EXCEEDED)
        /// `LXW_ERROR_WORKSHEET_INDEX_OUT_OF_RANGE` (beyond the sheet limits, or a past row in constant-memory mode).
        public static let indexOutOfRange = Code(LXW_ERROR_WORKSHEET_INDEX_OUT_OF_RANGE)
        /// `LXW_ERROR_PARAMETER_VALIDATION`.
        public static let parameterValidation = Code(LXW_ERROR_PARAMETER_VALIDATION)

        /// The code's numeric value.
        public var description: String { String(rawValue) }
    }

    /// What went wrong, as a code.
    public let code: Code
    /// libxlsxwriter's own message (`lxw_strerror`) or the wrapper's message for negative codes.
    public let message: String
    /// Where it happened, e.g. `writing cell 'Data'!B3` or `adding worksheet "a/b"`.
    public let context: String

    /// Creates an error from parts.
    public init(code: Code, message: String, context: String) {
        self.code = code
        self.message = message
        self.context = context
    }

    fileprivate init(_ error: lxw_error, context: String, hint: String? = nil) {
        let base = lxw_strerror(error).map { String(cString: $0) } ?? "libxlsxwriter error"
        self.init(code: Code(error), message: hint.map { "\(base) (\($0))" } ?? base, context: context)
    }

    /// Human-readable description: context, message and code.
    public var description: String { "XLSX error while \(context): \(message) [code \(code.rawValue)]" }
}

/// Horizontal cell alignment.
public enum XLSXHorizontalAlignment: Hashable, Sendable {
    case left, center, right, fill, justify, centerAcross, distributed

    fileprivate var lxwValue: UInt8 {
        switch self {
        case .left: UInt8(LXW_ALIGN_LEFT.rawValue)
        case .center: UInt8(LXW_ALIGN_CENTER.rawValue)
        case .right: UInt8(LXW_ALIGN_RIGHT.rawValue)
        case .fill: UInt8(LXW_ALIGN_FILL.rawValue)
        case .justify: UInt8(LXW_ALIGN_JUSTIFY.rawValue)
        case .centerAcross: UInt8(LXW_ALIGN_CENTER_ACROSS.rawValue)
        case .distributed: UInt8(LXW_ALIGN_DISTRIBUTED.rawValue)
        }
    }
}

/// Vertical cell alignment.
public enum XLSXVerticalAlignment: Hashable, Sendable {
    case top, center, bottom, justify, distributed

    fileprivate var lxwValue: UInt8 {
        switch self {
        case .top: UInt8(LXW_ALIGN_VERTICAL_TOP.rawValue)
        case .center: UInt8(LXW_ALIGN_VERTICAL_CENTER.rawValue)
        case .bottom: UInt8(LXW_ALIGN_VERTICAL_BOTTOM.rawValue)
        case .justify: UInt8(LXW_ALIGN_VERTICAL_JUSTIFY.rawValue)
        case .distributed: UInt8(LXW_ALIGN_VERTICAL_DISTRIBUTED.rawValue)
        }
    }
}

/// Cell border line style.
public enum XLSXBorderStyle: Hashable, Sendable {
    case thin, medium, dashed, dotted, thick, double, hair

    fileprivate var lxwValue: UInt8 {
        switch self {
        case .thin: UInt8(LXW_BORDER_THIN.rawValue)
        case .medium: UInt8(LXW_BORDER_MEDIUM.rawValue)
        case .dashed: UInt8(LXW_BORDER_DASHED.rawValue)
        case .dotted: UInt8(LXW_BORDER_DOTTED.rawValue)
        case .thick: UInt8(LXW_BORDER_THICK.rawValue)
        case .double: UInt8(LXW_BORDER_DOUBLE.rawValue)
        case .hair: UInt8(LXW_BORDER_HAIR.rawValue)
        }
    }
}

/// A value description of a cell format; equal specs share one workbook format.
public struct XLSXFormatSpec: Hashable, Sendable {
    /// Bold font.
    public var bold: Bool
    /// Italic font.
    public var italic: Bool
    /// Excel number format, e.g. `#,##0.00 "€"` or `dd/mm/yyyy`; nil = General.
    public var numberFormat: String?
    /// Solid background fill as 0xRRGGBB; nil = no fill.
    public var backgroundColor: UInt32?
    /// Font color as 0xRRGGBB; nil = automatic.
    public var fontColor: UInt32?
    /// Bottom border style; nil = none.
    public var borderBottom: XLSXBorderStyle?
    /// Horizontal alignment; nil = general.
    public var alignment: XLSXHorizontalAlignment?
    /// Vertical alignment; nil = bottom (Excel default).
    public var verticalAlignment: XLSXVerticalAlignment?
    /// Wrap text inside the cell.
    public var textWrap: Bool

    /// Creates a format spec; every property defaults to Excel's default.
    public init(
        bold: Bool = false,
        italic: Bool = false,
        numberFormat: String? = nil,
        backgroundColor: UInt32? = nil,
        fontColor: UInt32? = nil,
        borderBottom: XLSXBorderStyle? = nil,
        alignment: XLSXHorizontalAlignment? = nil,
        verticalAlignment: XLSXVerticalAlignment? = nil,
        textWrap: Bool = false
    ) {
        self.bold = bold
        self.italic = italic
        self.numberFormat = numberFormat
        self.backgroundColor = backgroundColor
        self.fontColor = fontColor
        self.borderBottom = borderBottom
        self.alignment = alignment
        self.verticalAlignment = verticalAlignment
        self.textWrap = textWrap
    }
}

/// An opaque handle to a format registered in one workbook (obtain via `XLSXWorkbook.addFormat`).
public final class XLSXFormat {
    /// The spec this format was built from.
    public let spec: XLSXFormatSpec
    fileprivate let pointer: UnsafeMutablePointer<lxw_format>
    fileprivate weak var workbook: XLSXWorkbook?

    fileprivate init(spec: XLSXFormatSpec, pointer: UnsafeMutablePointer<lxw_format>, workbook: XLSXWorkbook) {
        self.spec = spec
        self.pointer = pointer
        self.workbook = workbook
    }
}

/// An XLSX file being written; owns the libxlsxwriter workbook handle (not thread-safe).
///
/// Nothing is written to disk until `close()`. If the workbook is deinitialized without
/// `close()`, the handle and its temp files are freed and no file is produced.
public final class XLSXWorkbook {
    /// Destination path of the .xlsx file.
    public let path: String
    /// Whether constant-memory mode is on (rows must then be written in ascending order).
    public let constantMemory: Bool
    /// Whether `close()` has been called (the handle is gone either way).
    public var isClosed: Bool { handle == nil }

    private var handle: UnsafeMutablePointer<lxw_workbook>?
    /// The stdio buffer of each worksheet's constant-memory temp file (see `addWorksheet`).
    static let temporaryFileBuffer = 1 << 18
    /// Those buffers, freed once libxlsxwriter has closed the files.
    private var temporaryBuffers: [UnsafeMutablePointer<CChar>] = []
    private var formatCache: [XLSXFormatSpec: XLSXFormat] = [:]
    private var worksheetNames: [String] = []

    /// Creates a workbook that will be written to `path` on `close()`.
    ///
    /// - Parameters:
    ///   - constantMemory: stream each row to a temp file once a later row is started (low memory;
    ///     rows must be written in ascending order, strings are stored inline instead of shared).
    ///   - tmpdir: directory for libxlsxwriter's temp files; nil = system default.
    public init(path: String, constantMemory: Bool = true, tmpdir: String? = nil) throws {
        var options = lxw_workbook_options()
        options.constant_memory = UInt8(constantMemory ? LXW_TRUE.rawValue : LXW_FALSE.rawValue)
        options.use_zip64 = UInt8(LXW_TRUE.rawValue)
        let created: UnsafeMutablePointer<lxw_workbook>? = path.withCString { cPath in
            // workbook_new_opt copies tmpdir (lxw_strdup), so a scoped C string is enough.
            withOptionalCString(tmpdir) { cTmp in
                options.tmpdir = cTmp.map { UnsafeMutablePointer(mutating: $0) }  // C field is `char *`; only read.
                return workbook_new_opt(cPath, &options)
            }
        }
        guard let created else {
            throw XLSXError(code: .creationFailed, message: "workbook_new_opt returned NULL", context: "creating workbook \(path)")
        }
        self.path = path
        self.constantMemory = constantMemory
        self.handle = created
    }

    deinit {
        // Not closed: discard without writing (lxw_workbook_free also closes the temp files).
        if let handle { lxw_workbook_free(handle) }
        temporaryBuffers.forEach { free($0) }
    }

    /// Writes the .xlsx file and releases the handle; later calls are no-ops.
    ///
    /// libxlsxwriter frees the workbook even when writing fails, so after a thrown error
    /// the workbook is closed too.
    public func close() throws {
        guard let handle else { return }
        self.handle = nil
        formatCache.removeAll()
        let error = workbook_close(handle)
        temporaryBuffers.forEach { free($0) }
        temporaryBuffers = []
        guard error == LXW_NO_ERROR else {
            throw XLSXError(error, context: "closing workbook \(path)")
        }
    }

    /// Adds a worksheet; nil name gives libxlsxwriter's default `SheetN`.
    ///
    /// Names must be unique, at most 31 characters, without `[ ] : * ? / \`, and not start or end with `'`.
    public func addWorksheet(named name: String? = nil) throws -> XLSXWorksheet {
        let context = "adding worksheet \(name.map { "\"\($0)\"" } ?? "(default name)")"
        let handle = try liveHandle(context)
        if let name {
            let clean = stripNUL(name)
            guard !clean.isEmpty else {
                throw XLSXError(code: .invalidArgument, message: "worksheet name is empty", context: context)
            }
            // Check locally first: libxlsxwriter counts UTF-8 code points, Excel counts UTF-16 units.
            guard clean.utf16.count <= XLSXLimits.maxSheetNameLength else {
                throw XLSXError(LXW_ERROR_SHEETNAME_LENGTH_EXCEEDED, context: context)
            }
            let validation = clean.withCString { workbook_validate_sheet_name(handle, $0) }
            guard validation == LXW_NO_ERROR else { throw XLSXError(validation, context: context) }
            // Excel treats sheet names case-insensitively; 1.1.4 only rejects exact duplicates.
            let lowered = clean.lowercased()
            guard !worksheetNames.contains(where: { $0.lowercased() == lowered }) else {
                throw XLSXError(LXW_ERROR_SHEETNAME_ALREADY_USED, context: context)
            }
        }
        let created = withOptionalCString(name.map(stripNUL)) { workbook_add_worksheet(handle, $0) }
        guard let created else {
            let hint = constantMemory ? "cannot create the constant-memory temp file" : "allocation failed"
            throw XLSXError(code: .creationFailed, message: "workbook_add_worksheet returned NULL: \(hint)", context: context)
        }
        // In constant-memory mode every row goes to this temp file through stdio, and workbook_close
        // reads it back: with the default 4 KB buffer that is one write() per 4 KB and one read() per
        // 4 KB again (about 180,000 system calls for the nightly workbook at 1M orders). A larger buffer,
        // set before the first row reaches the file (setvbuf must precede any other operation on the
        // stream; libxlsxwriter only opens it here), makes them a few thousand. The buffer is ours
        // (glibc ignores the size when given none) and lives until libxlsxwriter has
        // closed the file (workbook_close, or lxw_workbook_free in deinit); its pages are touched only
        // as a sheet fills them.
        if constantMemory, let file = created.pointee.optimize_tmpfile,
           let buffer = malloc(XLSXWorkbook.temporaryFileBuffer)?.assumingMemoryBound(to: CChar.self) {
            if setvbuf(file, buffer, _IOFBF, XLSXWorkbook.temporaryFileBuffer) == 0 {
                temporaryBuffers.append(buffer)
            } else {
                free(buffer)
            }
        }
        let actualName = created.pointee.name.map { String(cString: $0) } ?? name ?? ""
        worksheetNames.append(actualName)
        return XLSXWorksheet(workbook: self, pointer: created, name: actualName)
    }

    /// Returns the format for `spec`, creating it on first use (equal specs return the same instance).
    public func addFormat(_ spec: XLSXFormatSpec) throws -> XLSXFormat {
        if let cached = formatCache[spec] { return cached }
        let context = "adding format"
        let handle = try liveHandle(context)
        if let numberFormat = spec.numberFormat, stripNUL(numberFormat).utf8.count > XLSXLimits.maxNumberFormatBytes {
            throw XLSXError(
                code: .invalidArgument,
                message: "number format longer than \(XLSXLimits.maxNumberFormatBytes) UTF-8 bytes: \(numberFormat)",
                context: context)
        }
        guard let pointer = workbook_add_format(handle) else {
            throw XLSXError(LXW_ERROR_MEMORY_MALLOC_FAILED, context: context)
        }
        if spec.bold { format_set_bold(pointer) }
        if spec.italic { format_set_italic(pointer) }
        if let numberFormat = spec.numberFormat { stripNUL(numberFormat).withCString { format_set_num_format(pointer, $0) } }
        if let color = spec.backgroundColor { format_set_bg_color(pointer, lxwColor(color)) }
        if let color = spec.fontColor { format_set_font_color(pointer, lxwColor(color)) }
        if let border = spec.borderBottom { format_set_bottom(pointer, border.lxwValue) }
        if let alignment = spec.alignment { format_set_align(pointer, alignment.lxwValue) }
        if let vertical = spec.verticalAlignment { format_set_align(pointer, vertical.lxwValue) }
        if spec.textWrap { format_set_text_wrap(pointer) }
        let format = XLSXFormat(spec: spec, pointer: pointer, workbook: self)
        formatCache[spec] = format
        return format
    }

    /// Sets document properties (File > Properties); `created` fixes the timestamp for reproducible output.
    public func setProperties(
        title: String? = nil,
        subject: String? = nil,
        author: String? = nil,
        company: String? = nil,
        comments: String? = nil,
        created: Date? = nil
    ) throws {
        let context = "setting document properties"
        let handle = try liveHandle(context)
        // workbook_set_properties copies every string, so scoped C strings are enough.
        let error: lxw_error = withOptionalCString(title.map(stripNUL)) { cTitle in
            withOptionalCString(subject.map(stripNUL)) { cSubject in
                withOptionalCString(author.map(stripNUL)) { cAuthor in
                    withOptionalCString(company.map(stripNUL)) { cCompany in
                        withOptionalCString(comments.map(stripNUL)) { cComments in
                            // The C fields are `char *` but are only read (copied).
                            var properties = lxw_doc_properties()
                            properties.title = cTitle.map { UnsafeMutablePointer(mutating: $0) }
                            properties.subject = cSubject.map { UnsafeMutablePointer(mutating: $0) }
                            properties.author = cAuthor.map { UnsafeMutablePointer(mutating: $0) }
                            properties.company = cCompany.map { UnsafeMutablePointer(mutating: $0) }
                            properties.comments = cComments.map { UnsafeMutablePointer(mutating: $0) }
                            properties.created = created.map { time_t($0.timeIntervalSince1970) } ?? 0
                            return workbook_set_properties(handle, &properties)
                        }
                    }
                }
            }
        }
        guard error == LXW_NO_ERROR else { throw XLSXError(error, context: context) }
    }

    fileprivate func liveHandle(_ context: @autoclosure () -> String) throws -> UnsafeMutablePointer<lxw_workbook> {
        guard let handle else {
            throw XLSXError(code: .workbookClosed, message: "the workbook is already closed", context: context())
        }
        return handle
    }
}

/// A worksheet of an `XLSXWorkbook` (keeps its workbook alive); all indexes are 0-based.
public final class XLSXWorksheet {
    /// The sheet name as stored in the workbook.
    public let name: String
    /// The owning workbook.
    public let workbook: XLSXWorkbook
    private let pointer: UnsafeMutablePointer<lxw_worksheet>

    fileprivate init(workbook: XLSXWorkbook, pointer: UnsafeMutablePointer<lxw_worksheet>, name: String) {
        self.workbook = workbook
        self.pointer = pointer
        self.name = name
    }

    /// Writes a string; NUL characters are removed and text beyond 32,767 characters is truncated.
    public func writeString(row: Int, col: Int, _ value: String, format: XLSXFormat? = nil) throws {
        try write(row, col, format) { sheet, r, c, f in
            // C strings end at NUL, and Excel refuses cells longer than 32,767 characters: sanitize first.
            excelCellText(value).withCString { worksheet_write_string(sheet, r, c, $0, f) }
        }
    }

    /// Writes a number (dates: write the Excel serial number with a date number format); NaN/infinity throw.
    public func writeNumber(row: Int, col: Int, _ value: Double, format: XLSXFormat? = nil) throws {
        guard value.isFinite else {
            throw XLSXError(
                code: .invalidArgument, message: "XLSX cannot store the non-finite number \(value)",
                context: writeContext(row, col))
        }
        try write(row, col, format) { sheet, r, c, f in worksheet_write_number(sheet, r, c, value, f) }
    }

    /// Writes a boolean (TRUE/FALSE).
    public func writeBoolean(row: Int, col: Int, _ value: Bool, format: XLSXFormat? = nil) throws {
        try write(row, col, format) { sheet, r, c, f in worksheet_write_boolean(sheet, r, c, value ? 1 : 0, f) }
    }

    /// Writes an empty cell carrying a format (libxlsxwriter skips it when `format` is nil).
    public func writeBlank(row: Int, col: Int, format: XLSXFormat? = nil) throws {
        try write(row, col, format) { sheet, r, c, f in worksheet_write_blank(sheet, r, c, f) }
    }

    /// Writes a formula in US syntax (`=SUM(A1:A3)`, commas as separators); `cachedResult` is shown by non-recalculating readers.
    public func writeFormula(row: Int, col: Int, _ formula: String, cachedResult: Double? = nil, format: XLSXFormat? = nil) throws {
        try write(row, col, format) { sheet, r, c, f in
            stripNUL(formula).withCString { cFormula in
                if let cachedResult, cachedResult.isFinite {
                    worksheet_write_formula_num(sheet, r, c, cFormula, f, cachedResult)
                } else {
                    worksheet_write_formula(sheet, r, c, cFormula, f)
                }
            }
        }
    }

    /// Sets width (in characters) and optional default format of columns `first...last`.
    public func setColumn(first: Int, last: Int, width: Double, format: XLSXFormat? = nil) throws {
        let context = "setting columns \(columnLetters(first)):\(columnLetters(last)) of \(quotedName)"
        let (sheet, f) = try prepare(format, context)
        let c1 = try column(first, context), c2 = try column(last, context)
        try check(worksheet_set_column(sheet, c1, c2, width, f), context)
    }

    /// Sets a row's height (in points; nil keeps the default 15) and optional default format.
    ///
    /// In constant-memory mode call it before writing any cell of that row.
    public func setRow(_ row: Int, height: Double? = nil, format: XLSXFormat? = nil) throws {
        let context = "setting row \(row + 1) of \(quotedName)"
        let (sheet, f) = try prepare(format, context)
        let r = try self.row(row, context)
        try check(worksheet_set_row(sheet, r, height ?? LXW_DEF_ROW_HEIGHT, f), context, constantMemoryHint: true)
    }

    /// Freezes the rows above `row` and the columns left of `col` (e.g. `(1, 0)` freezes a header row).
    public func freezePanes(row: Int, col: Int) throws {
        let context = "freezing panes at \(writeContext(row, col))"
        let (sheet, _) = try prepare(nil, context)
        worksheet_freeze_panes(sheet, try self.row(row, context), try column(col, context))
    }

    /// Adds autofilter drop-downs over the given range (first row is the header).
    public func autofilter(firstRow: Int, firstCol: Int, lastRow: Int, lastCol: Int) throws {
        let context = "adding autofilter \(cellReference(firstRow, firstCol)):\(cellReference(lastRow, lastCol)) to \(quotedName)"
        let (sheet, _) = try prepare(nil, context)
        let r1 = try row(firstRow, context), c1 = try column(firstCol, context)
        let r2 = try row(lastRow, context), c2 = try column(lastCol, context)
        try check(worksheet_autofilter(sheet, r1, c1, r2, c2), context)
    }

    /// Makes this the sheet shown when the file is opened.
    public func activate() throws {
        let (sheet, _) = try prepare(nil, "activating \(quotedName)")
        worksheet_activate(sheet)
    }

    /// Colors the sheet tab (0xRRGGBB).
    public func setTabColor(_ rgb: UInt32) throws {
        let (sheet, _) = try prepare(nil, "setting tab color of \(quotedName)")
        worksheet_set_tab_color(sheet, lxwColor(rgb))
    }

    // MARK: - Page setup

    /// How a sheet prints: orientation, A4, scaled to `pagesWide` pages across (any number down),
    /// the rows `repeatRows` on every page, a footer (Excel's `&L`, `&C`, `&R`, `&P`, `&N` codes) and the print area.
    public func setPageSetup(_ setup: XLSXPageSetup) throws {
        let context = "setting the page setup of \(quotedName)"
        let (sheet, _) = try prepare(nil, context)
        if setup.landscape { worksheet_set_landscape(sheet) } else { worksheet_set_portrait(sheet) }
        worksheet_set_paper(sheet, 9)  // A4
        worksheet_set_margins(sheet, 0.5, 0.5, 0.6, 0.7)
        if let wide = setup.pagesWide { worksheet_fit_to_pages(sheet, UInt16(clamping: wide), 0) }
        if let rows = setup.repeatRows {
            try check(worksheet_repeat_rows(sheet, try row(rows.lowerBound, context), try row(rows.upperBound, context)), context)
        }
        if let footer = setup.footer {
            // Excel and libxlsxwriter cap a footer at 255 characters.
            try check(stripNUL(String(footer.prefix(255))).withCString { worksheet_set_footer(sheet, $0) }, context)
        }
        if let area = setup.printArea {
            try check(worksheet_print_area(sheet, try row(area.firstRow, context), try column(area.firstCol, context),
                                           try row(area.lastRow, context), try column(area.lastCol, context)), context)
        }
        if !setup.rowBreaks.isEmpty {
            // The C array ends with a 0 entry.
            var breaks = try setup.rowBreaks.map { try row($0, context) } + [0]
            try check(breaks.withUnsafeMutableBufferPointer { worksheet_set_h_pagebreaks(sheet, $0.baseAddress) }, context)
        }
    }

    // MARK: - Private helpers

    private var quotedName: String { "'\(name.replacingOccurrences(of: "'", with: "''"))'" }

    private func writeContext(_ row: Int, _ col: Int) -> String { "writing cell \(quotedName)!\(cellReference(row, col))" }

    private func write(
        _ row: Int, _ col: Int, _ format: XLSXFormat?,
        _ body: (UnsafeMutablePointer<lxw_worksheet>, lxw_row_t, lxw_col_t, UnsafeMutablePointer<lxw_format>?) -> lxw_error
    ) throws {
        // The context text is built only when something fails: this runs once per cell.
        let (sheet, f) = try prepare(format, writeContext(row, col))
        let r = try self.row(row, writeContext(row, col)), c = try column(col, writeContext(row, col))
        try check(body(sheet, r, c, f), writeContext(row, col), constantMemoryHint: true)
    }

    /// Returns the live handles, or throws if the workbook is closed or the format belongs elsewhere.
    private func prepare(
        _ format: XLSXFormat?, _ context: @autoclosure () -> String
    ) throws -> (UnsafeMutablePointer<lxw_worksheet>, UnsafeMutablePointer<lxw_format>?) {
        _ = try workbook.liveHandle(context())
        guard let format else { return (pointer, nil) }
        guard format.workbook === workbook else {
            throw XLSXError(code: .invalidArgument, message: "the format belongs to another workbook", context: context())
        }
        return (pointer, format.pointer)
    }

    private func row(_ value: Int, _ context: @autoclosure () -> String) throws -> lxw_row_t {
        guard (0..<XLSXLimits.maxRows).contains(value) else {
            throw XLSXError(LXW_ERROR_WORKSHEET_INDEX_OUT_OF_RANGE, context: context(),
                            hint: "row index \(value) outside 0..<\(XLSXLimits.maxRows)")
        }
        return lxw_row_t(value)
    }

    private func column(_ value: Int, _ context: @autoclosure () -> String) throws -> lxw_col_t {
        guard (0..<XLSXLimits.maxColumns).contains(value) else {
            throw XLSXError(LXW_ERROR_WORKSHEET_INDEX_OUT_OF_RANGE, context: context(),
                            hint: "column index \(value) outside 0..<\(XLSXLimits.maxColumns)")
        }
        return lxw_col_t(value)
    }

    private func check(_ error: lxw_error, _ context: @autoclosure () -> String, constantMemoryHint: Bool = false) throws {
        guard error != LXW_NO_ERROR else { return }
        // Indexes were range-checked already, so in constant-memory mode this means "row already flushed".
        let hint = constantMemoryHint && workbook.constantMemory && error == LXW_ERROR_WORKSHEET_INDEX_OUT_OF_RANGE
            ? "constant_memory mode: rows must be written in ascending order and this row was already flushed"
            : nil
        throw XLSXError(error, context: context(), hint: hint)
    }
}

/// Rows of cells ready for libxlsxwriter, made on one thread and written on another: numbers as
/// doubles, text as NUL-terminated UTF-8 in one buffer (sanitized as `writeString` does), so that
/// writing is only the C calls.
public struct XLSXCells: Sendable {
    enum Kind: UInt8 { case blank, number, text }
    /// Cells per row.
    public let width: Int
    private(set) var kinds: [Kind] = []
    /// Per cell: the number, or the offset of its text in `text`.
    private(set) var payloads: [UInt64] = []
    /// Starts with one NUL, so that the buffer is never empty.
    private(set) var text: [CChar] = [0]

    /// An empty set of rows of `width` cells, with room for `rows` rows.
    public init(width: Int, rows: Int) {
        self.width = width
        kinds.reserveCapacity(width * rows)
        payloads.reserveCapacity(width * rows)
    }

    /// The number of complete rows.
    public var rowCount: Int { width == 0 ? 0 : kinds.count / width }

    /// Appends an empty cell (nothing is written).
    public mutating func appendBlank() {
        kinds.append(.blank)
        payloads.append(0)
    }

    /// Appends a number; a non-finite one fails when written, as `writeNumber` does.
    public mutating func appendNumber(_ value: Double) {
        kinds.append(.number)
        payloads.append(value.bitPattern)
    }

    /// Appends text, without NULs and cut at 32,767 characters.
    public mutating func appendText(_ value: String) {
        kinds.append(.text)
        payloads.append(UInt64(text.count))
        // Short text without NUL (nearly all cells) is copied as it is (the NUL looked for with memchr,
        // not byte by byte through String.UTF8View); the rest goes through excelCellText.
        let copied = value.utf8.count <= XLSXLimits.maxCellCharacters && value.utf8.withContiguousStorageIfAvailable { bytes in
            guard let base = bytes.baseAddress else { return true }
            guard memchr(base, 0, bytes.count) == nil else { return false }
            text.append(contentsOf: UnsafeRawBufferPointer(bytes).bindMemory(to: CChar.self))
            return true
        } == true
        if !copied {
            let cleaned = value.utf8.count > XLSXLimits.maxCellCharacters || value.utf8.contains(0) ? excelCellText(value) : value
            text.append(contentsOf: cleaned.utf8.map { CChar(bitPattern: $0) })
        }
        text.append(0)
    }
}

extension XLSXWorksheet {
    /// Writes `cells` from sheet row `firstRow` on, column `col` of each row in `formats[col]`; only
    /// the C calls per cell (the rows were checked against the sheet's limits once).
    public func writeCells(_ cells: XLSXCells, firstRow: Int, formats: [XLSXFormat?]) throws {
        let count = cells.rowCount
        guard count > 0 else { return }
        let context = "writing rows \(firstRow + 1)-\(firstRow + count) of \(quotedName)"
        _ = try workbook.liveHandle(context)
        _ = try row(firstRow + count - 1, context)
        _ = try column(max(cells.width - 1, 0), context)
        var pointers: [UnsafeMutablePointer<lxw_format>?] = []
        for col in 0..<cells.width {
            pointers.append(try prepare(col < formats.count ? formats[col] : nil, context).1)
        }
        let sheet = pointer
        try cells.text.withUnsafeBufferPointer { text in
            guard let base = text.baseAddress else { return }
            var index = 0
            for r in 0..<count {
                let rowNumber = lxw_row_t(firstRow + r)
                for c in 0..<cells.width {
                    let error: lxw_error
                    switch cells.kinds[index] {
                    case .blank:
                        error = LXW_NO_ERROR
                    case .number:
                        let number = Double(bitPattern: cells.payloads[index])
                        guard number.isFinite else {
                            throw XLSXError(code: .invalidArgument, message: "XLSX cannot store the non-finite number \(number)",
                                            context: writeContext(firstRow + r, c))
                        }
                        error = worksheet_write_number(sheet, rowNumber, lxw_col_t(c), number, pointers[c])
                    case .text:
                        error = worksheet_write_string(sheet, rowNumber, lxw_col_t(c), base + Int(cells.payloads[index]), pointers[c])
                    }
                    if error != LXW_NO_ERROR { try check(error, writeContext(firstRow + r, c), constantMemoryHint: true) }
                    index += 1
                }
            }
        }
    }
}

/// How a worksheet prints (see `XLSXWorksheet.setPageSetup`).
public struct XLSXPageSetup: Sendable, Equatable {
    public var landscape: Bool
    /// Pages across the sheet is scaled to; nil keeps 100 %.
    public var pagesWide: Int?
    /// Rows printed at the top of every page (0-based, inclusive).
    public var repeatRows: ClosedRange<Int>?
    public var footer: String?
    public var printArea: (firstRow: Int, firstCol: Int, lastRow: Int, lastCol: Int)?
    /// Rows that start a new page.
    public var rowBreaks: [Int]

    public init(landscape: Bool, pagesWide: Int? = 1, repeatRows: ClosedRange<Int>? = nil, footer: String? = nil,
                printArea: (firstRow: Int, firstCol: Int, lastRow: Int, lastCol: Int)? = nil, rowBreaks: [Int] = []) {
        self.landscape = landscape
        self.pagesWide = pagesWide
        self.repeatRows = repeatRows
        self.footer = footer
        self.printArea = printArea
        self.rowBreaks = rowBreaks
    }

    public static func == (a: XLSXPageSetup, b: XLSXPageSetup) -> Bool {
        a.landscape == b.landscape && a.pagesWide == b.pagesWide && a.repeatRows == b.repeatRows && a.footer == b.footer
            && a.rowBreaks == b.rowBreaks && a.printArea.map { [$0.firstRow, $0.firstCol, $0.lastRow, $0.lastCol] } == b.printArea.map { [$0.firstRow, $0.firstCol, $0.lastRow, $0.lastCol] }
    }
}

// MARK: - Charts

/// The native Excel chart types the wrapper draws.
public enum XLSXChartKind: String, Sendable, CaseIterable {
    case bar, column, line, pie, doughnut

    fileprivate var lxwValue: UInt8 {
        switch self {
        case .bar: UInt8(LXW_CHART_BAR.rawValue)
        case .column: UInt8(LXW_CHART_COLUMN.rawValue)
        case .line: UInt8(LXW_CHART_LINE.rawValue)
        case .pie: UInt8(LXW_CHART_PIE.rawValue)
        case .doughnut: UInt8(LXW_CHART_DOUGHNUT.rawValue)
        }
    }
}

/// One series of a chart: a name and two ranges of the workbook's own cells.
public struct XLSXChartSeries: Sendable, Equatable {
    public var name: String
    /// Labels, e.g. `='Stock par produit'!$B$2:$B$39`.
    public var categories: String
    /// Numbers, e.g. `='Stock par produit'!$C$2:$C$39`.
    public var values: String

    public init(name: String, categories: String, values: String) {
        self.name = name
        self.categories = categories
        self.values = values
    }

    /// An absolute range of one column of a sheet, rows 0-based and inclusive: `='Sheet'!$B$2:$B$10`.
    public static func range(sheet: String, col: Int, firstRow: Int, lastRow: Int) -> String {
        let letters = columnLetters(col)
        return "='\(sheet.replacingOccurrences(of: "'", with: "''"))'!$\(letters)$\(firstRow + 1):$\(letters)$\(lastRow + 1)"
    }
}

/// A chart registered in a workbook (obtain via `XLSXWorkbook.addChart`); the workbook owns and frees it.
public final class XLSXChart {
    public let kind: XLSXChartKind
    fileprivate let pointer: UnsafeMutablePointer<lxw_chart>
    fileprivate weak var workbook: XLSXWorkbook?

    fileprivate init(kind: XLSXChartKind, pointer: UnsafeMutablePointer<lxw_chart>, workbook: XLSXWorkbook) {
        self.kind = kind
        self.pointer = pointer
        self.workbook = workbook
    }
}

extension XLSXWorkbook {
    /// Makes a chart with a title and its series (libxlsxwriter copies every string). `valueFormat` is the
    /// Excel number format of the value axis (`#,##0," k€"`); `percentLabels` labels each slice of a pie
    /// or doughnut with its share, `valueLabels` each bar or point with its value in `valueFormat`.
    public func addChart(_ kind: XLSXChartKind, title: String, series: [XLSXChartSeries], valueFormat: String? = nil,
                         categoryFormat: String? = nil, percentLabels: Bool = false, valueLabels: Bool = false) throws -> XLSXChart {
        let context = "adding \(kind.rawValue) chart \"\(title)\""
        let handle = try liveHandle(context)
        guard let pointer = workbook_add_chart(handle, kind.lxwValue) else {
            throw XLSXError(code: .creationFailed, message: "workbook_add_chart returned NULL", context: context)
        }
        stripNUL(title).withCString { chart_title_set_name(pointer, $0) }
        for item in series {
            let added = stripNUL(item.categories).withCString { categories in
                stripNUL(item.values).withCString { values in chart_add_series(pointer, categories, values) }
            }
            guard let added else {
                throw XLSXError(code: .invalidArgument, message: "chart_add_series rejected \(item.values)", context: context)
            }
            stripNUL(item.name).withCString { chart_series_set_name(added, $0) }
            if percentLabels {
                chart_series_set_labels(added)
                chart_series_set_labels_options(added, 0, 0, 0)
                chart_series_set_labels_percentage(added)
                "0.0%".withCString { chart_series_set_labels_num_format(added, $0) }
            } else if valueLabels {
                chart_series_set_labels(added)
                if let valueFormat { stripNUL(valueFormat).withCString { chart_series_set_labels_num_format(added, $0) } }
            }
        }
        // libxlsxwriter's x_axis of a bar chart is its (horizontal) value axis; for columns and lines it is y_axis.
        if let valueFormat, kind != .pie && kind != .doughnut, let axis = kind == .bar ? pointer.pointee.x_axis : pointer.pointee.y_axis {
            stripNUL(valueFormat).withCString { chart_axis_set_num_format(axis, $0) }
        }
        if let categoryFormat, kind != .pie && kind != .doughnut, let axis = kind == .bar ? pointer.pointee.y_axis : pointer.pointee.x_axis {
            stripNUL(categoryFormat).withCString { chart_axis_set_num_format(axis, $0) }
        }
        if series.count < 2 && kind != .pie && kind != .doughnut {
            chart_legend_set_position(pointer, UInt8(LXW_CHART_LEGEND_NONE.rawValue))
        } else {
            chart_legend_set_position(pointer, UInt8(LXW_CHART_LEGEND_BOTTOM.rawValue))
        }
        return XLSXChart(kind: kind, pointer: pointer, workbook: self)
    }
}

extension XLSXWorksheet {
    /// Places a chart with its top-left corner at a cell, scaled from Excel's 480 × 288 pixels.
    public func insertChart(_ chart: XLSXChart, row: Int, col: Int, xScale: Double = 1, yScale: Double = 1) throws {
        let context = "inserting a chart in '\(name)'"
        _ = try workbook.liveHandle(context)
        guard chart.workbook === workbook else {
            throw XLSXError(code: .invalidArgument, message: "the chart belongs to another workbook", context: context)
        }
        var options = lxw_chart_options()
        options.x_scale = xScale
        options.y_scale = yScale
        let error = worksheet_insert_chart_opt(pointer, try self.row(row, context), try column(col, context), chart.pointer, &options)
        guard error == LXW_NO_ERROR else { throw XLSXError(error, context: context) }
    }
}

// MARK: - File-private helpers

/// Calls `body` with a NUL-terminated copy of `string`, or NULL when `string` is nil.
private func withOptionalCString<R>(_ string: String?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
    guard let string else { return body(nil) }
    return string.withCString { body($0) }
}

/// Removes NUL characters, which would silently cut a C string short.
private func stripNUL(_ string: String) -> String {
    string.utf8.contains(0) ? String(string.unicodeScalars.filter { $0 != "\0" }) : string
}

/// Sanitizes cell text: no NULs, at most 32,767 UTF-16 units (Excel's per-cell limit), cut on a character boundary.
private func excelCellText(_ string: String) -> String {
    let clean = stripNUL(string)
    guard clean.utf16.count > XLSXLimits.maxCellCharacters else { return clean }
    var units = 0
    var end = clean.startIndex
    for index in clean.indices {
        let next = units + clean[index].utf16.count
        if next > XLSXLimits.maxCellCharacters { break }
        units = next
        end = clean.index(after: index)
    }
    return String(clean[..<end])
}

/// Maps 0xRRGGBB to libxlsxwriter's color, where 0x000000 means "unset" and black is LXW_COLOR_BLACK.
private func lxwColor(_ rgb: UInt32) -> lxw_color_t {
    let masked = rgb & 0xFF_FFFF
    return masked == 0 ? lxw_color_t(LXW_COLOR_BLACK.rawValue) : lxw_color_t(masked)
}

/// Excel column letters for a 0-based index (0 → A, 26 → AA; negative indexes shown as `#n`).
func columnLetters(_ col: Int) -> String {
    guard col >= 0 else { return "#\(col)" }
    var n = col + 1
    var letters: [Character] = []
    while n > 0 {
        let remainder = (n - 1) % 26
        letters.append(Character(Unicode.Scalar(UInt8(65 + remainder))))
        n = (n - 1) / 26
    }
    return String(letters.reversed())
}

/// A1-style reference for 0-based indexes (negative indexes shown as `#n`).
private func cellReference(_ row: Int, _ col: Int) -> String {
    "\(columnLetters(col))\(row >= 0 ? String(row + 1) : "#\(row)")"
}
