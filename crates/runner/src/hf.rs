//! A Hugging Face `config.json` as a catalog model: the shape the roofline
//! needs (layers, hidden size, query and KV heads, head dimension, gated-MLP
//! width, vocabulary, tied embeddings, context) read from the fields
//! `transformers` writes for decoder-only models with grouped-query
//! attention and a gated MLP: Llama, Mistral, Qwen2/2.5/3, Gemma/Gemma 2,
//! Phi-3, Granite and their fine-tunes (a VLM's `text_config` too).
//!
//! What the engine does not model yet is refused with the field that says
//! so: mixture-of-experts layers (`num_local_experts`, `num_experts`,
//! `n_routed_experts`), multi-head latent attention (`kv_lora_rank`), and
//! non-gated MLPs (`model_type: nemotron`). A sliding window is accepted with
//! a warning: KV is counted as for full attention, which overstates the
//! cache a windowed layer holds.
//!
//! Host overheads are not in a `config.json`: they are ASSUMED from the
//! catalog's Llama-3.1 fits (the 8B's below 20 B parameters, the 70B's
//! above), as is the front end's work; `nimscale calibrate` fits them.

use serde_json::Value;

use crate::catalog::Catalog;
use crate::error::{LoadError, LoadErrors};
use nimscale_core::engine::ModelSpec;

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

/// The features of `v` the engine does not model, each as an error at its
/// field.
fn unmodelled(v: &Value, prefix: &str, text: &str, file: &str) -> Vec<LoadError> {
    let mut errs = Vec::new();
    for (k, what) in [
        ("num_local_experts", "mixture-of-experts layers"),
        ("num_experts", "mixture-of-experts layers"),
        ("n_routed_experts", "mixture-of-experts layers"),
        ("kv_lora_rank", "multi-head latent attention"),
    ] {
        if v.get(k)
            .is_some_and(|x| !x.is_null() && x.as_f64() != Some(0.0))
        {
            errs.push(err(
                file,
                text,
                &format!("{prefix}{k}"),
                format!("{what} are not modelled yet: nimscale's engine covers dense decoder models with grouped-query attention and a gated MLP"),
            ));
        }
    }
    if v.get("model_type").and_then(Value::as_str) == Some("nemotron") {
        errs.push(err(
            file,
            text,
            &format!("{prefix}model_type"),
            "nemotron models use a non-gated (squared-ReLU) MLP, which the roofline does not model yet".into(),
        ));
    }
    errs
}

/// The model `name` described by `config.json` text; warnings beside it.
pub fn model_from_config(
    text: &str,
    file: &str,
    name: &str,
    catalog: &Catalog,
) -> Result<(ModelSpec, Vec<String>), LoadErrors> {
    let root: Value = crate::yaml::from_str(text, file)?;
    // A VLM keeps its language model's shape in `text_config`.
    let (v, prefix) = match root.get("text_config") {
        Some(t) if t.get("hidden_size").is_some() => (t, "text_config."),
        _ => (&root, ""),
    };
    let mut errs = unmodelled(v, prefix, text, file);
    let model_type = v.get("model_type").and_then(Value::as_str).unwrap_or("");
    let mut num = |k: &str, default: Option<u64>| -> u32 {
        match v.get(k).and_then(Value::as_u64).or(default) {
            Some(n) if (1..=10_000_000).contains(&n) => n as u32,
            Some(n) => {
                errs.push(err(
                    file,
                    text,
                    &format!("{prefix}{k}"),
                    format!("{n} is out of range"),
                ));
                1
            }
            None => {
                errs.push(err(
                    file,
                    text,
                    &format!("{prefix}{k}"),
                    "missing (a positive whole number is required)".into(),
                ));
                1
            }
        }
    };
    let layers = num("num_hidden_layers", None);
    let hidden = num("hidden_size", None);
    let heads = num("num_attention_heads", None);
    let kv_heads = num("num_key_value_heads", Some(u64::from(heads)));
    let head_dim = num("head_dim", Some(u64::from(hidden / heads.max(1))));
    let mlp = num("intermediate_size", None);
    let vocab = num("vocab_size", None);
    let max_context = num("max_position_embeddings", Some(4096));
    if heads % kv_heads.max(1) != 0 {
        errs.push(err(
            file,
            text,
            &format!("{prefix}num_key_value_heads"),
            format!("{heads} query heads are not a multiple of {kv_heads} KV heads"),
        ));
    }
    if !errs.is_empty() {
        return Err(LoadErrors(errs));
    }
    // `transformers`' default when the file leaves it out: true for the
    // Gemma family's configs, false for the others read here.
    let tied = (v.get("tie_word_embeddings"))
        .or_else(|| root.get("tie_word_embeddings"))
        .and_then(Value::as_bool)
        .unwrap_or(model_type.starts_with("gemma"));
    let mut warnings = Vec::new();
    if let Some(w) = v.get("sliding_window").and_then(Value::as_u64)
        && w < u64::from(max_context)
    {
        warnings.push(format!(
            "{file}: sliding_window {w}: KV is counted as for full attention, which overstates what windowed layers hold"
        ));
    }
    let mut spec = ModelSpec {
        name: name.to_string(),
        served_name: name.to_string(),
        layers,
        hidden,
        heads,
        kv_heads,
        head_dim,
        mlp,
        vocab,
        tied_embeddings: tied,
        extra_params: 0.0,
        max_context,
        step_overhead: 0.0,
        step_overhead_per_seq: 0.0,
        frontend: Default::default(),
    };
    // ASSUMED host overheads and front end: the nearest Llama-3.1 fit.
    let like = if spec.total_params() < 20e9 {
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
