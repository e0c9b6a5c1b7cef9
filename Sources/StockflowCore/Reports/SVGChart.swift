import Foundation

/// Draws a report's charts as inline SVG: no script, no font or file from outside, so the page reads
/// the same from disk, from an email attachment or on paper.
///
/// Every drawn datum (a bar, a line point, a slice, the gauge's value arc) has `class="mark"` and a
/// `<title>` with its label and value; the `<svg>` carries `data-chart` (the kind) and `data-marks`
/// (how many marks), and a `<title>`/`<desc>` pair read by screen readers.
public struct SVGChart {
    public let kind: ChartKind
    public let title: String
    public let items: [ChartItem]
    public let seriesNames: [String]
    public let formats: [ValueFormat]
    public let target: Money?
    public let locale: ReportLocale
    /// Unique within the page; prefixes the ids of the title and description.
    public let id: String
    /// Text alternative; generated from the data when nil.
    public let summary: String?

    /// Colors that stay apart for the common color-vision deficiencies (Okabe–Ito, then greys).
    static let palette = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000", "#7F7F7F", "#BBBBBB"]
    static let othersColor = "#A0A0A0"

    public init(kind: ChartKind, title: String, items: [ChartItem], seriesNames: [String], formats: [ValueFormat],
                target: Money? = nil, locale: ReportLocale, id: String, summary: String? = nil) {
        self.kind = kind
        self.title = title
        self.items = items
        self.seriesNames = seriesNames
        self.formats = formats
        self.target = target
        self.locale = locale
        self.id = id
        self.summary = summary
    }

    /// How many marks the chart draws for its items.
    public var markCount: Int {
        switch kind {
        case .bar: return items.filter { !$0.isOther }.count
        case .pie, .donut: return items.count
        case .line: return items.count * seriesNames.count
        case .gauge: return 1
        }
    }

    /// The text alternative: what a reader would take from the picture.
    public var description: String {
        if let summary { return summary }
        switch kind {
        case .gauge:
            let value = items.first?.values.first ?? Money(0)
            guard let target else { return "\(title): \(format(value, 0))" }
            return "\(title): \(format(value, 0)), " + (locale.isFrench ? "objectif " : "target ") + "\(format(target, 0)) (\(locale.percent(ratio(value, target))))"
        case .line:
            guard let first = items.first, let last = items.last else { return title }
            return seriesNames.enumerated().map { series, name in
                "\(name): \(first.label) \(format(first.values[series], series)) → \(last.label) \(format(last.values[series], series))"
            }.joined(separator: "; ") + " (\(items.count) " + (locale.isFrench ? "points)" : "points)")
        case .bar, .pie, .donut:
            let shown = items.prefix(5).map { "\($0.label) \(format($0.values[0], 0))" }.joined(separator: "; ")
            return "\(title): \(shown)" + (items.count > 5 ? "…" : "")
        }
    }

    /// The `<svg>` element.
    public func render() -> String {
        let (width, height, body) = drawing()
        return """
        <svg xmlns="http://www.w3.org/2000/svg" class="chart chart-\(kind.rawValue)" viewBox="0 0 \(width) \(height)" \
        width="\(width)" height="\(height)" role="img" aria-labelledby="\(id)-title \(id)-desc" \
        data-chart="\(kind.rawValue)" data-marks="\(markCount)"><title id="\(id)-title">\(escapeXML(title))</title>\
        <desc id="\(id)-desc">\(escapeXML(description))</desc>\(body)</svg>
        """
    }

    private func drawing() -> (Int, Int, String) {
        switch kind {
        case .bar: return bars()
        case .line: return lines()
        case .pie: return pie(hole: 0)
        case .donut: return pie(hole: 0.58)
        case .gauge: return gauge()
        }
    }

    private func format(_ amount: Money, _ series: Int) -> String {
        locale.text(.decimal(amount), as: series < formats.count ? formats[series] : .number)
    }

