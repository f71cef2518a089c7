//! Keeps a website's stock equal to what KeyCRM says can be sold.
//!
//! The crate is the deciding core of the `keycrm-stock-sync` npm package. It is
//! *sans-IO*: [`SyncEngine`] pages through KeyCRM's stock list, paces requests under
//! the rate limit, retries with bounded backoff, computes what can be sold, compares
//! it with the site and says which rows to write, but never performs any I/O itself.
//! A driver (the wasm32 [`wasm`] module, or a test) performs each [`Action`] and
//! hands the result back.
//!
//! ```
//! use keycrm_stock_sync::{Action, HttpResponse, SiteStock, SyncEngine, SyncOptions};
//!
//! let options = SyncOptions::from_json(r#"{"rateLimitPerMinute": 60}"#).unwrap();
//! let mut engine = SyncEngine::new(options, 1_000, 7);
//! let mut now = 1_000;
//! let report = loop {
//!     match engine.poll(now) {
//!         // This driver answers at once; a real one starts the request and polls on.
//!         Action::Fetch(request) => engine.handle_response(request.id, now, HttpResponse {
//!             status: 200,
//!             retry_after: None,
//!             body: r#"{"total":1,"last_page":1,"next_page_url":null,
//!                       "data":[{"id":5,"sku":"mug-red","quantity":12,"reserve":2}]}"#.into(),
//!         }),
//!         Action::Sleep(ms) => now += ms,
//!         Action::AwaitResponse => unreachable!("nothing is left in flight"),
//!         Action::ReadSite(_keys) => engine.handle_site_stock(vec![SiteStock {
//!             sku: "mug-red".into(), warehouse_id: None, stock: Some(4.0), observed_at: None,
//!         }]),
//!         Action::WriteSite(changes) => {
//!             assert_eq!(changes[0].stock, Some(10.0)); // 12 in stock − 2 reserved
//!             engine.handle_written();
//!         }
//!         Action::ReadAllSite => unreachable!("zeroMissing is off"),
//!         Action::Done(report) => break *report,
//!     }
//! };
//! assert!(report.complete);
//! assert_eq!(report.updated, 1);
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod availability;
pub mod catchup;
pub mod check;
pub mod decimal;
pub mod diff;
pub mod engine;
pub mod error;
pub mod id_set;
pub mod json_read;
pub mod json_text;
pub mod ledger;
pub mod options;
pub mod pacing;
pub mod page;
pub mod pagination;
pub mod report;
pub mod request;
pub mod retry_after;
pub mod warehouses;
pub mod webhook;

#[cfg(target_arch = "wasm32")]
pub mod wasm;

pub use availability::{Availability, DesiredStock, StockKey};
pub use check::CheckFindings;
pub use diff::{SiteStock, StockChange};
pub use engine::{Action, SyncEngine};
pub use error::{ErrorCode, SyncError};
pub use options::{SyncOptions, WarehouseRef, DEFAULT_API_URL};
pub use page::{OfferStock, StockPage, WarehouseStock};
pub use report::{NotOnSite, Progress, RetryNotice, SyncReport};
pub use request::{HttpRequest, HttpResponse, TransportFailure};
