//! WebAssembly bindings: the functions the JS shim calls. Compiled for wasm32 only.
//!
//! Everything crossing the boundary is camelCase plain objects. Failures become real
//! JS `Error`s named `KeyCrmSyncError` with a stable `code` (see [`crate::ErrorCode`]);
//! nothing here panics on user input.

mod driver;
mod interop;
mod rows;

use wasm_bindgen::prelude::*;

use crate::engine::SyncEngine;
use crate::error::SyncError;
use crate::options::SyncOptions;
use crate::pacing::SharedPacing;
use crate::page::StockPage;
use interop::{error_to_js, json_text, to_js, Io};

/// Runs one sync to its end and resolves with the report.
///
/// `options` are the core options (see `SyncOptions`, camelCase); `io` carries the
/// callbacks: `fetch(request)`, `read(keys)`, `write(changes)`, `readAll()`, an
/// optional `progress(progress)`, and a numeric `seed` for backoff jitter.
///
/// A run that fails midway still resolves, with `complete: false` and an `error`;
/// only invalid options or a malformed `io` reject, with a `KeyCrmSyncError`.
#[wasm_bindgen(js_name = runSync)]
pub async fn run_sync(options: JsValue, io: JsValue) -> Result<JsValue, JsValue> {
    let (engine, io) = start(options, io, None)?;
    finish(engine, io).await
}

/// Runs one check (see `SyncEngine::for_check`) to its end and resolves with the
/// report, whose `findings` say where the site and KeyCRM disagree. `io` is
/// `runSync`'s; `readAll` is called once, `write` never.
///
/// Rejects with a `KeyCrmSyncError` (`INVALID_CONFIG`) for invalid options,
/// options a check cannot honour, or a malformed `io`.
#[wasm_bindgen(js_name = runCheck)]
pub async fn run_check(options: JsValue, io: JsValue) -> Result<JsValue, JsValue> {
    let (options, io) = decode(options, io)?;
    let engine = SyncEngine::for_check(options, js_sys::Date::now() as u64, io.seed())
        .map_err(|e| error_to_js(&e))?;
    finish(engine, io).await
}

/// Pacing shared by the runs started through it: their requests to one KeyCRM
/// account are spaced as one run's would be (see `SyncEngine::share_pacing`).
#[wasm_bindgen]
#[derive(Default)]
pub struct RequestPacing {
    shared: SharedPacing,
}

#[wasm_bindgen]
impl RequestPacing {
    /// Pacing that no run has used yet: the first request may start at once.
    #[wasm_bindgen(constructor)]
    pub fn new() -> RequestPacing {
        RequestPacing::default()
    }

    /// `runSync`, with this pacing. Invalid options or a malformed `io` throw at
    /// once instead of rejecting.
    #[wasm_bindgen(js_name = runSync)]
    pub fn run_sync(&self, options: JsValue, io: JsValue) -> Result<js_sys::Promise, JsValue> {
        let (engine, io) = start(options, io, Some(&self.shared))?;
        Ok(wasm_bindgen_futures::future_to_promise(finish(engine, io)))
    }
}

/// The options and the callbacks of a run, checked.
fn decode(options: JsValue, io: JsValue) -> Result<(SyncOptions, Io), JsValue> {
    let options = decode_options(options).map_err(|e| error_to_js(&e))?;
    let io = Io::from_js(&io).map_err(|e| error_to_js(&e))?;
    Ok((options, io))
}

fn start(
    options: JsValue,
    io: JsValue,
    pacing: Option<&SharedPacing>,
) -> Result<(SyncEngine, Io), JsValue> {
    let (options, io) = decode(options, io)?;
    let mut engine = SyncEngine::new(options, js_sys::Date::now() as u64, io.seed());
    if let Some(shared) = pacing {
        engine.share_pacing(shared);
    }
    Ok((engine, io))
}

async fn finish(engine: SyncEngine, io: Io) -> Result<JsValue, JsValue> {
    let report = driver::drive(engine, &io).await;
    to_js(&report).map_err(|e| error_to_js(&e))
}

