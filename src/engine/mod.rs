//! The sync engine: a sans-IO state machine that says what to do next.
//!
//! The engine never fetches, sleeps, reads a clock or touches a database. A driver
//! asks it for the next [`Action`] with [`SyncEngine::poll`], performs it, and hands
//! the result back through one of the `handle_*` methods, then polls again. Time
//! (`now_ms`, Unix ms) and randomness (the jitter seed) are inputs, so every decision
//! can be tested with canned answers and a fake clock.
//!
//! Requests may overlap: a [`Action::Fetch`] is started and the driver polls again
//! at once, handing the answer back whenever it comes. Database actions are done one
//! at a time, each before the next poll.
//!
//! ```
//! use keycrm_stock_sync::{Action, HttpResponse, SyncEngine, SyncOptions};
//!
//! let options = SyncOptions::from_json(r#"{"apiUrl": "http://127.0.0.1:9/v1"}"#).unwrap();
//! let mut engine = SyncEngine::new(options, 0, 1);
//! let Action::Fetch(request) = engine.poll(0) else { panic!() };
//! assert_eq!(request.url, "http://127.0.0.1:9/v1/offers/stocks?limit=50&page=1");
//! // Page 1 first: it says how large the catalogue is, which the scan's census
//! // needs (see the `pagination` module).
//! assert_eq!(engine.poll(1), Action::AwaitResponse);
//! engine.handle_response(request.id, 40, HttpResponse {
//!     status: 200,
//!     retry_after: None,
//!     body: r#"{"next_page_url":null,"data":[{"id":1,"sku":"a","quantity":3,"reserve":1}]}"#.into(),
//! });
//! let Action::ReadSite(keys) = engine.poll(41) else { panic!() };
//! assert_eq!(keys[0].sku, "a");
//! engine.handle_site_stock(vec![]); // the site has no row "a"
//! let Action::Done(report) = engine.poll(42) else { panic!() };
//! assert!(report.complete);
//! assert_eq!(report.not_on_site.count, 1);
//! ```

mod requests;
mod writes;

use requests::{OrderSource, Retried};
use writes::HeldRaises;

use foldhash::HashMap;

use crate::availability::{Availability, DesiredStock, StockKey};
use crate::check::CheckCollector;
use crate::diff::StockChange;
use crate::error::{ErrorCode, SyncError};
use crate::ledger::SkuLedger;
use crate::options::SyncOptions;
use crate::pacing::{Backoff, Jitter, Pacer, SharedPacing};
use crate::page::{OfferStock, StockPage};
use crate::pagination::{PagePlan, ScanCursor};
use crate::report::{NotOnSite, Progress, RetryNotice, SyncReport};
use crate::request::{HttpRequest, OfferFilter};
use crate::warehouses::WarehouseBook;
use crate::webhook::StockWebhookRow;

/// What the driver must do next.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Start this request and poll again at once; when it ends, call
    /// [`SyncEngine::handle_response`] or [`SyncEngine::handle_transport_failure`]
    /// with its id.
    Fetch(HttpRequest),
    /// Wait this many ms, or less if an answer arrives first (hand it back), then
    /// poll again.
    Sleep(u64),
    /// Wait for any request in flight to end, hand its answer back, poll again.
    AwaitResponse,
    /// Read these keys from the site, then call [`SyncEngine::handle_site_stock`].
    ReadSite(Vec<StockKey>),
    /// Write these changes in one transaction, then call
    /// [`SyncEngine::handle_written`].
    WriteSite(Vec<StockChange>),
    /// Read every stock row of the site, then call [`SyncEngine::handle_site_all`].
    ReadAllSite,
    /// The run is over. Polling again returns the same report.
    Done(Box<SyncReport>),
}

/// The database action whose result the engine is waiting for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Waiting {
    Nothing,
    SiteRead,
    SiteWrite,
    SiteAll,
}

/// A request started and not yet answered.
#[derive(Debug, Clone, Copy)]
struct InFlight {
    id: u64,
    page: u64,
    /// When the request started: KeyCRM's figures in its answer are at least this
    /// fresh.
    started_ms: u64,
    /// The plan's epoch when it started; answers from an older epoch are dropped.
    epoch: u64,
}

