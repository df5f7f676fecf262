//! Layer shapes beyond the uniform Llama-style decoder: mixture-of-experts
//! FFNs, multi-head latent attention, sliding-window attention, non-gated
//! MLPs, and heterogeneous stacks whose layers differ (Nemotron-NAS).
//!
//! A model is a list of [`LayerGroup`]s, each `count` identical layers. The
//! roofline needs only sums over the layers, so the order of the groups does
//! not matter. Uniform models keep an empty list and are described by the
//! scalar fields of [`super::ModelSpec`]; [`super::ModelSpec::groups`] builds
//! their one group.

/// The attention sublayer of a layer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Attention {
    /// None (Nemotron-NAS `no_op`): no weights, no KV, no all-reduce.
    None,
    /// One `h × h` linear layer in its place (`replace_with_linear`): no KV.
    Linear,
    /// Grouped-query attention over the whole context, or over the last
    /// `window` tokens for a sliding-window layer.
    Gqa {
        /// Query heads.
        heads: u32,
        /// KV heads.
        kv_heads: u32,
        /// Head dimension.
        head_dim: u32,
        /// Sliding window in tokens; `None` for full attention.
        window: Option<u32>,
    },
    /// Multi-head latent attention (DeepSeek-V2/V3): the cache holds one
    /// compressed latent of `kv_lora_rank + qk_rope_dim` elements per token
    /// and layer, shared by all heads and replicated on every tensor-parallel
    /// rank (as vLLM stores it).
    Mla {
        /// Query heads.
        heads: u32,
        /// Rank of the query down-projection; 0 when queries are projected
        /// directly (DeepSeek-V2-Lite).
        q_lora_rank: u32,
        /// Rank of the KV latent.
        kv_lora_rank: u32,
        /// Per-head query/key dimension without rotary embedding.
        qk_nope_dim: u32,
        /// Per-head rotary dimension (shared key part).
        qk_rope_dim: u32,
        /// Per-head value dimension.
        v_head_dim: u32,
    },
}

/// The feed-forward sublayer of a layer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Ffn {
    /// None (Nemotron-NAS `no_op`).
    None,
    /// One `h × h` linear layer in its place (`replace_with_linear`).
    Linear,
    /// A dense MLP of `width`; `gated` for SwiGLU/GeGLU (three matrices),
    /// otherwise two (Nemotron's squared ReLU, GPT-style MLPs).
    Dense {
        /// Intermediate size.
        width: u32,
        /// Whether the MLP is gated.
        gated: bool,
    },
    /// A mixture of `experts` gated experts of `width`, `top_k` of them per
    /// token, plus always-active shared experts of total width
    /// `shared_width` (0 when none) and the router.
    Moe {
        /// Routed experts.
        experts: u32,
        /// Experts each token is routed to.
        top_k: u32,
        /// Intermediate size of one routed expert.
        width: u32,
        /// Total intermediate size of the shared experts.
        shared_width: u32,
    },
}

/// `count` identical layers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LayerGroup {
    /// Layers in the group.
    pub count: u32,
    /// Their attention.
    pub attention: Attention,
    /// Their feed-forward network.
    pub ffn: Ffn,
}

impl Attention {
    /// Linear-layer parameters of one attention sublayer for hidden size `h`.
    pub fn params(&self, h: f64) -> f64 {
        match *self {
            Attention::None => 0.0,
            Attention::Linear => h * h,
            Attention::Gqa {
                heads,
                kv_heads,
                head_dim,
                ..
            } => {
                let qd = f64::from(heads) * f64::from(head_dim);
                let kvd = f64::from(kv_heads) * f64::from(head_dim);
                h * qd + 2.0 * h * kvd + qd * h
            }
            Attention::Mla {
                heads,
                q_lora_rank,
                kv_lora_rank,
                qk_nope_dim,
                qk_rope_dim,
                v_head_dim,
            } => {
                let hq = f64::from(heads);
                let qk = f64::from(qk_nope_dim + qk_rope_dim);
                let (r, rope) = (f64::from(kv_lora_rank), f64::from(qk_rope_dim));
                let q = if q_lora_rank == 0 {
                    h * hq * qk
                } else {
                    let ql = f64::from(q_lora_rank);
                    h * ql + ql * hq * qk
                };
                let kv = h * (r + rope) + r * hq * f64::from(qk_nope_dim + v_head_dim);
                q + kv + hq * f64::from(v_head_dim) * h
            }
        }
    }

    /// Whether the sublayer does tensor-parallel work ending in an
    /// all-reduce.
    pub fn present(&self) -> bool {
        !matches!(self, Attention::None)
    }
}

