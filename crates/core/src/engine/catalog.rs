//! GPUs, models and precisions: the physical inputs of the engine model.
//!
//! These are plain values. The shipped catalog (with sources) lives as YAML in
//! the runner crate, which parses it into these types; scenarios may add their
//! own entries the same way.

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

/// One model architecture (Llama-style decoder: GQA attention, gated MLP).
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
}

impl ModelSpec {
    /// Linear-layer parameters of one layer:
    /// `h·H_q·d + 2·h·H_kv·d + H_q·d·h + 3·h·f`.
    pub fn params_per_layer(&self) -> f64 {
        let h = f64::from(self.hidden);
        let qd = f64::from(self.heads) * f64::from(self.head_dim);
        let kvd = f64::from(self.kv_heads) * f64::from(self.head_dim);
        h * qd + 2.0 * h * kvd + qd * h + 3.0 * h * f64::from(self.mlp)
    }

    /// Parameters read by every step: all layers plus the LM head.
    pub fn linear_params(&self) -> f64 {
        f64::from(self.layers) * self.params_per_layer() + self.embedding_params()
    }

    /// Parameters of one `V × h` matrix (embedding or LM head).
    pub fn embedding_params(&self) -> f64 {
        f64::from(self.vocab) * f64::from(self.hidden)
    }

    /// All parameters held in GPU memory (layers, embedding, head, extras).
    pub fn total_params(&self) -> f64 {
        let emb = if self.tied_embeddings { 1.0 } else { 2.0 } * self.embedding_params();
        f64::from(self.layers) * self.params_per_layer() + emb + self.extra_params
    }
}

/// Weight precision of a deployment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Precision {
    /// BF16 weights and activations.
    Bf16,
    /// FP8 weights (embeddings, LM head and extras stay BF16).
    Fp8,
}

impl Precision {
    /// The name used in files and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Precision::Bf16 => "bf16",
            Precision::Fp8 => "fp8",
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
}

impl Deployment {
    /// Bytes per weight for the transformer layers.
    pub fn weight_bytes(&self) -> f64 {
        match self.precision {
            Precision::Bf16 => 2.0,
            Precision::Fp8 => 1.0,
        }
    }

    /// Weight bytes held by one GPU.
    pub fn weight_bytes_per_gpu(&self) -> f64 {
        let m = &self.model;
        let layers = f64::from(m.layers) * m.params_per_layer() * self.weight_bytes();
        let emb = if m.tied_embeddings { 1.0 } else { 2.0 } * m.embedding_params() * 2.0;
        (layers + emb + m.extra_params * 2.0) / f64::from(self.tp)
    }

    /// Weight bytes one GPU reads in every step (layers + LM head).
    pub fn step_weight_bytes_per_gpu(&self) -> f64 {
        let m = &self.model;
        let layers = f64::from(m.layers) * m.params_per_layer() * self.weight_bytes();
        (layers + m.embedding_params() * 2.0) / f64::from(self.tp)
    }

    /// KV heads stored on one GPU (heads are replicated when `tp > H_kv`).
    pub fn kv_heads_per_gpu(&self) -> f64 {
        (f64::from(self.model.kv_heads) / f64::from(self.tp)).max(1.0)
    }

    /// KV bytes per token on one GPU: `2 · L · H_kv/TP · d · k`.
    pub fn kv_bytes_per_token_per_gpu(&self) -> f64 {
        2.0 * f64::from(self.model.layers)
            * self.kv_heads_per_gpu()
            * f64::from(self.model.head_dim)
            * self.kv_dtype.bytes()
    }

    /// Peak FLOP/s and efficiency used for the linear layers.
    pub fn gemm_peak(&self) -> (f64, f64) {
        match (self.precision, self.gpu.fp8_flops) {
            (Precision::Fp8, Some(p)) => (p, self.gpu.efficiency.cmp_fp8),
            _ => (self.gpu.bf16_flops, self.gpu.efficiency.cmp_bf16),
        }
    }
}