/// A write handed to the driver and not yet confirmed.
#[derive(Debug, Default)]
struct Write {
    /// Its rows, until they are handed out.
    changes: Vec<StockChange>,
    /// Rows given a figure from this run.
    updated: u64,
    /// Rows of SKUs KeyCRM lacks, set to 0.
    zeroed: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Zeroing {
    NotAsked,
    Asked,
    Done,
}

/// One sync run. See the [module docs](self) for how to drive it.
#[derive(Debug)]
pub struct SyncEngine {
    options: SyncOptions,
    availability: Availability,
    plan: PagePlan,
    pacer: Pacer,
    backoff: Backoff,
    jitter: Jitter,
    ledger: SkuLedger,
    warehouses: WarehouseBook,
    /// Figures read and not yet compared with the site.
    pending: Vec<DesiredStock>,
    /// The figures of the row being taken: one buffer for every row.
    row_figures: Vec<DesiredStock>,
    /// The batch whose site rows were asked for.
    comparing: Vec<DesiredStock>,
    /// A write ready to hand out, or handed out and not yet confirmed.
    write: Option<Write>,
    zero_queue: Vec<StockChange>,
    /// Raises held until the run ends (see the `writes` module).
    raises: HeldRaises,
    zeroing: Zeroing,
    waiting: Waiting,
    in_flight: Vec<InFlight>,
    /// Pages answered ahead of their turn, with their request's start time. By
    /// page, like the two below: a few at a time, looked up, never listed.
    arrived: HashMap<u64, (StockPage, u64)>,
    /// Failed attempts of pages of the current epoch.
    page_attempts: HashMap<u64, u32>,
    /// Retries of pages of the current epoch, owed and made.
    retried: HashMap<u64, Retried>,
    next_id: u64,
    rate_limit_attempt: u32,
    started_ms: u64,
    deadline_at: Option<u64>,
    requests: u64,
    site_calls: u64,
    retries: u64,
    rate_limited: u64,
    updated: u64,
    unchanged: u64,
    kept_newer: u64,
    zeroed: u64,
    not_on_site: NotOnSite,
    failure: Option<SyncError>,
    report: Option<SyncReport>,
    /// The order, or the orders changed since the last check, whose lines decide
    /// the offers, until they have been looked up.
    order_lookup: Option<OrderSource>,
    /// The last failed request to be repeated (its in-flight page number), for
    /// progress; shown while its retry is owed.
    retry_notice: Option<(u64, RetryNotice)>,
    /// Failed attempts so far.
    failed_attempts: u64,
    /// A check's record of the scan (see [`crate::check`]); `None` for a sync.
    pub(crate) check: Option<CheckCollector>,
}

/// The in-flight "page" number of an order lookup; stock-list pages start at 1.
const ORDER_LOOKUP: u64 = 0;
/// The in-flight "page" number of the census probe (the catalogue's last page,
/// asked for by [`PagePlan::probe_page`]).
const PROBE: u64 = u64::MAX;
/// The in-flight "page" number of a check's product-name lookup (see
/// [`crate::check::NameLookup`]), made after the scan.
const NAMES: u64 = u64::MAX - 1;

impl SyncEngine {
    /// A run with validated options, starting at `now_ms`, with a seed for backoff
    /// jitter.
    pub fn new(options: SyncOptions, now_ms: u64, seed: u64) -> Self {
        let plan = match (&options.resume_from, options.order_id) {
            (Some(cursor), _) => PagePlan::resume(cursor, options.needs_details()),
            // The order's lines decide the offers once it has been looked up.
            (None, Some(_)) => PagePlan::empty(),
            // So do the lines of the orders changed since the last check.
            (None, None) if options.orders_updated_since.is_some() => PagePlan::empty(),
            (None, None) => PagePlan::new(
                OfferFilter::chunks(&options.offer_ids, &options.skus),
                options.needs_details(),
            ),
        };
        SyncEngine {
            availability: Availability::new(&options),
            plan,
            pacer: Pacer::new(options.request_interval_ms()),
            backoff: Backoff {
                base_ms: options.backoff_base_ms,
                max_ms: options.backoff_max_ms,
            },
            jitter: Jitter::new(seed),
            ledger: match &options.resume_from {
                Some(cursor) => SkuLedger::resumed(cursor),
                None => SkuLedger::new(),
            },
            warehouses: WarehouseBook::new(&options.warehouses),
            pending: Vec::new(),
            row_figures: Vec::new(),
            comparing: Vec::new(),
            write: None,
            zero_queue: Vec::new(),
            raises: HeldRaises::default(),
            zeroing: Zeroing::NotAsked,
            waiting: Waiting::Nothing,
            in_flight: Vec::new(),
            arrived: HashMap::default(),
            page_attempts: HashMap::default(),
            retried: HashMap::default(),
            next_id: 1,
            rate_limit_attempt: 0,
            started_ms: now_ms,
            deadline_at: options.deadline_ms.map(|d| now_ms.saturating_add(d)),
            requests: 0,
            site_calls: 0,
            retries: 0,
            rate_limited: 0,
            updated: 0,
            unchanged: 0,
            kept_newer: 0,
            zeroed: 0,
            not_on_site: NotOnSite::default(),
            failure: None,
            report: None,
            order_lookup: OrderSource::of(&options, now_ms),
            retry_notice: None,
            failed_attempts: 0,
            check: None,
            options,
        }
    }

