//! Replay an ndjson file of raw Bybit orderbook messages through the core and time it:
//! `cargo run --release --example replay -- /tmp/stream.ndjson`.
use std::time::Instant;

fn main() {
    let path = std::env::args().nth(1).expect("usage: replay FILE");
    let data = std::fs::read(&path).expect("read");
    let msgs: Vec<&[u8]> = data.split(|&c| c == b'\n').filter(|l| !l.is_empty()).collect();
    let passes: usize = std::env::args().nth(2).and_then(|s| s.parse().ok()).unwrap_or(3);
    let mut best = f64::MAX;
    for _ in 0..passes {
        let mut book = _native::Book::from_steps("0.1", "0.001", 50).expect("grid");
        let mut acc = 0i64;
        let t = Instant::now();
        for m in &msgs {
            book.apply_message(m).expect("apply");
            acc += book.best_bid().map_or(0, |l| l.price) + book.best_ask().map_or(0, |l| l.price);
        }
        let ns = t.elapsed().as_nanos() as f64 / msgs.len() as f64;
        best = best.min(ns);
        println!("{} msgs, {ns:.0} ns/msg (checksum {acc})", msgs.len());
    }
    println!("best {best:.0} ns/msg");
}
