//! Pacing, 429s, retries, budgets, and failures that stop a run midway.

mod common;

use common::*;
use keycrm_stock_sync::ErrorCode;

fn too_many(retry_after: Option<&str>) -> Reply {
    Reply::Status(
        429,
        retry_after.map(str::to_string),
        fixture("too_many_attempts.json"),
    )
}

#[test]
fn starts_are_paced_start_to_start_whatever_the_latency() {
    let catalogue = Catalogue::numbered(500);
    for latency in [0, 300, 700] {
        let out = drive(options("{}"), &catalogue.empty_site(), latency, |url, _| {
            catalogue.answer(url)
        });
        let starts: Vec<u64> = out.requests.iter().map(|(t, _)| *t).collect();
        let gaps: Vec<u64> = starts.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(
            gaps.iter().all(|&g| g == 1_010),
            "latency {latency}: {gaps:?}"
        );
        // No 60-second window holds more than 60 starts.
        for (i, &t) in starts.iter().enumerate() {
            let in_window = starts[i..].iter().take_while(|&&s| s < t + 60_000).count();
            assert!(in_window <= 60);
        }
    }
}

#[test]
fn slow_answers_do_not_slow_the_scan() {
    let catalogue = Catalogue::numbered(1_000); // 20 pages
    let fast = drive(options("{}"), &catalogue.empty_site(), 10, |url, _| {
        catalogue.answer(url)
    });
    let slow = drive(options("{}"), &catalogue.empty_site(), 900, |url, _| {
        catalogue.answer(url)
    });
    // 21 starts: page 1, page 20 (the scan's census), then pages 1 to 19.
    let floor = 20 * 1_010;
    assert_eq!(fast.ended_at - 1_700_000_000_000, floor + 10);
    assert_eq!(slow.ended_at - 1_700_000_000_000, floor + 900);
}

