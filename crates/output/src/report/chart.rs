//! Charts, drawn with plotters on SVG (for HTML) or on a bitmap (PNG for
//! Markdown), from one description so both show the same thing. Text is
//! laid out and drawn with the font kept in `assets/`, registered once.

use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;
pub use plotters::style::RGBColor;

/// The font family name the charts use (registered from `assets/`, and the
/// HTML's `@font-face`).
pub const FONT_FAMILY: &str = "nimsans";

/// The font's bytes (DejaVu Sans, subset; see `assets/README.md`).
pub static FONT: &[u8] = include_bytes!("../../assets/DejaVuSans-subset.ttf");

fn register() -> Result<(), String> {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    DONE.get_or_init(|| {
        plotters::style::register_font(FONT_FAMILY, FontStyle::Normal, FONT)
            .map_err(|_| "the report font (assets/DejaVuSans-subset.ttf) is not a font".to_string())
    })
    .clone()
}

fn font(size: u32) -> TextStyle<'static> {
    (FONT_FAMILY, size).into_font().color(&RGBColor(40, 40, 40))
}

/// The colours, in series order (Tableau 10).
pub const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// Grey for load and references.
pub const GREY: RGBColor = RGBColor(150, 150, 150);

/// A line over time.
#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    /// Legend text.
    pub label: String,
    /// Colour.
    pub color: RGBColor,
    /// One value per x (NaN: a gap).
    pub values: Vec<f64>,
    /// Dashed.
    pub dashed: bool,
    /// Drawn as steps (the value holds until the next x).
    pub step: bool,
    /// On the right-hand axis.
    pub right: bool,
    /// Stroke width in pixels.
    pub width: u32,
}

/// A filled band between two lines, or a stacked layer (lo = the layers
/// below).
#[derive(Clone, Debug, PartialEq)]
pub struct Band {
    /// Legend text.
    pub label: String,
    /// Colour (drawn translucent).
    pub color: RGBColor,
    /// Opacity of the fill.
    pub opacity: f64,
    /// Lower edge per x (NaN: a gap).
    pub lo: Vec<f64>,
    /// Upper edge per x.
    pub hi: Vec<f64>,
}

/// A horizontal reference line (a target or an SLO).
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    /// Legend text.
    pub label: String,
    /// Colour.
    pub color: RGBColor,
    /// Height.
    pub y: f64,
}

/// A marked event: a triangle up or down with a short text.
#[derive(Clone, Debug, PartialEq)]
pub struct Marker {
    /// Where, in data units.
    pub x: f64,
    /// Where, in data units.
    pub y: f64,
    /// Up (scale-up) or down.
    pub up: bool,
    /// The text beside it.
    pub text: String,
}

/// A chart over time.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TimeChart {
    /// x values (already in the axis unit).
    pub x: Vec<f64>,
    /// x axis title.
    pub x_label: String,
    /// Left axis title.
    pub y_label: String,
    /// Right axis title (lines with `right`).
    pub y2_label: Option<String>,
    /// Left axis in decades (values must be positive).
    pub log: bool,
    /// Left axis starts at zero.
    pub from_zero: bool,
    /// Bands and stacked layers, drawn first.
    pub bands: Vec<Band>,
    /// Lines.
    pub lines: Vec<Line>,
    /// Reference lines.
    pub rules: Vec<Rule>,
    /// Marked events.
    pub markers: Vec<Marker>,
    /// Colour of the markers.
    pub marker_color: Option<RGBColor>,
    /// Legend text of the markers.
    pub marker_label: String,
}

/// One row of a dot chart: a mean with its confidence interval.
#[derive(Clone, Debug, PartialEq)]
pub struct Dot {
    /// Category label.
    pub label: String,
    /// Mean.
    pub mean: f64,
    /// 95 % half-width (NaN: unknown).
    pub ci: f64,
    /// Drawn highlighted (the winner).
    pub highlight: bool,
}

