//! Property tests: ordering and no-crossing invariants after every accepted update, book
//! unchanged after every rejected one, agreement with a BTreeMap model, and no panics on
//! arbitrary or mutated message bytes.

use std::collections::BTreeMap;

use _native::{Book, BookError, DeltaOutcome, Grid, Level};
use proptest::prelude::*;

const DEPTH: usize = 12;

#[derive(Debug, Clone)]
enum Op {
    Snapshot { bids: Vec<Level>, asks: Vec<Level>, u: Option<u64> },
    Delta { bids: Vec<Level>, asks: Vec<Level>, u: Option<u64> },
}

fn level(size_zero_ok: bool) -> impl Strategy<Value = Level> {
    // Prices around 1000 ticks so sides meet and cross often; a few bad values.
    let size = if size_zero_ok { prop_oneof![3 => Just(0i64), 10 => 1i64..50, 1 => -3i64..0].boxed() } else {
        prop_oneof![20 => 1i64..50, 1 => -2i64..=0].boxed()
    };
    (prop_oneof![30 => 980i64..1020, 1 => -2i64..=0], size).prop_map(|(price, size)| Level { price, size })
}

fn sorted_side(is_bid: bool) -> impl Strategy<Value = Vec<Level>> {
    prop::collection::btree_map(985i64..1015, 1i64..50, 0..15).prop_map(move |m| {
        let mut v: Vec<Level> = m.into_iter().map(|(price, size)| Level { price, size }).collect();
        if is_bid {
            v.reverse();
        }
        v
    })
}

fn op() -> impl Strategy<Value = Op> {
    let u = prop_oneof![1 => Just(None), 6 => (1u64..12).prop_map(Some)];
    prop_oneof![
        // well-formed snapshots (may still cross) and arbitrary ones
        2 => (sorted_side(true), sorted_side(false), u.clone())
            .prop_map(|(bids, asks, u)| Op::Snapshot { bids, asks, u }),
        1 => (prop::collection::vec(level(false), 0..8), prop::collection::vec(level(false), 0..8), u.clone())
            .prop_map(|(bids, asks, u)| Op::Snapshot { bids, asks, u }),
        8 => (prop::collection::vec(level(true), 0..8), prop::collection::vec(level(true), 0..8), u)
            .prop_map(|(bids, asks, u)| Op::Delta { bids, asks, u }),
    ]
}

fn new_book() -> Book {
    Book::from_steps("0.1", "0.001", DEPTH).expect("grid")
}

/// Apply a delta to one side of the model.
fn model_apply(side: &mut BTreeMap<i64, i64>, levels: &[Level]) {
    for l in levels {
        if l.size == 0 {
            side.remove(&l.price);
        } else {
            side.insert(l.price, l.size);
        }
    }
}

