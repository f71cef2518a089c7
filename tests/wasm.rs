//! The wasm boundary, run in Node with `wasm-pack test --node -- --test wasm`:
//! option decoding, error shape, report conversion, and whole runs stepped by
//! hand as `js/drive.js` steps them (on a clock of the test's own).
#![cfg(target_arch = "wasm32")]

use js_sys::{Array, Function, Reflect};
use keycrm_stock_sync::wasm::{parse_page, start_sync, validate_options, Run, Step};
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::wasm_bindgen_test;

fn get(value: &JsValue, key: &str) -> JsValue {
    Reflect::get(value, &key.into()).unwrap()
}

fn js(source: &str) -> JsValue {
    Function::new_no_args(&format!("return ({source});"))
        .call0(&JsValue::NULL)
        .unwrap()
}

fn assert_coded_error(err: &JsValue, code: &str) {
    assert!(
        err.is_instance_of::<js_sys::Error>(),
        "a real Error, not a string"
    );
    assert_eq!(get(err, "name").as_string().unwrap(), "KeyCrmSyncError");
    assert_eq!(get(err, "code").as_string().unwrap(), code);
}

#[wasm_bindgen_test]
fn unknown_option_is_an_invalid_config_error() {
    let err = validate_options(js("{ rateLimit: 30 }")).unwrap_err();
    assert_coded_error(&err, "INVALID_CONFIG");
    let message = get(&err, "message").as_string().unwrap();
    assert!(message.contains("rateLimit"), "{message}");
}

#[wasm_bindgen_test]
fn wrong_types_and_ranges_are_refused() {
    for bad in [
        "{ rateLimitPerMinute: 'fast' }",
        "{ rateLimitPerMinute: 0 }",
        "{ warehouses: [{}] }",
        "{ apiUrl: 'ftp://x' }",
        "[1, 2]",
    ] {
        let err = validate_options(js(bad)).unwrap_err();
        assert_coded_error(&err, "INVALID_CONFIG");
    }
    validate_options(JsValue::UNDEFINED).expect("no options means defaults");
    validate_options(js("{ warehouses: [1, 'Київ'], perWarehouse: true }")).unwrap();
}

#[wasm_bindgen_test]
fn pages_parse_from_bytes() {
    let body = "\u{feff}{\"data\":[{\"id\":1,\"sku\":\"a\",\"quantity\":2,\"reserve\":1}],\"next_page_url\":null}";
    for complete_only in [false, true] {
        assert_eq!(parse_page(body.as_bytes(), complete_only).unwrap(), 1);
    }
    assert_coded_error(&parse_page(b"{", false).unwrap_err(), "BAD_PAGE");
    assert_coded_error(
        &parse_page(br#"{"data": 5}"#, false).unwrap_err(),
        "BAD_PAGE",
    );
    assert!(parse_page(b"{", true).is_err());
}

/// A page of KeyCRM's stock list: offer `n` (SKU `s{n}`) of `last` pages.
fn page(n: u32, last: u32, quantity: f64, reserve: f64) -> Vec<u8> {
    let next = if n < last {
        format!("\"x?page={}\"", n + 1)
    } else {
        "null".to_string()
    };
    format!(
        r#"{{"current_page":{n},"last_page":{last},"per_page":1,"total":{last},"next_page_url":{next},
            "data":[{{"id":{n},"sku":"s{n}","quantity":{quantity},"reserve":{reserve}}}]}}"#
    )
    .into_bytes()
}

/// What a run asked of its driver, step by step, answered as `answer` says; a
/// sleep moves the clock on rather than waiting. Returns the report and the log.
fn drive(
    mut run: Run,
    mut answer: impl FnMut(&mut Run, &mut f64, Step, &mut Vec<String>),
) -> (JsValue, Vec<String>) {
    let mut now = 1_000_000.0;
    let mut log = Vec::new();
    for _ in 0..1_000 {
        match run.poll(now) {
            Step::Done => return (run.report().unwrap(), log),
            Step::Sleep => now += run.sleep_ms(),
            step => answer(&mut run, &mut now, step, &mut log),
        }
    }
    panic!("the run did not end: {log:?}");
}

/// Answers fetches from `page(n, 2, …)` in the order they were asked for, reads
/// rows `s1` = 0 and `s2` = 9 from the site, and logs writes.
fn two_pages(run: &mut Run, now: &mut f64, step: Step, log: &mut Vec<String>) {
    match step {
        Step::Fetch => {
            let url = run.request_url();
            log.push(format!("fetch {url} {}", run.request_timeout_ms()));
            let n = if url.ends_with("page=2") { 2 } else { 1 };
            let body = if n == 1 {
                page(1, 2, 5.7, 1.0)
            } else {
                page(2, 2, 1.0, 4.0)
            };
            run.answered(run.request_id(), *now, 200, None, body);
        }
        Step::Await => {}
        Step::Read => {
            let keys = run.keys();
            assert!(keys.is_instance_of::<Array>(), "keys are an array");
            let rows = Array::new();
            for key in Array::from(&keys).iter() {
                let sku = get(&key, "sku").as_string().unwrap();
                assert!(
                    get(&key, "warehouseId").is_undefined(),
                    "no warehouse for totals"
                );
                let stock = if sku == "s1" { 0 } else { 9 };
                rows.push(&js(&format!("{{ sku: {sku:?}, stock: {stock} }}")));
            }
            run.site_rows(&rows);
        }
        Step::Write => {
            for change in Array::from(&run.changes()).iter() {
                log.push(format!(
                    "write {}={}",
                    get(&change, "sku").as_string().unwrap(),
                    get(&change, "stock").as_f64().unwrap()
                ));
            }
            run.written();
        }
        other => panic!("unexpected step {other:?}"),
    }
}

