//! `nimscale engine`: one engine's step time, capacity and closed-loop
//! benchmark.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::{errln, fail};

use clap::Subcommand;

#[derive(Subcommand)]
pub enum EngineCommand {
    /// Time of one engine step in which B sequences each decode one token
    /// attending over C cached tokens and P sequences each prefill T new
    /// tokens; prints one JSON object.
    StepTime {
        #[command(flatten)]
        dep: DeploymentArgs,
        /// Decoding sequences (B).
        #[arg(long, default_value_t = 1)]
        decode_seqs: u32,
        /// Cached tokens each decoding sequence attends over (C).
        #[arg(long, default_value_t = 1024)]
        context: u32,
        /// Sequences prefilling in the step (P).
        #[arg(long, default_value_t = 0)]
        prefill_seqs: u32,
        /// New prompt tokens per prefilling sequence (T).
        #[arg(long, default_value_t = 0)]
        prefill_tokens: u32,
    },
    /// vLLM's start-up memory plan: weights, KV blocks and tokens, limits and
    /// the largest batch; prints one JSON object.
    Capacity {
        #[command(flatten)]
        dep: DeploymentArgs,
        #[command(flatten)]
        profile: ProfileArgs,
        /// Tokens per request (prompt + output) for `largest_batch`
        /// (default: max_model_len).
        #[arg(long)]
        context: Option<u32>,
    },
    /// AIPerf-style closed loop: CONCURRENCY clients each send ISL-token
    /// prompts for OSL tokens, back to back; prints mean TTFT, ITL and
    /// throughput as one JSON object.
    Benchmark {
        #[command(flatten)]
        dep: DeploymentArgs,
        #[command(flatten)]
        profile: ProfileArgs,
        /// Concurrent clients (1 to 100,000).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        concurrency: u32,
        /// Prompt tokens per request (1 to 10,000,000).
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
        isl: u32,
        /// Output tokens per request (1 to 10,000,000).
        #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
        osl: u32,
        /// Requests measured after warm-up (1 to 10,000,000).
        #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
        requests: u32,
    },
}

#[derive(clap::Args)]
pub struct DeploymentArgs {
    /// GPU catalog key (h100-sxm, h100-pcie, h100-nvl, h200, h20, b200,
    /// gb200, a100-80gb, a100-40gb, l40s, l4, rtx-pro-6000).
    #[arg(long)]
    gpu: String,
    /// Model catalog key (llama-3.1-8b-instruct, llama-3.3-70b-instruct,
    /// mixtral-8x7b-instruct-v0.1, gpt-oss-120b, ...: `nimscale engine
    /// capacity` with an unknown key lists them all).
    #[arg(long)]
    model: String,
    /// Weight precision (mxfp4: MoE expert weights in MXFP4, the rest BF16).
    #[arg(long, default_value = "bf16", value_parser = ["bf16", "fp8", "mxfp4"])]
    precision: String,
    /// KV-cache element type.
    #[arg(long, default_value = "bf16", value_parser = ["bf16", "auto", "fp8"])]
    kv_cache_dtype: String,
    /// Tensor-parallel degree (GPUs per pod).
    #[arg(long, default_value_t = 1)]
    tp: u32,
    /// Run MoE layers expert-parallel across the TP GPUs (vLLM's
    /// --enable-expert-parallel) instead of sharding every expert.
    #[arg(long)]
    expert_parallel: bool,
    /// Extra catalog file(s) with `gpus:` / `models:` entries.
    #[arg(long)]
    catalog: Vec<PathBuf>,
    /// A Hugging Face `config.json` describing the model; --model then
    /// names it (Llama, Mistral, Qwen2/3, Gemma, Phi-3, Granite, Nemotron,
    /// Nemotron-NAS, and MoE: Mixtral, Qwen-MoE, gpt-oss, DeepSeek-V2/V3/R1).
    #[arg(long)]
    model_config: Option<PathBuf>,
}

impl DeploymentArgs {
    pub(crate) fn model_key(&self) -> &str {
        &self.model
    }
    pub(crate) fn gpu_key(&self) -> &str {
        &self.gpu
    }
    pub(crate) fn precision_key(&self) -> &str {
        &self.precision
    }
    pub(crate) fn tp_value(&self) -> u32 {
        self.tp
    }
}

#[derive(clap::Args)]
pub struct ProfileArgs {
    /// `--gpu-memory-utilization`.
    #[arg(long, default_value_t = 0.9)]
    gpu_memory_utilization: f64,
    /// `--max-num-seqs` (default: vLLM's for the GPU).
    #[arg(long)]
    max_num_seqs: Option<u32>,
    /// `--max-num-batched-tokens` (default: vLLM's for the GPU).
    #[arg(long)]
    max_num_batched_tokens: Option<u32>,
    /// `--max-model-len` (default: the model's, capped by KV capacity).
    #[arg(long)]
    max_model_len: Option<u32>,
    /// `--block-size`.
    #[arg(long, default_value_t = 16)]
    block_size: u32,
    /// A NIM profile's concurrent-request cap (`num_request_max`).
    #[arg(long)]
    num_request_max: Option<u32>,
    /// Prefill each prompt whole, in a step whose token budget it fits
    /// (vLLM's --no-enable-chunked-prefill; TensorRT-LLM's default context
    /// scheduling, which NIM's TensorRT-LLM profiles use).
    #[arg(long)]
    no_chunked_prefill: bool,
}

