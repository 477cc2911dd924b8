//! Branch-free reading of short decimal strings, eight bytes at a time (SWAR: SIMD within a
//! register, plain safe `u64` arithmetic). The fast path of the message reader: a price like
//! `"65000.10"` is found, checked and converted without a per-character loop, so the
//! data-dependent branches (and their mispredictions) of a byte loop disappear.

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;
const ZEROS: u64 = 0x3030_3030_3030_3030;

const POW10: [u64; 17] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
    1_000_000_000,
    10_000_000_000,
    100_000_000_000,
    1_000_000_000_000,
    10_000_000_000_000,
    100_000_000_000_000,
    1_000_000_000_000_000,
    10_000_000_000_000_000,
];

/// Index (0..8) of the first byte of `v` (little-endian order) equal to `b`; 8 if none.
/// Bytes above a match may be flagged spuriously by the borrow, so only the lowest counts.
#[inline(always)]
fn first_byte(v: u64, b: u8) -> u32 {
    let x = v ^ ONES.wrapping_mul(u64::from(b));
    (x.wrapping_sub(ONES) & !x & HIGHS).trailing_zeros() / 8
}

/// Length of a short JSON string body at the start of `s` (just after its opening quote):
/// the index of the closing quote when it is among the first 8 bytes and no backslash or
/// control character comes before it. None means "use the byte loop".
#[inline]
pub fn short_string_len(s: &[u8]) -> Option<usize> {
    let v = u64::from_le_bytes(s.get(..8)?.try_into().ok()?);
    let q = first_byte(v, b'"');
    let bs = first_byte(v, b'\\');
    let ctl = (v.wrapping_sub(ONES.wrapping_mul(0x20)) & !v & HIGHS).trailing_zeros() / 8;
    (q < 8 && q < bs && q < ctl).then_some(q as usize)
}

/// True when all eight bytes are ASCII digits (simdjson's check).
#[inline(always)]
fn all_digits(v: u64) -> bool {
    (v & 0xF0F0_F0F0_F0F0_F0F0) | ((v.wrapping_add(0x0606_0606_0606_0606) & 0xF0F0_F0F0_F0F0_F0F0) >> 4)
        == 0x3333_3333_3333_3333
}

/// The value of eight ASCII digits, first character in the lowest byte.
#[inline(always)]
fn eight_digits(v: u64) -> u64 {
    let v = v.wrapping_sub(ZEROS);
    let v = v.wrapping_mul(10).wrapping_add(v >> 8);
    let a = (v & 0x0000_00FF_0000_00FF).wrapping_mul(100 + (1_000_000 << 32));
    let b = ((v >> 16) & 0x0000_00FF_0000_00FF).wrapping_mul(1 + (10_000 << 32));
    a.wrapping_add(b) >> 32
}

/// Up to 8 digits starting at character `start` of the 16 characters in `w`.
#[inline(always)]
fn digits_upto8(w: u128, start: u32, n: u32) -> Option<u64> {
    if n == 0 {
        return Some(0);
    }
    let raw = (w >> (8 * start)) as u64;
    // Keep the n characters, moved to the top bytes, and pad below with '0' (leading zeros).
    let shift = 8 * (8 - n);
    let v = (raw << shift) | (ZEROS & ((1u64 << shift) - 1));
    all_digits(v).then(|| eight_digits(v))
}

/// Up to 16 digits starting at character `start` (`start + n <= 16`).
#[inline(always)]
fn digits_upto16(w: u128, start: u32, n: u32) -> Option<u64> {
    if n <= 8 {
        return digits_upto8(w, start, n);
    }
    let high = digits_upto8(w, start, n - 8)?;
    let low = digits_upto8(w, start + n - 8, 8)?;
    Some(high * 100_000_000 + low)
}

/// A quoted plain decimal at the start of `s` (`"` digits [`.` digits] `"`, at most 16
/// characters inside the quotes) as `(mantissa, scale, bytes consumed including quotes)`.
/// None means "not handled here": the caller falls back to the byte-by-byte reader, which
/// accepts exactly the same strings and reports errors, so this path may decline anything.
#[inline]
pub fn quoted_decimal(s: &[u8]) -> Option<(u64, u32, usize)> {
    let body: &[u8; 16] = s.get(1..17)?.try_into().ok()?;
    if s[0] != b'"' {
        return None;
    }
    let lo = u64::from_le_bytes(body[..8].try_into().ok()?);
    let hi = u64::from_le_bytes(body[8..].try_into().ok()?);
    let q = first_byte(lo, b'"');
    let len = if q < 8 { q } else { 8 + first_byte(hi, b'"') };
    if len >= 16 {
        return None;
    }
    let d = first_byte(lo, b'.');
    let dot = if d < 8 { d } else { 8 + first_byte(hi, b'.') };
    let (int_len, frac_start, frac_len) = if dot < len { (dot, dot + 1, len - dot - 1) } else { (len, len, 0) };
    if int_len + frac_len == 0 {
        return None;
    }
    let w = (u128::from(hi) << 64) | u128::from(lo);
    let int = digits_upto16(w, 0, int_len)?;
    let frac = digits_upto16(w, frac_start, frac_len)?;
    let m = int.checked_mul(POW10[frac_len as usize])?.checked_add(frac)?;
    Some((m, frac_len, len as usize + 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn padded(s: &str) -> Vec<u8> {
        format!("\"{s}\"],[\"0\",\"0\"]],\"u\":1}}").into_bytes()
    }

    #[test]
    fn reads_typical_bybit_numbers() {
        assert_eq!(quoted_decimal(&padded("65000.10")), Some((6_500_010, 2, 10)));
        assert_eq!(quoted_decimal(&padded("0.245")), Some((245, 3, 7)));
        assert_eq!(quoted_decimal(&padded("0")), Some((0, 0, 3)));
        assert_eq!(quoted_decimal(&padded("100000.10")), Some((10_000_010, 2, 11)));
        assert_eq!(quoted_decimal(&padded("123456789.123456")), None); // 16 chars: declined
        assert_eq!(quoted_decimal(&padded("12345678.123456")), Some((12_345_678_123_456, 6, 17)));
        assert_eq!(quoted_decimal(&padded(".5")), Some((5, 1, 4)));
        assert_eq!(quoted_decimal(&padded("5.")), Some((5, 0, 4)));
    }

    #[test]
    fn declines_anything_else() {
        for s in ["", ".", "1.2.3", "-1", "1e3", "NaN", "1 ", "1\\u0030", "12345678901234567"] {
            assert_eq!(quoted_decimal(&padded(s)), None, "{s:?}");
        }
        assert_eq!(quoted_decimal(b"\"1\""), None); // fewer than 16 bytes after the quote
    }

    #[test]
    fn finds_short_string_ends() {
        assert_eq!(short_string_len(b"topic\":\"orderbook"), Some(5));
        assert_eq!(short_string_len(b"\":1234567"), Some(0));
        assert_eq!(short_string_len(b"ab\\\"cdefgh"), None);
        assert_eq!(short_string_len(b"a\nb\"cdefgh"), None);
        assert_eq!(short_string_len(b"abcdefgh\""), None);
        assert_eq!(short_string_len(b"ab\""), None);
    }
}
