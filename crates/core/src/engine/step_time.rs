//! How long one engine step takes (gpu-model.md §3).
//!
//! A step processes a batch of new tokens: one per decoding sequence plus the
//! prefill chunks scheduled in that step. [`StepTimeModel`] maps the batch's
//! [`BatchShape`] to seconds; three implementations are provided:
//!
//! * [`Roofline`] (default): weights and KV bytes against HBM bandwidth, GEMM
//!   and attention FLOPs against the tensor-core peak, combined as a smooth
//!   maximum, plus tensor-parallel all-reduces and a fixed host overhead;
//! * [`Fitted`]: `a + b·tokens + c·kv + d·attn + e·seqs` with fitted
//!   coefficients (the llm-d / DistServe forms);
//! * [`ProfileTable`]: measured decode (batch × context) and prefill (tokens)
//!   step times with interpolation.
//!
//! Every model must be nondecreasing in context: the engine relies on it to
//! count decode steps in closed form.

pub use super::roofline::Roofline;

/// The work of one step.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct BatchShape {
    /// Decoding sequences (one new token each).
    pub decode_seqs: u32,
    /// Σ over decoding sequences of the tokens each attends over (its cached
    /// tokens plus the new one).
    pub decode_kv: f64,
    /// Sequences with a prefill chunk in this step.
    pub prefill_seqs: u32,
    /// New prefill tokens in this step.
    pub prefill_tokens: u32,
    /// Σ over prefill chunks of the tokens each attends over (`p + n`).
    pub prefill_kv: f64,
    /// Σ over new prefill tokens of their attention context
    /// (`n·p + n²/2` per chunk of `n` tokens after `p` cached ones).
    pub prefill_attn: f64,
    /// Vision-encoder FLOPs (whole model, all GPUs) of the images whose
    /// requests start their prefill in this step.
    pub encoder_flops: f64,
}

impl BatchShape {
    /// `b` sequences each decoding one token over `context` cached tokens.
    pub fn decode(b: u32, context: f64) -> BatchShape {
        BatchShape {
            decode_seqs: b,
            decode_kv: f64::from(b) * (context + 1.0),
            ..BatchShape::default()
        }
    }

    /// Adds a prefill chunk of `n` tokens after `p` already-computed tokens.
    pub fn add_prefill(&mut self, n: u32, p: u32) {
        let (nf, pf) = (f64::from(n), f64::from(p));
        self.prefill_seqs += 1;
        self.prefill_tokens += n;
        self.prefill_kv += pf + nf;
        self.prefill_attn += nf * pf + nf * nf / 2.0;
    }

    /// New tokens in the step.
    pub fn tokens(&self) -> u32 {
        self.decode_seqs + self.prefill_tokens
    }

    /// Sequences in the step.
    pub fn seqs(&self) -> u32 {
        self.decode_seqs + self.prefill_seqs
    }
}

/// One step's time and its parts, seconds.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StepTime {
    /// Whole step.
    pub total: f64,
    /// Memory-bound time (weights + KV reads).
    pub memory: f64,
    /// Compute-bound time (GEMMs + attention).
    pub compute: f64,
    /// GPU time: smooth maximum of memory and compute.
    pub gpu: f64,
    /// Tensor-parallel communication.
    pub comm: f64,
    /// Host overhead.
    pub overhead: f64,
}

/// Maps a batch to its step time.
pub trait StepTimeModel: Send + Sync {
    /// The step time with its components.
    fn step(&self, shape: &BatchShape) -> StepTime;

    /// The step time in seconds.
    fn step_secs(&self, shape: &BatchShape) -> f64 {
        self.step(shape).total
    }

    /// For a decode-only step of `n` sequences, the step time as a closed
    /// function of the KV tokens read, giving exactly (bit for bit) what
    /// `step_secs` gives; `None` when the model has none. Decode runs
    /// evaluate it dozens of times per run without building shapes or
    /// dispatching through the trait object.
    fn decode_kernel(&self, n: u32) -> Option<DecodeKernel> {
        let _ = n;
        None
    }
}

/// A decode-only step time as a function of the KV tokens read:
/// `(√(memory² + compute²) + comm) + overhead` with `memory` and `compute`
/// linear in the KV tokens, the roofline's form with everything that does not
/// depend on the KV tokens computed once.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DecodeKernel {
    /// Memory time that does not depend on the KV tokens (weights).
    pub memory0: f64,
    /// Memory seconds per KV token.
    pub memory_per_kv: f64,
    /// Compute time that does not depend on the KV tokens (GEMMs).
    pub compute0: f64,
    /// Compute seconds per KV token (attention).
    pub compute_per_kv: f64,
    /// Communication seconds.
    pub comm: f64,
    /// Host overhead seconds.
    pub overhead: f64,
}

impl DecodeKernel {
    /// Seconds of the step reading `kv` KV tokens.
    #[inline]
    pub fn secs(&self, kv: f64) -> f64 {
        let memory = self.memory0 + kv * self.memory_per_kv;
        let compute = self.compute0 + kv * self.compute_per_kv;
        (memory * memory + compute * compute).sqrt() + self.comm + self.overhead
    }
}

