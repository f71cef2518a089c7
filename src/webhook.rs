//! KeyCRM's webhooks and the order they point to, parsed and validated.
//!
//! KeyCRM signs nothing and documents little, so every body is checked before it
//! is used: a wrong shape is a [`ErrorCode::BadWebhook`] naming what is wrong, never
//! a partial application.

use std::cell::Cell;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::error::{ErrorCode, SyncError};
use crate::page::figure;

/// One row of the stock webhook: an offer's balance after a change, summed over the
/// warehouses chosen in KeyCRM's webhook settings.
///
/// Read by the same rules as a stock-list row (see [`crate::page`]): `offer_id`,
/// `in_stock` and `in_reserve` are required, figures are numbers or numeric strings
/// (never null), finite and within ±[`MAX_FIGURE`](crate::page::MAX_FIGURE), and a key given twice is refused.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct StockWebhookRow {
    /// The offer (variant) id.
    pub offer_id: u64,
    /// The offer's SKU; `None` when null, absent or blank. Read as the stock list's is.
    #[serde(default, deserialize_with = "crate::page::sku")]
    pub sku: Option<String>,
    /// Units in stock (the field the stock list calls `quantity`).
    #[serde(deserialize_with = "in_stock")]
    pub in_stock: f64,
    /// Units reserved (the stock list's `reserve`).
    #[serde(deserialize_with = "in_reserve")]
    pub in_reserve: f64,
}

fn in_stock<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    figure(d, "in_stock")
}

fn in_reserve<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    figure(d, "in_reserve")
}

/// Parses the stock webhook's body: a JSON array of rows, at most `max_rows` long.
///
/// The body is read straight into rows, not through an intermediate JSON value, so
/// that a key given twice in a row is refused as it is in a page. One refused row
/// refuses the delivery: nothing of it is applied.
///
/// # Errors
/// [`ErrorCode::BadWebhook`] when the body is not such an array, a row lacks
/// `offer_id`, `in_stock` or `in_reserve` (the message names the row and field), a
/// figure is null, not a number, not finite or beyond ±[`MAX_FIGURE`](crate::page::MAX_FIGURE), a key is
/// repeated, or there are more than `max_rows` rows.
pub fn parse_stock_webhook(body: &str, max_rows: usize) -> Result<Vec<StockWebhookRow>, SyncError> {
    let row = Cell::new(None);
    let mut reader = serde_json::Deserializer::from_str(body);
    let rows = Rows {
        max_rows,
        row: &row,
    }
    .deserialize(&mut reader)
    .and_then(|rows| reader.end().map(|()| rows));
    rows.map_err(|e| match row.get() {
        Some(i) => bad(format!("row {i}: {e}")),
        None if e.is_syntax() || e.is_eof() => bad(format!("not JSON: {e}")),
        None => bad(e.to_string()),
    })
}

/// Reads the rows of a stock webhook, noting in `row` which one is being read.
struct Rows<'a> {
    max_rows: usize,
    row: &'a Cell<Option<usize>>,
}

impl<'de> DeserializeSeed<'de> for Rows<'_> {
    type Value = Vec<StockWebhookRow>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Rows<'_> {
    type Value = Vec<StockWebhookRow>;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the stock webhook's JSON array of rows")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut rows = Vec::new();
        loop {
            if rows.len() == self.max_rows {
                if seq.next_element::<IgnoredAny>()?.is_some() {
                    return Err(de::Error::custom(format!(
                        "more than {} rows; at most {} are taken at once",
                        self.max_rows, self.max_rows
                    )));
                }
                return Ok(rows);
            }
            self.row.set(Some(rows.len()));
            let Some(row) = seq.next_element()? else {
                self.row.set(None);
                return Ok(rows);
            };
            rows.push(row);
            self.row.set(None);
        }
    }
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
/// Each offer id appears once, in the order of the lines. A line whose `offer` is
/// null (a custom line typed into the order) holds no stock and is skipped; a line
/// without an `offer` field, or an order without `products`, means the include was
/// not honoured, and is refused rather than read as an order that moves no stock.
///
/// # Errors
/// [`ErrorCode::BadPage`] when the body is not an order, or its lines came without
/// their offers (the message names the order).
pub fn order_offer_ids(body: &str) -> Result<Vec<u64>, SyncError> {
    let order: OrderLines = serde_json::from_str(body)
        .map_err(|e| SyncError::new(ErrorCode::BadPage, format!("order is not valid: {e}")))?;
    let mut ids = Vec::new();
    order.add_offer_ids(&mut ids)?;
    Ok(ids)
}

