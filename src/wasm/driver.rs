//! Runs the engine's actions through the JS callbacks until the report is ready.

use gloo_timers::future::TimeoutFuture;
use serde::Deserialize;
use wasm_bindgen::JsValue;

use super::interop::{from_js, message_of, to_js, Io};
use crate::diff::SiteStock;
use crate::engine::{Action, SyncEngine};
use crate::report::SyncReport;
use crate::request::{HttpResponse, TransportFailure};

/// What the shim's `fetch` resolves to: an answer, or why there was none.
#[derive(Deserialize)]
#[serde(untagged)]
enum FetchOutcome {
    Failed { failure: TransportFailure },
    Answered(HttpResponse),
}

/// Drives `engine` to its end.
pub async fn drive(mut engine: SyncEngine, io: &Io) -> SyncReport {
    loop {
        let action = engine.poll(now_ms());
        match action {
            Action::Fetch(request) => {
                let outcome = match to_js(&request) {
                    Ok(request) => io.fetch(request).await,
                    Err(e) => Err(JsValue::from_str(&e.message)),
                };
                let now = now_ms();
                match outcome.map(from_js::<FetchOutcome>) {
                    Ok(Ok(FetchOutcome::Answered(response))) => {
                        engine.handle_response(now, response)
                    }
                    Ok(Ok(FetchOutcome::Failed { failure })) => {
                        engine.handle_transport_failure(now, failure)
                    }
                    // A fetch callback that throws or answers nonsense is a network
                    // failure as far as the scan can tell: retried, then reported.
                    Ok(Err(_)) | Err(_) => {
                        engine.handle_transport_failure(now, TransportFailure::Network)
                    }
                }
                report_progress(&engine, io);
            }
            Action::Sleep(ms) => {
                // gloo traps above u32::MAX ms; the engine never asks for that long,
                // but clamping costs nothing.
                TimeoutFuture::new(ms.min(u64::from(u32::MAX)) as u32).await;
            }
            Action::ReadSite(keys) => match send(io, Call::Read, to_js(&keys)).await {
                Ok(rows) => match from_js::<Vec<SiteStock>>(rows) {
                    Ok(rows) => engine.handle_site_stock(rows),
                    Err(e) => engine.handle_site_failure(&format!(
                        "read() returned rows of the wrong shape: {e}"
                    )),
                },
                Err(message) => engine.handle_site_failure(&message),
            },
            Action::WriteSite(changes) => match send(io, Call::Write, to_js(&changes)).await {
                Ok(_) => {
                    engine.handle_written();
                    report_progress(&engine, io);
                }
                Err(message) => engine.handle_site_failure(&message),
            },
            Action::ReadAllSite => match io.read_all().await {
                Ok(rows) => match from_js::<Vec<SiteStock>>(rows) {
                    Ok(rows) => engine.handle_site_all(rows),
                    Err(e) => engine.handle_site_failure(&format!(
                        "readAll() returned rows of the wrong shape: {e}"
                    )),
                },
                Err(thrown) => engine.handle_site_failure(&message_of(&thrown)),
            },
            Action::Done(report) => return report,
        }
    }
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

/// Progress goes out after every page and every write, so the last call agrees
/// with the report.
fn report_progress(engine: &SyncEngine, io: &Io) {
    if let Ok(progress) = to_js(&engine.progress()) {
        io.progress(&progress);
    }
}

fn now_ms() -> u64 {
    js_sys::Date::now() as u64
}
