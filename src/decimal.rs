//! Decimal text to `f64`, correctly rounded: what `str::parse::<f64>` does,
//! without its tables.
//!
//! The standard library's parser carries a 10 KB table of powers of five that
//! gzip cannot shrink; the figures and headers the core reads are short and
//! few, so this one works exactly on big integers instead: a number of up to 15
//! significant digits and a power of ten up to 10²² is one exact `f64`
//! operation, and anything else is computed exactly (its first 800 significant
//! digits, the rest only as whether any of them is not zero, which is all that
//! rounding needs) and rounded once, to nearest, ties to even.
//!
//! The grammar is `str::parse::<f64>`'s too: an optional sign, then `inf`,
//! `infinity` or `nan` in any case, or digits with an optional point (a digit
//! on at least one side) and an optional exponent (`e` or `E`, a sign, digits).
//! `tests/decimal.rs` holds it to `str::parse` on random and edge-case text.

/// Significant digits kept exactly; any further digits count only as zero or
/// not. 768 are enough to decide the rounding of any decimal to `f64`.
const KEPT_DIGITS: usize = 800;

/// The most digits [`short_decimal`] takes: every whole number of up to 15
/// digits is exact in `f64` (and within [`MAX_FIGURE`](crate::page::MAX_FIGURE)).
const SHORT_DIGITS: usize = 15;

/// 10⁰ to 10²², each exact in `f64`.
const EXACT_POWERS: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Parses `text` as `str::parse::<f64>` does: `None` where it gives an error.
pub fn parse_f64(text: &str) -> Option<f64> {
    let bytes = text.as_bytes();
    if let Some((value, end)) = short_decimal(bytes, 0) {
        if end == bytes.len() {
            return Some(value);
        }
    }
    let (negative, rest) = match bytes.first() {
        Some(b'-') => (true, &bytes[1..]),
        Some(b'+') => (false, &bytes[1..]),
        _ => (false, bytes),
    };
    let magnitude = special(rest).or_else(|| Decimal::read(rest).map(|d| d.value()))?;
    Some(if negative { -magnitude } else { magnitude })
}

/// A number in JSON's form without exponent at `at`, of up to
/// [`SHORT_DIGITS`] digits in all: its value and where it ends.
///
/// The value is the digits as a whole number divided by the power of ten its
/// fraction stands for. Both are exact in `f64`, so the quotient is the
/// correctly rounded value of the text: what serde_json computes for such a
/// number, and what `str::parse` gives for it as text. The page reader takes
/// figures by it, and [`parse_f64`] takes such text by it first.
pub(crate) fn short_decimal(bytes: &[u8], at: usize) -> Option<(f64, usize)> {
    let negative = bytes.get(at) == Some(&b'-');
    let start = at + usize::from(negative);
    let mut at = start;
    let mut digits: u64 = 0;
    let mut fraction = 0;
    while let Some(digit) = bytes.get(at).filter(|b| b.is_ascii_digit()) {
        if at - start == SHORT_DIGITS {
            return None;
        }
        digits = digits * 10 + u64::from(digit - b'0');
        at += 1;
    }
    let whole = at - start;
    if whole == 0 || (whole > 1 && bytes[start] == b'0') {
        return None;
    }
    if bytes.get(at) == Some(&b'.') {
        at += 1;
        while let Some(digit) = bytes.get(at).filter(|b| b.is_ascii_digit()) {
            if whole + fraction == SHORT_DIGITS {
                return None;
            }
            digits = digits * 10 + u64::from(digit - b'0');
            at += 1;
            fraction += 1;
        }
        if fraction == 0 {
            return None;
        }
    }
    let value = digits as f64 / EXACT_POWERS[fraction];
    Some((if negative { -value } else { value }, at))
}

/// `inf`, `infinity` or `nan`, in any case.
fn special(text: &[u8]) -> Option<f64> {
    let is = |word: &str| text.eq_ignore_ascii_case(word.as_bytes());
    if is("inf") || is("infinity") {
        Some(f64::INFINITY)
    } else if is("nan") {
        Some(f64::NAN)
    } else {
        None
    }
}

/// A decimal's significant digits (no leading zeros) and the power of ten of
/// the last of them: the value is `digits × 10^exponent`.
struct Decimal {
    /// Each 0 to 9, at most [`KEPT_DIGITS`], the first not 0.
    digits: Vec<u8>,
    exponent: i64,
    /// Whether a digit not kept was other than 0.
    inexact: bool,
}

