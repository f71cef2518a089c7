//! What the core hands to JS as JSON text (a run's report, its progress, a
//! trigger webhook's event), written here field by field.
//!
//! Each type writes what its serde `Serialize` writes: the same names, in the
//! same order, with the same fields left out. The engine tests' drivers hold
//! the two to each other on every report and progress they see
//! (`tests/common/json_text.rs`), and this module's tests on strings, numbers
//! and trigger events. In the wasm core this writer replaces serde_json's
//! serializer, for text that crosses once a run.
//!
//! Numbers are written as JS reads them: a figure as Rust's shortest decimal
//! (`3`, not `3.0`: the same number to `JSON.parse`), and one that is not finite
//! (never met: figures are checked where they are read) as `null`, as
//! serde_json writes it.

use std::fmt::Write as _;

use crate::check::{
    CheckFindings, DuplicateSku, InvalidSku, MissingInKeycrm, NearMiss, NotOnSiteOffer,
    StockDiffers,
};
use crate::error::{ErrorCode, SyncError};
use crate::ledger::SkuHashes;
use crate::pagination::{Census, ScanCursor};
use crate::report::{NotOnSite, Progress, RetryNotice, SyncReport};
use crate::warehouses::WarehouseSeen;
use crate::webhook::TriggerEvent;

/// A value that writes itself as JSON text.
pub trait ToJson {
    /// Appends the value's JSON text to `out`.
    fn write_json(&self, out: &mut String);
}

/// The JSON text of `value`.
pub fn to_text<T: ToJson + ?Sized>(value: &T) -> String {
    let mut out = String::new();
    value.write_json(&mut out);
    out
}

/// An object being written: its fields, then [`end`](Self::end).
struct Object<'a> {
    out: &'a mut String,
    empty: bool,
}

impl<'a> Object<'a> {
    fn new(out: &'a mut String) -> Self {
        out.push('{');
        Object { out, empty: true }
    }

    fn field<T: ToJson + ?Sized>(&mut self, name: &str, value: &T) -> &mut Self {
        if !self.empty {
            self.out.push(',');
        }
        self.empty = false;
        name.write_json(self.out);
        self.out.push(':');
        value.write_json(self.out);
        self
    }

    /// The field, unless it is `None` (serde's `skip_serializing_if = "Option::is_none"`).
    fn some<T: ToJson>(&mut self, name: &str, value: &Option<T>) -> &mut Self {
        match value {
            Some(value) => self.field(name, value),
            None => self,
        }
    }

    fn end(&mut self) {
        self.out.push('}');
    }
}

impl ToJson for str {
    fn write_json(&self, out: &mut String) {
        out.push('"');
        let mut plain = 0;
        for (at, byte) in self.bytes().enumerate() {
            let escape = match byte {
                b'"' => "\\\"",
                b'\\' => "\\\\",
                b'\n' => "\\n",
                b'\r' => "\\r",
                b'\t' => "\\t",
                0x08 => "\\b",
                0x0C => "\\f",
                0..=0x1F => "",
                _ => continue,
            };
            out.push_str(&self[plain..at]);
            plain = at + 1;
            if escape.is_empty() {
                let _ = write!(out, "\\u{byte:04x}");
            } else {
                out.push_str(escape);
            }
        }
        out.push_str(&self[plain..]);
        out.push('"');
    }
}

impl ToJson for String {
    fn write_json(&self, out: &mut String) {
        self.as_str().write_json(out);
    }
}

impl ToJson for bool {
    fn write_json(&self, out: &mut String) {
        out.push_str(if *self { "true" } else { "false" });
    }
}

macro_rules! whole_numbers {
    ($($t:ty),*) => {$(
        impl ToJson for $t {
            fn write_json(&self, out: &mut String) {
                let _ = write!(out, "{self}");
            }
        }
    )*};
}

whole_numbers!(u16, u32, u64);

impl ToJson for f64 {
    fn write_json(&self, out: &mut String) {
        if self.is_finite() {
            let _ = write!(out, "{self}");
        } else {
            out.push_str("null");
        }
    }
}