/// Categories side by side on one value axis.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DotChart {
    /// x axis title.
    pub x_label: String,
    /// Rows, top to bottom.
    pub dots: Vec<Dot>,
    /// A reference value (a threshold).
    pub rule: Option<Rule>,
}

/// One point of a scatter chart with intervals in both directions.
#[derive(Clone, Debug, PartialEq)]
pub struct ScatterPoint {
    /// Text beside the point.
    pub label: String,
    /// x mean and 95 % half-width.
    pub x: (f64, f64),
    /// y mean and 95 % half-width.
    pub y: (f64, f64),
    /// On the front.
    pub front: bool,
    /// Reaches the threshold.
    pub eligible: bool,
    /// The winner.
    pub winner: bool,
}

/// Cost against SLO attainment.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scatter {
    /// x axis title.
    pub x_label: String,
    /// y axis title.
    pub y_label: String,
    /// Points.
    pub points: Vec<ScatterPoint>,
    /// The attainment a point needs.
    pub threshold: Option<f64>,
}

/// What a chart draws.
#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    /// Over time.
    Time(TimeChart),
    /// Categories side by side.
    Dots(DotChart),
    /// Pareto scatter.
    Scatter(Scatter),
}

/// A chart of a report.
#[derive(Clone, Debug, PartialEq)]
pub struct Chart {
    /// File-name stem and HTML id.
    pub id: String,
    /// Title, drawn on the chart.
    pub title: String,
    /// What it shows, under it.
    pub caption: String,
    /// The drawing.
    pub kind: Kind,
}

/// Width of every chart in pixels.
pub const WIDTH: u32 = 960;

impl Chart {
    /// Pixel size of the plot, without the legend.
    fn plot_size(&self) -> (u32, u32) {
        match &self.kind {
            Kind::Time(_) => (WIDTH, 320),
            Kind::Dots(d) => (WIDTH, 80 + 26 * d.dots.len().max(1) as u32),
            Kind::Scatter(_) => (WIDTH, 420),
        }
    }

    /// Pixel size, legend included.
    pub fn size(&self) -> (u32, u32) {
        let (w, h) = self.plot_size();
        (w, h + legend_height(&legend(self)))
    }
}

/// What a legend entry shows beside its text.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Swatch {
    Line(RGBColor, u32, bool),
    Fill(RGBColor, f64),
    Triangle(RGBColor),
    Dot(RGBColor),
}

const LEGEND_ROW: u32 = 18;
const LEGEND_LEFT: i32 = 74;

fn legend(c: &Chart) -> Vec<(String, Swatch)> {
    let mut out = Vec::new();
    let has = |v: &[f64]| v.iter().any(|x| x.is_finite());
    match &c.kind {
        Kind::Time(t) => {
            for b in &t.bands {
                if !b.label.is_empty() && (has(&b.lo) || has(&b.hi)) {
                    out.push((b.label.clone(), Swatch::Fill(b.color, b.opacity)));
                }
            }
            for l in &t.lines {
                if !l.label.is_empty() && has(&l.values) {
                    out.push((l.label.clone(), Swatch::Line(l.color, l.width, l.dashed)));
                }
            }
            for r in &t.rules {
                out.push((r.label.clone(), Swatch::Line(r.color, 2, true)));
            }
            if !t.markers.is_empty() && !t.marker_label.is_empty() {
                out.push((
                    t.marker_label.clone(),
                    Swatch::Triangle(t.marker_color.unwrap_or(BLACK)),
                ));
            }
        }
        Kind::Dots(d) => {
            out.push((
                "mean with 95 % confidence interval".into(),
                Swatch::Dot(PALETTE[0]),
            ));
            if d.dots.iter().any(|p| p.highlight) {
                out.push(("winner".into(), Swatch::Dot(PALETTE[3])));
            }
            if let Some(r) = &d.rule {
                out.push((r.label.clone(), Swatch::Line(r.color, 2, true)));
            }
        }
        Kind::Scatter(s) => {
            if let Some(th) = s.threshold {
                out.push((
                    format!("attainment threshold {}", fmt_tick(th)),
                    Swatch::Line(PALETTE[2], 2, true),
                ));
            }
            if s.points.iter().filter(|p| p.front).count() > 1 {
                out.push(("Pareto front".into(), Swatch::Line(PALETTE[0], 2, false)));
            }
            if s.points.iter().any(|p| p.eligible && !p.winner) {
                out.push(("eligible point".into(), Swatch::Dot(PALETTE[0])));
            }
            if s.points.iter().any(|p| !p.eligible) {
                out.push(("below the threshold".into(), Swatch::Dot(GREY)));
            }
            if s.points.iter().any(|p| p.winner) {
                out.push(("winner".into(), Swatch::Dot(PALETTE[3])));
            }
        }
    }
    out
}

