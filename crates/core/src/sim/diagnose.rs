//! What a run says about its configuration: findings with stable codes that
//! a user must read before acting on the figures (an HPA that never
//! received its metric, a deployment pinned at `maxReplicas`, requests lost
//! to overload). A pure function of the run's summary.

use super::record::{Diagnostic, MetricReads, Severity, Summary};

/// Share of syncs without a value above which a metric is "often"
/// unavailable.
pub const OFTEN_UNAVAILABLE: f64 = 0.1;
/// Share of the run at `maxReplicas` above which a configuration is
/// "pinned" there.
pub const PINNED_SHARE: f64 = 0.5;
/// Share of arrived requests left unfinished at the end above which the
/// run was overloaded.
pub const UNFINISHED_SHARE: f64 = 0.01;

fn diag(code: &str, severity: Severity, message: String) -> Diagnostic {
    Diagnostic {
        code: code.to_string(),
        severity,
        message,
    }
}

fn reason(r: &MetricReads) -> String {
    r.first_error
        .as_deref()
        .map_or_else(String::new, |e| format!("; the first sync's reason: {e}"))
}

/// The findings of a run, errors first (in code order within a severity).
pub fn diagnose(s: &Summary) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for r in &s.metric_reads {
        if r.syncs == 0 {
            continue;
        }
        let missing = r.syncs - r.available;
        if r.available == 0 {
            out.push(diag(
                "hpa-metric-never-available",
                Severity::Error,
                format!(
                    "the HPA received no value for {} in {} of {} syncs: it never scaled on it{}",
                    r.name,
                    missing,
                    r.syncs,
                    reason(r)
                ),
            ));
        } else if f64::from(missing) > OFTEN_UNAVAILABLE * f64::from(r.syncs) {
            out.push(diag(
                "hpa-metric-often-unavailable",
                Severity::Warning,
                format!(
                    "the HPA received no value for {} in {} of {} syncs ({:.0} %), and held its replicas then{}",
                    r.name,
                    missing,
                    r.syncs,
                    100.0 * f64::from(missing) / f64::from(r.syncs),
                    reason(r)
                ),
            ));
        }
        if r.available > 0 && r.target.is_finite() && r.min_seen > r.target {
            out.push(diag(
                "never-below-target",
                Severity::Warning,
                format!(
                    "{} never fell to its target {} (lowest value received {}): the metric's floor is above the target, so the HPA can only scale up",
                    r.name,
                    fmt(r.target),
                    fmt(r.min_seen)
                ),
            ));
        }
    }
    if let Some(max) = s.max_replicas
        && s.duration_s > 0.0
        && s.seconds_at_max >= PINNED_SHARE * s.duration_s
    {
        out.push(diag(
            "pinned-at-max",
            Severity::Warning,
            format!(
                "desired replicas were maxReplicas ({max}) for {:.0} % of the run: the HPA is not choosing a size, and the figures are those of a fixed deployment of {max} pods",
                100.0 * s.seconds_at_max / s.duration_s
            ),
        ));
    }
    if let Some(d) = blind_to_overload(s) {
        out.push(d);
    }
    if s.max_replicas.is_some() && s.syncs > 0 && s.scale_ups + s.scale_downs == 0 {
        out.push(diag(
            "never-scaled",
            Severity::Warning,
            format!(
                "the HPA changed the replicas in none of its {} syncs",
                s.syncs
            ),
        ));
    }
    let rq = &s.requests;
    if rq.front_queue_timeout > 0 {
        out.push(diag(
            "requests-timed-out",
            Severity::Warning,
            format!(
                "{} of {} requests timed out waiting for a ready pod in the front queue",
                rq.front_queue_timeout, rq.arrived
            ),
        ));
    }
    if rq.client_timeout > 0 {
        out.push(diag(
            "requests-timed-out",
            Severity::Warning,
            format!(
                "{} of {} requests reached the client's timeout on their last attempt ({} retries in all): the service was too slow for its clients",
                rq.client_timeout, rq.arrived, rq.retries
            ),
        ));
    }
    if rq.abandoned > 0 {
        out.push(diag(
            "requests-abandoned",
            Severity::Warning,
            format!(
                "{} of {} requests were abandoned: their users gave up before the first token",
                rq.abandoned, rq.arrived
            ),
        ));
    }
    if rq.arrived > 0 && rq.unfinished as f64 > UNFINISHED_SHARE * rq.arrived as f64 {
        out.push(diag(
            "requests-unfinished",
            Severity::Warning,
            format!(
                "{} of {} requests ({:.1} %) were still queued or running at the end: the service was overloaded, and latency figures count only the requests that finished",
                rq.unfinished,
                rq.arrived,
                100.0 * rq.unfinished as f64 / rq.arrived as f64
            ),
        ));
    }
    out.sort_by_key(|d| d.severity);
    out
}

/// An SLO missed while every metric the HPA read stayed within its
/// tolerance of the target (10 %, the controller's default) and the HPA
/// never scaled up: the metric does not see what limits the service.
fn blind_to_overload(s: &Summary) -> Option<Diagnostic> {
    let missed = s.slos.iter().find(|r| !r.met && r.requests > 0)?;
    let read: Vec<&MetricReads> = (s.metric_reads.iter())
        .filter(|r| r.available > 0 && r.target.is_finite())
        .collect();
    let quiet = !read.is_empty()
        && read
            .iter()
            .all(|r| r.max_seen <= r.target * (1.0 + BLIND_TOLERANCE));
    if s.max_replicas.is_none() || s.scale_ups > 0 || !quiet {
        return None;
    }
    let seen: Vec<String> = (read.iter())
        .map(|r| {
            format!(
                "{} peaked at {} against its target {}",
                r.name,
                fmt(r.max_seen),
                fmt(r.target)
            )
        })
        .collect();
    Some(diag(
        "blind-to-overload",
        Severity::Warning,
        format!(
            "SLO {} was missed ({:.1} % of requests within) while the HPA never scaled up: {}; the metric does not measure what limits this service",
            missed.slo.name,
            100.0 * missed.attainment,
            seen.join(", ")
        ),
    ))
}

/// The HPA controller's default tolerance: a ratio within it causes no
/// scaling.
const BLIND_TOLERANCE: f64 = 0.1;

/// A value in a message: at most 4 significant decimals.
fn fmt(v: f64) -> String {
    let s = format!("{v:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}
