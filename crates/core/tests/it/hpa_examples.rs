//! The worked examples of hpa-algorithm.md §16 (filled in below).
