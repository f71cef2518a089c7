//! SKU rules, availability (reserve × warehouses × rounding), diffing, dry runs and
//! zeroing, over whole runs.

mod common;

use common::*;
use keycrm_stock_sync::ledger::{sku_hash, SkuHashes};
use keycrm_stock_sync::pagination::ScanCursor;
use keycrm_stock_sync::webhook::parse_stock_webhook;
use keycrm_stock_sync::{
    Action, ErrorCode, SiteStock, StockKey, SyncEngine, SyncOptions, SyncReport,
};
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
fn a_sku_on_two_offers_of_one_page_holds_the_smallest_figure() {
    let body = one_page(json!([
        {"id": 1, "sku": "dup", "quantity": 5, "reserve": 0},
        {"id": 2, "sku": "ok", "quantity": 2, "reserve": 0},
        {"id": 3, "sku": "dup", "quantity": 9, "reserve": 0},
        {"id": 4, "sku": "dup3", "quantity": 9, "reserve": 0},
        {"id": 5, "sku": "dup3", "quantity": 6, "reserve": 2},
        {"id": 6, "sku": "dup3", "quantity": 7, "reserve": 0}
    ]));
    let site = Site::with(&[("dup", Some(1.0)), ("ok", Some(0.0)), ("dup3", Some(0.0))]);
    let out = drive(options("{}"), &site, 0, |_, _| Reply::Body(body.clone()));
    assert!(out.report.complete);
    assert_eq!(out.report.duplicate_skus, ["dup", "dup3"]);
    assert_eq!(out.site[&key("dup")], Some(5.0));
    assert_eq!(out.site[&key("dup3")], Some(4.0));
    assert_eq!(out.site[&key("ok")], Some(2.0));
    let written: Vec<_> = out.writes.iter().flatten().map(|c| &c.sku).collect();
    assert_eq!(
        written,
        ["dup", "ok", "dup3"],
        "one write a row, with the smallest"
    );
}

#[test]
fn a_sku_found_again_pages_later_is_lowered_to_the_smaller_figure() {
    // Offer 3 (page 1) holds 3 % 7 + 3 = 6 units, reserve 3 % 3 = 0.
    for (later, expected, writes) in [(1.0, 1.0, 2), (40.0, 6.0, 1)] {
        let mut catalogue = Catalogue::numbered(120);
        catalogue.rows[110] = offer(111, "s0003", later, 0.0); // page 3 reuses page 1's SKU
        let site = Site::with(&[("s0003", Some(77.0)), ("s0001", Some(0.0))]);
        let out = drive(options("{}"), &site, 0, |url, _| catalogue.answer(url));
        assert!(out.report.complete, "{:?}", out.report.error);
        assert_eq!(out.report.duplicate_skus, ["s0003"]);
        assert_eq!(
            out.site[&key("s0003")],
            Some(expected),
            "later offer {later}"
        );
        let figures: Vec<_> = out
            .writes
            .iter()
            .flatten()
            .filter(|c| c.sku == "s0003")
            .map(|c| c.stock)
            .collect();
        assert_eq!(figures.len(), writes, "{figures:?}");
        assert!(
            figures.iter().all(|f| f.is_some()),
            "never NULL: {figures:?}"
        );
    }
}

