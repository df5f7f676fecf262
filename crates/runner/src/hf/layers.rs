//! Each layer's attention and FFN, per family (see the parent module).

use serde_json::Value;

use super::{Base, Fields, SMALL_WINDOW};
use nimscale_core::engine::{Attention, Ffn};

type Layers = Vec<(Attention, Ffn)>;

/// Every layer of the model in `f`, and the scalar MLP width to show (the
/// dense width, or a routed expert's).
pub(super) fn per_layer(f: &mut Fields<'_>, b: &Base, warnings: &mut Vec<String>) -> (Layers, u32) {
    match f.str("model_type") {
        "nemotron-nas" => nas(f, b),
        "deepseek_v2" | "deepseek_v3" => deepseek(f, b, warnings),
        _ => decoder(f, b, warnings),
    }
}

/// The scalar MLP width a model shows: a routed expert's, or the dense one.
fn shown_width(moe: Option<Ffn>, dense: u32) -> u32 {
    match moe {
        Some(Ffn::Moe { width, .. }) => width,
        _ => dense,
    }
}

/// The routed experts of a MoE config, `(experts, top_k)`; `None` for a
/// dense model.
fn routing(f: &mut Fields<'_>, experts_key: &str) -> Option<(u32, u32)> {
    f.opt(experts_key)?;
    let experts = f.num(experts_key, None);
    let key = if f.get("num_experts_per_tok").is_some() {
        "num_experts_per_tok"
    } else {
        "experts_per_token"
    };
    let top_k = f.num(key, None);
    if top_k > experts {
        f.push(key, format!("{top_k} experts per token of {experts}"));
    }
    Some((experts, top_k))
}

/// The sliding window of each layer, `None` for full attention.
fn windows(f: &mut Fields<'_>, b: &Base, warnings: &mut Vec<String>) -> Vec<Option<u32>> {
    let n = b.layers as usize;
    let w = match f.opt("sliding_window") {
        Some(w) if w < b.max_context => w,
        _ => return vec![None; n],
    };
    if f.get("use_sliding_window").and_then(Value::as_bool) == Some(false) {
        return vec![None; n];
    }
    let sliding: Vec<bool> = match f.get("layer_types").and_then(Value::as_array) {
        Some(types) => (0..n)
            .map(|i| types.get(i).and_then(Value::as_str) == Some("sliding_attention"))
            .collect(),
        None => match f.str("model_type") {
            // Gemma 2 alternates local and global layers, local first.
            "gemma2" => (0..n).map(|i| i % 2 == 0).collect(),
            // Gemma 3: every `sliding_window_pattern`-th layer is global.
            "gemma3" | "gemma3_text" => {
                let p = f.opt("sliding_window_pattern").unwrap_or(6) as usize;
                (0..n).map(|i| (i + 1) % p != 0).collect()
            }
            _ => vec![true; n],
        },
    };
    if u64::from(w) > SMALL_WINDOW {
        warnings.push(format!(
            "{}: sliding_window {w}: counted as full attention (exact up to {w} tokens of context, an upper bound beyond)",
            f.file
        ));
        return vec![None; n];
    }
    (sliding.into_iter()).map(|s| s.then_some(w)).collect()
}

/// Llama-style decoders, dense or MoE (`mixtral`, `qwen2_moe`, `qwen3_moe`,
/// `gpt_oss`), gated or not (`nemotron`).
fn decoder(f: &mut Fields<'_>, b: &Base, warnings: &mut Vec<String>) -> (Layers, u32) {
    let experts_key = if f.get("num_local_experts").is_some() {
        "num_local_experts"
    } else {
        "num_experts"
    };
    let moe = routing(f, experts_key);
    let width = f.num("intermediate_size", None);
    let gated = f.str("model_type") != "nemotron";
    let ffn_moe = moe.map(|(experts, top_k)| Ffn::Moe {
        experts,
        top_k,
        width: f.opt("moe_intermediate_size").unwrap_or(width),
        shared_width: f.opt("shared_expert_intermediate_size").unwrap_or(0),
    });
    // Qwen's MoE configs: every `decoder_sparse_step`-th layer is MoE, less
    // `mlp_only_layers`.
    let step = f.opt("decoder_sparse_step").unwrap_or(1) as usize;
    let dense_only: Vec<u64> = (f.get("mlp_only_layers").and_then(Value::as_array))
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default();
    let dense = Ffn::Dense { width, gated };
    let layers = windows(f, b, warnings)
        .into_iter()
        .enumerate()
        .map(|(i, window)| {
            let attention = Attention::Gqa {
                heads: b.heads,
                kv_heads: b.kv_heads,
                head_dim: b.head_dim,
                window,
            };
            let is_moe = (i + 1) % step.max(1) == 0 && !dense_only.contains(&(i as u64));
            (attention, ffn_moe.filter(|_| is_moe).unwrap_or(dense))
        })
        .collect();
    (layers, shown_width(ffn_moe, width))
}

