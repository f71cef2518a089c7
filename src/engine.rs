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
//! // Page 2 may start on its pacing slot, 1 010 ms after page 1, answered or not.
//! assert_eq!(engine.poll(1), Action::Sleep(1_009));
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

use std::collections::BTreeMap;

use crate::availability::{Availability, DesiredStock, StockKey};
use crate::diff::{diff, SiteStock, StockChange};
use crate::error::{ErrorCode, SyncError};
use crate::ledger::{Admission, SkuLedger};
use crate::options::SyncOptions;
use crate::pacing::{Backoff, Jitter, Pacer};
use crate::page::StockPage;
use crate::pagination::PagePlan;
use crate::report::{NotOnSite, Progress, SyncReport};
use crate::request::{HttpRequest, HttpResponse, OfferFilter, TransportFailure, PAGE_LIMIT};
use crate::retry_after::retry_after_ms;
use crate::warehouses::WarehouseBook;

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
    Done(SyncReport),
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
    /// The plan's epoch when it started; answers from an older epoch are dropped.
    epoch: u64,
}

/// A write handed to the driver and not yet confirmed.
#[derive(Debug, Default)]
struct Write {
    changes: Vec<StockChange>,
    /// For figures from this scan: the key and the value it replaces.
    replaced: Vec<(StockKey, Option<f64>)>,
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
    /// Undo of writes whose SKU later turned out to be ambiguous.
    restores: Vec<StockChange>,
    /// The batch whose site rows were asked for.
    comparing: Vec<DesiredStock>,
    /// A write ready to hand out, or handed out and not yet confirmed.
    write: Option<Write>,
    zero_queue: Vec<StockChange>,
    zeroing: Zeroing,
    waiting: Waiting,
    in_flight: Vec<InFlight>,
    /// Pages answered ahead of their turn.
    arrived: BTreeMap<u64, StockPage>,
    /// Failed attempts of pages of the current epoch.
    page_attempts: BTreeMap<u64, u32>,
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
    zeroed: u64,
    not_on_site: NotOnSite,
    failure: Option<SyncError>,
    report: Option<SyncReport>,
}

