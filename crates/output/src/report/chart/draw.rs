//! Drawing the three kinds of chart on any plotters backend.

use super::*;

/// The finite range of some values, widened a little; a flat or empty range
/// is opened up so the axis can be drawn.
pub(super) fn range(values: impl Iterator<Item = f64>, from_zero: bool) -> (f64, f64) {
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
pub(super) fn runs(n: usize, ok: impl Fn(usize) -> bool) -> Vec<(usize, usize)> {
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

pub(super) fn log10(v: f64) -> f64 {
    if v > 0.0 { v.log10() } else { f64::NAN }
}

/// A time chart's left-axis range (in drawn units: log10 on a log axis,
/// with room above for marker texts) and its right-axis range.
fn time_ranges(t: &TimeChart, tr: &dyn Fn(f64) -> f64) -> ((f64, f64), (f64, f64)) {
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
    ((y0, y1), (r0, r1))
}

pub(super) fn draw_time<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    t: &TimeChart,
) -> Res {
    let n = t.x.len();
    let tr = |v: f64| if t.log { log10(v) } else { v };
    let x0 = t.x.first().copied().unwrap_or(0.0);
    let x1 = t.x.last().copied().filter(|x| *x > x0).unwrap_or(x0 + 1.0);
    let ((y0, y1), (r0, r1)) = time_ranges(t, &tr);
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
        let elements = marker_layout(&t.markers, &tr, (x1 - x0) * 0.03)
            .into_iter()
            .map(|(m, level)| {
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
                EmptyElement::at((m.x, tr(m.y)))
                    + Polygon::new(tri, color.filled())
                    + Text::new(m.text.clone(), (5, dy), font(10))
            });
        ch.draw_series(elements).map_err(e)?;
    }
    Ok(())
}

/// The markers that can be drawn, each with its text's level (0 to 2):
/// texts of markers closer than `close` are staggered so they stay
/// readable.
fn marker_layout<'m>(
    markers: &'m [Marker],
    tr: &dyn Fn(f64) -> f64,
    close: f64,
) -> Vec<(&'m Marker, i32)> {
    let mut level = 0;
    let mut last_x = f64::NEG_INFINITY;
    let mut out = Vec::new();
    for m in markers.iter().filter(|m| tr(m.y).is_finite()) {
        level = if m.x - last_x < close {
            (level + 1) % 3
        } else {
            0
        };
        last_x = m.x;
        out.push((m, level));
    }
    out
}

pub(super) fn draw_dots<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    d: &DotChart,
) -> Res {
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

pub(super) fn draw_scatter<DB: DrawingBackend>(
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