    /// Spaces this run's requests together with those of every other run joined
    /// to `shared`, as if they were one run. Call it before the first poll.
    pub fn share_pacing(&mut self, shared: &SharedPacing) {
        self.pacer = Pacer::joined(self.pacer.interval_ms(), shared);
    }

    /// Refuses options a stock webhook cannot honour: `perWarehouse` (it carries no
    /// per-warehouse breakdown), a filter, an order or orders, a cursor, or
    /// `zeroMissing`.
    ///
    /// # Errors
    /// [`ErrorCode::InvalidConfig`] naming the option.
    pub fn check_stock_webhook_options(options: &SyncOptions) -> Result<(), SyncError> {
        if options.per_warehouse {
            return Err(SyncError::config(
                "the stock webhook sends balances summed over warehouses, so it cannot keep per-warehouse rows; use full scans or the order webhook for those",
            ));
        }
        if options.is_filtered()
            || options.from_orders()
            || options.resume_from.is_some()
            || options.zero_missing
        {
            return Err(SyncError::config(
                "a stock webhook applies the rows it carries; offerIds, skus, orderId, ordersUpdatedSince, resumeFrom and zeroMissing do not apply",
            ));
        }
        Ok(())
    }

    /// A run that writes the balances a stock webhook delivered: no request to
    /// KeyCRM, the same availability, SKU rules and diff as a scan.
    ///
    /// When an offer appears twice in one delivery, its last row wins (KeyCRM sends
    /// balances after each change, in order). Offers sharing a SKU, and SKUs that
    /// cannot be stored, follow the [SKU rules](crate::ledger) as in a scan: the
    /// row gets the smallest figure, and a row whose SKU holds U+0000 is skipped and
    /// reported while the others are written. The webhook's figures are already
    /// summed over the warehouses chosen in KeyCRM's webhook settings, so the
    /// options' `warehouses` cannot be applied here: they must name the same ones.
    ///
    /// # Errors
    /// [`ErrorCode::InvalidConfig`] for options a stock webhook cannot honour:
    /// `perWarehouse` (it carries no per-warehouse breakdown), a filter, an order,
    /// a cursor, or `zeroMissing`.
    pub fn for_stock_webhook(
        options: SyncOptions,
        now_ms: u64,
        rows: &[StockWebhookRow],
    ) -> Result<Self, SyncError> {
        Self::check_stock_webhook_options(&options)?;
        let options = SyncOptions {
            warehouses: Vec::new(),
            ..options
        };
        let mut engine = SyncEngine::new(options, now_ms, 0);
        engine.plan = PagePlan::empty();
        // Latest first: an offer's earlier rows are then already read, and skipped.
        let mut offers: Vec<OfferStock> = rows
            .iter()
            .rev()
            .map(|row| OfferStock {
                id: row.offer_id,
                sku: row.sku.clone(),
                quantity: row.in_stock,
                reserve: row.in_reserve,
                warehouse: None,
            })
            .collect();
        engine.take_rows(&mut offers, now_ms);
        Ok(engine)
    }

