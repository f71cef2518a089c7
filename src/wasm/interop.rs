//! Conversions between the engine's types and JS values, and the `io` callbacks.

use std::future::Future;

use js_sys::{Function, Promise, Reflect};
use serde::de::DeserializeOwned;
use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::error::{ErrorCode, SyncError};

/// The callbacks a run performs its actions through.
pub struct Io {
    target: JsValue,
    fetch: Function,
    read: Function,
    write: Function,
    read_all: Option<Function>,
    progress: Option<Function>,
    should_stop: Option<Function>,
    seed: u64,
}

impl Io {
    /// Picks the callbacks out of the `io` object.
    pub fn from_js(io: &JsValue) -> Result<Io, SyncError> {
        let required = |name: &str| {
            function(io, name)
                .ok_or_else(|| SyncError::config(format!("io.{name} must be a function")))
        };
        let seed = Reflect::get(io, &"seed".into())
            .ok()
            .and_then(|v| v.as_f64())
            .unwrap_or(0.0);
        Ok(Io {
            target: io.clone(),
            fetch: required("fetch")?,
            read: required("read")?,
            write: required("write")?,
            read_all: function(io, "readAll"),
            progress: function(io, "progress"),
            should_stop: function(io, "shouldStop"),
            seed: (seed.abs() * 9_007_199_254_740_991.0) as u64,
        })
    }

    /// The jitter seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Calls `fetch(request)` at once; the future settles with its outcome.
    pub fn fetch(&self, request: &JsValue) -> impl Future<Output = Result<JsValue, JsValue>> {
        settled(call(&self.target, &self.fetch, request))
    }

    /// Calls `read(keys)` at once; the future settles with its outcome.
    pub fn read(&self, keys: &JsValue) -> impl Future<Output = Result<JsValue, JsValue>> {
        settled(call(&self.target, &self.read, keys))
    }

    /// Calls `write(changes)` at once; the future settles with its outcome.
    pub fn write(&self, changes: &JsValue) -> impl Future<Output = Result<JsValue, JsValue>> {
        settled(call(&self.target, &self.write, changes))
    }

    /// Calls `readAll()` at once; an error if the sink has none.
    pub fn read_all(&self) -> impl Future<Output = Result<JsValue, JsValue>> {
        settled(match &self.read_all {
            Some(f) => call(&self.target, f, &JsValue::UNDEFINED),
            None => Err(JsValue::from_str(
                "the sink has no readAll(), which zeroMissing needs",
            )),
        })
    }

    /// Whether the caller can ask the run to stop (gave a `shouldStop`).
    pub fn can_stop(&self) -> bool {
        self.should_stop.is_some()
    }

    /// Whether the caller asked the run to stop (`shouldStop()` returned true).
    pub fn should_stop(&self) -> bool {
        self.should_stop
            .as_ref()
            .and_then(|f| f.call0(&self.target).ok())
            .is_some_and(|v| v.is_truthy())
    }

    /// Whether the caller listens to progress (gave a `progress`).
    pub fn has_progress(&self) -> bool {
        self.progress.is_some()
    }

    /// Calls `progress(value)` if there is one; its errors are ignored, since a
    /// broken progress display must not stop a sync.
    pub fn progress(&self, value: &JsValue) {
        if let Some(f) = &self.progress {
            let _ = f.call1(&self.target, value);
        }
    }
}

fn function(io: &JsValue, name: &str) -> Option<Function> {
    Reflect::get(io, &JsValue::from_str(name))
        .ok()
        .and_then(|v| v.dyn_into::<Function>().ok())
}

/// Calls `f` now. A callback may throw synchronously, return a value, or return a
/// promise; the call starts here, not when the future is first polled, so a
/// request starts when the engine says it does.
fn call(this: &JsValue, f: &Function, arg: &JsValue) -> Result<JsFuture, JsValue> {
    let returned = f.call1(this, arg)?;
    Ok(JsFuture::from(Promise::resolve(&returned)))
}

async fn settled(started: Result<JsFuture, JsValue>) -> Result<JsValue, JsValue> {
    started?.await
}

/// Serializes to plain JS objects (no Maps), `None` as `null`.
pub fn to_js<T: Serialize>(value: &T) -> Result<JsValue, SyncError> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(conversion_error)
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

/// Deserializes a JS value.
pub fn from_js<T: DeserializeOwned>(value: JsValue) -> Result<T, String> {
    serde_wasm_bindgen::from_value(value).map_err(|e| e.to_string())
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