impl<T: ToJson> ToJson for Option<T> {
    fn write_json(&self, out: &mut String) {
        match self {
            Some(value) => value.write_json(out),
            None => out.push_str("null"),
        }
    }
}

impl<T: ToJson> ToJson for [T] {
    fn write_json(&self, out: &mut String) {
        out.push('[');
        for (i, item) in self.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            item.write_json(out);
        }
        out.push(']');
    }
}

impl<T: ToJson> ToJson for Vec<T> {
    fn write_json(&self, out: &mut String) {
        self.as_slice().write_json(out);
    }
}

impl ToJson for SyncReport {
    fn write_json(&self, out: &mut String) {
        Object::new(out)
            .field("complete", &self.complete)
            .field("dryRun", &self.dry_run)
            .field("offers", &self.offers)
            .field("pages", &self.pages)
            .field("updated", &self.updated)
            .field("unchanged", &self.unchanged)
            .field("keptNewer", &self.kept_newer)
            .field("zeroed", &self.zeroed)
            .field("notOnSite", &self.not_on_site)
            .field("withoutSku", &self.without_sku)
            .field("duplicateSkus", &self.duplicate_skus)
            .field("invalidSkus", &self.invalid_skus)
            .field("warehouses", &self.warehouses)
            .field("requests", &self.requests)
            .field("retries", &self.retries)
            .field("rateLimited", &self.rate_limited)
            .field("subrequests", &self.subrequests)
            .field("durationMs", &self.duration_ms)
            .some("error", &self.error)
            .some("findings", &self.findings)
            .some("nextOrdersUpdatedSince", &self.next_orders_updated_since)
            .some("cursor", &self.cursor)
            .end();
    }
}

impl ToJson for NotOnSite {
    fn write_json(&self, out: &mut String) {
        Object::new(out)
            .field("count", &self.count)
            .field("sample", &self.sample)
            .end();
    }
}

impl ToJson for WarehouseSeen {
    fn write_json(&self, out: &mut String) {
        Object::new(out)
            .field("id", &self.id)
            .field("name", &self.name)
            .end();
    }
}

impl ToJson for ErrorCode {
    fn write_json(&self, out: &mut String) {
        self.as_str().write_json(out);
    }
}

impl ToJson for SyncError {
    fn write_json(&self, out: &mut String) {
        Object::new(out)
            .field("code", &self.code)
            .field("message", &self.message)
            .some("status", &self.status)
            .end();
    }
}

impl ToJson for ScanCursor {
    fn write_json(&self, out: &mut String) {
        let mut object = Object::new(out);
        object
            .field("page", &self.page)
            .field("total", &self.total)
            .field("lastOfferId", &self.last_offer_id);
        if !self.skus.is_empty() {
            object.field("skus", &self.skus);
        }
        object.some("census", &self.census).end();
    }
}

impl ToJson for SkuHashes {
    fn write_json(&self, out: &mut String) {
        self.encode().write_json(out);
    }
}

impl ToJson for Census {
    fn write_json(&self, out: &mut String) {
        Object::new(out)
            .field("ceiling", &self.ceiling)
            .field("total", &self.total)
            .field("counted", &self.counted)
            .field("countedTo", &self.counted_to)
            .end();
    }
}

impl ToJson for CheckFindings {
    fn write_json(&self, out: &mut String) {
        let mut object = Object::new(out);
        object
            .field("stockDiffers", &self.stock_differs)
            .field("missingInKeycrm", &self.missing_in_keycrm)
            .field("notOnSite", &self.not_on_site)
            .field("withoutSku", &self.without_sku)
            .field("duplicateSkus", &self.duplicate_skus)
            .field("nearMisses", &self.near_misses)
            .field("invalidSkus", &self.invalid_skus);
        if !self.warnings.is_empty() {
            object.field("warnings", &self.warnings);
        }
        object.end();
    }
}

