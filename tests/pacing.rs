//! Several runs of one process against one KeyCRM account: with shared pacing
//! their requests are spaced as one run's would be.

mod common;

use common::*;
use keycrm_stock_sync::pacing::SharedPacing;
use keycrm_stock_sync::{Action, SyncEngine};

/// Drives `engines` together on one fake clock, each request answered from
/// `catalogue` after `latency_ms`; returns (start time, engine) of every request.
/// Runs due at the same moment are polled in the order they began to wait, as a
/// JS event loop fires its timers.
fn drive_together(
    mut engines: Vec<SyncEngine>,
    catalogue: &Catalogue,
    latency_ms: u64,
) -> Vec<(u64, usize)> {
    let mut now = 1_700_000_000_000;
    let mut starts = Vec::new();
    // (answer due at, engine, request id, body)
    let mut in_flight: Vec<(u64, usize, u64, String)> = Vec::new();
    // (due at, began waiting) of each run; None while it awaits an answer.
    let mut wake: Vec<Option<(u64, u64)>> =
        (0..engines.len()).map(|i| Some((now, i as u64))).collect();
    let mut waits = engines.len() as u64;
    let mut done = vec![false; engines.len()];
    for _ in 0..100_000 {
        let mut due: Vec<usize> = (0..engines.len())
            .filter(|&i| !done[i] && wake[i].is_some_and(|(at, _)| at <= now))
            .collect();
        due.sort_by_key(|&i| wake[i]);
        for i in due {
            let engine = &mut engines[i];
            loop {
                match engine.poll(now) {
                    Action::Fetch(request) => {
                        starts.push((now, i));
                        let Reply::Body(body) = catalogue.answer(&request.url) else {
                            unreachable!()
                        };
                        in_flight.push((now + latency_ms, i, request.id, body));
                    }
                    Action::Sleep(ms) => {
                        waits += 1;
                        wake[i] = Some((now + ms, waits));
                        break;
                    }
                    Action::AwaitResponse => {
                        wake[i] = None;
                        break;
                    }
                    Action::ReadSite(_) => engine.handle_site_stock(Vec::new()),
                    Action::WriteSite(_) => engine.handle_written(),
                    Action::ReadAllSite => engine.handle_site_all(Vec::new()),
                    Action::Done(report) => {
                        assert!(report.complete, "{:?}", report.error);
                        done[i] = true;
                        break;
                    }
                }
            }
        }
        if done.iter().all(|d| *d) {
            starts.sort();
            return starts;
        }
        let next_answer = in_flight.iter().map(|f| f.0).min();
        let next_wake = wake
            .iter()
            .zip(&done)
            .filter(|(_, d)| !**d)
            .filter_map(|(w, _)| w.map(|w| w.0))
            .min();
        now = [next_answer, next_wake]
            .into_iter()
            .flatten()
            .min()
            .expect("something to wait for")
            .max(now);
        while let Some(at) = in_flight.iter().position(|f| f.0 <= now) {
            let (_, i, id, body) = in_flight.remove(at);
            engines[i].handle_response(id, now, ok(body));
            waits += 1;
            wake[i] = Some((now, waits));
        }
    }
    panic!("the runs did not end");
}

fn smallest_gap(starts: &[(u64, usize)]) -> u64 {
    starts.windows(2).map(|w| w[1].0 - w[0].0).min().unwrap()
}

#[test]
fn runs_sharing_pacing_space_their_requests_as_one() {
    let catalogue = Catalogue::numbered(400);
    let engines = |shared: Option<&SharedPacing>| {
        [
            "{}",
            r#"{"maxConcurrentRequests": 1}"#,
            r#"{"maxConcurrentRequests": 2}"#,
        ]
        .iter()
        .enumerate()
        .map(|(seed, json)| {
            let mut engine = SyncEngine::new(options(json), 1_700_000_000_000, seed as u64);
            if let Some(shared) = shared {
                engine.share_pacing(shared);
            }
            engine
        })
        .collect::<Vec<_>>()
    };
    // 60 a minute: starts 1 010 ms apart (a 1 % margin).
    let shared = SharedPacing::default();
    let together = drive_together(engines(Some(&shared)), &catalogue, 300);
    // 8 pages each, page 1 twice (before and after the scan's census).
    assert_eq!(together.len(), 3 * 9);
    assert!(smallest_gap(&together) >= 1_010, "{together:?}");
    // Every run made progress throughout: none waited for the others to end.
    for run in 0..3 {
        assert!(together[..6].iter().any(|s| s.1 == run), "{together:?}");
    }

    // Each with its own pacing, three runs start three requests at once.
    let apart = drive_together(engines(None), &catalogue, 300);
    assert_eq!(apart.len(), together.len());
    assert_eq!(smallest_gap(&apart), 0);
}

#[test]
fn a_run_that_gives_up_on_429s_still_holds_the_runs_after_it() {
    let shared = SharedPacing::default();
    let options = || options(r#"{"rateLimitPerMinute": 60, "maxRateLimitRetries": 1}"#);
    let start = 1_700_000_000_000;
    let mut first = SyncEngine::new(options(), start, 1);
    first.share_pacing(&shared);
    let too_many = || keycrm_stock_sync::HttpResponse {
        status: 429,
        retry_after: Some("30".into()),
        body: fixture("too_many_attempts.json"),
    };
    let mut now = start;
    let report = loop {
        match first.poll(now) {
            Action::Fetch(request) => first.handle_response(request.id, now, too_many()),
            Action::Sleep(ms) => now += ms,
            Action::Done(report) => break report,
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(
        report.error.as_ref().map(|e| e.code.as_str()),
        Some("RATE_LIMITED")
    );

    // KeyCRM asked for 30 s after the last 429; the next run sharing the pacing
    // waits them out instead of starting inside them.
    let mut next = SyncEngine::new(options(), now, 2);
    next.share_pacing(&shared);
    assert_eq!(next.poll(now), Action::Sleep(30_000));
}
