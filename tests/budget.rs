//! Runs within a budget of subrequests or time, and scans resumed across runs:
//! how a catalogue larger than one run gets synced in several.

mod common;

use common::*;
use keycrm_stock_sync::pagination::ScanCursor;
use keycrm_stock_sync::{ErrorCode, StockKey, SyncOptions};
use serde_json::json;

/// Runs again and again from the last cursor until a run completes; returns the
/// outcomes of all runs.
fn until_complete(
    base: serde_json::Value,
    mut site: Site,
    mut server: impl FnMut(&str, usize) -> Reply,
) -> Vec<Outcome> {
    let mut runs: Vec<Outcome> = Vec::new();
    let mut cursor: Option<ScanCursor> = None;
    for run in 0..50 {
        let mut options = base.clone();
        if let Some(c) = cursor {
            options["resumeFrom"] = json!(c);
        }
        let options: SyncOptions = SyncOptions::from_json(&options.to_string()).unwrap();
        let out = drive(options, &site, 200, |url, _| server(url, run));
        site.rows = out.site.clone();
        let done = out.report.complete;
        cursor = out.report.cursor.clone();
        runs.push(out);
        if done {
            assert!(cursor.is_none(), "a complete scan leaves no cursor");
            return runs;
        }
        assert!(
            cursor.is_some(),
            "an unfinished scan leaves a cursor: {:?}",
            runs.last().unwrap().report.error
        );
    }
    panic!("fifty runs did not complete the scan");
}

#[test]
fn a_catalogue_larger_than_the_budget_is_synced_over_several_runs() {
    let catalogue = Catalogue::numbered(2_600); // 52 pages
    let runs = until_complete(
        json!({"maxSubrequests": 20}),
        catalogue.empty_site(),
        |url, _| catalogue.answer(url),
    );
    assert!(runs.len() >= 3, "{} runs: {:?}", runs.len(), runs[0].report);
    for out in &runs {
        let used = out.requests.len() + out.site_calls;
        assert!(used <= 20, "{used} subrequests");
        assert_eq!(out.report.subrequests as usize, used);
        if !out.report.complete {
            assert_eq!(
                out.report.error.as_ref().unwrap().code,
                ErrorCode::BudgetExhausted
            );
        }
    }
    let last = runs.last().unwrap();
    for (sku, want) in catalogue.expected() {
        assert_eq!(last.site[&key(&sku)], Some(want), "{sku}");
    }
}