/// Writes the balances of one stock-webhook delivery (`body`, its raw text) and
/// resolves with `{ report, offerIds }`: the report, and the delivery's offers
/// (each once), for a later read that confirms their figures. No request goes to
/// KeyCRM; `io.fetch` is not called.
///
/// Rejects with a `KeyCrmSyncError`: `BAD_WEBHOOK` for a body that is not a stock
/// webhook (or has more than `maxRows` rows), `INVALID_CONFIG` for options a stock
/// webhook cannot honour (see `SyncEngine::for_stock_webhook`).
#[wasm_bindgen(js_name = applyStockWebhook)]
pub async fn apply_stock_webhook(
    options: JsValue,
    body: String,
    max_rows: u32,
    io: JsValue,
) -> Result<JsValue, JsValue> {
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Applied {
        report: crate::SyncReport,
        offer_ids: Vec<u64>,
    }
    let (options, io) = decode(options, io)?;
    let rows = crate::webhook::parse_stock_webhook(&body, max_rows as usize)
        .map_err(|e| error_to_js(&e))?;
    let engine = SyncEngine::for_stock_webhook(options, js_sys::Date::now() as u64, &rows)
        .map_err(|e| error_to_js(&e))?;
    let mut offer_ids: Vec<u64> = rows.iter().map(|row| row.offer_id).collect();
    offer_ids.sort_unstable();
    offer_ids.dedup();
    let report = driver::drive(engine, &io).await;
    to_js(&Applied { report, offer_ids }).map_err(|e| error_to_js(&e))
}

/// Refuses options a stock webhook cannot honour, before any delivery.
///
/// # Errors
/// A `KeyCrmSyncError` with code `INVALID_CONFIG`.
#[wasm_bindgen(js_name = validateStockWebhookOptions)]
pub fn validate_stock_webhook_options(options: JsValue) -> Result<(), JsValue> {
    decode_options(options)
        .and_then(|options| SyncEngine::check_stock_webhook_options(&options))
        .map_err(|e| error_to_js(&e))
}

/// Whether a webhook's token equals the configured one, compared in constant time.
#[wasm_bindgen(js_name = tokenMatches)]
pub fn token_matches(given: &str, expected: &str) -> bool {
    crate::webhook::token_matches(given, expected)
}

/// Parses a trigger webhook: resolves `{ event, orderId }` for an order event, or
/// `{ event }` alone for a known event that cannot move stock.
///
/// # Errors
/// A `KeyCrmSyncError` with code `BAD_WEBHOOK` for another shape or an unknown event.
#[wasm_bindgen(js_name = parseTriggerWebhook)]
pub fn parse_trigger_webhook(body: &str) -> Result<JsValue, JsValue> {
    let trigger = crate::webhook::parse_trigger_webhook(body).map_err(|e| error_to_js(&e))?;
    to_js(&trigger).map_err(|e| error_to_js(&e))
}

/// Validates options without running, so a caller can fail fast before any I/O.
///
/// # Errors
/// A `KeyCrmSyncError` with code `INVALID_CONFIG`.
#[wasm_bindgen(js_name = validateOptions)]
pub fn validate_options(options: JsValue) -> Result<(), JsValue> {
    decode_options(options)
        .map(|_| ())
        .map_err(|e| error_to_js(&e))
}

/// Parses a stock page from its body bytes as a sync does (decoded as
/// `Response.text()` decodes, read by the fast reader, or by serde_json where it
/// steps aside), or by serde_json alone (`serdeOnly`); returns its row count.
/// Exposed for the parsing benchmark.
#[wasm_bindgen(js_name = parsePage)]
pub fn parse_page(bytes: &[u8], serde_only: bool) -> Result<u32, JsValue> {
    let text = driver::decode_utf8(bytes.to_vec());
    let page = if serde_only {
        serde_json::from_str::<StockPage>(&text).map_err(|e| JsValue::from_str(&e.to_string()))
    } else {
        StockPage::from_json(&text).map_err(|e| error_to_js(&e))
    };
    page.map(|page| page.data.len() as u32)
}

/// The crate version.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

/// Decodes the options bag through JSON text: serde-wasm-bindgen reads a struct by
/// looking up its known fields, so it would never see an unknown (mistyped) one,
/// and `deny_unknown_fields` would silently do nothing.
fn decode_options(value: JsValue) -> Result<SyncOptions, SyncError> {
    if value.is_undefined() || value.is_null() {
        return SyncOptions::from_json("{}");
    }
    let text =
        json_text(&value).ok_or_else(|| SyncError::config("options must be a plain object"))?;
    SyncOptions::from_json(&text)
}
