//! The mismatch report: a check reads the whole catalogue, reads the site once,
//! writes nothing, and lists every finding of every kind.

mod common;

use common::{page_of, query_param, Catalogue};

use keycrm_stock_sync::check::{
    CheckFindings, DuplicateSku, InvalidSku, MissingInKeycrm, NearMiss, NotOnSiteOffer,
    StockDiffers,
};
use keycrm_stock_sync::{
    Action, ErrorCode, HttpResponse, SiteStock, SyncEngine, SyncOptions, SyncReport,
};

/// What a check did: its report, and the site calls it made.
struct Checked {
    report: SyncReport,
    read_alls: usize,
}

/// Runs a check whose every request is answered with `body` (a one-page
/// catalogue) and status `status`, on a site of `rows`. Panics on any write or
/// per-key read: a check makes neither.
fn check(json: &str, status: u16, body: &str, rows: &[SiteStock]) -> Checked {
    let options = SyncOptions::from_json(json).expect("valid options");
    let mut engine = SyncEngine::for_check(options, 1_000, 7).expect("a check");
    let mut now = 1_000;
    let mut read_alls = 0;
    for _ in 0..10_000 {
        match engine.poll(now) {
            Action::Fetch(request) => engine.handle_response(
                request.id,
                now + 5,
                HttpResponse {
                    status,
                    retry_after: None,
                    body: body.to_string(),
                },
            ),
            Action::Sleep(ms) => now += ms,
            Action::AwaitResponse => panic!("every request is answered at once"),
            Action::ReadSite(keys) => panic!("a check reads no keys: {keys:?}"),
            Action::WriteSite(changes) => panic!("a check writes nothing: {changes:?}"),
            Action::ReadAllSite => {
                read_alls += 1;
                engine.handle_site_all(rows.to_vec());
            }
            Action::Done(report) => {
                common::json_text_agrees(report.as_ref()).unwrap();
                return Checked {
                    report: *report,
                    read_alls,
                };
            }
        }
        now += 1;
    }
    panic!("the check did not end");
}

fn row(sku: &str, warehouse_id: Option<u64>, stock: Option<f64>) -> SiteStock {
    SiteStock {
        sku: sku.into(),
        warehouse_id,
        stock,
        observed_at: None,
    }
}

fn page(rows: &str) -> String {
    let count = rows.matches("\"sku\":").count();
    format!(
        r#"{{"total":{count},"current_page":1,"per_page":50,"last_page":1,"next_page_url":null,"data":[{rows}]}}"#
    )
}

