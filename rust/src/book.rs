//! The L2 book: two sorted vectors of integer levels with the best level at the end.
//!
//! See the crate docs (`lib.rs`) for the complexity of each operation and why this layout
//! fits Bybit's top-heavy update stream.

use crate::error::{BookError, LevelProblem, ResyncReason, Side};
use crate::grid::{Grid, NumProblem};

/// One price level in grid units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Level {
    /// Price in ticks.
    pub price: i64,
    /// Size in lots.
    pub size: i64,
}

/// One side, sorted so that the best level is the last element: bids ascending by price,
/// asks descending (`BID` fixes the direction at compile time). Inserts and deletes near the
/// touch then move only the few elements between the touch and the change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ladder<const BID: bool> {
    levels: Vec<Level>,
}

impl<const BID: bool> Ladder<BID> {
    fn new() -> Self {
        Ladder { levels: Vec::new() }
    }

    /// True when `a` is a worse price than `b` on this side (lower bid, higher ask).
    #[inline(always)]
    fn worse(a: i64, b: i64) -> bool {
        if BID {
            a < b
        } else {
            a > b
        }
    }

    /// Index of `price`, or where it would be inserted: a branch-light bisection over the
    /// (at most a few dozen) levels; O(log n).
    #[inline]
    fn find(&self, price: i64) -> Result<usize, usize> {
        let i = self.levels.partition_point(|l| Self::worse(l.price, price));
        match self.levels.get(i) {
            Some(l) if l.price == price => Ok(i),
            _ => Err(i),
        }
    }

    /// Set `price` to `size` (0 deletes); returns the previous size (0 = absent).
    #[inline]
    fn set(&mut self, price: i64, size: i64) -> i64 {
        match self.find(price) {
            Ok(i) => {
                let old = self.levels[i].size;
                if size == 0 {
                    self.levels.remove(i);
                } else {
                    self.levels[i].size = size;
                }
                old
            }
            Err(i) => {
                if size != 0 {
                    self.levels.insert(i, Level { price, size });
                }
                0
            }
        }
    }

    #[inline]
    fn best(&self) -> Option<Level> {
        self.levels.last().copied()
    }

    /// Drop the worst levels so at most `depth` remain (0 = unlimited).
    fn truncate(&mut self, depth: usize) {
        if depth != 0 && self.levels.len() > depth {
            let excess = self.levels.len() - depth;
            self.levels.drain(..excess);
        }
    }

    fn len(&self) -> usize {
        self.levels.len()
    }

    fn is_sorted_strictly(&self) -> bool {
        self.levels.windows(2).all(|w| Self::worse(w[0].price, w[1].price))
    }
}

/// Result of a delta that did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeltaOutcome {
    /// Applied.
    Applied,
    /// `u <= last_u`: a duplicate or stale push, ignored.
    Duplicate,
}

/// Result of a whole message that did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageOutcome {
    /// A snapshot replaced the book.
    Snapshot,
    /// A delta was applied or ignored.
    Delta(DeltaOutcome),
}

#[derive(Debug, Clone, Copy)]
struct Undo {
    is_bid: bool,
    price: i64,
    old: i64,
}

/// An L2 order book for one symbol on a fixed tick and lot grid.
#[derive(Debug, Clone)]
pub struct Book {
    tick: Grid,
    lot: Grid,
    depth: usize,
    bids: Ladder<true>,
    asks: Ladder<false>,
    update_id: u64,
    seq: u64,
    has_snapshot: bool,
    resync: Option<ResyncReason>,
    undo: Vec<Undo>,
    pub(crate) scratch_bids: Vec<Level>,
    pub(crate) scratch_asks: Vec<Level>,
}

impl Book {
    /// A new, empty book. `depth` caps the levels kept per side (0 = unlimited).
    pub fn new(tick: Grid, lot: Grid, depth: usize) -> Self {
        Book {
            tick,
            lot,
            depth,
            bids: Ladder::new(),
            asks: Ladder::new(),
            update_id: 0,
            seq: 0,
            has_snapshot: false,
            resync: None,
            undo: Vec::new(),
            scratch_bids: Vec::new(),
            scratch_asks: Vec::new(),
        }
    }

    /// A book from step strings, e.g. `Book::from_steps("0.1", "0.001", 50)`.
    pub fn from_steps(tick: &str, lot: &str, depth: usize) -> Result<Self, NumProblem> {
        Ok(Book::new(Grid::parse(tick)?, Grid::parse(lot)?, depth))
    }

    /// The tick grid.
    pub fn tick(&self) -> &Grid {
        &self.tick
    }

    /// The lot grid.
    pub fn lot(&self) -> &Grid {
        &self.lot
    }

    /// Max levels kept per side (0 = unlimited).
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// Last applied `u` (0 before any, or when the updates carried none).
    pub fn update_id(&self) -> u64 {
        self.update_id
    }