/// On a site where the newest observation wins, a shared SKU's smallest figure is
/// not refused as older than the larger figure the same run wrote before it: page 1
/// is retried, so its request starts after page 2's, yet page 2's answer, with the
/// smaller figure, comes after page 1's rows were written, and must win. The row
/// has no figure (NULL), so page 1's is written at once rather than held as a raise.
#[test]
fn a_shared_skus_smallest_figure_is_as_fresh_as_the_figures_it_was_chosen_from() {
    let mut catalogue = Catalogue::numbered(60);
    catalogue.rows[0] = offer(1, "dup", 16.0, 0.0);
    catalogue.rows[55] = offer(56, "dup", 10.0, 0.0);
    let site = Site::with(&[("dup", None)]);
    let mut page_1_calls = 0;
    let out = drive(
        options(r#"{"maxConcurrentRequests": 2}"#),
        &site,
        100,
        |url, _| {
            if page_of(url) == 1 {
                page_1_calls += 1;
                if page_1_calls == 1 {
                    // Answered after page 2 was asked for ahead.
                    let failed = Reply::Status(503, None, String::new());
                    return Reply::After(3_000, Box::new(failed));
                }
            }
            if page_of(url) == 2 {
                // Asked for early, answered after page 1's rows were written.
                return Reply::After(6_000, Box::new(catalogue.answer(url)));
            }
            catalogue.answer(url)
        },
    );
    assert!(out.report.complete, "{:?}", out.report.error);
    let starts: Vec<(u64, u64)> = out.requests.iter().map(|(t, u)| (page_of(u), *t)).collect();
    let started = |page: u64| starts.iter().rev().find(|(p, _)| *p == page).unwrap().1;
    assert!(
        started(1) > started(2),
        "page 1 was asked for last: {starts:?}"
    );
    let dup: Vec<(Option<f64>, Option<u64>)> = out
        .writes
        .iter()
        .flatten()
        .filter(|c| c.sku == "dup")
        .map(|c| (c.stock, c.observed_at))
        .collect();
    assert_eq!(dup.len(), 2, "{dup:?}");
    assert_eq!(dup[1].0, Some(10.0), "{dup:?}");
    // A sink keeping the newest observation skips a change observed before the
    // row's figure: the smaller figure must not look older than the larger one.
    assert!(dup[1].1 >= dup[0].1, "{dup:?}");
    assert_eq!(out.site[&key("dup")], Some(10.0));
}

/// What a complete run leaves in the rows of a SKU shared by two offers does not
/// depend on an interrupted run before it.
#[test]
fn an_interrupted_run_does_not_change_what_a_complete_run_leaves() {
    for (first, later) in [(3.0, 1.0), (3.0, 50.0), (0.0, 2.0)] {
        let mut catalogue = Catalogue::numbered(150);
        catalogue.rows[1] = offer(2, "s0002", first, 0.0); // page 1
        catalogue.rows[139] = offer(140, "s0002", later, 0.0); // page 3
        let mut site = catalogue.empty_site();
        site.rows.insert(key("s0002"), Some(77.0));

        let alone = drive(options("{}"), &site, 0, |url, _| catalogue.answer(url));
        assert!(alone.report.complete);

        let cut = drive(options(r#"{"maxRequests": 2}"#), &site, 0, |url, _| {
            catalogue.answer(url)
        });
        let cut_error = cut.report.error.as_ref().map(|e| e.code);
        assert_eq!(cut_error, Some(ErrorCode::BudgetExhausted));
        assert_eq!(
            cut.site[&key("s0002")],
            Some(first),
            "only page 1's offer was read"
        );
        let after_cut = Site {
            rows: cut.site,
            fail_write: None,
        };
        let complete = drive(options("{}"), &after_cut, 0, |url, _| catalogue.answer(url));
        assert!(complete.report.complete);

        assert_eq!(complete.site, alone.site, "{first} then {later}");
        assert_eq!(alone.site[&key("s0002")], Some(first.min(later)));
    }
}

#[test]
fn per_warehouse_rows_of_a_shared_sku_hold_the_smallest_per_warehouse() {
    let body = one_page(json!([
        {"id": 1, "sku": "dup", "quantity": 9, "reserve": 0, "warehouse": [
            {"id": 1, "name": "A", "quantity": 4, "reserve": 0},
            {"id": 2, "name": "B", "quantity": 5, "reserve": 0}]},
        {"id": 2, "sku": "dup", "quantity": 9, "reserve": 0, "warehouse": [
            {"id": 1, "name": "A", "quantity": 8, "reserve": 0},
            {"id": 2, "name": "B", "quantity": 1, "reserve": 0}]}
    ]));
    let wkey = |w| StockKey {
        sku: "dup".into(),
        warehouse_id: Some(w),
    };
    let mut site = Site::default();
    site.rows.insert(wkey(1), Some(0.0));
    site.rows.insert(wkey(2), Some(0.0));
    let out = drive(options(r#"{"perWarehouse": true}"#), &site, 0, |_, _| {
        Reply::Body(body.clone())
    });
    assert!(out.report.complete, "{:?}", out.report.error);
    assert_eq!(out.site[&wkey(1)], Some(4.0));
    assert_eq!(out.site[&wkey(2)], Some(1.0));
}

#[test]
fn a_warehouse_listed_twice_in_a_row_is_written_once_at_its_smaller_figure() {
    // Offer 1 lists warehouse 1 twice, the smaller figure second; offer 2, first.
    let body = one_page(json!([
        {"id": 1, "sku": "a", "quantity": 9, "reserve": 0, "warehouse": [
            {"id": 1, "name": "A", "quantity": 5, "reserve": 0},
            {"id": 2, "name": "B", "quantity": 2, "reserve": 0},
            {"id": 1, "name": "A", "quantity": 3, "reserve": 0}]},
        {"id": 2, "sku": "b", "quantity": 9, "reserve": 0, "warehouse": [
            {"id": 1, "name": "A", "quantity": 3, "reserve": 0},
            {"id": 1, "name": "A", "quantity": 5, "reserve": 0}]}
    ]));
    let wkey = |sku: &str, w| StockKey {
        sku: sku.into(),
        warehouse_id: Some(w),
    };
    let mut site = Site::default();
    for (sku, w) in [("a", 1), ("a", 2), ("b", 1)] {
        site.rows.insert(wkey(sku, w), Some(9.0));
    }
    let out = drive(options(r#"{"perWarehouse": true}"#), &site, 0, |_, _| {
        Reply::Body(body.clone())
    });
    assert!(out.report.complete, "{:?}", out.report.error);
    let written: Vec<_> = out
        .writes
        .concat()
        .into_iter()
        .map(|c| (c.sku, c.warehouse_id, c.stock))
        .collect();
    assert_eq!(
        written,
        [
            ("a".to_string(), Some(2), Some(2.0)),
            ("a".to_string(), Some(1), Some(3.0)),
            ("b".to_string(), Some(1), Some(3.0)),
        ]
    );
    assert_eq!((out.report.updated, out.report.unchanged), (3, 0));
}

/// Runs a stock-webhook engine against a fake site.
fn apply_webhook(body: &str, site: &Site) -> (SyncReport, Site) {
    let rows = parse_stock_webhook(body, 1_000).unwrap();
    let mut engine = SyncEngine::for_stock_webhook(options("{}"), 0, &rows).unwrap();
    let mut site = site.clone();
    loop {
        match engine.poll(0) {
            Action::ReadSite(keys) => {
                let found = keys
                    .iter()
                    .filter_map(|k| {
                        site.rows.get(k).map(|stock| SiteStock {
                            sku: k.sku.clone(),
                            warehouse_id: None,
                            stock: *stock,
                            observed_at: None,
                        })
                    })
                    .collect();
                engine.handle_site_stock(found);
            }
            Action::WriteSite(changes) => {
                for c in changes {
                    assert!(c.stock.is_some_and(f64::is_finite), "{c:?}");
                    site.rows.insert(key(&c.sku), c.stock);
                }
                engine.handle_written();
            }
            Action::Done(report) => return (*report, site),
            other => panic!("a stock webhook asks KeyCRM nothing, got {other:?}"),
        }
    }
}

#[test]
fn a_stock_webhook_gives_a_shared_sku_the_smallest_figure() {
    let site = Site::with(&[("dup", Some(7.0))]);
    let body = r#"[{"offer_id":2,"sku":"dup","in_stock":4,"in_reserve":1},
                   {"offer_id":3,"sku":"dup","in_stock":9,"in_reserve":0},
                   {"offer_id":2,"sku":"dup","in_stock":2,"in_reserve":0}]"#;
    let (report, site) = apply_webhook(body, &site);
    assert_eq!(
        site.stock("dup"),
        Some(2.0),
        "offer 2's last row, below offer 3's"
    );
    assert_eq!(report.duplicate_skus, ["dup"]);
}

