//! The core's decimal parser (`decimal::parse_f64`) held to `str::parse::<f64>`:
//! on decimals of every length and exponent, on exact binary fractions written
//! out in decimal (ties included), on whole numbers around 2⁵³ and 2⁶⁴, on
//! neighbours of `f64` values written in full, and on any text, both give the
//! same value to the bit, or both refuse the text.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::proptest_config;
use keycrm_stock_sync::decimal::parse_f64;
use proptest::prelude::*;

/// Same value to the bit (any NaN alike), or both refused.
fn agrees(text: &str) -> Result<(), TestCaseError> {
    let bits = |v: f64| if v.is_nan() { u64::MAX } else { v.to_bits() };
    prop_assert_eq!(
        parse_f64(text).map(bits),
        text.parse::<f64>().ok().map(bits),
        "{:?}",
        text
    );
    Ok(())
}

/// `digits` with a point put `point` places from its end (or none), a sign,
/// and an exponent.
fn decimal() -> impl Strategy<Value = String> {
    (
        "[0-9]{1,40}",
        prop::option::of(0usize..45),
        prop::sample::select(vec!["", "-", "+"]),
        prop::option::of(-400i32..400),
        prop::sample::select(vec!["e", "E"]),
    )
        .prop_map(|(digits, point, sign, exponent, e)| {
            let mut text = digits;
            if let Some(point) = point {
                let at = text.len().saturating_sub(point);
                text.insert(at, '.');
            }
            let exponent = exponent.map_or(String::new(), |x| format!("{e}{x}"));
            format!("{sign}{text}{exponent}")
        })
}

proptest! {
    #![proptest_config(proptest_config(4096))]

    #[test]
    fn decimals_agree(text in decimal()) {
        agrees(&text)?;
    }

    /// `m / 2^k` written out exactly (`m × 5^k × 10^-k`): values with more bits
    /// than an `f64` holds, exactly halfway between two of them now and then.
    #[test]
    fn exact_binary_fractions_agree(m in any::<u64>(), k in 0u32..28, shift in 0u32..12) {
        let m = m >> shift;
        let scaled = u128::from(m) * 5u128.pow(k);
        agrees(&format!("{scaled}e-{k}"))?;
        agrees(&format!("{scaled}"))?;
    }

    /// Whole numbers beyond 2⁵³, where not every one is an `f64`.
    #[test]
    fn large_whole_numbers_agree(n in (1u64 << 53)..u64::MAX, tail in "[0-9]{0,6}") {
        agrees(&n.to_string())?;
        agrees(&format!("{n}{tail}"))?;
    }

    /// Every `f64`, written shortest and written out in 30 and 800 digits (the
    /// latter its exact value, or nearly), and nudged up or down in its last
    /// digit, which puts it a hair off a value or a tie.
    #[test]
    fn neighbours_of_f64_values_agree(bits in any::<u64>(), up in any::<bool>()) {
        let value = f64::from_bits(bits);
        prop_assume!(value.is_finite());
        agrees(&format!("{value:e}"))?;
        agrees(&format!("{value:.29e}"))?;
        let long = format!("{value:.799e}");
        agrees(&long)?;
        let (mantissa, exponent) = long.split_once('e').unwrap();
        let last = mantissa.bytes().last().unwrap();
        let nudged = match (up, last) {
            (true, b'0'..=b'8') => last + 1,
            (false, b'1'..=b'9') => last - 1,
            _ => last,
        };
        let mut mantissa = mantissa.as_bytes().to_vec();
        *mantissa.last_mut().unwrap() = nudged;
        mantissa.extend_from_slice(b"0000000001");
        let nudged = String::from_utf8(mantissa).unwrap();
        agrees(&format!("{nudged}e{exponent}"))?;
    }

    /// Text of the characters numbers are made of, in any order.
    #[test]
    fn any_number_like_text_agrees(text in "[-+0-9.eEinfatyINFATY]{0,12}") {
        agrees(&text)?;
    }

    /// Any text at all.
    #[test]
    fn any_text_agrees(text in "\\PC{0,20}") {
        agrees(&text)?;
    }
}

/// The decimal digits of half the number these digits stand for (a point
/// stays where it was, as digits of the same count after it, plus one).
fn halved(digits: &str) -> String {
    let mut out = String::new();
    let mut carry = 0;
    for d in digits.bytes().chain([b'0']) {
        let value = carry * 10 + u32::from(d - b'0');
        out.push(char::from(b'0' + (value / 2) as u8));
        carry = value % 2;
    }
    out
}

#[test]
fn very_long_decimals_agree() {
    let ones = "1".repeat(5_000);
    // The smallest subnormal in full (751 digits), and the tie halfway to 0.
    let smallest = format!("{:.799e}", f64::from_bits(1));
    let (mantissa, _) = smallest.split_once('e').unwrap();
    let digits = mantissa.replace('.', "");
    let tie = format!("0.{}e-323", halved(&digits));
    for text in [
        format!("0.{ones}"),
        format!("{ones}e-5000"),
        format!("{ones}e-5300"),
        ones.clone(),
        format!("4.9406564584124654{}e-324", "0".repeat(900)),
        smallest.clone(),
        tie.clone(),
        format!("{}1e-323", tie.trim_end_matches("e-323")),
        format!(
            "{}1e-323",
            tie.trim_end_matches("e-323").trim_end_matches('0')
        ),
    ] {
        assert_eq!(
            parse_f64(&text).map(f64::to_bits),
            text.parse::<f64>().ok().map(f64::to_bits),
            "{}…",
            &text[..40]
        );
    }
    assert_eq!(
        parse_f64(&tie),
        Some(0.0),
        "a tie rounds to the even neighbour"
    );
}
