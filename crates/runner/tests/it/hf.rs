//! Hugging Face `config.json` files as catalog models. The configs are the
//! shape fields as each model's published `config.json` on the Hugging Face
//! Hub states them (transcribed; other fields left out).

use nimscale_runner::catalog::Catalog;
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
  "vision_config": {"depth": 32, "hidden_size": 1280}
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
            _ => 7.62e9, // Qwen2.5-7B's language model
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
    // Mistral's sliding window is named in a warning.
    let (_, w) = model_from_config(MISTRAL_7B, "m.json", "m", &cat).unwrap();
    assert!(w.iter().any(|w| w.contains("sliding_window 4096")), "{w:?}");
}

#[test]
fn what_the_engine_does_not_model_is_refused_by_field() {
    let cat = Catalog::builtin().unwrap();
    let e = model_from_config(MIXTRAL_8X7B, "mixtral.json", "m", &cat)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("mixtral.json:5") && e.contains("num_local_experts"),
        "{e}"
    );
    let broken = LLAMA_31_8B.replace("\"num_hidden_layers\": 32,", "");
    let e = model_from_config(&broken, "b.json", "m", &cat)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("num_hidden_layers") && e.contains("missing"),
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
