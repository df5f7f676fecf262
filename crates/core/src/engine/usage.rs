//! A modest CPU and memory model of a NIM pod, for HPAs on Resource metrics.
//!
//! A NIM/vLLM pod's CPU use is mostly the engine-core process spinning while
//! the GPU works (one busy host thread per engine) plus the API server's
//! work (HTTP, tokenisation, detokenisation, streaming), which the engine's
//! front-end model measures and adds. Its resident memory is dominated by a
//! fixed base (Python, CUDA context, libraries) with a small per-request
//! share. The
//! defaults are round figures, not measurements; they exist so that a CPU- or
//! memory-based HPA reacts to load in the right direction and at roughly the
//! right scale. Override them per scenario when you have a real pod's figures.
//!
//! CPU is exposed as a cumulative counter (`container_cpu_usage_seconds_total`
//! semantics), which metrics-server turns into a rate; memory as a gauge
//! (working set).

/// Parameters of the usage model.
#[derive(Clone, Debug, PartialEq)]
pub struct UsageModel {
    /// Cores used by an idle pod (health probes, metrics, event loops).
    pub idle_cores: f64,
    /// Additional cores while the engine is executing steps.
    pub busy_cores: f64,
    /// Core-seconds per prompt or generated token beyond the serving front
    /// end's own work, which the engine counts from its model
    /// (`engine/frontend.rs`: tokenise, detokenise, stream) and adds.
    pub core_secs_per_token: f64,
    /// Resident memory of an idle pod, bytes.
    pub base_memory_bytes: f64,
    /// Resident memory per request in the engine, bytes.
    pub memory_per_request_bytes: f64,
}

impl Default for UsageModel {
    fn default() -> Self {
        UsageModel {
            idle_cores: 0.15,
            busy_cores: 1.0,
            core_secs_per_token: 0.0,
            base_memory_bytes: 6.0 * 1024.0 * 1024.0 * 1024.0,
            memory_per_request_bytes: 2.0 * 1024.0 * 1024.0,
        }
    }
}

/// CPU and memory of a pod at an instant.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Usage {
    /// Cumulative CPU seconds since the container started.
    pub cpu_seconds: f64,
    /// Working-set memory, bytes.
    pub memory_bytes: f64,
}

impl UsageModel {
    /// Usage after `alive` seconds, of which the engine was busy `busy`
    /// seconds, having processed `tokens` tokens, with `outstanding`
    /// requests in the engine now.
    pub fn at(&self, alive: f64, busy: f64, tokens: u64, outstanding: usize) -> Usage {
        Usage {
            cpu_seconds: self.idle_cores * alive
                + self.busy_cores * busy
                + self.core_secs_per_token * tokens as f64,
            memory_bytes: self.base_memory_bytes
                + self.memory_per_request_bytes * outstanding as f64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_grows_with_work() {
        let m = UsageModel {
            core_secs_per_token: 20e-6,
            ..UsageModel::default()
        };
        let idle = m.at(60.0, 0.0, 0, 0);
        let busy = m.at(60.0, 60.0, 100_000, 50);
        assert!((idle.cpu_seconds - 9.0).abs() < 1e-9);
        assert!((busy.cpu_seconds - (9.0 + 60.0 + 2.0)).abs() < 1e-9);
        assert!(busy.memory_bytes > idle.memory_bytes);
    }
}
