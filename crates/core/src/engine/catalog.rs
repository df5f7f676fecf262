//! GPUs, models and precisions: the physical inputs of the engine model.
//!
//! These are plain values. The shipped catalog (with sources) lives as YAML in
//! the runner crate, which parses it into these types; scenarios may add their
//! own entries the same way.

use std::borrow::Cow;

use super::arch::{Attention, Ffn, LayerGroup, VisionSpec};

/// Bytes in one GiB.
pub const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// Roofline efficiencies of one GPU (fractions of the datasheet peaks).
#[derive(Clone, Debug, PartialEq)]
pub struct Efficiency {
    /// Fraction of HBM bandwidth reached when streaming weights.
    pub mem: f64,
    /// Fraction of the BF16 tensor-core peak reached by large GEMMs.
    pub cmp_bf16: f64,
    /// Fraction of the FP8 tensor-core peak reached by large FP8 GEMMs.
    pub cmp_fp8: f64,
    /// Fraction of HBM bandwidth reached by attention kernels reading KV.
    pub kv_mem: f64,
}

/// One GPU model (per-GPU figures).
#[derive(Clone, Debug, PartialEq)]
pub struct GpuSpec {
    /// Catalog key, for example `h100-sxm`.
    pub name: String,
    /// Architecture family (`ampere`, `ada`, `hopper`, `blackwell`); vLLM's
    /// batch defaults treat A100 (`ampere`) specially.
    pub family: String,
    /// Memory the datasheet states, GiB-equivalent (80 GB → 80).
    pub memory_gib: f64,
    /// Memory the driver actually makes available to one process, GiB.
    pub usable_memory_gib: f64,
    /// Memory bandwidth, bytes per second.
    pub mem_bandwidth: f64,
    /// Dense BF16 tensor-core peak, FLOP/s.
    pub bf16_flops: f64,
    /// Dense FP8 tensor-core peak, FLOP/s; `None` when the GPU has no FP8
    /// tensor cores (FP8 weights then run weight-only, computing in BF16).
    pub fp8_flops: Option<f64>,
    /// GPU-to-GPU bandwidth per direction for tensor-parallel all-reduce,
    /// bytes per second.
    pub link_bandwidth: f64,
    /// Latency of one small all-reduce, seconds.
    pub allreduce_latency: f64,
    /// Roofline efficiencies.
    pub efficiency: Efficiency,
}

/// One model architecture: a Llama-style decoder (GQA attention, gated MLP)
/// described by its scalar fields, or any stack of [`LayerGroup`]s (MoE, MLA,
/// sliding windows, heterogeneous layers) in `layer_groups`.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelSpec {
    /// Catalog key, for example `llama-3.1-8b-instruct`.
    pub name: String,
    /// The name the server reports in `model_name`, for example
    /// `meta/llama-3.1-8b-instruct`.
    pub served_name: String,
    /// Transformer layers `L`.
    pub layers: u32,
    /// Hidden size `h`.
    pub hidden: u32,
    /// Query heads `H_q`.
    pub heads: u32,
    /// KV heads `H_kv`.
    pub kv_heads: u32,
    /// Head dimension `d`.
    pub head_dim: u32,
    /// MLP intermediate size `f`.
    pub mlp: u32,
    /// Vocabulary size `V`.
    pub vocab: u32,
    /// Whether the LM head shares the embedding matrix.
    pub tied_embeddings: bool,
    /// Parameters outside the language model (a VLM's vision encoder), kept in
    /// memory but not read by text-token steps.
    pub extra_params: f64,
    /// Context length from the model config (`max_position_embeddings`).
    pub max_context: u32,
    /// Fixed per-step host overhead (scheduling, input preparation, sampling,
    /// detokenisation), seconds; fitted per model (gpu-model.md §3).
    pub step_overhead: f64,
    /// Additional host overhead per sequence in the batch, seconds.
    pub step_overhead_per_seq: f64,
    /// The serving front end's work per request and token.
    pub frontend: super::FrontEnd,
    /// The layers when they are not `layers` uniform GQA + gated-MLP layers
    /// of the scalar fields; empty for uniform models.
    pub layer_groups: Vec<LayerGroup>,
    /// The Hugging Face `config.json` the shape was read from, as named
    /// (catalog files written by `calibrate` refer to it).
    pub config_file: Option<String>,
    /// A VLM's vision encoder (its parameters are `extra_params`).
    pub vision: Option<VisionSpec>,
}