impl Ffn {
    /// Parameters every token reads: a dense MLP, the shared experts and the
    /// router of a MoE layer.
    pub fn dense_params(&self, h: f64) -> f64 {
        match *self {
            Ffn::None => 0.0,
            Ffn::Linear => h * h,
            Ffn::Dense { width, gated } => {
                let mats = if gated { 3.0 } else { 2.0 };
                mats * h * f64::from(width)
            }
            Ffn::Moe {
                experts,
                shared_width,
                ..
            } => 3.0 * h * f64::from(shared_width) + h * f64::from(experts),
        }
    }

    /// Parameters of one routed expert (0 without experts).
    pub fn expert_params(&self, h: f64) -> f64 {
        match *self {
            Ffn::Moe { width, .. } => 3.0 * h * f64::from(width),
            _ => 0.0,
        }
    }

    /// Routed experts and experts per token; `(0, 0)` without experts.
    pub fn routing(&self) -> (u32, u32) {
        match *self {
            Ffn::Moe { experts, top_k, .. } => (experts, top_k),
            _ => (0, 0),
        }
    }

    /// Whether the sublayer ends in a tensor-parallel all-reduce.
    pub fn present(&self) -> bool {
        !matches!(self, Ffn::None)
    }
}

/// Expected distinct experts (as a fraction of `experts`) that a step of
/// `tokens` tokens touches when each token picks `top_k` of `experts`
/// uniformly: `1 − (1 − k/E)^tokens`. Real routers are skewed and touch
/// fewer; uniform routing is the ASSUMED, conservative case.
pub fn experts_touched(experts: u32, top_k: u32, tokens: f64) -> f64 {
    if experts == 0 || tokens <= 0.0 {
        return 0.0;
    }
    let miss = 1.0 - f64::from(top_k.min(experts)) / f64::from(experts);
    1.0 - miss.powf(tokens)
}

/// A VLM's vision encoder (a ViT over image patches, Qwen2-VL style): what
/// an image costs in tokens and in encoder FLOPs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VisionSpec {
    /// Encoder parameters (its weights, also held in memory).
    pub params: f64,
    /// Encoder layers.
    pub depth: u32,
    /// Encoder hidden size.
    pub hidden: u32,
    /// Patch side in pixels.
    pub patch: u32,
    /// Patches merged per side into one language-model token.
    pub merge: u32,
    /// Layers attending over the whole image (the others attend within
    /// windows of `window_patches`); `depth` for a plain ViT.
    pub full_layers: u32,
    /// Patches per attention window of the windowed layers.
    pub window_patches: u32,
    /// The image processor's pixel bounds (`min_pixels`, `max_pixels`).
    pub min_pixels: u64,
    /// Upper pixel bound.
    pub max_pixels: u64,
}

impl VisionSpec {
    /// The image size the processor resizes `width × height` to (Qwen2-VL's
    /// `smart_resize`: sides rounded to the merged patch, the area kept
    /// within the pixel bounds).
    pub fn resized(&self, width: u32, height: u32) -> (u64, u64) {
        let f = (u64::from(self.patch) * u64::from(self.merge)).max(1);
        let (w, h) = (f64::from(width.max(1)), f64::from(height.max(1)));
        let round = |x: f64| ((x / f as f64).round() as u64).max(1) * f;
        let (mut rw, mut rh) = (round(w), round(h));
        let area = (rw * rh) as f64;
        if area > self.max_pixels as f64 {
            let beta = (w * h / self.max_pixels as f64).sqrt();
            let floor = |x: f64| ((x / beta / f as f64).floor() as u64).max(1) * f;
            (rw, rh) = (floor(w), floor(h));
        } else if area < self.min_pixels as f64 {
            let beta = (self.min_pixels as f64 / (w * h)).sqrt();
            let ceil = |x: f64| ((x * beta / f as f64).ceil() as u64).max(1) * f;
            (rw, rh) = (ceil(w), ceil(h));
        }
        (rw, rh)
    }

    /// Encoder patches of one `width × height` image.
    pub fn patches(&self, width: u32, height: u32) -> u64 {
        let (w, h) = self.resized(width, height);
        let p = u64::from(self.patch).max(1);
        (w / p) * (h / p)
    }

    /// Language-model tokens of one `width × height` image.
    pub fn tokens(&self, width: u32, height: u32) -> u64 {
        self.patches(width, height) / (u64::from(self.merge) * u64::from(self.merge)).max(1)
    }

    /// Encoder FLOPs of one `width × height` image: two per parameter and
    /// patch, plus attention (`4·d` per pair of patches and layer) over the
    /// whole image in the full layers and within windows in the others.
    pub fn flops(&self, width: u32, height: u32) -> f64 {
        let n = self.patches(width, height) as f64;
        let d = f64::from(self.hidden);
        let full = f64::from(self.full_layers.min(self.depth));
        let windowed = f64::from(self.depth) - full;
        let window = f64::from(self.window_patches).min(n);
        2.0 * self.params * n + 4.0 * d * n * (full * n + windowed * window)
    }
}
