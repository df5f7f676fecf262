//! The cluster simulation on hand-checkable cases: start-up stage timing
//! with the probe grid, image and model caching per node, draining within
//! the grace period, load-balancer fairness, node provisioning, and
//! bit-for-bit reproducibility.

use std::collections::BTreeMap;

use nimscale_core::engine::capacity::EngineProfile;
use nimscale_core::engine::{Dialect, Roofline};
use nimscale_core::hpa::controller::ControllerConfig;
use nimscale_core::sim::config::{
    Backoff, Balancer, Clients, ClosedLoop, ClusterAutoscaler, Controller, DirectMetrics,
    FrontQueue, ModelSource, NodePool, Placement, PodTemplate, Probe, Recording, SimConfig, Slo,
    SloMetric, Startup,
};
use nimscale_core::sim::dist::Dist;
use nimscale_core::sim::traffic::{Generator, Pattern, Source};
use nimscale_core::sim::world::Simulation;
use nimscale_core::time::{SimDuration, SimTime};

use crate::engine_support::{config, deployment};

const GB: f64 = 1e9;

fn base(replicas: i32, rate: f64, output: f64) -> (SimConfig<Roofline>, Source) {
    let dep = deployment();
    let mut labels = BTreeMap::new();
    labels.insert("app".to_string(), "llm".to_string());
    let cfg = SimConfig {
        seed: 5,
        duration: SimDuration::from_secs(600),
        engine: config(&dep, &EngineProfile::default(), None, false),
        model: Roofline::new(&dep),
        frontend_delay: SimDuration::from_millis(3),
        template: PodTemplate {
            name: "llm".into(),
            namespace: "default".into(),
            labels,
            selector: "app=llm".into(),
            container: "llm".into(),
            requests: BTreeMap::new(),
            gpus: 1,
            grace: SimDuration::from_secs(30),
        },
        startup: Startup {
            scheduling: Dist::Fixed(1.0),
            image_pull: Dist::Fixed(60.0),
            engine_start: Dist::Fixed(40.0),
            model_bytes: 16.0 * GB,
            source: ModelSource::Pvc,
            cold_read_bps: 1.0 * GB,
            warm_read_bps: 4.0 * GB,
            download_bps: 0.25 * GB,
            startup_probe: Probe::nim_startup(),
            readiness_probe: Probe::nim_readiness(),
            max_backoff: SimDuration::from_secs(300),
            load_noise_sigma: 0.0,
        },
        pool: NodePool {
            gpus_per_node: 8,
            initial_nodes: 1,
            min_nodes: 0,
            max_nodes: 2,
            placement: Placement::Spread,
            price_per_gpu_hour: Some(2.0),
            price_per_node_hour: None,
        },
        autoscaler: ClusterAutoscaler {
            enabled: true,
            scan_interval: SimDuration::from_secs(10),
            provisioning: Dist::Fixed(200.0),
            max_node_provision_time: SimDuration::from_secs(900),
            scale_down_unneeded_time: SimDuration::from_secs(600),
            scale_down_delay_after_add: SimDuration::from_secs(600),
            max_empty_bulk_delete: 10,
        },
        balancer: Balancer::Random,
        front_queue: FrontQueue {
            capacity: 1000,
            timeout: SimDuration::from_secs(60),
        },
        clients: None,
        scaling: None,
        controller: Controller {
            config: ControllerConfig::default(),
            first_sync: SimDuration::ZERO,
            reconcile_latency: SimDuration::ZERO,
        },
        initial_replicas: replicas,
        warm_start: true,
        metrics: DirectMetrics {
            window: SimDuration::from_secs(60),
            resolution: SimDuration::from_secs(15),
            dialect: Dialect::Nim1,
        },
        prometheus: None,
        slos: vec![Slo {
            name: "e2e".into(),
            metric: SloMetric::E2e,
            percentile: 95.0,
            threshold: 30.0,
        }],
        slo_window: SimDuration::from_secs(60),
        load_changes: Vec::new(),
        flap_window: SimDuration::from_secs(600),
        recording: Recording {
            timeseries: true,
            decisions: true,
        },
    };
    let src = Source::Generator(Generator::new(
        Pattern::Piecewise(vec![(0.0, rate)]),
        Dist::Fixed(500.0),
        Dist::Fixed(output),
        5,
    ));
    (cfg, src)
}