#[test]
fn figures_beyond_the_ceiling_are_bad_pages_and_nothing_is_written_from_them() {
    for (quantity, reserve) in [
        (json!(1.7e308), json!(-1.7e308)),
        (json!(1e302), json!(0)),
        (json!(5), json!(-1e302)),
        (json!("1e999"), json!(0)),
    ] {
        let body = one_page(json!([
            {"id": 1, "sku": "a", "quantity": quantity, "reserve": reserve}
        ]));
        let site = Site::with(&[("a", Some(3.0))]);
        let out = drive(options(r#"{"maxRetries": 0}"#), &site, 0, |_, _| {
            Reply::Body(body.clone())
        });
        let err = out.report.error.as_ref().expect("refused");
        assert_eq!(err.code, ErrorCode::BadPage, "{quantity} / {reserve}");
        assert!(out.writes.is_empty(), "{:?}", out.writes);
        assert_eq!(out.site[&key("a")], Some(3.0));
    }
}

#[test]
fn warehouse_sums_beyond_the_ceiling_are_bad_pages() {
    let body = one_page(json!([
        {"id": 1, "sku": "a", "quantity": 1, "reserve": 0, "warehouse": [
            {"id": 1, "name": "A", "quantity": 9e14, "reserve": 0},
            {"id": 2, "name": "B", "quantity": 9e14, "reserve": 0}]}
    ]));
    let site = Site::with(&[("a", Some(3.0))]);
    let out = drive(options(r#"{"warehouses": [1, 2]}"#), &site, 0, |_, _| {
        Reply::Body(body.clone())
    });
    assert_eq!(out.report.error.map(|e| e.code), Some(ErrorCode::BadPage));
    assert!(out.writes.is_empty());
}

