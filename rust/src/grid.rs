//! Exact conversion between Bybit's decimal strings and integer units of a grid
//! (price ticks or size lots). No floats anywhere: a string is parsed into an integer
//! mantissa and a decimal scale, then divided exactly by the grid step.

use std::fmt::Write as _;

/// Largest number of fractional digits accepted in an input or a grid step.
pub const MAX_SCALE: u32 = 18;

const POW10: [u64; 20] = [
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
    100_000_000_000_000_000,
    1_000_000_000_000_000_000,
    10_000_000_000_000_000_000,
];

/// `m / 10^k` when it is exact; None when it is not (or `k` > 19).
#[inline(always)]
fn div_pow10_exact(m: u64, k: u32) -> Option<u64> {
    macro_rules! exact {
        ($d:expr) => {
            if m % $d == 0 {
                Some(m / $d)
            } else {
                None
            }
        };
    }
    match k {
        0 => Some(m),
        1 => exact!(10),
        2 => exact!(100),
        3 => exact!(1_000),
        4 => exact!(10_000),
        _ => {
            let d = *POW10.get(k as usize)?;
            exact!(d)
        }
    }
}

/// Why a decimal string could not be turned into grid units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumProblem {
    /// Not a plain non-negative decimal (`"1.5"`, `"0"`): signs, exponents, NaN, inf,
    /// empty strings, stray characters.
    NotDecimal,
    /// A valid decimal that is not a whole multiple of the grid step.
    OffGrid,
    /// Too many digits, or more units than fit in an `i64`.
    TooLarge,
}

impl NumProblem {
    /// Human wording used in error messages.
    pub fn describe(self) -> &'static str {
        match self {
            NumProblem::NotDecimal => "is not a plain non-negative decimal",
            NumProblem::OffGrid => "is off the grid",
            NumProblem::TooLarge => "is too large or has too many digits",
        }
    }
}

/// A decimal parsed into `mantissa * 10^-scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dec {
    /// Integer digits with the decimal point removed.
    pub mantissa: u128,
    /// Number of fractional digits.
    pub scale: u32,
}

/// Parse a plain decimal: `digits [ "." digits ]`, at least one digit, no sign, no
/// exponent, at most 36 significant digits and [`MAX_SCALE`] fractional digits.
pub fn parse_dec(s: &[u8]) -> Result<Dec, NumProblem> {
    let mut mantissa: u128 = 0;
    let mut scale: u32 = 0;
    let mut digits = 0u32;
    let mut seen_dot = false;
    let mut any = false;
    for &c in s {
        match c {
            b'0'..=b'9' => {
                any = true;
                if mantissa != 0 || c != b'0' {
                    digits += 1;
                }
                if digits > 36 {
                    return Err(NumProblem::TooLarge);
                }
                mantissa = mantissa * 10 + u128::from(c - b'0');
                if seen_dot {
                    scale += 1;
                    if scale > MAX_SCALE {
                        return Err(NumProblem::TooLarge);
                    }
                }
            }
            b'.' if !seen_dot => seen_dot = true,
            _ => return Err(NumProblem::NotDecimal),
        }
    }
    if !any {
        return Err(NumProblem::NotDecimal);
    }
    Ok(Dec { mantissa, scale })
}

/// A grid step (tick size or lot size) `mantissa * 10^-scale`, strictly positive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grid {
    mantissa: u64,
    scale: u32,
}

impl Grid {
    /// Parse a step such as `"0.1"` or `"0.001"`; it must be a positive decimal.
    pub fn parse(s: &str) -> Result<Grid, NumProblem> {
        let d = parse_dec(s.as_bytes())?;
        if d.mantissa == 0 {
            return Err(NumProblem::NotDecimal);
        }
        // Normalise "0.10" to mantissa 1, scale 1: keeps the hot-path divisor small.
        let (mut m, mut sc) = (d.mantissa, d.scale);
        while sc > 0 && m % 10 == 0 {
            m /= 10;
            sc -= 1;
        }
        let mantissa = u64::try_from(m).map_err(|_| NumProblem::TooLarge)?;
        Ok(Grid { mantissa, scale: sc })
    }

    /// The step as a canonical decimal string (`"0.1"`).
    pub fn step_str(&self) -> String {
        format_scaled(i128::from(self.mantissa), self.scale)
    }

    /// Number of fractional digits of the step: units are rendered with this many.
    pub fn scale(&self) -> u32 {
        self.scale
    }

    /// Mantissa of the step (`step = mantissa * 10^-scale`).
    pub fn mantissa(&self) -> u64 {
        self.mantissa
    }

    /// Exact units of this grid in the decimal string `s` (`"65000.10"` on a 0.1 grid is
    /// 650001). O(len(s)); no allocation.
    #[inline]
    pub fn to_units(&self, s: &[u8]) -> Result<i64, NumProblem> {
        // Fast path: up to 19 digits accumulate in a u64.
        if s.len() <= 19 && !s.is_empty() {
            let mut m: u64 = 0;
            let mut scale: u32 = 0;
            let mut seen_dot = false;
            let mut any = false;
            for &c in s {
                match c {
                    b'0'..=b'9' => {
                        any = true;
                        m = m * 10 + u64::from(c - b'0');
                        scale += u32::from(seen_dot);
                    }
                    b'.' if !seen_dot => seen_dot = true,
                    _ => return Err(NumProblem::NotDecimal),
                }
            }
            if !any {
                return Err(NumProblem::NotDecimal);
            }
            if m == 0 {
                return Ok(0);
            }
            return self.units_u64(m, scale);
        }
        let d = parse_dec(s)?;
        self.dec_to_units(d)
    }

