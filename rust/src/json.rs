//! A small, allocation-free reader for Bybit `orderbook.*` WebSocket messages.
//!
//! It reads exactly the fields the book needs (`type`, `data.b`, `data.a`, `data.u`,
//! `data.seq`, and checks that `topic`, when present, starts with `orderbook.`), converts
//! every price and size to grid units as it goes, and skips any other value after checking
//! that it is well-formed JSON. Key order does not matter. Nesting is capped, so hostile
//! input cannot exhaust the stack; every failure is a `BookError::Parse` or, for a level,
//! `BookError::InvalidLevel`.

use crate::book::{Book, Level};
use crate::error::{BookError, Side};
use crate::grid::Grid;

const MAX_NESTING: u32 = 64;

/// Message kind from the `type` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `"snapshot"`.
    Snapshot,
    /// `"delta"`.
    Delta,
}

/// What a message carries besides its levels (which go into the book's scratch vectors).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Snapshot or delta.
    pub kind: Kind,
    /// `data.u`.
    pub update_id: u64,
    /// `data.seq`, when present.
    pub seq: Option<u64>,
}

struct Cur<'a> {
    b: &'a [u8],
    i: usize,
}

type R<T> = Result<T, BookError>;

fn err<T>(msg: &'static str, pos: usize) -> R<T> {
    Err(BookError::Parse { msg, pos })
}

impl<'a> Cur<'a> {
    #[inline]
    fn ws(&mut self) {
        while let Some(&c) = self.b.get(self.i) {
            if c == b' ' || c == b'\n' || c == b'\r' || c == b'\t' {
                self.i += 1;
            } else {
                break;
            }
        }
    }