fn text_width(s: &str) -> i32 {
    // Registered before any chart is sized; a failure only narrows the
    // estimate.
    let _ = register();
    font(11)
        .font
        .box_size(s)
        .map_or(s.chars().count() as i32 * 7, |(w, _)| w as i32)
}

/// Where each legend entry goes: (row, x).
fn legend_layout(items: &[(String, Swatch)]) -> Vec<(u32, i32)> {
    let mut out = Vec::new();
    let (mut row, mut x) = (0u32, LEGEND_LEFT);
    for (label, _) in items {
        let w = 26 + text_width(label) + 22;
        if x + w > WIDTH as i32 - 10 && x > LEGEND_LEFT {
            row += 1;
            x = LEGEND_LEFT;
        }
        out.push((row, x));
        x += w;
    }
    out
}

fn legend_height(items: &[(String, Swatch)]) -> u32 {
    legend_layout(items)
        .last()
        .map_or(0, |(row, _)| (row + 1) * LEGEND_ROW + 8)
}

fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    items: &[(String, Swatch)],
) -> Res {
    for ((label, sw), (row, x)) in items.iter().zip(legend_layout(items)) {
        let y = (row * LEGEND_ROW) as i32 + 9;
        match *sw {
            Swatch::Line(c, w, dashed) => {
                let style = c.stroke_width(w.clamp(1, 3));
                if dashed {
                    for k in 0..2 {
                        area.draw(&PathElement::new(
                            vec![(x + k * 12, y), (x + k * 12 + 8, y)],
                            style,
                        ))
                        .map_err(e)?;
                    }
                } else {
                    area.draw(&PathElement::new(vec![(x, y), (x + 20, y)], style))
                        .map_err(e)?;
                }
            }
            Swatch::Fill(c, op) => {
                area.draw(&Rectangle::new(
                    [(x, y - 6), (x + 20, y + 6)],
                    c.mix(op).filled(),
                ))
                .map_err(e)?;
            }
            Swatch::Triangle(c) => {
                area.draw(&Polygon::new(
                    vec![(x + 10, y - 7), (x + 16, y + 4), (x + 4, y + 4)],
                    c.filled(),
                ))
                .map_err(e)?;
            }
            Swatch::Dot(c) => {
                area.draw(&Circle::new((x + 10, y), 5, c.filled()))
                    .map_err(e)?;
            }
        }
        area.draw(&Text::new(label.clone(), (x + 26, y - 6), font(11)))
            .map_err(e)?;
    }
    Ok(())
}

/// The chart as an SVG document.
pub fn svg(c: &Chart) -> Result<String, String> {
    register()?;
    let mut s = String::new();
    {
        let root = SVGBackend::with_string(&mut s, c.size()).into_drawing_area();
        draw(&root, c)?;
        root.present().map_err(|e| format!("{e:?}"))?;
    }
    Ok(s)
}