#[test]
fn sink_calls_are_batched_under_a_budget() {
    let catalogue = Catalogue::numbered(1_000); // 20 pages
    let out = drive(
        options(r#"{"maxSubrequests": 100}"#),
        &catalogue.empty_site(),
        0,
        |url, _| catalogue.answer(url),
    );
    assert!(out.report.complete);
    // 1 000 rows in batches of 500: two reads and two writes.
    assert_eq!(out.site_calls, 4);
    let eager = drive(options("{}"), &catalogue.empty_site(), 0, |url, _| {
        catalogue.answer(url)
    });
    // Every page is compared as it comes (the last page, kept from the scan's
    // census, with the one before it): 19 reads. Every figure raises its row, so
    // the raises are held until the scan ends and written in batches of 500: two
    // writes.
    assert_eq!(
        eager.site_calls, 21,
        "without a budget, every page is compared as it comes"
    );
}

#[test]
fn offers_deleted_and_added_between_runs_are_neither_skipped_nor_doubled() {
    let mut catalogue = Catalogue::numbered(1_500);
    let mut site = catalogue.empty_site();
    for id in 0..30u64 {
        site.rows.insert(key(&format!("late{id}")), Some(0.0));
        site.rows.insert(key(&format!("early{id}")), Some(0.0));
    }
    let mut changed_before_run = None;
    let runs = until_complete(json!({"maxSubrequests": 16}), site, |url, run| {
        if run == 2 && changed_before_run.is_none() {
            changed_before_run = Some(run);
            // Between runs: 40 offers near the start go, 30 with higher ids come
            // (total barely moves), and 30 with low ids land in front.
            catalogue.rows.drain(60..100);
            for id in 0..30u64 {
                catalogue
                    .rows
                    .push(offer(10_000 + id, &format!("late{id}"), 4.0, 1.0));
                catalogue
                    .rows
                    .insert(0, offer(id + 5_000, &format!("early{id}"), 2.0, 0.0));
            }
        }
        catalogue.answer(url)
    });
    let last = runs.last().unwrap();
    let survivors = Catalogue::numbered(1_500)
        .expected()
        .into_iter()
        .filter(|(sku, _)| {
            let id: u64 = sku[1..].parse().unwrap();
            !(61..=100).contains(&id)
        });
    for (sku, want) in survivors {
        assert_eq!(last.site[&key(&sku)], Some(want), "{sku} was skipped");
    }
    assert_eq!(last.site[&key("late29")], Some(3.0));
    let doubled = runs
        .iter()
        .flat_map(|r| r.report.duplicate_skus.clone())
        .count();
    assert_eq!(doubled, 0, "offers read again are not duplicates");
}

#[test]
fn a_deadline_writes_what_was_read_and_leaves_a_cursor() {
    let catalogue = Catalogue::numbered(1_000);
    let out = drive(
        options(r#"{"deadlineMs": 5000}"#),
        &catalogue.empty_site(),
        300,
        |url, _| catalogue.answer(url),
    );
    assert_eq!(
        out.report.error.as_ref().unwrap().code,
        ErrorCode::DeadlineExceeded
    );
    let cursor = out.report.cursor.expect("a cursor");
    let applied = (cursor.page - 1) * 50;
    assert_eq!(out.report.offers, applied);
    for id in 1..=applied {
        let sku = format!("s{id:04}");
        assert_eq!(
            out.site[&key(&sku)],
            Some(catalogue.expected()[&sku]),
            "{sku} read but not written"
        );
    }
    assert_eq!(out.site[&key(&format!("s{:04}", applied + 1))], Some(0.0));
}

#[test]
fn a_failed_run_resumes_where_it_stopped() {
    let catalogue = Catalogue::numbered(500);
    let broken = drive(options("{}"), &catalogue.empty_site(), 0, |url, _| {
        if page_of(url) == 6 {
            Reply::Status(404, None, String::new())
        } else {
            catalogue.answer(url)
        }
    });
    let cursor = broken.report.cursor.expect("a cursor");
    assert_eq!(cursor.page, 6);
    let resumed = options(&json!({ "resumeFrom": cursor }).to_string());
    let site = Site {
        rows: broken.site,
        fail_write: None,
    };
    let out = drive(resumed, &site, 0, |url, _| catalogue.answer(url));
    assert!(out.report.complete);
    assert_eq!(out.requests.len(), 6, "pages 5 (overlap) to 10");
    for (sku, want) in catalogue.expected() {
        assert_eq!(out.site[&key(&sku)], Some(want));
    }
}

#[test]
fn a_sink_failure_leaves_no_cursor() {
    let catalogue = Catalogue::numbered(300);
    let mut site = catalogue.empty_site();
    // Rows above KeyCRM's figures: every batch lowers its rows, written as it comes.
    for stock in site.rows.values_mut() {
        *stock = Some(1_000.0);
    }
    site.fail_write = Some(1);
    let out = drive(options("{}"), &site, 0, |url, _| catalogue.answer(url));
    assert_eq!(
        out.report.error.as_ref().unwrap().code,
        ErrorCode::SinkFailed
    );
    assert_eq!(
        out.report.cursor, None,
        "rows read were not all written: start afresh"
    );
}

#[test]
fn a_resumed_run_never_zeroes() {
    let catalogue = Catalogue::numbered(120);
    let mut site = catalogue.empty_site();
    site.rows.insert(key("gone"), Some(5.0));
    let resumed = options(r#"{"zeroMissing": true, "resumeFrom": {"page": 2, "total": 120}}"#);
    let out = drive(resumed, &site, 0, |url, _| catalogue.answer(url));
    assert!(out.report.complete);
    assert_eq!(out.site[&key("gone")], Some(5.0));
    assert_eq!(out.report.zeroed, 0);
}

#[test]
fn deletions_hidden_by_additions_between_runs_are_not_skipped() {
    let mut catalogue = Catalogue::numbered(2_000);
    let mut site = catalogue.empty_site();
    for id in 0..150u64 {
        site.rows.insert(key(&format!("new{id}")), Some(0.0));
    }
    let mut changed = false;
    let runs = until_complete(json!({"maxSubrequests": 16}), site, |url, run| {
        if run == 2 && !changed {
            changed = true;
            // 120 offers before the cursor go, 150 come at the end: `total` grows
            // by 30, yet everything after the deleted ones moved 120 places back.
            catalogue.rows.drain(100..220);
            for id in 0..150u64 {
                catalogue
                    .rows
                    .push(offer(10_000 + id, &format!("new{id}"), 3.0, 0.0));
            }
        }
        catalogue.answer(url)
    });
    let last = runs.last().unwrap();
    for (sku, want) in Catalogue::numbered(2_000).expected() {
        let id: u64 = sku[1..].parse().unwrap();
        if !(101..=220).contains(&id) {
            assert_eq!(last.site[&key(&sku)], Some(want), "{sku} was skipped");
        }
    }
    assert_eq!(last.site[&key("new149")], Some(3.0));
}

#[test]
fn a_stop_request_writes_what_was_read_and_leaves_a_cursor() {
    use keycrm_stock_sync::{Action, SyncEngine};
    let catalogue = Catalogue::numbered(500);
    let mut engine = SyncEngine::new(options("{}"), 0, 1);
    let mut now = 0;
    let mut written = 0;
    let report = loop {
        match engine.poll(now) {
            Action::Fetch(request) => {
                let Reply::Body(body) = catalogue.answer(&request.url) else {
                    unreachable!()
                };
                engine.handle_response(request.id, now, ok(body));
                if page_of(&request.url) == 3 {
                    engine.handle_stop();
                }
            }
            Action::Sleep(ms) => now += ms,
            Action::ReadSite(keys) => engine.handle_site_stock(
                keys.iter()
                    .map(|k| keycrm_stock_sync::SiteStock {
                        sku: k.sku.clone(),
                        warehouse_id: None,
                        stock: Some(0.0),
                        observed_at: None,
                    })
                    .collect(),
            ),
            Action::WriteSite(changes) => {
                written += changes.len();
                engine.handle_written();
            }
            Action::AwaitResponse | Action::ReadAllSite => unreachable!(),
            Action::Done(report) => break *report,
        }
    };
    assert_eq!(report.error.unwrap().code, ErrorCode::DeadlineExceeded);
    // Page 1 is read twice: before and after the scan's census.
    assert_eq!(report.pages, 4, "no page after the stop");
    assert_eq!(report.cursor.map(|c| c.page), Some(4));
    let expected_changes = catalogue
        .expected()
        .iter()
        .take(150)
        .filter(|(_, v)| **v != 0.0)
        .count();
    assert_eq!(
        written, expected_changes,
        "page 3, read before the stop, was written"
    );
}

#[test]
fn per_warehouse_rows_are_charged_in_full_before_a_page_starts() {
    // 250 offers in 3 warehouses: 150 rows a page, 3 sink calls a page at batchSize 50.
    let mut catalogue = Catalogue::numbered(250);
    for row in &mut catalogue.rows {
        let q = row["quantity"].as_f64().unwrap();
        row["warehouse"] = json!([
            {"id": 1, "name": "A", "quantity": q, "reserve": 0},
            {"id": 2, "name": "B", "quantity": 1, "reserve": 0},
            {"id": 3, "name": "C", "quantity": 0, "reserve": 0},
        ]);
    }
    let mut site = Site::default();
    for row in &catalogue.rows {
        for warehouse_id in 1..=3 {
            let sku = row["sku"].as_str().unwrap().to_string();
            site.rows.insert(
                StockKey {
                    sku,
                    warehouse_id: Some(warehouse_id),
                },
                Some(0.0),
            );
        }
    }
    // From 7, the first page's own cost (its request, 3 reads, 3 writes): the
    // number of warehouses is unknown until a page has been read.
    for budget in 7..=16 {
        let out = drive(
            options(&format!(
                r#"{{"perWarehouse": true, "batchSize": 50, "maxSubrequests": {budget}}}"#
            )),
            &site,
            0,
            |url, _| catalogue.answer(url),
        );
        let used = out.requests.len() + out.site_calls;
        assert!(used <= budget, "budget {budget}: {used} subrequests");
        assert_eq!(out.report.subrequests as usize, used);
    }
}
