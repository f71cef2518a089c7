//! The core's readers of KeyCRM's answers and webhook bodies (other than stock
//! pages, held to serde_json in `page_reader.rs`) held to serde_json: the
//! stock webhook, the trigger webhook, an order, a page of orders and a page of
//! offers with their product names. Each is compared with serde_json reading
//! into types derived as the core's were before it read them itself (`Ref…`
//! below): on random bodies of their fields and others, with values of every
//! kind, and on random byte-level damage to them, both take the same values or
//! both refuse the text, and the core never panics.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::collections::HashMap;

use common::json_gen::{figure, key, number, object, string, value};
use common::{damaged, proptest_config};
use keycrm_stock_sync::catchup::OrderListing;
use keycrm_stock_sync::check::NameLookup;
use keycrm_stock_sync::webhook::{
    order_offer_ids, parse_stock_webhook, parse_trigger_webhook, StockWebhookRow, TriggerEvent,
};
use keycrm_stock_sync::ErrorCode;
use proptest::prelude::*;
use serde::de::{Deserializer, IgnoredAny};
use serde::Deserialize;

#[derive(Deserialize)]
struct RefTrigger {
    event: String,
    #[serde(default)]
    context: Option<RefContext>,
}

#[derive(Deserialize)]
struct RefContext {
    id: u64,
}

#[derive(Deserialize)]
struct RefOrder {
    /// Read for its type only: an id that is not a whole number refuses the order.
    #[allow(dead_code)]
    #[serde(default)]
    id: Option<u64>,
    #[serde(default)]
    products: Option<Vec<RefLine>>,
}

#[derive(Deserialize)]
struct RefLine {
    #[serde(default, deserialize_with = "present")]
    offer: Option<Option<RefContext>>,
}

#[derive(Deserialize)]
struct RefOrderPage {
    #[serde(default)]
    last_page: Option<u64>,
    #[serde(default, deserialize_with = "present")]
    next_page_url: Option<Option<IgnoredAny>>,
    data: Vec<RefOrder>,
}

#[derive(Deserialize)]
struct RefOffersPage {
    data: Vec<RefOffer>,
}

#[derive(Deserialize)]
struct RefOffer {
    id: u64,
    #[serde(default)]
    product: Option<RefProduct>,
}

#[derive(Deserialize)]
struct RefProduct {
    #[serde(default)]
    name: Option<String>,
}

/// `Some` for a field that is there, null or not.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// An object of its `fields` (each mostly there, with a value from
/// `field_value`, mostly) and other keys, a key sometimes given twice, in any
/// order; now and then an array of the fields' values in order, which serde
/// takes for an object as well.
fn shaped(
    fields: &'static [&'static str],
    field_value: fn(&str) -> BoxedStrategy<String>,
) -> BoxedStrategy<String> {
    let own: Vec<_> = fields
        .iter()
        .map(|f| {
            let v = prop_oneof![8 => field_value(f), 1 => value()];
            prop::option::weighted(0.85, (Just(format!("\"{f}\"")), v))
        })
        .collect();
    let other = key(fields).prop_flat_map(move |k| {
        let v = prop_oneof![6 => field_value(k.trim_matches('"')), 1 => value()];
        (Just(k), v)
    });
    let as_object = (own, prop::collection::vec(other, 0..3))
        .prop_flat_map(|(own, other)| {
            let entries: Vec<_> = own.into_iter().flatten().chain(other).collect();
            Just(entries).prop_shuffle()
        })
        .prop_map(|entries| object(&entries));
    let values: Vec<BoxedStrategy<String>> = fields
        .iter()
        .map(|f| field_value(f))
        .chain([value().boxed()])
        .collect();
    let in_order = (values, 0..=fields.len() + 1)
        .prop_map(|(values, n)| format!("[{}]", values[..n].join(",")));
    prop_oneof![8 => as_object, 1 => in_order, 1 => value()].boxed()
}

/// A list of `element`s, or any value.
fn list(element: BoxedStrategy<String>) -> BoxedStrategy<String> {
    prop_oneof![
        6 => prop::collection::vec(element, 0..4).prop_map(|items| format!("[{}]", items.join(","))),
        1 => value(),
    ]
    .boxed()
}

fn id() -> BoxedStrategy<String> {
    prop_oneof![4 => (0u64..100_000).prop_map(|n| n.to_string()), 2 => number(), 1 => value()]
        .boxed()
}

fn stock_row() -> BoxedStrategy<String> {
    shaped(
        &["offer_id", "sku", "in_stock", "in_reserve"],
        |field| match field {
            "offer_id" => id(),
            "sku" => prop_oneof![string(), number(), Just("null".to_string())].boxed(),
            _ => figure().boxed(),
        },
    )
}

