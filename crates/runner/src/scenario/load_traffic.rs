//! A scenario's traffic: rate patterns with token-length distributions, or
//! a trace replayed.

use super::defaults as d;
use super::*;

pub(super) fn at(s: f64) -> SimTime {
    SimTime::ZERO + secs(s)
}

/// `traffic.images`: the tokens and encoder FLOPs of each image, from the
/// model's vision encoder.
fn images(cx: &mut Ctx<'_>, raw: Option<&RawImages>, model: Option<&ModelSpec>) -> Option<Images> {
    let i = raw?;
    let path = "traffic.images";
    let model = model?;
    let Some(v) = model.vision else {
        cx.err(
            path,
            format!(
                "{} has no vision encoder (a VLM's catalog entry or config.json gives one)",
                model.name
            ),
        );
        return None;
    };
    if i.count == 0 || i.count > 1000 {
        cx.err(&format!("{path}.count"), "must be from 1 to 1000");
    }
    for (f, px) in [("width", i.width), ("height", i.height)] {
        if !(1..=100_000).contains(&px) {
            cx.err(&format!("{path}.{f}"), "must be from 1 to 100000 pixels");
        }
    }
    let share = i.share.unwrap_or(1.0);
    if !(share > 0.0 && share <= 1.0) {
        cx.err(&format!("{path}.share"), "must be in (0, 1]");
    }
    let tokens = v.tokens(i.width, i.height);
    Some(Images {
        per_request: i.count.clamp(1, 1000),
        share: share.clamp(f64::MIN_POSITIVE, 1.0),
        tokens_per_image: tokens.min(u64::from(u32::MAX)) as u32,
        flops_per_image: v.flops(i.width, i.height),
    })
}

pub(super) fn traffic(
    raw: &RawScenario,
    cx: &mut Ctx<'_>,
    files: &dyn Files,
    model: Option<&ModelSpec>,
) -> Option<(Traffic, Vec<SimTime>)> {
    let t = &raw.traffic;
    let images = images(cx, t.images.as_ref(), model);
    if images.is_some() && t.trace.is_some() {
        cx.err(
            "traffic.images",
            "images go with synthetic traffic (`pattern` or `closedLoop`): a trace's rows give their own token counts",
        );
    }
    let closed = t.closed_loop.is_some();
    match (&t.pattern, &t.trace) {
        (Some(_), Some(_)) => {
            cx.err("traffic", "give exactly one of `pattern` or `trace`");
            None
        }
        (None, None) if !closed => {
            cx.err(
                "traffic",
                "give one of `pattern` or `trace` (or `closedLoop`)",
            );
            None
        }
        (Some(_), None) if closed => {
            cx.err(
                "traffic.pattern",
                "a closed loop sends when its clients are ready, not at a rate: leave out `pattern` (token lengths come from `prompt` and `output`)",
            );
            None
        }
        (None, None) => {
            // The generator supplies the token lengths; its times are unused.
            let prompt = cx.token_dist(t.prompt.as_ref(), "traffic.prompt", d::PROMPT_TOKENS);
            let output = cx.token_dist(t.output.as_ref(), "traffic.output", d::OUTPUT_TOKENS);
            Some((
                Traffic::Pattern {
                    pattern: Pattern::Piecewise(vec![(0.0, 1.0)]),
                    prompt,
                    output,
                    images,
                },
                vec![],
            ))
        }
        (Some(p), None) => {
            let prompt = cx.token_dist(t.prompt.as_ref(), "traffic.prompt", d::PROMPT_TOKENS);
            let output = cx.token_dist(t.output.as_ref(), "traffic.output", d::OUTPUT_TOKENS);
            let (pattern, changes) = pattern(cx, p);
            Some((
                Traffic::Pattern {
                    pattern,
                    prompt,
                    output,
                    images,
                },
                changes,
            ))
        }
        (None, Some(tr)) => {
            if t.prompt.is_some() || t.output.is_some() {
                cx.warnings.push(
                    "traffic.prompt and traffic.output are ignored with a trace (the trace gives token counts)".into(),
                );
            }
            trace(cx, tr, files)
        }
    }
}

