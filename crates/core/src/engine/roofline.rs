//! The roofline step-time model (gpu-model.md §3): weights and KV bytes
//! against HBM bandwidth, GEMM and attention FLOPs against the tensor-core
//! peak, combined as a smooth maximum, plus tensor-parallel communication and
//! host overhead.
//!
//! Beyond the uniform dense decoder it covers (see [`super::arch`]):
//!
//! * mixture-of-experts layers: compute uses the active parameters (the
//!   `top_k` experts a token is routed to); memory traffic reads the routed
//!   experts a step's tokens touch, `E · (1 − (1 − k/E)^tokens)` of them per
//!   layer under uniform routing, so a decode step of a few sequences reads a
//!   fraction of the experts and a large prefill reads them all;
//! * expert parallelism: the MoE layers' all-reduce is replaced by an
//!   all-to-all dispatch and combine of each token's hidden state to its
//!   `top_k` experts;
//! * multi-head latent attention: the cache holds the latent, decode attends
//!   in the absorbed form (`2·H·(2r + d_rope)` FLOPs per token of context and
//!   layer), prefill in the expanded form (`2·H·(d_nope + d_rope + d_v)`);
//! * sliding-window layers: each new token attends over at most the window,
//!   and each sequence reads at most the window's KV (ASSUMED: a full window,
//!   exact once a sequence is longer than it);
//! * heterogeneous layers: every sum runs over the layer groups, and layers
//!   without attention or FFN skip its all-reduce;
//! * a VLM's vision encoder: the images of requests whose prefill starts in
//!   a step add their encoder FLOPs (BF16 peak) and the encoder's weights.

use super::arch::{Attention, Ffn, experts_touched};
use super::catalog::Deployment;
use super::step_time::{BatchShape, DecodeKernel, StepTime, StepTimeModel};

/// The roofline model with calibrated efficiencies (gpu-model.md §3).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Roofline {
    /// Weight bytes read per step per GPU whatever the batch (non-expert
    /// layers and LM head).
    pub weight_bytes: f64,
    /// KV bytes per cached token per GPU (full-attention layers).
    pub kv_bytes_per_token: f64,
    /// Effective bandwidth for weights, bytes/s (`BW · η_mem`).
    pub weight_bw: f64,
    /// Effective bandwidth for KV reads, bytes/s (`BW · η_kv`).
    pub kv_bw: f64,
    /// GEMM FLOPs per new token per GPU (`2·P_active / TP`).
    pub gemm_flops_per_token: f64,
    /// Effective GEMM FLOP/s (`PEAK · η_cmp`).
    pub gemm_flops: f64,
    /// Attention FLOPs per unit of decode attention context per GPU
    /// (`4·L·H_q·d / TP` for GQA).
    pub attn_flops_per_ctx: f64,
    /// Attention FLOPs per unit of prefill attention context per GPU; equal
    /// to `attn_flops_per_ctx` except for MLA.
    pub prefill_attn_flops_per_ctx: f64,
    /// Effective attention FLOP/s (BF16 peak · η_cmp(BF16)).
    pub attn_flops: f64,
    /// Bytes of all routed experts per GPU (0 for dense models).
    pub expert_bytes: f64,
    /// Routed experts per MoE layer.
    pub experts: u32,
    /// Experts per token.
    pub top_k: u32,
    /// Sliding-window attention FLOPs per new token per GPU.
    pub window_attn_flops_per_token: f64,
    /// Sliding-window KV bytes each sequence reads per step per GPU.
    pub window_kv_bytes_per_seq: f64,
    /// All-reduces per step (one per attention and FFN sublayer when TP > 1).
    pub allreduces: f64,
    /// Latency of one all-reduce, seconds.
    pub allreduce_latency: f64,
    /// Seconds per token of all-reduce payload (`2·h` bytes through a ring).
    pub allreduce_secs_per_token: f64,
    /// All-to-all exchanges per step (dispatch and combine per MoE layer
    /// under expert parallelism).
    pub alltoalls: f64,
    /// Seconds per token of all-to-all payload (`k · 2·h` bytes, the share
    /// that leaves the GPU).
    pub alltoall_secs_per_token: f64,
    /// Vision-encoder weight bytes per GPU, read in steps that encode images.
    pub encoder_bytes: f64,
    /// The share of encoder FLOPs one GPU computes (`1/TP`).
    pub encoder_share: f64,
    /// Fixed host overhead per step, seconds.
    pub overhead: f64,
    /// Host overhead per sequence, seconds.
    pub overhead_per_seq: f64,
}

