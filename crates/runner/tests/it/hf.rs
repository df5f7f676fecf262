//! Hugging Face `config.json` files as catalog models. The configs are the
//! shape fields as each model's published `config.json` on the Hugging Face
//! Hub states them (transcribed; other fields left out).

use nimscale_runner::catalog::Catalog;
use nimscale_runner::catalog::shipped_config;
use nimscale_runner::hf::model_from_config;

const LLAMA_31_8B: &str = r#"{
  "architectures": ["LlamaForCausalLM"], "model_type": "llama",
  "hidden_size": 4096, "intermediate_size": 14336, "num_attention_heads": 32,
  "num_hidden_layers": 32, "num_key_value_heads": 8, "vocab_size": 128256,
  "max_position_embeddings": 131072, "tie_word_embeddings": false, "torch_dtype": "bfloat16"
}"#;

const MISTRAL_7B: &str = r#"{
  "architectures": ["MistralForCausalLM"], "model_type": "mistral",
  "hidden_size": 4096, "intermediate_size": 14336, "num_attention_heads": 32,
  "num_hidden_layers": 32, "num_key_value_heads": 8, "vocab_size": 32000,
  "max_position_embeddings": 32768, "sliding_window": 4096, "tie_word_embeddings": false
}"#;

const QWEN25_VL_7B: &str = r#"{
  "architectures": ["Qwen2_5_VLForConditionalGeneration"], "model_type": "qwen2_5_vl",
  "hidden_size": 3584, "intermediate_size": 18944, "num_attention_heads": 28,
  "num_hidden_layers": 28, "num_key_value_heads": 4, "vocab_size": 152064,
  "max_position_embeddings": 128000, "tie_word_embeddings": false,
  "vision_config": {"depth": 32, "hidden_act": "silu", "hidden_size": 1280,
    "intermediate_size": 3420, "num_heads": 16, "in_chans": 3, "out_hidden_size": 3584,
    "patch_size": 14, "spatial_merge_size": 2, "spatial_patch_size": 14, "window_size": 112,
    "fullatt_block_indexes": [7, 15, 23, 31], "tokens_per_second": 2, "temporal_patch_size": 2}
}"#;

const QWEN3_32B: &str = r#"{
  "architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3",
  "hidden_size": 5120, "intermediate_size": 25600, "num_attention_heads": 64,
  "num_hidden_layers": 64, "num_key_value_heads": 8, "head_dim": 128, "vocab_size": 151936,
  "max_position_embeddings": 40960, "tie_word_embeddings": false
}"#;

const GEMMA2_9B: &str = r#"{
  "architectures": ["Gemma2ForCausalLM"], "model_type": "gemma2",
  "hidden_size": 3584, "intermediate_size": 14336, "num_attention_heads": 16,
  "num_hidden_layers": 42, "num_key_value_heads": 8, "head_dim": 256, "vocab_size": 256000,
  "max_position_embeddings": 8192, "sliding_window": 4096
}"#;

const PHI3_MINI: &str = r#"{
  "architectures": ["Phi3ForCausalLM"], "model_type": "phi3",
  "hidden_size": 3072, "intermediate_size": 8192, "num_attention_heads": 32,
  "num_hidden_layers": 32, "num_key_value_heads": 32, "vocab_size": 32064,
  "max_position_embeddings": 131072, "tie_word_embeddings": false
}"#;

const MIXTRAL_8X7B: &str = r#"{
  "architectures": ["MixtralForCausalLM"], "model_type": "mixtral",
  "hidden_size": 4096, "intermediate_size": 14336, "num_attention_heads": 32,
  "num_hidden_layers": 32, "num_key_value_heads": 8, "vocab_size": 32000,
  "num_local_experts": 8, "num_experts_per_tok": 2, "max_position_embeddings": 32768
}"#;