fn trigger() -> BoxedStrategy<String> {
    shaped(&["event", "context"], |field| match field {
        "event" => prop_oneof![
            prop::sample::select(vec![
                r#""order.change_order_status""#,
                r#""order.change_payment_status""#,
                r#""lead.change_lead_status""#,
                r#""order.deleted""#,
            ])
            .prop_map(str::to_string),
            string(),
        ]
        .boxed(),
        _ => prop_oneof![4 => shaped(&["id"], |_| id()), 1 => Just("null".to_string())].boxed(),
    })
}

fn order() -> BoxedStrategy<String> {
    shaped(&["id", "products"], |field| match field {
        "id" => id(),
        _ => list(shaped(&["offer"], |_| {
            prop_oneof![4 => shaped(&["id"], |_| id()), 1 => Just("null".to_string())].boxed()
        })),
    })
}

fn order_page() -> BoxedStrategy<String> {
    shaped(
        &["last_page", "next_page_url", "data"],
        |field| match field {
            "last_page" => id(),
            "next_page_url" => prop_oneof![string(), Just("null".to_string())].boxed(),
            _ => list(order()),
        },
    )
}

fn offers_page() -> BoxedStrategy<String> {
    shaped(&["data"], |_| {
        list(shaped(&["id", "product"], |field| match field {
            "id" => id(),
            _ => prop_oneof![
                4 => shaped(&["name"], |_| prop_oneof![string(), Just("null".to_string())].boxed()),
                1 => Just("null".to_string()),
            ]
            .boxed(),
        }))
    })
}

fn edits() -> impl Strategy<Value = Vec<(prop::sample::Index, u8, u8)>> {
    prop::collection::vec(
        (any::<prop::sample::Index>(), any::<u8>(), any::<u8>()),
        1..4,
    )
}

/// Figures compared to the bit: `==` does not tell 0 from -0.
fn row_bits(rows: &[StockWebhookRow]) -> Vec<(u64, Option<String>, u64, u64)> {
    rows.iter()
        .map(|r| {
            (
                r.offer_id,
                r.sku.clone(),
                r.in_stock.to_bits(),
                r.in_reserve.to_bits(),
            )
        })
        .collect()
}

fn stock_webhook_agrees(text: &str) -> Result<(), TestCaseError> {
    let ours = parse_stock_webhook(text, 1_000);
    match (ours, serde_json::from_str::<Vec<StockWebhookRow>>(text)) {
        (Ok(ours), Ok(reference)) => prop_assert_eq!(row_bits(&ours), row_bits(&reference)),
        (Err(err), Err(_)) => prop_assert_eq!(err.code, ErrorCode::BadWebhook),
        (ours, reference) => {
            prop_assert!(
                false,
                "{}\ncore: {:?}\nserde: {:?}",
                text,
                ours,
                reference.map(|r| row_bits(&r))
            );
        }
    }
    Ok(())
}

fn trigger_agrees(text: &str) -> Result<(), TestCaseError> {
    let ours = parse_trigger_webhook(text);
    let Ok(reference) = serde_json::from_str::<RefTrigger>(text) else {
        prop_assert_eq!(
            ours.map_err(|e| e.code),
            Err(ErrorCode::BadWebhook),
            "{}",
            text
        );
        return Ok(());
    };
    let event = reference.event;
    let expected = match event.as_str() {
        "lead.change_lead_status" => Some(TriggerEvent::Ignored { event }),
        "order.change_order_status" | "order.change_payment_status" => {
            reference.context.map(|context| TriggerEvent::Order {
                event,
                order_id: context.id,
            })
        }
        _ => None,
    };
    prop_assert_eq!(ours.ok(), expected, "{}", text);
    Ok(())
}

/// The offer ids of `orders` by the rule of the core: `None` when an order
/// has no lines or a line no `offer` field.
fn offer_ids(orders: &[RefOrder]) -> Option<Vec<u64>> {
    let mut ids = Vec::new();
    for order in orders {
        for line in order.products.as_ref()? {
            if let Some(offer) = line.offer.as_ref()? {
                if !ids.contains(&offer.id) {
                    ids.push(offer.id);
                }
            }
        }
    }
    Some(ids)
}

fn order_agrees(text: &str) -> Result<(), TestCaseError> {
    let ours = order_offer_ids(text);
    match serde_json::from_str::<RefOrder>(text) {
        Ok(order) => {
            let expected = offer_ids(&[order]);
            prop_assert_eq!(ours.as_ref().ok(), expected.as_ref(), "{}", text);
        }
        Err(_) => prop_assert!(ours.is_err(), "{}", text),
    }
    if let Err(err) = order_offer_ids(text) {
        prop_assert_eq!(err.code, ErrorCode::BadPage);
    }
    Ok(())
}