/// `traffic.pattern`: the rate over time, and the times the load changes
/// (for the time-to-scale table).
fn pattern(cx: &mut Ctx<'_>, p: &RawPattern) -> (Pattern, Vec<SimTime>) {
    let path = "traffic.pattern";
    match p {
        RawPattern::Constant { rate } => (
            Pattern::Piecewise(vec![(0.0, cx.rate(*rate, &format!("{path}.rate")))]),
            vec![],
        ),
        RawPattern::Ramp {
            from,
            to,
            start,
            end,
        } => {
            let (a, b) = (
                cx.rate(*from, &format!("{path}.from")),
                cx.rate(*to, &format!("{path}.to")),
            );
            let (s, e) = (
                cx.secs_of(start, &format!("{path}.start")),
                cx.secs_of(end, &format!("{path}.end")),
            );
            if e < s {
                cx.err(&format!("{path}.end"), "the ramp ends before it starts");
            }
            (Pattern::Piecewise(vec![(s, a), (e, b)]), vec![at(s)])
        }
        RawPattern::Step { steps } => step_pattern(cx, steps),
        RawPattern::Spike {
            base,
            peak,
            at: start,
            duration,
            ramp_up,
        } => {
            let (b, pk) = (
                cx.rate(*base, &format!("{path}.base")),
                cx.rate(*peak, &format!("{path}.peak")),
            );
            let s = cx.secs_of(start, &format!("{path}.at"));
            let d = cx.secs_of(duration, &format!("{path}.duration"));
            let r = ramp_up
                .as_ref()
                .map_or(0.0, |r| cx.secs_of(r, &format!("{path}.rampUp")));
            if r > d {
                cx.err(&format!("{path}.rampUp"), "longer than the spike");
            }
            (
                Pattern::Piecewise(vec![(s, b), (s + r, pk), (s + d, pk), (s + d, b)]),
                vec![at(s), at(s + d)],
            )
        }
        RawPattern::Decrease {
            from,
            to,
            at: start,
            over,
        } => {
            let (a, b) = (
                cx.rate(*from, &format!("{path}.from")),
                cx.rate(*to, &format!("{path}.to")),
            );
            let s = cx.secs_of(start, &format!("{path}.at"));
            let o = over
                .as_ref()
                .map_or(0.0, |o| cx.secs_of(o, &format!("{path}.over")));
            if b > a {
                cx.warnings.push(
                    "traffic.pattern: a `decrease` whose `to` is above `from` is an increase"
                        .into(),
                );
            }
            (Pattern::Piecewise(vec![(s, a), (s + o, b)]), vec![at(s)])
        }
        RawPattern::Diurnal {
            mean,
            amplitude,
            period,
            phase,
        } => {
            let m = cx.rate(*mean, &format!("{path}.mean"));
            let per = cx.dur(
                period.as_ref(),
                &format!("{path}.period"),
                d::DIURNAL_PERIOD,
            );
            if per <= SimDuration::ZERO {
                cx.err(&format!("{path}.period"), "must be longer than 0s");
            }
            let ph = cx.dur(phase.as_ref(), &format!("{path}.phase"), SimDuration::ZERO);
            (
                Pattern::Diurnal {
                    mean: m,
                    amplitude: *amplitude,
                    period: per.as_secs_f64(),
                    phase: ph.as_secs_f64(),
                },
                vec![],
            )
        }
        RawPattern::Bursty { states } => (Pattern::Bursty(burst_states(cx, states)), vec![]),
    }
}

/// A `step` pattern: rates from each step's time on, in time order.
fn step_pattern(cx: &mut Ctx<'_>, steps: &[RawStep]) -> (Pattern, Vec<SimTime>) {
    let path = "traffic.pattern";
    let mut knots = Vec::new();
    let mut changes = Vec::new();
    let mut last = f64::NEG_INFINITY;
    for (i, st) in steps.iter().enumerate() {
        let s = cx.secs_of(&st.at, &format!("{path}.steps[{i}].at"));
        let r = cx.rate(st.rate, &format!("{path}.steps[{i}].rate"));
        if s < last {
            cx.err(
                &format!("{path}.steps[{i}].at"),
                "steps must be in time order",
            );
        }
        last = s;
        if let Some(&(_, prev)) = knots.last() {
            knots.push((s, prev));
            changes.push(at(s));
        }
        knots.push((s, r));
    }
    if knots.is_empty() {
        cx.err(&format!("{path}.steps"), "needs at least one step");
    }
    (Pattern::Piecewise(knots), changes)
}

/// A `bursty` pattern's states: a rate and a mean dwell time each.
fn burst_states(cx: &mut Ctx<'_>, states: &[RawBurstState]) -> Vec<BurstState> {
    let path = "traffic.pattern";
    if states.is_empty() {
        cx.err(&format!("{path}.states"), "needs at least one state");
    }
    states
        .iter()
        .enumerate()
        .map(|(i, s)| BurstState {
            rate: cx.rate(s.rate, &format!("{path}.states[{i}].rate")),
            mean_dwell: {
                let d = cx.secs_of(
                    &s.mean_duration,
                    &format!("{path}.states[{i}].meanDuration"),
                );
                if d <= 0.0 {
                    cx.err(
                        &format!("{path}.states[{i}].meanDuration"),
                        "must be longer than 0s",
                    );
                }
                d.max(1e-3)
            },
        })
        .collect()
}

