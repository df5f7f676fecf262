//! The GPU and model catalog: YAML data files shipped in `catalog/` (with
//! their sources), parsed into the core's [`GpuSpec`] and [`ModelSpec`].
//! Users add or replace entries with files of the same shape.

use std::collections::BTreeMap;

use nimscale_core::engine::{Efficiency, FrontEnd, GpuSpec, KvDtype, ModelSpec, Precision};
use serde::Deserialize;

use crate::error::{LoadError, LoadErrors};
use crate::yaml;

const GPUS_YAML: &str = include_str!("../catalog/gpus.yaml");
const MODELS_YAML: &str = include_str!("../catalog/models.yaml");

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCatalog {
    #[serde(default)]
    gpus: BTreeMap<String, RawGpu>,
    #[serde(default)]
    models: BTreeMap<String, RawModel>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawGpu {
    family: String,
    #[serde(rename = "memoryGiB")]
    memory_gib: f64,
    #[serde(rename = "usableMemoryGiB")]
    usable_memory_gib: f64,
    #[serde(rename = "memoryBandwidthTBps")]
    memory_bandwidth_tbps: f64,
    bf16_tflops: f64,
    #[serde(default)]
    fp8_tflops: Option<f64>,
    #[serde(rename = "linkBandwidthGBps")]
    link_bandwidth_gbps: f64,
    allreduce_latency_us: f64,
    efficiency: RawEfficiency,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawEfficiency {
    mem: f64,
    cmp_bf16: f64,
    cmp_fp8: f64,
    kv_mem: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawModel {
    served_name: String,
    layers: u32,
    hidden: u32,
    heads: u32,
    kv_heads: u32,
    head_dim: u32,
    mlp: u32,
    vocab: u32,
    #[serde(default)]
    tied_embeddings: bool,
    #[serde(default)]
    extra_params: f64,
    max_context: u32,
    step_overhead_ms: f64,
    #[serde(default)]
    step_overhead_per_seq_us: f64,
    /// The serving front end's work; absent: [`DEFAULT_FRONT_END`].
    #[serde(default)]
    front_end: Option<RawFrontEnd>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawFrontEnd {
    request_us: f64,
    prompt_token_us: f64,
    output_token_us: f64,
}

/// The NIM/vLLM API server's work when a model's catalog entry has no fit
/// of its own: the Llama-3.1-8B fit (models.yaml).
pub const DEFAULT_FRONT_END: FrontEnd = FrontEnd {
    request_ns: 1_000_000,
    prompt_token_ns: 2_000,
    output_token_ns: 58_000,
};

/// GPUs and models by catalog key.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Catalog {
    /// GPUs.
    pub gpus: BTreeMap<String, GpuSpec>,
    /// Models.
    pub models: BTreeMap<String, ModelSpec>,
}

/// Collects semantic errors with their line.
struct Check<'a> {
    text: &'a str,
    file: &'a str,
    errors: Vec<LoadError>,
}

impl Check<'_> {
    fn err(&mut self, field: String, message: String) {
        self.errors.push(LoadError {
            file: self.file.to_owned(),
            line: yaml::line_of(self.text, &field),
            column: None,
            field: Some(field),
            message,
        });
    }

    fn positive(&mut self, field: String, v: f64) {
        if !(v.is_finite() && v > 0.0) {
            self.err(field, format!("must be a positive number, got {v}"));
        }
    }

    /// A figure within a physically plausible range: a GPU with 1e-300
    /// TB/s or a model with a 1e12-token context would make step times
    /// overflow and print nonsense (zero or negative latencies).
    fn range(&mut self, field: String, v: f64, lo: f64, hi: f64) {
        if !(v.is_finite() && v >= lo && v <= hi) {
            self.err(
                field,
                format!(
                    "must be between {lo} and {hi} (a plausible range), got {}",
                    short(v)
                ),
            );
        }
    }

    fn fraction(&mut self, field: String, v: f64) {
        if !(v > 0.0 && v <= 1.0) {
            self.err(field, format!("must be in (0, 1], got {v}"));
        }
    }
}

/// A number as a person reads it: `1e-300`, not three hundred zeros.
fn short(v: f64) -> String {
    if v != 0.0 && v.is_finite() && !(1e-4..1e9).contains(&v.abs()) {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

impl Catalog {
    /// The shipped catalog.
    pub fn builtin() -> Result<Catalog, LoadErrors> {
        let mut c = Catalog::default();
        c.extend(GPUS_YAML, "crates/runner/catalog/gpus.yaml")?;
        c.extend(MODELS_YAML, "crates/runner/catalog/models.yaml")?;
        Ok(c)
    }

    /// Adds (or replaces) the entries of a catalog file.
    pub fn extend(&mut self, text: &str, file: &str) -> Result<(), LoadErrors> {
        let raw: RawCatalog = yaml::from_str(text, file)?;
        let mut ck = Check {
            text,
            file,
            errors: Vec::new(),
        };
        let gpus: Vec<GpuSpec> = (raw.gpus.into_iter())
            .map(|(name, g)| gpu_spec(&mut ck, name, g))
            .collect();
        let models: Vec<ModelSpec> = (raw.models.into_iter())
            .map(|(name, m)| model_spec(&mut ck, name, m))
            .collect();
        if !ck.errors.is_empty() {
            return Err(LoadErrors(ck.errors));
        }
        for g in gpus {
            self.gpus.insert(g.name.clone(), g);
        }
        for m in models {
            self.models.insert(m.name.clone(), m);
        }
        Ok(())
    }

    /// The GPU called `name`, or a message listing the known ones.
    pub fn gpu(&self, name: &str) -> Result<&GpuSpec, String> {
        self.gpus.get(name).ok_or_else(|| {
            let known: Vec<&str> = self.gpus.keys().map(String::as_str).collect();
            format!("unknown GPU `{name}` (known: {})", known.join(", "))
        })
    }

    /// The model called `name`, or a message listing the known ones.
    pub fn model(&self, name: &str) -> Result<&ModelSpec, String> {
        self.models.get(name).ok_or_else(|| {
            let known: Vec<&str> = self.models.keys().map(String::as_str).collect();
            format!("unknown model `{name}` (known: {})", known.join(", "))
        })
    }
}

/// A GPU entry, checked: a known family, sizes and rates in range,
/// efficiencies that are fractions.
fn gpu_spec(ck: &mut Check<'_>, name: String, g: RawGpu) -> GpuSpec {
    let p = |f: &str| format!("gpus.{name}.{f}");
    if !["ampere", "ada", "hopper", "blackwell"].contains(&g.family.as_str()) {
        ck.err(
            p("family"),
            format!(
                "unknown family `{}` (expected ampere, ada, hopper or blackwell)",
                g.family
            ),
        );
    }
    ck.range(p("memoryGiB"), g.memory_gib, 1.0, 4096.0);
    ck.positive(p("usableMemoryGiB"), g.usable_memory_gib);
    if g.usable_memory_gib > g.memory_gib * 1.0001 {
        ck.err(p("usableMemoryGiB"), "cannot exceed memoryGiB".into());
    }
    ck.range(
        p("memoryBandwidthTBps"),
        g.memory_bandwidth_tbps,
        0.01,
        1000.0,
    );
    ck.range(p("bf16Tflops"), g.bf16_tflops, 0.1, 1e6);
    if let Some(f) = g.fp8_tflops {
        ck.range(p("fp8Tflops"), f, 0.1, 1e6);
    }
    ck.range(p("linkBandwidthGBps"), g.link_bandwidth_gbps, 0.1, 1e6);
    ck.range(p("allreduceLatencyUs"), g.allreduce_latency_us, 0.0, 1e6);
    let e = &g.efficiency;
    ck.fraction(p("efficiency.mem"), e.mem);
    ck.fraction(p("efficiency.cmpBf16"), e.cmp_bf16);
    ck.fraction(p("efficiency.cmpFp8"), e.cmp_fp8);
    ck.fraction(p("efficiency.kvMem"), e.kv_mem);
    GpuSpec {
        family: g.family,
        memory_gib: g.memory_gib,
        usable_memory_gib: g.usable_memory_gib,
        mem_bandwidth: g.memory_bandwidth_tbps * 1e12,
        bf16_flops: g.bf16_tflops * 1e12,
        fp8_flops: g.fp8_tflops.map(|f| f * 1e12),
        link_bandwidth: g.link_bandwidth_gbps * 1e9,
        allreduce_latency: g.allreduce_latency_us * 1e-6,
        efficiency: Efficiency {
            mem: e.mem,
            cmp_bf16: e.cmp_bf16,
            cmp_fp8: e.cmp_fp8,
            kv_mem: e.kv_mem,
        },
        name,
    }
}

/// A model entry, checked: positive shapes in range, query heads a multiple
/// of KV heads, a served name.
fn model_spec(ck: &mut Check<'_>, name: String, m: RawModel) -> ModelSpec {
    let p = |f: &str| format!("models.{name}.{f}");
    for (f, v) in [
        ("layers", m.layers),
        ("hidden", m.hidden),
        ("heads", m.heads),
        ("kvHeads", m.kv_heads),
        ("headDim", m.head_dim),
        ("mlp", m.mlp),
        ("vocab", m.vocab),
        ("maxContext", m.max_context),
    ] {
        if v == 0 {
            ck.err(p(f), "must be positive".into());
        } else {
            ck.range(p(f), f64::from(v), 1.0, 1e8);
        }
    }
    if m.kv_heads > 0 && !m.heads.is_multiple_of(m.kv_heads) {
        ck.err(
            p("kvHeads"),
            format!(
                "{} query heads are not a multiple of {} KV heads",
                m.heads, m.kv_heads
            ),
        );
    }
    ck.range(p("stepOverheadMs"), m.step_overhead_ms, 0.0, 60_000.0);
    ck.range(
        p("stepOverheadPerSeqUs"),
        m.step_overhead_per_seq_us,
        0.0,
        1e6,
    );
    ck.range(p("extraParams"), m.extra_params, 0.0, 1e15);
    let frontend = match &m.front_end {
        None => DEFAULT_FRONT_END,
        Some(f) => {
            let mut us = |field: &str, v: f64| {
                ck.range(p(&format!("frontEnd.{field}")), v, 0.0, 1e7);
                (v.clamp(0.0, 1e7) * 1e3).round() as i64
            };
            FrontEnd {
                request_ns: us("requestUs", f.request_us),
                prompt_token_ns: us("promptTokenUs", f.prompt_token_us),
                output_token_ns: us("outputTokenUs", f.output_token_us),
            }
        }
    };
    if m.served_name.trim().is_empty() {
        ck.err(p("servedName"), "must not be empty".into());
    }
    ModelSpec {
        served_name: m.served_name,
        layers: m.layers,
        hidden: m.hidden,
        heads: m.heads,
        kv_heads: m.kv_heads,
        head_dim: m.head_dim,
        mlp: m.mlp,
        vocab: m.vocab,
        tied_embeddings: m.tied_embeddings,
        extra_params: m.extra_params,
        max_context: m.max_context,
        step_overhead: m.step_overhead_ms * 1e-3,
        step_overhead_per_seq: m.step_overhead_per_seq_us * 1e-6,
        frontend,
        name,
    }
}

/// Parses `bf16` / `fp8`.
pub fn parse_precision(s: &str) -> Result<Precision, String> {
    match s {
        "bf16" => Ok(Precision::Bf16),
        "fp8" => Ok(Precision::Fp8),
        _ => Err(format!("unknown precision `{s}` (expected bf16 or fp8)")),
    }
}

/// Parses `bf16` / `fp8` for the KV cache (`auto` = bf16).
pub fn parse_kv_dtype(s: &str) -> Result<KvDtype, String> {
    match s {
        "bf16" | "auto" => Ok(KvDtype::Bf16),
        "fp8" => Ok(KvDtype::Fp8),
        _ => Err(format!(
            "unknown KV-cache dtype `{s}` (expected bf16, auto or fp8)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalog_has_the_required_entries() {
        let c = Catalog::builtin().unwrap();
        for g in [
            "h100-sxm",
            "h100-pcie",
            "h200",
            "a100-80gb",
            "a100-40gb",
            "l40s",
            "b200",
        ] {
            assert!(c.gpus.contains_key(g), "{g}");
        }
        for m in [
            "llama-3.1-8b-instruct",
            "llama-3.1-70b-instruct",
            "cosmos-reason1-7b",
        ] {
            assert!(c.models.contains_key(m), "{m}");
        }
        let cosmos = c.model("cosmos-reason1-7b").unwrap();
        assert!((cosmos.total_params() / 1e9 - 8.29).abs() < 0.02);
        assert!(c.gpu("h1000").unwrap_err().contains("known: a100-40gb"));
    }

    #[test]
    fn user_entries_are_checked_with_lines() {
        let mut c = Catalog::builtin().unwrap();
        let text = "gpus:\n  mygpu:\n    family: hopper\n    memoryGiB: 80\n    usableMemoryGiB: 90\n    memoryBandwidthTBps: 3\n    bf16Tflops: 900\n    linkBandwidthGBps: 100\n    allreduceLatencyUs: 10\n    efficiency: { mem: 1.5, cmpBf16: 0.7, cmpFp8: 0.4, kvMem: 0.7 }\n";
        let e = c.extend(text, "my.yaml").unwrap_err().to_string();
        assert!(
            e.contains("my.yaml:5: gpus.mygpu.usableMemoryGiB: cannot exceed memoryGiB"),
            "{e}"
        );
        assert!(
            e.contains("gpus.mygpu.efficiency.mem: must be in (0, 1], got 1.5"),
            "{e}"
        );
        let bad = c
            .extend("gpus:\n  x:\n    colour: red\n", "x.yaml")
            .unwrap_err()
            .to_string();
        assert!(bad.starts_with("x.yaml:3:"), "{bad}");
    }
}