#[test]
fn a_check_reports_every_kind_of_finding_and_writes_nothing() {
    let body = page(concat!(
        r#"{"id":1,"sku":"mug-red","quantity":12,"reserve":2},"#,
        r#"{"id":2,"sku":"plate","quantity":3,"reserve":0},"#,
        r#"{"id":3,"sku":"bowl","quantity":5,"reserve":0},"#,
        r#"{"id":4,"sku":null,"quantity":1,"reserve":0},"#,
        r#"{"id":5,"sku":"cup","quantity":7,"reserve":0},"#,
        r#"{"id":6,"sku":"cup","quantity":2,"reserve":0},"#,
        r#"{"id":7,"sku":"Spoon ","quantity":1,"reserve":0},"#,
        r#"{"id":8,"sku":"a\u0000b","quantity":1,"reserve":0},"#,
        r#"{"id":9,"sku":"fork","quantity":4,"reserve":1}"#,
    ));
    let site = [
        row("mug-red", None, Some(4.0)),
        row("plate", None, Some(3.0)),
        row("bowl", None, None),
        row("cup", None, Some(2.0)),
        row("spoon", None, Some(0.0)),
        row("knife", None, Some(5.0)),
    ];
    let checked = check("{}", 200, &body, &site);
    let report = checked.report;
    assert!(report.complete, "{:?}", report.error);
    assert!(report.dry_run, "a check is a dry run");
    assert_eq!(checked.read_alls, 1);
    assert_eq!(report.offers, 9);
    assert_eq!((report.updated, report.unchanged), (2, 2));
    assert_eq!(report.not_on_site.count, 2, "Spoon and fork");
    let findings = report
        .findings
        .clone()
        .expect("a complete check has findings");
    assert_eq!(
        findings,
        CheckFindings {
            stock_differs: vec![
                StockDiffers {
                    sku: "bowl".into(),
                    warehouse_id: None,
                    site: None,
                    keycrm: 5.0,
                },
                StockDiffers {
                    sku: "mug-red".into(),
                    warehouse_id: None,
                    site: Some(4.0),
                    keycrm: 10.0,
                },
            ],
            missing_in_keycrm: vec![
                MissingInKeycrm {
                    sku: "knife".into(),
                    warehouse_id: None,
                    site: Some(5.0),
                },
                MissingInKeycrm {
                    sku: "spoon".into(),
                    warehouse_id: None,
                    site: Some(0.0),
                },
            ],
            not_on_site: vec![
                NotOnSiteOffer {
                    offer_id: 7,
                    sku: "Spoon ".into(),
                    warehouse_id: None,
                    keycrm: 1.0,
                    name: None,
                },
                NotOnSiteOffer {
                    offer_id: 9,
                    sku: "fork".into(),
                    warehouse_id: None,
                    keycrm: 3.0,
                    name: None,
                },
            ],
            without_sku: vec![4],
            duplicate_skus: vec![DuplicateSku {
                sku: "cup".into(),
                offer_ids: vec![5, 6],
            }],
            near_misses: vec![NearMiss {
                sku: "Spoon ".into(),
                site_sku: "spoon".into(),
                offer_ids: vec![7],
            }],
            invalid_skus: vec![InvalidSku {
                offer_id: 8,
                sku: "a\0b".into(),
            }],
            warnings: vec![],
        }
    );
    assert!(findings.has_stock_mismatch());
    assert_eq!(report.duplicate_skus, ["cup"]);
    assert_eq!(report.invalid_skus, [8]);
    assert_eq!(report.without_sku, 1);
}

