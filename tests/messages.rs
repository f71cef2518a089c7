//! What a failed request tells people: its path, its cause, a hint for a wrong
//! API base, and a notice while its retry waits.

use keycrm_stock_sync::{Action, ErrorCode, HttpResponse, SyncEngine, SyncOptions};
use keycrm_stock_sync::{HttpRequest, TransportFailure};

fn engine(json: &str) -> SyncEngine {
    SyncEngine::new(SyncOptions::from_json(json).unwrap(), 0, 7)
}

/// Polls until the engine asks for a request; the time moves over sleeps.
fn next_fetch(engine: &mut SyncEngine, now: &mut u64) -> HttpRequest {
    loop {
        match engine.poll(*now) {
            Action::Fetch(request) => return request,
            Action::Sleep(ms) => *now += ms,
            other => panic!("expected a request, got {other:?}"),
        }
    }
}

fn done(engine: &mut SyncEngine, now: u64) -> keycrm_stock_sync::SyncReport {
    match engine.poll(now) {
        Action::Done(report) => *report,
        other => panic!("expected the end, got {other:?}"),
    }
}

fn status(code: u16, body: &str) -> HttpResponse {
    HttpResponse {
        status: code,
        retry_after: None,
        body: body.to_string(),
    }
}

#[test]
fn a_network_failure_names_its_cause_and_is_announced_before_its_retry() {
    let mut run = engine(r#"{"apiUrl": "http://no-such-host.invalid/v1", "maxRetries": 2}"#);
    let mut now = 0;
    let cause = "no-such-host.invalid: ENOTFOUND, the host name does not resolve";
    for retry in 1..=2 {
        let request = next_fetch(&mut run, &mut now);
        run.handle_transport_failure_because(
            request.id,
            now,
            TransportFailure::Network,
            Some(cause),
        );
        let notice = run
            .progress()
            .retry
            .expect("a notice while the retry waits");
        assert_eq!(notice.request, "page 1");
        assert_eq!((notice.retry, notice.max_retries), (retry, 2));
        assert_eq!(notice.failure, u64::from(retry));
        assert!(notice.wait_ms > 0);
        assert_eq!(
            notice.reason,
            format!("KeyCRM could not be reached: {cause}")
        );
    }
    let request = next_fetch(&mut run, &mut now);
    assert!(run.progress().retry.is_none(), "the retry has started");
    run.handle_transport_failure_because(request.id, now, TransportFailure::Network, Some(cause));
    let report = done(&mut run, now);
    let error = report.error.unwrap();
    assert_eq!(error.code, ErrorCode::CrmUnavailable);
    assert!(
        error
            .message
            .starts_with(&format!("KeyCRM could not be reached: {cause} (page 1")),
        "{}",
        error.message
    );
}

#[test]
fn a_failure_without_a_cause_says_network_error() {
    let mut run = engine(r#"{"maxRetries": 0}"#);
    let mut now = 0;
    let request = next_fetch(&mut run, &mut now);
    run.handle_transport_failure(request.id, now, TransportFailure::Network);
    let report = done(&mut run, now);
    assert!(report
        .error
        .unwrap()
        .message
        .starts_with("KeyCRM could not be reached (network error)"));
}

#[test]
fn an_http_error_names_the_path_and_a_404_at_the_root_suggests_v1() {
    let mut run = engine(r#"{"apiUrl": "https://openapi.keycrm.app"}"#);
    let mut now = 0;
    let request = next_fetch(&mut run, &mut now);
    run.handle_response(request.id, now, status(404, r#"{"message":"Not found"}"#));
    let error = done(&mut run, now).error.unwrap();
    assert_eq!(error.code, ErrorCode::CrmHttp);
    assert_eq!(
        error.message,
        "KeyCRM answered HTTP 404 for /offers/stocks: Not found; \
         KeyCRM's API base ends in /v1: try https://openapi.keycrm.app/v1"
    );
    assert!(!error.message.contains("limit="), "no query");

    // Under /v1, a 404 is something else: no hint.
    let mut run = engine(r#"{"apiUrl": "http://127.0.0.1:9/v1"}"#);
    let request = next_fetch(&mut run, &mut now);
    run.handle_response(request.id, now, status(404, ""));
    let error = done(&mut run, now).error.unwrap();
    assert_eq!(
        error.message,
        "KeyCRM answered HTTP 404 for /v1/offers/stocks"
    );
}

#[test]
fn a_5xx_and_a_429_are_announced_with_their_reason() {
    let mut run = engine("{}");
    let mut now = 0;
    let request = next_fetch(&mut run, &mut now);
    run.handle_response(request.id, now, status(503, ""));
    let notice = run.progress().retry.unwrap();
    assert_eq!(
        notice.reason,
        "KeyCRM answered HTTP 503 for /v1/offers/stocks"
    );
    let request = next_fetch(&mut run, &mut now);
    run.handle_response(
        request.id,
        now,
        HttpResponse {
            status: 429,
            retry_after: Some("7".into()),
            body: String::new(),
        },
    );
    let notice = run.progress().retry.unwrap();
    assert_eq!(notice.reason, "KeyCRM answered HTTP 429 Too Many Requests");
    assert_eq!((notice.failure, notice.wait_ms), (2, 7_000));
}