impl Decimal {
    /// Reads digits, an optional point and an optional exponent, and nothing else.
    fn read(text: &[u8]) -> Option<Decimal> {
        let mut decimal = Decimal {
            digits: Vec::new(),
            exponent: 0,
            inexact: false,
        };
        let mut at = 0;
        let mut seen = false;
        let mut after_point = false;
        while let Some(&byte) = text.get(at) {
            match byte {
                b'0'..=b'9' => {
                    seen = true;
                    decimal.push(byte - b'0', after_point);
                }
                b'.' if !after_point => after_point = true,
                _ => break,
            }
            at += 1;
        }
        if !seen {
            return None;
        }
        if let Some(b'e' | b'E') = text.get(at) {
            at += 1;
            let negative = text.get(at) == Some(&b'-');
            if let Some(b'+' | b'-') = text.get(at) {
                at += 1;
            }
            let start = at;
            let mut power: i64 = 0;
            while let Some(digit @ b'0'..=b'9') = text.get(at) {
                // Past a million the answer is 0 or infinity alike.
                power = (power * 10 + i64::from(digit - b'0')).min(1_000_000);
                at += 1;
            }
            if at == start {
                return None;
            }
            decimal.exponent += if negative { -power } else { power };
        }
        (at == text.len()).then_some(decimal)
    }

    fn push(&mut self, digit: u8, after_point: bool) {
        if self.digits.is_empty() && digit == 0 {
            self.exponent -= i64::from(after_point);
        } else if self.digits.len() < KEPT_DIGITS {
            self.digits.push(digit);
            self.exponent -= i64::from(after_point);
        } else {
            self.inexact |= digit != 0;
            self.exponent += i64::from(!after_point);
        }
    }

    /// The value, rounded once to the nearest `f64`.
    fn value(&self) -> f64 {
        let count = self.digits.len() as i64;
        if count == 0 {
            return 0.0;
        }
        // Within [10^(top), 10^(top + 1)).
        let top = self.exponent + count - 1;
        if top > 308 {
            return f64::INFINITY;
        }
        if top < -325 {
            return 0.0;
        }
        if count <= 15 && !self.inexact && self.exponent.abs() <= 22 {
            let whole = self.digits.iter().fold(0u64, |n, &d| n * 10 + u64::from(d));
            let power = EXACT_POWERS[self.exponent.unsigned_abs() as usize];
            return if self.exponent < 0 {
                whole as f64 / power
            } else {
                whole as f64 * power
            };
        }
        let mut whole = Big::from_digits(&self.digits);
        if self.exponent >= 0 {
            whole.mul_pow10(self.exponent as u32);
            return round(&whole, 0, self.inexact);
        }
        // whole / 10^k, as a quotient of 56 or 57 bits and whether it is exact:
        // one side shifted so that the dividend has 56 bits more than the divisor.
        let mut divisor = Big::from_digits(&[1]);
        divisor.mul_pow10(self.exponent.unsigned_abs() as u32);
        let scale = (divisor.bits() + 56) as i64 - whole.bits() as i64;
        if scale >= 0 {
            whole.shl(scale.unsigned_abs());
        } else {
            divisor.shl(scale.unsigned_abs());
        }
        let (quotient, exact) = whole.div_small_quotient(&divisor);
        round(&quotient, -scale, self.inexact || !exact)
    }
}

/// `value × 2^exponent`, plus a little more when `sticky`, rounded to the
/// nearest `f64`, ties to even. `value` has at least two bits more than the
/// result keeps, unless it is exact (`sticky` false).
fn round(value: &Big, exponent: i64, mut sticky: bool) -> f64 {
    let bits = value.bits() as i64;
    if bits == 0 {
        return 0.0;
    }
    let top = bits - 1 + exponent;
    if top > 1023 {
        return f64::INFINITY;
    }
    // The power of two of the result's last bit: 52 below its top bit, or the
    // smallest subnormal's.
    let mut last = (top - 52).max(-1074);
    let drop = last - exponent;
    let mut mantissa = if drop <= 0 {
        value.low_u64() << (-drop)
    } else {
        let drop = drop as usize;
        let half = value.bit(drop - 1);
        sticky |= value.any_below(drop - 1);
        let kept = value.shifted_u64(drop);
        kept + u64::from(half && (sticky || kept & 1 == 1))
    };
    if mantissa == 1 << 53 {
        mantissa >>= 1;
        last += 1;
    }
    if mantissa < 1 << 52 {
        // Subnormal (or zero): its last bit is 2^-1074.
        return f64::from_bits(mantissa);
    }
    let biased = last + 52 + 1023;
    if biased >= 2047 {
        return f64::INFINITY;
    }
    f64::from_bits((biased as u64) << 52 | (mantissa & ((1 << 52) - 1)))
}

/// A whole number ≥ 0 of any size: 32-bit limbs, least significant first.
struct Big(Vec<u32>);

impl Big {
    fn from_digits(digits: &[u8]) -> Big {
        let mut big = Big(Vec::with_capacity(digits.len() / 9 + 1));
        for chunk in digits.chunks(9) {
            let value = chunk.iter().fold(0u32, |n, &d| n * 10 + u32::from(d));
            big.mul_add(10u32.pow(chunk.len() as u32), value);
        }
        big
    }

    /// `self × factor + add`.
    fn mul_add(&mut self, factor: u32, add: u32) {
        let mut carry = u64::from(add);
        for limb in &mut self.0 {
            let product = u64::from(*limb) * u64::from(factor) + carry;
            *limb = product as u32;
            carry = product >> 32;
        }
        if carry > 0 {
            self.0.push(carry as u32);
        }
    }