#[test]
fn raised_limit_shortens_the_interval() {
    let catalogue = Catalogue::numbered(300);
    let out = drive(
        options(r#"{"rateLimitPerMinute": 600}"#),
        &catalogue.empty_site(),
        0,
        |url, _| catalogue.answer(url),
    );
    let starts: Vec<u64> = out.requests.iter().map(|(t, _)| *t).collect();
    assert!(starts.windows(2).all(|w| w[1] - w[0] == 101));
}

#[test]
fn retry_after_seconds_is_honoured() {
    let catalogue = Catalogue::numbered(100);
    let mut limited = false;
    let out = drive(options("{}"), &catalogue.empty_site(), 0, |url, _| {
        if page_of(url) == 2 && !limited {
            limited = true;
            return too_many(Some("17"));
        }
        catalogue.answer(url)
    });
    assert!(out.report.complete);
    assert_eq!(
        (
            out.report.rate_limited,
            out.report.retries,
            out.report.requests
        ),
        (1, 1, 4)
    );
    // Page 1, page 2 (the scan's census) answered 429 and asked for again, page 1.
    let (t429, _) = out.requests[1];
    let (tretry, _) = out.requests[2];
    assert_eq!(tretry - t429, 17_000);
}

#[test]
fn retry_after_http_date_is_honoured() {
    let catalogue = Catalogue::numbered(100);
    let mut limited = false;
    let out = drive(options("{}"), &catalogue.empty_site(), 0, |url, now| {
        if page_of(url) == 2 && !limited {
            limited = true;
            // 1_700_000_000_000 ms is Tue, 14 Nov 2023 22:13:20 GMT.
            assert!(now < 1_700_000_025_000);
            return too_many(Some("Tue, 14 Nov 2023 22:13:45 GMT"));
        }
        catalogue.answer(url)
    });
    assert!(out.report.complete);
    assert_eq!(out.requests[2].0, 1_700_000_025_000);
}

#[test]
fn huge_retry_after_is_clamped() {
    let catalogue = Catalogue::numbered(60);
    let mut limited = false;
    let out = drive(
        options(r#"{"maxRetryAfterMs": 5000}"#),
        &catalogue.empty_site(),
        0,
        |url, _| {
            if page_of(url) == 2 && !limited {
                limited = true;
                return too_many(Some("86400"));
            }
            catalogue.answer(url)
        },
    );
    assert!(out.report.complete);
    assert_eq!(out.requests[2].0 - out.requests[1].0, 5_000);
}

#[test]
fn retry_after_past_the_deadline_stops_instead_of_sleeping() {
    let catalogue = Catalogue::numbered(200);
    let out = drive(
        options(r#"{"deadlineMs": 10000}"#),
        &catalogue.empty_site(),
        0,
        |url, _| {
            if page_of(url) == 2 {
                return too_many(Some("60"));
            }
            catalogue.answer(url)
        },
    );
    assert_eq!(out.report.error.unwrap().code, ErrorCode::DeadlineExceeded);
    assert!(
        out.ended_at - 1_700_000_000_000 <= 10_000,
        "slept past the deadline"
    );
    assert_eq!(
        out.site[&key("s0001")],
        Some(catalogue.expected()["s0001"]),
        "page 1 was written"
    );
}

#[test]
fn without_retry_after_429_backs_off_with_jitter() {
    let catalogue = Catalogue::numbered(60);
    let mut count = 0;
    let out = drive(options("{}"), &catalogue.empty_site(), 0, |url, _| {
        if page_of(url) == 2 && count < 3 {
            count += 1;
            return too_many(None);
        }
        catalogue.answer(url)
    });
    assert!(out.report.complete);
    assert_eq!(out.report.rate_limited, 3);
    let gaps: Vec<u64> = out.requests.windows(2).map(|w| w[1].0 - w[0].0).collect();
    // Attempt n waits within [d/2, d], d = 1 s × 2^(n−1), and never less than the pace.
    assert!((1_010..=1_010).contains(&gaps[0]));
    assert!((1_010..=1_010).contains(&gaps[1]), "{gaps:?}");
    assert!((1_010..=2_000).contains(&gaps[2]), "{gaps:?}");
    assert!((2_000..=4_000).contains(&gaps[3]), "{gaps:?}");
}

#[test]
fn endless_429_ends_with_rate_limited() {
    let out = drive(
        options(r#"{"maxRateLimitRetries": 4}"#),
        &Site::default(),
        0,
        |_, _| too_many(Some("1")),
    );
    let err = out.report.error.unwrap();
    assert_eq!((err.code, err.status), (ErrorCode::RateLimited, Some(429)));
    assert_eq!(out.report.requests, 5);
}

#[test]
fn server_errors_then_success() {
    let catalogue = Catalogue::numbered(100);
    let mut failures = vec![
        Reply::Status(503, None, "<html>".into()),
        Reply::Timeout,
        Reply::Network,
    ];
    let out = drive(options("{}"), &catalogue.empty_site(), 0, |url, _| {
        if page_of(url) == 2 {
            if let Some(reply) = failures.pop() {
                return reply;
            }
        }
        catalogue.answer(url)
    });
    assert!(out.report.complete, "{:?}", out.report.error);
    // Page 2 is the scan's census, asked for right after page 1; page 1 again.
    assert_eq!((out.report.retries, out.report.requests), (3, 6));
}

#[test]
fn malformed_page_is_retried_then_reported() {
    let catalogue = Catalogue::numbered(100);
    let mut bad = 1;
    let out = drive(options("{}"), &catalogue.empty_site(), 0, |url, _| {
        if page_of(url) == 2 && bad > 0 {
            bad -= 1;
            return Reply::Body("{\"data\": [".into());
        }
        catalogue.answer(url)
    });
    assert!(out.report.complete);

    let out = drive(
        options(r#"{"maxRetries": 2}"#),
        &catalogue.empty_site(),
        0,
        |_, _| Reply::Body("<html>".into()),
    );
    assert_eq!(out.report.error.unwrap().code, ErrorCode::BadPage);
    assert_eq!(out.report.requests, 3);
}

#[test]
fn retries_are_bounded() {
    let out = drive(
        options(r#"{"maxRetries": 3}"#),
        &Site::default(),
        0,
        |_, _| Reply::Status(502, None, String::new()),
    );
    let err = out.report.error.unwrap();
    assert_eq!(
        (err.code, err.status),
        (ErrorCode::CrmUnavailable, Some(502))
    );
    assert_eq!(out.report.requests, 4);
    assert!(
        err.message.contains("gave up after 3 retries"),
        "{}",
        err.message
    );
}

#[test]
fn client_errors_stop_at_once() {
    for (status, code) in [
        (401, ErrorCode::Unauthorized),
        (403, ErrorCode::Unauthorized),
        (404, ErrorCode::CrmHttp),
        (422, ErrorCode::CrmHttp),
    ] {
        let body = if status == 401 {
            fixture("unauthenticated.json")
        } else {
            r#"{"message":"The given data was invalid."}"#.into()
        };
        let out = drive(options("{}"), &Site::default(), 0, |_, _| {
            Reply::Status(status, None, body.clone())
        });
        let err = out.report.error.unwrap();
        assert_eq!((err.code, err.status), (code, Some(status)));
        assert_eq!(out.report.requests, 1, "{status} is not retried");
    }
}

#[test]
fn a_failure_midway_leaves_unreached_rows_alone_and_the_next_run_finishes() {
    let catalogue = Catalogue::numbered(250);
    let site = catalogue.empty_site();
    let expected = catalogue.expected();
    let broken = drive(options("{}"), &site, 0, |url, _| {
        if page_of(url) == 3 {
            Reply::Status(404, None, r#"{"message":"Not found"}"#.into())
        } else {
            catalogue.answer(url)
        }
    });
    assert!(!broken.report.complete);
    for id in 1..=250u64 {
        let sku = format!("s{id:04}");
        let want = if id <= 100 { expected[&sku] } else { 0.0 };
        assert_eq!(broken.site[&key(&sku)], Some(want), "{sku}");
    }
    let site = Site {
        rows: broken.site,
        fail_write: None,
    };
    let next = drive(options("{}"), &site, 0, |url, _| catalogue.answer(url));
    assert!(next.report.complete);
    for (sku, want) in &expected {
        assert_eq!(next.site[&key(sku)], Some(*want));
    }
}

#[test]
fn a_failing_database_ends_the_run_with_sink_failed() {
    let catalogue = Catalogue::numbered(200);
    let mut site = catalogue.empty_site();
    // Rows above KeyCRM's figures: every batch lowers its rows, written as it comes.
    for stock in site.rows.values_mut() {
        *stock = Some(1_000.0);
    }
    site.fail_write = Some(1);
    let out = drive(options("{}"), &site, 0, |url, _| catalogue.answer(url));
    let err = out.report.error.unwrap();
    assert_eq!(err.code, ErrorCode::SinkFailed);
    assert!(err.message.contains("disk I/O error"));
    // Page 1, page 4 (the scan's census), page 1 again, page 2 whose write fails.
    assert_eq!(
        out.report.requests, 4,
        "no page is read after the database failed"
    );
    assert_eq!(
        out.site[&key("s0060")],
        Some(1_000.0),
        "the failed batch is not written"
    );
}

#[test]
fn request_budget_ends_the_run() {
    let catalogue = Catalogue::numbered(500);
    let out = drive(
        options(r#"{"maxRequests": 4}"#),
        &catalogue.empty_site(),
        0,
        |url, _| catalogue.answer(url),
    );
    assert_eq!(out.report.error.unwrap().code, ErrorCode::BudgetExhausted);
    assert_eq!(out.report.requests, 4);
    // Page 1, page 10 (the scan's census), pages 1 and 2.
    assert_eq!(
        out.site[&key("s0100")],
        Some(catalogue.expected()["s0100"]),
        "pages read were written"
    );
}

#[test]
fn deadline_ends_the_run_without_sleeping_past_it() {
    let catalogue = Catalogue::numbered(500);
    let out = drive(
        options(r#"{"deadlineMs": 4500}"#),
        &catalogue.empty_site(),
        200,
        |url, _| catalogue.answer(url),
    );
    assert_eq!(out.report.error.unwrap().code, ErrorCode::DeadlineExceeded);
    assert!(out.ended_at - 1_700_000_000_000 <= 4_500);
    assert_eq!(out.report.requests, 5);
}

#[test]
fn request_timeout_never_passes_the_deadline() {
    let mut engine = keycrm_stock_sync::SyncEngine::new(options(r#"{"deadlineMs": 2000}"#), 0, 1);
    let keycrm_stock_sync::Action::Fetch(request) = engine.poll(500) else {
        panic!()
    };
    assert_eq!(request.timeout_ms, 1_500);
}

#[test]
fn engine_driven_out_of_order_reports_internal_error() {
    let mut engine = keycrm_stock_sync::SyncEngine::new(options("{}"), 0, 1);
    engine.handle_written();
    let keycrm_stock_sync::Action::Done(report) = engine.poll(0) else {
        panic!()
    };
    assert_eq!(report.error.unwrap().code, ErrorCode::Internal);
}

#[test]
fn latency_above_the_interval_is_overlapped() {
    let catalogue = Catalogue::numbered(1_000); // 20 pages
    let out = drive(options("{}"), &catalogue.empty_site(), 2_500, |url, _| {
        catalogue.answer(url)
    });
    assert!(out.report.complete);
    let starts: Vec<u64> = out.requests.iter().map(|(t, _)| *t).collect();
    // Page 1, then page 20 (the scan's census), each awaited; from then on every
    // start on its slot, overlapping the slow answers; the scan ends one latency
    // after the last start.
    let t0 = 1_700_000_000_000;
    assert_eq!(starts[..3], [t0, t0 + 2_500, t0 + 5_000], "{starts:?}");
    assert!(
        starts[2..].windows(2).all(|w| w[1] - w[0] == 1_010),
        "{starts:?}"
    );
    assert_eq!(out.ended_at - t0, 5_000 + 18 * 1_010 + 2_500);
    for (sku, want) in catalogue.expected() {
        assert_eq!(out.site[&key(&sku)], Some(want));
    }

    let one_at_a_time = options(r#"{"maxConcurrentRequests": 1}"#);
    let out = drive(one_at_a_time, &catalogue.empty_site(), 2_500, |url, _| {
        catalogue.answer(url)
    });
    let starts: Vec<u64> = out.requests.iter().map(|(t, _)| *t).collect();
    assert!(starts.windows(2).all(|w| w[1] - w[0] == 2_500));
}

#[test]
fn pages_answered_out_of_order_are_taken_in_order() {
    let catalogue = Catalogue::numbered(300);
    let out = drive(options("{}"), &catalogue.empty_site(), 2_000, |url, _| {
        let reply = catalogue.answer(url);
        match page_of(url) {
            2 => Reply::After(6_000, Box::new(reply)),
            _ => reply,
        }
    });
    assert!(out.report.complete);
    for (sku, want) in catalogue.expected() {
        assert_eq!(out.site[&key(&sku)], Some(want));
    }
}

#[test]
fn pages_answered_ahead_of_a_failed_one_are_not_written() {
    let catalogue = Catalogue::numbered(300);
    let out = drive(
        options("{}"),
        &catalogue.empty_site(),
        2_000,
        |url, _| match page_of(url) {
            2 => Reply::After(6_000, Box::new(Reply::Status(404, None, String::new()))),
            _ => catalogue.answer(url),
        },
    );
    assert_eq!(out.report.error.unwrap().code, ErrorCode::CrmHttp);
    assert!(
        out.requests.len() >= 4,
        "pages 3 and 4 were fetched meanwhile"
    );
    assert_eq!(out.site[&key("s0001")], Some(catalogue.expected()["s0001"]));
    for id in 51..=300u64 {
        assert_eq!(
            out.site[&key(&format!("s{id:04}"))],
            Some(0.0),
            "offer {id}"
        );
    }
}

#[test]
fn deletions_are_caught_with_requests_in_flight() {
    let mut catalogue = Catalogue::numbered(600);
    let site = catalogue.empty_site();
    let expected = catalogue.expected();
    let out = drive(options("{}"), &site, 3_000, |url, _| {
        if page_of(url) == 6 && catalogue.rows.len() == 600 {
            catalogue.rows.drain(100..175);
        }
        catalogue.answer(url)
    });
    assert!(out.report.complete);
    for id in (1..=100u64).chain(176..=600) {
        let sku = format!("s{id:04}");
        assert_eq!(
            out.site[&key(&sku)],
            Some(expected[&sku]),
            "{sku} was skipped"
        );
    }
}

/// Requests that repeated one made before in the run.
fn repeated(out: &Outcome) -> usize {
    let mut asked: Vec<&str> = out.requests.iter().map(|(_, url)| url.as_str()).collect();
    asked.sort_unstable();
    asked.dedup();
    out.requests.len() - asked.len()
}

#[test]
fn the_retries_given_up_after_are_the_retries_reported() {
    // One 429, then 502s: six retries in all, five of them after errors.
    let mut answers = 0;
    let out = drive(options("{}"), &Site::default(), 0, |_, _| {
        answers += 1;
        if answers == 1 {
            return too_many(Some("1"));
        }
        Reply::Status(502, None, String::new())
    });
    let err = out.report.error.as_ref().unwrap();
    assert_eq!(err.code, ErrorCode::CrmUnavailable);
    assert_eq!(
        err.message,
        "KeyCRM answered HTTP 502 for /v1/offers/stocks (page 1: gave up after 6 retries: 5 after errors, \
         the most maxRetries allows, and 1 after 429 answers)"
    );
    assert_eq!((out.report.retries, out.report.requests), (6, 7));
    assert_eq!(repeated(&out), 6);
}

#[test]
fn a_retry_the_run_ends_before_making_is_not_counted() {
    // The backoff after the failure passes the deadline: no request is repeated.
    let out = drive(
        options(r#"{"deadlineMs": 500}"#),
        &Site::default(),
        0,
        |_, _| Reply::Status(502, None, String::new()),
    );
    assert_eq!(out.report.error.unwrap().code, ErrorCode::DeadlineExceeded);
    assert_eq!((out.report.requests, out.report.retries), (1, 0));
}

#[test]
fn overlapping_failures_count_the_requests_repeated() {
    // Slow failures overlap: pages 1 and 2 fail in turn; the message names the page
    // given up on, the report counts every repeated request of the run.
    let out = drive(options("{}"), &Site::default(), 1_500, |_, _| {
        Reply::Status(502, None, String::new())
    });
    let err = out.report.error.as_ref().unwrap();
    assert!(
        err.message.contains("(page 1: gave up after 5 retries)"),
        "{}",
        err.message
    );
    let page_1 = out.requests.iter().filter(|(_, u)| page_of(u) == 1).count();
    assert_eq!(page_1, 6, "page 1: the first request and 5 retries");
    assert_eq!(out.report.retries as usize, repeated(&out));
}
