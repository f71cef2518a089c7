//! The JSON text the core hands to JS, held to serde_json's: a test driver
//! calls this on every report and progress it sees.

use keycrm_stock_sync::json_text::{to_text, ToJson};
use serde::Serialize;
use serde_json::Value;

/// `value`'s JSON text from `json_text` reads as what serde_json writes: the same
/// fields and values, numbers compared as JS reads them (`3` and `3.0` alike).
pub fn json_text_agrees<T: Serialize + ToJson>(value: &T) -> Result<(), String> {
    let ours = to_text(value);
    let ours: Value = serde_json::from_str(&ours).map_err(|e| format!("{e}: {ours}"))?;
    let serde = serde_json::to_value(value).map_err(|e| e.to_string())?;
    if as_js(&ours) == as_js(&serde) {
        Ok(())
    } else {
        Err(format!("json_text wrote {ours}\nserde_json wrote {serde}"))
    }
}

/// Every number as an f64, as `JSON.parse` reads it.
fn as_js(value: &Value) -> Value {
    match value {
        Value::Number(n) => n.as_f64().map_or(Value::Null, |f| serde_json::json!(f)),
        Value::Array(items) => Value::Array(items.iter().map(as_js).collect()),
        Value::Object(fields) => {
            Value::Object(fields.iter().map(|(k, v)| (k.clone(), as_js(v))).collect())
        }
        other => other.clone(),
    }
}