/// DeepSeek-V2/V3/R1: multi-head latent attention; MoE layers with shared
/// experts after `first_k_dense_replace` dense ones.
fn deepseek(f: &mut Fields<'_>, b: &Base, warnings: &mut Vec<String>) -> (Layers, u32) {
    let attention = Attention::Mla {
        heads: b.heads,
        q_lora_rank: f.opt("q_lora_rank").unwrap_or(0),
        kv_lora_rank: f.num("kv_lora_rank", None),
        qk_nope_dim: f.num("qk_nope_head_dim", None),
        qk_rope_dim: f.num("qk_rope_head_dim", None),
        v_head_dim: f.num("v_head_dim", None),
    };
    let width = f.num("intermediate_size", None);
    let moe = routing(f, "n_routed_experts").map(|(experts, top_k)| {
        let expert = f.num("moe_intermediate_size", None);
        let shared = f.opt("n_shared_experts").unwrap_or(0);
        Ffn::Moe {
            experts,
            top_k,
            width: expert,
            shared_width: shared.saturating_mul(expert),
        }
    });
    let first_dense = f.opt("first_k_dense_replace").unwrap_or(0) as usize;
    let freq = f.opt("moe_layer_freq").unwrap_or(1) as usize;
    if let Some(n) = f.opt("num_nextn_predict_layers") {
        warnings.push(format!(
            "{}: num_nextn_predict_layers {n}: the multi-token-prediction layers are not counted (speculative decoding is not modelled)",
            f.file
        ));
    }
    let dense = Ffn::Dense { width, gated: true };
    let layers = (0..b.layers as usize)
        .map(|i| {
            let is_moe = i >= first_dense && i % freq.max(1) == 0;
            (attention, moe.filter(|_| is_moe).unwrap_or(dense))
        })
        .collect();
    (layers, shown_width(moe, width))
}

/// DeciLM's FFN width: `2·mult·h/3` rounded up to a multiple of 256
/// (`_ffn_mult_to_intermediate_size`).
fn nas_width(mult: f64, hidden: u32) -> u32 {
    let w = (2.0 * mult * f64::from(hidden) / 3.0).floor() as u64;
    (w.div_ceil(256) * 256).min(u64::from(u32::MAX)) as u32
}

/// Nemotron-NAS (`DeciLMForCausalLM`): one `block_configs` entry per layer.
fn nas(f: &mut Fields<'_>, b: &Base) -> (Layers, u32) {
    let blocks: Vec<Value> = match f.get("block_configs").and_then(Value::as_array) {
        Some(a) if a.len() == b.layers as usize => a.clone(),
        Some(a) => {
            let n = a.len();
            f.push(
                "block_configs",
                format!("{n} blocks for num_hidden_layers {}", b.layers),
            );
            return (Vec::new(), 1);
        }
        None => {
            f.push("block_configs", "missing (one entry per layer)".into());
            return (Vec::new(), 1);
        }
    };
    let flag = |v: &Value, k: &str| v.get(k).and_then(Value::as_bool) == Some(true);
    let mut layers = Vec::with_capacity(blocks.len());
    let mut shown = 0;
    for (i, block) in blocks.iter().enumerate() {
        let (a, m) = (&block["attention"], &block["ffn"]);
        let attention = if flag(a, "no_op") {
            Attention::None
        } else if flag(a, "replace_with_linear") {
            Attention::Linear
        } else {
            match a.get("n_heads_in_group").and_then(Value::as_u64) {
                Some(g) if g > 0 && u64::from(b.heads) % g == 0 => Attention::Gqa {
                    heads: b.heads,
                    kv_heads: (u64::from(b.heads) / g) as u32,
                    head_dim: b.head_dim,
                    window: a
                        .get("window_length")
                        .and_then(Value::as_u64)
                        .map(|w| w as u32),
                },
                _ => {
                    f.push(
                        &format!("block_configs[{i}].attention.n_heads_in_group"),
                        format!("must divide the {} query heads", b.heads),
                    );
                    Attention::None
                }
            }
        };
        let ffn = if flag(m, "no_op") {
            Ffn::None
        } else if flag(m, "replace_with_linear") {
            Ffn::Linear
        } else {
            match m.get("ffn_mult").and_then(Value::as_f64) {
                Some(x) if x > 0.0 && x <= 1e3 => {
                    let width = nas_width(x, b.hidden);
                    shown = shown.max(width);
                    Ffn::Dense { width, gated: true }
                }
                _ => {
                    f.push(
                        &format!("block_configs[{i}].ffn.ffn_mult"),
                        "must be a positive number".into(),
                    );
                    Ffn::None
                }
            }
        };
        layers.push((attention, ffn));
    }
    (layers, shown.max(1))
}