#[test]
fn a_negative_reserve_never_raises_what_can_be_sold() {
    let body = one_page(json!([
        {"id": 1, "sku": "a", "quantity": 5, "reserve": -3},
        {"id": 2, "sku": "b", "quantity": -4, "reserve": -10}
    ]));
    let site = Site::with(&[("a", Some(0.0)), ("b", Some(9.0))]);
    let out = drive(options("{}"), &site, 0, |_, _| Reply::Body(body.clone()));
    assert!(out.report.complete);
    assert_eq!(out.site[&key("a")], Some(5.0));
    assert_eq!(out.site[&key("b")], Some(0.0));

    let (_, site) = apply_webhook(
        r#"[{"offer_id":1,"sku":"a","in_stock":5,"in_reserve":-3}]"#,
        &Site::with(&[("a", Some(0.0))]),
    );
    assert_eq!(site.stock("a"), Some(5.0));
}

#[test]
fn a_stock_webhook_with_figures_beyond_the_ceiling_is_refused() {
    for row in [
        r#"{"offer_id":1,"sku":"a","in_stock":1e302,"in_reserve":0}"#,
        r#"{"offer_id":1,"sku":"a","in_stock":1.7e308,"in_reserve":-1.7e308}"#,
    ] {
        let body = format!(r#"[{{"offer_id":2,"sku":"b","in_stock":1,"in_reserve":0}},{row}]"#);
        let err = parse_stock_webhook(&body, 10).unwrap_err();
        assert_eq!(err.code, ErrorCode::BadWebhook, "{row}");
        assert!(err.message.starts_with("row 1: `in_"), "{}", err.message);
    }
}

#[test]
fn a_sku_holding_nul_is_skipped_and_reported_and_the_rest_is_written() {
    let body = one_page(json!([
        {"id": 1, "sku": "a", "quantity": 5, "reserve": 0},
        {"id": 2, "sku": "bad\0sku", "quantity": 5, "reserve": 0},
        {"id": 3, "sku": "c", "quantity": 2, "reserve": 0}
    ]));
    let site = Site::with(&[("a", Some(0.0)), ("bad\0sku", Some(1.0)), ("c", Some(0.0))]);
    let out = drive(options(r#"{"zeroMissing": true}"#), &site, 0, |_, _| {
        Reply::Body(body.clone())
    });
    assert!(out.report.complete, "{:?}", out.report.error);
    assert_eq!(out.report.invalid_skus, [2]);
    assert_eq!(out.report.offers, 3);
    assert!(
        out.writes.iter().flatten().all(|c| !c.sku.contains('\0')),
        "never written, not even zeroed: {:?}",
        out.writes
    );
    assert_eq!(out.site[&key("a")], Some(5.0));
    assert_eq!(out.site[&key("c")], Some(2.0));
    assert_eq!(out.site[&key("bad\0sku")], Some(1.0));

    let (report, site) = apply_webhook(
        r#"[{"offer_id":2,"sku":"bad\u0000sku","in_stock":4,"in_reserve":0},
            {"offer_id":1,"sku":"a","in_stock":3,"in_reserve":0}]"#,
        &Site::with(&[("a", Some(0.0))]),
    );
    assert!(report.complete);
    assert_eq!(report.invalid_skus, [2]);
    assert_eq!(site.stock("a"), Some(3.0));
    assert_eq!(site.rows.len(), 1);
}