fn s(t: f64) -> Option<SimTime> {
    Some(SimTime::from_micros((t * 1e6).round() as i64))
}

#[test]
fn cold_pods_go_through_every_stage_on_the_probe_grid() {
    let (mut cfg, src) = base(2, 1.0, 20.0);
    cfg.warm_start = false;
    let res = Simulation::new(cfg, src).finish();
    let p = &res.summary.startups;
    assert_eq!(p.len(), 2);
    // Both pods land on the one node; the second waits for the same pull.
    for r in p {
        assert_eq!(r.scheduled, s(1.0));
        assert_eq!(r.container_started, s(61.0));
    }
    assert!(p[0].pulled_image && !p[1].pulled_image);
    // 16 GB at 1 GB/s (cold: neither pod found the model in the node's cache).
    assert_eq!(p[0].model_loaded, s(77.0));
    // Engine start 40 s → server up at 117 s; startup probe at 61+30, then
    // every 10 s: passes at 121 s; readiness grid 61+15+10k: Ready at 126 s.
    assert_eq!(p[0].server_up, s(117.0));
    assert_eq!(p[0].startup_passed, s(121.0));
    assert_eq!(p[0].ready, s(126.0));
    // No request could be served before: those sent in the first 66 s
    // waited in the front queue past its 60 s timeout.
    let early: u32 = res.rows[..66].iter().map(|r| r.arrivals).sum();
    assert!(early > 40);
    assert_eq!(res.summary.requests.front_queue_timeout, u64::from(early));
}

#[test]
fn a_later_pod_on_the_same_node_finds_image_and_model_cached() {
    let (cfg, src) = base(1, 1.0, 20.0);
    let mut sim = Simulation::new(cfg, src);
    sim.run_until(SimTime::from_secs(100));
    sim.scale_to(2);
    let res = sim.finish();
    let p = &res.summary.startups[1];
    assert!(!p.pulled_image);
    assert_eq!(p.scheduled, s(101.0));
    assert_eq!(p.container_started, s(101.0));
    // Warm read: 16 GB at 4 GB/s.
    assert_eq!(p.model_loaded, s(105.0));
    assert_eq!(p.server_up, s(145.0));
    // Startup probe at 131, 141, 151 → passes at 151; readiness at 116+10k → 156.
    assert_eq!(p.startup_passed, s(151.0));
    assert_eq!(p.ready, s(156.0));
}

#[test]
fn a_startup_probe_that_gives_up_restarts_the_container() {
    let (mut cfg, src) = base(1, 0.0, 20.0);
    cfg.warm_start = false;
    cfg.startup.startup_probe.failure_threshold = 3; // 30 + 2×10 s budget
    cfg.startup.engine_start = Dist::Fixed(80.0);
    cfg.duration = SimDuration::from_secs(200);
    let res = Simulation::new(cfg, src).finish();
    let p = &res.summary.startups[0];
    // Probes at 91, 101, 111 fail (the server would be up at 61+16+80 =
    // 157): restart, back-off 10 s, container start 121, probes at 151,
    // 161, 171 fail again (up at 121+4+80 = 205, warm read): a second
    // restart, so it is never Ready in 200 s.
    assert_eq!(p.restarts, 2);
    assert_eq!(p.ready, None);
    assert_eq!(res.summary.restarts, 2);
}

