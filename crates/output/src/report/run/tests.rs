use super::*;

#[test]
fn grid_buckets_long_runs() {
    let ts: Vec<f64> = (1..=7200).map(f64::from).collect();
    let g = Grid::new(&ts, 7200.0);
    assert_eq!(g.k, 10);
    assert_eq!(g.t.len(), 720);
    assert_eq!(g.t[0], 10.0);
    assert_eq!(g.x[719], 120.0);
    let v: Vec<f64> = ts.iter().map(|t| t % 10.0).collect();
    assert_eq!(g.agg(&v, Agg::Max)[0], 9.0);
    assert_eq!(g.agg(&v, Agg::Min)[0], 0.0);
    assert_eq!(g.agg(&v, Agg::Last)[0], 0.0);
    assert_eq!(g.agg(&v, Agg::Mean)[0], 4.5);
    let short = Grid::new(&[1.0, 2.0, 3.0], 3.0);
    assert_eq!((short.k, short.t.len()), (1, 3));
}

#[test]
fn stages_follow_the_start_up_record() {
    let p = Startup {
        pod: "p".into(),
        created_s: 100.0,
        scheduled_after_s: Some(30.0),
        container_started_after_s: Some(50.0),
        model_loaded_after_s: None,
        ..Startup::default()
    };
    assert_eq!(
        stage_spans(&p, 1000.0),
        vec![(0, 100.0, 130.0), (1, 130.0, 150.0), (2, 150.0, 1000.0)]
    );
    let gone = Startup {
        deleted_s: Some(120.0),
        ..p
    };
    assert_eq!(stage_spans(&gone, 1000.0), vec![(0, 100.0, 120.0)]);
}
