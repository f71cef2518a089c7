//! The engine over recorded pages: stop rules, quirks of the real envelope, and
//! catalogues that change while they are read.

mod common;

use common::*;
use keycrm_stock_sync::ErrorCode;

#[test]
fn recorded_pages_with_null_sku_fractions_and_an_oversold_offer() {
    let site = Site::with(&[
        ("sku001", Some(0.0)),
        ("cable-m", Some(12.0)),
        ("mug-red", Some(1.0)),
    ]);
    let out = drive(options("{}"), &site, 50, |url, _| match page_of(url) {
        1 => Reply::Body(fixture("stocks_page_1_of_2.json")),
        2 => Reply::Body(fixture("stocks_page_2_of_2.json")),
        p => panic!("page {p} must not be asked for"),
    });
    let r = &out.report;
    assert!(r.complete, "{:?}", r.error);
    assert_eq!((r.offers, r.pages, r.without_sku), (5, 2, 2));
    // 98 − 8; floor(12.75 − 0.5); 2 − 5 clamped.
    assert_eq!(out.site[&key("sku001")], Some(90.0));
    assert_eq!(out.site[&key("cable-m")], Some(12.0));
    assert_eq!(out.site[&key("mug-red")], Some(0.0));
    assert_eq!((r.updated, r.unchanged), (2, 1));
    assert!(out.requests.iter().all(|(_, u)| u.contains("limit=50")));
}

#[test]
fn envelope_without_last_page_ends_on_the_empty_page() {
    let site = Site::with(&[("a", None), ("b", None), ("c", None), ("d", None)]);
    let out = drive(options("{}"), &site, 0, |url, _| match page_of(url) {
        1 => Reply::Body(fixture("stocks_spec_shape_page_1.json")),
        2 => Reply::Body(fixture("stocks_spec_shape_page_2.json")),
        3 => Reply::Body(fixture("stocks_spec_shape_page_3_empty.json")),
        p => panic!("page {p} must not be asked for"),
    });
    assert!(out.report.complete);
    assert_eq!(out.report.pages, 3);
    let stocks: Vec<_> = ["a", "b", "c", "d"]
        .iter()
        .map(|s| out.site[&key(s)])
        .collect();
    assert_eq!(stocks, [Some(4.0), Some(3.0), Some(0.0), Some(0.0)]);
}

#[test]
fn stops_on_null_next_page_url_alone() {
    let mut catalogue = Catalogue::numbered(120);
    catalogue.without_last_page = true;
    let out = drive(options("{}"), &catalogue.empty_site(), 0, |url, _| {
        catalogue.answer(url)
    });
    assert!(out.report.complete);
    assert_eq!(out.report.pages, 3, "page 3 has next_page_url null");
    assert_eq!(out.report.offers, 120);
}

#[test]
fn stops_at_last_page_even_if_next_url_is_not_null() {
    let catalogue = Catalogue::numbered(100);
    let out = drive(options("{}"), &catalogue.empty_site(), 0, |url, _| {
        let mut page: serde_json::Value =
            serde_json::from_str(&catalogue.page(page_of(url))).unwrap();
        page["next_page_url"] = "https://openapi.keycrm.app/v1/offers/stocks?page=99".into();
        Reply::Body(page.to_string())
    });
    assert!(out.report.complete);
    assert_eq!(out.report.pages, 2);
}

#[test]
fn exact_multiple_of_fifty_reads_no_extra_page() {
    let catalogue = Catalogue::numbered(150);
    let out = drive(options("{}"), &catalogue.empty_site(), 0, |url, _| {
        catalogue.answer(url)
    });
    assert_eq!(out.report.pages, 3);
    assert_eq!(out.report.offers, 150);
}

#[test]
fn a_large_catalogue_is_read_to_its_end() {
    // Integrations that cap the scan at 40 pages stop at 2 000 offers.
    let catalogue = Catalogue::numbered(5_001);
    let out = drive(options("{}"), &catalogue.empty_site(), 0, |url, _| {
        catalogue.answer(url)
    });
    assert!(out.report.complete);
    assert_eq!((out.report.pages, out.report.offers), (101, 5_001));
    for (sku, want) in catalogue.expected() {
        assert_eq!(out.site[&key(&sku)], Some(want), "{sku}");
    }
}