#[test]
fn draining_finishes_within_grace_and_aborts_the_rest() {
    // Long outputs (2,000 tokens ≈ 20 s each at this load).
    for (grace, expect_aborts) in [(600, false), (2, true)] {
        let (mut cfg, src) = base(2, 2.0, 2000.0);
        cfg.template.grace = SimDuration::from_secs(grace);
        cfg.duration = SimDuration::from_secs(300);
        let mut sim = Simulation::new(cfg, src);
        sim.run_until(SimTime::from_secs(120));
        sim.scale_to(1);
        let res = sim.finish();
        let victim = res
            .summary
            .startups
            .iter()
            .find(|p| p.deleted.is_some())
            .expect("one pod deleted");
        assert_eq!(victim.deleted, s(120.0));
        let aborted = res.summary.requests.aborted_on_drain;
        assert_eq!(
            aborted > 0,
            expect_aborts,
            "grace {grace}: {aborted} aborted"
        );
        // After the deletion every new request goes to the survivor.
        let rows_after: u32 = res.rows[125..]
            .iter()
            .map(|r| r.ready as u32)
            .max()
            .unwrap();
        assert_eq!(rows_after, 1);
    }
}

#[test]
fn load_balancers_share_requests_fairly() {
    for lb in [
        Balancer::Random,
        Balancer::RoundRobin,
        Balancer::LeastOutstanding,
    ] {
        let (mut cfg, src) = base(4, 20.0, 50.0);
        cfg.balancer = lb;
        let res = Simulation::new(cfg, src).finish();
        let counts: Vec<u64> = res.summary.startups.iter().map(|p| p.dispatched).collect();
        let total: u64 = counts.iter().sum();
        assert_eq!(total, res.summary.requests.arrived);
        let mean = total as f64 / 4.0;
        for c in &counts {
            let dev = (*c as f64 - mean).abs() / mean;
            let bound = match lb {
                Balancer::RoundRobin => 1.0 / mean,
                _ => 0.05,
            };
            assert!(dev <= bound + 1e-12, "{lb:?}: {counts:?}");
        }
    }
}

#[test]
fn pods_beyond_the_node_wait_for_a_provisioned_node() {
    let (cfg, src) = base(8, 1.0, 20.0);
    let mut sim = Simulation::new(cfg, src);
    sim.run_until(SimTime::from_secs(5));
    sim.scale_to(9);
    let res = sim.finish();
    let p = res.summary.startups.last().unwrap();
    assert!(p.waited_for_node && p.pulled_image);
    // Created at 5 s, seen by the autoscaler's scan at 10 s, node ready at
    // 210 s, then scheduling (1 s) and the image pull (60 s).
    assert_eq!(p.scheduled, s(211.0));
    assert_eq!(p.container_started, s(271.0));
    assert_eq!(res.summary.nodes_added, 1);
    assert_eq!(res.summary.peak_nodes, 2);
}

#[test]
fn the_same_seed_gives_the_same_run() {
    let run = || {
        let (cfg, src) = base(3, 8.0, 200.0);
        Simulation::new(cfg, src).finish()
    };
    // Debug text compares NaN fields (empty seconds) as equal.
    assert_eq!(format!("{:?}", run()), format!("{:?}", run()));
}

fn clients() -> Clients {
    Clients {
        timeout: None,
        patience: None,
        retries: 0,
        backoff: Backoff {
            initial: SimDuration::from_millis(500),
            multiplier: 2.0,
            max: SimDuration::from_secs(8),
            jitter: 0.25,
        },
        closed_loop: None,
    }
}

/// Every request sent is completed, failed or unfinished, once.
fn conserved(r: &nimscale_core::sim::record::RequestCounts) {
    assert_eq!(r.arrived, r.completed + r.failed() + r.unfinished, "{r:?}");
}