#[test]
fn a_page_row_missing_a_figure_is_a_bad_page_naming_it() {
    for (row, field) in [
        (json!({"id": 1, "sku": "a", "quantity": 5}), "`reserve`"),
        (json!({"id": 1, "sku": "a", "reserve": 0}), "`quantity`"),
        (
            json!({"id": 1, "sku": "a", "quantity": 5, "reserve": null}),
            "`reserve` is null",
        ),
        (json!({"sku": "a", "quantity": 5, "reserve": 0}), "`id`"),
    ] {
        let body = one_page(json!([row]));
        let out = drive(
            options(r#"{"maxRetries": 0}"#),
            &Site::with(&[("a", Some(1.0))]),
            0,
            |_, _| Reply::Body(body.clone()),
        );
        let err = out.report.error.expect("refused");
        assert_eq!(err.code, ErrorCode::BadPage);
        assert!(err.message.contains(field), "{row}: {}", err.message);
        assert!(out.writes.is_empty());
    }
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

/// Runs one slice of a pass: a complete run, or one cut by `maxRequests`, resumed
/// from `cursor` when given. Returns the outcome and the site after it.
fn slice(
    catalogue: &Catalogue,
    site: &Site,
    max_requests: Option<u32>,
    cursor: Option<&ScanCursor>,
) -> (SyncReport, Site) {
    let mut bag = json!({});
    if let Some(max) = max_requests {
        bag["maxRequests"] = json!(max);
    }
    if let Some(cursor) = cursor {
        bag["resumeFrom"] = serde_json::to_value(cursor).unwrap();
    }
    let out = drive(options(&bag.to_string()), site, 0, |url, _| {
        catalogue.answer(url)
    });
    let after = Site {
        rows: out.site,
        fail_write: None,
    };
    (out.report, after)
}

/// Offer 2 (page 1) and offer 140 (page 3) share SKU `s0002`.
fn shared_across_pages(first: f64, later: f64) -> (Catalogue, Site) {
    let mut catalogue = Catalogue::numbered(150);
    catalogue.rows[1] = offer(2, "s0002", first, 0.0);
    catalogue.rows[139] = offer(140, "s0002", later, 0.0);
    let mut site = catalogue.empty_site();
    site.rows.insert(key("s0002"), Some(77.0));
    (catalogue, site)
}

/// A pass cut after page 1 and resumed from its cursor leaves what one complete
/// scan leaves: the resumed run knows the SKUs the pass applied before.
#[test]
fn a_pass_resumed_from_its_cursor_leaves_a_shared_sku_the_smallest_figure() {
    for (first, later) in [(3.0, 50.0), (3.0, 1.0), (0.0, 2.0)] {
        let (catalogue, site) = shared_across_pages(first, later);
        let (alone, whole) = slice(&catalogue, &site, None, None);
        assert!(alone.complete);

        // Page 1, page 3 (the census), page 1 again.
        let (cut, after_cut) = slice(&catalogue, &site, Some(3), None);
        assert_eq!(
            cut.error.as_ref().map(|e| e.code),
            Some(ErrorCode::BudgetExhausted)
        );
        let cursor = cut.cursor.expect("a cursor to resume from");
        assert_eq!((cursor.page, cursor.last_offer_id), (2, Some(50)));
        assert_eq!(cursor.skus.len(), 50, "the SKUs of page 1");
        assert!(cut.duplicate_skus.is_empty());

        let (resumed, end) = slice(&catalogue, &after_cut, None, Some(&cursor));
        assert!(resumed.complete, "{:?}", resumed.error);
        assert_eq!(resumed.cursor, None, "a complete pass leaves no cursor");
        assert_eq!(resumed.duplicate_skus, ["s0002"], "{first} then {later}");
        assert_eq!(end.rows, whole.rows, "{first} then {later}");
        assert_eq!(end.stock("s0002"), Some(first.min(later)));
    }
}

/// Three runs: the SKUs travel through every cursor of the pass.
#[test]
fn a_pass_over_three_runs_leaves_what_one_complete_scan_leaves() {
    let mut catalogue = Catalogue::numbered(200);
    catalogue.rows[0] = offer(1, "x", 4.0, 0.0); // page 1
    catalogue.rows[189] = offer(190, "x", 6.0, 0.0); // page 4
    catalogue.rows[60] = offer(61, "y", 7.0, 0.0); // page 2
    catalogue.rows[110] = offer(111, "y", 2.0, 0.0); // page 3
    let mut site = catalogue.empty_site();
    site.rows.insert(key("x"), Some(50.0));
    site.rows.insert(key("y"), None);
    let (alone, whole) = slice(&catalogue, &site, None, None);
    assert!(alone.complete);
    assert_eq!((whole.stock("x"), whole.stock("y")), (Some(4.0), Some(2.0)));

    // Page 1, page 4 (the census), pages 1 and 2.
    let (first, site) = slice(&catalogue, &site, Some(4), None);
    assert_eq!(first.cursor.as_ref().map(|c| c.page), Some(3));
    let (second, site) = slice(&catalogue, &site, Some(2), first.cursor.as_ref());
    let cursor = second.cursor.clone().expect("a cursor after pages 2 and 3");
    assert_eq!(cursor.page, 4);
    assert_eq!(second.duplicate_skus, ["y"]);
    let (third, site) = slice(&catalogue, &site, None, Some(&cursor));
    assert!(third.complete, "{:?}", third.error);
    assert_eq!(third.duplicate_skus, ["x"], "page 3 read again is not new");
    assert_eq!(site.rows, whole.rows);
}

/// A cursor of an earlier version (no `skus`, no `census`) still resumes; it knows
/// nothing of the SKUs before it, so the row holds the later offer's figure until
/// the next pass, and nothing of the catalogue when the pass started, so the pass
/// cannot show it saw every offer: it ends with `CATALOGUE_CHANGED` and no cursor,
/// and the next run starts afresh.
#[test]
fn a_cursor_without_skus_still_resumes() {
    let mut catalogue = Catalogue::numbered(200);
    catalogue.rows[1] = offer(2, "s0002", 3.0, 0.0);
    catalogue.rows[189] = offer(190, "s0002", 50.0, 0.0);
    let mut site = catalogue.empty_site();
    site.rows.insert(key("s0002"), Some(77.0));
    // Page 1, page 4 (the census), pages 1 and 2.
    let (cut, after_cut) = slice(&catalogue, &site, Some(4), None);
    let cursor = cut.cursor.expect("a cursor");
    let old =
        json!({"page": cursor.page, "total": cursor.total, "lastOfferId": cursor.last_offer_id});
    let parsed = options(&json!({ "resumeFrom": old }).to_string());
    let parsed = parsed.resume_from.expect("resumeFrom");
    assert!(parsed.skus.is_empty());
    assert_eq!(
        serde_json::to_value(&parsed).unwrap(),
        old,
        "no skus field when none are known"
    );
    let (resumed, end) = slice(&catalogue, &after_cut, None, Some(&parsed));
    assert!(!resumed.complete);
    let error = resumed.error.expect("an error");
    assert_eq!(error.code, ErrorCode::CatalogueChanged, "{}", error.message);
    assert!(error.message.contains("no census"), "{}", error.message);
    assert_eq!(resumed.cursor, None);
    assert!(resumed.duplicate_skus.is_empty());
    assert_eq!(end.stock("s0002"), Some(50.0));
    assert_eq!(
        end.stock("s0200"),
        catalogue.expected().get("s0200").copied()
    );
}

#[test]
fn a_cursor_with_malformed_skus_is_invalid_config_naming_resume_from() {
    let good = SkuHashes::from_hashes(vec![sku_hash("a"), sku_hash("b")]).encode();
    let accepted =
        SyncOptions::from_json(&json!({"resumeFrom": {"page": 3, "skus": good}}).to_string())
            .expect("a cursor with skus");
    assert!(accepted.resume_from.unwrap().skus.contains_sku("b"));
    for skus in [
        json!("not base64!"),
        json!("AQAAAAAAAA"),
        json!(&good[..good.len() - 1]),
        json!(7),
        json!(["a"]),
    ] {
        let text = json!({"resumeFrom": {"page": 3, "skus": skus}}).to_string();
        let err = SyncOptions::from_json(&text).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidConfig, "{text}");
        assert!(
            err.message.contains("resumeFrom.skus"),
            "{text}: {}",
            err.message
        );
    }
}

/// Slices of a pass, as a Worker runs them (each resumed from the last one's
/// cursor, cut after a few requests), over random catalogues full of shared SKUs,
/// leave exactly what one complete scan leaves.
#[test]
fn a_pass_in_many_slices_leaves_what_one_complete_scan_leaves() {
    for seed in 1..=40u64 {
        let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let mut next = |below: u64| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) % below
        };
        let offers = 250 + next(300);
        let pool = 10 + next(offers);
        let mut catalogue = Catalogue::numbered(offers);
        for (i, row) in catalogue.rows.iter_mut().enumerate() {
            let sku = format!("k{}", next(pool));
            *row = offer(i as u64 + 1, &sku, next(30) as f64, next(4) as f64);
        }
        let mut site = Site::default();
        for n in 0..pool {
            let stock = match next(4) {
                0 => None,
                _ => Some(next(40) as f64),
            };
            if next(8) > 0 {
                site.rows.insert(key(&format!("k{n}")), stock);
            }
        }
        let (alone, whole) = slice(&catalogue, &site, None, None);
        assert!(alone.complete, "seed {seed}: {:?}", alone.error);

        let mut cursor: Option<ScanCursor> = None;
        let mut slices = 0;
        loop {
            slices += 1;
            assert!(slices < 100, "seed {seed}: the pass never ended");
            let budget = 2 + next(3) as u32;
            let (report, after) = slice(&catalogue, &site, Some(budget), cursor.as_ref());
            site = after;
            if report.complete {
                break;
            }
            cursor = Some(report.cursor.expect("a cursor after each slice"));
        }
        assert!(slices >= 2, "seed {seed}: one slice read everything");
        let differing: Vec<_> = whole
            .rows
            .iter()
            .filter(|(key, stock)| site.rows.get(key) != Some(stock))
            .map(|(key, stock)| (&key.sku, site.rows.get(key), stock))
            .collect();
        assert!(
            differing.is_empty() && site.rows.len() == whole.rows.len(),
            "seed {seed} in {slices} slices: (sku, sliced, whole) {differing:?}"
        );
    }
}

