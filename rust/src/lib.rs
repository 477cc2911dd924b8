//! `mm-book`: an L2 order book for Bybit V5 `orderbook.*` streams, on integer ticks and
//! lots, with a zero-copy reader for the raw WebSocket bytes. Pure Rust: pyo3 lives only in
//! `python.rs`, behind the `python` feature, so `cargo test` needs no Python.
//!
//! # Layout and complexity (RUST-002)
//!
//! Each side is one `Vec<Level>` of `(price_ticks: i64, size_lots: i64)` (16 bytes a level)
//! kept sorted with the **best level at the end**: bids ascending, asks descending. With
//! `n` levels on a side and `d` the rank of the changed price counted from the touch:
//!
//! | operation | cost | why |
//! |---|---|---|
//! | find a price | O(log n) | `partition_point` bisection |
//! | update a known price | O(log n) | size replaced in place |
//! | insert a new price | O(log n + d) | `Vec::insert` moves only the `d` better levels |
//! | delete a price | O(log n + d) | `Vec::remove` moves only the `d` better levels |
//! | best bid / ask | O(1) | last element |
//! | `top(k)`, imbalance, VWAP | O(k) | walk from the end |
//! | snapshot | O(n) | validate in one pass, copy reversed; no sort |
//! | depth cap after a delta | O(n) only when a side exceeds `depth` | drain the worst |
//!
//! No update ever re-sorts. Bybit's stream is top-heavy: most changes land within a few
//! ticks of the touch (and on `orderbook.50` a side never holds more than 50 levels), so
//! `d` is small and the shifted memory is a few 16-byte elements in one or two cache lines.
//! A balanced tree (`BTreeMap`) would be O(log n) everywhere but chases pointers and
//! allocates per insert; a tick-indexed array would be O(1) per update but needs
//! re-centring as the price walks and a scan when the best level is deleted. The contiguous
//! vector wins at these depths. More in `rust/README.md`.
//!
//! Sequence rules (Bybit V5, `orderbook.*`): a snapshot always replaces the book; for a
//! delta, `u <= last_u` is a duplicate (ignored), `u > last_u + 1` is a gap and a delta with
//! `u == 1` a service reset: both put the book in "resync needed" until the next snapshot,
//! as does a delta that would cross (it is undone first). A rejected update never changes
//! the levels.
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod book;
pub mod error;
pub mod grid;
pub mod json;

#[cfg(feature = "python")]
mod python;

pub use book::{Book, DeltaOutcome, Level, MessageOutcome};
pub use error::{BookError, LevelProblem, ResyncReason, Side};
pub use grid::{Grid, NumProblem};

/// Crate version, exposed to Python for diagnostics.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