/// `traffic.trace`: a trace file, read and checked, with its replay
/// settings.
fn trace(cx: &mut Ctx<'_>, tr: &RawTrace, files: &dyn Files) -> Option<(Traffic, Vec<SimTime>)> {
    let p = "traffic.trace";
    let time_scale = tr.time_scale.unwrap_or(1.0);
    cx.positive(time_scale, &format!("{p}.timeScale"));
    let mult = tr.rate_multiplier.unwrap_or(1.0);
    cx.positive(mult, &format!("{p}.rateMultiplier"));
    let skip = cx.dur(tr.skip.as_ref(), &format!("{p}.skip"), SimDuration::ZERO);
    let (name, bytes) = match files.read(&tr.file) {
        Ok(x) => x,
        Err(e) => {
            cx.err(&format!("{p}.file"), e);
            return None;
        }
    };
    let parsed = match traces::parse(&bytes, &name, tr.format) {
        Ok(t) => t,
        Err(e) => {
            cx.errs.extend(e.0);
            return None;
        }
    };
    if parsed.reordered {
        cx.warnings.push(format!(
            "{name}: rows were not in time order; replayed sorted"
        ));
    }
    let mut rows = parsed.rows;
    if tr.spread_ticks.unwrap_or(false) {
        spread_ticks(&mut rows);
    }
    let zero = rows
        .iter()
        .filter(|r| r.prompt == 0 || r.output == 0)
        .count();
    if zero > 0 {
        cx.warnings.push(format!(
            "{name}: {zero} requests have 0 prompt or output tokens; the engine refuses them (counted as failed)"
        ));
    }
    Some((
        Traffic::Trace {
            rows: rows.into(),
            opts: ReplayOptions {
                time_scale,
                rate_multiplier: mult,
                repeat: tr.repeat.unwrap_or(false),
                skip_s: skip.as_secs_f64(),
            },
            file: tr.file.clone(),
        },
        vec![],
    ))
}

/// `traffic.clients` and `traffic.closedLoop`.
pub(super) fn clients(raw: &RawScenario, cx: &mut Ctx<'_>) -> Option<Clients> {
    let t = &raw.traffic;
    if t.clients.is_none() && t.closed_loop.is_none() {
        return None;
    }
    let c = t.clients.as_ref();
    let path = "traffic.clients";
    let timeout = (c.and_then(|c| c.timeout.as_ref()))
        .map(|v| cx.dur(Some(v), &format!("{path}.timeout"), SimDuration::ZERO));
    if timeout == Some(SimDuration::ZERO) {
        cx.err(
            &format!("{path}.timeout"),
            "a timeout of 0 fails every request; leave it out for no timeout",
        );
    }
    let patience = (c.and_then(|c| c.patience.as_ref()))
        .map(|p| cx.time_dist(Some(p), &format!("{path}.patience"), d::THINK));
    let b = c.and_then(|c| c.backoff.as_ref());
    let bp = format!("{path}.backoff");
    let mut backoff = d::BACKOFF;
    if let Some(b) = b {
        backoff.initial = cx.dur(
            b.initial.as_ref(),
            &format!("{bp}.initial"),
            backoff.initial,
        );
        backoff.max = cx.dur(b.max.as_ref(), &format!("{bp}.max"), backoff.max);
        if let Some(m) = b.multiplier {
            if !(m.is_finite() && (1.0..=100.0).contains(&m)) {
                cx.err(
                    &format!("{bp}.multiplier"),
                    format!("must be from 1 to 100, found {m}"),
                );
            }
            backoff.multiplier = m;
        }
        if let Some(j) = b.jitter {
            if !(j.is_finite() && (0.0..=1.0).contains(&j)) {
                cx.err(
                    &format!("{bp}.jitter"),
                    format!("must be from 0 to 1, found {j}"),
                );
            }
            backoff.jitter = j;
        }
    }
    let closed_loop = t.closed_loop.as_ref().map(|cl| {
        if cl.concurrency == 0 {
            cx.err("traffic.closedLoop.concurrency", "at least one client");
        }
        ClosedLoop {
            concurrency: cl.concurrency,
            think: cx.time_dist(cl.think.as_ref(), "traffic.closedLoop.think", d::THINK),
        }
    });
    Some(Clients {
        timeout,
        patience,
        retries: c.and_then(|c| c.retries).unwrap_or(d::CLIENT_RETRIES),
        backoff,
        closed_loop,
    })
}
