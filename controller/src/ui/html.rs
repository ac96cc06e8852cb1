//! HTML pieces of the dashboard: escaping, number formats and the page frame.

use std::fmt::Write as _;

/// Escapes text for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// An integer with thin-space thousands separators: `12 345`.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('\u{2009}');
        }
        out.push(c);
    }
    out
}

/// Money, with enough digits for per-invocation prices.
pub fn money(amount: f64, currency: &str) -> String {
    let digits = if amount >= 100.0 { 2 } else { 6 };
    format!("{amount:.digits$} <small>{}</small>", escape(currency))
}

/// A share as a percentage.
pub fn percent(share: f64) -> String {
    format!("{:.2} %", share * 100.0)
}

/// Milliseconds, or microseconds under one.
pub fn millis(ms: f64) -> String {
    if ms < 1.0 { format!("{:.0} µs", ms * 1000.0) } else { format!("{ms:.2} ms") }
}

/// A card with a big figure. `id` names it for tests and scripts; `value`
/// is the exact number, in `data-value`.
pub fn card(out: &mut String, id: &str, label: &str, shown: &str, value: &str) {
    let _ = write!(
        out,
        r#"<div class="card"><div class="label">{label}</div><div class="figure" id="{id}" data-value="{value}">{shown}</div></div>"#,
        label = escape(label),
        value = escape(value),
    );
}

/// The page around `body`.
pub fn page(title: &str, body: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · Flint</title>
<style>{STYLE}</style></head>
<body><header><a class="brand" href="/ui">Flint usage</a></header><main>{body}</main></body></html>
"#,
        title = escape(title),
    )
}

const STYLE: &str = "
:root{--fg:#1d2330;--muted:#667085;--line:#e3e6ea;--accent:#d9480f;--bg:#f7f8fa}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:var(--fg);background:var(--bg)}
header{background:#111827;padding:10px 24px}
header a.brand{color:#fff;font-weight:600;text-decoration:none;letter-spacing:.02em}
header a.brand::before{content:'▲ ';color:var(--accent)}
main{max-width:1280px;margin:0 auto;padding:16px 24px 40px}
h1{font-size:20px;margin:8px 0 4px}
h2{font-size:16px;margin:28px 0 8px}
.sub{color:var(--muted);margin:0 0 12px}
nav.periods a{display:inline-block;padding:3px 10px;margin-right:4px;border:1px solid var(--line);border-radius:14px;color:var(--fg);text-decoration:none;background:#fff}
nav.periods a.on{background:var(--fg);color:#fff;border-color:var(--fg)}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:10px;margin:14px 0}
.card{background:#fff;border:1px solid var(--line);border-radius:8px;padding:10px 14px}
.card .label{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.card .figure{font-size:22px;font-weight:600;margin-top:2px;font-variant-numeric:tabular-nums}
.card .figure small{font-size:12px;font-weight:400;color:var(--muted)}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(380px,1fr));gap:12px}
figure.chart{margin:0;background:#fff;border:1px solid var(--line);border-radius:8px;padding:8px 10px}
figure.chart figcaption{font-weight:600;font-size:13px;margin-bottom:4px}
figure.chart .key{font-weight:400;color:var(--muted);margin-left:8px}
figure.chart svg{width:100%;height:auto;display:block}
figure.chart text.axis{font-size:10px;fill:var(--muted)}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid var(--line);border-radius:8px}
th,td{padding:6px 10px;border-bottom:1px solid var(--line);text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
th:first-child,td:first-child{text-align:left}
th{font-size:12px;color:var(--muted);text-transform:uppercase;letter-spacing:.04em;background:#fbfbfc}
td a{color:var(--fg)}
.small{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:12px}
.empty{color:var(--muted);padding:24px;background:#fff;border:1px dashed var(--line);border-radius:8px}
footer{color:var(--muted);font-size:12px;margin-top:24px}
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(
            escape("<a href='x'>&\"</a>"),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;"
        );
        assert_eq!(count(1_234_567), "1\u{2009}234\u{2009}567");
        assert_eq!(count(999), "999");
        assert_eq!(money(0.5, "USD"), "0.500000 <small>USD</small>");
        assert_eq!(millis(0.25), "250 µs");
        assert_eq!(percent(0.125), "12.50 %");
    }
}
