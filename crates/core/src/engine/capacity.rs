//! Engine limits and KV-cache capacity, as vLLM computes them at start-up
//! (gpu-model.md §2 defaults, §4.3 memory plan).

use std::fmt;

use super::catalog::{Deployment, GIB, Precision};
use crate::time::SimDuration;

/// Engine settings of one NIM/vLLM profile. `None` means "vLLM's default for
/// this GPU".
#[derive(Clone, Debug, PartialEq)]
pub struct EngineProfile {
    /// Token budget per step (`--max-num-batched-tokens`).
    pub max_num_batched_tokens: Option<u32>,
    /// Running-sequence limit (`--max-num-seqs`).
    pub max_num_seqs: Option<u32>,
    /// Tokens per KV block (`--block-size`).
    pub block_size: u32,
    /// Fraction of GPU memory vLLM may use (`--gpu-memory-utilization`).
    pub gpu_memory_utilization: f64,
    /// Prefix caching (on by default in vLLM V1).
    pub enable_prefix_caching: bool,
    /// Tokens covered by one prefix hash supplied with a request (512 for the
    /// Mooncake traces); must be a multiple of `block_size`.
    pub prefix_block_tokens: u32,
    /// `--max-model-len`; `None`: the model's context, capped by KV capacity.
    pub max_model_len: Option<u32>,
    /// A NIM profile's concurrent-request cap (`num_request_max`), if any.
    pub request_cap: Option<u32>,
    /// Fraction of blocks kept free when admitting (Vidur's watermark; vLLM V1
    /// has none, so 0 by default).
    pub watermark: f64,
    /// Peak activation memory of the profiling pass, GiB per GPU.
    pub activation_gib: f64,
    /// CUDA-graph pool and other non-torch memory, GiB per GPU.
    pub cuda_graph_gib: f64,
    /// Frontend time (HTTP, tokenisation) between arrival and the scheduler.
    pub frontend_delay: SimDuration,
    /// Chunked prefill (vLLM V1's default): a prompt that does not fit the
    /// step's remaining token budget is split across steps. Off (vLLM's
    /// `--no-enable-chunked-prefill`, TensorRT-LLM's default context
    /// scheduling): a prompt is prefilled whole, in a step whose budget it
    /// fits, and waits (with those behind it) until one has room.
    pub chunked_prefill: bool,
}

impl Default for EngineProfile {
    fn default() -> Self {
        EngineProfile {
            max_num_batched_tokens: None,
            max_num_seqs: None,
            block_size: 16,
            gpu_memory_utilization: 0.9,
            enable_prefix_caching: true,
            prefix_block_tokens: 512,
            max_model_len: None,
            request_cap: None,
            watermark: 0.0,
            activation_gib: 2.0,
            cuda_graph_gib: 0.5,
            frontend_delay: SimDuration::from_millis(3),
            chunked_prefill: true,
        }
    }
}

/// What vLLM would report at start-up for a deployment and profile.
#[derive(Clone, Debug, PartialEq)]
pub struct Capacity {
    /// Effective token budget per step.
    pub max_num_batched_tokens: u32,
    /// Effective `max_num_seqs`.
    pub max_num_seqs: u32,
    /// Concurrent running requests: `max_num_seqs` capped by the NIM cap.
    pub max_running: u32,
    /// Tokens per block.
    pub block_size: u32,
    /// `num_gpu_blocks` (includes vLLM's one reserved null block).
    pub num_gpu_blocks: u32,
    /// "GPU KV cache size: N tokens".
    pub kv_tokens: u64,
    /// KV pool per GPU, bytes.
    pub kv_pool_bytes_per_gpu: f64,
    /// Weights per GPU, bytes.
    pub weight_bytes_per_gpu: f64,
    /// KV bytes per token per GPU.
    pub kv_bytes_per_token_per_gpu: f64,
    /// Effective `max_model_len`.
    pub max_model_len: u32,
    /// Blocks kept free at admission.
    pub watermark_blocks: u32,
    /// Whether prompts may be split across steps.
    pub chunked_prefill: bool,
    /// Blocks each running sequence holds for its sliding-window layers
    /// (0 without such layers).
    pub window_blocks: u32,
}

impl Capacity {
    /// "Maximum concurrency for `tokens` tokens per request": how many such
    /// requests fit in the KV cache at once.
    pub fn concurrency_at(&self, tokens: u32) -> f64 {
        let per_req = u64::from(tokens.div_ceil(self.block_size)) + u64::from(self.window_blocks);
        if per_req == 0 {
            return 0.0;
        }
        f64::from(self.num_gpu_blocks.saturating_sub(1)) / per_req as f64
    }