/// The chart as a PNG image.
pub fn png(c: &Chart) -> Result<Vec<u8>, String> {
    register()?;
    let (w, h) = c.size();
    let mut buf = vec![0u8; w as usize * h as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        draw(&root, c)?;
        root.present().map_err(|e| format!("{e:?}"))?;
    }
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut wr = enc.write_header().map_err(|e| e.to_string())?;
        wr.write_image_data(&buf).map_err(|e| e.to_string())?;
    }
    Ok(out)
}

type Res = Result<(), String>;

fn e<E: std::fmt::Debug>(x: E) -> String {
    format!("{x:?}")
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, c: &Chart) -> Res {
    root.fill(&WHITE).map_err(e)?;
    let (_, h) = c.plot_size();
    let (plot, below) = root.split_vertically(h);
    match &c.kind {
        Kind::Time(t) => draw_time(&plot, &c.title, t)?,
        Kind::Dots(d) => draw_dots(&plot, &c.title, d)?,
        Kind::Scatter(s) => draw_scatter(&plot, &c.title, s)?,
    }
    draw_legend(&below, &legend(c))
}

/// The finite range of some values, widened a little; a flat or empty range
/// is opened up so the axis can be drawn.
fn range(values: impl Iterator<Item = f64>, from_zero: bool) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if from_zero {
        lo = lo.min(0.0);
    }
    if hi - lo < 1e-12 {
        let pad = if hi.abs() > 0.0 { hi.abs() * 0.1 } else { 1.0 };
        return (
            lo - if from_zero && lo >= 0.0 { 0.0 } else { pad },
            hi + pad,
        );
    }
    let pad = (hi - lo) * 0.06;
    (if from_zero && lo >= 0.0 { lo } else { lo - pad }, hi + pad)
}

