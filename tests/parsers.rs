//! Property tests of every parser that takes outside input: stock pages, stock
//! webhook bodies, `Retry-After`, options JSON and scan cursors. None may panic
//! (a panic in wasm is a trap that kills the caller's request); each accepts or
//! refuses as its documentation says.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::{fixture, proptest_config, STOCK_PAGES};
use keycrm_stock_sync::options::OPTION_NAMES;
use keycrm_stock_sync::page::MAX_FIGURE;
use keycrm_stock_sync::pagination::ScanCursor;
use keycrm_stock_sync::retry_after::retry_after_ms;
use keycrm_stock_sync::webhook::parse_stock_webhook;
use keycrm_stock_sync::{Action, ErrorCode, HttpResponse, StockPage, SyncEngine, SyncOptions};
use proptest::prelude::*;
use serde_json::{json, Value};

/// A figure as KeyCRM may send it: whole or fractional, within the documented
/// range, with at most 15 significant digits (serde_json without its
/// `float_roundtrip` feature may read a 17-digit figure one ulp off).
fn figure() -> impl Strategy<Value = f64> {
    let max = MAX_FIGURE as i64;
    prop_oneof![
        (0u32..10_000).prop_map(f64::from),
        (-1_000_000i64..1_000_000).prop_map(|n| n as f64 / 1_000.0),
        (-max..=max).prop_map(|n| n as f64),
    ]
}

fn sku() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        "[a-zA-Z0-9_./ -]{0,12}".prop_map(Some),
        "\\PC{1,8}".prop_map(Some),
    ]
}

#[derive(Debug, Clone)]
struct Row {
    id: u64,
    sku: Option<String>,
    quantity: f64,
    reserve: f64,
    as_text: bool,
}

fn row() -> impl Strategy<Value = Row> {
    (any::<u64>(), sku(), figure(), figure(), any::<bool>()).prop_map(
        |(id, sku, quantity, reserve, as_text)| Row {
            id,
            sku,
            quantity,
            reserve,
            as_text,
        },
    )
}

fn number(v: f64, as_text: bool) -> Value {
    if as_text {
        Value::from(format!("{v}"))
    } else {
        json!(v)
    }
}

/// What a SKU reads as: blank means none.
fn read_sku(sku: &Option<String>) -> Option<String> {
    sku.clone().filter(|s| !s.trim().is_empty())
}

