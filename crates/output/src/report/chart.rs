//! Charts, drawn with plotters on SVG (for HTML) or on a bitmap (PNG for
//! Markdown), from one description so both show the same thing. Text is
//! laid out and drawn with the font kept in `assets/`, registered once.

use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;
pub use plotters::style::RGBColor;

mod draw;

use draw::{draw_dots, draw_scatter, draw_time};

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

#[cfg(test)]
mod tests;