    private func axisFormat(_ series: Int) -> ValueFormat { series < formats.count ? formats[series] : .number }

    private func ratio(_ value: Money, _ whole: Money) -> Money {
        guard whole.approximateDouble != 0 else { return Money(0) }
        return Money(shortestRepresentationOf: (value.approximateDouble / whole.approximateDouble * 10_000).rounded() / 10_000) ?? Money(0)
    }

    private func mark(_ shape: String, label: String, value: String) -> String {
        "<\(shape)><title>\(escapeXML(label)): \(escapeXML(value))</title></\(shape.split(separator: " ")[0])>"
    }

    // MARK: - Bars

    /// Bars of the top N on one scale; the rest is a labelled note under them, not a bar that would
    /// squeeze the others into slivers.
    private func bars() -> (Int, Int, String) {
        let width = SVGChart.width, labelWidth = 150, valueWidth = 76, rowHeight = 24, barHeight = 16
        let plot = Double(width - labelWidth - valueWidth)
        let drawn = items.filter { !$0.isOther }
        let others = items.first { $0.isOther }
        let height = max(drawn.count, 1) * rowHeight + 8 + (others == nil ? 0 : 22)
        let largest = max(drawn.map { $0.values[0].approximateDouble }.max() ?? 0, 1e-9)
        let bottom = max(drawn.count, 1) * rowHeight + 4
        var svg = "<g class=\"axis\"><line x1=\"\(labelWidth)\" y1=\"2\" x2=\"\(labelWidth)\" y2=\"\(bottom)\"/></g>"
        for (index, item) in drawn.enumerated() {
            let y = 4 + index * rowHeight
            let value = item.values[0].approximateDouble
            let length = max(value, 0) / largest * plot
            let text = format(item.values[0], 0)
            svg += "<text class=\"label\" x=\"\(labelWidth - 6)\" y=\"\(y + 12)\" text-anchor=\"end\">\(escapeXML(shorten(item.label, 19)))</text>"
            svg += mark("rect class=\"mark\" x=\"\(labelWidth)\" y=\"\(y)\" width=\"\(fixed(length))\" height=\"\(barHeight)\" fill=\"\(SVGChart.palette[0])\"",
                        label: item.label, value: text)
            svg += "<text class=\"value\" x=\"\(fixed(Double(labelWidth) + length + 4))\" y=\"\(y + 12)\">\(escapeXML(text))</text>"
        }
        if let others {
            svg += "<text class=\"note others\" x=\"0\" y=\"\(bottom + 18)\">\(escapeXML(others.label)) : \(escapeXML(format(others.values[0], 0)))</text>"
        }
        return (width, height, svg)
    }

    /// The drawing width of bars, lines and pies: narrow enough that 13-unit labels stay at least 10 px
    /// when a phone scales the chart down to its card (about 340 px).
    static let width = 400

    // MARK: - Lines