impl SyncEngine {
    /// A run with validated options, starting at `now_ms`, with a seed for backoff
    /// jitter.
    pub fn new(options: SyncOptions, now_ms: u64, seed: u64) -> Self {
        let plan = match options.resume_from {
            Some(cursor) => PagePlan::resume(cursor, options.needs_details()),
            None => PagePlan::new(
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
            ledger: SkuLedger::new(),
            warehouses: WarehouseBook::new(&options.warehouses),
            pending: Vec::new(),
            restores: Vec::new(),
            comparing: Vec::new(),
            write: None,
            zero_queue: Vec::new(),
            zeroing: Zeroing::NotAsked,
            waiting: Waiting::Nothing,
            in_flight: Vec::new(),
            arrived: BTreeMap::new(),
            page_attempts: BTreeMap::new(),
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
            zeroed: 0,
            not_on_site: NotOnSite::default(),
            failure: None,
            report: None,
            options,
        }
    }

    /// The next thing to do.
    ///
    /// Polling while an action's result is still owed ends the run with an
    /// [`ErrorCode::Internal`] error rather than guessing.
    pub fn poll(&mut self, now_ms: u64) -> Action {
        if let Some(report) = &self.report {
            return Action::Done(report.clone());
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
        let scan_done = self.plan.is_done();
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
            return self.finish(now_ms);
        }
        if !scan_done {
            return self.next_request(now_ms, next_page);
        }
        if !self.warehouses.all_found() {
            self.fail(self.warehouses.missing_error());
            return self.finish(now_ms);
        }
        // A resumed run has not seen the offers of earlier runs, so it cannot tell
        // which site rows KeyCRM lacks.
        if self.options.zero_missing
            && self.options.resume_from.is_none()
            && self.zeroing == Zeroing::NotAsked
        {
            if !self.can_afford(1) {
                self.fail(self.out_of_budget());
                return self.finish(now_ms);
            }
            self.zeroing = Zeroing::Asked;
            self.waiting = Waiting::SiteAll;
            self.site_calls += 1;
            return Action::ReadAllSite;
        }
        self.finish(now_ms)
    }

    fn next_write(&mut self) -> Option<Action> {
        if self.write.is_none() {
            let write = if !self.zero_queue.is_empty() {
                if !self.can_afford(1) {
                    self.zero_queue.clear();
                    self.fail(self.out_of_budget());
                    return None;
                }
                let take = self.zero_queue.len().min(self.options.batch_size);
                let changes: Vec<StockChange> = self.zero_queue.drain(..take).collect();
                Write {
                    zeroed: changes.len() as u64,
                    changes,
                    ..Write::default()
                }
            } else if !self.restores.is_empty() && self.pending.is_empty() {
                Write {
                    changes: std::mem::take(&mut self.restores),
                    ..Write::default()
                }
            } else {
                return None;
            };
            self.write = Some(write);
        }
        let write = self.write.as_ref()?;
        if self.options.dry_run {
            self.handle_written();
            return self.next_write();
        }
        self.waiting = Waiting::SiteWrite;
        self.site_calls += 1;
        Some(Action::WriteSite(write.changes.clone()))
    }

    /// Whether rows already read may still be written after the run failed: yes,
    /// unless the database itself failed, the chosen warehouses are in doubt, or
    /// the engine is confused.
    fn may_write_after_failure(&self) -> bool {
        let code = self.failure.as_ref().map(|f| f.code);
        !matches!(
            code,
            Some(ErrorCode::SinkFailed | ErrorCode::Internal | ErrorCode::UnknownWarehouse)
        ) && self.warehouses.all_found()
    }

    /// Whether `extra` more subrequests, plus the sink calls needed to write every
    /// row read or on its way, stay within `maxSubrequests`.
    fn can_afford(&self, extra: u64) -> bool {
        let Some(max) = self.options.max_subrequests else {
            return true;
        };
        let keys_per_offer = if self.options.per_warehouse {
            self.warehouses.seen().len().max(1) as u64
        } else {
            1
        };
        let unread_pages = (self.in_flight.len() + self.arrived.len()) as u64;
        let rows = self.pending.len() as u64 + unread_pages * PAGE_LIMIT * keys_per_offer;
        let flush_calls = 2 * rows.div_ceil(self.options.batch_size as u64)
            + u64::from(!self.restores.is_empty());
        self.requests + self.site_calls + extra + flush_calls <= u64::from(max)
    }

    fn out_of_budget(&self) -> SyncError {
        SyncError::new(
            ErrorCode::BudgetExhausted,
            format!(
                "the run's budget of {} subrequests ran out before the scan ended",
                self.options.max_subrequests.unwrap_or_default()
            ),
        )
    }

    /// The first page of the look-ahead window that is neither in flight nor
    /// answered, if a request may be started at all.
    fn next_page_to_request(&self) -> Option<u64> {
        if self.in_flight.len() >= self.options.max_concurrent_requests as usize {
            return None;
        }
        let first = self.plan.current_page()?;
        let window = u64::from(self.options.max_concurrent_requests) - 1;
        let last = self
            .plan
            .requestable_until()
            .min(first.saturating_add(window));
        let epoch = self.plan.epoch();
        (first..=last).find(|page| {
            !self.arrived.contains_key(page)
                && !self
                    .in_flight
                    .iter()
                    .any(|f| f.epoch == epoch && f.page == *page)
        })
    }

    /// Why no further request may start at `start_at`, if so: the request budget,
    /// the subrequest budget, or the deadline.
    fn reason_to_stop(&self, start_at: u64) -> Option<SyncError> {
        if let Some(max) = self.options.max_requests {
            if self.requests >= u64::from(max) {
                return Some(SyncError::new(
                    ErrorCode::BudgetExhausted,
                    format!("the run's budget of {max} requests ran out before the scan ended"),
                ));
            }
        }
        // `can_afford` counts the rows already on their way; this page's rows may
        // need one more read and write.
        if !self.can_afford(1 + 2 * PAGE_LIMIT.div_ceil(self.options.batch_size as u64)) {
            return Some(self.out_of_budget());
        }
        if self
            .deadline_at
            .is_some_and(|deadline| start_at >= deadline)
        {
            return Some(SyncError::new(
                ErrorCode::DeadlineExceeded,
                "the run's deadline came before the scan ended",
            ));
        }
        None
    }

    fn next_request(&mut self, now_ms: u64, page: Option<u64>) -> Action {
        let Some(page) = page else {
            if self.in_flight.is_empty() {
                self.fail(SyncError::new(ErrorCode::Internal, "no page to request"));
                return self.finish(now_ms);
            }
            return Action::AwaitResponse;
        };
        let start_at = now_ms + self.pacer.wait_ms(now_ms);
        if let Some(err) = self.reason_to_stop(start_at) {
            // Answers already on their way are still worth taking; their timeouts
            // end before the deadline.
            if !self.in_flight.is_empty() {
                return Action::AwaitResponse;
            }
            // What was read is still written before the run ends.
            self.fail(err);
            return self.poll(now_ms);
        }
        if start_at > now_ms {
            return Action::Sleep(start_at - now_ms);
        }
        let Some(query) = self.plan.query_for(page) else {
            self.fail(SyncError::new(ErrorCode::Internal, "no page to request"));
            return self.finish(now_ms);
        };
        let url = query.url(&self.options.api_url);
        let timeout_ms = match self.deadline_at {
            Some(deadline) => self.options.request_timeout_ms.min(deadline - now_ms),
            None => self.options.request_timeout_ms,
        };
        let id = self.next_id;
        self.next_id += 1;
        self.in_flight.push(InFlight {
            id,
            page,
            epoch: self.plan.epoch(),
        });
        self.pacer.started(now_ms);
        self.requests += 1;
        Action::Fetch(HttpRequest {
            id,
            url,
            timeout_ms,
        })
    }

    /// Takes KeyCRM's answer to the [`Action::Fetch`] with this id.
    pub fn handle_response(&mut self, id: u64, now_ms: u64, response: HttpResponse) {
        let Some(flight) = self.land(id) else {
            return;
        };
        match response.status {
            200..=299 => match StockPage::from_json(&response.body) {
                Ok(page) => {
                    self.rate_limit_attempt = 0;
                    self.arrived.insert(flight.page, page);
                    self.take_arrived();
                }
                Err(err) => self.retry(now_ms, flight.page, err),
            },
            429 => self.rate_limited(now_ms, response.retry_after.as_deref()),
            401 | 403 => self.fail(
                SyncError::new(
                    ErrorCode::Unauthorized,
                    format!(
                        "KeyCRM refused the API key (HTTP {}): check KEYCRM_API_KEY",
                        response.status
                    ),
                )
                .with_status(response.status),
            ),
            408 | 500..=599 => {
                let err = SyncError::new(
                    ErrorCode::CrmUnavailable,
                    format!("KeyCRM answered HTTP {}", response.status),
                )
                .with_status(response.status);
                self.retry(now_ms, flight.page, err);
            }
            status => self.fail(
                SyncError::new(
                    ErrorCode::CrmHttp,
                    format!(
                        "KeyCRM answered HTTP {status}{}",
                        message_of(&response.body)
                    ),
                )
                .with_status(status),
            ),
        }
    }

    /// Takes the news that the [`Action::Fetch`] with this id got no answer.
    pub fn handle_transport_failure(&mut self, id: u64, now_ms: u64, failure: TransportFailure) {
        let Some(flight) = self.land(id) else {
            return;
        };
        let what = match failure {
            TransportFailure::Timeout => "KeyCRM did not answer in time",
            TransportFailure::Network => "KeyCRM could not be reached (network error)",
        };
        self.retry(
            now_ms,
            flight.page,
            SyncError::new(ErrorCode::CrmUnavailable, what),
        );
    }

    /// Takes a request out of flight; `None` for an answer that no longer matters
    /// (the run is over, or the plan stepped back since it started).
    fn land(&mut self, id: u64) -> Option<InFlight> {
        let Some(index) = self.in_flight.iter().position(|f| f.id == id) else {
            if self.report.is_none() {
                let message = format!("answer to request {id}, which is not in flight");
                self.fail(SyncError::new(ErrorCode::Internal, message));
            }
            return None;
        };
        let flight = self.in_flight.swap_remove(index);
        (self.report.is_none() && self.failure.is_none() && flight.epoch == self.plan.epoch())
            .then_some(flight)
    }

    /// Processes answered pages in page order, as far as they reach.
    fn take_arrived(&mut self) {
        while let Some(current) = self.plan.current_page() {
            let Some(page) = self.arrived.remove(&current) else {
                break;
            };
            self.page_attempts.remove(&current);
            let epoch = self.plan.epoch();
            self.take_page(&page);
            if self.failure.is_some() {
                break;
            }
            if self.plan.epoch() != epoch {
                // Pages answered ahead belong to the old position or segment.
                self.arrived.clear();
                self.page_attempts.clear();
            }
        }
    }

    /// Takes the site's rows for the keys of the last [`Action::ReadSite`].
    pub fn handle_site_stock(&mut self, rows: Vec<SiteStock>) {
        if !self.expect(Waiting::SiteRead) {
            return;
        }
        let batch = std::mem::take(&mut self.comparing);
        let outcome = diff(&batch, &rows);
        self.unchanged += outcome.unchanged;
        for key in &outcome.not_on_site {
            self.not_on_site.add(&key.sku);
        }
        let mut changes = outcome.changes;
        changes.append(&mut self.restores);
        if !changes.is_empty() {
            self.write = Some(Write {
                changes,
                replaced: outcome.replaced,
                zeroed: 0,
            });
        }
    }

    /// Takes the news that the last [`Action::WriteSite`] was committed.
    pub fn handle_written(&mut self) {
        if !self.options.dry_run && !self.expect(Waiting::SiteWrite) {
            return;
        }
        let Some(write) = self.write.take() else {
            return;
        };
        self.updated += write.replaced.len() as u64;
        self.zeroed += write.zeroed;
        for (key, before) in &write.replaced {
            self.ledger.record_write(key, *before);
        }
    }

    /// Takes every stock row of the site, after [`Action::ReadAllSite`].
    pub fn handle_site_all(&mut self, rows: Vec<SiteStock>) {
        if !self.expect(Waiting::SiteAll) {
            return;
        }
        self.zeroing = Zeroing::Done;
        self.zero_queue = rows
            .into_iter()
            .filter(|row| !self.ledger.knows(&row.sku) && row.stock != Some(0.0))
            .map(|row| StockChange::new(&row.key(), Some(0.0)))
            .collect();
    }

    /// Takes the news that the site failed to read or write; the run ends.
    pub fn handle_site_failure(&mut self, message: &str) {
        self.waiting = Waiting::Nothing;
        self.write = None;
        self.fail(SyncError::new(
            ErrorCode::SinkFailed,
            format!("the site database failed: {message}"),
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
        }
    }

    fn take_page(&mut self, page: &StockPage) {
        let mut new_offers = 0;
        for row in &page.data {
            self.warehouses.note(row);
            match self.ledger.admit(row.id, row.sku.as_deref()) {
                Admission::AlreadyRead => continue,
                Admission::WithoutSku => {}
                Admission::Accept => {
                    let sku = row.sku.as_deref().unwrap_or_default();
                    match self.availability.figures(row, sku) {
                        Ok(figures) => self.pending.extend(figures),
                        Err(err) => return self.fail(err),
                    }
                }
                Admission::Ambiguous { restore } => {
                    let sku = row.sku.as_deref().unwrap_or_default();
                    self.pending.retain(|d| d.key.sku != sku);
                    self.updated = self.updated.saturating_sub(restore.len() as u64);
                    self.restores.extend(restore);
                }
            }
            new_offers += 1;
        }
        if let Err(err) = self.plan.advance(page, new_offers) {
            self.fail(err);
        }
    }

    fn rate_limited(&mut self, now_ms: u64, retry_after: Option<&str>) {
        self.rate_limited += 1;
        self.rate_limit_attempt += 1;
        if self.rate_limit_attempt > self.options.max_rate_limit_retries {
            return self.fail(
                SyncError::new(
                    ErrorCode::RateLimited,
                    format!(
                        "KeyCRM kept answering 429 Too Many Requests ({} times in a row)",
                        self.rate_limit_attempt
                    ),
                )
                .with_status(429),
            );
        }
        let wait = retry_after
            .and_then(|v| retry_after_ms(v, now_ms))
            .map(|ms| ms.min(self.options.max_retry_after_ms))
            .unwrap_or_else(|| {
                self.backoff
                    .delay_ms(self.rate_limit_attempt, self.jitter.next_unit())
            });
        self.retries += 1;
        self.pacer.hold_until(now_ms + wait);
    }

    fn retry(&mut self, now_ms: u64, page: u64, err: SyncError) {
        let attempt = self.page_attempts.entry(page).or_insert(0);
        *attempt += 1;
        let attempt = *attempt;
        if attempt > self.options.max_retries {
            let message = format!(
                "{} (gave up after {} retries)",
                err.message, self.options.max_retries
            );
            return self.fail(SyncError { message, ..err });
        }
        self.retries += 1;
        let wait = self.backoff.delay_ms(attempt, self.jitter.next_unit());
        self.pacer.hold_until(now_ms + wait);
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
            zeroed: self.zeroed,
            not_on_site: self.not_on_site.clone(),
            without_sku: self.ledger.without_sku(),
            duplicate_skus: self.ledger.duplicates().to_vec(),
            warehouses: self.warehouses.seen(),
            requests: self.requests,
            retries: self.retries,
            rate_limited: self.rate_limited,
            subrequests: self.requests + self.site_calls,
            duration_ms: now_ms.saturating_sub(self.started_ms),
            error: self.failure.clone(),
            // Resuming is only safe when every row read before the cursor was written.
            cursor: self.plan.cursor().filter(|_| {
                self.may_write_after_failure()
                    && self.pending.is_empty()
                    && self.comparing.is_empty()
                    && self.write.is_none()
            }),
        };
        self.report = Some(report.clone());
        Action::Done(report)
    }
}

/// `": <message>"` from a Laravel error body, shortened; empty if there is none.
fn message_of(body: &str) -> String {
    #[derive(serde::Deserialize)]
    struct LaravelError {
        message: String,
    }
    match serde_json::from_str::<LaravelError>(body) {
        Ok(e) if !e.message.is_empty() => {
            let short: String = e.message.chars().take(200).collect();
            format!(": {short}")
        }
        _ => String::new(),
    }
}
