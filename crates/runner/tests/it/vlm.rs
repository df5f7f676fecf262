//! A VLM's image inputs: tokens per image from the vision config (Qwen2-VL's
//! `smart_resize`), vision-encoder time in the step a prefill starts.

use nimscale_core::engine::{BatchShape, Roofline, StepTimeModel};
use nimscale_core::sim::config::Recording;
use nimscale_runner::catalog::Catalog;
use nimscale_runner::scenario::{self, Files};

struct NoFiles;
impl Files for NoFiles {
    fn read(&self, path: &str) -> Result<(String, Vec<u8>), String> {
        Err(format!("no {path}"))
    }
}

fn scenario_text(model: &str, images: &str) -> String {
    format!(
        "name: v\nseed: 3\nduration: 4m\nnimservice:\n  apiVersion: apps.nvidia.com/v1alpha1\n  kind: NIMService\n  metadata: {{name: v, namespace: ns}}\n  spec:\n    image: {{repository: nvcr.io/nim/x/y, tag: \"1.0\"}}\n    authSecret: ngc\n    storage: {{pvc: {{create: true, size: 100Gi, volumeAccessMode: ReadWriteMany}}}}\n    resources: {{limits: {{nvidia.com/gpu: 1}}}}\n    expose: {{service: {{type: ClusterIP, port: 8000}}}}\n    replicas: 1\nmodel: {{gpu: h100-sxm, name: {model}}}\nmetrics: {{source: direct}}\ntraffic:\n  pattern: {{kind: constant, rate: 2}}\n  prompt: {{fixed: 200}}\n  output: {{fixed: 50}}\n{images}"
    )
}

fn load(model: &str, images: &str) -> Result<scenario::Scenario, String> {
    let cat = Catalog::builtin().unwrap();
    scenario::load(&scenario_text(model, images), "v.yaml", &NoFiles, &cat)
        .map_err(|e| e.to_string())
}

/// Qwen2-VL's processor: sides rounded to 28 pixels, one token per 28 × 28.
#[test]
fn image_tokens_follow_the_processor() {
    let cat = Catalog::builtin().unwrap();
    let v = cat.model("cosmos-reason1-7b").unwrap().vision.unwrap();
    assert_eq!(v.tokens(224, 224), 64);
    // 1280 × 720 → 1288 × 728 → 46 × 26 tokens.
    assert_eq!(v.resized(1280, 720), (1288, 728));
    assert_eq!(v.tokens(1280, 720), 1196);
    // Above max_pixels (12,845,056) the image is scaled down to fit.
    let (w, h) = v.resized(8000, 6000);
    assert!(w * h <= 12_845_056 && w % 28 == 0 && h % 28 == 0, "{w}×{h}");
    // The encoder: 2 FLOPs per parameter and patch, plus attention over
    // 4 full layers of 4,784 patches and 28 windowed layers of 64.
    let n = 4784.0;
    let want = 2.0 * 676e6 * n + 4.0 * 1280.0 * n * (4.0 * n + 28.0 * 64.0);
    assert!(
        (v.flops(1280, 720) - want).abs() < 1.0,
        "{}",
        v.flops(1280, 720)
    );
}

/// Requests carry their images' tokens, and their prefill step pays the
/// encoder: TTFT rises by at least the encoder's time.
#[test]
fn images_add_tokens_and_encoder_time() {
    let text = load("cosmos-reason1-7b", "").unwrap();
    let vlm = load(
        "cosmos-reason1-7b",
        "  images: {count: 2, width: 1280, height: 720}\n",
    )
    .unwrap();
    let a = vlm.source(3).next_arrival().unwrap();
    assert_eq!(a.prompt, 200 + 2 * 1196);
    let cat = Catalog::builtin().unwrap();
    let v = cat.model("cosmos-reason1-7b").unwrap().vision.unwrap();
    assert_eq!(a.encoder_flops, 2.0 * v.flops(1280, 720));
    // The encoder's share of a step: its FLOPs at the BF16 GEMM rate.
    let r = Roofline::new(&vlm.resolved.deployment);
    let mut shape = BatchShape::default();
    shape.add_prefill(a.prompt, 0);
    let without = r.step_secs(&shape);
    shape.encoder_flops = a.encoder_flops;
    let with = r.step_secs(&shape);
    let encoder = a.encoder_flops / (989e12 * 0.76);
    assert!(
        with - without >= 0.5 * encoder && with > without,
        "{with} {without} {encoder}"
    );
    let rec = Recording {
        timeseries: false,
        decisions: false,
    };
    let t = text.simulation(3, rec).finish().summary;
    let i = vlm.simulation(3, rec).finish().summary;
    assert!(
        i.ttft.p50 > t.ttft.p50 + encoder,
        "text {} vs images {} (encoder {encoder})",
        t.ttft.p50,
        i.ttft.p50
    );
    // Half the requests with images: the median between the two.
    let half = load(
        "cosmos-reason1-7b",
        "  images: {count: 2, width: 1280, height: 720, share: 0.5}\n",
    )
    .unwrap();
    let h = half.simulation(3, rec).finish().summary;
    assert!(
        h.ttft.p90 > t.ttft.p90 && h.ttft.p50 < i.ttft.p50,
        "{:?}",
        h.ttft
    );
}

#[test]
fn images_need_a_vision_encoder() {
    let e = load(
        "llama-3.1-8b-instruct",
        "  images: {count: 1, width: 640, height: 480}\n",
    )
    .unwrap_err();
    assert!(
        e.contains("v.yaml:21:3")
            && e.contains("traffic.images")
            && e.contains("no vision encoder"),
        "{e}"
    );
    let e = load(
        "cosmos-reason1-7b",
        "  images: {count: 0, width: 0, height: 480, share: 2}\n",
    )
    .unwrap_err();
    for f in ["images.count", "images.width", "images.share"] {
        assert!(e.contains(f), "{f}: {e}");
    }
}