/// Runs of consecutive indices where `ok` holds.
fn runs(n: usize, ok: impl Fn(usize) -> bool) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    for i in 0..=n {
        let good = i < n && ok(i);
        match (start, good) {
            (None, true) => start = Some(i),
            (Some(s), false) => {
                out.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    out
}

fn log10(v: f64) -> f64 {
    if v > 0.0 { v.log10() } else { f64::NAN }
}

/// Seconds in a short human unit (for latency axes).
pub fn fmt_secs(v: f64) -> String {
    if !v.is_finite() {
        "–".into()
    } else if v >= 1.0 {
        let s = format!("{v:.1}");
        format!("{} s", s.trim_end_matches(".0"))
    } else if v >= 1e-3 {
        let s = format!("{:.1}", v * 1e3);
        format!("{} ms", s.trim_end_matches(".0"))
    } else {
        format!("{:.0} µs", v * 1e6)
    }
}

/// A number for an axis tick: few digits, no trailing zeros.
pub fn fmt_tick(v: f64) -> String {
    let a = v.abs();
    let s = if a >= 100.0 || a == 0.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    };
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    if s == "-0" { "0".into() } else { s }
}

fn draw_time<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, title: &str, t: &TimeChart) -> Res {
    let n = t.x.len();
    let tr = |v: f64| if t.log { log10(v) } else { v };
    let x0 = t.x.first().copied().unwrap_or(0.0);
    let x1 = t.x.last().copied().filter(|x| *x > x0).unwrap_or(x0 + 1.0);
    let left = t
        .bands
        .iter()
        .flat_map(|b| b.lo.iter().chain(&b.hi))
        .chain(t.lines.iter().filter(|l| !l.right).flat_map(|l| &l.values))
        .copied()
        .chain(t.rules.iter().map(|r| r.y))
        .chain(t.markers.iter().map(|m| m.y))
        .map(tr);
    let (mut y0, mut y1) = range(left, t.from_zero && !t.log);
    if !t.markers.is_empty() {
        // Room above for the markers' texts.
        y1 += (y1 - y0) * 0.12;
    }
    if t.log {
        y0 = y0.floor();
        y1 = y1.ceil().max(y0 + 1.0);
    }
    let (r0, r1) = range(
        t.lines
            .iter()
            .filter(|l| l.right)
            .flat_map(|l| &l.values)
            .copied(),
        true,
    );
    // Right-axis lines are drawn in left-axis units so one legend lists all.
    let to_left = |v: f64| y0 + (v - r0) / (r1 - r0) * (y1 - y0);
    let mut ch = ChartBuilder::on(root)
        .caption(title, font(17))
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(64)
        .right_y_label_area_size(if t.y2_label.is_some() { 64 } else { 12 })
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(e)?
        .set_secondary_coord(x0..x1, r0..r1);
    let log = t.log;
    let yfmt = move |v: &f64| {
        if log {
            fmt_secs(10f64.powf(*v))
        } else {
            fmt_tick(*v)
        }
    };
    let mut mesh = ch.configure_mesh();
    mesh.x_desc(t.x_label.as_str())
        .y_desc(t.y_label.as_str())
        .label_style(font(11))
        .axis_desc_style(font(12))
        .bold_line_style(BLACK.mix(0.08))
        .light_line_style(TRANSPARENT)
        .x_labels(12)
        .x_label_formatter(&|v| fmt_tick(*v))
        .y_label_formatter(&yfmt);
    if log {
        mesh.y_labels(((y1 - y0) as usize) + 1);
    }
    mesh.draw().map_err(e)?;
    if let Some(l2) = &t.y2_label {
        ch.configure_secondary_axes()
            .y_desc(l2.as_str())
            .label_style(font(11))
            .axis_desc_style(font(12))
            .y_label_formatter(&|v| fmt_tick(*v))
            .draw()
            .map_err(e)?;
    }
    for b in &t.bands {
        let lo: Vec<f64> = b.lo.iter().map(|v| tr(*v)).collect();
        let hi: Vec<f64> = b.hi.iter().map(|v| tr(*v)).collect();
        let color = b.color.mix(b.opacity);
        for (s, end) in runs(n, |i| lo[i].is_finite() && hi[i].is_finite()) {
            let mut pts: Vec<(f64, f64)> = (s..end).map(|i| (t.x[i], hi[i])).collect();
            pts.extend((s..end).rev().map(|i| (t.x[i], lo[i])));
            ch.draw_series(std::iter::once(Polygon::new(pts, color.filled())))
                .map_err(e)?;
        }
    }
    for l in &t.lines {
        let vals: Vec<f64> = l
            .values
            .iter()
            .map(|v| if l.right { to_left(*v) } else { tr(*v) })
            .collect();
        let style = l.color.stroke_width(l.width.max(1));
        for (s, end) in runs(n, |i| vals[i].is_finite()) {
            let mut pts: Vec<(f64, f64)> = Vec::with_capacity((end - s) * 2);
            for i in s..end {
                if l.step && i > s {
                    pts.push((t.x[i], vals[i - 1]));
                }
                pts.push((t.x[i], vals[i]));
            }
            if l.dashed {
                ch.draw_series(DashedLineSeries::new(pts, 6, 4, style))
                    .map_err(e)?;
            } else {
                ch.draw_series(LineSeries::new(pts, style)).map_err(e)?;
            }
        }
    }
    for r in &t.rules {
        let style = r.color.stroke_width(2);
        let y = tr(r.y);
        if !y.is_finite() {
            continue;
        }
        ch.draw_series(DashedLineSeries::new(vec![(x0, y), (x1, y)], 8, 5, style))
            .map_err(e)?;
    }
    if !t.markers.is_empty() {
        let color = t.marker_color.unwrap_or(BLACK);
        let ms: Vec<&Marker> = t.markers.iter().filter(|m| tr(m.y).is_finite()).collect();
        // Texts of markers close together are staggered so they stay
        // readable.
        let close = (x1 - x0) * 0.03;
        let mut level = 0;
        let mut last_x = f64::NEG_INFINITY;
        let mut elements = Vec::new();
        for m in ms {
            level = if m.x - last_x < close {
                (level + 1) % 3
            } else {
                0
            };
            last_x = m.x;
            let tri = if m.up {
                vec![(0, -7), (6, 4), (-6, 4)]
            } else {
                vec![(0, 7), (6, -4), (-6, -4)]
            };
            let dy = if m.up {
                -20 - 12 * level
            } else {
                9 + 12 * level
            };
            elements.push(
                EmptyElement::at((m.x, tr(m.y)))
                    + Polygon::new(tri, color.filled())
                    + Text::new(m.text.clone(), (5, dy), font(10)),
            );
        }
        ch.draw_series(elements).map_err(e)?;
    }
    Ok(())
}