/// Feeds a 200 answer with this body to a fresh engine and drives it to its end
/// against an empty site: whatever the body, the engine ends with a report.
fn engine_survives(body: &str) {
    let options = SyncOptions::from_json(r#"{"maxRetries": 0, "zeroMissing": true}"#).unwrap();
    let mut engine = SyncEngine::new(options, 0, 1);
    let mut now = 0;
    let mut answered = false;
    for _ in 0..1_000 {
        match engine.poll(now) {
            Action::Fetch(request) if !answered => {
                answered = true;
                let response = HttpResponse {
                    status: 200,
                    retry_after: None,
                    body: body.to_string(),
                };
                engine.handle_response(request.id, now, response);
            }
            Action::Fetch(_) => engine.handle_stop(),
            Action::Sleep(ms) => now += ms,
            Action::AwaitResponse => engine.handle_stop(),
            Action::ReadSite(_) => engine.handle_site_stock(vec![]),
            Action::WriteSite(_) => engine.handle_written(),
            Action::ReadAllSite => engine.handle_site_all(vec![]),
            Action::Done(_) => return,
        }
    }
    panic!("the engine did not end");
}

proptest! {
    #![proptest_config(proptest_config(96))]

    /// Any page built from valid rows parses back to the same ids, SKUs and figures.
    #[test]
    fn valid_pages_round_trip(
        rows in prop::collection::vec(row(), 0..8),
        total in prop::option::of(any::<u64>()),
        last_page in prop::option::of(0u64..1_000),
        next in prop::option::of(prop::option::of("[a-z:/?=0-9.]{0,30}")),
    ) {
        let data: Vec<Value> = rows
            .iter()
            .map(|r| json!({
                "id": r.id,
                "sku": r.sku,
                "price": 1.5,
                "quantity": number(r.quantity, r.as_text),
                "reserve": number(r.reserve, r.as_text),
            }))
            .collect();
        let mut page = json!({"current_page": 1, "per_page": 50, "data": data});
        if let Some(total) = total {
            page["total"] = json!(total);
        }
        if let Some(last) = last_page {
            page["last_page"] = json!(last);
        }
        if let Some(next) = &next {
            page["next_page_url"] = json!(next);
        }
        let parsed = StockPage::from_json(&page.to_string()).expect("a valid page");
        prop_assert_eq!(parsed.total, total);
        prop_assert_eq!(parsed.last_page, last_page);
        prop_assert_eq!(parsed.says_last_by_url(), matches!(next, Some(None)));
        prop_assert_eq!(parsed.data.len(), rows.len());
        for (got, want) in parsed.data.iter().zip(&rows) {
            prop_assert_eq!(got.id, want.id);
            prop_assert_eq!(&got.sku, &read_sku(&want.sku));
            prop_assert_eq!(got.quantity, want.quantity);
            prop_assert_eq!(got.reserve, want.reserve);
        }
    }

    /// Rows whose figure is beyond ±10¹⁵, null or missing refuse the whole page.
    #[test]
    fn pages_with_a_bad_figure_are_refused(
        rows in prop::collection::vec(row(), 1..5),
        which in any::<prop::sample::Index>(),
        bad in prop_oneof![
            Just(json!(null)),
            Just(json!("NaN")),
            Just(json!("inf")),
            Just(json!("1e999")),
            Just(json!("lots")),
            (1.0001f64..1e300).prop_map(|x| json!(x * MAX_FIGURE)),
            (1.0001f64..1e300).prop_map(|x| json!(-x * MAX_FIGURE)),
        ],
        field in prop_oneof![Just("quantity"), Just("reserve")],
        drop in any::<bool>(),
    ) {
        let bad_at = which.index(rows.len());
        let data: Vec<Value> = rows
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let mut row = json!({"id": r.id, "sku": r.sku, "quantity": r.quantity, "reserve": r.reserve});
                if i == bad_at {
                    if drop {
                        row.as_object_mut().unwrap().remove(field);
                    } else {
                        row[field] = bad.clone();
                    }
                }
                row
            })
            .collect();
        let body = json!({"data": data}).to_string();
        let err = StockPage::from_json(&body).expect_err("a bad figure refuses the page");
        prop_assert_eq!(err.code, ErrorCode::BadPage);
    }

    /// Byte-level damage to real pages: never a panic; a refusal is `BAD_PAGE`; an
    /// accepted page has only finite figures within range, and the engine takes it
    /// to a report.
    #[test]
    fn damaged_fixture_pages_never_panic(
        which in 0..STOCK_PAGES.len(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..6),
    ) {
        let mut bytes = fixture(STOCK_PAGES[which]).into_bytes();
        for (at, byte, kind) in edits {
            if bytes.is_empty() {
                break;
            }
            let i = at.index(bytes.len());
            match kind {
                0 => bytes[i] = byte,
                1 => {
                    bytes.remove(i);
                }
                _ => bytes.truncate(i),
            }
        }
        let body = String::from_utf8_lossy(&bytes).into_owned();
        let first = StockPage::from_json(&body);
        let again = StockPage::from_json(&body);
        prop_assert_eq!(first.is_ok(), again.is_ok());
        match first {
            Ok(page) => {
                for row in &page.data {
                    prop_assert!(row.quantity.is_finite() && row.quantity.abs() <= MAX_FIGURE);
                    prop_assert!(row.reserve.is_finite() && row.reserve.abs() <= MAX_FIGURE);
                }
            }
            Err(err) => prop_assert_eq!(err.code, ErrorCode::BadPage),
        }
        engine_survives(&body);
    }

    /// Valid webhook deliveries round-trip; more rows than allowed are refused.
    #[test]
    fn valid_webhook_bodies_round_trip(
        rows in prop::collection::vec(row(), 0..8),
        max_rows in 0usize..10,
    ) {
        let body: Vec<Value> = rows
            .iter()
            .map(|r| json!({
                "offer_id": r.id,
                "sku": r.sku,
                "in_stock": number(r.quantity, r.as_text),
                "in_reserve": number(r.reserve, r.as_text),
            }))
            .collect();
        let body = Value::from(body).to_string();
        match parse_stock_webhook(&body, max_rows) {
            Ok(parsed) => {
                prop_assert!(rows.len() <= max_rows);
                prop_assert_eq!(parsed.len(), rows.len());
                for (got, want) in parsed.iter().zip(&rows) {
                    prop_assert_eq!(got.offer_id, want.id);
                    prop_assert_eq!(&got.sku, &read_sku(&want.sku));
                    prop_assert_eq!(got.in_stock, want.quantity);
                    prop_assert_eq!(got.in_reserve, want.reserve);
                }
            }
            Err(err) => {
                prop_assert!(rows.len() > max_rows, "{:?}", err);
                prop_assert_eq!(err.code, ErrorCode::BadWebhook);
            }
        }
    }

    /// Any text as a webhook body: never a panic, a refusal is `BAD_WEBHOOK`, and
    /// accepted rows hold finite figures within range.
    #[test]
    fn any_webhook_body_is_answered(body in prop_oneof![
        "\\PC{0,64}",
        r#"\[(\{"offer_id":[0-9-]{1,3},"in_stock":[0-9eE.+-]{1,6},"in_reserve":("[0-9.]{0,4}"|null|[0-9]{1,3})(,"sku":[0-9a-z"]{0,4})?\},?){0,3}\]"#,
    ]) {
        match parse_stock_webhook(&body, 100) {
            Ok(rows) => {
                for row in rows {
                    prop_assert!(row.in_stock.is_finite() && row.in_stock.abs() <= MAX_FIGURE);
                    prop_assert!(row.in_reserve.is_finite() && row.in_reserve.abs() <= MAX_FIGURE);
                }
            }
            Err(err) => prop_assert_eq!(err.code, ErrorCode::BadWebhook),
        }
    }
}

