//! The page readers held to serde_json reading `StockPage`'s derived
//! `Deserialize`. The fast one (`page::scan_page`): on random pages written as
//! KeyCRM writes them it must take the page and read what serde_json reads; on
//! the same pages respaced or reordered, and on random byte-level damage to
//! them and to real pages, whatever it takes serde_json must read the same, and
//! it must never panic. The complete one (`page::read_page`), on all of these:
//! the same page as serde_json's, or a refusal where serde_json refuses.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::{damaged, fixture, json_gen, proptest_config, STOCK_PAGES};
use keycrm_stock_sync::page::{read_page, scan_page};
use keycrm_stock_sync::StockPage;
use proptest::prelude::*;
use serde_json::Value;

/// serde_json's reading of `text`, the one the fast reader must agree with.
fn serde_page(text: &str) -> Result<StockPage, String> {
    serde_json::from_str(text).map_err(|e| e.to_string())
}

/// What the fast reader takes, serde_json reads the same; the complete reader
/// and `StockPage::from_json` accept what serde_json accepts, with the same
/// page.
fn agrees(text: &str) -> Result<Option<StockPage>, TestCaseError> {
    let serde = serde_page(text);
    let complete = read_page(text);
    prop_assert_eq!(
        complete.is_ok(),
        serde.is_ok(),
        "{}\n{:?}\n{:?}",
        text,
        complete,
        serde
    );
    if let (Ok(complete), Ok(serde)) = (&complete, &serde) {
        prop_assert_eq!(complete, serde, "{}", text);
        prop_assert_eq!(figure_bits(complete), figure_bits(serde), "{}", text);
    }
    let fast = scan_page(text);
    if let Some(fast) = &fast {
        prop_assert_eq!(Ok(fast.clone()), serde.clone(), "{}", text);
        // Equal figures, to the bit: `==` does not tell 0 from -0.
        let serde = serde.as_ref().unwrap();
        prop_assert_eq!(figure_bits(fast), figure_bits(serde), "{}", text);
    }
    prop_assert_eq!(StockPage::from_json(text).ok(), serde.ok(), "{}", text);
    Ok(fast)
}

/// Every figure of a page, as bits.
fn figure_bits(page: &StockPage) -> Vec<u64> {
    let mut bits = Vec::new();
    for row in &page.data {
        bits.extend([row.quantity.to_bits(), row.reserve.to_bits()]);
        for w in row.warehouse.iter().flatten() {
            bits.extend([w.quantity.to_bits(), w.reserve.to_bits()]);
        }
    }
    bits
}

