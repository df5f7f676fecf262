//! Property tests of HPA invariants (filled in below).
