//! Replays a Mooncake JSONL trace (uncompressed) through dynamo-mocker's
//! offline replay on 8 vLLM-style workers with round-robin routing, with
//! the engine limits nimscale derives for Llama-3.1-8B on H100 (27,741 KV
//! blocks of 16 tokens, 1,024 sequences, 8,192 batched tokens, prefix
//! caching), and prints requests per wall-second for each of `RUNS` runs.

use std::path::PathBuf;
use std::time::Instant;

use dynamo_mocker::config::MockerConfig;
use dynamo_mocker::replay::simulate_trace_file;

const RUNS: usize = 5;

fn main() -> anyhow::Result<()> {
    let trace: PathBuf = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: dynamo-compare TRACE.jsonl"))?
        .into();
    let requests = std::fs::read_to_string(&trace)?.lines().filter(|l| !l.trim().is_empty()).count();
    let config = MockerConfig::from_value(serde_json::json!({
        "engine": {
            "backend": "vllm",
            "block_size": 16,
            "num_gpu_blocks": 27741,
            "max_num_seqs": 1024,
            "max_num_batched_tokens": 8192,
            "enable_prefix_caching": true
        }
    }))?;
    for run in 0..RUNS {
        let t = Instant::now();
        let report = simulate_trace_file(config.clone(), &trace, 512, 8, 1.0)?;
        let wall = t.elapsed().as_secs_f64();
        std::hint::black_box(&report);
        println!(
            "run {run}: {requests} requests in {wall:.3} s wall = {:.0} requests/s",
            requests as f64 / wall
        );
    }
    Ok(())
}