/// Offer 2 (page 1) and offer 120 (page 3) share SKU `dup`, the larger figure
/// first: 12 units, then 4.
fn larger_first_pages_apart(start: Option<f64>) -> (Catalogue, Site) {
    let mut catalogue = Catalogue::numbered(250);
    catalogue.rows[1] = offer(2, "dup", 12.0, 0.0);
    catalogue.rows[119] = offer(120, "dup", 4.0, 0.0);
    let mut site = catalogue.empty_site();
    site.rows.remove(&key("s0002"));
    site.rows.remove(&key("s0120"));
    site.rows.insert(key("dup"), start);
    (catalogue, site)
}

/// The distinct rows a run wrote.
fn rows_written(writes: &[Vec<keycrm_stock_sync::StockChange>]) -> usize {
    let keys: std::collections::BTreeSet<_> = writes
        .iter()
        .flatten()
        .map(|c| (c.sku.clone(), c.warehouse_id))
        .collect();
    keys.len()
}

/// A raise is held until the run ends, by which time the run has met every
/// offer of the SKU: the site never shows the larger figure of a shared SKU whose
/// smaller one comes pages later, the row is written once, and a second run over
/// the unchanged catalogue writes nothing.
#[test]
fn a_shared_sku_pages_apart_never_shows_the_larger_figure_and_a_second_run_writes_nothing() {
    for start in [Some(2.0), Some(7.0), Some(77.0), None] {
        let (catalogue, site) = larger_first_pages_apart(start);
        let first = drive(options("{}"), &site, 0, |url, _| catalogue.answer(url));
        assert!(first.report.complete, "{:?}", first.report.error);
        assert_eq!(first.report.duplicate_skus, ["dup"]);
        assert_eq!(first.site[&key("dup")], Some(4.0), "from {start:?}");
        let dup: Vec<Option<f64>> = first
            .writes
            .iter()
            .flatten()
            .filter(|c| c.sku == "dup")
            .map(|c| c.stock)
            .collect();
        // From 2 and 7, 12 is a raise and waits: only 4 is written. From 77 or
        // NULL, 12 is written with page 1 (below what the site showed), then 4.
        let expected: &[Option<f64>] = match start {
            Some(s) if s < 12.0 => &[Some(4.0)],
            _ => &[Some(12.0), Some(4.0)],
        };
        assert_eq!(dup, expected, "from {start:?}");
        assert_eq!(
            first.report.updated as usize,
            rows_written(&first.writes),
            "a row written twice counts once, from {start:?}"
        );

        let again = Site {
            rows: first.site.clone(),
            fail_write: None,
        };
        let second = drive(options("{}"), &again, 0, |url, _| catalogue.answer(url));
        assert!(second.report.complete, "{:?}", second.report.error);
        assert_eq!(second.writes, Vec::<Vec<_>>::new(), "from {start:?}");
        assert_eq!(second.report.updated, 0);
        assert_eq!(second.site, first.site);

        let dry = drive(options(r#"{"dryRun": true}"#), &site, 0, |url, _| {
            catalogue.answer(url)
        });
        assert_eq!(
            dry.report.updated, first.report.updated,
            "a dry run counts what a run writes, from {start:?}"
        );
    }
}

