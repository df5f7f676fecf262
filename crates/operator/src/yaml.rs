//! YAML for Kubernetes tooling.
//!
//! kubectl, Helm and most Kubernetes tools read YAML with go-yaml, which
//! still treats YAML 1.1 spellings (`on`, `no`, `y`, `0777`, `1_000`) as
//! booleans and numbers. `serde-saphyr`'s emitter quotes every string that a
//! YAML 1.1 or 1.2 reader would take for something else (its default, not
//! `yaml_12` mode), so a label value `"on"` stays a string everywhere.

use serde_json::Value;

/// One document, block style, keys in sorted order (serde_json's maps).
/// Long single-line strings (PromQL in adapter rules) stay on one line:
/// folding them would be correct YAML but hard to read and to diff.
pub fn to_yaml(value: &Value) -> String {
    let mut options = serde_saphyr::SerializerOptions::default();
    options.folded_wrap_chars = usize::MAX / 2;
    serde_saphyr::to_string_with_options(value, options).unwrap_or_default()
}

/// Several documents separated by `---` lines, each ending with a newline.
pub fn to_yaml_stream(values: &[Value]) -> String {
    let mut out = String::new();
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        let doc = to_yaml(v);
        out.push_str(&doc);
        if !doc.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn yaml_11_lookalikes_are_quoted_and_round_trip() {
        let tricky = [
            "on",
            "off",
            "yes",
            "no",
            "y",
            "n",
            "Y",
            "N",
            "true",
            "False",
            "~",
            "null",
            "",
            "1",
            "1.0",
            "0777",
            "0x1F",
            "1_000",
            "1e3",
            ".5",
            "2024-01-01",
            "12:30",
            "- a",
            "#x",
            "a: b",
            "*ref",
            "&a",
            "!tag",
            "@x",
            "`x`",
            " lead",
            "trail ",
            "multi\nline\n",
            "25%",
            "500m",
            "nvidia.com/gpu",
        ];
        let v = json!({ "labels": tricky.iter().enumerate().map(|(i, s)| (format!("k{i}"), json!(s))).collect::<serde_json::Map<_, _>>() });
        let text = to_yaml(&v);
        for s in ["on", "no", "y", "Y", "0777", "1_000"] {
            assert!(
                !text
                    .lines()
                    .any(|l| l.trim_end().ends_with(&format!(": {s}"))),
                "{s} emitted unquoted:\n{text}"
            );
        }
        let back: Value = serde_saphyr::from_str(&text).expect("reparse");
        assert_eq!(back, v, "{text}");
        let docs = crate::node::parse_documents(&to_yaml_stream(&[v.clone(), json!({"a": 1})]))
            .expect("stream");
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].to_json(), v);
    }
}