    /// Last `seq` seen (0 before any).
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Whether a snapshot has been applied.
    pub fn has_snapshot(&self) -> bool {
        self.has_snapshot
    }

    /// Why the book is waiting for a snapshot, if it is.
    pub fn resync_reason(&self) -> Option<ResyncReason> {
        self.resync
    }

    /// Convert one `[price, size]` pair of strings into units, naming the level on error.
    #[inline]
    pub fn convert_level(
        &self,
        side: Side,
        index: usize,
        price: &[u8],
        size: &[u8],
    ) -> Result<Level, BookError> {
        let bad = |problem| BookError::InvalidLevel {
            side,
            index,
            price: String::from_utf8_lossy(price).into_owned(),
            size: String::from_utf8_lossy(size).into_owned(),
            problem,
        };
        let p = self.tick.to_units(price).map_err(|e| bad(LevelProblem::Price(e)))?;
        let s = self.lot.to_units(size).map_err(|e| bad(LevelProblem::Size(e)))?;
        if p == 0 {
            return Err(bad(LevelProblem::PriceNotPositive));
        }
        Ok(Level { price: p, size: s })
    }

    fn level_error(&self, side: Side, index: usize, l: Level, problem: LevelProblem) -> BookError {
        BookError::InvalidLevel {
            side,
            index,
            price: self.tick.format(l.price),
            size: self.lot.format(l.size),
            problem,
        }
    }

    /// Replace the book with a snapshot given best-first (bids descending, asks
    /// ascending), as Bybit sends it. Validates every level, the order, duplicates and
    /// crossing before touching the book; on error the book is unchanged.
    pub fn apply_snapshot(
        &mut self,
        bids: &[Level],
        asks: &[Level],
        update_id: Option<u64>,
        seq: Option<u64>,
    ) -> Result<(), BookError> {
        self.validate_snapshot_side(Side::Bid, bids)?;
        self.validate_snapshot_side(Side::Ask, asks)?;
        if let (Some(b), Some(a)) = (bids.first(), asks.first()) {
            if b.price >= a.price {
                return Err(BookError::Crossed {
                    what: "snapshot",
                    bid: self.tick.format(b.price),
                    ask: self.tick.format(a.price),
                    in_delta: false,
                });
            }
        }
        let keep = |n: usize| if self.depth == 0 { n } else { n.min(self.depth) };
        let (nb, na) = (keep(bids.len()), keep(asks.len()));
        self.bids.levels.clear();
        self.bids.levels.extend(bids[..nb].iter().rev());
        self.asks.levels.clear();
        self.asks.levels.extend(asks[..na].iter().rev());
        self.update_id = update_id.unwrap_or(0);
        if let Some(s) = seq {
            self.seq = s;
        }
        self.has_snapshot = true;
        self.resync = None;
        Ok(())
    }

    fn validate_snapshot_side(&self, side: Side, levels: &[Level]) -> Result<(), BookError> {
        let mut prev: Option<i64> = None;
        for (i, l) in levels.iter().enumerate() {
            if l.price <= 0 {
                return Err(self.level_error(side, i, *l, LevelProblem::PriceNotPositive));
            }
            if l.size <= 0 {
                return Err(self.level_error(side, i, *l, LevelProblem::SizeNotPositive));
            }
            if let Some(p) = prev {
                if p == l.price {
                    return Err(self.level_error(side, i, *l, LevelProblem::Duplicate));
                }
                let ordered = match side {
                    Side::Bid => l.price < p,
                    Side::Ask => l.price > p,
                };
                if !ordered {
                    return Err(self.level_error(side, i, *l, LevelProblem::OutOfOrder));
                }
            }
            prev = Some(l.price);
        }
        Ok(())
    }

