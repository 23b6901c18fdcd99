//! Integration tests for `fleetdeck-exposition`, one binary for the crate.

mod bare_metadata;
mod consistency;
mod histograms;
mod malformed;
mod properties;
mod quoted_names;
mod regression;
mod syntax;
mod vllm;

/// Real-looking vLLM `/metrics` output; see `tests/fixtures/vllm.txt`.
const VLLM: &str = include_str!("../fixtures/vllm.txt");

/// Float equality that treats NaN as equal to NaN and compares bits
/// otherwise, so `-0.0` and `0.0` differ as they do on the wire.
fn same_f64(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a.to_bits() == b.to_bits()
}

/// Owned label pairs from string literals.
fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|&(name, value)| (name.to_owned(), value.to_owned()))
        .collect()
}