impl ModelSpec {
    /// The layers as groups: `layer_groups`, or the one group of a uniform
    /// model.
    pub fn groups(&self) -> Cow<'_, [LayerGroup]> {
        if !self.layer_groups.is_empty() {
            return Cow::Borrowed(&self.layer_groups);
        }
        Cow::Owned(vec![LayerGroup {
            count: self.layers,
            attention: Attention::Gqa {
                heads: self.heads,
                kv_heads: self.kv_heads,
                head_dim: self.head_dim,
                window: None,
            },
            ffn: Ffn::Dense {
                width: self.mlp,
                gated: true,
            },
        }])
    }

    /// Σ over layers of `f(group)`, weighted by the layer count.
    fn sum_layers(&self, f: impl Fn(&LayerGroup) -> f64) -> f64 {
        self.groups()
            .iter()
            .fold(0.0, |acc, g| acc + f64::from(g.count) * f(g))
    }

    /// Linear-layer parameters every token reads (attention, dense MLPs,
    /// shared experts, routers); for a uniform model `L · (h·H_q·d +
    /// 2·h·H_kv·d + H_q·d·h + 3·h·f)`.
    pub fn dense_layer_params(&self) -> f64 {
        let h = f64::from(self.hidden);
        self.sum_layers(|g| g.attention.params(h) + g.ffn.dense_params(h))
    }

    /// Parameters of all routed experts (0 for dense models).
    pub fn routed_params(&self) -> f64 {
        let h = f64::from(self.hidden);
        self.sum_layers(|g| f64::from(g.ffn.routing().0) * g.ffn.expert_params(h))
    }

    /// Routed-expert parameters one token uses (its `top_k` experts per
    /// layer).
    pub fn active_routed_params(&self) -> f64 {
        let h = f64::from(self.hidden);
        self.sum_layers(|g| f64::from(g.ffn.routing().1) * g.ffn.expert_params(h))
    }

    /// Parameters one token computes with: its active layers plus the LM
    /// head.
    pub fn linear_params(&self) -> f64 {
        self.dense_layer_params() + self.active_routed_params() + self.embedding_params()
    }

    /// Parameters of one `V × h` matrix (embedding or LM head).
    pub fn embedding_params(&self) -> f64 {
        f64::from(self.vocab) * f64::from(self.hidden)
    }

    /// All parameters held in GPU memory (layers, experts, embedding, head,
    /// extras).
    pub fn total_params(&self) -> f64 {
        let emb = if self.tied_embeddings { 1.0 } else { 2.0 } * self.embedding_params();
        self.dense_layer_params() + self.routed_params() + emb + self.extra_params
    }

    /// Whether any layer has routed experts.
    pub fn is_moe(&self) -> bool {
        self.routing().0 > 0
    }

    /// The routing of the MoE layers `(experts, top_k)`, taken from the
    /// first MoE group (models mix one routing only).
    pub fn routing(&self) -> (u32, u32) {
        (self.groups().iter())
            .map(|g| g.ffn.routing())
            .find(|r| r.0 > 0)
            .unwrap_or((0, 0))
    }
}

/// Weight precision of a deployment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Precision {
    /// BF16 weights and activations.
    Bf16,
    /// FP8 weights (embeddings, LM head and extras stay BF16).
    Fp8,
    /// MXFP4 expert weights (4 bits plus one 8-bit scale per 32, 4.25 bits),
    /// everything else BF16, as gpt-oss ships. Only for MoE models; the GEMMs
    /// run in BF16 after dequantisation (ASSUMED also on Blackwell, whose FP4
    /// tensor cores the catalog does not list).
    Mxfp4,
}

impl Precision {
    /// The name used in files and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Precision::Bf16 => "bf16",
            Precision::Fp8 => "fp8",
            Precision::Mxfp4 => "mxfp4",
        }
    }

    /// Bytes per weight of the non-expert linear layers.
    pub fn layer_bytes(self) -> f64 {
        match self {
            Precision::Bf16 | Precision::Mxfp4 => 2.0,
            Precision::Fp8 => 1.0,
        }
    }

    /// Bytes per weight of routed experts.
    pub fn expert_bytes(self) -> f64 {
        match self {
            Precision::Bf16 => 2.0,
            Precision::Fp8 => 1.0,
            Precision::Mxfp4 => 4.25 / 8.0,
        }
    }
}

/// Element type of the KV cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KvDtype {
    /// 2 bytes per element (vLLM's `auto` for BF16 models and NIM's default).
    Bf16,
    /// 1 byte per element (`--kv-cache-dtype fp8`).
    Fp8,
}

impl KvDtype {
    /// Bytes per element.
    pub fn bytes(self) -> f64 {
        match self {
            KvDtype::Bf16 => 2.0,
            KvDtype::Fp8 => 1.0,
        }
    }
}

/// A model on a set of identical GPUs.
#[derive(Clone, Debug, PartialEq)]
pub struct Deployment {
    /// The GPU.
    pub gpu: GpuSpec,
    /// The model.
    pub model: ModelSpec,
    /// Weight precision.
    pub precision: Precision,
    /// KV-cache element type.
    pub kv_dtype: KvDtype,
    /// Tensor-parallel degree (GPUs per pod): 1, 2, 4 or 8.
    pub tp: u32,
    /// Whether MoE layers run expert-parallel across the `tp` GPUs (whole
    /// experts per GPU, all-to-all dispatch and combine; vLLM's
    /// `--enable-expert-parallel`) instead of sharding every expert.
    pub expert_parallel: bool,
}

