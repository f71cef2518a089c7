//! A fake clock, a fake KeyCRM and a fake site database to drive the engine with.
#![allow(dead_code)]

use std::collections::BTreeMap;

use keycrm_stock_sync::{
    Action, HttpResponse, SiteStock, StockChange, StockKey, SyncEngine, SyncOptions, SyncReport,
    TransportFailure,
};
use serde_json::{json, Value};

#[cfg(not(target_arch = "wasm32"))]
pub mod json_gen;
mod json_text;
pub use json_text::json_text_agrees;

/// What the fake KeyCRM does with one request.
pub enum Reply {
    /// 200 with this body.
    Body(String),
    /// Any status, with an optional `Retry-After`, and a body.
    Status(u16, Option<String>, String),
    /// No answer in time.
    Timeout,
    /// Connection refused.
    Network,
    /// This reply, after this many ms instead of the run's latency.
    After(u64, Box<Reply>),
}

/// Everything a run did.
pub struct Outcome {
    pub report: SyncReport,
    pub site: BTreeMap<StockKey, Option<f64>>,
    /// (start time, URL) of every request.
    pub requests: Vec<(u64, String)>,
    pub writes: Vec<Vec<StockChange>>,
    /// Sink calls of every kind: reads, writes, read-alls.
    pub site_calls: usize,
    pub sleeps: Vec<u64>,
    pub ended_at: u64,
}

/// The site before a run, and how its database behaves.
#[derive(Clone, Default)]
pub struct Site {
    pub rows: BTreeMap<StockKey, Option<f64>>,
    /// The write call (0-based) that fails, if any.
    pub fail_write: Option<usize>,
}

impl Site {
    pub fn with(skus: &[(&str, Option<f64>)]) -> Site {
        Site {
            rows: skus.iter().map(|(s, v)| (key(s), *v)).collect(),
            fail_write: None,
        }
    }

    pub fn stock(&self, sku: &str) -> Option<f64> {
        self.rows.get(&key(sku)).copied().flatten()
    }
}

pub fn key(sku: &str) -> StockKey {
    StockKey {
        sku: sku.to_string(),
        warehouse_id: None,
    }
}

pub fn options(json: &str) -> SyncOptions {
    SyncOptions::from_json(json).expect("valid options")
}

/// The recorded stock pages among the fixtures.
pub const STOCK_PAGES: [&str; 6] = [
    "stocks_details_page.json",
    "stocks_page_1_of_2.json",
    "stocks_page_2_of_2.json",
    "stocks_spec_shape_page_1.json",
    "stocks_spec_shape_page_2.json",
    "stocks_spec_shape_page_3_empty.json",
];

/// Proptest's settings for property tests of `cases` cases, writing no files of
/// failures (a failure prints its input).
#[cfg(not(target_arch = "wasm32"))]
pub fn proptest_config(cases: u32) -> proptest::test_runner::Config {
    proptest::test_runner::Config {
        cases,
        failure_persistence: None,
        ..proptest::test_runner::Config::default()
    }
}

/// Bytes that matter to JSON's grammar, for damage that often still parses.
#[cfg(not(target_arch = "wasm32"))]
const SIGNIFICANT: &[u8] = b"{}[]\",:\\-+.0123456789eEnultrfa /u \t\n";