#[test]
fn dense_families_load_with_the_catalogs_shapes() {
    let cat = Catalog::builtin().unwrap();
    for (text, name) in [
        (LLAMA_31_8B, "llama-8b"),
        (MISTRAL_7B, "mistral-7b"),
        (QWEN25_VL_7B, "qwen2.5-vl-7b"),
        (QWEN3_32B, "qwen3-32b"),
        (GEMMA2_9B, "gemma2-9b"),
        (PHI3_MINI, "phi3-mini"),
    ] {
        let (m, warnings) = model_from_config(text, "config.json", name, &cat)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(m.name, name);
        assert!(
            warnings.iter().any(|w| w.contains("ASSUMED")),
            "{warnings:?}"
        );
        // Parameter counts as published (within 3 %; embeddings included).
        let want = match name {
            "llama-8b" => 8.03e9,
            "mistral-7b" => 7.24e9,
            "qwen3-32b" => 32.8e9,
            "gemma2-9b" => 9.24e9,
            "phi3-mini" => 3.82e9,
            _ => 8.29e9, // Qwen2.5-VL-7B: the language model and the ViT
        };
        let got = m.total_params();
        assert!(
            (got - want).abs() / want < 0.03,
            "{name}: {got:e} vs {want:e}"
        );
    }
    // Llama-3.1-8B's config gives exactly the catalog's shape.
    let (m, _) = model_from_config(LLAMA_31_8B, "c.json", "x", &cat).unwrap();
    let c = cat.model("llama-3.1-8b-instruct").unwrap();
    assert_eq!(
        (
            m.layers, m.hidden, m.heads, m.kv_heads, m.head_dim, m.mlp, m.vocab
        ),
        (
            c.layers, c.hidden, c.heads, c.kv_heads, c.head_dim, c.mlp, c.vocab
        )
    );
    // The VLM's vision encoder is read from its vision_config: the
    // catalog's cosmos-reason1-7b (a Qwen2.5-VL-7B fine-tune) has the same.
    let (m, w) = model_from_config(QWEN25_VL_7B, "vl.json", "vl", &cat).unwrap();
    let v = m.vision.expect("vision encoder");
    let c = cat.model("cosmos-reason1-7b").unwrap();
    assert!(
        (v.params - c.extra_params).abs() / c.extra_params < 0.01,
        "{}",
        v.params
    );
    assert_eq!(
        Some(v),
        c.vision.map(|cv| nimscale_core::engine::VisionSpec {
            params: v.params,
            ..cv
        })
    );
    assert!(!w.iter().any(|w| w.contains("vision_config")), "{w:?}");
    // Mistral's sliding window is named in a warning.
    let (_, w) = model_from_config(MISTRAL_7B, "m.json", "m", &cat).unwrap();
    assert!(w.iter().any(|w| w.contains("sliding_window 4096")), "{w:?}");
}

#[test]
fn a_broken_config_is_refused_by_field() {
    let cat = Catalog::builtin().unwrap();
    let broken = LLAMA_31_8B.replace("\"num_hidden_layers\": 32,", "");
    let e = model_from_config(&broken, "b.json", "m", &cat)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("num_hidden_layers") && e.contains("missing"),
        "{e}"
    );
    let e = model_from_config(
        &MIXTRAL_8X7B.replace("\"num_experts_per_tok\": 2", "\"num_experts_per_tok\": 9"),
        "mixtral.json",
        "m",
        &cat,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("mixtral.json:5") && e.contains("9 experts per token of 8"),
        "{e}"
    );
    let nas = shipped_config("llama-3.3-nemotron-super-49b-v1.json").unwrap();
    let e = model_from_config(
        &nas.replacen("\"n_heads_in_group\": 8", "\"n_heads_in_group\": 7", 1),
        "nas.json",
        "m",
        &cat,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("block_configs[0].attention.n_heads_in_group") && e.contains("divide"),
        "{e}"
    );
}