impl ToJson for StockDiffers {
    fn write_json(&self, out: &mut String) {
        Object::new(out)
            .field("sku", &self.sku)
            .some("warehouseId", &self.warehouse_id)
            .field("site", &self.site)
            .field("keycrm", &self.keycrm)
            .end();
    }
}

impl ToJson for MissingInKeycrm {
    fn write_json(&self, out: &mut String) {
        Object::new(out)
            .field("sku", &self.sku)
            .some("warehouseId", &self.warehouse_id)
            .field("site", &self.site)
            .end();
    }
}

impl ToJson for NotOnSiteOffer {
    fn write_json(&self, out: &mut String) {
        Object::new(out)
            .field("offerId", &self.offer_id)
            .field("sku", &self.sku)
            .some("warehouseId", &self.warehouse_id)
            .field("keycrm", &self.keycrm)
            .some("name", &self.name)
            .end();
    }
}

impl ToJson for DuplicateSku {
    fn write_json(&self, out: &mut String) {
        Object::new(out)
            .field("sku", &self.sku)
            .field("offerIds", &self.offer_ids)
            .end();
    }
}

impl ToJson for NearMiss {
    fn write_json(&self, out: &mut String) {
        Object::new(out)
            .field("sku", &self.sku)
            .field("siteSku", &self.site_sku)
            .field("offerIds", &self.offer_ids)
            .end();
    }
}

impl ToJson for InvalidSku {
    fn write_json(&self, out: &mut String) {
        Object::new(out)
            .field("offerId", &self.offer_id)
            .field("sku", &self.sku)
            .end();
    }
}

impl ToJson for Progress {
    fn write_json(&self, out: &mut String) {
        Object::new(out)
            .field("pages", &self.pages)
            .field("pagesLeft", &self.pages_left)
            .field("offers", &self.offers)
            .field("updated", &self.updated)
            .field("requests", &self.requests)
            .field("etaMs", &self.eta_ms)
            .some("retry", &self.retry)
            .end();
    }
}

impl ToJson for RetryNotice {
    fn write_json(&self, out: &mut String) {
        Object::new(out)
            .field("failure", &self.failure)
            .field("request", &self.request)
            .field("retry", &self.retry)
            .field("maxRetries", &self.max_retries)
            .field("waitMs", &self.wait_ms)
            .field("reason", &self.reason)
            .end();
    }
}

impl ToJson for TriggerEvent {
    fn write_json(&self, out: &mut String) {
        match self {
            TriggerEvent::Order { event, order_id } => Object::new(out)
                .field("event", event)
                .field("orderId", order_id)
                .end(),
            TriggerEvent::Ignored { event } => Object::new(out).field("event", event).end(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        let every_control: String = (0u8..0x20).map(char::from).collect();
        for text in [
            "",
            "plain",
            "quote \" backslash \\ slash /",
            "Київ ✓ 😀",
            "\u{7f}\u{2028}\u{2029}",
            &every_control,
        ] {
            assert_eq!(
                to_text(text),
                serde_json::to_string(text).unwrap(),
                "{text:?}"
            );
        }
    }

    #[test]
    fn numbers_read_back_as_the_same_numbers() {
        for figure in [
            0.0,
            -0.0,
            3.0,
            2.5,
            0.1,
            1e-7,
            1e21,
            123_456_789.125,
            f64::MAX,
        ] {
            let text = to_text(&figure);
            assert_eq!(
                text.parse::<f64>().unwrap().to_bits(),
                figure.to_bits(),
                "{text}"
            );
        }
        for odd in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert_eq!(to_text(&odd), serde_json::to_string(&odd).unwrap());
        }
        assert_eq!(to_text(&u64::MAX), u64::MAX.to_string());
    }

    #[test]
    fn trigger_events_are_written_as_serde_writes_them() {
        for event in [
            TriggerEvent::Order {
                event: "order.change_order_status".into(),
                order_id: 7,
            },
            TriggerEvent::Ignored {
                event: "lead.change_lead_status".into(),
            },
        ] {
            assert_eq!(to_text(&event), serde_json::to_string(&event).unwrap());
        }
    }
}
