//! Conversions between the engine's types and JS values.

use js_sys::Reflect;
use wasm_bindgen::prelude::*;

use crate::error::{ErrorCode, SyncError};
use crate::json_text::{self, ToJson};

/// Plain JS objects (no Maps), `None` as `null`: through JSON text, which
/// `JSON.parse` makes into objects at once. A result crosses once a run (or
/// once an answer, for progress), so one generic path serves them all.
pub fn to_js<T: ToJson>(value: &T) -> Result<JsValue, SyncError> {
    js_sys::JSON::parse(&json_text::to_text(value)).map_err(|e| conversion_error(message_of(&e)))
}

fn conversion_error(e: impl std::fmt::Display) -> SyncError {
    SyncError::new(
        ErrorCode::Internal,
        format!("could not convert a result: {e}"),
    )
}

/// A JS value as JSON text (`JSON.stringify`), if it has one.
pub fn json_text(value: &JsValue) -> Option<String> {
    js_sys::JSON::stringify(value)
        .ok()
        .and_then(|t| t.as_string())
}

/// The text of a thrown JS value: its `message` if it has one.
pub fn message_of(thrown: &JsValue) -> String {
    if let Some(text) = thrown.as_string() {
        return text;
    }
    Reflect::get(thrown, &"message".into())
        .ok()
        .and_then(|m| m.as_string())
        .unwrap_or_else(|| "unknown error".to_string())
}

/// A JS `Error` named `KeyCrmSyncError` with `code` (and `status`) set.
pub fn error_to_js(err: &SyncError) -> JsValue {
    let error = js_sys::Error::new(&err.message);
    error.set_name("KeyCrmSyncError");
    let _ = Reflect::set(&error, &"code".into(), &err.code.as_str().into());
    if let Some(status) = err.status {
        let _ = Reflect::set(&error, &"status".into(), &status.into());
    }
    error.into()
}

/// UTF-8 bytes as text, as the WHATWG decoder does: BOM dropped, invalid
/// sequences as U+FFFD.
pub fn decode_utf8(mut bytes: Vec<u8>) -> String {
    if bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
        bytes.drain(..3);
    }
    match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}