/// A scenario names its model by a `config.json` and simulates.
#[test]
fn a_scenario_runs_a_model_from_its_config() {
    struct One(&'static str);
    impl nimscale_runner::scenario::Files for One {
        fn read(&self, path: &str) -> Result<(String, Vec<u8>), String> {
            match path {
                "qwen3.json" => Ok((path.into(), self.0.as_bytes().to_vec())),
                _ => Err(format!("no {path}")),
            }
        }
    }
    let text = "name: q\nseed: 1\nduration: 3m\nnimservice:\n  apiVersion: apps.nvidia.com/v1alpha1\n  kind: NIMService\n  metadata: {name: q, namespace: ns}\n  spec:\n    image: {repository: nvcr.io/nim/qwen/qwen3-32b, tag: \"1.0\"}\n    authSecret: ngc\n    storage: {pvc: {create: true, size: 100Gi, volumeAccessMode: ReadWriteMany}}\n    resources: {limits: {nvidia.com/gpu: 2}}\n    expose: {service: {type: ClusterIP, port: 8000}}\n    replicas: 1\nmodel: {gpu: h100-sxm, name: qwen3-32b, config: {file: qwen3.json}}\nmetrics: {source: direct}\ntraffic:\n  pattern: {kind: constant, rate: 2}\n  prompt: {fixed: 500}\n  output: {fixed: 100}\n";
    let sc = nimscale_runner::scenario::load(
        text,
        "q.yaml",
        &One(QWEN3_32B),
        &Catalog::builtin().unwrap(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(sc.resolved.deployment.model.layers, 64);
    let rec = nimscale_core::sim::config::Recording {
        timeseries: false,
        decisions: false,
    };
    let res = sc.simulation(1, rec).finish();
    assert!(
        res.summary.requests.completed > 200,
        "{:?}",
        res.summary.requests
    );
}

/// Nemotron-4 / Minitron: a non-gated squared-ReLU MLP
/// (`nvidia/Nemotron-Mini-4B-Instruct`'s config.json, transcribed).
const NEMOTRON_MINI_4B: &str = r#"{
  "architectures": ["NemotronForCausalLM"], "model_type": "nemotron", "hidden_act": "relu2",
  "hidden_size": 3072, "intermediate_size": 9216, "num_attention_heads": 24,
  "num_hidden_layers": 32, "num_key_value_heads": 8, "head_dim": 128, "vocab_size": 256000,
  "max_position_embeddings": 4096, "tie_word_embeddings": false
}"#;

/// Every MoE, MLA, sliding-window and heterogeneous family loads, with the
/// total and active parameter counts the model cards publish (within 3 %).
#[test]
fn moe_mla_and_heterogeneous_families_load_with_published_sizes() {
    let cat = Catalog::builtin().unwrap();
    for (file, total, active) in [
        ("mixtral-8x7b-instruct-v0.1.json", 46.7e9, 12.9e9),
        ("qwen3-235b-a22b.json", 235e9, 22e9),
        ("gpt-oss-120b.json", 116.8e9, 5.1e9),
        ("deepseek-r1.json", 671e9, 37e9),
        ("llama-3.3-nemotron-super-49b-v1.json", 49.9e9, 49.9e9),
    ] {
        let text = shipped_config(file).unwrap();
        let (m, _) = model_from_config(text, file, file, &cat).unwrap_or_else(|e| panic!("{e}"));
        let got = m.total_params();
        assert!((got - total).abs() / total < 0.03, "{file}: total {got:e}");
        // Active: what one token computes with (LM head in, input embedding out).
        let got = m.linear_params()
            + if file.contains("nemotron") {
                m.embedding_params()
            } else {
                0.0
            };
        assert!(
            (got - active).abs() / active < 0.03,
            "{file}: active {got:e}"
        );
        assert!(!m.layer_groups.is_empty(), "{file}");
    }
    let (m, _) = model_from_config(NEMOTRON_MINI_4B, "n.json", "n", &cat).unwrap();
    assert!(
        (m.total_params() - 4.19e9).abs() / 4.19e9 < 0.03,
        "{:e}",
        m.total_params()
    );
    assert_eq!(
        m.layer_groups[0].ffn,
        nimscale_core::engine::Ffn::Dense {
            width: 9216,
            gated: false
        }
    );
}

/// The attention type sets what the cache holds per token.
#[test]
fn kv_size_follows_the_attention_type() {
    use nimscale_core::engine::{Deployment, KvDtype, Precision};
    let cat = Catalog::builtin().unwrap();
    let dep = |model: &str, tp: u32| Deployment {
        gpu: cat.gpu("h200").unwrap().clone(),
        model: cat.model(model).unwrap().clone(),
        precision: Precision::Bf16,
        kv_dtype: KvDtype::Bf16,
        tp,
        expert_parallel: false,
    };
    // MLA: one 512 + 64 latent per layer, replicated on every rank.
    let d = dep("deepseek-r1", 8);
    assert_eq!(d.kv_bytes_per_token_per_gpu(), 61.0 * 576.0 * 2.0);
    // gpt-oss: 18 full-attention layers of 8 × 64 KV; the 18 windowed
    // layers hold 128 tokens per sequence.
    let d = dep("gpt-oss-120b", 1);
    assert_eq!(
        d.kv_bytes_per_token_per_gpu(),
        18.0 * 2.0 * 8.0 * 64.0 * 2.0
    );
    assert_eq!(
        d.window_kv_bytes_per_seq_per_gpu(),
        18.0 * 2.0 * 8.0 * 64.0 * 2.0 * 128.0
    );
    // In the pool, each running sequence holds its window as 8 blocks of 16
    // tokens (the windowed layers are as wide as the full ones); none are
    // set aside for sequences that are not running.
    let mxfp4 = Deployment {
        precision: Precision::Mxfp4,
        ..d.clone()
    };
    let cap = nimscale_core::engine::capacity(&mxfp4, &Default::default()).unwrap();
    assert_eq!(cap.window_blocks, 8);
    assert_eq!(
        cap.kv_tokens,
        u64::from(cap.num_gpu_blocks - 8) * 16,
        "{cap:?}"
    );
    // Nemotron Super: 49 of 80 layers keep attention (8 KV heads each).
    let d = dep("llama-3.3-nemotron-super-49b-v1", 1);
    assert_eq!(
        d.kv_bytes_per_token_per_gpu(),
        49.0 * 2.0 * 8.0 * 128.0 * 2.0
    );
}

/// Numbers no real model has (a million-pixel patch merged a million times,
/// ten million shared experts of ten million) are refused or bounded, never
/// an overflow.
#[test]
fn hostile_numbers_are_bounded() {
    let cat = Catalog::builtin().unwrap();
    let vl = QWEN25_VL_7B
        .replace("\"patch_size\": 14", "\"patch_size\": 1000000")
        .replace(
            "\"spatial_merge_size\": 2",
            "\"spatial_merge_size\": 1000000",
        );
    let (m, w) = model_from_config(&vl, "vl.json", "vl", &cat).unwrap();
    assert!(w.iter().any(|w| w.contains("patch_size")), "{w:?}");
    let v = m.vision.unwrap();
    assert!(v.tokens(100_000, 100_000) > 0 && v.flops(100_000, 100_000).is_finite());
    let ds = shipped_config("deepseek-r1.json")
        .unwrap()
        .replace("\"n_shared_experts\": 1", "\"n_shared_experts\": 10000000")
        .replace(
            "\"moe_intermediate_size\": 2048",
            "\"moe_intermediate_size\": 10000000",
        )
        .replace("\"q_lora_rank\": 1536", "\"q_lora_rank\": 99999999999");
    let e = model_from_config(&ds, "ds.json", "ds", &cat)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("q_lora_rank") && e.contains("out of range"),
        "{e}"
    );
    let ds = ds.replace("99999999999", "1536");
    let (m, _) = model_from_config(&ds, "ds.json", "ds", &cat).unwrap();
    assert!(m.total_params().is_finite() && m.total_params() > 1e15);
}
