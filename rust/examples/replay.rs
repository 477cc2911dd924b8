//! Replay an ndjson file of raw Bybit orderbook messages through the core and time it:
//! `cargo run --release --example replay -- /tmp/stream.ndjson`.
use std::time::Instant;

fn main() {
    let path = std::env::args().nth(1).expect("usage: replay FILE");
    let data = std::fs::read(&path).expect("read");
    let msgs: Vec<&[u8]> = data.split(|&c| c == b'\n').filter(|l| !l.is_empty()).collect();
    for _ in 0..3 {
        let mut book = _native::Book::from_steps("0.1", "0.001", 50).expect("grid");
        let mut acc = 0i64;
        let t = Instant::now();
        for m in &msgs {
            book.apply_message(m).expect("apply");
            acc += book.best_bid().map_or(0, |l| l.price) + book.best_ask().map_or(0, |l| l.price);
        }
        let ns = t.elapsed().as_nanos() as f64 / msgs.len() as f64;
        println!("{} msgs, {ns:.0} ns/msg (checksum {acc})", msgs.len());
    }
}
