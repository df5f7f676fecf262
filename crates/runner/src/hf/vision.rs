//! A VLM's vision encoder from `vision_config` (Qwen2-VL and Qwen2.5-VL
//! shapes, which Cosmos-Reason1 and most NIM VLMs of this family use).

use serde_json::Value;

use nimscale_core::engine::VisionSpec;

/// Qwen2-VL's image processor bounds (`preprocessor_config.json`).
const MIN_PIXELS: u64 = 56 * 56;
const MAX_PIXELS: u64 = 14 * 14 * 4 * 16384;

/// The largest value a `vision_config` field is read with.
fn limit(k: &str) -> u64 {
    match k {
        "patch_size" | "window_size" => 1024,
        "spatial_merge_size" | "temporal_patch_size" => 16,
        "depth" => 1000,
        _ => 100_000,
    }
}

/// The encoder of `root`'s `vision_config`, or `None` for a text model;
/// fields it leaves out take Qwen2.5-VL-7B's values, with a warning.
pub(super) fn vision(root: &Value, file: &str, warnings: &mut Vec<String>) -> Option<VisionSpec> {
    let v = root.get("vision_config")?;
    let mut assumed = Vec::new();
    // Out-of-range values (a patch of a million pixels) are taken as left
    // out: an encoder is bounded by what real ones are.
    let mut num = |k: &str, default: u64| match v.get(k).and_then(Value::as_u64) {
        Some(n) if (1..=limit(k)).contains(&n) => n,
        _ => {
            assumed.push(k.to_string());
            default
        }
    };
    let depth = num("depth", 32);
    // Qwen2-VL names the width `embed_dim` and uses a plain MLP of
    // `mlp_ratio`; Qwen2.5-VL names it `hidden_size` with a gated MLP.
    let qwen2 = v.get("embed_dim").is_some();
    let d = if qwen2 {
        num("embed_dim", 1280)
    } else {
        num("hidden_size", 1280)
    } as f64;
    let mlp = if qwen2 {
        2.0 * d * d * v.get("mlp_ratio").and_then(Value::as_f64).unwrap_or(4.0)
    } else {
        3.0 * d * num("intermediate_size", 3420) as f64
    };
    let patch = num("patch_size", 14);
    let merge = num("spatial_merge_size", 2);
    let temporal = num("temporal_patch_size", 2);
    let out = match v.get("out_hidden_size").or_else(|| v.get("hidden_size")) {
        Some(x) if qwen2 => x.as_u64().unwrap_or(3584).min(100_000),
        _ => num("out_hidden_size", 3584),
    } as f64;
    let merged = d * (merge * merge) as f64;
    // Patch embedding, the layers (attention 4·d², MLP), the merger MLP.
    let params = 3.0 * temporal as f64 * (patch * patch) as f64 * d
        + depth as f64 * (4.0 * d * d + mlp)
        + merged * merged
        + merged * out;
    let (full_layers, window_patches) =
        match v.get("fullatt_block_indexes").and_then(Value::as_array) {
            Some(full) => {
                let window = num("window_size", 112) / patch.max(1);
                (full.len() as u32, (window * window) as u32)
            }
            None => (depth as u32, 0),
        };
    if !assumed.is_empty() {
        warnings.push(format!(
            "{file}: vision_config leaves out {}: ASSUMED as Qwen2.5-VL-7B's",
            assumed.join(", ")
        ));
    }
    Some(VisionSpec {
        params,
        depth: depth as u32,
        hidden: d as u32,
        patch: patch as u32,
        merge: merge as u32,
        full_layers,
        window_patches,
        min_pixels: MIN_PIXELS,
        max_pixels: MAX_PIXELS,
    })
}
