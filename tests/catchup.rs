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

/// The drive's clock starts here (see `common::drive`).
const START: u64 = 1_700_000_000_000;

fn order(id: u64, offer_ids: &[u64]) -> Value {
    let lines: Vec<Value> = offer_ids
        .iter()
        .map(|o| json!({"sku": format!("s{o:04}"), "quantity": 1, "offer": {"id": o}}))
        .collect();
    json!({"id": id, "source_id": 1, "products": lines})
}

/// A page of `GET /order` holding `orders`, the last of `pages`.
fn order_page(page: u64, pages: u64, orders: &[Value]) -> Reply {
    let next = if page < pages {
        Value::from(format!(
            "https://openapi.keycrm.app/v1/order?page={}",
            page + 1
        ))
    } else {
        Value::Null
    };
    Reply::Body(
        json!({"current_page": page, "per_page": 50, "last_page": pages,
               "next_page_url": next, "data": orders})
        .to_string(),
    )
}

/// Stock rows of the catalogue for a `filter[offers_id]` request.
fn by_offer_ids(catalogue: &Catalogue, url: &str) -> Reply {
    let ids: Vec<u64> = query_param(url, "filter%5Boffers_id%5D")
        .expect("the offers are read by id")
        .split(',')
        .map(|id| id.parse().unwrap())
        .collect();
    let mut filtered = catalogue.clone();
    filtered
        .rows
        .retain(|r| ids.contains(&r["id"].as_u64().unwrap()));
    filtered.answer(url)
}

#[test]
fn a_catch_up_syncs_the_offers_of_the_orders_changed_since_the_check() {
    let catalogue = Catalogue::numbered(300);
    let since = START - 3_600_000;
    let mut order_urls = Vec::new();
    let out = drive(
        options(&format!(r#"{{"ordersUpdatedSince": {since}}}"#)),
        &catalogue.empty_site(),
        0,
        |url, _| {
            if url.contains("/order?") {
                order_urls.push(url.to_string());
                return match page_of(url) {
                    1 => order_page(1, 2, &[order(10, &[7, 250]), order(11, &[7])]),
                    _ => order_page(2, 2, &[order(12, &[3])]),
                };
            }
            by_offer_ids(&catalogue, url)
        },
    );
    assert!(out.report.complete, "{:?}", out.report.error);
    assert_eq!(out.requests.len(), 3, "two pages of orders, one of stock");
    assert_eq!(out.report.offers, 3);
    let filter = query_param(&order_urls[0], "filter%5Bupdated_between%5D").unwrap();
    assert_eq!(
        filter,
        "2023-11-14%2021%3A13%3A20,2023-11-15%2022%3A13%3A20"
    );
    assert!(order_urls[0].contains("include=products.offer"));
    let expected = catalogue.expected();
    for sku in ["s0003", "s0007", "s0250"] {
        assert_eq!(out.site[&key(sku)], Some(expected[sku]), "{sku}");
    }
    assert_eq!(out.site[&key("s0008")], Some(0.0), "other offers untouched");
    assert_eq!(out.report.next_orders_updated_since, Some(START - 600_000));
}

#[test]
fn a_catch_up_without_changed_orders_reads_no_stock_and_still_advances() {
    let out = drive(
        options(r#"{"ordersUpdatedSince": 1699990000000}"#),
        &Site::default(),
        0,
        |url, _| {
            assert!(
                url.contains("/order?"),
                "only the orders are asked for: {url}"
            );
            order_page(1, 1, &[])
        },
    );
    assert!(out.report.complete, "{:?}", out.report.error);
    assert_eq!(out.requests.len(), 1);
    assert_eq!(out.report.next_orders_updated_since, Some(START - 600_000));
}

#[test]
fn a_failed_catch_up_gives_no_new_check_time_and_names_the_order() {
    let out = drive(
        options(r#"{"ordersUpdatedSince": 1699990000000, "maxRetries": 1}"#),
        &Site::default(),
        0,
        |_, _| {
            let no_offer =
                json!({"id": 77, "source_id": 1, "products": [{"sku": "a", "quantity": 1}]});
            order_page(1, 1, &[no_offer])
        },
    );
    let err = out.report.error.expect("an error");
    assert_eq!(err.code, ErrorCode::BadPage);
    assert!(err.message.contains("order 77"), "{}", err.message);
    assert_eq!(out.report.next_orders_updated_since, None);
}

#[test]
fn a_complete_whole_scan_gives_the_next_check_time_and_a_filtered_one_none() {
    let catalogue = Catalogue::numbered(120);
    let out = drive(options("{}"), &catalogue.empty_site(), 0, |url, _| {
        catalogue.answer(url)
    });
    assert!(out.report.complete);
    assert_eq!(out.report.next_orders_updated_since, Some(START - 600_000));
    let out = drive(
        options(r#"{"offerIds": [3]}"#),
        &catalogue.empty_site(),
        0,
        |url, _| by_offer_ids(&catalogue, url),
    );
    assert!(out.report.complete);
    assert_eq!(out.report.next_orders_updated_since, None);
}

#[test]
fn a_catch_up_keeps_to_its_subrequest_budget() {
    let catalogue = Catalogue::numbered(300);
    let out = drive(
        options(r#"{"ordersUpdatedSince": 1699990000000, "maxSubrequests": 4}"#),
        &catalogue.empty_site(),
        0,
        |url, _| {
            if url.contains("/order?") {
                let page = page_of(url);
                return order_page(page, 5, &[order(page, &[page])]);
            }
            by_offer_ids(&catalogue, url)
        },
    );
    assert_eq!(out.report.error.unwrap().code, ErrorCode::BudgetExhausted);
    assert!(out.report.subrequests <= 4, "{}", out.report.subrequests);
    assert_eq!(out.report.next_orders_updated_since, None);
}

#[test]
fn a_stock_webhook_refuses_a_catch_up() {
    use keycrm_stock_sync::SyncEngine;
    let err = SyncEngine::check_stock_webhook_options(&options(r#"{"ordersUpdatedSince": 1}"#))
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidConfig);
    assert!(
        err.message.contains("ordersUpdatedSince"),
        "{}",
        err.message
    );
}
