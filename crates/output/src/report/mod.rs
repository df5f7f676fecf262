//! `nimscale report`: a run's or a sweep's results as a document people look
//! at. A [`Report`] (sections of charts, tables and text) is built from the
//! run's files ([`run`]) or a sweep's ([`sweep`]) and rendered as one
//! self-contained HTML file (inline SVG, inline CSS, the font embedded; no
//! script, nothing fetched) or as Markdown with PNG images.

pub mod chart;
pub mod data;
pub mod plan;
pub mod run;
pub mod sweep;

use std::fmt::Write as _;

pub use chart::Chart;

/// A table: a header and rows of cells already formatted.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Table {
    /// Column titles.
    pub header: Vec<String>,
    /// Rows.
    pub rows: Vec<Vec<String>>,
    /// Columns aligned right (numbers).
    pub numeric: Vec<bool>,
}

/// A piece of a section.
#[derive(Clone, Debug, PartialEq)]
#[allow(clippy::large_enum_variant)] // a report holds a few dozen blocks
pub enum Block {
    /// A chart.
    Chart(Chart),
    /// A table.
    Table(Table),
    /// A paragraph of plain text.
    Text(String),
    /// A bulleted list of plain text.
    List(Vec<String>),
}

/// A titled part of a report.
#[derive(Clone, Debug, PartialEq)]
pub struct Section {
    /// Heading.
    pub heading: String,
    /// Content.
    pub blocks: Vec<Block>,
}

/// A report.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Report {
    /// Title.
    pub title: String,
    /// Facts shown under the title (label, value).
    pub facts: Vec<(String, String)>,
    /// Sections.
    pub sections: Vec<Section>,
}

impl Report {
    /// The charts, in order.
    pub fn charts(&self) -> impl Iterator<Item = &Chart> {
        self.sections.iter().flat_map(|s| {
            s.blocks.iter().filter_map(|b| match b {
                Block::Chart(c) => Some(c),
                _ => None,
            })
        })
    }
}

/// Output formats of `report`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Format {
    /// `report.html`.
    Html,
    /// `report.md` with its PNG images.
    Md,
    /// The PNG images alone.
    Png,
}

impl Format {
    /// Parses `html`, `md` or `png`.
    pub fn parse(s: &str) -> Option<Format> {
        match s.trim() {
            "html" => Some(Format::Html),
            "md" | "markdown" => Some(Format::Md),
            "png" => Some(Format::Png),
            _ => None,
        }
    }
}

// One bucketing rule for report lines and sweep series, in core.
pub use nimscale_core::series::{Agg, MAX_POINTS, aggregate, bucket_len};

/// The time axis for a run of `end_s` seconds: (seconds per unit, title).
/// Minutes up to three hours, hours beyond.
pub fn time_axis(end_s: f64) -> (f64, &'static str) {
    if end_s > 3.0 * 3600.0 {
        (3600.0, "simulated time (h)")
    } else {
        (60.0, "simulated time (min)")
    }
}

/// The PNG file name of the `i`-th chart.
pub fn png_name(i: usize, c: &Chart) -> String {
    format!("{:02}-{}.png", i + 1, c.id)
}

/// The files of a report in the formats asked for: (name, bytes).
pub fn render(r: &Report, formats: &[Format]) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut files = Vec::new();
    if formats.contains(&Format::Html) {
        files.push(("report.html".to_string(), html(r)?.into_bytes()));
    }
    if formats.contains(&Format::Md) {
        files.push(("report.md".to_string(), markdown(r).into_bytes()));
    }
    if formats.contains(&Format::Md) || formats.contains(&Format::Png) {
        for (i, c) in r.charts().enumerate() {
            files.push((png_name(i, c), chart::png(c)?));
        }
    }
    Ok(files)
}

/// Text for HTML content and attributes.
pub fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// Standard base64 with padding.
pub fn base64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut o = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let b = [c[0], *c.get(1).unwrap_or(&0), *c.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= c.len() {
                o.push(char::from(A[((n >> (18 - 6 * k)) & 63) as usize]));
            } else {
                o.push('=');
            }
        }
    }
    o
}