#[wasm_bindgen_test]
fn a_whole_run_through_the_steps() {
    let options = js("{ apiUrl: 'http://127.0.0.1:1/v1', rateLimitPerMinute: 6000 }");
    let (report, log) = drive(start_sync(options, 1_000_000.0, 0.5).unwrap(), two_pages);

    assert!(
        !report.is_instance_of::<js_sys::Map>(),
        "plain objects, not Maps"
    );
    assert_eq!(get(&report, "complete"), JsValue::TRUE);
    assert_eq!(get(&report, "updated").as_f64(), Some(2.0));
    // Page 1, page 2, and page 1 again (the scan's census).
    assert_eq!(get(&report, "requests").as_f64(), Some(3.0));
    assert!(get(&report, "error").is_null() || get(&report, "error").is_undefined());
    assert!(get(&get(&report, "notOnSite"), "sample").is_instance_of::<Array>());
    assert_eq!(
        log[0],
        "fetch http://127.0.0.1:1/v1/offers/stocks?limit=50&page=1 30000"
    );
    assert!(log.contains(&"write s1=4".to_string()), "{log:?}");
    assert!(log.contains(&"write s2=0".to_string()), "{log:?}");
}

#[wasm_bindgen_test]
fn answers_given_as_text_or_with_a_byte_order_mark_read_the_same() {
    let options = js("{ apiUrl: 'http://127.0.0.1:1/v1', rateLimitPerMinute: 6000 }");
    let (report, log) = drive(
        start_sync(options, 1_000_000.0, 0.5).unwrap(),
        |run, now, step, log| {
            if step == Step::Fetch {
                let url = run.request_url();
                let n = if url.ends_with("page=2") { 2 } else { 1 };
                let body = if n == 1 {
                    page(1, 2, 5.7, 1.0)
                } else {
                    page(2, 2, 1.0, 4.0)
                };
                if n == 1 {
                    let text = String::from_utf8(body).unwrap();
                    run.answered_text(run.request_id(), *now, 200, None, text);
                } else {
                    let with_bom = [&[0xEF, 0xBB, 0xBF][..], &body].concat();
                    run.answered(run.request_id(), *now, 200, None, with_bom);
                }
            } else {
                two_pages(run, now, step, log);
            }
        },
    );
    assert_eq!(get(&report, "complete"), JsValue::TRUE, "{log:?}");
    assert_eq!(get(&report, "updated").as_f64(), Some(2.0));
}

#[wasm_bindgen_test]
fn a_failed_request_is_retried_and_a_failed_write_ends_the_run_with_its_message() {
    let options = js("{ apiUrl: 'http://127.0.0.1:1/v1', backoffBaseMs: 1, backoffMaxMs: 2, rateLimitPerMinute: 60000 }");
    let mut failures = 0;
    let (report, _) = drive(
        start_sync(options, 1_000_000.0, 0.5).unwrap(),
        |run, now, step, log| match step {
            Step::Fetch if failures < 2 => {
                failures += 1;
                run.failed(run.request_id(), *now, false, Some("fetch failed".into()));
            }
            Step::Write => run.site_failed("database is locked"),
            _ => two_pages(run, now, step, log),
        },
    );
    assert_eq!(get(&report, "retries").as_f64(), Some(2.0));
    assert_eq!(get(&report, "complete"), JsValue::FALSE);
    let error = get(&report, "error");
    assert_eq!(get(&error, "code").as_string().unwrap(), "SINK_FAILED");
    assert!(get(&error, "message")
        .as_string()
        .unwrap()
        .contains("database is locked"));
}

#[wasm_bindgen_test]
fn site_rows_of_the_wrong_shape_end_the_run() {
    let options = js("{ apiUrl: 'http://127.0.0.1:1/v1', rateLimitPerMinute: 60000 }");
    let (report, _) = drive(
        start_sync(options, 1_000_000.0, 0.5).unwrap(),
        |run, now, step, log| match step {
            Step::Read => run.site_rows(&js("[{ stock: 'lots' }]")),
            _ => two_pages(run, now, step, log),
        },
    );
    let error = get(&report, "error");
    assert_eq!(get(&error, "code").as_string().unwrap(), "SINK_FAILED");
    assert!(get(&error, "message")
        .as_string()
        .unwrap()
        .contains("wrong shape"));
}

#[wasm_bindgen_test]
fn invalid_options_throw_a_coded_error() {
    let err = start_sync(js("{ rateLimit: 30 }"), 0.0, 0.0).err().unwrap();
    assert_coded_error(&err, "INVALID_CONFIG");
}