fn draw_dots<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, title: &str, d: &DotChart) -> Res {
    let n = d.dots.len().max(1);
    let vals = d
        .dots
        .iter()
        .flat_map(|p| {
            let ci = if p.ci.is_finite() { p.ci } else { 0.0 };
            [p.mean - ci, p.mean + ci]
        })
        .chain(d.rule.iter().map(|r| r.y));
    let (x0, x1) = range(vals, false);
    let longest = d
        .dots
        .iter()
        .map(|p| text_width(&p.label))
        .max()
        .unwrap_or(30);
    let labels: Vec<String> = d.dots.iter().map(|p| p.label.clone()).collect();
    let ylab = move |v: &f64| {
        let i = v.round();
        if (v - i).abs() > 1e-6 || i < 0.0 {
            return String::new();
        }
        let k = n as i64 - 1 - i as i64;
        usize::try_from(k)
            .ok()
            .and_then(|k| labels.get(k))
            .cloned()
            .unwrap_or_default()
    };
    let mut ch = ChartBuilder::on(root)
        .caption(title, font(16))
        .margin(10)
        .x_label_area_size(38)
        .y_label_area_size((longest + 20).clamp(60, 520) as u32)
        .build_cartesian_2d(x0..x1, -0.6..(n as f64 - 0.4))
        .map_err(e)?;
    ch.configure_mesh()
        .x_desc(d.x_label.as_str())
        .label_style(font(11))
        .axis_desc_style(font(12))
        .bold_line_style(BLACK.mix(0.08))
        .light_line_style(TRANSPARENT)
        .y_labels(n * 2 + 1)
        .y_label_formatter(&ylab)
        .x_label_formatter(&|v| fmt_tick(*v))
        .disable_y_mesh()
        .draw()
        .map_err(e)?;
    if let Some(r) = &d.rule {
        let style = r.color.stroke_width(2);
        ch.draw_series(DashedLineSeries::new(
            vec![(r.y, -0.6), (r.y, n as f64 - 0.4)],
            8,
            5,
            style,
        ))
        .map_err(e)?;
    }
    for (i, p) in d.dots.iter().enumerate() {
        let y = (n - 1 - i) as f64;
        let color = if p.highlight { PALETTE[3] } else { PALETTE[0] };
        if p.ci.is_finite() && p.mean.is_finite() {
            let s = color.stroke_width(2);
            ch.draw_series(std::iter::once(PathElement::new(
                vec![(p.mean - p.ci, y), (p.mean + p.ci, y)],
                s,
            )))
            .map_err(e)?;
            for end in [p.mean - p.ci, p.mean + p.ci] {
                ch.draw_series(std::iter::once(
                    EmptyElement::at((end, y)) + PathElement::new(vec![(0, -5), (0, 5)], s),
                ))
                .map_err(e)?;
            }
        }
        if p.mean.is_finite() {
            ch.draw_series(std::iter::once(Circle::new(
                (p.mean, y),
                if p.highlight { 6 } else { 4 },
                color.filled(),
            )))
            .map_err(e)?;
        }
    }
    Ok(())
}

