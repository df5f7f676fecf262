//! The GPU and model catalog: YAML data files shipped in `catalog/` (with
//! their sources), parsed into the core's [`GpuSpec`] and [`ModelSpec`].
//! Users add or replace entries with files of the same shape.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use nimscale_core::engine::{
    Efficiency, FrontEnd, GpuSpec, KvDtype, ModelSpec, Precision, VisionSpec,
};
use serde::Deserialize;

use crate::error::{LoadError, LoadErrors};
use crate::yaml;

const GPUS_YAML: &str = include_str!("../catalog/gpus.yaml");
const MODELS_YAML: &str = include_str!("../catalog/models.yaml");

/// The Hugging Face `config.json` files shipped in `catalog/hf/` (sources
/// in `catalog/hf/README.md`), by the name `hfConfig` gives.
pub const SHIPPED_CONFIGS: &[(&str, &str)] = &[
    (
        "mixtral-8x7b-instruct-v0.1.json",
        include_str!("../catalog/hf/mixtral-8x7b-instruct-v0.1.json"),
    ),
    (
        "qwen3-235b-a22b.json",
        include_str!("../catalog/hf/qwen3-235b-a22b.json"),
    ),
    (
        "gpt-oss-120b.json",
        include_str!("../catalog/hf/gpt-oss-120b.json"),
    ),
    (
        "deepseek-r1.json",
        include_str!("../catalog/hf/deepseek-r1.json"),
    ),
    (
        "llama-3.3-nemotron-super-49b-v1.json",
        include_str!("../catalog/hf/llama-3.3-nemotron-super-49b-v1.json"),
    ),
];