/// Columns above which a table is set smaller, scrolls in its box and
/// keeps its first column in view.
const WIDE_COLUMNS: usize = 8;

const CSS: &str = "\
body{font-family:nimsans,sans-serif;color:#222;max-width:1000px;margin:24px auto;padding:0 16px;line-height:1.45}\
h1{font-size:1.6em;margin-bottom:4px}h2{font-size:1.25em;border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:32px}\
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;font-size:.92em}dl.facts dt{color:#666}dl.facts dd{margin:0}\
figure{margin:16px 0}svg.chart{display:block;max-width:100%;height:auto;border:1px solid #eee}\
figcaption{font-size:.88em;color:#555;margin-top:4px}\
table{border-collapse:collapse;font-size:.9em;margin:12px 0;width:100%}th,td{border-bottom:1px solid #e4e4e4;padding:4px 8px;text-align:left;vertical-align:top}\
th{background:#f6f6f6}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}\
div.tw{overflow-x:auto;max-width:100%}table.wide{font-size:.78em}table.wide td.n{white-space:nowrap}\
table.wide td:first-child{position:sticky;left:0;background:#fff}table.wide th:first-child{position:sticky;left:0}\
.miss{color:#b00020;font-weight:bold}.met{color:#1b7a1b;font-weight:bold}\
footer{margin-top:40px;font-size:.8em;color:#888}";

fn cell_class(text: &str) -> &'static str {
    match text {
        "MISSED" | "no" => " class=\"miss\"",
        "met" | "yes" => " class=\"met\"",
        _ => "",
    }
}

