//! Inline SVG bar charts for the HTML reports. The reports are single files meant to
//! print and to open offline, so a chart is drawn as markup rather than by a script.

use std::fmt::Write;

/// Width of the drawing in SVG user units; the chart scales to its container.
const WIDTH: f64 = 640.0;
/// Height of one bar and the gap below it, for horizontal charts.
const ROW: f64 = 22.0;
/// Room on the left for the labels of a horizontal chart.
const LABEL_WIDTH: f64 = 220.0;
/// Height of the plot area of a column chart.
const COLUMN_HEIGHT: f64 = 160.0;
/// Room left and right of the columns, so that the first and last labels, centred
/// under narrow columns, are not cut off.
const COLUMN_MARGIN: f64 = 36.0;
/// Maximum label length in characters. Longer labels are cut and end with an ellipsis.
const MAX_LABEL_CHARS: usize = 32;

/// One bar: its label and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub label: String,
    pub value: f64,
}

impl Bar {
    pub fn new(label: impl Into<String>, value: impl Into<f64>) -> Self {
        Self {
            label: label.into(),
            value: value.into(),
        }
    }
}

/// Draws one horizontal bar per entry, labels on the left and values at the bar's end.
/// Suits many categories with long names, such as reviewers or groups. Returns an empty
/// string when there is nothing to draw.
pub fn horizontal_bars(title: &str, bars: &[Bar]) -> String {
    if bars.is_empty() {
        return String::new();
    }
    let max = scale_max(bars);
    let height = ROW * bars.len() as f64 + 8.0;
    let plot = WIDTH - LABEL_WIDTH - 60.0;
    let mut svg = open_svg(title, height);
    for (index, bar) in bars.iter().enumerate() {
        let y = index as f64 * ROW + 4.0;
        let length = (bar.value.max(0.0) / max * plot).max(1.0);
        let _ = write!(
            svg,
            r##"<text x="{lx}" y="{ty:.1}" text-anchor="end" font-size="12">{label}</text><rect x="{x}" y="{y:.1}" width="{length:.1}" height="{h}" fill="#3b6ea5"/><text x="{vx:.1}" y="{ty:.1}" font-size="12">{value}</text>"##,
            lx = LABEL_WIDTH - 6.0,
            ty = y + 13.0,
            label = escape(&shorten(&bar.label)),
            x = LABEL_WIDTH,
            h = ROW - 6.0,
            vx = LABEL_WIDTH + length + 4.0,
            value = format_value(bar.value),
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Draws one vertical column per entry in order, for a series over time such as access
/// granted per month. Returns an empty string when there is nothing to draw.
pub fn columns(title: &str, bars: &[Bar]) -> String {
    if bars.is_empty() {
        return String::new();
    }
    let max = scale_max(bars);
    let height = COLUMN_HEIGHT + 40.0;
    let slot = (WIDTH - 2.0 * COLUMN_MARGIN) / bars.len() as f64;
    let width = (slot * 0.7).max(1.0);
    let mut svg = open_svg(title, height);
    for (index, bar) in bars.iter().enumerate() {
        let x = COLUMN_MARGIN + index as f64 * slot + (slot - width) / 2.0;
        let length = bar.value.max(0.0) / max * COLUMN_HEIGHT;
        let top = 14.0 + COLUMN_HEIGHT - length;
        let _ = write!(
            svg,
            r##"<rect x="{x:.1}" y="{top:.1}" width="{width:.1}" height="{length:.1}" fill="#3b6ea5"><title>{label}: {value}</title></rect>"##,
            label = escape(&bar.label),
            value = format_value(bar.value),
        );
        if label_fits(bars.len(), index) {
            let _ = write!(
                svg,
                r#"<text x="{cx:.1}" y="{ly:.1}" text-anchor="middle" font-size="11">{label}</text>"#,
                cx = x + width / 2.0,
                ly = 14.0 + COLUMN_HEIGHT + 16.0,
                label = escape(&shorten(&bar.label)),
            );
        }
        if length > 0.0 {
            let _ = write!(
                svg,
                r#"<text x="{cx:.1}" y="{vy:.1}" text-anchor="middle" font-size="11">{value}</text>"#,
                cx = x + width / 2.0,
                vy = top - 3.0,
                value = format_value(bar.value),
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

fn open_svg(title: &str, height: f64) -> String {
    format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {WIDTH} {height:.0}" width="100%" style="max-width:{WIDTH}px" aria-label="{title}"><title>{title}</title>"#,
        title = escape(title),
    )
}

/// Returns the value drawn as the longest bar, at least 1 so that an all-zero chart
/// still draws.
fn scale_max(bars: &[Bar]) -> f64 {
    bars.iter().map(|bar| bar.value).fold(1.0, f64::max)
}

/// Keeps at most about twelve column labels so they do not overlap.
fn label_fits(count: usize, index: usize) -> bool {
    let step = count.div_ceil(12).max(1);
    index.is_multiple_of(step)
}

fn format_value(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        format!("{value:.1}")
    }
}

fn shorten(label: &str) -> String {
    if label.chars().count() <= MAX_LABEL_CHARS {
        return label.to_string();
    }
    let mut cut: String = label.chars().take(MAX_LABEL_CHARS - 1).collect();
    cut.push('…');
    cut
}

/// Escapes text for SVG inside HTML; labels come from directory data and may hold markup.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(ch),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_input_draws_nothing() {
        assert_eq!(horizontal_bars("t", &[]), "");
        assert_eq!(columns("t", &[]), "");
    }

    #[test]
    fn labels_are_escaped_and_bars_scaled() {
        let svg = horizontal_bars(
            "Decisions per reviewer",
            &[
                Bar::new("<script>alert(1)</script>", 10),
                Bar::new("b@example.com", 5),
            ],
        );
        assert!(!svg.contains("<script>"));
        assert!(svg.contains("&lt;script&gt;"));
        assert_eq!(svg.matches("<rect").count(), 2);
        assert!(svg.contains(r#"width="360.0""#), "{svg}");
        assert!(svg.contains(r#"width="180.0""#), "{svg}");
    }

    #[test]
    fn columns_draw_one_rect_per_entry() {
        let bars: Vec<Bar> = (1..=30).map(|m| Bar::new(format!("m{m}"), m)).collect();
        let svg = columns("Access granted per month", &bars);
        assert_eq!(svg.matches("<rect").count(), 30);
        assert!(svg.starts_with("<svg"));
        assert!(svg.ends_with("</svg>"));
    }
}
