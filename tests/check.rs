//! The mismatch report: a check reads the whole catalogue, reads the site once,
//! writes nothing, and lists every finding of every kind.

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
                return Checked {
                    report: *report,
                    read_alls,
                }
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
                },
                NotOnSiteOffer {
                    offer_id: 9,
                    sku: "fork".into(),
                    warehouse_id: None,
                    keycrm: 3.0,
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