    /// Apply a delta (size 0 deletes, otherwise insert or replace). With an `update_id`,
    /// `u <= last_u` is ignored as a duplicate, `u > last_u + 1` is a gap and `u == 1` a
    /// service reset: both refuse the delta and put the book in "resync needed" until the
    /// next snapshot. A delta that would cross is undone and also needs a resync.
    /// On error the levels are unchanged.
    pub fn apply_delta(
        &mut self,
        bids: &[Level],
        asks: &[Level],
        update_id: Option<u64>,
        seq: Option<u64>,
    ) -> Result<DeltaOutcome, BookError> {
        for (side, levels) in [(Side::Bid, bids), (Side::Ask, asks)] {
            for (i, l) in levels.iter().enumerate() {
                if l.price <= 0 {
                    return Err(self.level_error(side, i, *l, LevelProblem::PriceNotPositive));
                }
                if l.size < 0 {
                    return Err(self.level_error(side, i, *l, LevelProblem::Size(NumProblem::NotDecimal)));
                }
            }
        }
        if let Some(r) = self.resync {
            return Err(BookError::Resync(r));
        }
        if !self.has_snapshot {
            return Err(self.need_resync(ResyncReason::NoSnapshot));
        }
        if let Some(u) = update_id {
            if u == 1 && self.update_id != 0 {
                return Err(self.need_resync(ResyncReason::Reset));
            }
            if self.update_id != 0 {
                if u <= self.update_id {
                    return Ok(DeltaOutcome::Duplicate);
                }
                let expected = self.update_id.saturating_add(1);
                if u > expected {
                    return Err(self.need_resync(ResyncReason::Gap { expected, got: u }));
                }
            }
        }
        self.undo.clear();
        for l in bids {
            let old = self.bids.set(l.price, l.size);
            self.undo.push(Undo { is_bid: true, price: l.price, old });
        }
        for l in asks {
            let old = self.asks.set(l.price, l.size);
            self.undo.push(Undo { is_bid: false, price: l.price, old });
        }
        if let (Some(b), Some(a)) = (self.bids.best(), self.asks.best()) {
            if b.price >= a.price {
                let err = BookError::Crossed {
                    what: "delta",
                    bid: self.tick.format(b.price),
                    ask: self.tick.format(a.price),
                    in_delta: true,
                };
                while let Some(x) = self.undo.pop() {
                    if x.is_bid {
                        self.bids.set(x.price, x.old);
                    } else {
                        self.asks.set(x.price, x.old);
                    }
                }
                self.resync = Some(ResyncReason::Crossed);
                return Err(err);
            }
        }
        self.bids.truncate(self.depth);
        self.asks.truncate(self.depth);
        if let Some(u) = update_id {
            self.update_id = u;
        }
        if let Some(s) = seq {
            self.seq = s;
        }
        Ok(DeltaOutcome::Applied)
    }

    fn need_resync(&mut self, r: ResyncReason) -> BookError {
        self.resync = Some(r);
        BookError::Resync(r)
    }

    /// Forget everything (levels, ids, resync state).
    pub fn clear(&mut self) {
        self.bids.levels.clear();
        self.asks.levels.clear();
        self.update_id = 0;
        self.seq = 0;
        self.has_snapshot = false;
        self.resync = None;
    }

    /// Best bid. O(1).
    #[inline]
    pub fn best_bid(&self) -> Option<Level> {
        self.bids.best()
    }

    /// Best ask. O(1).
    #[inline]
    pub fn best_ask(&self) -> Option<Level> {
        self.asks.best()
    }