/// Held raises are written in the order their rows were read, across pages and
/// batches, each once.
#[test]
fn held_raises_are_written_in_the_order_read() {
    let catalogue = Catalogue::numbered(180);
    let out = drive(
        options(r#"{"batchSize": 40}"#),
        &catalogue.empty_site(),
        0,
        |url, _| catalogue.answer(url),
    );
    assert!(out.report.complete, "{:?}", out.report.error);
    let written: Vec<&str> = out
        .writes
        .iter()
        .flatten()
        .map(|c| c.sku.as_str())
        .collect();
    let read: Vec<String> = (1..=180).map(|id| format!("s{id:04}")).collect();
    assert_eq!(written, read);
    assert!(out.writes.iter().all(|w| w.len() <= 40));
}

/// Held raises are written however the run ends, except when the site itself
/// failed: by the deadline, by the request budget, and within a subrequest budget
/// that keeps room for them. Every row of the pages applied then holds KeyCRM's
/// figure, the shared SKU once with the smaller one, and the cursor resumes after
/// them.
#[test]
fn held_raises_are_written_when_the_run_ends_by_deadline_or_budget() {
    let cases = [
        (r#"{"deadlineMs": 4500}"#, ErrorCode::DeadlineExceeded),
        (r#"{"maxRequests": 5}"#, ErrorCode::BudgetExhausted),
        (
            r#"{"maxSubrequests": 16, "batchSize": 50}"#,
            ErrorCode::BudgetExhausted,
        ),
    ];
    for (json, code) in cases {
        let (catalogue, site) = larger_first_pages_apart(Some(0.0));
        let expected = catalogue.expected();
        let out = drive(options(json), &site, 100, |url, _| catalogue.answer(url));
        assert_eq!(
            out.report.error.as_ref().map(|e| e.code),
            Some(code),
            "{json}"
        );
        if let Some(max) =
            serde_json::from_str::<serde_json::Value>(json).unwrap()["maxSubrequests"].as_u64()
        {
            assert!(out.report.subrequests <= max, "{json}: {:?}", out.report);
        }
        let cursor = out.report.cursor.as_ref().expect("a cursor");
        let last = cursor.last_offer_id.expect("the last offer applied");
        assert!(
            last >= 120,
            "{json}: the shared SKU's second offer was read ({last})"
        );
        for id in (1..=last).filter(|id| ![2, 120].contains(id)) {
            let sku = format!("s{id:04}");
            assert_eq!(out.site[&key(&sku)], Some(expected[&sku]), "{json}: {sku}");
        }
        let dup: Vec<Option<f64>> = out
            .writes
            .iter()
            .flatten()
            .filter(|c| c.sku == "dup")
            .map(|c| c.stock)
            .collect();
        assert_eq!(dup, [Some(4.0)], "{json}");
        assert_eq!(out.report.updated as usize, rows_written(&out.writes));
        assert_eq!(out.report.updated, last - 1, "{json}");
    }
}

/// A site that fails while the rows read before a stop are written ends the run
/// with `SINK_FAILED` and no cursor: a run resumed from one would skip the rows
/// the failed write left out.
#[test]
fn a_site_failing_after_the_run_stopped_is_sink_failed_without_a_cursor() {
    let (catalogue, mut site) = larger_first_pages_apart(Some(0.0));
    // Every figure raises its row: the first write is that of the held raises,
    // after the request budget ran out.
    site.fail_write = Some(0);
    let out = drive(options(r#"{"maxRequests": 5}"#), &site, 100, |url, _| {
        catalogue.answer(url)
    });
    let error = out.report.error.as_ref().expect("an error");
    assert_eq!(error.code, ErrorCode::SinkFailed, "{error:?}");
    assert!(
        error.message.contains("BUDGET_EXHAUSTED"),
        "the stop is named too: {}",
        error.message
    );
    assert_eq!(out.report.cursor, None);
    assert_eq!(out.writes.len(), 1, "nothing is written after the failure");
    assert_eq!(out.report.updated, 0);
}