fn model_top(side: &BTreeMap<i64, i64>, is_bid: bool) -> Vec<Level> {
    let it: Box<dyn Iterator<Item = (&i64, &i64)>> = if is_bid { Box::new(side.iter().rev()) } else { Box::new(side.iter()) };
    it.take(DEPTH).map(|(&price, &size)| Level { price, size }).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn invariants_hold_and_rejections_change_nothing(ops in prop::collection::vec(op(), 1..40)) {
        let mut book = new_book();
        let (mut mb, mut ma) = (BTreeMap::new(), BTreeMap::new());
        for op in ops {
            let before = book.state();
            let res = match &op {
                Op::Snapshot { bids, asks, u } => book.apply_snapshot(bids, asks, *u, None).map(|()| None),
                Op::Delta { bids, asks, u } => book.apply_delta(bids, asks, *u, None).map(Some),
            };
            match res {
                Ok(outcome) => {
                    prop_assert!(book.check_invariants().is_ok(), "{:?}", book.check_invariants());
                    match (&op, outcome) {
                        (Op::Snapshot { bids, asks, .. }, _) => {
                            mb = bids.iter().map(|l| (l.price, l.size)).collect();
                            ma = asks.iter().map(|l| (l.price, l.size)).collect();
                        }
                        (Op::Delta { bids, asks, .. }, Some(DeltaOutcome::Applied)) => {
                            model_apply(&mut mb, bids);
                            model_apply(&mut ma, asks);
                        }
                        _ => prop_assert_eq!(book.state(), before.clone()),
                    }
                    // the model keeps everything; the book keeps the best DEPTH levels
                    let (b, a) = book.top(DEPTH);
                    prop_assert_eq!(b, model_top(&mb, true));
                    prop_assert_eq!(a, model_top(&ma, false));
                    // trim the model the same way so later deletions agree
                    mb = model_top(&mb, true).into_iter().map(|l| (l.price, l.size)).collect();
                    ma = model_top(&ma, false).into_iter().map(|l| (l.price, l.size)).collect();
                }
                Err(e) => {
                    let (b, a, u, s, snap) = book.state();
                    let (b0, a0, u0, s0, snap0) = before;
                    prop_assert_eq!((b, a, u, s, snap), (b0, a0, u0, s0, snap0), "changed after {:?}", e);
                    if matches!(e, BookError::Resync(_) | BookError::Crossed { in_delta: true, .. }) {
                        prop_assert!(book.resync_reason().is_some());
                    }
                    prop_assert!(book.check_invariants().is_ok());
                }
            }
        }
    }

    #[test]
    fn random_bytes_never_panic_and_errors_leave_the_book(raw in prop::collection::vec(any::<u8>(), 0..300)) {
        let mut book = new_book();
        book.apply_message(br#"{"type":"snapshot","data":{"b":[["100.0","1"]],"a":[["100.1","1"]],"u":5}}"#).expect("seed");
        let before = book.state();
        if book.apply_message(&raw).is_err() {
            prop_assert_eq!(book.state(), before);
        }
        prop_assert!(book.check_invariants().is_ok());
    }

    #[test]
    fn mutated_messages_never_panic(pos in 0usize..200, byte in any::<u8>(), cut in 0usize..200, kind in 0u8..3) {
        let base: &[u8] = br#"{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1700000000123,"data":{"s":"BTCUSDT","b":[["30000.10","0"],["29999.90","1.250"]],"a":[["30000.50","0.400"]],"u":6,"seq":99887766},"cts":1700000000120}"#;
        let mut raw = base.to_vec();
        match kind {
            0 => { let i = pos % raw.len(); raw[i] = byte; }
            1 => { raw.truncate(cut % raw.len()); }
            _ => { let i = pos % raw.len(); raw.insert(i, byte); }
        }
        let mut book = new_book();
        book.apply_message(br#"{"type":"snapshot","data":{"b":[["30000.0","1"]],"a":[["30000.5","1"]],"u":5}}"#).expect("seed");
        let before = book.state();
        match book.apply_message(&raw) {
            Ok(_) => prop_assert!(book.check_invariants().is_ok()),
            Err(_) => prop_assert_eq!(book.state(), before),
        }
    }

    #[test]
    fn grid_round_trips(units in 0i64..i64::MAX / 1000, scale in 0u32..6) {
        let step = format!("0.{}1", "0".repeat(scale as usize));
        let g = Grid::parse(&step).expect("step");
        let s = g.format(units);
        prop_assert_eq!(g.to_units(s.as_bytes()), Ok(units));
        if s.contains('.') {
            prop_assert_eq!(g.to_units(format!("{s}000").as_bytes()), Ok(units));
        }
    }
}

#[test]
fn snapshot_then_gap_then_snapshot_recovers() {
    let mut book = new_book();
    let lv = |p, s| Level { price: p, size: s };
    book.apply_snapshot(&[lv(100, 1)], &[lv(101, 1)], Some(10), Some(1)).expect("snap");
    assert_eq!(book.apply_delta(&[lv(99, 2)], &[], Some(11), None), Ok(DeltaOutcome::Applied));
    assert_eq!(book.apply_delta(&[lv(98, 2)], &[], Some(11), None), Ok(DeltaOutcome::Duplicate));
    assert!(matches!(book.apply_delta(&[], &[], Some(13), None), Err(BookError::Resync(_))));
    assert!(matches!(book.apply_delta(&[], &[], Some(12), None), Err(BookError::Resync(_))));
    book.apply_snapshot(&[lv(100, 1)], &[lv(101, 1)], Some(1), None).expect("reset snapshot");
    assert_eq!(book.apply_delta(&[], &[], Some(2), None), Ok(DeltaOutcome::Applied));
}

#[test]
fn deep_top_heavy_updates_keep_order() {
    // 1000 levels a side, churn near the touch: the layout's intended workload.
    let mut book = Book::from_steps("0.1", "0.001", 0).expect("grid");
    let bids: Vec<Level> = (0..1000).map(|i| Level { price: 100_000 - i, size: 1 }).collect();
    let asks: Vec<Level> = (0..1000).map(|i| Level { price: 100_001 + i, size: 1 }).collect();
    book.apply_snapshot(&bids, &asks, None, None).expect("snap");
    for k in 0..5000i64 {
        let p = 100_000 - (k * 7919) % 20;
        let size = if k % 3 == 0 { 0 } else { k % 11 + 1 };
        book.apply_delta(&[Level { price: p, size }], &[], None, None).expect("delta");
    }
    book.check_invariants().expect("invariants");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// Debug builds check arithmetic overflow: every read on extreme books must stay in range.
    #[test]
    fn reads_never_overflow_on_extreme_books(
        bid in 1i64..i64::MAX / 2,
        gap in 1i64..i64::MAX / 2,
        sizes in prop::collection::vec(1i64..=i64::MAX, 1..6),
        bps in 0i128..10_i128.pow(30),
        bps_den_exp in 0u32..19,
        qty in 1i64..=i64::MAX,
    ) {
        let mut book = Book::from_steps("0.1", "0.001", 0).expect("grid");
        let bids: Vec<Level> = sizes.iter().enumerate().map(|(i, &s)| Level { price: bid - i as i64, size: s }).filter(|l| l.price > 0).collect();
        let asks: Vec<Level> = sizes.iter().enumerate().map(|(i, &s)| Level { price: bid + gap + i as i64, size: s }).collect();
        book.apply_snapshot(&bids, &asks, None, None).expect("valid");
        let _ = (book.mid_x2(), book.spread_ticks(), book.microprice_ratio(), book.sizes_top(10));
        let _ = book.depth_within_bps(bps, 10_i128.pow(bps_den_exp));
        let _ = (book.fill_cost(_native::Side::Bid, qty), book.fill_cost(_native::Side::Ask, qty));
        let _ = (book.tick().format(i64::MAX), book.lot().format(i64::MAX));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// The message reader's fast paths (SWAR and byte loop) agree with the plain converter
    /// on every price/size text: same units, or both refuse.
    #[test]
    fn message_reader_converts_exactly_like_the_grid(
        p in "[0-9.]{0,20}|[0-9.eE+ -]{0,12}",
        s in "[0-9.]{0,20}|[0-9.eE+ -]{0,12}",
        tick in prop::sample::select(vec!["0.1", "0.01", "0.5", "1", "0.25", "0.00001"]),
        // Later levels valid on every tick above, so only level 0 decides the outcome.
        tail in prop::sample::select(vec!["", ",[\"1\",\"1\"]", ",[\"2.00\",\"0\"],[\"3\",\"4.5\"]"]),
    ) {
        let book = Book::from_steps(tick, "0.001", 0).expect("grid");
        let raw = format!(r#"{{"type":"delta","data":{{"b":[["{p}","{s}"]{tail}],"a":[],"u":2}}}}"#);
        let (mut bids, mut asks) = (Vec::new(), Vec::new());
        let got = _native::json::parse_message(raw.as_bytes(), &book, &mut bids, &mut asks).map(|_| bids[0]);
        let want = book.convert_level(_native::Side::Bid, 0, p.as_bytes(), s.as_bytes());
        prop_assert_eq!(got.is_ok(), want.is_ok(), "{} -> {:?} vs {:?}", raw, got, want);
        if let (Ok(g), Ok(w)) = (got, want) {
            prop_assert_eq!(g, w);
        }
    }
}