    #[inline]
    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.b.get(self.i).copied()
    }

    #[inline]
    fn eat(&mut self, c: u8, what: &'static str) -> R<()> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            err(what, self.i)
        }
    }

    /// A string without escapes, borrowed; strings with escapes are decoded into `buf`.
    /// Returns the raw or decoded bytes.
    #[inline]
    fn string<'s>(&mut self, buf: &'s mut Vec<u8>) -> R<&'s [u8]>
    where
        'a: 's,
    {
        self.eat(b'"', "expected a string")?;
        let start = self.i;
        let b: &'a [u8] = self.b;
        let rest = &b[start..];
        match rest.iter().position(|&c| c == b'"' || c == b'\\' || c < 0x20) {
            Some(n) if rest[n] == b'"' => {
                self.i = start + n + 1;
                Ok(&rest[..n])
            }
            Some(n) if rest[n] == b'\\' => self.string_escaped(start, buf),
            Some(n) => err("control character in a string", start + n),
            None => err("unterminated string", start),
        }
    }

    fn string_escaped<'s>(&mut self, start: usize, buf: &'s mut Vec<u8>) -> R<&'s [u8]> {
        buf.clear();
        let b = self.b;
        let mut j = start;
        loop {
            let Some(&c) = b.get(j) else { return err("unterminated string", start) };
            match c {
                b'"' => {
                    self.i = j + 1;
                    return Ok(&buf[..]);
                }
                b'\\' => {
                    let Some(&e) = b.get(j + 1) else { return err("unterminated string", start) };
                    j += 2;
                    let ch = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let hex = |k: usize| -> R<u32> {
                                let h = b.get(k..k + 4).ok_or(BookError::Parse { msg: "bad \\u escape", pos: k })?;
                                let s = std::str::from_utf8(h).map_err(|_| BookError::Parse { msg: "bad \\u escape", pos: k })?;
                                u32::from_str_radix(s, 16).map_err(|_| BookError::Parse { msg: "bad \\u escape", pos: k })
                            };
                            let hi = hex(j)?;
                            j += 4;
                            let code = if (0xD800..0xDC00).contains(&hi) {
                                if b.get(j) != Some(&b'\\') || b.get(j + 1) != Some(&b'u') {
                                    return err("lone surrogate", j);
                                }
                                let lo = hex(j + 2)?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return err("lone surrogate", j);
                                }
                                j += 6;
                                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                            } else {
                                hi
                            };
                            char::from_u32(code).ok_or(BookError::Parse { msg: "bad \\u escape", pos: j })?
                        }
                        _ => return err("bad escape", j - 1),
                    };
                    let mut tmp = [0u8; 4];
                    buf.extend_from_slice(ch.encode_utf8(&mut tmp).as_bytes());
                }
                0..=0x1f => return err("control character in a string", j),
                _ => {
                    buf.push(c);
                    j += 1;
                }
            }
        }
    }

    /// A non-negative JSON integer that fits a u64.
    fn uint(&mut self) -> R<u64> {
        self.ws();
        let start = self.i;
        let mut v: u64 = 0;
        while let Some(&c) = self.b.get(self.i) {
            if !c.is_ascii_digit() {
                break;
            }
            v = v
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(c - b'0')))
                .ok_or(BookError::Parse { msg: "integer too large", pos: start })?;
            self.i += 1;
        }
        if self.i == start {
            return err("expected a non-negative integer", start);
        }
        if self.i - start > 1 && self.b[start] == b'0' {
            return err("leading zero", start);
        }
        if matches!(self.b.get(self.i), Some(b'.' | b'e' | b'E')) {
            return err("expected an integer", start);
        }
        Ok(v)
    }

    /// Skip any JSON value, checking that it is well-formed.
    fn skip(&mut self, depth: u32, buf: &mut Vec<u8>) -> R<()> {
        if depth > MAX_NESTING {
            return err("nesting too deep", self.i);
        }
        match self.peek() {
            Some(b'"') => self.string(buf).map(|_| ()),
            Some(b'{') => {
                self.i += 1;
                if self.peek() == Some(b'}') {
                    self.i += 1;
                    return Ok(());
                }
                loop {
                    self.string(buf)?;
                    self.eat(b':', "expected ':'")?;
                    self.skip(depth + 1, buf)?;
                    match self.peek() {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(());
                        }
                        _ => return err("expected ',' or '}'", self.i),
                    }
                }
            }
            Some(b'[') => {
                self.i += 1;
                if self.peek() == Some(b']') {
                    self.i += 1;
                    return Ok(());
                }
                loop {
                    self.skip(depth + 1, buf)?;
                    match self.peek() {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(());
                        }
                        _ => return err("expected ',' or ']'", self.i),
                    }
                }
            }
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => err("expected a JSON value", self.i),
        }
    }

    fn literal(&mut self, lit: &'static [u8]) -> R<()> {
        if self.b.get(self.i..self.i + lit.len()) == Some(lit) {
            self.i += lit.len();
            Ok(())
        } else {
            err("bad literal", self.i)
        }
    }

    fn number(&mut self) -> R<()> {
        let start = self.i;
        let b = self.b;
        let digits = |i: &mut usize| {
            let s = *i;
            while b.get(*i).is_some_and(u8::is_ascii_digit) {
                *i += 1;
            }
            *i > s
        };
        let mut i = self.i;
        if b.get(i) == Some(&b'-') {
            i += 1;
        }
        if !digits(&mut i) {
            return err("bad number", start);
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            if !digits(&mut i) {
                return err("bad number", start);
            }
        }
        if matches!(b.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(b.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            if !digits(&mut i) {
                return err("bad number", start);
            }
        }
        self.i = i;
        Ok(())
    }

    /// `[["price","size"], ...]` converted to units into `out`.
    fn levels(&mut self, book: &Book, side: Side, out: &mut Vec<Level>, buf: &mut Vec<u8>) -> R<()> {
        out.clear();
        self.eat(b'[', "expected a list of levels")?;
        if self.peek() == Some(b']') {
            self.i += 1;
            return Ok(());
        }
        let mut sbuf = Vec::new();
        loop {
            let start = self.i;
            self.eat(b'[', "expected a [price, size] pair")?;
            if let Some(level) = self.level_fast(book) {
                out.push(level);
            } else {
                self.i = start;
                self.level_slow(book, side, out, buf, &mut sbuf)?;
            }
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(());
                }
                _ => return err("expected ',' or ']' after a level", self.i),
            }
        }
    }

    /// The common case `"digits.digits","digits.digits"]` in one pass, straight to units.
    /// None for anything else (escapes, bad or off-grid numbers, odd spacing): the caller
    /// then rewinds and takes the slow path, which reports the exact problem.
    #[inline]
    fn level_fast(&mut self, book: &Book) -> Option<Level> {
        let price = self.quoted_units(book.tick())?;
        if price == 0 || self.b.get(self.i) != Some(&b',') {
            return None;
        }
        self.i += 1;
        let size = self.quoted_units(book.lot())?;
        if self.b.get(self.i) != Some(&b']') {
            return None;
        }
        self.i += 1;
        Some(Level { price, size })
    }

    #[inline]
    fn quoted_units(&mut self, grid: &Grid) -> Option<i64> {
        let rest = self.b.get(self.i..)?;
        if rest.first() != Some(&b'"') {
            return None;
        }
        // At most 19 characters keep the mantissa inside a u64.
        let body = &rest[1..rest.len().min(21)];
        let len = body.iter().position(|&c| c == b'"')?;
        let digits = &body[..len];
        let (mut m, mut scale, mut dot, mut any) = (0u64, 0u32, false, false);
        for &c in digits {
            let d = c.wrapping_sub(b'0');
            if d < 10 {
                m = m * 10 + u64::from(d);
                scale += u32::from(dot);
                any = true;
            } else if c == b'.' && !dot {
                dot = true;
            } else {
                return None;
            }
        }
        if !any || len > 19 {
            return None;
        }
        self.i += len + 2;
        if m == 0 {
            return Some(0);
        }
        grid.units_u64(m, scale).ok()
    }

    fn level_slow(&mut self, book: &Book, side: Side, out: &mut Vec<Level>, buf: &mut Vec<u8>, sbuf: &mut Vec<u8>) -> R<()> {
        {
            self.eat(b'[', "expected a [price, size] pair")?;
            let index = out.len();
            let price = self.string(buf)?;
            self.eat(b',', "expected ',' in a level")?;
            let size = self.string(sbuf)?;
            let level = book.convert_level(side, index, price, size)?;
            out.push(level);
            self.eat(b']', "a level must be exactly [price, size]")?;
            Ok(())
        }
    }

    fn data(&mut self, book: &Book, bids: &mut Vec<Level>, asks: &mut Vec<Level>, buf: &mut Vec<u8>) -> R<(Option<u64>, Option<u64>)> {
        let (mut u, mut seq) = (None, None);
        self.eat(b'{', "data must be an object")?;
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok((u, seq));
        }
        loop {
            let key = self.string(buf)?;
            let which = match key {
                b"b" => 1,
                b"a" => 2,
                b"u" => 3,
                b"seq" => 4,
                _ => 0,
            };
            self.eat(b':', "expected ':'")?;
            match which {
                1 => self.levels(book, Side::Bid, bids, buf)?,
                2 => self.levels(book, Side::Ask, asks, buf)?,
                3 => u = Some(self.uint()?),
                4 => seq = Some(self.uint()?),
                _ => self.skip(1, buf)?,
            }
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok((u, seq));
                }
                _ => return err("expected ',' or '}' in data", self.i),
            }
        }
    }
}

