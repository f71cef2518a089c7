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
    // Page 1 is read twice: to learn the catalogue's size, then after the census.
    assert_eq!((r.offers, r.pages, r.without_sku), (5, 3, 2));
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
    assert_eq!(out.report.pages, 4, "page 1 twice");
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
    assert_eq!(out.report.pages, 4, "page 3 has next_page_url null");
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
    assert_eq!(out.report.pages, 3, "page 1 twice");
}

#[test]
fn exact_multiple_of_fifty_reads_no_extra_page() {
    let catalogue = Catalogue::numbered(150);
    let out = drive(options("{}"), &catalogue.empty_site(), 0, |url, _| {
        catalogue.answer(url)
    });
    assert_eq!(out.report.pages, 4, "page 1 twice");
    let asked: Vec<u64> = out.requests.iter().map(|(_, u)| page_of(u)).collect();
    assert_eq!(
        asked,
        [1, 3, 1, 2],
        "page 3, the census, is taken as it came"
    );
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
    assert_eq!((out.report.pages, out.report.offers), (102, 5_001));
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
    // KeyCRM now lists 340 offers and the scan saw 320 of them: it cannot show it
    // saw the catalogue, so it is not complete (and would zero nothing).
    assert!(!out.report.complete);
    let err = out
        .report
        .error
        .as_ref()
        .expect("an incomplete scan says why");
    assert_eq!(err.code, ErrorCode::BadPage);
    assert!(
        err.message
            .contains("320 distinct offers read where KeyCRM's total says 340 exist"),
        "{}",
        err.message
    );
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
    assert_eq!(out.report.cursor, None, "the next run starts afresh");
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

/// A site holding every SKU of `catalogue` at 7, plus one SKU KeyCRM lacks, to see
/// whether a run zeroes rows.
fn stocked_site(catalogue: &Catalogue) -> Site {
    let mut site = catalogue.empty_site();
    for stock in site.rows.values_mut() {
        *stock = Some(7.0);
    }
    site.rows.insert(key("not-in-keycrm"), Some(7.0));
    site
}

fn zero_missing() -> keycrm_stock_sync::SyncOptions {
    options(r#"{"zeroMissing": true}"#)
}

/// Page `n` of the catalogue with its envelope changed by `edit`.
fn edited(catalogue: &Catalogue, n: u64, edit: impl Fn(&mut serde_json::Value)) -> Reply {
    let mut page: serde_json::Value = serde_json::from_str(&catalogue.page(n)).unwrap();
    edit(&mut page);
    Reply::Body(page.to_string())
}

#[test]
fn a_page_that_repeats_the_one_before_is_read_again_not_taken() {
    let catalogue = Catalogue::numbered(150);
    let site = stocked_site(&catalogue);
    let mut stale_answers = 1;
    let out = drive(zero_missing(), &site, 0, |url, _| {
        let n = page_of(url);
        if n == 2 && stale_answers > 0 {
            // A cache in front of KeyCRM answers page 2 with page 1's rows, once.
            stale_answers -= 1;
            return edited(&catalogue, 1, |page| {
                page["current_page"] = 2.into();
                page["next_page_url"] = catalogue.page(2).parse::<serde_json::Value>().unwrap()
                    ["next_page_url"]
                    .clone();
            });
        }
        catalogue.answer(url)
    });
    assert!(out.report.complete, "{:?}", out.report.error);
    assert_eq!((out.report.offers, out.report.pages), (150, 5));
    assert_eq!(out.report.retries, 1, "page 2 was asked for again");
    for (sku, want) in catalogue.expected() {
        assert_eq!(out.site[&key(&sku)], Some(want), "{sku}");
    }
    assert_eq!(out.site[&key("not-in-keycrm")], Some(0.0));
}

#[test]
fn a_page_that_keeps_repeating_ends_the_scan_and_zeroes_nothing() {
    let catalogue = Catalogue::numbered(150);
    let site = stocked_site(&catalogue);
    let out = drive(zero_missing(), &site, 0, |url, _| {
        if page_of(url) == 2 {
            return edited(&catalogue, 1, |page| page["current_page"] = 2.into());
        }
        catalogue.answer(url)
    });
    let r = &out.report;
    assert!(!r.complete);
    let err = r.error.as_ref().unwrap();
    assert_eq!(err.code, ErrorCode::BadPage);
    assert!(
        err.message.contains("page 2 repeated offers already read"),
        "{}",
        err.message
    );
    assert_eq!(r.zeroed, 0);
    assert_eq!(out.site[&key("not-in-keycrm")], Some(7.0));
    // Offers on the page never seen keep their figure: KeyCRM still has them.
    assert_eq!(out.site[&key("s0051")], Some(7.0));
}

#[test]
fn a_contradicting_envelope_ends_the_scan_naming_the_contradiction() {
    let catalogue = Catalogue::numbered(100);
    type Edit = fn(&mut serde_json::Value);
    let cases: [(u64, Edit, &str); 6] = [
        (
            1,
            |p| p["last_page"] = 0.into(),
            "last_page 0 on page 1, with a next_page_url",
        ),
        (
            2,
            |p| p["current_page"] = 1.into(),
            "page 2 was asked for and the answer is current_page 1",
        ),
        (1, |p| p["per_page"] = 0.into(), "per_page is 0"),
        (
            1,
            |p| p["per_page"] = 20.into(),
            "50 rows on a page of per_page 20",
        ),
        (
            1,
            |p| p["last_page"] = 1.into(),
            "last_page 1 where total 100 at per_page 50 makes 2",
        ),
        (1, |p| p["total"] = 1_000_000_000_000u64.into(), "is absurd"),
    ];
    for (at, edit, named) in cases {
        let site = stocked_site(&catalogue);
        let out = drive(zero_missing(), &site, 0, |url, _| {
            let n = page_of(url);
            if n == at {
                return edited(&catalogue, n, edit);
            }
            catalogue.answer(url)
        });
        let r = &out.report;
        assert!(!r.complete, "{named}");
        let err = r.error.as_ref().unwrap();
        assert_eq!(err.code, ErrorCode::BadPage, "{named}");
        assert!(err.message.contains(named), "{named}: {}", err.message);
        assert_eq!(r.zeroed, 0, "{named}");
        assert_eq!(out.site[&key("not-in-keycrm")], Some(7.0), "{named}");
        let first_row = format!("s{:04}", (at - 1) * 50 + 1);
        assert_eq!(
            out.site[&key(&first_row)],
            Some(7.0),
            "{named}: no row of a contradicting page is written"
        );
    }
}

#[test]
fn fewer_distinct_offers_than_total_is_not_a_complete_scan() {
    let mut catalogue = Catalogue::numbered(100);
    catalogue.without_last_page = true;
    let site = stocked_site(&catalogue);
    let out = drive(zero_missing(), &site, 0, |url, _| {
        // Two pages end the listing, yet KeyCRM counts 500 offers.
        edited(&catalogue, page_of(url), |page| page["total"] = 500.into())
    });
    let r = &out.report;
    assert!(!r.complete);
    let err = r.error.as_ref().unwrap();
    assert_eq!(err.code, ErrorCode::BadPage);
    assert!(
        err.message
            .contains("100 distinct offers read where KeyCRM's total says 500 exist"),
        "{}",
        err.message
    );
    assert_eq!((r.zeroed, r.cursor.clone()), (0, None));
    assert_eq!(out.site[&key("not-in-keycrm")], Some(7.0));
    // What was read is real, and written.
    assert_eq!(out.site[&key("s0100")], Some(catalogue.expected()["s0100"]));
}

#[test]
fn a_complete_scan_still_zeroes() {
    let catalogue = Catalogue::numbered(120);
    let out = drive(zero_missing(), &stocked_site(&catalogue), 0, |url, _| {
        catalogue.answer(url)
    });
    assert!(out.report.complete, "{:?}", out.report.error);
    assert_eq!(out.report.zeroed, 1);
    assert_eq!(out.site[&key("not-in-keycrm")], Some(0.0));
}

#[test]
fn pages_that_never_end_and_announce_nothing_end_the_scan() {
    // Pages of new offers, each with a next_page_url, no total, no last_page.
    let out = drive(options("{}"), &Site::default(), 0, |url, _| {
        let n = page_of(url);
        let rows: Vec<String> = (0..2)
            .map(|i| format!(r#"{{"id":{},"quantity":0,"reserve":0}}"#, n * 2 + i))
            .collect();
        Reply::Body(format!(
            r#"{{"current_page":{n},"next_page_url":"x","data":[{}]}}"#,
            rows.join(",")
        ))
    });
    let r = &out.report;
    let err = r.error.as_ref().expect("the scan ends");
    assert_eq!(err.code, ErrorCode::BadPage);
    assert!(err.message.contains("20001 pages read"), "{}", err.message);
    assert_eq!(r.pages, 20_001);
    assert!(r.requests <= 20_001 + 4, "{} requests", r.requests);
}

/// Between the reads of pages 1 and 2, offer 10 is deleted and offer 151 added at
/// the end: `total` stays 150, offer 51 moves onto page 1, which was read, and is
/// never seen. The scan cannot show it saw every offer: it ends with
/// `CATALOGUE_CHANGED`, zeroes nothing, leaves no cursor, and keeps what it wrote;
/// the next scan, in a settled catalogue, is complete.
#[test]
fn a_deletion_hidden_by_an_addition_is_not_a_complete_scan() {
    let mut catalogue = Catalogue::numbered(150);
    let site = stocked_site(&catalogue);
    let mut changed = false;
    let out = drive(zero_missing(), &site, 0, |url, _| {
        if page_of(url) == 2 && !changed {
            changed = true;
            catalogue.rows.remove(9);
            catalogue.rows.push(offer(151, "s0151", 5.0, 0.0));
        }
        catalogue.answer(url)
    });
    let r = &out.report;
    assert!(!r.complete, "offer 51 was never read: {r:?}");
    let err = r.error.as_ref().expect("an error");
    assert_eq!(err.code, ErrorCode::CatalogueChanged, "{}", err.message);
    assert!(
        err.message
            .contains("149 of the 150 offers KeyCRM had at its start (ids up to 150)"),
        "{}",
        err.message
    );
    assert_eq!((r.zeroed, r.cursor.clone()), (0, None));
    assert_eq!(
        out.site[&key("s0051")],
        Some(7.0),
        "not zeroed, not written"
    );
    assert_eq!(out.site[&key("not-in-keycrm")], Some(7.0));
    assert_eq!(out.site[&key("s0052")], Some(catalogue.expected()["s0052"]));

    let site = Site {
        rows: out.site,
        fail_write: None,
    };
    let again = drive(zero_missing(), &site, 0, |url, _| catalogue.answer(url));
    assert!(again.report.complete, "{:?}", again.report.error);
    assert_eq!(
        again.site[&key("s0051")],
        Some(catalogue.expected()["s0051"])
    );
    assert_eq!(again.site[&key("not-in-keycrm")], Some(0.0));
}

/// Deletions alone, or additions alone, between two pages do not stop a scan
/// from showing it is complete.
#[test]
fn deletions_or_additions_alone_still_end_complete() {
    for delete in [true, false] {
        let mut catalogue = Catalogue::numbered(150);
        let site = stocked_site(&catalogue);
        let mut changed = false;
        let out = drive(zero_missing(), &site, 0, |url, _| {
            if page_of(url) == 2 && !changed {
                changed = true;
                if delete {
                    catalogue.rows.remove(9);
                } else {
                    catalogue.rows.push(offer(151, "s0151", 5.0, 0.0));
                }
            }
            catalogue.answer(url)
        });
        let r = &out.report;
        assert!(r.complete, "delete {delete}: {:?}", r.error);
        for (sku, want) in catalogue.expected() {
            assert_eq!(
                out.site.get(&key(&sku)).copied().flatten(),
                Some(want).filter(|_| sku != "s0151"),
                "{sku}"
            );
        }
        assert_eq!(out.site[&key("not-in-keycrm")], Some(0.0));
    }
}
