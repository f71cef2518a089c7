//! One run of the engine, handed to JS step by step: `js/drive.js` polls it for
//! the next action, does that action's I/O, and hands the outcome back.
//!
//! The loop that awaits fetches, sink calls and timers lives in JS, where a
//! promise and a timer cost what V8 makes them cost; awaited from wasm, each
//! needed closures crossing the boundary (`npm run bench:core`). Every decision
//! stays here: what to request and when, how long each wait may last, what an
//! answer means.

use wasm_bindgen::prelude::*;

use super::interop::{decode_utf8, error_to_js, to_js};
use super::rows::{changes_to_js, keys_to_js, site_rows_from_js, LastRead};
use crate::engine::{Action, SyncEngine};
use crate::pacing::SharedPacing;
use crate::request::{HttpRequest, HttpResponse, TransportFailure};

/// What [`Run::poll`] asks of the driver; the action's details are read from
/// the run until the next poll.
#[wasm_bindgen]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Start the request ([`Run::request_id`], [`Run::request_url`],
    /// [`Run::request_timeout_ms`]) and poll again at once.
    Fetch = 0,
    /// Wait [`Run::sleep_ms`], or less if an answer arrives first.
    Sleep = 1,
    /// Wait for any request in flight to end.
    Await = 2,
    /// Read [`Run::keys`] from the site, then [`Run::site_rows`].
    Read = 3,
    /// Write [`Run::changes`], then [`Run::written`].
    Write = 4,
    /// Read every site row, then [`Run::all_site_rows`].
    ReadAll = 5,
    /// The run is over: [`Run::report`].
    Done = 6,
}

/// An engine and the action it last asked for, whose details the driver reads.
#[wasm_bindgen]
pub struct Run {
    engine: SyncEngine,
    action: Action,
    /// A stock webhook's offers, each once.
    offer_ids: Vec<u64>,
    /// The SKUs of the read under way as JS holds them, once the driver took
    /// its keys.
    reading: Option<JsValue>,
    /// The last read whose keys the driver took: the changes that follow name
    /// its keys.
    last_read: Option<LastRead>,
}

impl Run {
    pub(super) fn new(engine: SyncEngine) -> Run {
        Run {
            engine,
            action: Action::AwaitResponse,
            offer_ids: Vec::new(),
            reading: None,
            last_read: None,
        }
    }

    pub(super) fn with_offer_ids(mut self, offer_ids: Vec<u64>) -> Run {
        self.offer_ids = offer_ids;
        self
    }

    pub(super) fn share_pacing(&mut self, shared: &SharedPacing) {
        self.engine.share_pacing(shared);
    }

    /// The request the last action asked to start, if it was a fetch.
    fn request(&self) -> Option<&HttpRequest> {
        match &self.action {
            Action::Fetch(request) => Some(request),
            _ => None,
        }
    }
}

#[wasm_bindgen]
impl Run {
    /// The next action, at `now` (ms since the epoch). Its details stay readable
    /// until the next poll; the last action's go with it.
    pub fn poll(&mut self, now: f64) -> Step {
        let last = std::mem::replace(&mut self.action, self.engine.poll(ms(now)));
        if let (Action::ReadSite(keys), Some(skus)) = (last, self.reading.take()) {
            self.last_read = Some(LastRead { keys, skus });
        }
        match &self.action {
            Action::Fetch(_) => Step::Fetch,
            Action::Sleep(_) => Step::Sleep,
            Action::AwaitResponse => Step::Await,
            Action::ReadSite(_) => Step::Read,
            Action::WriteSite(_) => Step::Write,
            Action::ReadAllSite => Step::ReadAll,
            Action::Done(_) => Step::Done,
        }
    }

    /// The id of the request to start, to hand back with its outcome.
    #[wasm_bindgen(getter, js_name = requestId)]
    pub fn request_id(&self) -> f64 {
        self.request().map_or(-1.0, |r| r.id as f64)
    }

    /// The URL of the request to start.
    #[wasm_bindgen(getter, js_name = requestUrl)]
    pub fn request_url(&self) -> String {
        self.request().map_or_else(String::new, |r| r.url.clone())
    }

    /// How long the request to start may take, headers and body, in ms.
    #[wasm_bindgen(getter, js_name = requestTimeoutMs)]
    pub fn request_timeout_ms(&self) -> f64 {
        self.request().map_or(0.0, |r| r.timeout_ms as f64)
    }

    /// How long to sleep, in ms.
    #[wasm_bindgen(getter, js_name = sleepMs)]
    pub fn sleep_ms(&self) -> f64 {
        match self.action {
            Action::Sleep(wait) => wait as f64,
            _ => 0.0,
        }
    }