impl Deployment {
    /// Bytes per weight for the non-expert transformer layers.
    pub fn weight_bytes(&self) -> f64 {
        self.precision.layer_bytes()
    }

    /// Bytes of the layers' weights on all GPUs: non-expert layers plus
    /// routed experts.
    fn layer_weight_bytes(&self) -> f64 {
        let m = &self.model;
        m.dense_layer_params() * self.weight_bytes()
            + m.routed_params() * self.precision.expert_bytes()
    }

    /// Weight bytes held by one GPU.
    pub fn weight_bytes_per_gpu(&self) -> f64 {
        let m = &self.model;
        let layers = self.layer_weight_bytes();
        let emb = if m.tied_embeddings { 1.0 } else { 2.0 } * m.embedding_params() * 2.0;
        (layers + emb + m.extra_params * 2.0) / f64::from(self.tp)
    }

    /// Weight bytes one GPU reads in every step whatever the batch: the
    /// non-expert layers and the LM head. Routed experts are read as touched
    /// ([`Deployment::expert_bytes_per_gpu`]).
    pub fn step_weight_bytes_per_gpu(&self) -> f64 {
        let m = &self.model;
        let layers = m.dense_layer_params() * self.weight_bytes();
        (layers + m.embedding_params() * 2.0) / f64::from(self.tp)
    }

    /// Bytes of all routed experts on one GPU (0 for dense models). Sharded
    /// or expert-parallel, a GPU holds `1/TP` of them.
    pub fn expert_bytes_per_gpu(&self) -> f64 {
        self.model.routed_params() * self.precision.expert_bytes() / f64::from(self.tp)
    }

    /// KV heads of a GQA layer stored on one GPU (heads are replicated when
    /// `tp > H_kv`).
    fn kv_heads_on_gpu(&self, kv_heads: u32) -> f64 {
        (f64::from(kv_heads) / f64::from(self.tp)).max(1.0)
    }

    /// KV bytes per cached token on one GPU for the layers that attend over
    /// the whole context: `2 · H_kv/TP · d · k` per GQA layer, `(r + d_rope) · k`
    /// per MLA layer (the latent is replicated on every rank).
    pub fn kv_bytes_per_token_per_gpu(&self) -> f64 {
        self.kv_bytes_per_token(false)
    }

    /// KV bytes per cached token on one GPU counting sliding-window layers
    /// as if they attended over the whole context.
    pub fn kv_bytes_per_token_all_layers(&self) -> f64 {
        self.kv_bytes_per_token(true)
    }

    fn kv_bytes_per_token(&self, windowed_too: bool) -> f64 {
        let k = self.kv_dtype.bytes();
        let mut sum = 0.0;
        for g in self.model.groups().iter() {
            let n = f64::from(g.count);
            sum += match g.attention {
                Attention::Gqa {
                    kv_heads,
                    head_dim,
                    window,
                    ..
                } if window.is_none() || windowed_too => {
                    2.0 * n * self.kv_heads_on_gpu(kv_heads) * f64::from(head_dim) * k
                }
                Attention::Mla {
                    kv_lora_rank,
                    qk_rope_dim,
                    ..
                } => n * f64::from(kv_lora_rank + qk_rope_dim) * k,
                _ => 0.0,
            };
        }
        sum
    }

    /// KV bytes one sequence holds on one GPU in its sliding-window layers
    /// once its context exceeds the window (0 without such layers).
    pub fn window_kv_bytes_per_seq_per_gpu(&self) -> f64 {
        let k = self.kv_dtype.bytes();
        let mut sum = 0.0;
        for g in self.model.groups().iter() {
            if let Attention::Gqa {
                kv_heads,
                head_dim,
                window: Some(w),
                ..
            } = g.attention
            {
                sum += 2.0
                    * f64::from(g.count)
                    * self.kv_heads_on_gpu(kv_heads)
                    * f64::from(head_dim)
                    * k
                    * f64::from(w);
            }
        }
        sum
    }

    /// The efficiency [`Deployment::gemm_peak`] uses, for fitting it.
    pub fn gemm_efficiency_mut(&mut self) -> &mut f64 {
        match (self.precision, self.gpu.fp8_flops) {
            (Precision::Fp8, Some(_)) => &mut self.gpu.efficiency.cmp_fp8,
            _ => &mut self.gpu.efficiency.cmp_bf16,
        }
    }

    /// Peak FLOP/s and efficiency used for the linear layers.
    pub fn gemm_peak(&self) -> (f64, f64) {
        match (self.precision, self.gpu.fp8_flops) {
            (Precision::Fp8, Some(p)) => (p, self.gpu.efficiency.cmp_fp8),
            _ => (self.gpu.bf16_flops, self.gpu.efficiency.cmp_bf16),
        }
    }
}
