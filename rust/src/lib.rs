//! L2 order book core (pure Rust; no pyo3 here).
#![deny(unsafe_code)]

#[cfg(feature = "python")]
mod python;

/// Crate version, exposed to Python for diagnostics.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