    /// The next thing to do.
    ///
    /// Polling while an action's result is still owed ends the run with an
    /// [`ErrorCode::Internal`] error rather than guessing.
    pub fn poll(&mut self, now_ms: u64) -> Action {
        if let Some(report) = &self.report {
            return Action::Done(Box::new(report.clone()));
        }
        if self.waiting != Waiting::Nothing {
            let owed = format!("engine polled while a result was owed ({:?})", self.waiting);
            self.fail(SyncError::new(ErrorCode::Internal, owed));
        }
        let stopping = self.failure.is_some();
        if stopping && !self.may_write_after_failure() {
            return self.finish(now_ms);
        }
        if let Some(action) = self.next_write() {
            return action;
        }
        let scan_done = self.order_lookup.is_none() && self.plan.is_done();
        let next_page = if stopping {
            None
        } else {
            self.next_page_to_request()
        };
        let can_start = next_page.is_some() && self.pacer.wait_ms(now_ms) == 0;
        // Without a subrequest budget, comparing while no request can start costs
        // the scan nothing; with one, sink calls are saved up for full batches.
        let eager = self.options.max_subrequests.is_none();
        if !self.pending.is_empty()
            && self.warehouses.all_found()
            && (scan_done
                || stopping
                || self.pending.len() >= self.options.batch_size
                || (eager && !can_start))
        {
            let take = self.pending.len().min(self.options.batch_size);
            self.comparing = self.pending.drain(..take).collect();
            self.waiting = Waiting::SiteRead;
            self.site_calls += 1;
            return Action::ReadSite(self.comparing.iter().map(|d| d.key.clone()).collect());
        }
        if stopping {
            return self.end(now_ms);
        }
        if !scan_done {
            return self.next_request(now_ms, next_page);
        }
        if !self.warehouses.all_found() {
            self.fail(self.warehouses.missing_error());
            return self.finish(now_ms);
        }
        if let Some(action) = self.release_raises() {
            return action;
        }
        // Only a scan that showed it saw the whole catalogue may zero; a resumed run
        // has not seen the offers of earlier runs, so it cannot tell which site rows
        // KeyCRM lacks.
        // A check compares with every row of the site once its scan is done.
        let zero = self.options.zero_missing
            && self.options.resume_from.is_none()
            && self.plan.saw_whole_catalogue();
        if (zero || self.check.is_some()) && self.zeroing == Zeroing::NotAsked {
            if !self.can_afford(1, 0) {
                self.fail(self.out_of_budget());
                return self.finish(now_ms);
            }
            self.zeroing = Zeroing::Asked;
            self.waiting = Waiting::SiteAll;
            self.site_calls += 1;
            return Action::ReadAllSite;
        }
        if let Some(action) = self.next_name_lookup(now_ms) {
            return action;
        }
        self.finish(now_ms)
    }

    /// Ends the run on the caller's request (a shutdown): no request starts any
    /// more, the rows already read are still written, and the report carries a
    /// cursor, as when a deadline passes.
    pub fn handle_stop(&mut self) {
        self.fail(SyncError::new(
            ErrorCode::DeadlineExceeded,
            "the run was asked to stop before the scan ended",
        ));
    }

    /// Ends the run because the driver itself went wrong (a bug, never user input).
    pub fn handle_driver_failure(&mut self, message: &str) {
        self.fail(SyncError::new(ErrorCode::Internal, message));
    }

    /// How far the run has got.
    pub fn progress(&self) -> Progress {
        let pages_left = self.plan.pages_left();
        Progress {
            pages: self.plan.pages_read(),
            pages_left,
            offers: self.ledger.offers(),
            updated: self.updated,
            requests: self.requests,
            eta_ms: pages_left * self.pacer.interval_ms(),
            retry: self.pending_retry(),
        }
    }

    fn expect(&mut self, what: Waiting) -> bool {
        if self.waiting == what {
            self.waiting = Waiting::Nothing;
            return true;
        }
        let message = format!(
            "engine got a result for {what:?} while waiting for {:?}",
            self.waiting
        );
        self.waiting = Waiting::Nothing;
        self.fail(SyncError::new(ErrorCode::Internal, message));
        false
    }

    fn fail(&mut self, err: SyncError) {
        // The first failure is the cause; later ones are consequences.
        if self.failure.is_none() {
            self.failure = Some(err);
        }
    }

    fn finish(&mut self, now_ms: u64) -> Action {
        let report = SyncReport {
            complete: self.failure.is_none(),
            dry_run: self.options.dry_run,
            offers: self.ledger.offers(),
            pages: self.plan.pages_read(),
            updated: self.updated,
            unchanged: self.unchanged,
            kept_newer: self.kept_newer,
            zeroed: self.zeroed,
            not_on_site: self.not_on_site.clone(),
            without_sku: self.ledger.without_sku(),
            duplicate_skus: self.ledger.duplicates().to_vec(),
            invalid_skus: self.ledger.invalid().to_vec(),
            warehouses: self.warehouses.seen(),
            requests: self.requests,
            retries: self.retries,
            rate_limited: self.rate_limited,
            subrequests: self.requests + self.site_calls,
            duration_ms: now_ms.saturating_sub(self.started_ms),
            error: self.failure.clone(),
            next_orders_updated_since: self.next_check(),
            findings: self
                .check
                .as_ref()
                .filter(|_| self.failure.is_none())
                .and_then(CheckCollector::findings),
            // Resuming is only safe when every row read before the cursor was written.
            cursor: self
                .plan
                .cursor()
                .filter(|_| {
                    self.may_write_after_failure()
                        && self.pending.is_empty()
                        && self.comparing.is_empty()
                        && self.write.is_none()
                        && self.raises.is_empty()
                })
                .map(|cursor| ScanCursor {
                    skus: self.ledger.pass_skus(),
                    ..cursor
                }),
        };
        self.report = Some(report.clone());
        Action::Done(Box::new(report))
    }
}