    #[inline]
    pub(crate) fn units_u64(&self, m: u64, scale: u32) -> Result<i64, NumProblem> {
        let units = if scale >= self.scale {
            // units = m / (step_mantissa * 10^(scale - step_scale)), exactly. Bybit pads
            // prices with at most a few zeros past the tick ("65000.10" on a 0.1 grid), so
            // the power of ten is divided out with constant divisors (no hardware divide).
            let Some(q) = div_pow10_exact(m, scale - self.scale) else {
                return if scale - self.scale > 19 {
                    self.dec_to_units(Dec { mantissa: u128::from(m), scale })
                } else {
                    Err(NumProblem::OffGrid)
                };
            };
            if self.mantissa == 1 {
                q
            } else if q.is_multiple_of(self.mantissa) {
                q / self.mantissa
            } else {
                return Err(NumProblem::OffGrid);
            }
        } else {
            let Some(num) = POW10
                .get((self.scale - scale) as usize)
                .and_then(|p| p.checked_mul(m))
            else {
                return self.dec_to_units(Dec { mantissa: u128::from(m), scale });
            };
            if !num.is_multiple_of(self.mantissa) {
                return Err(NumProblem::OffGrid);
            }
            num / self.mantissa
        };
        i64::try_from(units).map_err(|_| NumProblem::TooLarge)
    }

    /// General (slow) path in u128 with overflow checks.
    pub fn dec_to_units(&self, d: Dec) -> Result<i64, NumProblem> {
        if d.mantissa == 0 {
            return Ok(0);
        }
        let common = d.scale.max(self.scale);
        let pow = |k: u32| 10u128.checked_pow(k).ok_or(NumProblem::TooLarge);
        let num = d
            .mantissa
            .checked_mul(pow(common - d.scale)?)
            .ok_or(NumProblem::TooLarge)?;
        let den = u128::from(self.mantissa)
            .checked_mul(pow(common - self.scale)?)
            .ok_or(NumProblem::TooLarge)?;
        if !num.is_multiple_of(den) {
            return Err(NumProblem::OffGrid);
        }
        i64::try_from(num / den).map_err(|_| NumProblem::TooLarge)
    }

    /// Units back to the exact decimal string (`650001` on a 0.1 grid -> `"65000.1"`).
    pub fn format(&self, units: i64) -> String {
        format_scaled(i128::from(units) * i128::from(self.mantissa), self.scale)
    }

    /// Write units as a decimal into `out` (cleared first); no allocation once warm.
    pub fn format_into(&self, units: i64, out: &mut String) {
        out.clear();
        write_scaled(i128::from(units) * i128::from(self.mantissa), self.scale, out);
    }
}

/// `v * 10^-scale` as a plain decimal string, keeping `scale` fractional digits.
pub fn format_scaled(v: i128, scale: u32) -> String {
    let mut s = String::with_capacity(24);
    write_scaled(v, scale, &mut s);
    s
}

fn write_scaled(v: i128, scale: u32, out: &mut String) {
    if v < 0 {
        out.push('-');
    }
    let a = v.unsigned_abs();
    if scale == 0 {
        let _ = write!(out, "{a}");
        return;
    }
    let p = 10u128.pow(scale);
    let _ = write!(out, "{}.{:0width$}", a / p, a % p, width = scale as usize);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_bybit_price_strings_exactly() {
        let g = Grid::parse("0.1").unwrap();
        assert_eq!(g.to_units(b"65000.10"), Ok(650_001));
        assert_eq!(g.to_units(b"65000.1"), Ok(650_001));
        assert_eq!(g.to_units(b"65000"), Ok(650_000));
        assert_eq!(g.to_units(b"0"), Ok(0));
        assert_eq!(g.to_units(b"0.000"), Ok(0));
        assert_eq!(g.to_units(b"65000.15"), Err(NumProblem::OffGrid));
        assert_eq!(g.format(650_001), "65000.1");
    }

    #[test]
    fn rejects_non_decimals() {
        let g = Grid::parse("0.001").unwrap();
        for bad in [&b""[..], b"-1", b"+1", b"1e3", b"NaN", b"inf", b".", b"1..2", b"1.2.3", b" 1"] {
            assert_eq!(g.to_units(bad), Err(NumProblem::NotDecimal), "{bad:?}");
        }
        assert_eq!(g.to_units(b".5"), Ok(500));
        assert_eq!(g.to_units(b"5."), Ok(5000));
    }

    #[test]
    fn handles_non_unit_steps_and_huge_inputs() {
        let g = Grid::parse("0.25").unwrap();
        assert_eq!(g.to_units(b"1.75"), Ok(7));
        assert_eq!(g.to_units(b"1.7"), Err(NumProblem::OffGrid));
        assert_eq!(g.format(7), "1.75");
        let g = Grid::parse("0.10").unwrap();
        assert_eq!(g.step_str(), "0.1");
        assert_eq!(g.to_units(b"99999999999999999999999"), Err(NumProblem::TooLarge));
        assert_eq!(g.to_units(b"1.00000000000000000000"), Err(NumProblem::TooLarge));
        assert_eq!(g.to_units(b"000000000000000000000001.5000000"), Ok(15));
        assert_eq!(Grid::parse("5").unwrap().to_units(b"15"), Ok(3));
        assert_eq!(Grid::parse("5").unwrap().format(3), "15");
        assert!(Grid::parse("0").is_err());
    }
}
