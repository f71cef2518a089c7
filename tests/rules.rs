//! SKU rules, availability (reserve × warehouses × rounding), diffing, dry runs and
//! zeroing, over whole runs.

mod common;

use common::*;
use keycrm_stock_sync::{ErrorCode, StockKey};
use serde_json::json;

fn one_page(rows: serde_json::Value) -> String {
    json!({"current_page": 1, "last_page": 1, "per_page": 50, "next_page_url": null, "data": rows})
        .to_string()
}

#[test]
fn offers_without_sku_are_skipped_and_counted() {
    let body = one_page(json!([
        {"id": 1, "sku": null, "quantity": 5, "reserve": 0},
        {"id": 2, "sku": "", "quantity": 5, "reserve": 0},
        {"id": 3, "quantity": 5, "reserve": 0},
        {"id": 4, "sku": "a", "quantity": 5, "reserve": 0}
    ]));
    let out = drive(
        options("{}"),
        &Site::with(&[("a", Some(0.0)), ("", Some(1.0))]),
        0,
        |_, _| Reply::Body(body.clone()),
    );
    assert_eq!((out.report.without_sku, out.report.offers), (3, 4));
    assert_eq!(out.site[&key("a")], Some(5.0));
    assert_eq!(
        out.site[&key("")],
        Some(1.0),
        "a site row with an empty SKU is never matched"
    );
}

#[test]
fn a_sku_on_two_offers_of_one_page_is_not_written() {
    let body = one_page(json!([
        {"id": 1, "sku": "dup", "quantity": 5, "reserve": 0},
        {"id": 2, "sku": "ok", "quantity": 2, "reserve": 0},
        {"id": 3, "sku": "dup", "quantity": 9, "reserve": 0}
    ]));
    let site = Site::with(&[("dup", Some(1.0)), ("ok", Some(0.0))]);
    let out = drive(options("{}"), &site, 0, |_, _| Reply::Body(body.clone()));
    assert!(out.report.complete);
    assert_eq!(out.report.duplicate_skus, ["dup"]);
    assert_eq!(out.site[&key("dup")], Some(1.0));
    assert_eq!(out.site[&key("ok")], Some(2.0));
    assert_eq!(out.report.updated, 1);
}

#[test]
fn a_sku_found_again_pages_later_is_restored() {
    let mut catalogue = Catalogue::numbered(120);
    catalogue.rows[110]["sku"] = "s0003".into(); // offer 111 reuses offer 3's SKU
    let site = Site::with(&[
        ("s0003", Some(77.0)),
        ("s0111", Some(0.0)),
        ("s0001", Some(0.0)),
    ]);
    let out = drive(options("{}"), &site, 0, |url, _| catalogue.answer(url));
    assert!(out.report.complete);
    assert_eq!(out.report.duplicate_skus, ["s0003"]);
    assert_eq!(
        out.site[&key("s0003")],
        Some(77.0),
        "the site's value is put back"
    );
    assert_eq!(out.site[&key("s0001")], Some(3.0));
    // s0001 changed; s0003 changed and was restored, so it does not count.
    assert_eq!(out.report.updated, 1);
    let restore = out
        .writes
        .iter()
        .flatten()
        .filter(|c| c.sku == "s0003")
        .count();
    assert_eq!(restore, 2, "written once on page 1, restored after page 3");
}

#[test]
fn a_sku_restored_to_null_goes_back_to_null() {
    let mut catalogue = Catalogue::numbered(60);
    catalogue.rows[55]["sku"] = "s0001".into();
    let site = Site::with(&[("s0001", None)]);
    let out = drive(options("{}"), &site, 0, |url, _| catalogue.answer(url));
    assert_eq!(out.site[&key("s0001")], None);
}

fn warehouse_page() -> String {
    fixture("stocks_details_page.json")
}