    /// The largest batch of requests holding `tokens` tokens each that can run
    /// at once: KV blocks and the running-sequence limit, whichever binds.
    pub fn largest_batch(&self, tokens: u32) -> u32 {
        let kv = self.concurrency_at(tokens).floor();
        (kv.min(f64::from(self.max_running))) as u32
    }
}

/// Why a model cannot be served as configured.
#[derive(Clone, Debug, PartialEq)]
pub enum CapacityError {
    /// The tensor-parallel degree is not one of 1, 2, 4, 8.
    BadTensorParallel(u32),
    /// vLLM refuses head counts that the TP degree does not divide.
    HeadsNotDivisible {
        /// Query heads.
        heads: u32,
        /// TP degree.
        tp: u32,
    },
    /// The weights (plus activations) do not fit in the memory vLLM may use.
    DoesNotFit {
        /// Model key.
        model: String,
        /// Precision.
        precision: &'static str,
        /// GPU key.
        gpu: String,
        /// TP degree.
        tp: u32,
        /// Weights per GPU, GiB.
        weights_gib: f64,
        /// Activations and graphs, GiB.
        overhead_gib: f64,
        /// Memory vLLM may use per GPU, GiB.
        budget_gib: f64,
    },
    /// An explicit `max_model_len` exceeds what the KV cache can hold.
    ContextTooLong {
        /// Requested `max_model_len`.
        max_model_len: u32,
        /// KV capacity in tokens.
        kv_tokens: u64,
    },
    /// A setting is out of range.
    Invalid(String),
}