    /// The keys to read, as the sink's objects.
    pub fn keys(&mut self) -> JsValue {
        let Action::ReadSite(keys) = &self.action else {
            return keys_to_js(&[]).0;
        };
        let (objects, skus) = keys_to_js(keys);
        self.reading = Some(skus);
        objects
    }

    /// The changes to write, as the sink's objects.
    pub fn changes(&self) -> JsValue {
        match &self.action {
            Action::WriteSite(changes) => changes_to_js(changes, self.last_read.as_ref()),
            _ => changes_to_js(&[], None),
        }
    }

    /// The report, once [`Step::Done`].
    pub fn report(&self) -> Result<JsValue, JsValue> {
        match &self.action {
            Action::Done(report) => to_js(report.as_ref()).map_err(|e| error_to_js(&e)),
            _ => Ok(JsValue::UNDEFINED),
        }
    }

    /// A stock webhook's offers, each once (empty for other runs).
    #[wasm_bindgen(js_name = offerIds)]
    pub fn offer_ids(&self) -> Vec<f64> {
        self.offer_ids.iter().map(|&id| id as f64).collect()
    }

    /// Request `id` was answered: `status`, its `Retry-After` header if any, and
    /// the body's bytes (decoded as `Response.text()` decodes them).
    pub fn answered(
        &mut self,
        id: f64,
        now: f64,
        status: u16,
        retry_after: Option<String>,
        body: Vec<u8>,
    ) {
        self.answered_text(id, now, status, retry_after, decode_utf8(body));
    }

    /// [`Run::answered`], with the body as text.
    #[wasm_bindgen(js_name = answeredText)]
    pub fn answered_text(
        &mut self,
        id: f64,
        now: f64,
        status: u16,
        retry_after: Option<String>,
        body: String,
    ) {
        let response = HttpResponse {
            status,
            retry_after,
            body,
        };
        self.engine.handle_response(ms(id), ms(now), response);
    }

    /// Request `id` got no answer: in time (`timedOut`), or at all (`cause`
    /// says why, when known).
    pub fn failed(&mut self, id: f64, now: f64, timed_out: bool, cause: Option<String>) {
        let failure = if timed_out {
            TransportFailure::Timeout
        } else {
            TransportFailure::Network
        };
        self.engine
            .handle_transport_failure_because(ms(id), ms(now), failure, cause.as_deref());
    }

    /// What `read(keys)` resolved with.
    #[wasm_bindgen(js_name = siteRows)]
    pub fn site_rows(&mut self, rows: &JsValue) {
        match site_rows_from_js(rows) {
            Ok(rows) => self.engine.handle_site_stock(rows),
            Err(e) => self
                .engine
                .handle_site_failure(&format!("read() returned rows of the wrong shape: {e}")),
        }
    }

    /// What `readAll()` resolved with.
    #[wasm_bindgen(js_name = allSiteRows)]
    pub fn all_site_rows(&mut self, rows: &JsValue) {
        match site_rows_from_js(rows) {
            Ok(rows) => self.engine.handle_site_all(rows),
            Err(e) => self
                .engine
                .handle_site_failure(&format!("readAll() returned rows of the wrong shape: {e}")),
        }
    }

    /// `write(changes)` resolved.
    pub fn written(&mut self) {
        self.engine.handle_written();
    }

    /// The sink call threw or rejected with `message`.
    #[wasm_bindgen(js_name = siteFailed)]
    pub fn site_failed(&mut self, message: &str) {
        self.engine.handle_site_failure(message);
    }

    /// How long the sink call about to start may take, in ms.
    #[wasm_bindgen(js_name = siteCallTimeoutMs)]
    pub fn site_call_timeout_ms(&self, now: f64) -> f64 {
        self.engine.site_call_timeout_ms(ms(now)) as f64
    }

    /// The sink call did not settle within `limit` ms.
    #[wasm_bindgen(js_name = siteTimedOut)]
    pub fn site_timed_out(&mut self, limit: f64) {
        self.engine.handle_site_timeout(ms(limit));
    }

    /// The caller asked the run to stop.
    pub fn stop(&mut self) {
        self.engine.handle_stop();
    }

    /// The driver could not do what was asked; ends the run.
    #[wasm_bindgen(js_name = driverFailed)]
    pub fn driver_failed(&mut self, message: &str) {
        self.engine.handle_driver_failure(message);
    }

    /// The run's progress, for `onProgress`.
    pub fn progress(&self) -> JsValue {
        to_js(&self.engine.progress()).unwrap_or(JsValue::UNDEFINED)
    }
}

/// A whole number of ms (or an id) from JS: NaN and negatives as 0.
fn ms(value: f64) -> u64 {
    value as u64
}