/// tea-500g: total 10.5 / 3; warehouse 1: 8 / 1; warehouse 2 (Київ): 2.5 / 2.
/// tea-1kg: total 3 / 4; warehouse 1: 0 / 4; warehouse 2: 3 / 0.
#[test]
fn reserve_warehouse_and_rounding_combinations() {
    let cases = [
        (r#"{}"#, 7.0, 0.0),
        (r#"{"keepReserve": true}"#, 10.0, 3.0),
        (r#"{"fractional": true}"#, 7.5, 0.0),
        (r#"{"keepReserve": true, "fractional": true}"#, 10.5, 3.0),
        (r#"{"warehouses": [1]}"#, 7.0, 0.0),
        (r#"{"warehouses": ["Київ"]}"#, 0.0, 3.0),
        (r#"{"warehouses": ["київ"], "fractional": true}"#, 0.5, 3.0),
        (
            r#"{"warehouses": [2], "keepReserve": true, "fractional": true}"#,
            2.5,
            3.0,
        ),
        (
            r#"{"warehouses": [1, "Київ"], "fractional": true}"#,
            7.5,
            0.0,
        ),
        (
            r#"{"warehouses": ["Основний"], "keepReserve": true}"#,
            8.0,
            0.0,
        ),
    ];
    for (opts, tea_500, tea_1k) in cases {
        let site = Site::with(&[("tea-500g", Some(-1.0)), ("tea-1kg", Some(-1.0))]);
        let out = drive(options(opts), &site, 0, |url, _| {
            let details = url.contains("filter%5Bdetails%5D=true");
            let asked = !opts.contains("warehouses");
            assert_eq!(
                details, !asked,
                "details asked for exactly when needed: {opts}"
            );
            Reply::Body(warehouse_page())
        });
        assert!(out.report.complete, "{opts}: {:?}", out.report.error);
        assert_eq!(out.site[&key("tea-500g")], Some(tea_500), "{opts}");
        assert_eq!(out.site[&key("tea-1kg")], Some(tea_1k), "{opts}");
    }
}

#[test]
fn per_warehouse_rows() {
    let wkey = |sku: &str, w| StockKey {
        sku: sku.into(),
        warehouse_id: Some(w),
    };
    let mut site = Site::default();
    for sku in ["tea-500g", "tea-1kg"] {
        for w in [1, 2] {
            site.rows.insert(wkey(sku, w), Some(-1.0));
        }
    }
    let out = drive(options(r#"{"perWarehouse": true}"#), &site, 0, |_, _| {
        Reply::Body(warehouse_page())
    });
    assert!(out.report.complete);
    assert_eq!(out.site[&wkey("tea-500g", 1)], Some(7.0));
    assert_eq!(out.site[&wkey("tea-500g", 2)], Some(0.0));
    assert_eq!(out.site[&wkey("tea-1kg", 1)], Some(0.0));
    assert_eq!(out.site[&wkey("tea-1kg", 2)], Some(3.0));
    assert_eq!(out.report.warehouses.len(), 2);
}

#[test]
fn unknown_warehouse_is_an_error_and_nothing_is_written() {
    let site = Site::with(&[("tea-500g", Some(-1.0))]);
    let out = drive(options(r#"{"warehouses": ["Kyiv"]}"#), &site, 0, |_, _| {
        Reply::Body(warehouse_page())
    });
    let err = out.report.error.unwrap();
    assert_eq!(err.code, ErrorCode::UnknownWarehouse);
    assert!(err.message.contains("2 \"Київ\""), "{}", err.message);
    assert!(out.writes.is_empty());
    assert_eq!(out.site[&key("tea-500g")], Some(-1.0));
}

#[test]
fn a_second_run_writes_nothing() {
    let catalogue = Catalogue::numbered(230);
    let first = drive(options("{}"), &catalogue.empty_site(), 0, |url, _| {
        catalogue.answer(url)
    });
    assert!(first.report.updated > 150);
    let site = Site {
        rows: first.site,
        fail_write: None,
    };
    let second = drive(options("{}"), &site, 0, |url, _| catalogue.answer(url));
    assert!(second.report.complete);
    assert_eq!(second.report.updated, 0);
    assert_eq!(second.report.unchanged, 230);
    assert!(second.writes.is_empty());
}

#[test]
fn dry_run_writes_nothing_but_reports_what_it_would() {
    let catalogue = Catalogue::numbered(120);
    let site = catalogue.empty_site();
    let out = drive(options(r#"{"dryRun": true}"#), &site, 0, |url, _| {
        catalogue.answer(url)
    });
    assert!(out.report.complete && out.report.dry_run);
    assert!(out.writes.is_empty());
    assert_eq!(out.site, site.rows);
    let wet = drive(options("{}"), &site, 0, |url, _| catalogue.answer(url));
    assert_eq!(out.report.updated, wet.report.updated);
}

#[test]
fn rows_keycrm_lacks_are_left_alone_by_default_and_zeroed_on_request() {
    let catalogue = Catalogue::numbered(60);
    let mut site = catalogue.empty_site();
    site.rows.insert(key("gone"), Some(5.0));
    site.rows.insert(key("gone-null"), None);
    site.rows.insert(key("gone-zero"), Some(0.0));
    let out = drive(options("{}"), &site, 0, |url, _| catalogue.answer(url));
    assert_eq!(out.site[&key("gone")], Some(5.0));
    assert_eq!(out.report.zeroed, 0);

    let out = drive(options(r#"{"zeroMissing": true}"#), &site, 0, |url, _| {
        catalogue.answer(url)
    });
    assert!(out.report.complete);
    assert_eq!(out.site[&key("gone")], Some(0.0));
    assert_eq!(out.site[&key("gone-null")], Some(0.0));
    assert_eq!(out.report.zeroed, 2);
    assert_eq!(out.site[&key("s0010")], Some(catalogue.expected()["s0010"]));
}

#[test]
fn zeroing_never_follows_an_incomplete_scan() {
    let catalogue = Catalogue::numbered(120);
    let mut site = catalogue.empty_site();
    site.rows.insert(key("gone"), Some(5.0));
    let out = drive(
        options(r#"{"zeroMissing": true, "maxRetries": 0}"#),
        &site,
        0,
        |url, _| {
            if page_of(url) == 3 {
                Reply::Status(500, None, String::new())
            } else {
                catalogue.answer(url)
            }
        },
    );
    assert!(!out.report.complete);
    assert_eq!(out.site[&key("gone")], Some(5.0));
}

#[test]
fn not_on_site_is_counted_with_a_sample() {
    let catalogue = Catalogue::numbered(80);
    let out = drive(
        options("{}"),
        &Site::with(&[("s0001", Some(0.0))]),
        0,
        |url, _| catalogue.answer(url),
    );
    assert_eq!(out.report.not_on_site.count, 79);
    assert_eq!(out.report.not_on_site.sample.len(), 20);
    assert_eq!(out.report.not_on_site.sample[0], "s0002");
}
