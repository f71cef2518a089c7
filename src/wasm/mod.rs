//! WebAssembly bindings: the functions the JS shim calls. Compiled for wasm32 only.
//!
//! Everything crossing the boundary is camelCase plain objects. Failures become real
//! JS `Error`s named `KeyCrmSyncError` with a stable `code` (see [`crate::ErrorCode`]);
//! nothing here panics on user input.

mod interop;
mod rows;
mod run;

pub use run::{Run, Step};

use wasm_bindgen::prelude::*;

use crate::engine::SyncEngine;
use crate::error::SyncError;
use crate::options::SyncOptions;
use crate::pacing::SharedPacing;
use crate::page::{read_page, StockPage};
use interop::{decode_utf8, error_to_js, json_text, to_js};

/// A sync run, for `js/drive.js` to drive (see [`Run`]).
///
/// # Errors
/// A `KeyCrmSyncError` (`INVALID_CONFIG`) for invalid options.
#[wasm_bindgen(js_name = startSync)]
pub fn start_sync(options: JsValue, now: f64, seed: f64) -> Result<Run, JsValue> {
    let options = decode_options(options).map_err(|e| error_to_js(&e))?;
    Ok(Run::new(SyncEngine::new(
        options,
        now as u64,
        seed_of(seed),
    )))
}

/// A check run (see `SyncEngine::for_check`), for `js/drive.js` to drive; its
/// report's `findings` say where the site and KeyCRM disagree.
///
/// # Errors
/// A `KeyCrmSyncError` (`INVALID_CONFIG`) for invalid options, or options a
/// check cannot honour.
#[wasm_bindgen(js_name = startCheck)]
pub fn start_check(options: JsValue, now: f64, seed: f64) -> Result<Run, JsValue> {
    let options = decode_options(options).map_err(|e| error_to_js(&e))?;
    SyncEngine::for_check(options, now as u64, seed_of(seed))
        .map(Run::new)
        .map_err(|e| error_to_js(&e))
}

/// A run that writes the balances of one stock-webhook delivery (`body`, its raw
/// text), for `js/drive.js` to drive; its `offerIds` are the delivery's offers,
/// each once. No request goes to KeyCRM.
///
/// # Errors
/// A `KeyCrmSyncError`: `BAD_WEBHOOK` for a body that is not a stock webhook (or
/// has more than `maxRows` rows), `INVALID_CONFIG` for options a stock webhook
/// cannot honour (see `SyncEngine::for_stock_webhook`).
#[wasm_bindgen(js_name = startStockWebhook)]
pub fn start_stock_webhook(
    options: JsValue,
    body: &str,
    max_rows: u32,
    now: f64,
) -> Result<Run, JsValue> {
    let options = decode_options(options).map_err(|e| error_to_js(&e))?;
    let rows = crate::webhook::parse_stock_webhook(body, max_rows as usize)
        .map_err(|e| error_to_js(&e))?;
    let engine =
        SyncEngine::for_stock_webhook(options, now as u64, &rows).map_err(|e| error_to_js(&e))?;
    let mut offer_ids: Vec<u64> = rows.iter().map(|row| row.offer_id).collect();
    offer_ids.sort_unstable();
    offer_ids.dedup();
    Ok(Run::new(engine).with_offer_ids(offer_ids))
}

/// The backoff jitter's seed from a number in [0, 1).
fn seed_of(seed: f64) -> u64 {
    (seed.abs() * 9_007_199_254_740_991.0) as u64
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

    /// [`start_sync`], with this pacing.
    ///
    /// # Errors
    /// A `KeyCrmSyncError` (`INVALID_CONFIG`) for invalid options.
    #[wasm_bindgen(js_name = startSync)]
    pub fn start_sync(&self, options: JsValue, now: f64, seed: f64) -> Result<Run, JsValue> {
        let mut run = start_sync(options, now, seed)?;
        run.share_pacing(&self.shared);
        Ok(run)
    }
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
/// `Response.text()` decodes, read by the fast reader, or by the complete one
/// where it steps aside), or by the complete reader alone (`completeOnly`);
/// returns its row count.
/// Exposed for the parsing benchmark.
#[wasm_bindgen(js_name = parsePage)]
pub fn parse_page(bytes: &[u8], complete_only: bool) -> Result<u32, JsValue> {
    let text = decode_utf8(bytes.to_vec());
    let page = if complete_only {
        read_page(&text).map_err(|e| JsValue::from_str(&e))
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

/// Decodes the options bag through JSON text, so that an unknown (mistyped) option
/// is seen: a reader that looked up the known fields of the JS object one by one
/// would never meet it, and `deny_unknown_fields` would silently do nothing.
fn decode_options(value: JsValue) -> Result<SyncOptions, SyncError> {
    if value.is_undefined() || value.is_null() {
        return SyncOptions::from_json("{}");
    }
    let text =
        json_text(&value).ok_or_else(|| SyncError::config("options must be a plain object"))?;
    SyncOptions::from_json(&text)
}