/// Parse a whole message; levels land in `bids` / `asks` (cleared first), in message order.
pub fn parse_message(raw: &[u8], book: &Book, bids: &mut Vec<Level>, asks: &mut Vec<Level>) -> R<Header> {
    bids.clear();
    asks.clear();
    let mut c = Cur { b: raw, i: 0 };
    let mut buf = Vec::new();
    let (mut kind, mut u, mut seq, mut saw_data) = (None, None, None, false);
    c.eat(b'{', "expected a JSON object")?;
    if c.peek() != Some(b'}') {
        loop {
            let key = c.string(&mut buf)?;
            let which = match key {
                b"type" => 1,
                b"data" => 2,
                b"topic" => 3,
                _ => 0,
            };
            c.eat(b':', "expected ':'")?;
            match which {
                1 => {
                    let pos = c.i;
                    kind = Some(match c.string(&mut buf)? {
                        b"snapshot" => Kind::Snapshot,
                        b"delta" => Kind::Delta,
                        _ => return err("type must be \"snapshot\" or \"delta\"", pos),
                    });
                }
                2 => {
                    if saw_data {
                        return err("duplicate data", c.i);
                    }
                    saw_data = true;
                    (u, seq) = c.data(book, bids, asks, &mut buf)?;
                }
                3 => {
                    let pos = c.i;
                    if !c.string(&mut buf)?.starts_with(b"orderbook.") {
                        return err("topic is not orderbook.*", pos);
                    }
                }
                _ => c.skip(1, &mut buf)?,
            }
            match c.peek() {
                Some(b',') => c.i += 1,
                Some(b'}') => break,
                _ => return err("expected ',' or '}'", c.i),
            }
        }
    }
    c.i += 1;
    if c.peek().is_some() {
        return err("trailing bytes after the message", c.i);
    }
    let Some(kind) = kind else { return err("missing \"type\"", 0) };
    if !saw_data {
        return err("missing \"data\"", 0);
    }
    let Some(update_id) = u else { return err("missing \"data.u\"", 0) };
    Ok(Header { kind, update_id, seq })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn book() -> Book {
        Book::from_steps("0.1", "0.001", 50).unwrap()
    }

    #[test]
    fn reads_a_bybit_delta_in_any_key_order() {
        let b = book();
        let (mut bids, mut asks) = (Vec::new(), Vec::new());
        let raw = br#"{"data":{"s":"BTCUSDT","b":[["30000.10","0"],["29999.90","1.250"]],"a":[["30000.50","0.400"]],"u":1234568,"seq":99887766},"cts":1700000000120,"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1700000000123}"#;
        let h = parse_message(raw, &b, &mut bids, &mut asks).unwrap();
        assert_eq!(h, Header { kind: Kind::Delta, update_id: 1_234_568, seq: Some(99_887_766) });
        assert_eq!(bids, vec![Level { price: 300_001, size: 0 }, Level { price: 299_999, size: 1250 }]);
        assert_eq!(asks, vec![Level { price: 300_005, size: 400 }]);
    }

    #[test]
    fn decodes_escaped_strings_and_skips_nested_values() {
        let b = book();
        let (mut bids, mut asks) = (Vec::new(), Vec::new());
        let raw = br#" { "type" : "snap\u0073hot", "x": [1, -2.5e3, {"y": [true, false, null, "\"q\""]}],
            "data": {"b": [["\u0031\u0030.5", "1"]], "a": [], "u": 1} } "#;
        let h = parse_message(raw, &b, &mut bids, &mut asks).unwrap();
        assert_eq!(h.kind, Kind::Snapshot);
        assert_eq!(bids, vec![Level { price: 105, size: 1000 }]);
    }

    #[test]
    fn rejects_garbage_without_panicking() {
        let b = book();
        let (mut bids, mut asks) = (Vec::new(), Vec::new());
        let deep = "[".repeat(10_000);
        for raw in [
            &b""[..],
            b"{",
            b"null",
            b"{\"type\":\"delta\"}",
            b"{\"type\":\"delta\",\"data\":{\"b\":[[\"1\"]],\"a\":[],\"u\":2}}",
            b"{\"type\":\"delta\",\"data\":{\"b\":[],\"a\":[],\"u\":-2}}",
            b"{\"type\":\"delta\",\"data\":{\"b\":[],\"a\":[],\"u\":2}} x",
            b"{\"topic\":\"tickers.BTCUSDT\",\"type\":\"delta\",\"data\":{\"u\":2}}",
            deep.as_bytes(),
            format!("{{\"x\":{deep}").as_bytes(),
            b"{\"type\":\"delta\",\"data\":{\"b\":[[\"NaN\",\"1\"]],\"a\":[],\"u\":2}}",
            b"{\"type\":\"delta\",\"data\":{\"b\":[[\"1\",\"\\ud800\"]],\"a\":[],\"u\":2}}",
        ] {
            assert!(parse_message(raw, &b, &mut bids, &mut asks).is_err(), "{}", String::from_utf8_lossy(raw));
        }
    }
}