proptest! {
    #![proptest_config(proptest_config(256))]

    /// Any header value: never a panic.
    #[test]
    fn retry_after_never_panics(value in "\\PC{0,40}", now in any::<u64>()) {
        let _ = retry_after_ms(&value, now);
    }

    /// Delay-seconds wait that many seconds; negative ones are refused.
    #[test]
    fn retry_after_seconds(seconds in 0u32..1_000_000, tenths in 0u32..10, now in any::<u64>()) {
        prop_assert_eq!(retry_after_ms(&seconds.to_string(), now), Some(u64::from(seconds) * 1_000));
        // Fractions are rounded up to whole ms, by float arithmetic: at most 1 ms more.
        let want = u64::from(seconds) * 1_000 + u64::from(tenths) * 100;
        let got = retry_after_ms(&format!(" {seconds}.{tenths} "), now);
        prop_assert!(got == Some(want) || got == Some(want + 1), "{:?} for {}", got, want);
        prop_assert_eq!(retry_after_ms(&format!("-{}", seconds + 1), now), None);
    }

    /// An HTTP date waits until then, or not at all when it has passed.
    #[test]
    fn retry_after_dates(at_s in 0u64..8_000_000_000, now_ms in 0u64..8_000_000_000_000) {
        let header = http_date(at_s);
        let want = (at_s * 1_000).saturating_sub(now_ms);
        prop_assert_eq!(retry_after_ms(&header, now_ms), Some(want), "{}", header);
    }

    /// Options: any JSON object of known and unknown keys is accepted or refused
    /// with `INVALID_CONFIG`, never a panic; an accepted one passes `validate` again.
    #[test]
    fn options_are_accepted_or_refused(fields in prop::collection::vec((option_key(), json_value()), 0..6)) {
        let object: serde_json::Map<String, Value> = fields.into_iter().collect();
        let text = Value::Object(object).to_string();
        match SyncOptions::from_json(&text) {
            Ok(options) => {
                prop_assert!(options.rate_limit_per_minute >= 1);
                prop_assert!(options.batch_size >= 1);
                prop_assert!(options.clone().validate().is_ok());
            }
            Err(err) => prop_assert_eq!(err.code, ErrorCode::InvalidConfig),
        }
    }

    /// Options text of any shape: never a panic.
    #[test]
    fn options_text_never_panics(text in "\\PC{0,60}") {
        if let Err(err) = SyncOptions::from_json(&text) {
            prop_assert_eq!(err.code, ErrorCode::InvalidConfig);
        }
    }

    /// The documented ranges: `rateLimitPerMinute` 1–60 000.
    #[test]
    fn rate_limit_range(limit in any::<u32>()) {
        let result = SyncOptions::from_json(&format!(r#"{{"rateLimitPerMinute": {limit}}}"#));
        prop_assert_eq!(result.is_ok(), (1..=60_000).contains(&limit));
    }

    /// Cursors round-trip; unknown fields are refused; any text never panics.
    #[test]
    fn cursors(page in any::<u64>(), total in prop::option::of(any::<u64>()), last in prop::option::of(any::<u64>()), junk in "\\PC{0,40}") {
        let cursor = ScanCursor { page, total, last_offer_id: last, skus: Default::default(), census: None };
        let text = serde_json::to_string(&cursor).unwrap();
        prop_assert_eq!(serde_json::from_str::<ScanCursor>(&text).unwrap(), cursor);
        let mut extra: Value = serde_json::from_str(&text).unwrap();
        extra["pages"] = json!(1);
        prop_assert!(serde_json::from_str::<ScanCursor>(&extra.to_string()).is_err());
        let _ = serde_json::from_str::<ScanCursor>(&junk);
        // As an option, page 0 is refused; 1 up to 2³² − 1 is taken.
        let options = format!(r#"{{"resumeFrom": {text}}}"#);
        let accepted = SyncOptions::from_json(&options).is_ok();
        prop_assert_eq!(accepted, (1..=u64::from(u32::MAX)).contains(&page));
    }
}

fn option_key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(OPTION_NAMES).prop_map(str::to_string),
        "[a-zA-Z]{1,12}",
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1e20f64..1e20).prop_map(|f| json!(f)),
        "\\PC{0,12}".prop_map(Value::from),
        Just(json!("https://example.test/v1")),
    ];
    leaf.prop_recursive(2, 8, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-zA-Z]{1,8}", inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// IMF-fixdate of a Unix time in seconds.
fn http_date(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
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
        "{}, {day:02} {} {year} {:02}:{:02}:{:02} GMT",
        WEEKDAYS[days.rem_euclid(7) as usize],
        MONTHS[(month - 1) as usize],
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}