impl fmt::Display for CapacityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CapacityError::BadTensorParallel(tp) => {
                write!(
                    f,
                    "tensor-parallel degree {tp} is not supported (use 1, 2, 4 or 8)"
                )
            }
            CapacityError::HeadsNotDivisible { heads, tp } => write!(
                f,
                "Total number of attention heads ({heads}) must be divisible by tensor parallel size ({tp})."
            ),
            CapacityError::DoesNotFit {
                model,
                precision,
                gpu,
                tp,
                weights_gib,
                overhead_gib,
                budget_gib,
            } => write!(
                f,
                "{model} ({precision}) does not fit on {tp}× {gpu}: {weights_gib:.1} GiB of weights \
                 per GPU plus {overhead_gib:.1} GiB of activations and CUDA graphs leave no room for \
                 the KV cache within {budget_gib:.1} GiB (usable memory × gpu_memory_utilization); \
                 vLLM would stop with \"No available memory for the cache blocks\". Use more GPUs \
                 per pod (tp), fp8 weights, or a larger GPU"
            ),
            CapacityError::ContextTooLong {
                max_model_len,
                kv_tokens,
            } => write!(
                f,
                "The model's max seq len ({max_model_len}) is larger than the maximum number of \
                 tokens that can be stored in KV cache ({kv_tokens}). Try increasing \
                 `gpu_memory_utilization` or decreasing `max_model_len` when initializing the engine."
            ),
            CapacityError::Invalid(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for CapacityError {}

/// vLLM's `EngineArgs.get_batch_defaults`: large budgets on big non-A100 GPUs.
pub fn vllm_batch_defaults(dep: &Deployment) -> (u32, u32) {
    if dep.gpu.memory_gib >= 70.0 && dep.gpu.family != "ampere" {
        (8192, 1024)
    } else {
        (2048, 256)
    }
}

/// The bytes each cached token takes in the KV pool, and the blocks of it a
/// running sequence's sliding-window layers hold (their whole window, taken
/// when the sequence is admitted, as vLLM's hybrid allocator gives each
/// layer group its pages from the one pool). A model whose every layer is
/// windowed is counted as full attention (an upper bound on what the cache
/// holds).
fn kv_layout(dep: &Deployment, block_size: u32) -> (f64, u32) {
    let full = dep.kv_bytes_per_token_per_gpu();
    let window = dep.window_kv_bytes_per_seq_per_gpu();
    match (window > 0.0, full > 0.0) {
        (false, _) => (full, 0),
        (true, true) => {
            let blocks = (window / (full * f64::from(block_size))).ceil();
            (full, blocks.min(1e6) as u32)
        }
        (true, false) => (dep.kv_bytes_per_token_all_layers(), 0),
    }
}

/// The memory plan and limits of `dep` under `profile`.
pub fn capacity(dep: &Deployment, profile: &EngineProfile) -> Result<Capacity, CapacityError> {
    if ![1, 2, 4, 8].contains(&dep.tp) {
        return Err(CapacityError::BadTensorParallel(dep.tp));
    }
    if !dep.model.heads.is_multiple_of(dep.tp) {
        return Err(CapacityError::HeadsNotDivisible {
            heads: dep.model.heads,
            tp: dep.tp,
        });
    }
    let bs = profile.block_size;
    if !(1..=256).contains(&bs) {
        return Err(CapacityError::Invalid(format!(
            "block_size {bs} is out of range 1..=256"
        )));
    }
    if profile.enable_prefix_caching && !profile.prefix_block_tokens.is_multiple_of(bs) {
        return Err(CapacityError::Invalid(format!(
            "prefix_block_tokens {} is not a multiple of block_size {bs}",
            profile.prefix_block_tokens
        )));
    }
    let util = profile.gpu_memory_utilization;
    if !(util > 0.0 && util <= 1.0) {
        return Err(CapacityError::Invalid(format!(
            "gpu_memory_utilization {util} is not in (0, 1]"
        )));
    }
    let (def_tokens, def_seqs) = vllm_batch_defaults(dep);
    let max_num_batched_tokens = profile.max_num_batched_tokens.unwrap_or(def_tokens);
    let max_num_seqs = profile.max_num_seqs.unwrap_or(def_seqs);
    if max_num_seqs == 0 || max_num_batched_tokens == 0 {
        return Err(CapacityError::Invalid(
            "max_num_seqs and max_num_batched_tokens must be positive".into(),
        ));
    }
    if max_num_batched_tokens < max_num_seqs {
        return Err(CapacityError::Invalid(format!(
            "max_num_batched_tokens ({max_num_batched_tokens}) must be greater than or equal to \
             max_num_seqs ({max_num_seqs})."
        )));
    }
    if dep.precision == Precision::Mxfp4 && !dep.model.is_moe() {
        return Err(CapacityError::Invalid(format!(
            "mxfp4 quantises expert weights and {} has no experts (use bf16 or fp8)",
            dep.model.name
        )));
    }
    let weight_bytes = dep.weight_bytes_per_gpu();
    let budget = dep.gpu.usable_memory_gib * GIB * util;
    let overhead = (profile.activation_gib + profile.cuda_graph_gib) * GIB;
    let pool = budget - weight_bytes - overhead;
    let (kv_per_token, window_blocks) = kv_layout(dep, bs);
    let blocks = if pool > 0.0 {
        (pool / (kv_per_token * f64::from(bs))).floor()
    } else {
        0.0
    };
    if blocks < 2.0 {
        return Err(CapacityError::DoesNotFit {
            model: dep.model.name.clone(),
            precision: dep.precision.as_str(),
            gpu: dep.gpu.name.clone(),
            tp: dep.tp,
            weights_gib: weight_bytes / GIB,
            overhead_gib: overhead / GIB,
            budget_gib: budget / GIB,
        });
    }
    let num_gpu_blocks = blocks.min(f64::from(u32::MAX)) as u32;
    // One sequence's window blocks are not tokens of context.
    let kv_tokens = u64::from(num_gpu_blocks.saturating_sub(window_blocks)) * u64::from(bs);
    let max_model_len = match profile.max_model_len {
        Some(len) if u64::from(len) > kv_tokens => {
            return Err(CapacityError::ContextTooLong {
                max_model_len: len,
                kv_tokens,
            });
        }
        Some(0) => {
            return Err(CapacityError::Invalid(
                "max_model_len must be positive".into(),
            ));
        }
        Some(len) => len,
        None => {
            let cap = (kv_tokens - u64::from(bs)).min(u64::from(dep.model.max_context));
            cap as u32
        }
    };
    let max_running = profile
        .request_cap
        .map_or(max_num_seqs, |c| c.min(max_num_seqs))
        .max(1);
    let watermark_blocks = (profile.watermark * f64::from(num_gpu_blocks)).floor() as u32;
    Ok(Capacity {
        max_num_batched_tokens,
        max_num_seqs,
        max_running,
        block_size: bs,
        num_gpu_blocks,
        kv_tokens,
        kv_pool_bytes_per_gpu: pool,
        weight_bytes_per_gpu: weight_bytes,
        kv_bytes_per_token_per_gpu: kv_per_token,
        max_model_len,
        watermark_blocks,
        chunked_prefill: profile.chunked_prefill,
        window_blocks,
    })
}
