//! A Hugging Face `config.json` as a catalog model: the shape the roofline
//! needs, read from the fields `transformers` writes for decoder-only models.
//!
//! Families read (`model_type`):
//!
//! * dense GQA decoders with a gated MLP: `llama`, `mistral`, `qwen2`,
//!   `qwen2_5_vl`/`qwen2_vl` (their `text_config` or top level), `qwen3`,
//!   `gemma`, `gemma2`, `gemma3_text`, `phi3`, `granite` and fine-tunes;
//! * `nemotron` (Nemotron-4, Minitron): non-gated squared-ReLU MLP;
//! * `nemotron-nas` (Llama-Nemotron Super/Ultra, `DeciLMForCausalLM`):
//!   heterogeneous `block_configs`, layers without attention or FFN, FFN
//!   widths from `ffn_mult`;
//! * mixture of experts: `mixtral`, `qwen2_moe`, `qwen3_moe`, `gpt_oss`,
//!   `deepseek_v2`/`deepseek_v3` (DeepSeek-R1 too) with multi-head latent
//!   attention, shared experts and leading dense layers.
//!
//! Sliding windows: a window of at most [`SMALL_WINDOW`] tokens (gpt-oss's
//! 128) is modelled as such (each token attends over the window; the cache
//! gives each running sequence its window's blocks). A larger window (Mistral's 4096,
//! Gemma 2's) is counted as full attention with a warning: exact for contexts
//! up to the window, an upper bound beyond.
//!
//! Host overheads are not in a `config.json`: they are ASSUMED from the
//! catalog's Llama-3.1 fits (the 8B's below 20 B active parameters, the
//! 70B's above), as is the front end's work; `nimscale calibrate` fits them.

mod layers;
mod vision;

use serde_json::Value;

use crate::catalog::Catalog;
use crate::error::{LoadError, LoadErrors};
use nimscale_core::engine::{Attention, Ffn, LayerGroup, ModelSpec};

/// The most layers a config may have (the largest published models have
/// under 200): the layers are read one by one.
const MAX_LAYERS: u32 = 10_000;

/// The largest sliding window modelled as a window; larger ones count as
/// full attention.
pub const SMALL_WINDOW: u64 = 1024;

fn err(file: &str, text: &str, field: &str, message: String) -> LoadError {
    let key = field.rsplit('.').next().unwrap_or(field);
    let q = format!("\"{key}\"");
    LoadError {
        file: file.to_string(),
        line: text.lines().position(|l| l.contains(&q)).map(|i| i + 1),
        column: None,
        field: Some(field.to_string()),
        message,
    }
}

/// Reads fields of one JSON object, collecting every error with its line.
pub(crate) struct Fields<'a> {
    v: &'a Value,
    prefix: &'a str,
    text: &'a str,
    file: &'a str,
    errs: Vec<LoadError>,
}

impl<'a> Fields<'a> {
    fn push(&mut self, field: &str, message: String) {
        let e = err(
            self.file,
            self.text,
            &format!("{}{field}", self.prefix),
            message,
        );
        self.errs.push(e);
    }

    /// A positive whole number, or `default` when absent or null.
    pub(crate) fn num(&mut self, k: &str, default: Option<u64>) -> u32 {
        let got = self.v.get(k).filter(|x| !x.is_null());
        match got.map(Value::as_u64).unwrap_or(default) {
            Some(n) if (1..=10_000_000).contains(&n) => n as u32,
            Some(n) => {
                self.push(k, format!("{n} is out of range"));
                1
            }
            None if got.is_some() => {
                self.push(k, "is not a positive whole number".into());
                1
            }
            None => {
                self.push(k, "missing (a positive whole number is required)".into());
                1
            }
        }
    }

    /// A whole number that may be absent, null or 0 (`None`), at most
    /// 10,000,000.
    pub(crate) fn opt(&mut self, k: &str) -> Option<u32> {
        let n = self.v.get(k).and_then(Value::as_u64).filter(|&n| n > 0)?;
        if n > 10_000_000 {
            self.push(k, format!("{n} is out of range"));
            return None;
        }
        Some(n as u32)
    }

    pub(crate) fn str(&self, k: &str) -> &'a str {
        self.v.get(k).and_then(Value::as_str).unwrap_or("")
    }

    pub(crate) fn get(&self, k: &str) -> Option<&'a Value> {
        self.v.get(k).filter(|x| !x.is_null())
    }
}

/// The common shape every family has.
pub(crate) struct Base {
    pub layers: u32,
    pub hidden: u32,
    pub heads: u32,
    pub kv_heads: u32,
    pub head_dim: u32,
    pub max_context: u32,
}

