//! KeyCRM's webhooks and the order they point to, parsed and validated.
//!
//! KeyCRM signs nothing and documents little, so every body is checked before it
//! is used: a wrong shape is a [`ErrorCode::BadWebhook`] naming what is wrong, never
//! a partial application.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{ErrorCode, SyncError};

/// One row of the stock webhook: an offer's balance after a change, summed over the
/// warehouses chosen in KeyCRM's webhook settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct StockWebhookRow {
    /// The offer (variant) id.
    pub offer_id: u64,
    /// The offer's SKU; `None` when null or blank. Read as the stock list's is.
    #[serde(default, deserialize_with = "crate::page::sku")]
    pub sku: Option<String>,
    /// Units in stock (the field the stock list calls `quantity`).
    pub in_stock: f64,
    /// Units reserved (the stock list's `reserve`).
    #[serde(default)]
    pub in_reserve: f64,
}

/// Parses the stock webhook's body: a JSON array of rows, at most `max_rows` long.
///
/// # Errors
/// [`ErrorCode::BadWebhook`] when the body is not such an array, a row lacks
/// `offer_id` or `in_stock`, a figure is not a number (JSON has no infinities,
/// and serde_json refuses numbers out of range), or there are too many rows.
pub fn parse_stock_webhook(body: &str, max_rows: usize) -> Result<Vec<StockWebhookRow>, SyncError> {
    let value: Value = serde_json::from_str(body).map_err(|e| bad(format!("not JSON: {e}")))?;
    let Value::Array(items) = value else {
        return Err(bad(
            "the stock webhook sends a JSON array of rows".to_string()
        ));
    };
    if items.len() > max_rows {
        return Err(bad(format!(
            "{} rows; at most {max_rows} are taken at once",
            items.len()
        )));
    }
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| serde_json::from_value(item).map_err(|e| bad(format!("row {i}: {e}"))))
        .collect()
}

/// What an automation ("trigger") webhook asks for. Serialized as `{event, orderId}`
/// or `{event}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged, rename_all_fields = "camelCase")]
pub enum TriggerEvent {
    /// An order changed in a way that may reserve, write off or release stock:
    /// its lines must be looked up, then the stock of their offers.
    Order {
        /// The event name, e.g. `order.change_order_status`.
        event: String,
        /// The order's id.
        order_id: u64,
    },
    /// A known event that cannot change stock (a lead's status); nothing to do.
    Ignored {
        /// The event name.
        event: String,
    },
}

/// Order events that may move stock.
const ORDER_EVENTS: [&str; 2] = ["order.change_order_status", "order.change_payment_status"];
/// Events KeyCRM sends that never move stock.
const IGNORED_EVENTS: [&str; 1] = ["lead.change_lead_status"];