    /// Levels of one side, best first.
    pub fn levels(&self, side: Side) -> std::iter::Copied<std::iter::Rev<std::slice::Iter<'_, Level>>> {
        match side {
            Side::Bid => self.bids.levels.iter().rev().copied(),
            Side::Ask => self.asks.levels.iter().rev().copied(),
        }
    }

    /// The `n` best levels of each side, best first.
    pub fn top(&self, n: usize) -> (Vec<Level>, Vec<Level>) {
        (
            self.levels(Side::Bid).take(n).collect(),
            self.levels(Side::Ask).take(n).collect(),
        )
    }

    /// (bid levels, ask levels).
    pub fn level_counts(&self) -> (usize, usize) {
        (self.bids.len(), self.asks.len())
    }

    /// best bid + best ask in ticks (twice the mid), when both sides exist.
    pub fn mid_x2(&self) -> Option<i128> {
        Some(i128::from(self.best_bid()?.price) + i128::from(self.best_ask()?.price))
    }

    /// best ask - best bid in ticks.
    pub fn spread_ticks(&self) -> Option<i64> {
        Some(self.best_ask()?.price - self.best_bid()?.price)
    }

    /// Size-weighted mid as `(numerator, denominator)` in ticks:
    /// `(bid * ask_size + ask * bid_size) / (bid_size + ask_size)`.
    pub fn microprice_ratio(&self) -> Option<(i128, i128)> {
        let (b, a) = (self.best_bid()?, self.best_ask()?);
        let num = i128::from(b.price) * i128::from(a.size) + i128::from(a.price) * i128::from(b.size);
        Some((num, i128::from(a.size) + i128::from(b.size)))
    }

    /// Total lots in the `levels` best levels of each side.
    pub fn sizes_top(&self, levels: usize) -> (i128, i128) {
        let sum = |s: Side| self.levels(s).take(levels).map(|l| i128::from(l.size)).sum();
        (sum(Side::Bid), sum(Side::Ask))
    }

    /// Lots on each side priced within `bps_num / bps_den` basis points of the mid
    /// (inclusive), or None without a two-sided book (or if the figures overflow i128).
    pub fn depth_within_bps(&self, bps_num: i128, bps_den: i128) -> Option<(i128, i128)> {
        let m2 = self.mid_x2()?;
        // bid p qualifies when p >= mid * (1 - bps/1e4), i.e.
        //   p * 2 * 1e4 * den >= m2 * (1e4 * den - num); asks mirror it.
        let scale = bps_den.checked_mul(10_000)?;
        let lo = m2.checked_mul(scale.checked_sub(bps_num)?)?;
        let hi = m2.checked_mul(scale.checked_add(bps_num)?)?;
        let at = |l: &Level| i128::from(l.price).checked_mul(2 * scale);
        let mut bid = 0i128;
        for l in self.levels(Side::Bid) {
            if at(&l)? < lo {
                break;
            }
            bid += i128::from(l.size);
        }
        let mut ask = 0i128;
        for l in self.levels(Side::Ask) {
            if at(&l)? > hi {
                break;
            }
            ask += i128::from(l.size);
        }
        Some((bid, ask))
    }

    /// Cost of taking `qty` lots from `side` (asks for a buy, bids for a sell), as
    /// `(sum of price * size in ticks*lots, qty)`; None when the side is too thin.
    pub fn fill_cost(&self, side: Side, qty: i64) -> Option<(i128, i128)> {
        if qty <= 0 {
            return None;
        }
        let mut left = i128::from(qty);
        let mut cost = 0i128;
        for l in self.levels(side) {
            let take = left.min(i128::from(l.size));
            cost = cost.checked_add(take.checked_mul(i128::from(l.price))?)?;
            left -= take;
            if left == 0 {
                return Some((cost, i128::from(qty)));
            }
        }
        None
    }

    /// Internal invariants: each side strictly ordered, within depth, not crossed, sizes
    /// positive. Used by tests.
    pub fn check_invariants(&self) -> Result<(), String> {
        let sides = [
            ("bids", self.bids.is_sorted_strictly(), &self.bids.levels),
            ("asks", self.asks.is_sorted_strictly(), &self.asks.levels),
        ];
        for (name, sorted, levels) in sides {
            if !sorted {
                return Err(format!("{name} not strictly ordered"));
            }
            if self.depth != 0 && levels.len() > self.depth {
                return Err(format!("{name} deeper than {}", self.depth));
            }
            if levels.iter().any(|x| x.size <= 0 || x.price <= 0) {
                return Err(format!("{name} holds a non-positive level"));
            }
        }
        if let (Some(b), Some(a)) = (self.best_bid(), self.best_ask()) {
            if b.price >= a.price {
                return Err("crossed".into());
            }
        }
        Ok(())
    }

    /// Bytes owned by the book: the struct plus every vector's capacity (levels, undo log,
    /// parse scratch). A 50-level book stays around 5 KiB.
    pub fn heap_bytes(&self) -> usize {
        let lv = std::mem::size_of::<Level>();
        std::mem::size_of::<Book>()
            + lv * (self.bids.levels.capacity()
                + self.asks.levels.capacity()
                + self.scratch_bids.capacity()
                + self.scratch_asks.capacity())
            + std::mem::size_of::<Undo>() * self.undo.capacity()
    }

    /// Levels and sequence state, for "unchanged" comparisons in tests.
    pub fn state(&self) -> (Vec<Level>, Vec<Level>, u64, u64, bool) {
        let (b, a) = self.top(usize::MAX);
        (b, a, self.update_id, self.seq, self.has_snapshot)
    }
}

impl Book {
    /// Parse one raw Bybit `orderbook.*` message and apply it (snapshot or delta), with
    /// no allocation once the scratch vectors are warm. On error the book is unchanged.
    pub fn apply_message(&mut self, raw: &[u8]) -> Result<MessageOutcome, BookError> {
        let mut bids = std::mem::take(&mut self.scratch_bids);
        let mut asks = std::mem::take(&mut self.scratch_asks);
        let res = crate::json::parse_message(raw, self, &mut bids, &mut asks).and_then(|h| match h.kind {
            crate::json::Kind::Snapshot => self
                .apply_snapshot(&bids, &asks, Some(h.update_id), h.seq)
                .map(|()| MessageOutcome::Snapshot),
            crate::json::Kind::Delta => self
                .apply_delta(&bids, &asks, Some(h.update_id), h.seq)
                .map(MessageOutcome::Delta),
        });
        self.scratch_bids = bids;
        self.scratch_asks = asks;
        res
    }

    /// Convenience for Rust callers and tests: levels as `(price, size)` strings.
    pub fn convert_levels(&self, side: Side, levels: &[(&str, &str)]) -> Result<Vec<Level>, BookError> {
        levels
            .iter()
            .enumerate()
            .map(|(i, (p, s))| self.convert_level(side, i, p.as_bytes(), s.as_bytes()))
            .collect()
    }
}
