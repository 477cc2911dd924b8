//! The book's error type; `python.rs` maps each variant onto the `bot.errors.Book*` tree.

use std::fmt;

use crate::grid::NumProblem;

/// Which side of the book a level belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// Bids (`data.b`), best = highest price.
    Bid,
    /// Asks (`data.a`), best = lowest price.
    Ask,
}

impl Side {
    /// `"bid"` or `"ask"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Bid => "bid",
            Side::Ask => "ask",
        }
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What is wrong with one level of a snapshot or delta.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LevelProblem {
    /// The price string could not be converted to ticks.
    Price(NumProblem),
    /// The size string could not be converted to lots.
    Size(NumProblem),
    /// Price is zero.
    PriceNotPositive,
    /// Size is zero in a snapshot (only deltas use `"0"` to delete).
    SizeNotPositive,
    /// Same price as the previous level of the same side.
    Duplicate,
    /// Not in the promised order (bids descending, asks ascending).
    OutOfOrder,
}

impl fmt::Display for LevelProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LevelProblem::Price(NumProblem::OffGrid) => f.write_str("price is off the tick grid"),
            LevelProblem::Size(NumProblem::OffGrid) => f.write_str("size is off the lot grid"),
            LevelProblem::Price(p) => write!(f, "price {}", p.describe()),
            LevelProblem::Size(p) => write!(f, "size {}", p.describe()),
            LevelProblem::PriceNotPositive => f.write_str("price must be positive"),
            LevelProblem::SizeNotPositive => f.write_str("size must be positive in a snapshot"),
            LevelProblem::Duplicate => f.write_str("duplicate price"),
            LevelProblem::OutOfOrder => f.write_str("out of order"),
        }
    }
}

/// Why the book needs a fresh snapshot before it can take deltas again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResyncReason {
    /// A delta arrived before any snapshot.
    NoSnapshot,
    /// `u` jumped past `last_u + 1`.
    Gap {
        /// The `u` the book expected (`last_u + 1`).
        expected: u64,
        /// The `u` that arrived.
        got: u64,
    },
    /// A delta with `u == 1`: Bybit restarted the service; only a snapshot may follow.
    Reset,
    /// A delta would have crossed the book; it was not applied.
    Crossed,
}

impl ResyncReason {
    /// Stable short code (`"gap"`, `"reset"`, ...) for metrics and logs.
    pub fn code(self) -> &'static str {
        match self {
            ResyncReason::NoSnapshot => "no_snapshot",
            ResyncReason::Gap { .. } => "gap",
            ResyncReason::Reset => "reset",
            ResyncReason::Crossed => "crossed",
        }
    }
}

impl fmt::Display for ResyncReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResyncReason::NoSnapshot => f.write_str("delta before any snapshot"),
            ResyncReason::Gap { expected, got } => {
                write!(f, "sequence gap: expected u={expected}, got u={got}")
            }
            ResyncReason::Reset => f.write_str("delta with u=1 (service restart)"),
            ResyncReason::Crossed => f.write_str("a delta would have crossed the book"),
        }
    }
}

/// Every way an update can be refused. The book is unchanged whenever one is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BookError {
    /// One level is malformed; names the side, its index in the message and its text.
    #[error("{side} level {index} [{price:?}, {size:?}]: {problem}")]
    InvalidLevel {
        /// Side of the offending level.
        side: Side,
        /// Index of the level within its side's list in the message.
        index: usize,
        /// Price text as received (or rendered from ticks).
        price: String,
        /// Size text as received (or rendered from lots).
        size: String,
        /// What is wrong.
        problem: LevelProblem,
    },
    /// The update would leave best bid >= best ask.
    #[error("{what} would cross the book: best bid {bid} >= best ask {ask}{}", if *in_delta { "" } else { " (bid level 0 vs ask level 0)" })]
    Crossed {
        /// `"snapshot"` or `"delta"`.
        what: &'static str,
        /// Best bid it would leave, as a decimal string.
        bid: String,
        /// Best ask it would leave, as a decimal string.
        ask: String,
        /// True for a delta (the book then needs a resync); false for a snapshot.
        in_delta: bool,
    },
    /// Deltas cannot be applied until a fresh snapshot arrives.
    #[error("resync required: {0}")]
    Resync(ResyncReason),
    /// The raw bytes are not a Bybit orderbook message.
    #[error("not a Bybit orderbook message: {msg} at byte {pos}")]
    Parse {
        /// What was expected or found.
        msg: &'static str,
        /// Byte offset into the message.
        pos: usize,
    },
}