impl<T: StepTimeModel + ?Sized> StepTimeModel for Box<T> {
    fn step(&self, shape: &BatchShape) -> StepTime {
        (**self).step(shape)
    }
    fn decode_kernel(&self, n: u32) -> Option<DecodeKernel> {
        (**self).decode_kernel(n)
    }
    fn step_secs(&self, shape: &BatchShape) -> f64 {
        (**self).step_secs(shape)
    }
}

/// A fitted linear model: `a + b·tokens + c·kv + d·attn + e·seqs` seconds,
/// where `kv` is all KV tokens read and `attn` the prefill attention context.
/// With only `a` and `e` it is the llm-d "ITL = α + β·batch" form.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Fitted {
    /// Constant term, seconds.
    pub a: f64,
    /// Seconds per new token.
    pub per_token: f64,
    /// Seconds per KV token read.
    pub per_kv_token: f64,
    /// Seconds per unit of prefill attention context (quadratic term).
    pub per_attn: f64,
    /// Seconds per sequence.
    pub per_seq: f64,
}

impl StepTimeModel for Fitted {
    fn step(&self, s: &BatchShape) -> StepTime {
        let memory = self.per_kv_token * (s.decode_kv + s.prefill_kv);
        let compute = self.per_token * f64::from(s.tokens()) + self.per_attn * s.prefill_attn;
        let overhead = self.a + self.per_seq * f64::from(s.seqs());
        let gpu = memory + compute;
        StepTime {
            total: gpu + overhead,
            memory,
            compute,
            gpu,
            comm: 0.0,
            overhead,
        }
    }
}

/// Measured step times with interpolation.
///
/// * decode: a grid of batch sizes × per-sequence contexts → seconds
///   (bilinear inside, linear extrapolation outside);
/// * prefill: chunk tokens → seconds for a prefill-only step from an empty
///   cache (linear interpolation / extrapolation).
///
/// A mixed step costs `decode(B, C̄) + prefill(T) − overhead`, where
/// `overhead` is the table's fixed per-step cost (so it is counted once).
/// Cached-prefix attention in prefill chunks is not in the table and is
/// ignored.
#[derive(Clone, Debug, PartialEq)]
pub struct ProfileTable {
    batches: Vec<f64>,
    contexts: Vec<f64>,
    /// `decode[i][j]`: batch `batches[i]`, context `contexts[j]`.
    decode: Vec<Vec<f64>>,
    prefill: Vec<(f64, f64)>,
    overhead: f64,
}

/// Why a profile table is unusable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProfileError(pub String);

impl std::fmt::Display for ProfileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ProfileError {}

fn strictly_increasing(xs: &[f64]) -> bool {
    xs.windows(2).all(|w| w[0] < w[1])
}

impl ProfileTable {
    /// Builds a table, checking shapes, ordering and monotonicity in context.
    pub fn new(
        batches: Vec<f64>,
        contexts: Vec<f64>,
        decode: Vec<Vec<f64>>,
        prefill: Vec<(f64, f64)>,
        overhead: f64,
    ) -> Result<ProfileTable, ProfileError> {
        if batches.len() < 2 || contexts.len() < 2 {
            return Err(ProfileError(
                "decode grid needs at least 2 batch sizes and 2 contexts".into(),
            ));
        }
        if !strictly_increasing(&batches) || !strictly_increasing(&contexts) {
            return Err(ProfileError(
                "batch sizes and contexts must be strictly increasing".into(),
            ));
        }
        if decode.len() != batches.len() || decode.iter().any(|r| r.len() != contexts.len()) {
            return Err(ProfileError(format!(
                "decode grid must be {} rows of {} values",
                batches.len(),
                contexts.len()
            )));
        }
        for (i, row) in decode.iter().enumerate() {
            if row.iter().any(|v| !(v.is_finite() && *v > 0.0)) {
                return Err(ProfileError(format!(
                    "decode row {i}: times must be positive"
                )));
            }
            if row.windows(2).any(|w| w[1] < w[0]) {
                return Err(ProfileError(format!(
                    "decode row {i} (batch {}): step time must not decrease with context",
                    batches[i]
                )));
            }
        }
        let xs: Vec<f64> = prefill.iter().map(|p| p.0).collect();
        if prefill.len() < 2 || !strictly_increasing(&xs) {
            return Err(ProfileError(
                "prefill needs at least 2 points with increasing tokens".into(),
            ));
        }
        if !(overhead.is_finite() && overhead >= 0.0) {
            return Err(ProfileError("overhead must be a nonnegative number".into()));
        }
        Ok(ProfileTable {
            batches,
            contexts,
            decode,
            prefill,
            overhead,
        })
    }

