//! KeyCRM's webhooks and the order they point to, parsed and validated.
//!
//! KeyCRM signs nothing and documents little, so every body is checked before it
//! is used: a wrong shape is a [`ErrorCode::BadWebhook`] naming what is wrong, never
//! a partial application.

use serde::de::Deserializer;
use serde::{Deserialize, Serialize};

use crate::error::{ErrorCode, SyncError};
use crate::json_read::{read_text, Read, Reader};
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
    read_text(body, |reader| {
        let mut rows = Vec::new();
        reader.array(
            "the stock webhook's JSON array of rows",
            &mut |reader, index| {
                if index == max_rows {
                    return Err(format!(
                        "more than {max_rows} rows; at most {max_rows} are taken at once"
                    ));
                }
                let row = StockWebhookRow::read(reader).map_err(|e| format!("row {index}: {e}"))?;
                rows.push(row);
                Ok(())
            },
        )?;
        Ok(rows)
    })
    .map_err(bad)
}

impl StockWebhookRow {
    /// Reads a row by the rules of its derived `Deserialize`.
    fn read(reader: &mut Reader) -> Read<Self> {
        const FIELDS: &[&str] = &["offer_id", "sku", "in_stock", "in_reserve"];
        let (mut offer_id, mut sku, mut in_stock, mut in_reserve) = (None, None, None, None);
        reader.object("a stock webhook's row", FIELDS, &mut |reader, field| {
            match field {
                0 => offer_id = Some(reader.whole()?),
                1 => sku = reader.sku()?,
                2 => in_stock = Some(reader.figure("in_stock")?),
                _ => in_reserve = Some(reader.figure("in_reserve")?),
            }
            Ok(())
        })?;
        Ok(StockWebhookRow {
            offer_id: offer_id.ok_or_else(|| reader.missing("offer_id"))?,
            sku,
            in_stock: in_stock.ok_or_else(|| reader.missing("in_stock"))?,
            in_reserve: in_reserve.ok_or_else(|| reader.missing("in_reserve"))?,
        })
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
    let trigger = Trigger::read(body).map_err(|e| bad(format!("not a trigger webhook: {e}")))?;
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
    let order_id = trigger
        .context_id
        .ok_or_else(|| bad(format!("{} without a context.id", trigger.event)))?;
    Ok(TriggerEvent::Order {
        event: trigger.event,
        order_id,
    })
}

/// A trigger webhook's body, as much of it as is used.
struct Trigger {
    event: String,
    /// The `id` of its `context`, if it has one.
    context_id: Option<u64>,
}

impl Trigger {
    /// Reads `{"event": "...", "context": {"id": 123, ...}}`, other fields
    /// ignored; `context` may be null or absent.
    fn read(body: &str) -> Read<Self> {
        read_text(body, |reader| {
            let (mut event, mut context_id) = (None, None);
            let fields = &["event", "context"];
            reader.object("a trigger webhook", fields, &mut |reader, field| {
                if field == 0 {
                    event = Some(reader.string()?);
                } else {
                    context_id = reader.nullable(|reader| id_of(reader, "a trigger's context"))?;
                }
                Ok(())
            })?;
            let event = event.ok_or_else(|| reader.missing("event"))?;
            Ok(Trigger { event, context_id })
        })
    }
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
    let order = read_text(body, OrderLines::read)
        .map_err(|e| SyncError::new(ErrorCode::BadPage, format!("order is not valid: {e}")))?;
    let mut ids = Vec::new();
    order.add_offer_ids(&mut ids)?;
    Ok(ids)
}

/// An order's lines as `include=products.offer` sends them, in a lookup or a list
/// of orders.
#[derive(Debug)]
pub struct OrderLines {
    id: Option<u64>,
    /// Each line's offer id: `None` when the line has no `offer` field,
    /// `Some(None)` when it is null.
    products: Option<Vec<Option<Option<u64>>>>,
}

impl OrderLines {
    /// Reads an order: its `id` and its lines' offers, other fields ignored.
    ///
    /// # Errors
    /// What is wrong with the text, and where.
    pub fn read(reader: &mut Reader) -> Read<Self> {
        let (mut id, mut products) = (None, None);
        reader.object("an order", &["id", "products"], &mut |reader, field| {
            if field == 0 {
                id = reader.nullable(Reader::whole)?;
                return Ok(());
            }
            products = reader.nullable(|reader| reader.list("an order's lines", line_offer))?;
            Ok(())
        })?;
        Ok(OrderLines { id, products })
    }

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
        for (index, offer) in lines.iter().enumerate() {
            match offer {
                None => {
                    return Err(SyncError::new(
                        ErrorCode::BadPage,
                        format!("{order}: line {index} came without its `offer`: include=products.offer was not honoured"),
                    ))
                }
                Some(None) => {}
                Some(Some(offer)) => {
                    if !ids.contains(offer) {
                        ids.push(*offer);
                    }
                }
            }
        }
        Ok(())
    }
}

/// An order line's offer id: `None` when the line has no `offer` field,
/// `Some(None)` when it is null.
fn line_offer(reader: &mut Reader) -> Read<Option<Option<u64>>> {
    let mut offer = None;
    reader.object("an order's line", &["offer"], &mut |reader, _| {
        offer = Some(reader.nullable(|reader| id_of(reader, "a line's offer"))?);
        Ok(())
    })?;
    Ok(offer)
}

/// The `id` of an object of which nothing else is read (`what` names it).
fn id_of(reader: &mut Reader, what: &str) -> Read<u64> {
    let mut id = None;
    reader.object(what, &["id"], &mut |reader, _| {
        id = Some(reader.whole()?);
        Ok(())
    })?;
    id.ok_or_else(|| reader.missing("id"))
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