    private func lines() -> (Int, Int, String) {
        let width = SVGChart.width, height = 250
        let left = 64.0, right = seriesNames.count > 1 ? 64.0 : 16.0, top = 36.0, bottom = 40.0
        let plotWidth = Double(width) - left - right, plotHeight = Double(height) - top - bottom
        var svg = ""
        // Legend.
        var legendX = left
        for (series, name) in seriesNames.enumerated() {
            let color = SVGChart.palette[series]
            let side = seriesNames.count > 1 ? (series == 0 ? (locale.isFrench ? " (axe gauche)" : " (left axis)") : (locale.isFrench ? " (axe droit)" : " (right axis)")) : ""
            svg += "<g class=\"legend\"><line x1=\"\(fixed(legendX))\" y1=\"14\" x2=\"\(fixed(legendX + 22))\" y2=\"14\" stroke=\"\(color)\" stroke-width=\"3\"/>"
            svg += "<text x=\"\(fixed(legendX + 28))\" y=\"18\">\(escapeXML(name + side))</text></g>"
            legendX += Double(28 + (name.count + side.count) * 7 + 16)
        }
        let xs: [Double] = items.indices.map { index in
            items.count == 1 ? left + plotWidth / 2 : left + Double(index) * plotWidth / Double(items.count - 1)
        }
        // X labels: at most five, evenly spaced, so that they never touch.
        let step = max(1, Int((Double(items.count) / 5).rounded(.up)))
        svg += "<g class=\"axis\"><line x1=\"\(fixed(left))\" y1=\"\(fixed(top + plotHeight))\" x2=\"\(fixed(left + plotWidth))\" y2=\"\(fixed(top + plotHeight))\"/>"
        for index in stride(from: 0, to: items.count, by: step) {
            svg += "<text x=\"\(fixed(xs[index]))\" y=\"\(fixed(top + plotHeight + 18))\" text-anchor=\"middle\">\(escapeXML(shorten(locale.period(.text(items[index].label)), 12)))</text>"
        }
        svg += "</g>"
        for series in seriesNames.indices {
            let values = items.map { $0.values[series].approximateDouble }
            let scale = NiceScale(low: min(values.min() ?? 0, 0), high: max(values.max() ?? 0, 0))
            func y(_ value: Double) -> Double { top + plotHeight - (value - scale.low) / (scale.high - scale.low) * plotHeight }
            let color = SVGChart.palette[series]
            svg += "<g class=\"axis axis-\(series == 0 ? "left" : "right")\">"
            for tick in scale.ticks {
                if series == 0 {
                    svg += "<line class=\"grid\" x1=\"\(fixed(left))\" y1=\"\(fixed(y(tick)))\" x2=\"\(fixed(left + plotWidth))\" y2=\"\(fixed(y(tick)))\"/>"
                    svg += "<text x=\"\(fixed(left - 6))\" y=\"\(fixed(y(tick) + 4))\" text-anchor=\"end\">\(escapeXML(locale.axis(tick, format: axisFormat(series))))</text>"
                } else {
                    svg += "<text x=\"\(fixed(left + plotWidth + 6))\" y=\"\(fixed(y(tick) + 4))\" fill=\"\(color)\">\(escapeXML(locale.axis(tick, format: axisFormat(series))))</text>"
                }
            }
            svg += "</g>"
            let points = zip(xs, values).map { "\(fixed($0)),\(fixed(y($1)))" }.joined(separator: " ")
            svg += "<polyline class=\"series\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\" points=\"\(points)\"/>"
            for (index, item) in items.enumerated() {
                svg += mark("circle class=\"mark\" cx=\"\(fixed(xs[index]))\" cy=\"\(fixed(y(values[index])))\" r=\"2.5\" fill=\"\(color)\"",
                            label: "\(item.label) · \(seriesNames[series])", value: format(item.values[series], series))
            }
        }
        return (width, height, svg)
    }

    // MARK: - Pie and donut

