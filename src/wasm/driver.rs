//! Runs the engine's actions through the JS callbacks until the report is ready.
//!
//! Requests run concurrently (as the engine allows); database calls run one at a
//! time. While the engine sleeps, an answer that arrives ends the sleep early.
//!
//! Every wait on JS is bounded by a timer the driver holds: a request by its
//! `timeoutMs` (which the engine keeps within the deadline), a sink call by the
//! engine's [`site_call_timeout_ms`](SyncEngine::site_call_timeout_ms). A
//! callback that never settles, or ignores its abort signal, still ends the wait.

use std::future::Future;
use std::pin::pin;

use futures_util::future::{self, Either, LocalBoxFuture};
use futures_util::stream::{FuturesUnordered, StreamExt};
use gloo_timers::future::TimeoutFuture;
use serde::Deserialize;
use wasm_bindgen::{JsCast, JsValue};

use super::interop::{from_js, message_of, to_js, Io};
use super::rows::{changes_to_js, keys_to_js, site_rows_from_js};
use crate::engine::{Action, SyncEngine};
use crate::report::SyncReport;
use crate::request::{HttpRequest, HttpResponse, TransportFailure};

/// What the shim's `fetch` resolves to: an answer (`status`, `retryAfter`, `body`),
/// or why there was none (`failure`).
///
/// One struct rather than an untagged enum: serde-wasm-bindgen would build a JS
/// `Error` for every variant that fails to match, on every answer. The body is not
/// read through serde (see [`body_of`]).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FetchOutcome {
    #[serde(default)]
    failure: Option<TransportFailure>,
    /// What the shim knows of a failure's cause, for the error's message.
    #[serde(default)]
    cause: Option<String>,
    #[serde(default)]
    status: Option<u16>,
    #[serde(default)]
    retry_after: Option<String>,
    #[serde(skip)]
    body: Option<String>,
}

impl FetchOutcome {
    fn timed_out() -> Self {
        FetchOutcome {
            failure: Some(TransportFailure::Timeout),
            cause: None,
            status: None,
            retry_after: None,
            body: None,
        }
    }
}

/// A request's id and how it ended.
type Landing = (u64, Result<FetchOutcome, ()>);

/// How often a run that may be asked to stop looks whether it was, in ms, while it
/// waits; the engine then asks for the rest of the wait again.
const STOP_CHECK_MS: u64 = 1_000;

/// Drives `engine` to its end.
pub async fn drive(mut engine: SyncEngine, io: &Io) -> SyncReport {
    let mut in_flight: FuturesUnordered<LocalBoxFuture<'_, Landing>> = FuturesUnordered::new();
    // The sleep under way and when it ends: an answer that ends it early leaves
    // its timer to the next sleep, which is mostly asked to end at the same time.
    let mut sleep: Option<(u64, TimeoutFuture)> = None;
    let mut stop_asked = false;
    loop {
        if !stop_asked && io.should_stop() {
            stop_asked = true;
            engine.handle_stop();
        }
        let now = now_ms();
        match engine.poll(now) {
            Action::Fetch(request) => in_flight.push(Box::pin(fetch(io, request))),
            Action::Sleep(ms) => {
                let ms = if io.can_stop() {
                    ms.min(STOP_CHECK_MS)
                } else {
                    ms
                };
                let wake = now.saturating_add(ms);
                let asleep = match sleep.take() {
                    Some((at, asleep)) if at == wake => asleep,
                    _ => timer(ms),
                };
                if in_flight.is_empty() {
                    asleep.await;
                } else {
                    if let Either::Left((landed, asleep)) =
                        future::select(in_flight.next(), asleep).await
                    {
                        sleep = Some((wake, asleep));
                        if let Some(landing) = landed {
                            land(&mut engine, io, landing);
                        }
                    }
                }
            }
            // Each request in flight ends by its own timeout, so this wait ends.
            Action::AwaitResponse => {
                let wait = if io.can_stop() {
                    STOP_CHECK_MS
                } else {
                    u64::MAX
                };
                match within(wait, in_flight.next()).await {
                    Some(Some(landing)) => land(&mut engine, io, landing),
                    Some(None) => engine
                        .handle_driver_failure("an answer was awaited with no request in flight"),
                    // Time to look whether the run was asked to stop.
                    None => {}
                }
            }
            Action::ReadSite(keys) => {
                let limit = engine.site_call_timeout_ms(now_ms());
                match within(limit, send(io, Call::Read, keys_to_js(&keys))).await {
                    Some(Ok(rows)) => match site_rows_from_js(&rows) {
                        Ok(rows) => engine.handle_site_stock(rows),
                        Err(e) => engine.handle_site_failure(&format!(
                            "read() returned rows of the wrong shape: {e}"
                        )),
                    },
                    Some(Err(message)) => engine.handle_site_failure(&message),
                    None => engine.handle_site_timeout(limit),
                }
            }
            Action::WriteSite(changes) => {
                let limit = engine.site_call_timeout_ms(now_ms());
                match within(limit, send(io, Call::Write, changes_to_js(&changes))).await {
                    Some(Ok(_)) => {
                        engine.handle_written();
                        report_progress(&engine, io);
                    }
                    Some(Err(message)) => engine.handle_site_failure(&message),
                    None => engine.handle_site_timeout(limit),
                }
            }
            Action::ReadAllSite => {
                let limit = engine.site_call_timeout_ms(now_ms());
                match within(limit, io.read_all()).await {
                    Some(Ok(rows)) => match site_rows_from_js(&rows) {
                        Ok(rows) => engine.handle_site_all(rows),
                        Err(e) => engine.handle_site_failure(&format!(
                            "readAll() returned rows of the wrong shape: {e}"
                        )),
                    },
                    Some(Err(thrown)) => engine.handle_site_failure(&message_of(&thrown)),
                    None => engine.handle_site_timeout(limit),
                }
            }
            // Requests still in flight are dropped with `in_flight`; the shim aborts
            // them when the run's promise settles.
            Action::Done(report) => return *report,
        }
    }
}