/// Per-GPU FLOPs of the attention sublayers: (decode per unit of context,
/// prefill per unit of context, sliding-window per new token).
fn attention_flops(dep: &Deployment) -> (f64, f64, f64) {
    let (mut decode, mut prefill, mut window) = (0.0, 0.0, 0.0);
    for g in dep.model.groups().iter() {
        let n = f64::from(g.count);
        match g.attention {
            Attention::Gqa {
                heads,
                head_dim,
                window: None,
                ..
            } => {
                let f = 4.0 * n * f64::from(heads) * f64::from(head_dim);
                decode += f;
                prefill += f;
            }
            Attention::Gqa {
                heads,
                head_dim,
                window: Some(w),
                ..
            } => window += 4.0 * n * f64::from(heads) * f64::from(head_dim) * f64::from(w),
            Attention::Mla {
                heads,
                kv_lora_rank,
                qk_nope_dim,
                qk_rope_dim,
                v_head_dim,
                ..
            } => {
                let hq = 2.0 * n * f64::from(heads);
                decode += hq * f64::from(2 * kv_lora_rank + qk_rope_dim);
                prefill += hq * f64::from(qk_nope_dim + qk_rope_dim + v_head_dim);
            }
            Attention::None | Attention::Linear => {}
        }
    }
    let tp = f64::from(dep.tp);
    (decode / tp, prefill / tp, window / tp)
}

/// Collectives per step when TP > 1: (all-reduces, all-to-alls).
fn collectives(dep: &Deployment) -> (f64, f64) {
    if dep.tp == 1 {
        return (0.0, 0.0);
    }
    let (mut reduces, mut a2a) = (0.0, 0.0);
    for g in dep.model.groups().iter() {
        let n = f64::from(g.count);
        let attn = if g.attention.present() { 1.0 } else { 0.0 };
        let moe = matches!(g.ffn, Ffn::Moe { .. });
        if dep.expert_parallel && moe {
            reduces += n * attn;
            a2a += n * 2.0;
        } else {
            let ffn = if g.ffn.present() { 1.0 } else { 0.0 };
            reduces += n * (attn + ffn);
        }
    }
    (reduces, a2a)
}

impl Roofline {
    /// The default roofline for a deployment.
    pub fn new(dep: &Deployment) -> Roofline {
        let g = &dep.gpu;
        let m = &dep.model;
        let tp = f64::from(dep.tp);
        let (peak, eff) = dep.gemm_peak();
        let ring = if dep.tp > 1 {
            2.0 * (tp - 1.0) / tp
        } else {
            0.0
        };
        let (attn, prefill_attn, window_attn) = attention_flops(dep);
        let (allreduces, alltoalls) = collectives(dep);
        let (experts, top_k) = m.routing();
        let hidden_bytes = 2.0 * f64::from(m.hidden);
        Roofline {
            weight_bytes: dep.step_weight_bytes_per_gpu(),
            kv_bytes_per_token: dep.kv_bytes_per_token_per_gpu(),
            weight_bw: g.mem_bandwidth * g.efficiency.mem,
            kv_bw: g.mem_bandwidth * g.efficiency.kv_mem,
            gemm_flops_per_token: 2.0 * m.linear_params() / tp,
            gemm_flops: peak * eff,
            attn_flops_per_ctx: attn,
            prefill_attn_flops_per_ctx: prefill_attn,
            attn_flops: g.bf16_flops * g.efficiency.cmp_bf16,
            expert_bytes: dep.expert_bytes_per_gpu(),
            experts,
            top_k,
            window_attn_flops_per_token: window_attn,
            window_kv_bytes_per_seq: dep.window_kv_bytes_per_seq_per_gpu(),
            allreduces,
            allreduce_latency: g.allreduce_latency,
            allreduce_secs_per_token: ring * hidden_bytes / g.link_bandwidth,
            alltoalls,
            alltoall_secs_per_token: (tp - 1.0) / tp * f64::from(top_k) * hidden_bytes
                / g.link_bandwidth,
            encoder_bytes: if m.vision.is_some() {
                m.extra_params * 2.0 / tp
            } else {
                0.0
            },
            encoder_share: 1.0 / tp,
            overhead: m.step_overhead,
            overhead_per_seq: m.step_overhead_per_seq,
        }
    }

