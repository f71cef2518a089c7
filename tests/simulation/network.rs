//! The simulated network between the engine and KeyCRM: latency, answers out of
//! order, 429s, 5xx, timeouts, truncated and garbage bodies, repeated pages and
//! envelopes that contradict themselves.

use super::keycrm::{Catalogue, Envelope, Served};
use super::rng::Rng;
use super::Faults;

pub enum Reply {
    Page(Served),
    Status(u16, Option<String>, String),
    Timeout,
    Network,
}

/// How long a 429 asks to wait, as the simulation sent it.
#[derive(Clone, Copy, Debug)]
pub enum Hold {
    /// Delay-seconds, in ms.
    Ms(u64),
    /// An HTTP date, in Unix ms.
    Until(u64),
    /// No usable header: the engine's own backoff.
    Backoff,
}

pub struct Flight {
    pub id: u64,
    pub arrives: u64,
    pub reply: Reply,
    pub hold: Option<Hold>,
    pub what: &'static str,
}

/// How faulty the network of one seed is.
pub struct Net {
    pub fault_rate: f64,
    pub latency_max: u64,
}

impl Net {
    pub fn generate(rng: &mut Rng) -> Net {
        Net {
            fault_rate: *rng.pick(&[0.0, 0.02, 0.08, 0.2, 0.35]),
            latency_max: *rng.pick(&[5, 300, 1_500, 4_000]),
        }
    }

    pub fn quiet() -> Net {
        Net {
            fault_rate: 0.0,
            latency_max: 200,
        }
    }

    /// The answer to a request for `page` started at `now`, and when it arrives.
    #[allow(clippy::too_many_arguments)]
    pub fn answer(
        &self,
        rng: &mut Rng,
        faults: &Faults,
        cat: &mut Catalogue,
        id: u64,
        page: u64,
        now: u64,
        timeout_ms: u64,
    ) -> Flight {
        let latency = rng.below(self.latency_max + 1);
        let mut flight = Flight {
            id,
            arrives: now + latency,
            reply: Reply::Network,
            hold: None,
            what: "page",
        };
        if latency >= timeout_ms {
            flight.arrives = now + timeout_ms;
            flight.reply = Reply::Timeout;
            flight.what = "timeout";
            return flight;
        }
        if !rng.chance(self.fault_rate) {
            flight.reply = Reply::Page(cat.page(rng, page, Envelope::Honest, false));
            return flight;
        }
        let (what, reply) = match rng.below(12) {
            0 | 1 => {
                let (hold, header) = retry_after(rng, now);
                flight.hold = Some(hold);
                let body = r#"{"message":"Too Many Attempts."}"#.to_string();
                ("429", Reply::Status(429, header, body))
            }
            2 => {
                let status = *rng.pick(&[500, 502, 503, 504, 408]);
                (
                    "5xx",
                    Reply::Status(status, None, "<html>bad gateway</html>".into()),
                )
            }
            3 => {
                flight.arrives = now + timeout_ms;
                ("timeout", Reply::Timeout)
            }
            4 => ("network", Reply::Network),
            5 => {
                let full = cat.page(rng, page, Envelope::Honest, false).body;
                let cut = rng.below(full.len() as u64) as usize;
                (
                    "truncated",
                    Reply::Status(200, None, full[..cut].to_string()),
                )
            }
            6 => {
                let garbage = *rng.pick(&["", "<html>502</html>", "null", "[]", "{\"data\":7}"]);
                ("garbage", Reply::Status(200, None, garbage.to_string()))
            }
            7 | 8 if faults.repeated_pages && page > 1 => {
                // The answer for page N is page N−1's body, sometimes relabelled N.
                let mut served = cat.page(rng, page - 1, Envelope::Honest, false);
                if rng.chance(0.5) {
                    served.body = served.body.replacen(
                        &format!("\"current_page\":{}", page - 1),
                        &format!("\"current_page\":{page}"),
                        1,
                    );
                }
                ("repeated page", Reply::Page(served))
            }
            9 | 10 if faults.contradictory_envelopes => {
                let envelope = *rng.pick(&[
                    Envelope::LastPageZero,
                    Envelope::TotalInflated,
                    Envelope::NullNextEarly,
                ]);
                let what = match envelope {
                    Envelope::LastPageZero => "last_page 0",
                    Envelope::TotalInflated => "total inflated",
                    _ => "next_page_url null early",
                };
                (what, Reply::Page(cat.page(rng, page, envelope, false)))
            }
            11 if faults.field_drift => (
                "row without a figure",
                Reply::Page(cat.page(rng, page, Envelope::Honest, true)),
            ),
            _ => (
                "page",
                Reply::Page(cat.page(rng, page, Envelope::Honest, false)),
            ),
        };
        flight.what = what;
        flight.reply = reply;
        flight
    }
}

/// A `Retry-After` header, or none, and the wait it asks for.
fn retry_after(rng: &mut Rng, now: u64) -> (Hold, Option<String>) {
    match rng.below(5) {
        0 => (Hold::Backoff, None),
        1 => (Hold::Backoff, Some("soon".into())),
        2 => {
            let at = (now / 1000 + rng.range(0, 20)) * 1000;
            (Hold::Until(at), Some(http_date(at)))
        }
        3 => {
            let tenths = rng.range(0, 40);
            let header = format!("{}.{}", tenths / 10, tenths % 10);
            (Hold::Ms(tenths * 100), Some(header))
        }
        _ => {
            let seconds = rng.range(0, 30);
            (Hold::Ms(seconds * 1000), Some(seconds.to_string()))
        }
    }
}

/// IMF-fixdate of a Unix time in ms (whole seconds).
pub fn http_date(ms: u64) -> String {
    let secs = ms / 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} GMT",
        WEEKDAYS[days.rem_euclid(7) as usize],
        day,
        MONTHS[(month - 1) as usize],
        year,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}