    /// The pie on top, its legend below with each slice's value and percentage, one row each.
    private func pie(hole: Double) -> (Int, Int, String) {
        let legendRow = 22
        let width = SVGChart.width
        let radius = 95.0, cx = Double(width) / 2, cy = radius + 8, inner = radius * hole
        let legendTop = Int(cy + radius) + 14
        let height = legendTop + items.count * legendRow + 4
        let total = items.reduce(0.0) { $0 + max($1.values[0].approximateDouble, 0) }
        var svg = ""
        var angle = -Double.pi / 2
        for (index, item) in items.enumerated() {
            let share = total > 0 ? max(item.values[0].approximateDouble, 0) / total : 0
            let sweep = share * 2 * Double.pi
            let color = item.isOther ? SVGChart.othersColor : SVGChart.palette[index % SVGChart.palette.count]
            let percent = locale.percent(ratio(item.values[0], Money(shortestRepresentationOf: total) ?? Money(1)))
            let text = "\(format(item.values[0], 0)) (\(percent))"
            svg += mark("path class=\"mark\(item.isOther ? " other" : "")\" d=\"\(slicePath(cx: cx, cy: cy, radius: radius, inner: inner, from: angle, sweep: sweep))\" fill=\"\(color)\" stroke=\"#fff\" stroke-width=\"1\"",
                        label: item.label, value: text)
            angle += sweep
            let y = legendTop + index * legendRow
            svg += "<g class=\"legend\"><rect x=\"0\" y=\"\(y)\" width=\"12\" height=\"12\" fill=\"\(color)\"/>"
            svg += "<text x=\"18\" y=\"\(y + 11)\">\(escapeXML(shorten(item.label, 22)))</text>"
            svg += "<text class=\"value\" x=\"\(width)\" y=\"\(y + 11)\" text-anchor=\"end\">\(escapeXML(text))</text></g>"
        }
        if hole > 0 {
            svg += "<text class=\"center\" x=\"\(fixed(cx))\" y=\"\(fixed(cy + 5))\" text-anchor=\"middle\">\(escapeXML(locale.axis(total, format: formats.first ?? .number)))</text>"
        }
        return (width, height, svg)
    }

    /// A slice from `from` over `sweep` radians; a full turn is drawn as two half arcs (one SVG arc
    /// cannot start and end at the same point).
    private func slicePath(cx: Double, cy: Double, radius: Double, inner: Double, from: Double, sweep: Double) -> String {
        func point(_ r: Double, _ a: Double) -> String { "\(fixed(cx + r * cos(a))),\(fixed(cy + r * sin(a)))" }
        if sweep >= 2 * Double.pi - 1e-9 {
            let outer = "M\(point(radius, from)) A\(fixed(radius)),\(fixed(radius)) 0 1 1 \(point(radius, from + Double.pi)) A\(fixed(radius)),\(fixed(radius)) 0 1 1 \(point(radius, from)) Z"
            guard inner > 0 else { return outer }
            return outer + " M\(point(inner, from)) A\(fixed(inner)),\(fixed(inner)) 0 1 0 \(point(inner, from + Double.pi)) A\(fixed(inner)),\(fixed(inner)) 0 1 0 \(point(inner, from)) Z"
        }
        let large = sweep > Double.pi ? 1 : 0
        let end = from + sweep
        if inner > 0 {
            return "M\(point(radius, from)) A\(fixed(radius)),\(fixed(radius)) 0 \(large) 1 \(point(radius, end)) L\(point(inner, end)) A\(fixed(inner)),\(fixed(inner)) 0 \(large) 0 \(point(inner, from)) Z"
        }
        return "M\(fixed(cx)),\(fixed(cy)) L\(point(radius, from)) A\(fixed(radius)),\(fixed(radius)) 0 \(large) 1 \(point(radius, end)) Z"
    }

    // MARK: - Gauge