fn order_page_agrees(text: &str) -> Result<(), TestCaseError> {
    let mut listing = OrderListing::new(0, 86_400_000);
    let ours = listing.take(text);
    let expected = serde_json::from_str::<RefOrderPage>(text)
        .ok()
        .and_then(|page| {
            let ids = offer_ids(&page.data)?;
            let last = page.data.is_empty()
                || page.next_page_url.flatten().is_none()
                || page.last_page.is_some_and(|last| last <= 1);
            Some((!last, ids))
        });
    match (ours, expected) {
        (Ok(goes_on), Some((expected_goes_on, ids))) => {
            prop_assert_eq!(goes_on, expected_goes_on, "{}", text);
            prop_assert_eq!(listing.offer_ids(), &ids[..], "{}", text);
        }
        (Err(err), None) => prop_assert_eq!(err.code, ErrorCode::BadPage),
        (ours, expected) => {
            prop_assert!(false, "{}\ncore: {:?}\nserde: {:?}", text, ours, expected)
        }
    }
    Ok(())
}

fn offers_page_agrees(text: &str) -> Result<(), TestCaseError> {
    let asked = [0, 1, 7, 99_999];
    let mut lookup = NameLookup::new(asked);
    let ours = lookup.take(text);
    match serde_json::from_str::<RefOffersPage>(text) {
        Ok(page) => {
            prop_assert!(ours.is_ok(), "{}: {:?}", text, ours);
            let mut names = HashMap::new();
            for offer in page.data {
                let name = offer.product.and_then(|p| p.name);
                if let (true, Some(name)) = (asked.contains(&offer.id), name) {
                    names.insert(offer.id, name);
                }
            }
            for id in asked {
                prop_assert_eq!(lookup.name_of(id), names.get(&id).cloned(), "{}", text);
            }
        }
        Err(_) => prop_assert_eq!(
            ours.map_err(|e| e.code),
            Err(ErrorCode::BadPage),
            "{}",
            text
        ),
    }
    Ok(())
}

proptest! {
    #![proptest_config(proptest_config(1024))]

    #[test]
    fn stock_webhooks_agree(text in list(stock_row()), edits in edits()) {
        stock_webhook_agrees(&text)?;
        stock_webhook_agrees(&damaged(&text, &edits))?;
    }

    #[test]
    fn trigger_webhooks_agree(text in trigger(), edits in edits()) {
        trigger_agrees(&text)?;
        trigger_agrees(&damaged(&text, &edits))?;
    }

    #[test]
    fn orders_agree(text in order(), edits in edits()) {
        order_agrees(&text)?;
        order_agrees(&damaged(&text, &edits))?;
    }

    #[test]
    fn order_pages_agree(text in order_page(), edits in edits()) {
        order_page_agrees(&text)?;
        order_page_agrees(&damaged(&text, &edits))?;
    }

    #[test]
    fn offer_pages_agree(text in offers_page(), edits in edits()) {
        offers_page_agrees(&text)?;
        offers_page_agrees(&damaged(&text, &edits))?;
    }

    /// Rows whose other fields are taken, with a SKU of any form: text, whole
    /// numbers (negative ones too), fractions, null, any value.
    #[test]
    fn skus_of_every_form_agree(
        skus in prop::collection::vec(prop_oneof![string(), number(), "-[1-9][0-9]{0,6}", value()], 1..4),
    ) {
        let rows: Vec<String> = skus
            .iter()
            .enumerate()
            .map(|(i, sku)| format!(r#"{{"offer_id":{i},"sku":{sku},"in_stock":1,"in_reserve":0}}"#))
            .collect();
        stock_webhook_agrees(&format!("[{}]", rows.join(",")))?;
    }

    /// Any text at all, as each of the bodies.
    #[test]
    fn any_text_agrees(text in "\\PC{0,40}") {
        stock_webhook_agrees(&text)?;
        trigger_agrees(&text)?;
        order_agrees(&text)?;
        order_page_agrees(&text)?;
        offers_page_agrees(&text)?;
    }
}

/// The generators reach bodies that are taken, not only refusals.
#[test]
fn well_formed_bodies_are_taken() {
    let rows = parse_stock_webhook(
        r#"[{"offer_id":1,"sku":7,"in_stock":"2.5","in_reserve":1e0},[2,null,3,0]]"#,
        10,
    )
    .unwrap();
    assert_eq!(rows[0].sku.as_deref(), Some("7"));
    assert_eq!((rows[0].in_stock, rows[1].offer_id), (2.5, 2));
    let event = r#"{"event":"order.change_order_status","context":{"id":5,"x":[]}}"#;
    assert_eq!(
        parse_trigger_webhook(event).unwrap(),
        TriggerEvent::Order {
            event: "order.change_order_status".into(),
            order_id: 5
        }
    );
    let mut listing = OrderListing::new(0, 86_400_000);
    let page = r#"{"last_page":2,"next_page_url":"x","data":[{"id":1,"products":[{"offer":{"id":4}},{"offer":null}]}]}"#;
    assert_eq!(listing.take(page).map_err(|e| e.message), Ok(true));
    assert_eq!(listing.offer_ids(), [4]);
    let mut lookup = NameLookup::new([3]);
    lookup
        .take(r#"{"data":[{"id":3,"product":{"name":"Чай"}},{"id":4,"product":null}]}"#)
        .unwrap();
    assert_eq!(lookup.name_of(3).as_deref(), Some("Чай"));
}