impl ProfileArgs {
    pub(crate) fn profile(&self) -> nimscale_core::engine::EngineProfile {
        nimscale_core::engine::EngineProfile {
            gpu_memory_utilization: self.gpu_memory_utilization,
            max_num_seqs: self.max_num_seqs,
            max_num_batched_tokens: self.max_num_batched_tokens,
            max_model_len: self.max_model_len,
            block_size: self.block_size,
            request_cap: self.num_request_max,
            chunked_prefill: !self.no_chunked_prefill,
            ..Default::default()
        }
    }
}

/// Resolves deployment arguments; `Err` carries a user-facing message.
pub(crate) fn resolve_engine(
    dep: &DeploymentArgs,
    profile: nimscale_core::engine::EngineProfile,
) -> anyhow::Result<Result<nimscale_runner::engine::Resolved, String>> {
    use nimscale_runner::catalog::{self, Catalog};
    let mut cat = Catalog::builtin().map_err(|e| anyhow::anyhow!("{e}"))?;
    for f in &dep.catalog {
        let name = f.display().to_string();
        let text = fail::read_input(f)?;
        if let Err(e) = cat.extend(&text, &name) {
            return Ok(Err(e.to_string()));
        }
    }
    if let Some(f) = &dep.model_config {
        let name = f.display().to_string();
        let text = fail::read_input(f)?;
        match nimscale_runner::hf::model_from_config(&text, &name, &dep.model, &cat) {
            Ok((spec, warnings)) => {
                for w in warnings {
                    crate::errln!("warning: {w}");
                }
                cat.models.insert(spec.name.clone(), spec);
            }
            Err(e) => return Ok(Err(e.to_string())),
        }
    }
    let opts = nimscale_runner::engine::EngineOptions {
        gpu: dep.gpu.clone(),
        model: dep.model.clone(),
        precision: match catalog::parse_precision(&dep.precision) {
            Ok(p) => p,
            Err(e) => return Ok(Err(e)),
        },
        kv_dtype: match catalog::parse_kv_dtype(&dep.kv_cache_dtype) {
            Ok(k) => k,
            Err(e) => return Ok(Err(e)),
        },
        tp: dep.tp,
        expert_parallel: dep.expert_parallel,
        profile,
    };
    Ok(nimscale_runner::engine::resolve(&cat, &opts).map_err(|e| e.to_string()))
}

pub fn run_engine(command: EngineCommand) -> anyhow::Result<ExitCode> {
    use nimscale_core::engine::{BatchShape, EngineProfile, Roofline, StepTimeModel};
    let (dep, profile) = match &command {
        EngineCommand::StepTime { dep, .. } => (dep, EngineProfile::default()),
        EngineCommand::Capacity { dep, profile, .. }
        | EngineCommand::Benchmark { dep, profile, .. } => (dep, profile.profile()),
    };
    let resolved = match resolve_engine(dep, profile)? {
        Ok(r) => r,
        Err(e) => {
            errln!("error: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let mut out = std::io::stdout().lock();
    match command {
        EngineCommand::StepTime {
            decode_seqs,
            context,
            prefill_seqs,
            prefill_tokens,
            ..
        } => {
            let mut shape = BatchShape::decode(decode_seqs, f64::from(context));
            for _ in 0..prefill_seqs {
                shape.add_prefill(prefill_tokens, 0);
            }
            let t = Roofline::new(&resolved.deployment).step(&shape);
            let json = nimscale_output::engine::step_time_json(
                &resolved.deployment,
                &shape,
                f64::from(context),
                prefill_tokens,
                &t,
            );
            writeln!(out, "{json}")?;
        }
        EngineCommand::Capacity { context, .. } => {
            let cap = &resolved.capacity;
            let tokens = context.unwrap_or(cap.max_model_len);
            writeln!(
                out,
                "{}",
                nimscale_output::engine::capacity_json(&resolved.deployment, cap, tokens)
            )?;
        }
        EngineCommand::Benchmark {
            concurrency,
            isl,
            osl,
            requests,
            ..
        } => {
            use nimscale_runner::benchmark::steady_state;
            if concurrency == 0 || isl == 0 || osl == 0 || requests == 0 {
                errln!("error: --concurrency, --isl, --osl and --requests must be positive");
                return Ok(ExitCode::from(2));
            }
            if isl.saturating_add(osl) > resolved.capacity.max_model_len {
                errln!(
                    "error: --isl {isl} + --osl {osl} tokens exceed the engine's max_model_len {}: no request could be served",
                    resolved.capacity.max_model_len
                );
                return Ok(ExitCode::from(2));
            }
            let s = steady_state(&resolved, concurrency, isl, osl, requests);
            let figures = [
                s.ttft,
                s.itl,
                s.e2e,
                s.output_tokens_per_s,
                s.requests_per_s,
            ];
            if figures.iter().any(|v| !(v.is_finite() && *v >= 0.0)) {
                errln!(
                    "error: the benchmark gave figures nimscale cannot stand behind (TTFT {} s, ITL {} s, {} tok/s); check the catalog entries' figures",
                    s.ttft,
                    s.itl,
                    s.output_tokens_per_s
                );
                return Ok(ExitCode::from(2));
            }
            let json = nimscale_output::engine::benchmark_json(
                &resolved.deployment,
                concurrency,
                isl,
                osl,
                &s,
            );
            writeln!(out, "{json}")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