/// An order's lines as `include=products.offer` sends them, in a lookup or a list
/// of orders.
#[derive(Debug, Deserialize)]
pub struct OrderLines {
    #[serde(default)]
    id: Option<u64>,
    #[serde(default)]
    products: Option<Vec<OrderLine>>,
}

#[derive(Debug, Deserialize)]
struct OrderLine {
    /// `None` when the field is missing, `Some(None)` when it is null.
    #[serde(default, deserialize_with = "present_offer")]
    offer: Option<Option<LineOffer>>,
}

#[derive(Debug, Deserialize)]
struct LineOffer {
    id: u64,
}

fn present_offer<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<LineOffer>>, D::Error> {
    Option::<LineOffer>::deserialize(d).map(Some)
}

impl OrderLines {
    /// Adds the offer ids of the lines to `ids`, each once.
    ///
    /// # Errors
    /// [`ErrorCode::BadPage`] naming the order when it has no `products`, or a line
    /// has no `offer` field.
    pub fn add_offer_ids(&self, ids: &mut Vec<u64>) -> Result<(), SyncError> {
        let order = self.id.map_or_else(
            || "an order without an id".to_string(),
            |id| format!("order {id}"),
        );
        let Some(lines) = &self.products else {
            return Err(SyncError::new(
                ErrorCode::BadPage,
                format!("{order} came without its lines (`products`): include=products.offer was not honoured"),
            ));
        };
        for (index, line) in lines.iter().enumerate() {
            match &line.offer {
                None => {
                    return Err(SyncError::new(
                        ErrorCode::BadPage,
                        format!("{order}: line {index} came without its `offer`: include=products.offer was not honoured"),
                    ))
                }
                Some(None) => {}
                Some(Some(offer)) => {
                    if !ids.contains(&offer.id) {
                        ids.push(offer.id);
                    }
                }
            }
        }
        Ok(())
    }
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
                {"offer_id":5,"sku":" ","in_stock":2.5,"in_reserve":"0.5"}]"#,
            100,
        )
        .unwrap();
        assert_eq!(rows[0].offer_id, 130827);
        assert_eq!((rows[0].in_stock, rows[0].in_reserve), (16.0, 3.0));
        assert_eq!((rows[1].sku.clone(), rows[1].in_reserve), (None, 0.5));
        assert_eq!(parse_stock_webhook("[]", 100).unwrap(), []);
        assert_eq!(
            parse_stock_webhook(r#"[{"offer_id":1,"in_stock":1,"in_reserve":0}]"#, 1)
                .unwrap()
                .len(),
            1
        );
    }

    fn refusal(body: &str) -> String {
        let err = parse_stock_webhook(body, 100).unwrap_err();
        assert_eq!(err.code, ErrorCode::BadWebhook, "{body}");
        err.message
    }

    #[test]
    fn drift_is_refused_naming_the_row_and_field() {
        for (body, wanted) in [
            (
                r#"[{"offer_id":1,"in_stock":1,"in_reserve":0},{"offer_id":2,"in_stock":1}]"#,
                "row 1: missing field `in_reserve`",
            ),
            (
                r#"[{"offer_id":1,"in_reserve":0}]"#,
                "row 0: missing field `in_stock`",
            ),
            (
                r#"[{"offer_id":1,"in_stock":1,"in_reserve":null}]"#,
                "row 0: `in_reserve` is null",
            ),
            (
                r#"[{"offer_id":1,"in_stock":1e302,"in_reserve":0}]"#,
                "row 0: `in_stock` 1e302 is beyond",
            ),
            (
                r#"[{"offer_id":1,"in_stock":"NaN","in_reserve":0}]"#,
                "`in_stock` is not a finite number",
            ),
            (
                r#"[{"offer_id":1,"in_stock":1,"in_stock":9,"in_reserve":0}]"#,
                "row 0: duplicate field `in_stock`",
            ),
            (r#"{"offer_id":1}"#, "JSON array of rows"),
            ("", "not JSON"),
            ("[1]", "row 0: invalid type: integer `1`"),
        ] {
            let message = refusal(body);
            assert!(message.contains(wanted), "{body}: {message}");
        }
    }

    /// Pages and webhooks read a row by one rule: what one accepts or refuses, so
    /// does the other.
    #[test]
    fn pages_and_webhooks_read_rows_alike() {
        use crate::page::StockPage;
        for (quantity, reserve) in [
            ("5", "1"),
            (r#""5""#, r#""1.5""#),
            ("null", "0"),
            ("5", "null"),
            ("1e300", "0"),
            (r#""inf""#, "0"),
            ("true", "0"),
            ("-2", "1e15"),
        ] {
            let page = StockPage::from_json(&format!(
                r#"{{"data":[{{"id":1,"sku":"a","quantity":{quantity},"reserve":{reserve}}}]}}"#
            ))
            .map(|p| (p.data[0].quantity, p.data[0].reserve));
            let hook = parse_stock_webhook(
                &format!(
                    r#"[{{"offer_id":1,"sku":"a","in_stock":{quantity},"in_reserve":{reserve}}}]"#
                ),
                10,
            )
            .map(|r| (r[0].in_stock, r[0].in_reserve));
            assert_eq!(page.is_ok(), hook.is_ok(), "{quantity} / {reserve}");
            if let (Ok(page), Ok(hook)) = (page, hook) {
                assert_eq!(page, hook);
            }
        }
        for field in ["quantity", "reserve"] {
            let page = StockPage::from_json(&format!(
                r#"{{"data":[{{"id":1,"quantity":1,"reserve":1,"{field}":2}}]}}"#
            ));
            assert!(page.is_err(), "a page refuses a repeated `{field}`");
        }
    }

    #[test]
    fn stock_bodies_of_other_shapes_are_refused() {
        for body in [
            "",
            "{}",
            r#"{"offer_id":1,"in_stock":2}"#,
            r#"[{"sku":"a","in_stock":2}]"#,
            r#"[{"offer_id":1,"sku":"a"}]"#,
            r#"[{"offer_id":1,"in_stock":"lots","in_reserve":0}]"#,
            r#"[{"offer_id":-1,"in_stock":1,"in_reserve":0}]"#,
            r#"[{"offer_id":"1","in_stock":1,"in_reserve":0}]"#,
        ] {
            let err = parse_stock_webhook(body, 100).unwrap_err();
            assert_eq!(err.code, ErrorCode::BadWebhook, "{body}");
        }
        let many = format!(
            "[{}]",
            [r#"{"offer_id":1,"in_stock":1,"in_reserve":0}"#; 3].join(",")
        );
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

    /// An order whose lines came without their offers (the include ignored) is
    /// refused naming the order, not read as one that moves no stock.
    #[test]
    fn an_order_without_its_offers_is_refused() {
        for (body, wanted) in [
            (r#"{"id":42}"#, "order 42 came without its lines"),
            (
                r#"{"id":42,"products":[{"sku":"a","offer":null},{"sku":"b","quantity":1}]}"#,
                "order 42: line 1 came without its `offer`",
            ),
        ] {
            let err = order_offer_ids(body).unwrap_err();
            assert_eq!(err.code, ErrorCode::BadPage, "{body}");
            assert!(err.message.contains(wanted), "{body}: {}", err.message);
        }
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
        assert_eq!(
            order_offer_ids(r#"{"id":1,"products":[]}"#).unwrap(),
            Vec::<u64>::new()
        );
        assert_eq!(
            order_offer_ids("<html>").unwrap_err().code,
            ErrorCode::BadPage
        );
    }
}