#[test]
fn a_clean_site_has_no_findings() {
    let body = page(r#"{"id":1,"sku":"mug","quantity":3,"reserve":1}"#);
    let checked = check("{}", 200, &body, &[row("mug", None, Some(2.0))]);
    let findings = checked.report.findings.expect("findings");
    assert_eq!(findings, CheckFindings::default());
    assert!(!findings.has_stock_mismatch());
}

#[test]
fn a_check_uses_the_sync_options_keep_reserve_and_fractional() {
    let body = page(r#"{"id":1,"sku":"flour","quantity":3.5,"reserve":1}"#);
    let site = [row("flour", None, Some(2.0))];
    let figure = |json: &str| {
        let findings = check(json, 200, &body, &site).report.findings.unwrap();
        findings.stock_differs.first().map(|d| d.keycrm)
    };
    assert_eq!(figure("{}"), None, "floor(3.5 - 1) = 2, as on the site");
    assert_eq!(figure(r#"{"keepReserve": true}"#), Some(3.0));
    assert_eq!(figure(r#"{"fractional": true}"#), Some(2.5));
}

#[test]
fn per_warehouse_findings_name_the_warehouse() {
    let body = page(concat!(
        r#"{"id":1,"sku":"mug","quantity":9,"reserve":0,"warehouse":["#,
        r#"{"id":1,"name":"Kyiv","quantity":4,"reserve":0},"#,
        r#"{"id":2,"name":"Lviv","quantity":5,"reserve":0}]}"#,
    ));
    let site = [
        row("mug", Some(1), Some(1.0)),
        row("old", Some(2), Some(3.0)),
    ];
    let checked = check(r#"{"perWarehouse": true}"#, 200, &body, &site);
    assert!(checked.report.complete, "{:?}", checked.report.error);
    let findings = checked.report.findings.expect("findings");
    assert_eq!(
        findings.stock_differs,
        [StockDiffers {
            sku: "mug".into(),
            warehouse_id: Some(1),
            site: Some(1.0),
            keycrm: 4.0,
        }]
    );
    assert_eq!(
        findings.not_on_site,
        [NotOnSiteOffer {
            offer_id: 1,
            sku: "mug".into(),
            warehouse_id: Some(2),
            keycrm: 5.0,
            name: None,
        }]
    );
    assert_eq!(
        findings.missing_in_keycrm,
        [MissingInKeycrm {
            sku: "old".into(),
            warehouse_id: Some(2),
            site: Some(3.0),
        }]
    );

    // Only the chosen warehouse: Lviv's row is nobody's concern.
    let chosen = check(
        r#"{"perWarehouse": true, "warehouses": [1]}"#,
        200,
        &body,
        &site,
    );
    assert!(chosen.report.findings.unwrap().not_on_site.is_empty());
}

#[test]
fn near_misses_pair_skus_that_differ_in_case_or_surrounding_whitespace_only() {
    let body = page(concat!(
        r#"{"id":1,"sku":"ABC","quantity":1,"reserve":0},"#,
        r#"{"id":2,"sku":"abc","quantity":1,"reserve":0},"#,
        r#"{"id":3,"sku":"x y","quantity":1,"reserve":0},"#,
        r#"{"id":4,"sku":"Tea","quantity":1,"reserve":0}"#,
    ));
    let site = [
        row("abc", None, Some(1.0)),
        row("xy", None, Some(1.0)),
        row(" tea", None, Some(1.0)),
        row("TEA", None, Some(1.0)),
    ];
    let findings = check("{}", 200, &body, &site).report.findings.unwrap();
    let pairs: Vec<(&str, &str)> = findings
        .near_misses
        .iter()
        .map(|n| (n.sku.as_str(), n.site_sku.as_str()))
        .collect();
    // "ABC" has no row, though "abc" has: a near miss. "x y" is not "xy".
    assert_eq!(pairs, [("ABC", "abc"), ("Tea", " tea"), ("Tea", "TEA")]);
}

#[test]
fn a_check_that_does_not_complete_has_no_findings_and_reads_no_site() {
    let checked = check(r#"{"maxRetries": 0}"#, 500, "{}", &[row("a", None, None)]);
    assert!(!checked.report.complete);
    assert!(checked.report.findings.is_none());
    assert_eq!(checked.read_alls, 0);
}

#[test]
fn a_check_refuses_options_it_cannot_honour() {
    for json in [
        r#"{"skus": ["a"]}"#,
        r#"{"offerIds": [1]}"#,
        r#"{"zeroMissing": true}"#,
        r#"{"orderId": 5}"#,
    ] {
        let options = SyncOptions::from_json(json).unwrap();
        let error = SyncEngine::for_check(options, 0, 1).expect_err(json);
        assert_eq!(error.code, ErrorCode::InvalidConfig, "{json}");
        assert!(error
            .message
            .starts_with("check compares the whole catalogue"));
    }
}

#[test]
fn a_sync_report_has_no_findings() {
    let json = serde_json::to_value(check("{}", 200, &page(""), &[]).report).unwrap();
    assert_eq!(json["findings"]["stockDiffers"], serde_json::json!([]));
    let options = SyncOptions::from_json("{}").unwrap();
    let mut sync = SyncEngine::new(options, 0, 1);
    sync.handle_stop();
    let Action::Done(report) = sync.poll(0) else {
        panic!("a stopped run ends")
    };
    let json = serde_json::to_value(*report).unwrap();
    assert!(json.get("findings").is_none());
}

/// What a check with product names did: its report, and every URL it asked for,
/// in order.
struct Named {
    report: SyncReport,
    urls: Vec<String>,
}

/// Runs a check of `catalogue` on a site of `rows`; stock pages are served from
/// the catalogue, and each product-name request (`/offers?…`) is answered by
/// `names` from the offer ids in its filter.
fn check_named(
    json: &str,
    catalogue: &Catalogue,
    rows: &[SiteStock],
    mut names: impl FnMut(&[u64]) -> HttpResponse,
) -> Named {
    let options = SyncOptions::from_json(json).expect("valid options");
    let mut engine = SyncEngine::for_check(options, 1_000, 7).expect("a check");
    let mut now = 1_000;
    let mut urls = Vec::new();
    for _ in 0..10_000 {
        match engine.poll(now) {
            Action::Fetch(request) => {
                let url = request.url.clone();
                let response = if url.contains("/offers/stocks?") {
                    HttpResponse {
                        status: 200,
                        retry_after: None,
                        body: catalogue.page(page_of(&url)),
                    }
                } else {
                    let ids: Vec<u64> = query_param(&url, "filter%5Bid%5D")
                        .expect("names are asked for by offer id")
                        .split(',')
                        .map(|id| id.parse().expect("an offer id"))
                        .collect();
                    names(&ids)
                };
                urls.push(url);
                engine.handle_response(request.id, now + 5, response);
            }
            Action::Sleep(ms) => now += ms,
            Action::AwaitResponse => panic!("every request is answered at once"),
            Action::ReadSite(keys) => panic!("a check reads no keys: {keys:?}"),
            Action::WriteSite(changes) => panic!("a check writes nothing: {changes:?}"),
            Action::ReadAllSite => engine.handle_site_all(rows.to_vec()),
            Action::Done(report) => {
                common::json_text_agrees(report.as_ref()).unwrap();
                return Named {
                    report: *report,
                    urls,
                };
            }
        }
        now += 1;
    }
    panic!("the check did not end");
}

/// KeyCRM's answer to `GET /offers?include=product` for these offers, each with
/// its product named "Product <id>", plus an offer nobody asked for.
fn named(ids: &[u64]) -> HttpResponse {
    let mut data: Vec<serde_json::Value> = ids
        .iter()
        .map(|id| {
            serde_json::json!({
                "id": id, "product_id": id, "sku": format!("s{id:04}"),
                "product": {"id": id, "name": format!("Product {id}")}
            })
        })
        .collect();
    data.push(serde_json::json!({"id": 9_999, "product": {"name": "not asked for"}}));
    let body = serde_json::json!({
        "total": data.len(), "current_page": 1, "per_page": 50,
        "next_page_url": null, "data": data
    });
    HttpResponse {
        status: 200,
        retry_after: None,
        body: body.to_string(),
    }
}

fn failing(status: u16) -> impl FnMut(&[u64]) -> HttpResponse {
    move |_| HttpResponse {
        status,
        retry_after: None,
        body: r#"{"message":"Server Error"}"#.into(),
    }
}

/// 120 offers on three pages; the site has rows for the first ten only, so 110
/// offers have no site row.
fn catalogue_and_site() -> (Catalogue, Vec<SiteStock>) {
    let catalogue = Catalogue::numbered(120);
    let site = (1..=10)
        .map(|id| row(&format!("s{id:04}"), None, Some(0.0)))
        .collect();
    (catalogue, site)
}

/// Requests of the scan itself: its stock pages (the census reads one twice).
const SCAN_REQUESTS: u64 = 4;

fn name_urls(urls: &[String]) -> Vec<&String> {
    urls.iter()
        .filter(|u| !u.contains("/offers/stocks?"))
        .collect()
}

#[test]
fn product_names_cost_one_request_per_fifty_offers_with_no_site_row() {
    let (catalogue, site) = catalogue_and_site();
    let checked = check_named(r#"{"names": true}"#, &catalogue, &site, named);
    let report = checked.report;
    assert!(report.complete, "{:?}", report.error);

    // ceil(110 / 50) = 3 requests, after the scan's three pages, by offer id.
    let asked = name_urls(&checked.urls);
    assert_eq!(asked.len(), 3, "{asked:?}");
    assert_eq!(report.requests, SCAN_REQUESTS + 3);
    let scan = SCAN_REQUESTS as usize;
    assert!(checked.urls[..scan]
        .iter()
        .all(|u| u.contains("/offers/stocks?")));
    let ids = |from: u64, to: u64| {
        (from..=to)
            .map(|id| id.to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    for (url, (from, to)) in asked.iter().zip([(11, 60), (61, 110), (111, 120)]) {
        assert_eq!(
            **url,
            format!(
                "https://openapi.keycrm.app/v1/offers?limit=50&include=product&filter%5Bid%5D={}",
                ids(from, to)
            )
        );
    }

    // Every finding of an offer with no site row carries its product's name.
    let findings = report.findings.clone().expect("findings");
    assert_eq!(findings.not_on_site.len(), 110);
    for offer in &findings.not_on_site {
        let name = format!("Product {}", offer.offer_id);
        assert_eq!(offer.name, Some(Some(name)));
    }
    assert!(findings.warnings.is_empty(), "{:?}", findings.warnings);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["findings"]["notOnSite"][0]["name"], "Product 11");
    assert!(json["findings"].get("warnings").is_none());
}

#[test]
fn without_names_no_offer_is_read_again_and_no_name_is_reported() {
    let (catalogue, site) = catalogue_and_site();
    let checked = check_named("{}", &catalogue, &site, |_| panic!("no names asked for"));
    assert_eq!(checked.report.requests, SCAN_REQUESTS);
    assert!(name_urls(&checked.urls).is_empty());
    let json = serde_json::to_value(&checked.report).unwrap();
    let offers = json["findings"]["notOnSite"].as_array().unwrap();
    assert_eq!(offers.len(), 110);
    assert!(offers.iter().all(|o| o.get("name").is_none()));
}

#[test]
fn a_site_with_every_row_costs_no_name_request() {
    let catalogue = Catalogue::numbered(20);
    let site: Vec<SiteStock> = (1..=20)
        .map(|id| row(&format!("s{id:04}"), None, Some(0.0)))
        .collect();
    let checked = check_named(r#"{"names": true}"#, &catalogue, &site, |_| {
        panic!("no offer lacks a site row")
    });
    assert!(checked.report.complete);
    assert_eq!(checked.report.requests, 1);
}

#[test]
fn a_name_lookup_that_fails_after_its_retries_warns_and_the_check_completes() {
    let (catalogue, site) = catalogue_and_site();
    let json = r#"{"names": true, "maxRetries": 2, "backoffBaseMs": 10}"#;
    let checked = check_named(json, &catalogue, &site, failing(503));
    let report = checked.report;
    assert!(report.complete, "{:?}", report.error);
    assert!(report.error.is_none());
    // The first chunk, and its two retries; the lookup stops there.
    assert_eq!(name_urls(&checked.urls).len(), 3);
    assert_eq!((report.requests, report.retries), (SCAN_REQUESTS + 3, 2));
    let findings = report.findings.expect("a completed check has findings");
    assert!(findings.not_on_site.iter().all(|o| o.name == Some(None)));
    assert_eq!(findings.warnings.len(), 1, "{:?}", findings.warnings);
    let warning = &findings.warnings[0];
    assert!(
        warning.starts_with("product names were not read for 110 of the 110 offers with no site row: KeyCRM answered HTTP 503 for /v1/offers"),
        "{warning}"
    );
    assert!(warning.contains("gave up after 2 retries"), "{warning}");
}

#[test]
fn a_refused_name_lookup_is_not_retried_and_only_warns() {
    let (catalogue, site) = catalogue_and_site();
    let checked = check_named(r#"{"names": true}"#, &catalogue, &site, failing(404));
    assert!(checked.report.complete, "{:?}", checked.report.error);
    assert_eq!(name_urls(&checked.urls).len(), 1);
    let findings = checked.report.findings.expect("findings");
    assert!(
        findings.warnings[0].contains("HTTP 404"),
        "{:?}",
        findings.warnings
    );
}

#[test]
fn names_stop_where_the_request_budget_ends_and_keep_what_was_read() {
    let (catalogue, site) = catalogue_and_site();
    // The scan, and one request of names.
    let json = format!(r#"{{"names": true, "maxRequests": {}}}"#, SCAN_REQUESTS + 1);
    let checked = check_named(&json, &catalogue, &site, named);
    let report = checked.report;
    assert!(report.complete, "{:?}", report.error);
    assert_eq!(report.requests, SCAN_REQUESTS + 1);
    let findings = report.findings.expect("findings");
    let named_offers = findings
        .not_on_site
        .iter()
        .filter(|o| matches!(o.name, Some(Some(_))))
        .count();
    assert_eq!(named_offers, 50);
    assert_eq!(
        findings.warnings,
        ["product names were not read for 60 of the 110 offers with no site row: the run's budget of 5 requests ran out"]
    );
}

#[test]
fn offers_sent_without_their_product_are_counted_in_a_warning() {
    let (catalogue, site) = catalogue_and_site();
    let checked = check_named(r#"{"names": true}"#, &catalogue, &site, |ids| {
        let data: Vec<serde_json::Value> =
            ids.iter().map(|id| serde_json::json!({"id": id})).collect();
        HttpResponse {
            status: 200,
            retry_after: None,
            body: serde_json::json!({ "data": data }).to_string(),
        }
    });
    let findings = checked.report.findings.expect("findings");
    assert!(findings.not_on_site.iter().all(|o| o.name == Some(None)));
    assert_eq!(
        findings.warnings,
        ["KeyCRM sent no product name for 110 of the 110 offers asked for"]
    );
}