/// The text of the shipped config `name`.
pub fn shipped_config(name: &str) -> Option<&'static str> {
    (SHIPPED_CONFIGS.iter())
        .find(|(n, _)| *n == name)
        .map(|(_, t)| *t)
}

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
    /// A shipped Hugging Face `config.json` ([`SHIPPED_CONFIGS`]) giving
    /// the shape instead of the fields below (MoE, MLA, heterogeneous
    /// layers).
    #[serde(default)]
    hf_config: Option<String>,
    #[serde(default)]
    layers: Option<u32>,
    #[serde(default)]
    hidden: Option<u32>,
    #[serde(default)]
    heads: Option<u32>,
    #[serde(default)]
    kv_heads: Option<u32>,
    #[serde(default)]
    head_dim: Option<u32>,
    #[serde(default)]
    mlp: Option<u32>,
    #[serde(default)]
    vocab: Option<u32>,
    #[serde(default)]
    tied_embeddings: bool,
    #[serde(default)]
    extra_params: f64,
    /// Context length; with `hfConfig`, overrides the config's.
    #[serde(default)]
    max_context: Option<u32>,
    step_overhead_ms: f64,
    #[serde(default)]
    step_overhead_per_seq_us: f64,
    /// The serving front end's work; absent: [`DEFAULT_FRONT_END`].
    #[serde(default)]
    front_end: Option<RawFrontEnd>,
    /// A VLM's vision encoder (Qwen2-VL style); its parameters are
    /// `extraParams`.
    #[serde(default)]
    vision: Option<RawVision>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawVision {
    depth: u32,
    hidden: u32,
    patch: u32,
    merge: u32,
    full_layers: u32,
    #[serde(default)]
    window_patches: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawFrontEnd {
    request_us: f64,
    prompt_token_us: f64,
    output_token_us: f64,
}

/// The NIM/vLLM API server's work when a model's catalog entry has no fit
/// of its own: the one fitted on the Llama-3.1-8B and 70B NIM tables
/// together (models.yaml).
pub const DEFAULT_FRONT_END: FrontEnd = FrontEnd {
    request_ns: 1_700_000,
    prompt_token_ns: 1_500,
    output_token_ns: 63_000,
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
    /// The shipped catalog: parsed once per process (its YAML and the
    /// shipped `config.json` files), then cloned.
    pub fn builtin() -> Result<Catalog, LoadErrors> {
        static BUILTIN: OnceLock<Result<Catalog, LoadErrors>> = OnceLock::new();
        BUILTIN
            .get_or_init(|| {
                let mut c = Catalog::default();
                c.extend(GPUS_YAML, "crates/runner/catalog/gpus.yaml")?;
                c.extend(MODELS_YAML, "crates/runner/catalog/models.yaml")?;
                Ok(c)
            })
            .clone()
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

/// A model entry's shape from its shipped `hfConfig`, with its errors at
/// the entry's field.
fn shape_from_config(ck: &mut Check<'_>, name: &str, m: &RawModel, cfg: &str) -> ModelSpec {
    let p = |f: &str| format!("models.{name}.{f}");
    for (f, given) in [
        ("layers", m.layers),
        ("hidden", m.hidden),
        ("heads", m.heads),
        ("kvHeads", m.kv_heads),
        ("headDim", m.head_dim),
        ("mlp", m.mlp),
        ("vocab", m.vocab),
    ] {
        if given.is_some() {
            ck.err(
                p(f),
                format!("the shape comes from hfConfig {cfg}; leave {f} out"),
            );
        }
    }
    let Some(text) = shipped_config(cfg) else {
        let known: Vec<&str> = SHIPPED_CONFIGS.iter().map(|(n, _)| *n).collect();
        ck.err(
            p("hfConfig"),
            format!(
                "no shipped config `{cfg}` (shipped: {}); a config.json of your own goes to --model-config or a scenario's model.config",
                known.join(", ")
            ),
        );
        return placeholder(name);
    };
    match crate::hf::shape_from_config(text, cfg, name) {
        Ok((spec, _)) => spec,
        Err(errs) => {
            for e in errs.0 {
                ck.err(p("hfConfig"), format!("{cfg}: {e}"));
            }
            placeholder(name)
        }
    }
}

/// A one-layer stand-in for an entry whose shape has errors (never used:
/// the errors stop the load).
fn placeholder(name: &str) -> ModelSpec {
    ModelSpec {
        name: name.to_string(),
        served_name: name.to_string(),
        layers: 1,
        hidden: 1,
        heads: 1,
        kv_heads: 1,
        head_dim: 1,
        mlp: 1,
        vocab: 1,
        tied_embeddings: false,
        extra_params: 0.0,
        max_context: 1,
        step_overhead: 0.0,
        step_overhead_per_seq: 0.0,
        frontend: DEFAULT_FRONT_END,
        layer_groups: Vec::new(),
        config_file: None,
        vision: None,
    }
}

/// A uniform entry's shape from its fields: each present and in range,
/// query heads a multiple of KV heads.
fn shape_from_fields(ck: &mut Check<'_>, name: &str, m: &RawModel) -> ModelSpec {
    let p = |f: &str| format!("models.{name}.{f}");
    let mut get = |f: &str, v: Option<u32>| match v {
        None => {
            ck.err(p(f), "missing (or give hfConfig)".into());
            1
        }
        Some(0) => {
            ck.err(p(f), "must be positive".into());
            1
        }
        Some(v) => {
            ck.range(p(f), f64::from(v), 1.0, 1e8);
            v
        }
    };
    let mut spec = placeholder(name);
    spec.layers = get("layers", m.layers);
    spec.hidden = get("hidden", m.hidden);
    spec.heads = get("heads", m.heads);
    spec.kv_heads = get("kvHeads", m.kv_heads);
    spec.head_dim = get("headDim", m.head_dim);
    spec.mlp = get("mlp", m.mlp);
    spec.vocab = get("vocab", m.vocab);
    spec.max_context = get("maxContext", m.max_context);
    if !spec.heads.is_multiple_of(spec.kv_heads) {
        ck.err(
            p("kvHeads"),
            format!(
                "{} query heads are not a multiple of {} KV heads",
                spec.heads, spec.kv_heads
            ),
        );
    }
    spec
}

/// A model entry, checked: its shape (fields or `hfConfig`), overheads in
/// range, a served name.
fn model_spec(ck: &mut Check<'_>, name: String, m: RawModel) -> ModelSpec {
    let p = |f: &str| format!("models.{name}.{f}");
    let mut spec = match &m.hf_config {
        Some(cfg) => {
            let mut spec = shape_from_config(ck, &name, &m, cfg);
            if let Some(c) = m.max_context {
                ck.range(p("maxContext"), f64::from(c), 1.0, 1e8);
                spec.max_context = c.max(1);
            }
            spec
        }
        None => shape_from_fields(ck, &name, &m),
    };
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
    spec.tied_embeddings = spec.tied_embeddings || m.tied_embeddings;
    if let Some(v) = &m.vision {
        for (f, x, hi) in [
            ("depth", v.depth, 1000),
            ("hidden", v.hidden, 100_000),
            ("patch", v.patch, 1000),
            ("merge", v.merge, 64),
            ("fullLayers", v.full_layers, 1000),
            ("windowPatches", v.window_patches, 1_000_000),
        ] {
            let lo = if f == "fullLayers" || f == "windowPatches" {
                0.0
            } else {
                1.0
            };
            ck.range(p(&format!("vision.{f}")), f64::from(x), lo, f64::from(hi));
        }
        ck.range(p("extraParams"), m.extra_params, 1.0, 1e15);
        spec.vision = Some(VisionSpec {
            params: m.extra_params,
            depth: v.depth.max(1),
            hidden: v.hidden.max(1),
            patch: v.patch.max(1),
            merge: v.merge.max(1),
            full_layers: v.full_layers,
            window_patches: v.window_patches,
            min_pixels: 56 * 56,
            max_pixels: 14 * 14 * 4 * 16384,
        });
    }
    spec.extra_params = m.extra_params;
    spec.step_overhead = m.step_overhead_ms * 1e-3;
    spec.step_overhead_per_seq = m.step_overhead_per_seq_us * 1e-6;
    spec.frontend = frontend;
    spec.served_name = m.served_name;
    spec
}

/// Parses `bf16` / `fp8`.
pub fn parse_precision(s: &str) -> Result<Precision, String> {
    match s {
        "bf16" => Ok(Precision::Bf16),
        "fp8" => Ok(Precision::Fp8),
        "mxfp4" => Ok(Precision::Mxfp4),
        _ => Err(format!(
            "unknown precision `{s}` (expected bf16, fp8 or mxfp4)"
        )),
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