/// Parses a trigger webhook: `{"event": "...", "context": {"id": 123, ...}}`.
///
/// # Errors
/// [`ErrorCode::BadWebhook`] for a body of another shape or an unknown event.
pub fn parse_trigger_webhook(body: &str) -> Result<TriggerEvent, SyncError> {
    #[derive(Deserialize)]
    struct Trigger {
        event: String,
        #[serde(default)]
        context: Option<Context>,
    }
    #[derive(Deserialize)]
    struct Context {
        id: u64,
    }
    let trigger: Trigger =
        serde_json::from_str(body).map_err(|e| bad(format!("not a trigger webhook: {e}")))?;
    if IGNORED_EVENTS.contains(&trigger.event.as_str()) {
        return Ok(TriggerEvent::Ignored {
            event: trigger.event,
        });
    }
    if !ORDER_EVENTS.contains(&trigger.event.as_str()) {
        return Err(bad(format!(
            "unknown event {:?}; known: {}",
            trigger.event,
            ORDER_EVENTS
                .iter()
                .chain(&IGNORED_EVENTS)
                .copied()
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let context = trigger
        .context
        .ok_or_else(|| bad(format!("{} without a context.id", trigger.event)))?;
    Ok(TriggerEvent::Order {
        event: trigger.event,
        order_id: context.id,
    })
}

/// The offers an order's lines refer to, from `GET /order/{id}?include=products.offer`.
///
/// Lines without an offer (custom lines typed into the order) are skipped: they
/// hold no stock. Each offer id appears once, in the order of the lines.
///
/// # Errors
/// [`ErrorCode::BadPage`] when the body is not an order.
pub fn order_offer_ids(body: &str) -> Result<Vec<u64>, SyncError> {
    #[derive(Deserialize)]
    struct Order {
        #[serde(default)]
        products: Vec<Line>,
    }
    #[derive(Deserialize)]
    struct Line {
        #[serde(default)]
        offer: Option<Offer>,
    }
    #[derive(Deserialize)]
    struct Offer {
        id: u64,
    }
    let order: Order = serde_json::from_str(body)
        .map_err(|e| SyncError::new(ErrorCode::BadPage, format!("order is not valid: {e}")))?;
    let mut ids = Vec::new();
    for id in order
        .products
        .into_iter()
        .filter_map(|line| line.offer.map(|o| o.id))
    {
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// Whether a webhook's token equals the configured one, in time that does not
/// depend on where they differ (KeyCRM cannot sign, so the token is the only proof
/// a delivery is genuine; a comparison that stops early would leak it byte by byte).
///
/// An empty `expected` matches nothing.
pub fn token_matches(given: &str, expected: &str) -> bool {
    let (given, expected) = (given.as_bytes(), expected.as_bytes());
    if expected.is_empty() {
        return false;
    }
    let mut difference = given.len() ^ expected.len();
    for (i, byte) in expected.iter().enumerate() {
        let other = given.get(i).copied().unwrap_or(0);
        difference |= usize::from(byte ^ other);
    }
    difference == 0
}

fn bad(message: String) -> SyncError {
    SyncError::new(ErrorCode::BadWebhook, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stock_rows_as_documented() {
        let rows = parse_stock_webhook(
            r#"[{"offer_id":130827,"sku":"a001-56","in_stock":16,"in_reserve":3},
                {"offer_id":5,"sku":" ","in_stock":2.5}]"#,
            100,
        )
        .unwrap();
        assert_eq!(rows[0].offer_id, 130827);
        assert_eq!((rows[0].in_stock, rows[0].in_reserve), (16.0, 3.0));
        assert_eq!((rows[1].sku.clone(), rows[1].in_reserve), (None, 0.0));
    }

    #[test]
    fn stock_bodies_of_other_shapes_are_refused() {
        for body in [
            "",
            "{}",
            r#"{"offer_id":1,"in_stock":2}"#,
            r#"[{"sku":"a","in_stock":2}]"#,
            r#"[{"offer_id":1,"sku":"a"}]"#,
            r#"[{"offer_id":1,"in_stock":"lots"}]"#,
            r#"[{"offer_id":-1,"in_stock":1}]"#,
        ] {
            let err = parse_stock_webhook(body, 100).unwrap_err();
            assert_eq!(err.code, ErrorCode::BadWebhook, "{body}");
        }
        let many = format!("[{}]", [r#"{"offer_id":1,"in_stock":1}"#; 3].join(","));
        assert_eq!(
            parse_stock_webhook(&many, 2).unwrap_err().code,
            ErrorCode::BadWebhook
        );
    }

    #[test]
    fn trigger_events() {
        let order = parse_trigger_webhook(
            r#"{"event":"order.change_order_status","context":{"id":42,"status_id":3,"has_reserves":true}}"#,
        )
        .unwrap();
        assert_eq!(
            order,
            TriggerEvent::Order {
                event: "order.change_order_status".into(),
                order_id: 42
            }
        );
        let lead =
            parse_trigger_webhook(r#"{"event":"lead.change_lead_status","context":{"id":1}}"#)
                .unwrap();
        assert!(matches!(lead, TriggerEvent::Ignored { .. }));
        for body in [
            r#"{"event":"order.deleted","context":{"id":1}}"#,
            r#"{"event":"order.change_order_status"}"#,
            r#"{"context":{"id":1}}"#,
            "[]",
        ] {
            assert_eq!(
                parse_trigger_webhook(body).unwrap_err().code,
                ErrorCode::BadWebhook,
                "{body}"
            );
        }
    }

    #[test]
    fn tokens_match_exactly() {
        let token = "k3y-7f2a9c4e1b8d6a0f";
        assert!(token_matches(token, token));
        for given in [
            "",
            "k3y",
            "k3y-7f2a9c4e1b8d6a0F",
            "k3y-7f2a9c4e1b8d6a0f0",
            "x3y-7f2a9c4e1b8d6a0f",
        ] {
            assert!(!token_matches(given, token), "{given}");
        }
        assert!(!token_matches("", ""));
    }

    #[test]
    fn order_lines_to_offer_ids() {
        let ids = order_offer_ids(
            r#"{"id":42,"products":[{"sku":"a","quantity":1,"offer":{"id":7,"sku":"a"}},
                {"sku":"custom","quantity":1,"offer":null},
                {"sku":"a","quantity":2,"offer":{"id":7,"sku":"a"}},
                {"sku":"b","quantity":1,"offer":{"id":9,"sku":"b"}}]}"#,
        )
        .unwrap();
        assert_eq!(ids, [7, 9]);
        assert_eq!(order_offer_ids(r#"{"id":1}"#).unwrap(), Vec::<u64>::new());
        assert_eq!(
            order_offer_ids("<html>").unwrap_err().code,
            ErrorCode::BadPage
        );
    }
}
