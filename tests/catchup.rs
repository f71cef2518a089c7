//! Filters KeyCRM cannot honour as asked: SKUs holding commas, and rows of offers a
//! filter did not ask for; and the catch-up of orders changed since the last check.

mod common;

use common::*;
use keycrm_stock_sync::{ErrorCode, SyncOptions};
use serde_json::{json, Value};

/// KeyCRM splits `filter[offers_sku]` on commas after decoding it, as Laravel
/// does: this serves the offers whose SKU is one of the pieces.
fn split_sku_filter(rows: &[Value], url: &str) -> Reply {
    let raw = query_param(url, "filter%5Boffers_sku%5D").expect("a SKU filter");
    let decoded = raw.replace("%2C", ",").replace("%20", " ");
    let asked: Vec<&str> = decoded.split(',').collect();
    let found: Vec<&Value> = rows
        .iter()
        .filter(|r| asked.contains(&r["sku"].as_str().unwrap()))
        .collect();
    Reply::Body(
        json!({"total": found.len(), "current_page": 1, "per_page": 50, "last_page": 1,
               "next_page_url": null, "data": found})
        .to_string(),
    )
}

#[test]
fn a_sku_holding_a_comma_is_refused_before_any_request() {
    let err = SyncOptions::from_json(r#"{"skus": ["x", "a,b"]}"#).unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidConfig);
    assert!(
        err.message.contains(r#""a,b" holds a comma"#),
        "{}",
        err.message
    );
    assert!(err.message.contains("offerIds"), "{}", err.message);
}

#[test]
fn rows_a_sku_filter_did_not_ask_for_are_not_written() {
    let rows = vec![
        offer(1, "a", 5.0, 0.0),
        offer(2, "b", 6.0, 0.0),
        offer(3, "a,b", 7.0, 0.0),
    ];
    let site = Site::with(&[("a", Some(0.0)), ("b", Some(0.0)), ("a,b", Some(0.0))]);
    // A backend that ignores the filter, or widens it, answers with every offer.
    let out = drive(options(r#"{"skus": ["a"]}"#), &site, 0, |url, _| {
        assert!(url.contains("filter%5Boffers_sku%5D=a&") || url.ends_with("=a"));
        Reply::Body(
            json!({"total": 3, "current_page": 1, "per_page": 50, "last_page": 1,
                   "next_page_url": null, "data": rows})
            .to_string(),
        )
    });
    assert!(out.report.complete, "{:?}", out.report.error);
    assert_eq!(out.site[&key("a")], Some(5.0));
    assert_eq!(out.site[&key("b")], Some(0.0), "b was not asked for");
    assert_eq!(out.site[&key("a,b")], Some(0.0), "a,b was not asked for");
    assert_eq!(out.report.offers, 1);

    let out = drive(options(r#"{"skus": ["b"]}"#), &site, 0, |url, _| {
        split_sku_filter(&rows, url)
    });
    assert_eq!(out.site[&key("b")], Some(6.0));
    assert_eq!(out.site[&key("a")], Some(0.0));
}

#[test]
fn an_offer_whose_sku_holds_a_comma_is_synced_by_its_offer_id() {
    let rows = [offer(1, "a", 5.0, 0.0), offer(3, "a,b", 7.0, 2.0)];
    let site = Site::with(&[("a", Some(0.0)), ("a,b", Some(0.0))]);
    let out = drive(options(r#"{"offerIds": [3]}"#), &site, 0, |url, _| {
        assert_eq!(query_param(url, "filter%5Boffers_id%5D"), Some("3"));
        Reply::Body(
            json!({"total": 1, "current_page": 1, "per_page": 50, "last_page": 1,
                   "next_page_url": null, "data": [rows[1]]})
            .to_string(),
        )
    });
    assert!(out.report.complete, "{:?}", out.report.error);
    assert_eq!(out.site[&key("a,b")], Some(5.0));
    assert_eq!(out.site[&key("a")], Some(0.0));
}