    /// Seconds per unit of each linear term: (weights, per KV token, per new
    /// token, per unit of attention context). `step` and `decode_kernel`
    /// share these so their results are identical.
    fn rates(&self) -> (f64, f64, f64, f64) {
        let mut per_token = self.gemm_flops_per_token / self.gemm_flops;
        if self.window_attn_flops_per_token > 0.0 {
            per_token += self.window_attn_flops_per_token / self.attn_flops;
        }
        (
            self.weight_bytes / self.weight_bw,
            self.kv_bytes_per_token / self.kv_bw,
            per_token,
            self.attn_flops_per_ctx / self.attn_flops,
        )
    }

    /// Memory seconds of what a step of `tokens` new tokens in `seqs`
    /// sequences reads besides the full-attention KV: the touched experts
    /// and the sliding windows (exactly 0 for a dense full-attention model).
    fn extra_memory(&self, tokens: f64, seqs: f64) -> f64 {
        let mut secs = 0.0;
        if self.expert_bytes > 0.0 {
            let touched = experts_touched(self.experts, self.top_k, tokens);
            secs += self.expert_bytes * touched / self.weight_bw;
        }
        if self.window_kv_bytes_per_seq > 0.0 {
            secs += seqs * self.window_kv_bytes_per_seq / self.kv_bw;
        }
        secs
    }

    fn comm(&self, tokens: f64) -> f64 {
        let reduce =
            self.allreduces * (self.allreduce_latency + tokens * self.allreduce_secs_per_token);
        if self.alltoalls > 0.0 {
            return reduce
                + self.alltoalls
                    * (self.allreduce_latency + tokens * self.alltoall_secs_per_token);
        }
        reduce
    }

    fn host(&self, seqs: f64) -> f64 {
        self.overhead + self.overhead_per_seq * seqs
    }
}

impl StepTimeModel for Roofline {
    fn decode_kernel(&self, n: u32) -> Option<DecodeKernel> {
        let (weights, per_kv, per_token, per_attn) = self.rates();
        let n = f64::from(n);
        Some(DecodeKernel {
            memory0: weights + self.extra_memory(n, n),
            memory_per_kv: per_kv,
            compute0: n * per_token,
            compute_per_kv: per_attn,
            comm: self.comm(n),
            overhead: self.host(n),
        })
    }

    fn step(&self, s: &BatchShape) -> StepTime {
        let (weights, per_kv, per_token, per_attn) = self.rates();
        let tokens = f64::from(s.tokens());
        let seqs = f64::from(s.seqs());
        let weights = weights + self.extra_memory(tokens, seqs);
        let kv = s.decode_kv + s.prefill_kv;
        let mut memory = weights + kv * per_kv;
        let attn = s.decode_kv + s.prefill_attn;
        let mut compute = tokens * per_token + attn * per_attn;
        if self.prefill_attn_flops_per_ctx != self.attn_flops_per_ctx {
            let extra = self.prefill_attn_flops_per_ctx - self.attn_flops_per_ctx;
            compute += s.prefill_attn * extra / self.attn_flops;
        }
        if s.encoder_flops > 0.0 {
            // The vision encoder runs in BF16 in the step that starts the
            // request's prefill (vLLM's encoder budget), reading its weights.
            compute += s.encoder_flops * self.encoder_share / self.attn_flops;
            memory += self.encoder_bytes / self.weight_bw;
        }
        // Not `hypot`: the operands are seconds, far from overflow, and
        // libm's `hypot` was a third of the engine's run time.
        let gpu = (memory * memory + compute * compute).sqrt();
        let comm = self.comm(tokens);
        let overhead = self.host(seqs);
        StepTime {
            total: gpu + comm + overhead,
            memory,
            compute,
            gpu,
            comm,
            overhead,
        }
    }
}