#[test]
fn a_client_timeout_bounds_latency_and_frees_the_engine() {
    // One pod at 3× its capacity: without timeouts the queue grows all run.
    let (cfg, src) = base(1, 40.0, 400.0);
    let open = Simulation::new(cfg.clone(), src.clone()).finish();
    let mut cfg = cfg;
    cfg.clients = Some(Clients {
        timeout: Some(SimDuration::from_secs(20)),
        ..clients()
    });
    let res = Simulation::new(cfg, src).finish();
    let (a, b) = (&open.summary.requests, &res.summary.requests);
    conserved(a);
    conserved(b);
    assert!(a.unfinished > 5_000, "the open run is overloaded: {a:?}");
    assert!(b.client_timeout > 5_000, "{b:?}");
    // Nothing outlives its timeout: the queue is bounded by the timeout.
    assert!(res.summary.e2e.max <= 20.0 + 0.5, "{}", res.summary.e2e.max);
    assert!(b.unfinished < 40 * 21, "{b:?}");
    // Aborted requests leave the engine (nothing stays stuck), but under
    // sustained overload FCFS admits requests that have already waited
    // nearly their timeout, which are then aborted mid-generation: goodput
    // collapses, as it does on a real server.
    assert!(
        b.completed > 0 && b.completed < a.completed / 4,
        "{a:?} {b:?}"
    );
    assert_eq!(b.retries, 0);
}

#[test]
fn retries_wait_out_a_cold_start_and_latency_counts_from_the_first_attempt() {
    // Cold start, no front queue: every request before the pod is Ready
    // (126 s) is refused at once; with retries (0.5 s doubling to 8 s) the
    // ones sent in the last ~30 s before Ready get through.
    let (mut cfg, src) = base(1, 1.0, 20.0);
    cfg.warm_start = false;
    cfg.front_queue.capacity = 0;
    let plain = Simulation::new(cfg.clone(), src.clone()).finish();
    cfg.clients = Some(Clients {
        retries: 5,
        ..clients()
    });
    let res = Simulation::new(cfg, src).finish();
    let (a, b) = (&plain.summary.requests, &res.summary.requests);
    conserved(a);
    conserved(b);
    assert_eq!(
        a.arrived, b.arrived,
        "same arrivals (common random numbers)"
    );
    assert!(
        b.rejected_no_endpoint < a.rejected_no_endpoint,
        "{a:?} {b:?}"
    );
    assert!(b.completed > a.completed);
    assert!(b.retries >= 5 * b.rejected_no_endpoint, "{b:?}");
    // A retried request's latency includes its backoff: the worst e2e is
    // seconds, where a request served at once takes well under one.
    assert!(res.summary.e2e.max > 2.0 && plain.summary.e2e.max < 2.0);
}

#[test]
fn impatient_users_leave_before_their_first_token() {
    let (mut cfg, src) = base(1, 40.0, 400.0);
    cfg.clients = Some(Clients {
        patience: Some(Dist::Fixed(5.0)),
        retries: 3,
        ..clients()
    });
    let res = Simulation::new(cfg, src).finish();
    let r = &res.summary.requests;
    conserved(r);
    assert!(r.abandoned > 1_000, "{r:?}");
    // Abandonment is final (no retries), and nobody who got a token left.
    assert_eq!(r.retries, 0);
    assert!(
        res.summary.ttft.max <= 5.0 + 0.5,
        "{}",
        res.summary.ttft.max
    );
}

#[test]
fn a_closed_loop_keeps_its_clients_busy_and_no_more() {
    let (mut cfg, src) = base(1, 1.0, 200.0);
    cfg.clients = Some(Clients {
        closed_loop: Some(ClosedLoop {
            concurrency: 12,
            think: Dist::Fixed(0.5),
        }),
        ..clients()
    });
    let res = Simulation::new(cfg, src).finish();
    let r = &res.summary.requests;
    conserved(r);
    assert!(r.unfinished <= 12);
    assert!(res.rows.iter().all(|row| row.in_flight <= 12));
    assert!(res.rows[10..].iter().any(|row| row.in_flight == 12));
    // Little's law over the run: throughput = clients / (e2e + think).
    let x = r.completed as f64 / 600.0;
    let little = 12.0 / (res.summary.e2e.mean + 0.5 + 0.003);
    assert!((x - little).abs() < 0.03 * little, "{x} vs {little}");
}
