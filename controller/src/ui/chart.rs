//! Time-series charts as inline SVG: bars for counts and costs, lines for
//! latencies. No script, no fonts to fetch; the page stays readable offline
//! and in a text dump.

use std::fmt::Write as _;

use super::html::escape;

/// Drawing area, in SVG user units (the SVG scales to its container).
const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 170.0;
/// Room for the axis labels.
const LEFT: f64 = 64.0;
const BOTTOM: f64 = 22.0;
const TOP: f64 = 10.0;
const RIGHT: f64 = 8.0;

/// One series: a name, a color, and a value per point (`None`: no data).
pub struct Series<'a> {
    /// Shown in the legend.
    pub name: &'a str,
    /// A CSS color.
    pub color: &'a str,
    /// One value per point.
    pub values: Vec<Option<f64>>,
}

/// How to draw the series.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// One bar per point (the first series only).
    Bars,
    /// A line per series, broken where a point has no data.
    Lines,
}

/// A chart of `series` over `labels` (one per point: the time of its start),
/// values formatted with `format`.
pub fn render(
    title: &str,
    kind: Kind,
    labels: &[String],
    series: &[Series<'_>],
    format: impl Fn(f64) -> String,
) -> String {
    let points = labels.len().max(1);
    let max = series
        .iter()
        .flat_map(|s| s.values.iter().flatten())
        .fold(0.0f64, |a, b| a.max(*b))
        .max(f64::MIN_POSITIVE);
    let max = nice_ceiling(max);
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let x = |i: usize| LEFT + plot_w * (i as f64 + 0.5) / points as f64;
    let y = |v: f64| TOP + plot_h * (1.0 - (v / max).clamp(0.0, 1.0));

    let mut svg = String::new();
    let _ = write!(svg, r#"<figure class="chart"><figcaption>{title}"#, title = escape(title));
    for s in series {
        let _ = write!(
            svg,
            r#" <span class="key" style="color:{color}">■ {name}</span>"#,
            color = s.color,
            name = escape(s.name)
        );
    }
    let _ = write!(
        svg,
        r#"</figcaption><svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{title}">"#,
        title = escape(title)
    );
    // Grid and value axis: 0, half, max.
    for (fraction, value) in [(0.0, 0.0), (0.5, max / 2.0), (1.0, max)] {
        let gy = y(fraction * max);
        let _ = write!(
            svg,
            r##"<line x1="{LEFT}" x2="{x2}" y1="{gy:.1}" y2="{gy:.1}" stroke="#e3e6ea"/><text x="{tx}" y="{ty:.1}" text-anchor="end" class="axis">{label}</text>"##,
            x2 = WIDTH - RIGHT,
            tx = LEFT - 6.0,
            ty = gy + 4.0,
            label = escape(&format(value))
        );
    }
    // Time axis: first, middle and last labels.
    if !labels.is_empty() {
        for i in [0, labels.len() / 2, labels.len() - 1] {
            let anchor = if i == 0 {
                "start"
            } else if i == labels.len() - 1 {
                "end"
            } else {
                "middle"
            };
            let tx = if i == 0 {
                LEFT
            } else if i == labels.len() - 1 {
                WIDTH - RIGHT
            } else {
                x(i)
            };
            let _ = write!(
                svg,
                r#"<text x="{tx:.1}" y="{ty}" text-anchor="{anchor}" class="axis">{label}</text>"#,
                ty = HEIGHT - 6.0,
                label = escape(&labels[i])
            );
        }
    }
    match kind {
        Kind::Bars => {
            if let Some(s) = series.first() {
                let bar = (plot_w / points as f64 * 0.8).max(0.5);
                let mut path = String::new();
                for (i, v) in s.values.iter().enumerate() {
                    if let Some(v) = v.filter(|v| *v > 0.0) {
                        let top = y(v);
                        let _ = write!(
                            path,
                            "M{:.1} {:.1}h{bar:.1}V{:.1}h-{bar:.1}Z",
                            x(i) - bar / 2.0,
                            TOP + plot_h,
                            top
                        );
                    }
                }
                let _ = write!(svg, r#"<path d="{path}" fill="{}"/>"#, s.color);
            }
        }
        Kind::Lines => {
            for s in series {
                let mut path = String::new();
                let mut pen_down = false;
                for (i, v) in s.values.iter().enumerate() {
                    let alone = i.checked_sub(1).is_none_or(|j| s.values[j].is_none())
                        && s.values.get(i + 1).is_none_or(Option::is_none);
                    if let (Some(v), true) = (v, alone) {
                        // A point with no neighbours draws no line: mark it.
                        let _ = write!(
                            svg,
                            r#"<circle cx="{:.1}" cy="{:.1}" r="2.5" fill="{}"/>"#,
                            x(i),
                            y(*v),
                            s.color
                        );
                    }
                    match v {
                        Some(v) => {
                            let _ = write!(
                                path,
                                "{}{:.1} {:.1}",
                                if pen_down { "L" } else { "M" },
                                x(i),
                                y(*v)
                            );
                            pen_down = true;
                        }
                        None => pen_down = false,
                    }
                }
                let _ = write!(
                    svg,
                    r#"<path d="{path}" fill="none" stroke="{}" stroke-width="1.5"/>"#,
                    s.color
                );
            }
        }
    }
    svg.push_str("</svg></figure>");
    svg
}

/// The smallest 1, 2 or 5 × 10ⁿ at or above `value`, so axes read well.
fn nice_ceiling(value: f64) -> f64 {
    let exponent = value.log10().floor();
    let base = 10f64.powf(exponent);
    for step in [1.0, 2.0, 5.0, 10.0] {
        if value <= step * base * (1.0 + 1e-9) {
            return step * base;
        }
    }
    10.0 * base
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_are_svg_with_a_path_per_series() {
        let labels: Vec<String> = (0..3).map(|i| format!("t{i}")).collect();
        let svg = render(
            "latency <ms>",
            Kind::Lines,
            &labels,
            &[
                Series { name: "p50", color: "#123", values: vec![Some(1.0), None, Some(3.0)] },
                Series { name: "p99", color: "#456", values: vec![Some(2.0), Some(4.0), None] },
            ],
            |v| format!("{v}"),
        );
        assert!(svg.contains("latency &lt;ms&gt;"), "{svg}");
        assert_eq!(svg.matches("<path").count(), 2);
        assert!(svg.contains("M537.3"), "a gap restarts the line: {svg}");
        assert_eq!(nice_ceiling(3.2), 5.0);
        assert_eq!(nice_ceiling(0.012), 0.02);
        assert_eq!(nice_ceiling(100.0), 100.0);
    }
}
