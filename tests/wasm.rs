//! The wasm boundary, run in Node with `wasm-pack test --node -- --test wasm`:
//! option decoding, error shape, report conversion, and a whole run through JS
//! callbacks with real timers.
#![cfg(target_arch = "wasm32")]

use js_sys::{Array, Function, Object, Reflect};
use keycrm_stock_sync::wasm::{parse_page, run_sync, validate_options};
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
    for serde_only in [false, true] {
        assert_eq!(parse_page(body.as_bytes(), serde_only).unwrap(), 1);
    }
    assert_coded_error(&parse_page(b"{", false).unwrap_err(), "BAD_PAGE");
    assert_coded_error(
        &parse_page(br#"{"data": 5}"#, false).unwrap_err(),
        "BAD_PAGE",
    );
    assert!(parse_page(b"{", true).is_err());
}

/// An `io` whose KeyCRM serves two pages (the second after a 429 with
/// `Retry-After: 0.05`) and whose site has rows `a` and `b`.
fn io(log: &Array) -> JsValue {
    let make = Function::new_with_args(
        "log",
        r#"
        const site = new Map([["a", 0], ["b", 9]]);
        let calls = 0;
        const page = (n, rows) => JSON.stringify({
          current_page: n, last_page: 2, per_page: 1, total: 2,
          next_page_url: n < 2 ? "x?page=2" : null, data: rows });
        return {
          seed: 0.5,
          fetch: async (req) => {
            log.push("fetch " + req.url + " " + req.timeoutMs);
            calls += 1;
            if (calls === 2) return { status: 429, retryAfter: "0.05", body: "{}" };
            if (req.url.endsWith("page=1")) return { status: 200, retryAfter: null,
              body: page(1, [{ id: 1, sku: "a", quantity: 5.7, reserve: 1 }]) };
            return { status: 200, retryAfter: null,
              body: page(2, [{ id: 2, sku: "b", quantity: 1, reserve: 4 }]) };
          },
          read: async (keys) => keys.filter(k => site.has(k.sku)).map(k => ({ sku: k.sku, stock: site.get(k.sku) })),
          write: async (changes) => { for (const c of changes) { log.push("write " + c.sku + "=" + c.stock); site.set(c.sku, c.stock); } },
          progress: (p) => log.push("progress " + p.pages),
        };
        "#,
    );
    make.call1(&JsValue::NULL, log).unwrap()
}

#[wasm_bindgen_test]
async fn a_whole_run_through_js_callbacks() {
    let log = Array::new();
    let options = js("{ apiUrl: 'http://127.0.0.1:1/v1', rateLimitPerMinute: 6000 }");
    let report = run_sync(options, io(&log)).await.unwrap();

    assert!(
        !report.is_instance_of::<js_sys::Map>(),
        "plain objects, not Maps"
    );
    assert_eq!(get(&report, "complete"), JsValue::TRUE);
    assert_eq!(get(&report, "updated").as_f64(), Some(2.0));
    assert_eq!(get(&report, "rateLimited").as_f64(), Some(1.0));
    // Page 1, page 2 (the scan's census) answered 429 and asked for again, page 1.
    assert_eq!(get(&report, "requests").as_f64(), Some(4.0));
    assert!(get(&report, "error").is_undefined());
    assert!(get(&get(&report, "notOnSite"), "sample").is_instance_of::<Array>());

    let lines: Vec<String> = log.iter().map(|v| v.as_string().unwrap()).collect();
    assert_eq!(
        lines[0],
        "fetch http://127.0.0.1:1/v1/offers/stocks?limit=50&page=1 30000"
    );
    assert!(lines.contains(&"write a=4".to_string()), "{lines:?}");
    assert!(lines.contains(&"write b=0".to_string()), "{lines:?}");
    assert!(lines.iter().any(|l| l.starts_with("progress")));
}

#[wasm_bindgen_test]
async fn callback_failures_become_report_errors() {
    let io = js(r#"{
        fetch: async () => ({ status: 200, retryAfter: null,
            body: JSON.stringify({ next_page_url: null, data: [{ id: 1, sku: "a", quantity: 1, reserve: 0 }] }) }),
        read: async () => [{ sku: "a", stock: 0 }],
        write: async () => { throw new Error("database is locked"); },
    }"#);
    let report = run_sync(js("{ apiUrl: 'http://127.0.0.1:1/v1' }"), io)
        .await
        .unwrap();
    assert_eq!(get(&report, "complete"), JsValue::FALSE);
    let error = get(&report, "error");
    assert_eq!(get(&error, "code").as_string().unwrap(), "SINK_FAILED");
    assert!(get(&error, "message")
        .as_string()
        .unwrap()
        .contains("database is locked"));
}

#[wasm_bindgen_test]
async fn a_throwing_fetch_is_a_network_failure_that_is_retried() {
    let io = js(r#"{
        calls: 0,
        fetch(req) { this.calls += 1; if (this.calls < 3) throw new TypeError("fetch failed");
          return { status: 200, retryAfter: null, body: JSON.stringify({ next_page_url: null, data: [] }) }; },
        read: async () => [],
        write: async () => {},
    }"#);
    let options = js("{ apiUrl: 'http://127.0.0.1:1/v1', backoffBaseMs: 1, backoffMaxMs: 2, rateLimitPerMinute: 60000 }");
    let report = run_sync(options, io).await.unwrap();
    assert_eq!(get(&report, "complete"), JsValue::TRUE);
    assert_eq!(get(&report, "retries").as_f64(), Some(2.0));
}

#[wasm_bindgen_test]
async fn malformed_io_rejects_with_a_coded_error() {
    let err = run_sync(JsValue::UNDEFINED, Object::new().into())
        .await
        .unwrap_err();
    assert_coded_error(&err, "INVALID_CONFIG");
    let read_rows_of_wrong_shape = js(r#"{
        fetch: async () => ({ status: 200, body: JSON.stringify({ next_page_url: null, data: [{ id: 1, sku: "a", quantity: 1, reserve: 0 }] }) }),
        read: async () => [{ stock: "lots" }],
        write: async () => {},
    }"#);
    let report = run_sync(JsValue::UNDEFINED, read_rows_of_wrong_shape)
        .await
        .unwrap();
    assert_eq!(
        get(&get(&report, "error"), "code").as_string().unwrap(),
        "SINK_FAILED"
    );
}

#[wasm_bindgen_test]
async fn timers_really_sleep() {
    // The engine sleeps between requests through gloo-timers; 6 000/min is 10 ms
    // (+1 %) between starts, so three pages (and page 1 again, after the scan's
    // census) take at least 20 ms of real time.
    let io = js(r#"{
        fetch(req) { const n = Number(/page=(\d+)/.exec(req.url)[1]); return { status: 200, body: JSON.stringify({
            last_page: 3, per_page: 1, total: 3, next_page_url: n < 3 ? "x" : null, data: [{ id: n, sku: "s" + n, quantity: 1, reserve: 0 }] }) }; },
        read: async () => [],
        write: async () => {},
    }"#);
    let started = js_sys::Date::now();
    let report = run_sync(js("{ rateLimitPerMinute: 6000 }"), io)
        .await
        .unwrap();
    assert_eq!(get(&report, "pages").as_f64(), Some(4.0));
    assert!(js_sys::Date::now() - started >= 20.0);
}
