//! Webhook-driven runs: balances from the stock webhook, and an order's offers
//! looked up after a trigger webhook.

mod common;

use common::*;
use keycrm_stock_sync::webhook::parse_stock_webhook;
use keycrm_stock_sync::{Action, ErrorCode, SyncEngine, SyncReport};
use serde_json::json;

/// Runs a stock-webhook engine against a fake site; KeyCRM must not be asked.
fn apply(options_json: &str, body: &str, site: &Site) -> (SyncReport, Site, usize) {
    let rows = parse_stock_webhook(body, 1_000).unwrap();
    let mut engine = SyncEngine::for_stock_webhook(options(options_json), 0, &rows).unwrap();
    let mut site = site.clone();
    let mut writes = 0;
    loop {
        match engine.poll(0) {
            Action::ReadSite(keys) => {
                let found = keys
                    .iter()
                    .filter_map(|k| {
                        site.rows.get(k).map(|stock| keycrm_stock_sync::SiteStock {
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
                writes += 1;
                for c in changes {
                    site.rows.insert(key(&c.sku), c.stock);
                }
                engine.handle_written();
            }
            Action::Done(report) => return (*report, site, writes),
            other => panic!("a stock webhook asks KeyCRM nothing, got {other:?}"),
        }
    }
}

#[test]
fn stock_webhook_balances_are_written_as_a_scan_would() {
    let site = Site::with(&[("a001-56", Some(0.0)), ("b", Some(2.0)), ("c", Some(1.0))]);
    let body = r#"[{"offer_id":130827,"sku":"a001-56","in_stock":16,"in_reserve":3},
                   {"offer_id":2,"sku":"b","in_stock":2.9,"in_reserve":0},
                   {"offer_id":3,"sku":"c","in_stock":1,"in_reserve":4},
                   {"offer_id":4,"sku":"not-on-site","in_stock":1,"in_reserve":0},
                   {"offer_id":5,"sku":null,"in_stock":1,"in_reserve":0}]"#;
    let (report, site, writes) = apply("{}", body, &site);
    assert!(report.complete);
    assert_eq!(site.stock("a001-56"), Some(13.0));
    assert_eq!(site.stock("b"), Some(2.0), "2.9 floors to 2: unchanged");
    assert_eq!(site.stock("c"), Some(0.0), "reserve above stock: 0");
    assert_eq!(
        (report.updated, report.unchanged, report.without_sku),
        (2, 1, 1)
    );
    assert_eq!(report.not_on_site.sample, ["not-on-site"]);
    assert_eq!((report.requests, writes), (0, 1));
}

#[test]
fn a_replayed_delivery_writes_nothing() {
    let site = Site::with(&[("a", Some(0.0))]);
    let body = r#"[{"offer_id":1,"sku":"a","in_stock":5,"in_reserve":1}]"#;
    let (_, site, _) = apply("{}", body, &site);
    let (report, site, writes) = apply("{}", body, &site);
    assert_eq!((report.updated, writes), (0, 0));
    assert_eq!(site.stock("a"), Some(4.0));
}

#[test]
fn within_one_delivery_the_last_row_of_an_offer_wins_and_a_shared_sku_gets_the_smallest() {
    let site = Site::with(&[("a", Some(0.0)), ("dup", Some(7.0))]);
    let body = r#"[{"offer_id":1,"sku":"a","in_stock":5,"in_reserve":0},
                   {"offer_id":2,"sku":"dup","in_stock":1,"in_reserve":0},
                   {"offer_id":1,"sku":"a","in_stock":4,"in_reserve":0},
                   {"offer_id":3,"sku":"dup","in_stock":9,"in_reserve":0}]"#;
    let (report, site, _) = apply(r#"{"keepReserve": true}"#, body, &site);
    assert_eq!(site.stock("a"), Some(4.0));
    assert_eq!(site.stock("dup"), Some(1.0));
    assert_eq!(report.duplicate_skus, ["dup"]);
}

#[test]
fn a_stock_webhook_cannot_keep_per_warehouse_rows() {
    let err =
        SyncEngine::for_stock_webhook(options(r#"{"perWarehouse": true}"#), 0, &[]).unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidConfig);
    assert!(err.message.contains("per-warehouse"), "{}", err.message);
}

fn order_body(offer_ids: &[u64]) -> String {
    let lines: Vec<_> = offer_ids
        .iter()
        .map(|id| json!({"sku": format!("s{id:04}"), "quantity": 1, "offer": {"id": id, "sku": format!("s{id:04}")}}))
        .chain([json!({"sku": "custom", "quantity": 1, "offer": null})])
        .collect();
    json!({"id": 42, "status_id": 3, "products": lines}).to_string()
}

#[test]
fn an_order_webhook_reads_the_stock_of_its_offers_only() {
    let catalogue = Catalogue::numbered(300);
    let out = drive(
        options(r#"{"orderId": 42}"#),
        &catalogue.empty_site(),
        0,
        |url, _| {
            if url.contains("/order/42?include=products.offer") {
                return Reply::Body(order_body(&[7, 250, 7]));
            }
            let ids =
                query_param(url, "filter%5Boffers_id%5D").expect("the stock request is filtered");
            assert_eq!(ids, "7,250");
            let mut filtered = catalogue.clone();
            filtered
                .rows
                .retain(|r| [7, 250].contains(&r["id"].as_u64().unwrap()));
            filtered.answer(url)
        },
    );
    assert!(out.report.complete, "{:?}", out.report.error);
    assert_eq!(out.requests.len(), 2);
    assert_eq!(out.report.offers, 2);
    let expected = catalogue.expected();
    assert_eq!(out.site[&key("s0007")], Some(expected["s0007"]));
    assert_eq!(out.site[&key("s0250")], Some(expected["s0250"]));
    assert_eq!(out.site[&key("s0008")], Some(0.0), "other offers untouched");
}

#[test]
fn an_order_lookup_is_retried_and_a_missing_order_stops() {
    let catalogue = Catalogue::numbered(10);
    let mut failed = false;
    let out = drive(
        options(r#"{"orderId": 42}"#),
        &catalogue.empty_site(),
        0,
        |url, _| {
            if url.contains("/order/") {
                if !failed {
                    failed = true;
                    return Reply::Status(503, None, String::new());
                }
                return Reply::Body(order_body(&[3]));
            }
            catalogue.answer(url)
        },
    );
    assert!(out.report.complete);
    assert_eq!(out.report.retries, 1);

    let out = drive(
        options(r#"{"orderId": 43}"#),
        &catalogue.empty_site(),
        0,
        |_, _| Reply::Status(404, None, r#"{"message":"Not found"}"#.into()),
    );
    let err = out.report.error.unwrap();
    assert_eq!((err.code, err.status), (ErrorCode::CrmHttp, Some(404)));
}

#[test]
fn an_order_of_custom_lines_reads_no_stock() {
    let out = drive(
        options(r#"{"orderId": 42}"#),
        &Site::default(),
        0,
        |url, _| {
            assert!(
                url.contains("/order/42"),
                "only the order is asked for: {url}"
            );
            Reply::Body(order_body(&[]))
        },
    );
    assert!(out.report.complete);
    assert_eq!((out.requests.len(), out.report.offers), (1, 0));
}
