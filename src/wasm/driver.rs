//! Runs the engine's actions through the JS callbacks until the report is ready.
//!
//! Requests run concurrently (as the engine allows); database calls run one at a
//! time. While the engine sleeps, an answer that arrives ends the sleep early.

use futures_util::future::{self, Either, LocalBoxFuture};
use futures_util::stream::{FuturesUnordered, StreamExt};
use gloo_timers::future::TimeoutFuture;
use serde::Deserialize;
use wasm_bindgen::JsValue;

use super::interop::{from_js, from_js_json, message_of, to_js, to_js_json, Io};
use crate::diff::SiteStock;
use crate::engine::{Action, SyncEngine};
use crate::report::SyncReport;
use crate::request::{HttpRequest, HttpResponse, TransportFailure};

/// What the shim's `fetch` resolves to: an answer (`status`, `retryAfter`, `body`),
/// or why there was none (`failure`).
///
/// One struct rather than an untagged enum: serde-wasm-bindgen would build a JS
/// `Error` for every variant that fails to match, on every answer.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FetchOutcome {
    #[serde(default)]
    failure: Option<TransportFailure>,
    #[serde(default)]
    status: Option<u16>,
    #[serde(default)]
    retry_after: Option<String>,
    #[serde(default)]
    body: Option<String>,
}

/// A request's id and how it ended.
type Landing = (u64, Result<FetchOutcome, ()>);

/// Drives `engine` to its end.
pub async fn drive(mut engine: SyncEngine, io: &Io) -> SyncReport {
    let mut in_flight: FuturesUnordered<LocalBoxFuture<'_, Landing>> = FuturesUnordered::new();
    let mut stop_asked = false;
    loop {
        if !stop_asked && io.should_stop() {
            stop_asked = true;
            engine.handle_stop();
        }
        match engine.poll(now_ms()) {
            Action::Fetch(request) => in_flight.push(Box::pin(fetch(io, request))),
            Action::Sleep(ms) => {
                // gloo traps above u32::MAX ms; the engine never asks for that long,
                // but clamping costs nothing.
                // A run that may be asked to stop wakes at least every second to
                // look; the engine then asks for the rest of the wait again.
                let ms = if io.can_stop() { ms.min(1_000) } else { ms };
                let timer = TimeoutFuture::new(ms.min(u64::from(u32::MAX)) as u32);
                if in_flight.is_empty() {
                    timer.await;
                } else if let Either::Left((Some(landing), _)) =
                    future::select(in_flight.next(), timer).await
                {
                    land(&mut engine, io, landing);
                }
            }
            Action::AwaitResponse => match in_flight.next().await {
                Some(landing) => land(&mut engine, io, landing),
                None => {
                    engine.handle_driver_failure("an answer was awaited with no request in flight")
                }
            },
            Action::ReadSite(keys) => match send(io, Call::Read, to_js_json(&keys)).await {
                Ok(rows) => match from_js_json::<Vec<SiteStock>>(&rows) {
                    Ok(rows) => engine.handle_site_stock(rows),
                    Err(e) => engine.handle_site_failure(&format!(
                        "read() returned rows of the wrong shape: {e}"
                    )),
                },
                Err(message) => engine.handle_site_failure(&message),
            },
            Action::WriteSite(changes) => match send(io, Call::Write, to_js_json(&changes)).await {
                Ok(_) => {
                    engine.handle_written();
                    report_progress(&engine, io);
                }
                Err(message) => engine.handle_site_failure(&message),
            },
            Action::ReadAllSite => match io.read_all().await {
                Ok(rows) => match from_js_json::<Vec<SiteStock>>(&rows) {
                    Ok(rows) => engine.handle_site_all(rows),
                    Err(e) => engine.handle_site_failure(&format!(
                        "readAll() returned rows of the wrong shape: {e}"
                    )),
                },
                Err(thrown) => engine.handle_site_failure(&message_of(&thrown)),
            },
            // Requests still in flight are dropped with `in_flight`; the shim aborts
            // them when the run's promise settles.
            Action::Done(report) => return *report,
        }
    }
}

async fn fetch(io: &Io, request: HttpRequest) -> Landing {
    let id = request.id;
    let outcome = match to_js(&request) {
        Ok(request) => io.fetch(request).await.map_err(|_| ()),
        Err(_) => Err(()),
    };
    (
        id,
        outcome.and_then(|v| from_js::<FetchOutcome>(v).map_err(|_| ())),
    )
}

fn land(engine: &mut SyncEngine, io: &Io, (id, outcome): Landing) {
    let now = now_ms();
    match outcome {
        Ok(FetchOutcome {
            failure: Some(failure),
            ..
        }) => engine.handle_transport_failure(id, now, failure),
        Ok(FetchOutcome {
            status: Some(status),
            retry_after,
            body,
            ..
        }) => engine.handle_response(
            id,
            now,
            HttpResponse {
                status,
                retry_after,
                body: body.unwrap_or_default(),
            },
        ),
        // A fetch callback that throws or answers nonsense is a network failure as
        // far as the scan can tell: retried, then reported.
        _ => engine.handle_transport_failure(id, now, TransportFailure::Network),
    }
    report_progress(engine, io);
}

enum Call {
    Read,
    Write,
}

async fn send(
    io: &Io,
    call: Call,
    arg: Result<JsValue, crate::SyncError>,
) -> Result<JsValue, String> {
    let arg = arg.map_err(|e| e.message)?;
    let result = match call {
        Call::Read => io.read(arg).await,
        Call::Write => io.write(arg).await,
    };
    result.map_err(|thrown| message_of(&thrown))
}

/// Progress goes out after every answer and every write, so the last call agrees
/// with the report.
fn report_progress(engine: &SyncEngine, io: &Io) {
    if !io.has_progress() {
        return;
    }
    if let Ok(progress) = to_js(&engine.progress()) {
        io.progress(&progress);
    }
}

fn now_ms() -> u64 {
    js_sys::Date::now() as u64
}
