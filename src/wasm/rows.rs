//! The rows a run hands to the sink (keys to read, changes to write) and the site
//! rows it takes back, packed for the crossing: one text of every SKU back to back
//! and a few numbers per row. The objects the sink sees are built and taken apart
//! in JS (`rows.js`), where V8 makes them cheaply; JSON text both ways cost
//! several times more (`npm run bench:core`).
//!
//! JS keeps the SKUs of the last read (a [`LastRead`]): a change for one of its
//! keys names the key instead of carrying its SKU across again.

use js_sys::{Array, Float64Array, Uint8Array};
use wasm_bindgen::prelude::*;

use crate::availability::StockKey;
use crate::diff::{SiteStock, StockChange};

#[wasm_bindgen(module = "/src/wasm/rows.js")]
extern "C" {
    #[wasm_bindgen(js_name = keysOf)]
    fn keys_of(skus: &str, numbers: &[f64]) -> Array;

    #[wasm_bindgen(js_name = changesOf)]
    fn changes_of(skus: &str, numbers: &[f64], read: &JsValue) -> JsValue;

    #[wasm_bindgen(js_name = packRows, catch)]
    fn pack_rows(rows: &JsValue) -> Result<Array, JsValue>;
}

/// "None" for a warehouse id or an observation time.
const NONE: f64 = -1.0;

/// The keys of a read, and their SKUs as JS holds them.
#[derive(Debug)]
pub struct LastRead {
    pub keys: Vec<StockKey>,
    /// `keysOf`'s array of the keys' SKUs.
    pub skus: JsValue,
}

/// The keys of a read, as the sink's objects, and an array of their SKUs (for
/// [`LastRead`]).
pub fn keys_to_js(keys: &[StockKey]) -> (JsValue, JsValue) {
    let mut skus = String::with_capacity(keys.iter().map(|k| k.sku.len()).sum());
    let mut numbers = Vec::with_capacity(keys.len() * 2);
    for key in keys {
        skus.push_str(&key.sku);
        numbers.extend([utf16_len(&key.sku), id_or_none(key.warehouse_id)]);
    }
    let both = keys_of(&skus, &numbers);
    (both.get(0), both.get(1))
}

/// The changes of a write, as the sink's objects. A change for a key of `read`
/// names the key: a write's changes mostly are some of the last read's keys, in
/// their order, so each is looked for after the one found before, until one is
/// not found (the rest then carry their SKUs).
pub fn changes_to_js(changes: &[StockChange], read: Option<&LastRead>) -> JsValue {
    let keys = read.map_or(&[][..], |read| &read.keys[..]);
    let mut skus = String::new();
    let mut numbers = Vec::with_capacity(changes.len() * 4);
    let mut next = Some(0);
    for change in changes {
        let found = next.and_then(|from| {
            keys[from..]
                .iter()
                .position(|key| key.warehouse_id == change.warehouse_id && key.sku == change.sku)
                .map(|at| from + at)
        });
        next = found.map(|at| at + 1);
        let sku = match found {
            Some(at) => -1.0 - at as f64,
            None => {
                skus.push_str(&change.sku);
                utf16_len(&change.sku)
            }
        };
        numbers.extend([
            sku,
            id_or_none(change.warehouse_id),
            // Always a figure (see `StockChange::stock`).
            change.stock.unwrap_or(f64::NAN),
            id_or_none(change.observed_at),
        ]);
    }
    changes_of(
        &skus,
        &numbers,
        read.map_or(&JsValue::UNDEFINED, |read| &read.skus),
    )
}

/// The rows a sink's `read()` or `readAll()` resolved with.
///
/// # Errors
/// What is wrong with them, when they are not an array of rows.
pub fn site_rows_from_js(rows: &JsValue) -> Result<Vec<SiteStock>, String> {
    let packed = pack_rows(rows).map_err(|thrown| {
        thrown
            .as_string()
            .unwrap_or_else(|| super::interop::message_of(&thrown))
    })?;
    let skus = packed.get(0).dyn_into::<Uint8Array>().map(|a| a.to_vec());
    let numbers = packed.get(1).dyn_into::<Float64Array>().map(|a| a.to_vec());
    let (Ok(skus), Ok(numbers)) = (skus, numbers) else {
        return Err("the rows could not be taken".into());
    };
    let skus = String::from_utf8(skus).map_err(|_| "a `sku` is not UTF-8 text".to_string())?;
    unpack_site_rows(&skus, &numbers)
}

/// Site rows from their packed form (see `rows.js`).
fn unpack_site_rows(skus: &str, numbers: &[f64]) -> Result<Vec<SiteStock>, String> {
    let mut rest = skus;
    let mut rows = Vec::with_capacity(numbers.len() / 4);
    for row in numbers.chunks_exact(4) {
        let (sku, after) =
            split_utf16(rest, row[0]).ok_or_else(|| "the rows' SKUs do not add up".to_string())?;
        rest = after;
        rows.push(SiteStock {
            sku: sku.to_string(),
            warehouse_id: whole_or_none(row[1])?,
            stock: Some(row[2]).filter(|stock| stock.is_finite()),
            observed_at: whole_or_none(row[3])?,
        });
    }
    Ok(rows)
}

/// The first `units` UTF-16 code units of `text` and the rest, or `None` when
/// `text` is shorter or the count splits a character.
fn split_utf16(text: &str, units: f64) -> Option<(&str, &str)> {
    let units = units as usize;
    if text.is_char_boundary(units) && text.as_bytes()[..units].is_ascii() {
        return Some(text.split_at(units));
    }
    let mut counted = 0;
    for (at, c) in text.char_indices() {
        if counted == units {
            return Some(text.split_at(at));
        }
        counted += c.len_utf16();
    }
    (counted == units).then_some((text, ""))
}

fn whole_or_none(number: f64) -> Result<Option<u64>, String> {
    if number == NONE {
        return Ok(None);
    }
    // `rows.js` gives whole numbers ≥ 0 or -1; anything else is a fault there.
    if number >= 0.0 && number.fract() == 0.0 && number < 18_446_744_073_709_551_616.0 {
        Ok(Some(number as u64))
    } else {
        Err(format!("{number} is not a whole number >= 0"))
    }
}

fn utf16_len(text: &str) -> f64 {
    let units = if text.is_ascii() {
        text.len()
    } else {
        text.encode_utf16().count()
    };
    units as f64
}

fn id_or_none(id: Option<u64>) -> f64 {
    id.map_or(NONE, |id| id as f64)
}