#[test]
fn empty_catalogue_is_one_request() {
    let catalogue = Catalogue::numbered(0);
    let out = drive(options("{}"), &Site::default(), 0, |url, _| {
        catalogue.answer(url)
    });
    assert!(out.report.complete);
    assert_eq!((out.report.requests, out.report.offers), (1, 0));
}

#[test]
fn offers_deleted_mid_scan_are_not_skipped() {
    let mut catalogue = Catalogue::numbered(500);
    let site = catalogue.empty_site();
    let expected = catalogue.expected();
    let out = drive(options("{}"), &site, 0, |url, _| {
        let page = page_of(url);
        // Before page 5 is read, 30 offers from pages 1–2 are deleted: everything
        // after them moves 30 places back, across the page boundary at 200.
        if page == 5 && catalogue.rows.len() == 500 {
            catalogue.rows.drain(10..40);
        }
        catalogue.answer(url)
    });
    assert!(out.report.complete);
    let survivors: Vec<String> = (1..=500u64)
        .filter(|id| !(11..=40).contains(id))
        .map(|id| format!("s{id:04}"))
        .collect();
    for sku in &survivors {
        assert_eq!(
            out.site[&key(sku)],
            Some(expected[sku]),
            "{sku} was skipped"
        );
    }
    assert_eq!(
        out.report.offers, 500,
        "offers read before their deletion count too"
    );
}

#[test]
fn offers_inserted_mid_scan_are_read_once() {
    let mut catalogue = Catalogue::numbered(300);
    let mut site = catalogue.empty_site();
    for name in ["front", "back"] {
        for id in 0..20u64 {
            site.rows.insert(key(&format!("{name}{id}")), Some(0.0));
        }
    }
    let out = drive(options("{}"), &site, 0, |url, _| {
        if page_of(url) == 3 && catalogue.rows.len() == 300 {
            // Offers in front of the read position push the rest forward, so part
            // of a page comes back a second time; new offers (higher ids) go last.
            for id in 0..20u64 {
                catalogue
                    .rows
                    .insert(0, offer(id + 1_000, &format!("front{id}"), 5.0, 0.0));
                catalogue
                    .rows
                    .push(offer(id + 2_000, &format!("back{id}"), 5.0, 0.0));
            }
        }
        catalogue.answer(url)
    });
    assert!(out.report.complete);
    assert_eq!(
        out.report.offers, 320,
        "300 originals, each once, and the 20 appended"
    );
    assert!(
        out.report.duplicate_skus.is_empty(),
        "a re-read offer is not a duplicate"
    );
    for (sku, want) in Catalogue::numbered(300).expected() {
        assert_eq!(out.site[&key(&sku)], Some(want), "{sku}");
    }
    assert_eq!(out.site[&key("back19")], Some(5.0));
    // Offers inserted behind the read position wait for the next run.
    assert_eq!(out.site[&key("front0")], Some(0.0));
}

#[test]
fn a_server_that_ignores_page_does_not_loop_forever() {
    let catalogue = Catalogue::numbered(200);
    let out = drive(options("{}"), &catalogue.empty_site(), 0, |_, _| {
        catalogue.answer("?page=1")
    });
    assert!(!out.report.complete);
    assert_eq!(out.report.error.unwrap().code, ErrorCode::BadPage);
    assert!(out.report.requests < 10, "{} requests", out.report.requests);
}

#[test]
fn sku_filter_is_chunked_and_sent() {
    let catalogue = Catalogue::numbered(200);
    let skus: Vec<String> = (1..=120).map(|id| format!("s{id:04}")).collect();
    let opts = options(&serde_json::json!({ "skus": skus }).to_string());
    let out = drive(opts, &catalogue.empty_site(), 0, |url, _| {
        let list = query_param(url, "filter%5Boffers_sku%5D").expect("filter sent");
        let wanted: Vec<&str> = list.split(',').collect();
        assert!(wanted.len() <= 50);
        let mut filtered = catalogue.clone();
        filtered
            .rows
            .retain(|r| wanted.contains(&r["sku"].as_str().unwrap()));
        filtered.answer(url)
    });
    assert!(out.report.complete);
    assert_eq!((out.report.requests, out.report.offers), (3, 120));
    assert_eq!(
        out.site[&key("s0121")],
        Some(0.0),
        "outside the filter: untouched"
    );
    assert_eq!(out.site[&key("s0120")], Some(catalogue.expected()["s0120"]));
}