/// The report as one self-contained HTML page.
pub fn html(r: &Report) -> Result<String, String> {
    let mut o = String::new();
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>@font-face{{font-family:{};src:url(data:font/ttf;base64,{}) format(\"truetype\")}}\n{CSS}</style>\n</head>\n<body>\n<h1>{}</h1>\n",
        escape(&r.title),
        chart::FONT_FAMILY,
        base64(chart::FONT),
        escape(&r.title)
    );
    if !r.facts.is_empty() {
        o.push_str("<dl class=\"facts\">\n");
        for (k, v) in &r.facts {
            let _ = writeln!(o, "<dt>{}</dt><dd>{}</dd>", escape(k), escape(v));
        }
        o.push_str("</dl>\n");
    }
    for s in &r.sections {
        let _ = writeln!(o, "<section>\n<h2>{}</h2>", escape(&s.heading));
        for b in &s.blocks {
            match b {
                Block::Chart(c) => {
                    let svg = chart::svg(c)?;
                    // plotters writes a bare <svg …>; name it for CSS, tests
                    // and screen readers.
                    let svg = svg.replacen(
                        "<svg ",
                        &format!(
                            "<svg class=\"chart\" role=\"img\" aria-label=\"{}\" ",
                            escape(&c.title)
                        ),
                        1,
                    );
                    let _ = writeln!(
                        o,
                        "<figure id=\"{}\">\n{}<figcaption>{}</figcaption>\n</figure>",
                        escape(&c.id),
                        svg,
                        escape(&c.caption)
                    );
                }
                Block::Table(t) => {
                    // A table wider than the page scrolls inside its own box
                    // with its first columns held in view (a 1280-px window
                    // shows the key columns of any sweep table).
                    if t.header.len() > WIDE_COLUMNS {
                        o.push_str("<div class=\"tw\"><table class=\"wide\">\n<thead><tr>");
                    } else {
                        o.push_str("<div class=\"tw\"><table>\n<thead><tr>");
                    }
                    for (i, h) in t.header.iter().enumerate() {
                        let n = if t.numeric.get(i).copied().unwrap_or(false) {
                            " class=\"n\""
                        } else {
                            ""
                        };
                        let _ = write!(o, "<th{n}>{}</th>", escape(h));
                    }
                    o.push_str("</tr></thead>\n<tbody>\n");
                    for row in &t.rows {
                        o.push_str("<tr>");
                        for (i, c) in row.iter().enumerate() {
                            let class = if t.numeric.get(i).copied().unwrap_or(false) {
                                " class=\"n\""
                            } else {
                                cell_class(c)
                            };
                            let _ = write!(o, "<td{class}>{}</td>", escape(c));
                        }
                        o.push_str("</tr>\n");
                    }
                    o.push_str("</tbody>\n</table></div>\n");
                }
                Block::Text(t) => {
                    let _ = writeln!(o, "<p>{}</p>", escape(t));
                }
                Block::List(items) => {
                    o.push_str("<ul>\n");
                    for i in items {
                        let _ = writeln!(o, "<li>{}</li>", escape(i));
                    }
                    o.push_str("</ul>\n");
                }
            }
        }
        o.push_str("</section>\n");
    }
    let _ = writeln!(
        o,
        "<footer>Made by nimscale {} (<code>nimscale report</code>). Charts drawn with plotters in DejaVu Sans.</footer>\n</body>\n</html>",
        env!("CARGO_PKG_VERSION")
    );
    Ok(o)
}

fn md_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// The report as Markdown; its charts are the PNG files of [`png_name`].
pub fn markdown(r: &Report) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "# {}\n", r.title);
    for (k, v) in &r.facts {
        let _ = writeln!(o, "- **{}**: {}", md_cell(k), md_cell(v));
    }
    let mut chart_no = 0;
    for s in &r.sections {
        let _ = writeln!(o, "\n## {}\n", s.heading);
        for b in &s.blocks {
            match b {
                Block::Chart(c) => {
                    let _ = writeln!(
                        o,
                        "![{}]({})\n\n*{}*\n",
                        md_cell(&c.title),
                        png_name(chart_no, c),
                        c.caption
                    );
                    chart_no += 1;
                }
                Block::Table(t) => {
                    let _ = writeln!(
                        o,
                        "| {} |",
                        t.header
                            .iter()
                            .map(|h| md_cell(h))
                            .collect::<Vec<_>>()
                            .join(" | ")
                    );
                    let _ = writeln!(
                        o,
                        "|{}|",
                        (0..t.header.len())
                            .map(|i| if t.numeric.get(i).copied().unwrap_or(false) {
                                "---:"
                            } else {
                                "---"
                            })
                            .collect::<Vec<_>>()
                            .join("|")
                    );
                    for row in &t.rows {
                        let _ = writeln!(
                            o,
                            "| {} |",
                            row.iter()
                                .map(|c| md_cell(c))
                                .collect::<Vec<_>>()
                                .join(" | ")
                        );
                    }
                    o.push('\n');
                }
                Block::Text(t) => {
                    let _ = writeln!(o, "{t}\n");
                }
                Block::List(items) => {
                    for i in items {
                        let _ = writeln!(o, "- {i}");
                    }
                    o.push('\n');
                }
            }
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        let v = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (i, o) in v {
            assert_eq!(base64(i.as_bytes()), o);
        }
    }

    #[test]
    fn html_escapes_and_counts_charts() {
        let r = Report {
            title: "a <b> & c".into(),
            facts: vec![("k".into(), "v\"".into())],
            sections: vec![Section {
                heading: "S".into(),
                blocks: vec![
                    Block::Text("x < y".into()),
                    Block::Table(Table {
                        header: vec!["a".into(), "n".into()],
                        rows: vec![vec!["MISSED".into(), "1".into()]],
                        numeric: vec![false, true],
                    }),
                ],
            }],
        };
        let h = html(&r).unwrap();
        assert!(h.contains("<title>a &lt;b&gt; &amp; c</title>"));
        assert!(h.contains("<p>x &lt; y</p>"));
        assert!(h.contains("<td class=\"miss\">MISSED</td><td class=\"n\">1</td>"));
        assert!(!h.contains("<script"));
        let m = markdown(&r);
        assert!(m.contains("| a | n |\n|---|---:|\n| MISSED | 1 |"), "{m}");
    }
}