    fn decode_time(&self, b: f64, c: f64) -> f64 {
        let (i, ti) = segment(&self.batches, b);
        let (j, tj) = segment(&self.contexts, c);
        let v = |ii: usize, jj: usize| self.decode[ii][jj];
        let lo = v(i, j) + (v(i, j + 1) - v(i, j)) * tj;
        let hi = v(i + 1, j) + (v(i + 1, j + 1) - v(i + 1, j)) * tj;
        lo + (hi - lo) * ti
    }

    fn prefill_time(&self, t: f64) -> f64 {
        let xs: Vec<f64> = self.prefill.iter().map(|p| p.0).collect();
        let (i, ti) = segment(&xs, t);
        let (a, b) = (self.prefill[i].1, self.prefill[i + 1].1);
        a + (b - a) * ti
    }
}

/// The interval `[xs[i], xs[i+1]]` for `x` and the position in it (may be
/// outside `[0, 1]` for extrapolation; clamped at 0 below the first point).
fn segment(xs: &[f64], x: f64) -> (usize, f64) {
    let n = xs.len();
    let i = match xs.iter().position(|&v| v > x) {
        Some(0) => 0,
        Some(p) => p - 1,
        None => n - 2,
    }
    .min(n - 2);
    let t = (x - xs[i]) / (xs[i + 1] - xs[i]);
    (i, if i == 0 { t.max(0.0) } else { t })
}

impl StepTimeModel for ProfileTable {
    fn step(&self, s: &BatchShape) -> StepTime {
        let mut total = 0.0;
        if s.decode_seqs > 0 {
            let b = f64::from(s.decode_seqs);
            total += self.decode_time(b, (s.decode_kv / b - 1.0).max(0.0));
        }
        if s.prefill_tokens > 0 {
            let p = self.prefill_time(f64::from(s.prefill_tokens));
            total += if s.decode_seqs > 0 {
                p - self.overhead
            } else {
                p
            };
        }
        let gpu = (total - self.overhead).max(0.0);
        StepTime {
            total,
            memory: 0.0,
            compute: 0.0,
            gpu,
            comm: 0.0,
            overhead: self.overhead,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_table_interpolates_and_rejects_nonmonotone_rows() {
        let t = ProfileTable::new(
            vec![1.0, 64.0],
            vec![0.0, 4096.0],
            vec![vec![0.010, 0.012], vec![0.014, 0.030]],
            vec![(128.0, 0.02), (4096.0, 0.30)],
            0.002,
        )
        .unwrap();
        let d = t.step_secs(&BatchShape::decode(1, 2048.0));
        assert!((d - 0.011).abs() < 1e-4, "{d}");
        let mut s = BatchShape::default();
        s.add_prefill(2112, 0);
        assert!((t.step_secs(&s) - 0.16).abs() < 1e-9);
        let bad = ProfileTable::new(
            vec![1.0, 2.0],
            vec![0.0, 1.0],
            vec![vec![0.02, 0.01], vec![0.02, 0.03]],
            vec![(1.0, 0.1), (2.0, 0.2)],
            0.0,
        );
        assert!(bad.unwrap_err().0.contains("must not decrease"));
    }

    #[test]
    fn prefill_attention_context_is_triangular() {
        let mut s = BatchShape::default();
        s.add_prefill(100, 50);
        assert_eq!(s.prefill_attn, 100.0 * 50.0 + 5000.0);
        assert_eq!(s.prefill_kv, 150.0);
        assert_eq!(s.tokens(), 100);
    }

    #[test]
    fn decode_kernel_is_step_secs_bit_for_bit() {
        let r = Roofline {
            weight_bytes: 16.06e9,
            kv_bytes_per_token: 131_072.0,
            weight_bw: 3.35e12 * 0.8,
            kv_bw: 3.35e12 * 0.7,
            gemm_flops_per_token: 2.0 * 7.5e9 / 2.0,
            gemm_flops: 989e12 * 0.6,
            attn_flops_per_ctx: 4.0 * 32.0 * 32.0 * 128.0 / 2.0,
            prefill_attn_flops_per_ctx: 4.0 * 32.0 * 32.0 * 128.0 / 2.0,
            attn_flops: 989e12 * 0.5,
            allreduces: 64.0,
            allreduce_latency: 8e-6,
            allreduce_secs_per_token: 1.3e-10,
            overhead: 0.0021,
            overhead_per_seq: 1.7e-5,
            ..Roofline::default()
        };
        let mut rng = crate::rng::Stream::named(5, "kernel");
        for _ in 0..10_000 {
            let n = 1 + rng.below(512) as u32;
            let kv = (rng.below(1 << 24) as f64) + rng.uniform();
            let k = r.decode_kernel(n).expect("roofline has a kernel");
            let want = r.step_secs(&BatchShape {
                decode_seqs: n,
                decode_kv: kv,
                ..BatchShape::default()
            });
            assert_eq!(k.secs(kv).to_bits(), want.to_bits(), "n {n} kv {kv}");
            let boxed: Box<dyn StepTimeModel> = Box::new(r.clone());
            assert_eq!(boxed.decode_kernel(n), Some(k));
        }
        assert_eq!(Fitted::default().decode_kernel(4), None);
    }
}
