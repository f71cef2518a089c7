//! The `Retry-After` header: delay-seconds or an HTTP date.

use crate::decimal::parse_f64;

/// How long a `Retry-After` value asks to wait, in ms, from `now_ms` (Unix ms).
///
/// Accepts delay-seconds (`"30"`, also `"1.5"`) and the IMF-fixdate form of an HTTP
/// date (`"Wed, 21 Oct 2026 07:28:00 GMT"`). A date in the past means no wait.
/// Returns `None` for anything else, so the caller falls back to its own backoff.
pub fn retry_after_ms(value: &str, now_ms: u64) -> Option<u64> {
    let value = value.trim();
    if let Some(seconds) = parse_f64(value) {
        return (seconds.is_finite() && seconds >= 0.0).then(|| (seconds * 1000.0).ceil() as u64);
    }
    let at_ms = http_date_ms(value)?;
    Some(at_ms.saturating_sub(now_ms))
}

/// Parses `"Sun, 06 Nov 1994 08:49:37 GMT"` to Unix ms.
fn http_date_ms(value: &str) -> Option<u64> {
    let (_weekday, rest) = value.split_once(", ")?;
    let mut parts = rest.split(' ');
    let day: u32 = parts.next()?.parse().ok()?;
    let month = month_number(parts.next()?)?;
    let year: i64 = parts.next()?.parse().ok()?;
    let time = parts.next()?;
    if parts.next()? != "GMT" || parts.next().is_some() {
        return None;
    }
    let mut hms = time.split(':').map(|p| p.parse::<u32>().ok());
    let (h, m, s) = (hms.next()??, hms.next()??, hms.next()??);
    if hms.next().is_some() || !(1..=31).contains(&day) || h > 23 || m > 59 || s > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + i64::from(h * 3600 + m * 60 + s);
    u64::try_from(seconds).ok().map(|s| s * 1000)
}

fn month_number(name: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    MONTHS.iter().position(|m| *m == name).map(|i| i as u32 + 1)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds() {
        assert_eq!(retry_after_ms("30", 0), Some(30_000));
        assert_eq!(retry_after_ms(" 0 ", 0), Some(0));
        assert_eq!(retry_after_ms("1.5", 0), Some(1_500));
        assert_eq!(retry_after_ms("-3", 0), None);
    }

    #[test]
    fn http_dates() {
        // 1994-11-06T08:49:37Z, the example of RFC 9110.
        let at = 784_111_777_000;
        assert_eq!(http_date_ms("Sun, 06 Nov 1994 08:49:37 GMT"), Some(at));
        assert_eq!(
            retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT", at - 5_000),
            Some(5_000)
        );
        assert_eq!(
            retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT", at + 5_000),
            Some(0)
        );
        assert_eq!(
            http_date_ms("Fri, 27 Nov 2026 07:15:43 GMT"),
            Some(1_795_763_743_000)
        );
        assert_eq!(
            http_date_ms("Tue, 29 Feb 2028 00:00:00 GMT"),
            Some(1_835_395_200_000)
        );
    }

    #[test]
    fn garbage_is_none() {
        for bad in [
            "",
            "soon",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 25:00:00 GMT",
        ] {
            assert_eq!(retry_after_ms(bad, 0), None, "{bad}");
        }
    }
}
