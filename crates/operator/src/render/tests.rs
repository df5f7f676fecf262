use super::*;

#[test]
fn hash_has_the_operator_alphabet() {
    let h = object_hash(&json!({"a": 1}));
    assert!(!h.is_empty());
    assert!(
        h.chars().all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c)),
        "{h}"
    );
}

#[test]
fn yaml_lookalikes() {
    assert!(yaml_non_string("true"));
    assert!(yaml_non_string("1"));
    assert!(yaml_non_string("Yes"));
    assert!(!yaml_non_string("NVIDIA-H100-80GB-HBM3"));
}