/// Starts a request now and settles with how it ended: by its outcome, or as a
/// timeout once `timeoutMs` has passed, whether or not the callback honours it.
fn fetch(io: &Io, request: HttpRequest) -> impl Future<Output = Landing> {
    let id = request.id;
    let limit = request.timeout_ms;
    let started = to_js(&request).map(|request| io.fetch(&request));
    async move {
        let Ok(started) = started else {
            return (id, Err(()));
        };
        let outcome = match within(limit, started).await {
            Some(settled) => settled.map_err(|_| ()).and_then(|v| {
                let body = body_of(&v);
                let mut outcome = from_js::<FetchOutcome>(v).map_err(|_| ())?;
                outcome.body = body;
                Ok(outcome)
            }),
            None => Ok(FetchOutcome::timed_out()),
        };
        (id, outcome)
    }
}

/// The answer's `body`: the bytes of the answer (a `Uint8Array` or an
/// `ArrayBuffer`, copied into wasm memory at once), or its text (a string).
///
/// Bytes are decoded as `Response.text()` decodes them: UTF-8, a leading byte
/// order mark dropped, an invalid sequence read as U+FFFD. Handing bytes avoids
/// wasm-bindgen's string glue, which copies text one character at a time in JS.
fn body_of(outcome: &JsValue) -> Option<String> {
    let body = js_sys::Reflect::get(outcome, &JsValue::from_str("body")).ok()?;
    if let Some(text) = body.as_string() {
        return Some(text);
    }
    let bytes = if let Some(view) = body.dyn_ref::<js_sys::Uint8Array>() {
        view.to_vec()
    } else if body.is_instance_of::<js_sys::ArrayBuffer>() {
        js_sys::Uint8Array::new(&body).to_vec()
    } else {
        return None;
    };
    Some(decode_utf8(bytes))
}

/// UTF-8 bytes as text, as the WHATWG decoder does: BOM dropped, invalid
/// sequences as U+FFFD.
pub(super) fn decode_utf8(mut bytes: Vec<u8>) -> String {
    if bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
        bytes.drain(..3);
    }
    match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

/// `future`'s output, or `None` if `ms` passed first.
async fn within<F: Future>(ms: u64, future: F) -> Option<F::Output> {
    match future::select(pin!(future), timer(ms)).await {
        Either::Left((output, _)) => Some(output),
        Either::Right(_) => None,
    }
}

/// A timer of `ms`, clamped: gloo traps above `u32::MAX` ms.
fn timer(ms: u64) -> TimeoutFuture {
    TimeoutFuture::new(ms.min(u64::from(u32::MAX)) as u32)
}

fn land(engine: &mut SyncEngine, io: &Io, (id, outcome): Landing) {
    let now = now_ms();
    match outcome {
        Ok(FetchOutcome {
            failure: Some(failure),
            cause,
            ..
        }) => engine.handle_transport_failure_because(id, now, failure, cause.as_deref()),
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

/// Starts a sink call now; its future settles with the result or the thrown
/// message.
fn send(io: &Io, call: Call, arg: JsValue) -> impl Future<Output = Result<JsValue, String>> {
    let started = match call {
        Call::Read => future::Either::Left(io.read(&arg)),
        Call::Write => future::Either::Right(io.write(&arg)),
    };
    async move { started.await.map_err(|thrown| message_of(&thrown)) }
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
