use super::draw::{range, runs};
use super::*;

#[test]
fn ranges_and_runs() {
    let close =
        |a: (f64, f64), b: (f64, f64)| (a.0 - b.0).abs() < 1e-12 && (a.1 - b.1).abs() < 1e-12;
    assert!(close(range([1.0, 1.0].into_iter(), false), (0.9, 1.1)));
    assert!(close(range([1.0, 1.0].into_iter(), true), (0.0, 1.06)));
    assert!(close(range([0.0, 0.0].into_iter(), true), (0.0, 1.0)));
    assert_eq!(range(std::iter::empty(), false), (0.0, 1.0));
    assert_eq!(runs(5, |i| i != 2), vec![(0, 2), (3, 5)]);
    assert_eq!(fmt_secs(0.25), "250 ms");
    assert_eq!(fmt_secs(2.0), "2 s");
    assert_eq!(fmt_tick(0.700_000_1), "0.7");
    assert_eq!(fmt_tick(-0.0001), "0");
}

#[test]
fn svg_and_png_draw_the_same_chart() {
    let c = Chart {
        id: "t".into(),
        title: "Replicas → GPUs ≤ 2 s".into(),
        caption: String::new(),
        kind: Kind::Time(TimeChart {
            x: vec![0.0, 1.0, 2.0],
            y_label: "pods".into(),
            lines: vec![Line {
                label: "ready".into(),
                color: PALETTE[0],
                values: vec![1.0, f64::NAN, 3.0],
                dashed: false,
                step: true,
                right: false,
                width: 2,
            }],
            markers: vec![Marker {
                x: 1.0,
                y: 2.0,
                up: true,
                text: "#1".into(),
            }],
            ..TimeChart::default()
        }),
    };
    let s = svg(&c).unwrap();
    assert!(s.starts_with("<svg"), "{s}");
    assert!(s.contains("Replicas → GPUs ≤ 2 s"));
    assert!(s.contains(FONT_FAMILY));
    let p = png(&c).unwrap();
    assert_eq!(&p[1..4], b"PNG");
}