    private func gauge() -> (Int, Int, String) {
        let width = 340, height = 220
        let cx = 170.0, cy = 165.0, radius = 130.0, thickness = 28.0
        let value = items.first?.values.first ?? Money(0)
        let goal = target ?? value
        let top = max(goal.approximateDouble * 1.25, value.approximateDouble * 1.05, 1e-9)
        func coordinates(_ r: Double, _ fraction: Double) -> (x: String, y: String) {
            let angle = Double.pi + min(max(fraction, 0), 1) * Double.pi
            return (fixed(cx + r * cos(angle)), fixed(cy + r * sin(angle)))
        }
        func point(_ r: Double, _ fraction: Double) -> String {
            let (x, y) = coordinates(r, fraction)
            return "\(x),\(y)"
        }
        func band(_ from: Double, _ to: Double) -> String {
            let outer = radius, inner = radius - thickness
            return "M\(point(outer, from)) A\(fixed(outer)),\(fixed(outer)) 0 0 1 \(point(outer, to)) L\(point(inner, to)) A\(fixed(inner)),\(fixed(inner)) 0 0 0 \(point(inner, from)) Z"
        }
        let fraction = value.approximateDouble / top
        let reached = value >= goal
        var svg = "<path class=\"track\" d=\"\(band(0, 1))\" fill=\"#E6E6E6\"/>"
        svg += mark("path class=\"mark\" d=\"\(band(0, fraction))\" fill=\"\(reached ? SVGChart.palette[2] : SVGChart.palette[0])\"",
                    label: title, value: format(value, 0))
        let goalFraction = goal.approximateDouble / top
        let (x1, y1) = coordinates(radius - thickness - 8, goalFraction), (x2, y2) = coordinates(radius + 8, goalFraction)
        svg += "<line class=\"target\" x1=\"\(x1)\" y1=\"\(y1)\" x2=\"\(x2)\" y2=\"\(y2)\" stroke=\"#B00020\" stroke-width=\"3\"/>"
        let goalText = (locale.isFrench ? "objectif " : "target ") + format(goal, 0)
        svg += "<text class=\"value\" x=\"\(fixed(cx))\" y=\"\(fixed(cy - 34))\" text-anchor=\"middle\">\(escapeXML(format(value, 0)))</text>"
        svg += "<text class=\"note\" x=\"\(fixed(cx))\" y=\"\(fixed(cy - 12))\" text-anchor=\"middle\">\(escapeXML(locale.percent(ratio(value, goal)) + (locale.isFrench ? " de l’objectif" : " of target")))</text>"
        svg += "<text class=\"note\" x=\"\(fixed(cx))\" y=\"\(fixed(cy + 24))\" text-anchor=\"middle\">\(escapeXML(goalText))</text>"
        svg += "<text class=\"axis\" x=\"\(fixed(cx - radius + thickness / 2))\" y=\"\(fixed(cy + 16))\" text-anchor=\"middle\">0</text>"
        svg += "<text class=\"axis\" x=\"\(fixed(cx + radius - thickness / 2))\" y=\"\(fixed(cy + 16))\" text-anchor=\"middle\">\(escapeXML(locale.axis(top)))</text>"
        return (width, height, svg)
    }
}

/// Round axis bounds and about five ticks between them.
struct NiceScale {
    let low: Double
    let high: Double
    let ticks: [Double]

    init(low: Double, high: Double) {
        let span = high - low > 0 ? high - low : max(abs(high), 1)
        let rough = span / 4
        let magnitude = pow(10, floor(log10(rough)))
        let step = [1.0, 2.0, 2.5, 5.0, 10.0].map { $0 * magnitude }.first { $0 >= rough } ?? rough
        let niceLow = floor(low / step) * step
        let niceHigh = max(ceil(high / step) * step, niceLow + step)
        self.low = niceLow
        self.high = niceHigh
        ticks = stride(from: niceLow, through: niceHigh + step / 2, by: step).map { $0 }
    }
}

/// A coordinate with at most one decimal place.
func fixed(_ value: Double) -> String {
    let rounded = (value * 10).rounded() / 10
    return rounded == rounded.rounded() ? String(Int(rounded)) : String(rounded)
}

/// Text cut to `limit` characters with an ellipsis.
func shorten(_ text: String, _ limit: Int) -> String {
    text.count > limit ? String(text.prefix(limit - 1)) + "…" : text
}

/// Escapes text for XML and HTML content and attributes.
public func escapeXML(_ text: String) -> String {
    var result = ""
    result.reserveCapacity(text.utf8.count)
    for character in text {
        switch character {
        case "&": result += "&amp;"
        case "<": result += "&lt;"
        case ">": result += "&gt;"
        case "\"": result += "&quot;"
        case "'": result += "&#39;"
        default: result.append(character)
        }
    }
    return result
}