/// JSON text as KeyCRM writes it: `/` escaped, every character beyond ASCII as
/// a `\u` escape (a pair for those beyond the BMP).
fn keycrm_string(text: &str) -> String {
    let mut out = String::new();
    for c in serde_json::to_string(text).unwrap().chars() {
        match c {
            '/' => out.push_str("\\/"),
            c if c.is_ascii() => out.push(c),
            c => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    out
}

/// A figure's text: mostly as KeyCRM writes it ([`usual_figure`]); with `odd`,
/// now and then a form the fast reader leaves to the complete one, or any
/// figure or value at all.
fn figure(odd: bool) -> BoxedStrategy<String> {
    if !odd {
        return usual_figure().boxed();
    }
    const FORMS: [&str; 7] = [
        "-0",
        "-0.0",
        "\"-0\"",
        "1e2",
        "\" 1\"",
        "0.5E1",
        "1000000000000000",
    ];
    prop_oneof![
        20 => usual_figure(),
        1 => prop::sample::select(&FORMS[..]).prop_map(String::from),
        1 => json_gen::figure(),
    ]
    .boxed()
}

/// A figure as KeyCRM writes it: a JSON number without exponent, of up to 15
/// digits, whole or fractional, never negative zero.
fn usual_figure() -> impl Strategy<Value = String> {
    (
        any::<bool>(),
        prop_oneof![0u64..100, 0u64..1_000_000, 0u64..1_000_000_000_000_000],
        0usize..15,
    )
        .prop_map(|(negative, digits, fraction)| {
            let text = format!("{digits:0>width$}", width = fraction + 1);
            let text = if fraction == 0 {
                text
            } else {
                let (whole, part) = text.split_at(text.len() - fraction);
                format!("{whole}.{part}")
            };
            if negative && digits != 0 {
                format!("-{text}")
            } else {
                text
            }
        })
}

/// A SKU field's value: text of any kind, blank, a bare number or null; with
/// `odd`, now and then a negative number, which a SKU cannot be.
fn sku(odd: bool) -> impl Strategy<Value = Option<String>> {
    let negative = (-1_000_000i64..0).prop_map(|n| Some(n.to_string()));
    let usual = prop_oneof![
        Just(None),
        Just(Some("null".to_string())),
        "[a-zA-Z0-9_./ -]{0,12}".prop_map(|s| Some(keycrm_string(&s))),
        "\\PC{0,8}".prop_map(|s| Some(keycrm_string(&s))),
        "[\\x00-\\x1f\"\\\\/]{1,4}".prop_map(|s| Some(keycrm_string(&s))),
        (0u64..10_000_000_000_000_000_000).prop_map(|n| Some(n.to_string())),
    ];
    if odd {
        prop_oneof![20 => usual, 1 => negative].boxed()
    } else {
        usual.boxed()
    }
}

#[derive(Debug, Clone)]
struct Warehouse {
    id: u64,
    name: String,
    quantity: String,
    reserve: String,
}

fn warehouse(odd: bool) -> impl Strategy<Value = Warehouse> {
    // Names from a small set too, so that rows of a page repeat them (the reader
    // decodes a name once a page), some a prefix of another.
    let name = prop_oneof![
        prop::sample::select(&["Київ", "Ки", "Київ 2", "Main", "", "a\\\"b"][..])
            .prop_map(String::from),
        "\\PC{0,10}",
    ];
    (any::<u64>(), name, figure(odd), figure(odd)).prop_map(|(id, name, quantity, reserve)| {
        Warehouse {
            id: id % 10_000_000_000_000_000_000,
            name: keycrm_string(&name),
            quantity,
            reserve,
        }
    })
}

#[derive(Debug, Clone)]
struct Row {
    id: u64,
    sku: Option<String>,
    quantity: String,
    reserve: String,
    warehouses: Option<Vec<Warehouse>>,
}

/// A row; with `odd`, its figures may take forms the fast reader leaves to
/// serde_json.
fn row(odd: bool) -> impl Strategy<Value = Row> {
    (
        0u64..10_000_000_000_000_000_000,
        sku(odd),
        figure(odd),
        figure(odd),
        prop::option::of(prop::collection::vec(warehouse(odd), 0..3)),
    )
        .prop_map(|(id, sku, quantity, reserve, warehouses)| Row {
            id,
            sku,
            quantity,
            reserve,
            warehouses,
        })
}

/// A row in KeyCRM's order of keys, compact.
fn row_text(row: &Row) -> String {
    let mut text = format!("{{\"id\":{}", row.id);
    if let Some(sku) = &row.sku {
        text.push_str(&format!(",\"sku\":{sku}"));
    }
    text.push_str(&format!(
        ",\"price\":123.45,\"purchased_price\":0,\"quantity\":{},\"reserve\":{}",
        row.quantity, row.reserve
    ));
    if let Some(warehouses) = &row.warehouses {
        let list: Vec<String> = warehouses
            .iter()
            .map(|w| {
                format!(
                    "{{\"id\":{},\"name\":{},\"quantity\":{},\"reserve\":{}}}",
                    w.id, w.name, w.quantity, w.reserve
                )
            })
            .collect();
        text.push_str(&format!(",\"warehouse\":[{}]", list.join(",")));
    }
    text.push('}');
    text
}

#[derive(Debug, Clone)]
struct Envelope {
    page: u64,
    last_page: Option<u64>,
    total: Option<Option<u64>>,
    next: Option<bool>,
    links: bool,
}

fn envelope() -> impl Strategy<Value = Envelope> {
    (
        1u64..1_000,
        prop::option::of(0u64..1_000),
        prop::option::of(prop::option::of(any::<u64>())),
        prop::option::of(any::<bool>()),
        any::<bool>(),
    )
        .prop_map(|(page, last_page, total, next, links)| Envelope {
            page,
            last_page,
            total,
            next,
            links,
        })
}

/// A page as KeyCRM writes it: Laravel's envelope, keys in its order, compact.
fn page_text(envelope: &Envelope, rows: &[Row]) -> String {
    let path = keycrm_string("https://openapi.keycrm.app/v1/offers/stocks");
    let url = |page: u64| {
        keycrm_string(&format!(
            "https://openapi.keycrm.app/v1/offers/stocks?page={page}"
        ))
    };
    let data: Vec<String> = rows.iter().map(row_text).collect();
    let mut fields = vec![
        format!("\"current_page\":{}", envelope.page),
        format!("\"data\":[{}]", data.join(",")),
        format!("\"first_page_url\":{}", url(1)),
        "\"from\":1".to_string(),
    ];
    if let Some(last) = envelope.last_page {
        fields.push(format!("\"last_page\":{last}"));
    }
    if envelope.links {
        fields.push(
            r#""links":[{"url":null,"label":"&laquo; Previous","active":false},{"url":"x","label":"1","active":true}]"#
                .to_string(),
        );
    }
    match envelope.next {
        Some(true) => fields.push(format!("\"next_page_url\":{}", url(envelope.page + 1))),
        Some(false) => fields.push("\"next_page_url\":null".to_string()),
        None => {}
    }
    fields.push(format!("\"path\":{path}"));
    fields.push("\"per_page\":50".to_string());
    fields.push("\"prev_page_url\":null".to_string());
    match envelope.total {
        Some(Some(total)) => fields.push(format!("\"total\":{total}")),
        Some(None) => fields.push("\"total\":null".to_string()),
        None => {}
    }
    format!("{{{}}}", fields.join(","))
}

proptest! {
    #![proptest_config(proptest_config(1024))]

    /// A page written as KeyCRM writes it is taken, and read as serde_json reads
    /// it: the ids, SKUs, figures (the text's correctly rounded value) and
    /// envelope.
    #[test]
    fn pages_as_keycrm_writes_them_are_taken(envelope in envelope(), rows in prop::collection::vec(row(false), 0..6)) {
        let text = page_text(&envelope, &rows);
        let fast = agrees(&text)?;
        prop_assert!(fast.is_some(), "not taken: {}", text);
        let page = fast.unwrap();
        prop_assert_eq!(page.data.len(), rows.len());
        for (got, want) in page.data.iter().zip(&rows) {
            prop_assert_eq!(got.quantity, want.quantity.parse::<f64>().unwrap());
            prop_assert_eq!(got.reserve, want.reserve.parse::<f64>().unwrap());
            prop_assert_eq!(got.warehouse.as_ref().map(Vec::len), want.warehouses.as_ref().map(Vec::len));
        }
    }

    /// The same pages respaced and with their keys reordered (as serde_json writes
    /// them back): whatever the fast reader takes, it reads as serde_json does.
    #[test]
    fn pages_in_other_layouts_agree(envelope in envelope(), rows in prop::collection::vec(row(true), 0..4)) {
        let text = page_text(&envelope, &rows);
        agrees(&text)?;
        // Some odd figures are not JSON that serde_json's `Value` can hold.
        let value = serde_json::from_str::<Value>(&text);
        prop_assume!(value.is_ok());
        let value = value.unwrap();
        agrees(&serde_json::to_string_pretty(&value).unwrap())?;
        agrees(&value.to_string())?;
    }

    /// A key given twice in one object (of the envelope, a row or a warehouse) is
    /// left to serde_json, which refuses the page.
    #[test]
    fn repeated_keys_are_left_to_serde_json(
        envelope in envelope(),
        rows in prop::collection::vec(row(false), 1..4),
        key in prop::sample::select(&["\"id\":", "\"sku\":", "\"quantity\":", "\"reserve\":", "\"name\":", "\"current_page\":", "\"per_page\":", "\"data\":"][..]),
        nth in any::<prop::sample::Index>(),
    ) {
        let text = page_text(&envelope, &rows);
        let places: Vec<usize> = text.match_indices(key).map(|(at, _)| at).collect();
        prop_assume!(!places.is_empty());
        let at = places[nth.index(places.len())];
        let value = if key == "\"data\":" { "[]" } else { "1" };
        let repeated = format!("{}{key}{value},{}", &text[..at], &text[at..]);
        prop_assert!(serde_page(&repeated).is_err(), "{}", repeated);
        prop_assert_eq!(agrees(&repeated)?, None, "{}", repeated);
    }

    /// Byte-level damage to pages as KeyCRM writes them: whatever the fast reader
    /// takes, serde_json reads the same, and `from_json` accepts exactly what
    /// serde_json accepts.
    #[test]
    fn damaged_pages_agree(
        envelope in envelope(),
        rows in prop::collection::vec(row(true), 1..4),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), any::<u8>()), 1..4),
    ) {
        agrees(&damaged(&page_text(&envelope, &rows), &edits))?;
    }

    /// The same for damage to the real pages kept as fixtures.
    #[test]
    fn damaged_fixtures_agree(
        which in 0..STOCK_PAGES.len(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), any::<u8>()), 1..4),
    ) {
        agrees(&damaged(&fixture(STOCK_PAGES[which]), &edits))?;
    }
}

#[test]
fn every_fixture_page_is_taken() {
    for name in STOCK_PAGES {
        let text = fixture(name);
        let fast = scan_page(&text);
        assert!(fast.is_some(), "{name} not taken");
        assert_eq!(Ok(fast.unwrap()), serde_page(&text), "{name}");
    }
}