fn draw_scatter<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    s: &Scatter,
) -> Res {
    let fin = |v: f64| if v.is_finite() { v } else { 0.0 };
    let (x0, x1) = range(
        s.points
            .iter()
            .flat_map(|p| [p.x.0 - fin(p.x.1), p.x.0 + fin(p.x.1)]),
        false,
    );
    let (y0, y1) = range(
        s.points
            .iter()
            .flat_map(|p| [p.y.0 - fin(p.y.1), p.y.0 + fin(p.y.1)])
            .chain(s.threshold),
        false,
    );
    let mut ch = ChartBuilder::on(root)
        .caption(title, font(17))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(64)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(e)?;
    ch.configure_mesh()
        .x_desc(s.x_label.as_str())
        .y_desc(s.y_label.as_str())
        .label_style(font(11))
        .axis_desc_style(font(12))
        .bold_line_style(BLACK.mix(0.08))
        .light_line_style(TRANSPARENT)
        .x_label_formatter(&|v| fmt_tick(*v))
        .y_label_formatter(&|v| fmt_tick(*v))
        .draw()
        .map_err(e)?;
    if let Some(th) = s.threshold {
        let style = PALETTE[2].stroke_width(2);
        ch.draw_series(DashedLineSeries::new(vec![(x0, th), (x1, th)], 8, 5, style))
            .map_err(e)?;
    }
    let mut front: Vec<&ScatterPoint> = s.points.iter().filter(|p| p.front).collect();
    front.sort_by(|a, b| a.x.0.total_cmp(&b.x.0));
    if front.len() > 1 {
        let style = PALETTE[0].mix(0.6).stroke_width(2);
        ch.draw_series(LineSeries::new(front.iter().map(|p| (p.x.0, p.y.0)), style))
            .map_err(e)?;
    }
    let whisker = GREY.stroke_width(1);
    for p in &s.points {
        if p.x.1.is_finite() && p.x.1 > 0.0 {
            ch.draw_series(std::iter::once(PathElement::new(
                vec![(p.x.0 - p.x.1, p.y.0), (p.x.0 + p.x.1, p.y.0)],
                whisker,
            )))
            .map_err(e)?;
        }
        if p.y.1.is_finite() && p.y.1 > 0.0 {
            ch.draw_series(std::iter::once(PathElement::new(
                vec![(p.x.0, p.y.0 - p.y.1), (p.x.0, p.y.0 + p.y.1)],
                whisker,
            )))
            .map_err(e)?;
        }
    }
    // Points at the same place share one text ("#0, #3"), written by the
    // first of them; the winner's text is its own.
    let same = |a: &ScatterPoint, b: &ScatterPoint| a.x.0 == b.x.0 && a.y.0 == b.y.0;
    let text = |i: usize| -> String {
        let p = &s.points[i];
        if p.winner || s.points[..i].iter().any(|q| !q.winner && same(q, p)) {
            return String::new();
        }
        s.points[i..]
            .iter()
            .filter(|q| !q.winner && same(q, p))
            .map(|q| q.label.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    for eligible in [true, false] {
        let color = if eligible { PALETTE[0] } else { GREY };
        let pts: Vec<(usize, &ScatterPoint)> = s
            .points
            .iter()
            .enumerate()
            .filter(|(_, p)| p.eligible == eligible && !p.winner)
            .collect();
        if pts.is_empty() {
            continue;
        }
        ch.draw_series(pts.iter().map(|&(i, p)| {
            EmptyElement::at((p.x.0, p.y.0))
                + Circle::new((0, 0), 5, color.filled())
                + Text::new(text(i), (7, -14), font(10))
        }))
        .map_err(e)?;
    }
    if let Some(w) = s.points.iter().find(|p| p.winner) {
        let c = PALETTE[3];
        ch.draw_series(std::iter::once(
            EmptyElement::at((w.x.0, w.y.0))
                + Circle::new((0, 0), 9, c.stroke_width(3))
                + Circle::new((0, 0), 5, c.filled())
                + Text::new(format!("{} (winner)", w.label), (12, -16), font(12)),
        ))
        .map_err(e)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