/// `text` with `edits` applied: a byte replaced (by a significant one, or
/// any), inserted (anywhere, or after a digit, where a number may grow), removed,
/// the text cut short, or bytes added after its end. Invalid UTF-8 is read as
/// U+FFFD, as the driver decodes an answer.
#[cfg(not(target_arch = "wasm32"))]
pub fn damaged(text: &str, edits: &[(proptest::sample::Index, u8, u8)]) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for (at, byte, kind) in edits {
        if bytes.is_empty() {
            break;
        }
        let i = at.index(bytes.len());
        let significant = SIGNIFICANT[usize::from(*byte) % SIGNIFICANT.len()];
        match kind % 7 {
            0 => bytes[i] = significant,
            1 => bytes[i] = *byte,
            2 => bytes.insert(i, significant),
            3 => {
                bytes.remove(i);
            }
            4 => bytes.truncate(i),
            5 => bytes.extend([significant, *byte % 2 * b' ']),
            _ => {
                let digit = (i..bytes.len()).find(|&j| bytes[j].is_ascii_digit());
                if let Some(j) = digit {
                    bytes.insert(j + 1, significant);
                }
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

pub fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Runs the engine to its end on a fake clock. Each request takes `latency_ms`;
/// the fake KeyCRM answers at the moment a request starts, and requests overlap
/// when the engine starts them while others are in flight.
pub fn drive(
    options: SyncOptions,
    site: &Site,
    latency_ms: u64,
    mut server: impl FnMut(&str, u64) -> Reply,
) -> Outcome {
    let start = 1_700_000_000_000;
    let mut now = start;
    let mut engine = SyncEngine::new(options, now, 42);
    let mut rows = site.rows.clone();
    let mut requests = Vec::new();
    let mut writes = Vec::new();
    let mut sleeps = Vec::new();
    let mut site_calls = 0;
    // (ends at, request id, reply)
    let mut in_flight: Vec<(u64, u64, Reply)> = Vec::new();
    let deliver = |engine: &mut SyncEngine,
                   in_flight: &mut Vec<(u64, u64, Reply)>,
                   now: &mut u64| {
        let first = (0..in_flight.len())
            .min_by_key(|&i| (in_flight[i].0, in_flight[i].1))
            .expect("a request in flight");
        let (at, id, reply) = in_flight.remove(first);
        *now = (*now).max(at);
        match reply {
            Reply::Body(body) => engine.handle_response(id, *now, ok(body)),
            Reply::Status(status, retry_after, body) => engine.handle_response(
                id,
                *now,
                HttpResponse {
                    status,
                    retry_after,
                    body,
                },
            ),
            Reply::Timeout => engine.handle_transport_failure(id, *now, TransportFailure::Timeout),
            Reply::Network => engine.handle_transport_failure(id, *now, TransportFailure::Network),
            Reply::After(..) => unreachable!("unwrapped when the request started"),
        }
    };
    for _ in 0..1_000_000 {
        json_text_agrees(&engine.progress()).unwrap();
        match engine.poll(now) {
            Action::Fetch(request) => {
                requests.push((now, request.url.clone()));
                let (took, reply) = match server(&request.url, now) {
                    Reply::Timeout => (request.timeout_ms, Reply::Timeout),
                    Reply::After(ms, reply) => (ms, *reply),
                    reply => (latency_ms, reply),
                };
                in_flight.push((now + took, request.id, reply));
            }
            Action::Sleep(ms) => {
                assert!(ms > 0, "the engine never asks for an empty sleep");
                sleeps.push(ms);
                let wake = now + ms;
                if in_flight.iter().any(|(at, _, _)| *at <= wake) {
                    deliver(&mut engine, &mut in_flight, &mut now);
                } else {
                    now = wake;
                }
            }
            Action::AwaitResponse => deliver(&mut engine, &mut in_flight, &mut now),
            Action::ReadSite(keys) => {
                site_calls += 1;
                let found = keys
                    .iter()
                    .filter_map(|k| {
                        rows.get(k).map(|stock| SiteStock {
                            sku: k.sku.clone(),
                            warehouse_id: k.warehouse_id,
                            stock: *stock,
                            observed_at: None,
                        })
                    })
                    .collect();
                engine.handle_site_stock(found);
            }
            Action::WriteSite(changes) => {
                site_calls += 1;
                if site.fail_write == Some(writes.len()) {
                    writes.push(changes);
                    engine.handle_site_failure("disk I/O error");
                    continue;
                }
                for c in &changes {
                    let k = StockKey {
                        sku: c.sku.clone(),
                        warehouse_id: c.warehouse_id,
                    };
                    if let Some(slot) = rows.get_mut(&k) {
                        *slot = c.stock;
                    }
                }
                writes.push(changes);
                engine.handle_written();
            }
            Action::ReadAllSite => {
                site_calls += 1;
                let all = rows
                    .iter()
                    .map(|(k, v)| SiteStock {
                        sku: k.sku.clone(),
                        warehouse_id: k.warehouse_id,
                        stock: *v,
                        observed_at: None,
                    })
                    .collect();
                engine.handle_site_all(all);
            }
            Action::Done(report) => {
                json_text_agrees(report.as_ref()).unwrap();
                return Outcome {
                    report: *report,
                    site: rows,
                    requests,
                    writes,
                    site_calls,
                    sleeps,
                    ended_at: now,
                };
            }
        }
    }
    panic!("the run did not end");
}

pub fn ok(body: String) -> HttpResponse {
    HttpResponse {
        status: 200,
        retry_after: None,
        body,
    }
}

/// The `page` query parameter of a URL.
pub fn page_of(url: &str) -> u64 {
    query_param(url, "page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(1)
}

pub fn query_param<'a>(url: &'a str, name: &str) -> Option<&'a str> {
    let query = url.split_once('?')?.1;
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
}

/// A KeyCRM catalogue served the way Laravel paginates it.
#[derive(Clone)]
pub struct Catalogue {
    pub rows: Vec<Value>,
    pub per_page: usize,
    /// Leave `last_page` out of the envelope, as the published description does.
    pub without_last_page: bool,
}

impl Catalogue {
    /// `n` offers with SKUs `s0001`…, quantity `id % 7 + 3`, reserve `id % 3`.
    pub fn numbered(n: u64) -> Catalogue {
        Catalogue {
            rows: (1..=n)
                .map(|id| {
                    offer(
                        id,
                        &format!("s{id:04}"),
                        (id % 7 + 3) as f64,
                        (id % 3) as f64,
                    )
                })
                .collect(),
            per_page: 50,
            without_last_page: false,
        }
    }

    /// What the site should hold: quantity − reserve, floored, never negative.
    pub fn expected(&self) -> BTreeMap<String, f64> {
        self.rows
            .iter()
            .map(|r| {
                let q = r["quantity"].as_f64().unwrap();
                let res = r["reserve"].as_f64().unwrap();
                (
                    r["sku"].as_str().unwrap().to_string(),
                    (q - res).floor().max(0.0),
                )
            })
            .collect()
    }

    /// A site with every SKU of the catalogue at stock 0.
    pub fn empty_site(&self) -> Site {
        Site {
            rows: self
                .rows
                .iter()
                .filter_map(|r| r["sku"].as_str().map(|s| (key(s), Some(0.0))))
                .collect(),
            fail_write: None,
        }
    }

    pub fn answer(&self, url: &str) -> Reply {
        Reply::Body(self.page(page_of(url)))
    }

    pub fn page(&self, page: u64) -> String {
        let total = self.rows.len();
        let last_page = total.div_ceil(self.per_page).max(1) as u64;
        let start = ((page - 1) as usize * self.per_page).min(total);
        let end = (start + self.per_page).min(total);
        let base = "https://openapi.keycrm.app/v1/offers/stocks";
        let mut envelope = json!({
            "current_page": page,
            "data": &self.rows[start..end],
            "per_page": self.per_page,
            "total": total,
            "next_page_url": if page < last_page { Value::from(format!("{base}?page={}", page + 1)) } else { Value::Null },
        });
        if !self.without_last_page {
            envelope["last_page"] = json!(last_page);
        }
        envelope.to_string()
    }
}

pub fn offer(id: u64, sku: &str, quantity: f64, reserve: f64) -> Value {
    json!({"id": id, "sku": sku, "price": 10.0, "purchased_price": 5.0, "quantity": quantity, "reserve": reserve})
}