fn base(f: &mut Fields<'_>) -> Base {
    let layers = f.num("num_hidden_layers", None);
    if layers > MAX_LAYERS {
        f.push(
            "num_hidden_layers",
            format!("{layers} layers: nimscale reads at most {MAX_LAYERS}"),
        );
    }
    let hidden = f.num("hidden_size", None);
    let heads = f.num("num_attention_heads", None);
    let kv_heads = f.num("num_key_value_heads", Some(u64::from(heads)));
    let head_dim = f.num("head_dim", Some(u64::from(hidden / heads.max(1))));
    let max_context = f.num("max_position_embeddings", Some(4096));
    if !heads.is_multiple_of(kv_heads.max(1)) {
        f.push(
            "num_key_value_heads",
            format!("{heads} query heads are not a multiple of {kv_heads} KV heads"),
        );
    }
    Base {
        layers,
        hidden,
        heads,
        kv_heads,
        head_dim,
        max_context,
    }
}

/// Identical layers counted together, in order of first appearance.
fn group(per_layer: impl IntoIterator<Item = (Attention, Ffn)>) -> Vec<LayerGroup> {
    let mut groups: Vec<LayerGroup> = Vec::new();
    for (attention, ffn) in per_layer {
        match (groups.iter_mut()).find(|g| g.attention == attention && g.ffn == ffn) {
            Some(g) => g.count += 1,
            None => groups.push(LayerGroup {
                count: 1,
                attention,
                ffn,
            }),
        }
    }
    groups
}

/// The model `name` described by `config.json` text; warnings beside it.
/// Host overheads and the front end are ASSUMED from the catalog's nearest
/// Llama-3.1 fit.
pub fn model_from_config(
    text: &str,
    file: &str,
    name: &str,
    catalog: &Catalog,
) -> Result<(ModelSpec, Vec<String>), LoadErrors> {
    let (mut spec, mut warnings) = shape_from_config(text, file, name)?;
    // ASSUMED host overheads and front end: the nearest Llama-3.1 fit.
    let like = if spec.linear_params() < 20e9 {
        "llama-3.1-8b-instruct"
    } else {
        "llama-3.1-70b-instruct"
    };
    if let Ok(m) = catalog.model(like) {
        spec.step_overhead = m.step_overhead;
        spec.step_overhead_per_seq = m.step_overhead_per_seq;
        spec.frontend = m.frontend;
    }
    warnings.push(format!(
        "{file}: host overheads and the front end's work ASSUMED from {like} (nimscale calibrate fits them)"
    ));
    Ok((spec, warnings))
}

/// The shape of the model `name` described by `config.json` text (no host
/// overheads, default front end); warnings beside it.
pub fn shape_from_config(
    text: &str,
    file: &str,
    name: &str,
) -> Result<(ModelSpec, Vec<String>), LoadErrors> {
    let root: Value = crate::yaml::from_str(text, file)?;
    // A VLM keeps its language model's shape in `text_config`.
    let (v, prefix) = match root.get("text_config") {
        Some(t) if t.get("hidden_size").is_some() => (t, "text_config."),
        _ => (&root, ""),
    };
    let mut f = Fields {
        v,
        prefix,
        text,
        file,
        errs: Vec::new(),
    };
    let b = base(&mut f);
    let vocab = f.num("vocab_size", None);
    let mut warnings = Vec::new();
    if b.layers > MAX_LAYERS {
        return Err(LoadErrors(f.errs));
    }
    let (per_layer, mlp) = layers::per_layer(&mut f, &b, &mut warnings);
    if !f.errs.is_empty() {
        return Err(LoadErrors(f.errs));
    }
    let model_type = f.str("model_type");
    // `transformers`' default when the file leaves it out: true for the
    // Gemma family's configs, false for the others read here.
    let tied = (v.get("tie_word_embeddings"))
        .or_else(|| root.get("tie_word_embeddings"))
        .and_then(Value::as_bool)
        .unwrap_or(model_type.starts_with("gemma"));
    let vision = vision::vision(&root, file, &mut warnings);
    let mut groups = group(per_layer);
    let uniform = LayerGroup {
        count: b.layers,
        attention: Attention::Gqa {
            heads: b.heads,
            kv_heads: b.kv_heads,
            head_dim: b.head_dim,
            window: None,
        },
        ffn: Ffn::Dense {
            width: mlp,
            gated: true,
        },
    };
    if groups == [uniform] {
        // The catalog's own form, so that its sums are bit-identical.
        groups.clear();
    }
    let spec = ModelSpec {
        name: name.to_string(),
        served_name: name.to_string(),
        layers: b.layers,
        hidden: b.hidden,
        heads: b.heads,
        kv_heads: b.kv_heads,
        head_dim: b.head_dim,
        mlp,
        vocab,
        tied_embeddings: tied,
        extra_params: vision.map_or(0.0, |v| v.params),
        max_context: b.max_context,
        step_overhead: 0.0,
        step_overhead_per_seq: 0.0,
        frontend: Default::default(),
        layer_groups: groups,
        config_file: Some(file.to_string()),
        vision,
    };
    Ok((spec, warnings))
}