    fn mul_pow10(&mut self, mut power: u32) {
        while power >= 9 {
            self.mul_add(1_000_000_000, 0);
            power -= 9;
        }
        self.mul_add(10u32.pow(power), 0);
    }

    fn bits(&self) -> u64 {
        self.0.iter().rposition(|&limb| limb != 0).map_or(0, |i| {
            32 * i as u64 + u64::from(32 - self.0[i].leading_zeros())
        })
    }

    fn bit(&self, i: usize) -> bool {
        self.0
            .get(i / 32)
            .is_some_and(|limb| limb >> (i % 32) & 1 == 1)
    }

    /// Whether any bit below bit `i` is set.
    fn any_below(&self, i: usize) -> bool {
        let (whole, part) = (i / 32, i % 32);
        self.0[..whole.min(self.0.len())].iter().any(|&l| l != 0)
            || self
                .0
                .get(whole)
                .is_some_and(|&l| l & ((1 << part) - 1) != 0)
    }

    /// The 64 bits from bit `from` up.
    fn shifted_u64(&self, from: usize) -> u64 {
        (0..64)
            .filter(|&i| self.bit(from + i))
            .fold(0, |n, i| n | 1 << i)
    }

    fn low_u64(&self) -> u64 {
        self.shifted_u64(0)
    }

    /// `self × 2^by`.
    fn shl(&mut self, by: u64) {
        let (limbs, bits) = ((by / 32) as usize, (by % 32) as u32);
        if bits > 0 {
            let mut carry = 0;
            for limb in &mut self.0 {
                let next = *limb >> (32 - bits);
                *limb = *limb << bits | carry;
                carry = next;
            }
            if carry > 0 {
                self.0.push(carry);
            }
        }
        self.0.splice(0..0, std::iter::repeat(0).take(limbs));
    }

    /// `self / divisor` where the quotient is below 2^64 (true of the scaled
    /// values [`Decimal::value`] divides: at most 57 bits), and whether it is
    /// exact. `self` is left as the remainder.
    fn div_small_quotient(&mut self, divisor: &Big) -> (Big, bool) {
        let mut quotient = 0u64;
        let span = self.bits().saturating_sub(divisor.bits()).min(63);
        let mut step = Big(divisor.0.clone());
        step.shl(span);
        for i in (0..=span).rev() {
            if self.at_least(&step) {
                self.sub(&step);
                quotient |= 1 << i;
            }
            step.shr1();
        }
        let exact = self.bits() == 0;
        (Big(vec![quotient as u32, (quotient >> 32) as u32]), exact)
    }

    fn at_least(&self, other: &Big) -> bool {
        let len = self.0.len().max(other.0.len());
        for i in (0..len).rev() {
            let (a, b) = (
                self.0.get(i).copied().unwrap_or(0),
                other.0.get(i).copied().unwrap_or(0),
            );
            if a != b {
                return a > b;
            }
        }
        true
    }

    /// `self - other`, where `self ≥ other`.
    fn sub(&mut self, other: &Big) {
        let mut borrow = 0i64;
        for (i, limb) in self.0.iter_mut().enumerate() {
            let value = i64::from(*limb) - i64::from(other.0.get(i).copied().unwrap_or(0)) - borrow;
            borrow = i64::from(value < 0);
            *limb = value.rem_euclid(1 << 32) as u32;
        }
    }

    fn shr1(&mut self) {
        let mut carry = 0;
        for limb in self.0.iter_mut().rev() {
            let next = *limb & 1;
            *limb = *limb >> 1 | carry << 31;
            carry = next;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_f64;

    #[test]
    fn reads_as_str_parse_reads() {
        for text in [
            "0",
            "-0",
            "1",
            "+1",
            "1.5",
            ".5",
            "5.",
            "1e3",
            "1E-3",
            "12.500",
            "9007199254740993",
            "1e15",
            "1e22",
            "1e23",
            "4.9e-324",
            "2.4703282292062327e-324",
            "2.4703282292062328e-324",
            "2.2250738585072011e-308",
            "1.7976931348623157e308",
            "1.7976931348623159e308",
            "1e309",
            "1e-400",
            "0.1234567890123456789",
            "123456789012345678901234567890e-20",
            "inf",
            "-Infinity",
            "NaN",
            "0e999999999999",
            "",
            ".",
            "e5",
            "1e",
            "1e+",
            "+",
            "-",
            "--1",
            "1.2.3",
            " 1",
            "1 ",
            "0x10",
            "infinit",
        ] {
            let want = text.parse::<f64>().ok();
            let got = parse_f64(text);
            assert_eq!(
                got.map(|v| if v.is_nan() { u64::MAX } else { v.to_bits() }),
                want.map(|v| if v.is_nan() { u64::MAX } else { v.to_bits() }),
                "{text:?}"
            );
        }
    }
}
