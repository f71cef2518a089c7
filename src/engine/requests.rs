//! Requests: which page to ask for next, within which budget, and what to do with
//! each answer.

use super::{InFlight, SyncEngine, NAMES, ORDER_LOOKUP, PROBE};
use crate::catchup::{OrderListing, CHECK_OVERLAP_MS};
use crate::check::CheckCollector;
use crate::engine::Action;
use crate::error::{ErrorCode, SyncError};
use crate::json_read::read_text;
use crate::options::SyncOptions;
use crate::page::{OfferStock, StockPage};
use crate::pagination::{PagePlan, PageStep};
use crate::report::RetryNotice;
use crate::request::{
    offers_with_product_url, HttpRequest, HttpResponse, OfferFilter, TransportFailure, PAGE_LIMIT,
};
use crate::retry_after::retry_after_ms;
use crate::webhook::order_offer_ids;

/// Where a run's offers come from when orders decide them.
#[derive(Debug)]
pub(super) enum OrderSource {
    /// One order's lines (`orderId`).
    One(u64),
    /// The lines of the orders changed since the last check (`ordersUpdatedSince`).
    Changed(OrderListing),
}

impl OrderSource {
    /// The source the options ask for, if any, for a run starting at `now_ms`.
    pub(super) fn of(options: &SyncOptions, now_ms: u64) -> Option<Self> {
        match (options.order_id, options.orders_updated_since) {
            (Some(order), _) => Some(OrderSource::One(order)),
            (None, Some(since)) => Some(OrderSource::Changed(OrderListing::new(since, now_ms))),
            (None, None) => None,
        }
    }

    /// What the next request asks for, for messages.
    fn describe(&self) -> String {
        match self {
            OrderSource::One(_) => "the order lookup".to_string(),
            OrderSource::Changed(listing) => format!(
                "page {} of the orders changed since the last check",
                listing.page().unwrap_or(1)
            ),
        }
    }
}

/// A page's retries in the current epoch of the plan.
#[derive(Debug, Default)]
pub(super) struct Retried {
    /// The page's last request got no usable answer: its next start is a retry.
    owed: bool,
    /// Retries of the page started.
    made: u32,
}

impl SyncEngine {
    /// Whether `extra` more subrequests, plus the sink calls needed to write every
    /// row read, on its way, or on `extra_pages` pages about to be asked for, stay
    /// within `maxSubrequests`.
    pub(super) fn can_afford(&self, extra: u64, extra_pages: u64) -> bool {
        let Some(max) = self.options.max_subrequests else {
            return true;
        };
        let keys_per_offer = if self.options.per_warehouse {
            self.warehouses.seen_count().max(1) as u64
        } else {
            1
        };
        let unread_pages = (self.in_flight.len() + self.arrived.len()) as u64 + extra_pages;
        let rows = self.pending.len() as u64 + unread_pages * PAGE_LIMIT * keys_per_offer;
        let flush_calls =
            2 * rows.div_ceil(self.options.batch_size as u64) + self.raise_calls(rows);
        self.requests + self.site_calls + extra + flush_calls <= u64::from(max)
    }

    pub(super) fn out_of_budget(&self) -> SyncError {
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
    pub(super) fn next_page_to_request(&self) -> Option<u64> {
        if self.in_flight.len() >= self.options.max_concurrent_requests as usize {
            return None;
        }
        if self.order_lookup.is_some() {
            let asked = self.in_flight.iter().any(|f| f.page == ORDER_LOOKUP);
            return (!asked).then_some(ORDER_LOOKUP);
        }
        if self.plan.probe_page().is_some() {
            let epoch = self.plan.epoch();
            let asked = self
                .in_flight
                .iter()
                .any(|f| f.page == PROBE && f.epoch == epoch);
            return (!asked).then_some(PROBE);
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
    pub(super) fn reason_to_stop(&self, start_at: u64) -> Option<SyncError> {
        if let Some(max) = self.options.max_requests {
            if self.requests >= u64::from(max) {
                return Some(SyncError::new(
                    ErrorCode::BudgetExhausted,
                    format!("the run's budget of {max} requests ran out before the scan ended"),
                ));
            }
        }
        // This request, and the reads and writes of its rows with the others'.
        if !self.can_afford(1, 1) {
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

    pub(super) fn next_request(&mut self, now_ms: u64, page: Option<u64>) -> Action {
        let Some(page) = page else {
            if self.in_flight.is_empty() {
                self.fail(SyncError::new(ErrorCode::Internal, "no page to request"));
                return self.finish(now_ms);
            }
            return Action::AwaitResponse;
        };
        let start_at = now_ms + self.pacer.wait_ms(now_ms);
        if page == NAMES {
            if let Some(reason) = self.reason_to_skip_names(start_at) {
                self.stop_names(&reason);
                return self.poll(now_ms);
            }
        } else if let Some(err) = self.reason_to_stop(start_at) {
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
        let asked = if page == PROBE {
            self.plan.probe_page().unwrap_or(1)
        } else {
            page
        };
        let names = self.check.as_ref().and_then(CheckCollector::names);
        let url = match (&self.order_lookup, self.plan.query_for(asked)) {
            _ if page == NAMES => match names.and_then(|n| n.next_ids()) {
                Some(ids) => offers_with_product_url(&self.options.api_url, ids),
                None => {
                    self.fail(SyncError::new(ErrorCode::Internal, "no names to look up"));
                    return self.finish(now_ms);
                }
            },
            (Some(OrderSource::One(order)), _) => self.options.order_url(*order),
            (Some(OrderSource::Changed(listing)), _) => listing.url(&self.options.api_url),
            (None, Some(query)) => query.url(&self.options.api_url),
            (None, None) => {
                self.fail(SyncError::new(ErrorCode::Internal, "no page to request"));
                return self.finish(now_ms);
            }
        };
        let timeout_ms = match self.deadline_at {
            Some(deadline) => self.options.request_timeout_ms.min(deadline - now_ms),
            None => self.options.request_timeout_ms,
        };
        let id = self.next_id;
        self.next_id += 1;
        self.in_flight.push(InFlight {
            id,
            page,
            started_ms: now_ms,
            epoch: self.plan.epoch(),
        });
        self.pacer.started(now_ms);
        self.requests += 1;
        // Counted when the repeat starts, not when it is decided: a retry the run
        // ends before making is no retry.
        if let Some(retried) = self.retried.get_mut(&page).filter(|r| r.owed) {
            retried.owed = false;
            retried.made += 1;
            self.retries += 1;
        }
        Action::Fetch(HttpRequest {
            id,
            url,
            timeout_ms,
        })
    }

    /// Takes KeyCRM's answer to the [`Action::Fetch`] with this id.
    pub fn handle_response(&mut self, id: u64, now_ms: u64, response: HttpResponse) {
        let Some(flight) = self.land(id) else {
            // A 429 to a request that no longer matters still asks KeyCRM's account
            // to wait: the next start honours it.
            if response.status == 429 && self.report.is_none() {
                let attempt = self.rate_limit_attempt + 1;
                let wait = self.wait_after_429(now_ms, response.retry_after.as_deref(), attempt);
                self.pacer.hold_until(now_ms + wait);
            }
            return;
        };
        match response.status {
            200..=299 if flight.page == NAMES => self.take_names(now_ms, &response.body),
            200..=299 if flight.page == ORDER_LOOKUP => {
                self.take_orders(now_ms, flight.page, &response.body);
            }
            200..=299 if flight.page == PROBE => match StockPage::from_json(&response.body) {
                Ok(page) => {
                    self.rate_limit_attempt = 0;
                    self.take_probe(page, flight.started_ms);
                }
                Err(err) => self.retry(now_ms, flight.page, err),
            },
            200..=299 => match StockPage::from_json(&response.body) {
                Ok(page) => {
                    self.rate_limit_attempt = 0;
                    self.arrived.insert(flight.page, (page, flight.started_ms));
                    self.take_arrived();
                }
                Err(err) => self.retry(now_ms, flight.page, err),
            },
            429 => self.rate_limited(now_ms, flight.page, response.retry_after.as_deref()),
            401 | 403 => self.fail_request(
                flight.page,
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
                    format!(
                        "KeyCRM answered HTTP {} for {}",
                        response.status,
                        self.path_of(flight.page)
                    ),
                )
                .with_status(response.status);
                self.retry(now_ms, flight.page, err);
            }
            status => self.fail_request(
                flight.page,
                SyncError::new(
                    ErrorCode::CrmHttp,
                    format!(
                        "KeyCRM answered HTTP {status} for {}{}{}",
                        self.path_of(flight.page),
                        message_of(&response.body),
                        self.base_hint(status)
                    ),
                )
                .with_status(status),
            ),
        }
    }

    /// Takes the news that the [`Action::Fetch`] with this id got no answer.
    pub fn handle_transport_failure(&mut self, id: u64, now_ms: u64, failure: TransportFailure) {
        self.handle_transport_failure_because(id, now_ms, failure, None);
    }

    /// [`handle_transport_failure`](Self::handle_transport_failure) with what the
    /// driver knows of the cause (e.g. "no-such-host.invalid: ENOTFOUND, the host
    /// name does not resolve"), which goes into the error's message.
    pub fn handle_transport_failure_because(
        &mut self,
        id: u64,
        now_ms: u64,
        failure: TransportFailure,
        cause: Option<&str>,
    ) {
        let Some(flight) = self.land(id) else {
            return;
        };
        let cause: String = cause.unwrap_or_default().chars().take(300).collect();
        let what = match (failure, cause.trim()) {
            (TransportFailure::Timeout, _) => "KeyCRM did not answer in time".to_string(),
            (TransportFailure::Network, "") => {
                "KeyCRM could not be reached (network error)".to_string()
            }
            (TransportFailure::Network, cause) => format!("KeyCRM could not be reached: {cause}"),
        };
        self.retry(
            now_ms,
            flight.page,
            SyncError::new(ErrorCode::CrmUnavailable, what),
        );
    }

    /// Takes the answer to an order lookup, or to a page of the orders changed
    /// since the last check; once the orders are known, their offers are read.
    fn take_orders(&mut self, now_ms: u64, page: u64, body: &str) {
        let taken = match &mut self.order_lookup {
            Some(OrderSource::One(_)) => order_offer_ids(body).map(Some),
            Some(OrderSource::Changed(listing)) => match listing.take(body) {
                Ok(true) => Ok(None),
                Ok(false) => Ok(Some(listing.offer_ids().to_vec())),
                Err(err) => Err(err),
            },
            None => Ok(Some(Vec::new())),
        };
        match taken {
            Ok(more) => {
                self.rate_limit_attempt = 0;
                self.page_attempts.clear();
                self.retried.clear();
                let Some(ids) = more else {
                    return; // The next page of orders.
                };
                self.order_lookup = None;
                self.plan = if ids.is_empty() {
                    // Orders of custom lines only, or none: nothing to read.
                    PagePlan::empty()
                } else {
                    let details = self.options.needs_details();
                    PagePlan::new(OfferFilter::chunks(&ids, &[]), details)
                };
            }
            Err(err) => self.retry(now_ms, page, err),
        }
    }

    /// Where the next catch-up starts, for the report: see
    /// [`SyncReport::next_orders_updated_since`](crate::SyncReport::next_orders_updated_since).
    pub(super) fn next_check(&self) -> Option<u64> {
        let whole_scan = self.options.resume_from.is_none()
            && !self.options.is_filtered()
            && !self.options.from_orders()
            && self.plan.saw_whole_catalogue();
        let caught_up = self.options.orders_updated_since.is_some() && self.order_lookup.is_none();
        (self.failure.is_none() && (whole_scan || caught_up))
            .then(|| self.started_ms.saturating_sub(CHECK_OVERLAP_MS))
    }

    /// What the order request in flight asks for, for messages.
    fn order_request(&self) -> String {
        self.order_lookup
            .as_ref()
            .map_or_else(|| "the order lookup".to_string(), OrderSource::describe)
    }

    /// The URL path a request in flight asked for (the query left out), for messages.
    fn path_of(&self, page: u64) -> String {
        let base = self.base_path();
        match &self.order_lookup {
            Some(OrderSource::One(order)) if page == ORDER_LOOKUP => {
                format!("{base}/order/{order}")
            }
            Some(OrderSource::Changed(_)) if page == ORDER_LOOKUP => format!("{base}/order"),
            _ if page == NAMES => format!("{base}/offers"),
            _ => format!("{base}/offers/stocks"),
        }
    }

    /// The path of the API base, e.g. "/v1"; empty at a host's root.
    fn base_path(&self) -> &str {
        let url = &self.options.api_url;
        let authority = url.find("://").map_or(0, |at| at + 3);
        url[authority..]
            .find('/')
            .map_or("", |at| &url[authority + at..])
    }

    /// For a 404 from a base that does not end in `/v1`, where KeyCRM's API lives:
    /// a hint to add it.
    fn base_hint(&self, status: u16) -> String {
        if status != 404 || self.base_path().ends_with("/v1") {
            return String::new();
        }
        format!(
            "; KeyCRM's API base ends in /v1: try {}/v1",
            self.options.api_url
        )
    }

    /// The notice of the failed request still waiting for its retry, if any.
    pub(super) fn pending_retry(&self) -> Option<RetryNotice> {
        let (page, notice) = self.retry_notice.as_ref()?;
        let owed = self.retried.get(page).is_some_and(|r| r.owed);
        (owed && self.report.is_none() && self.failure.is_none()).then(|| notice.clone())
    }

    /// Keeps a failed request's notice for progress.
    fn note_retry(&mut self, page: u64, retry: u32, max_retries: u32, wait_ms: u64, reason: &str) {
        self.failed_attempts += 1;
        let request = if page == ORDER_LOOKUP {
            self.order_request()
        } else if page == NAMES {
            "the product-name lookup".to_string()
        } else if page == PROBE {
            "the last page".to_string()
        } else {
            format!("page {page}")
        };
        let notice = RetryNotice {
            failure: self.failed_attempts,
            request,
            retry,
            max_retries,
            wait_ms,
            reason: reason.to_string(),
        };
        self.retry_notice = Some((page, notice));
    }

    /// Takes a request out of flight; `None` for an answer that no longer matters
    /// (the run is over, or the plan stepped back since it started).
    pub(super) fn land(&mut self, id: u64) -> Option<InFlight> {
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

    /// Takes the answer to the census probe; once the census is taken, the scan
    /// starts over from page 1, and the probe's answer is kept as its page's.
    fn take_probe(&mut self, page: StockPage, observed_at: u64) {
        let asked = self.plan.probe_page();
        self.page_attempts.remove(&PROBE);
        self.retried.remove(&PROBE);
        match self.plan.take_probe(&page) {
            Ok(true) => {
                self.arrived.clear();
                self.page_attempts.clear();
                self.retried.clear();
                if let Some(asked) = asked.filter(|&p| p > 1) {
                    self.arrived.insert(asked, (page, observed_at));
                }
            }
            Ok(false) => {}
            Err(err) => self.fail(err),
        }
    }

    /// Processes answered pages in page order, as far as they reach.
    pub(super) fn take_arrived(&mut self) {
        while let Some(current) = self.plan.current_page() {
            let Some((mut page, observed_at)) = self.arrived.remove(&current) else {
                break;
            };
            self.page_attempts.remove(&current);
            self.retried.remove(&current);
            let epoch = self.plan.epoch();
            let reread = self.take_page(&mut page, observed_at);
            if self.failure.is_some() {
                break;
            }
            if self.plan.epoch() != epoch {
                // Pages answered ahead belong to the old position or segment.
                self.arrived.clear();
                self.page_attempts.clear();
                self.retried.clear();
            }
            if reread {
                self.owe_retry(current);
            }
        }
    }

    /// Takes the answer to the plan's current page: its rows, then the plan's
    /// verdict. Returns whether the page must be asked for again. The SKUs of
    /// the rows taken move into their figures; the plan reads none.
    pub(super) fn take_page(&mut self, page: &mut StockPage, observed_at: u64) -> bool {
        // An envelope that contradicts itself is refused before any row is taken.
        if let Err(err) = self.plan.check(page) {
            self.fail(err);
            return false;
        }
        // A filtered page's rows are taken only for what the filter asked for:
        // a backend that splits or widens the filter sends others too.
        match self.plan.query().and_then(|query| query.filter) {
            Some(filter) => {
                let asked: Vec<&mut OfferStock> = page
                    .data
                    .iter_mut()
                    .filter(|row| filter.admits(row))
                    .collect();
                self.take_rows(asked, observed_at)
            }
            None => self.take_rows(&mut page.data, observed_at),
        };
        if self.failure.is_some() {
            return false;
        }
        match self.plan.advance(page) {
            Ok(step) => step == PageStep::Reread,
            Err(err) => {
                self.fail(err);
                false
            }
        }
    }

    /// Notes that `page` is to be asked for again: its next start is a retry.
    fn owe_retry(&mut self, page: u64) {
        self.retried.entry(page).or_default().owed = true;
    }

    /// Admits rows read from KeyCRM (a page, or a stock webhook's delivery) and
    /// queues their figures; returns how many offers were new. A row's SKU may
    /// move into its figures ([`take_row`](Self::take_row)).
    pub(super) fn take_rows<'a>(
        &mut self,
        rows: impl IntoIterator<Item = &'a mut OfferStock>,
        observed_at: u64,
    ) -> usize {
        let mut new_offers = 0;
        for row in rows {
            self.warehouses.note(row);
            match self.take_row(row, observed_at) {
                Ok(true) => new_offers += 1,
                Ok(false) => {}
                Err(err) => {
                    self.fail(err);
                    return new_offers;
                }
            }
        }
        new_offers
    }

    pub(super) fn rate_limited(&mut self, now_ms: u64, page: u64, retry_after: Option<&str>) {
        self.rate_limited += 1;
        self.rate_limit_attempt += 1;
        let wait = self.wait_after_429(now_ms, retry_after, self.rate_limit_attempt);
        // Held even when this run gives up: KeyCRM counts per account, so the next
        // run sharing this pacing must wait as long as it was asked to.
        self.pacer.hold_until(now_ms + wait);
        if self.rate_limit_attempt > self.options.max_rate_limit_retries {
            return self.fail_request(
                page,
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
        self.owe_retry(page);
        let max = self.options.max_rate_limit_retries;
        let reason = "KeyCRM answered HTTP 429 Too Many Requests";
        self.note_retry(page, self.rate_limit_attempt, max, wait, reason);
    }

    /// How long a 429 asks to wait: its `Retry-After`, capped, or the backoff for
    /// the `attempt`-th 429 in a row.
    fn wait_after_429(&mut self, now_ms: u64, retry_after: Option<&str>, attempt: u32) -> u64 {
        retry_after
            .and_then(|v| retry_after_ms(v, now_ms))
            .map(|ms| ms.min(self.options.max_retry_after_ms))
            .unwrap_or_else(|| self.backoff.delay_ms(attempt, self.jitter.next_unit()))
    }

    pub(super) fn retry(&mut self, now_ms: u64, page: u64, err: SyncError) {
        let attempt = self.page_attempts.entry(page).or_insert(0);
        *attempt += 1;
        let attempt = *attempt;
        if attempt > self.options.max_retries {
            let what = if page == ORDER_LOOKUP {
                self.order_request()
            } else if page == NAMES {
                "the product-name lookup".to_string()
            } else if page == PROBE {
                "the last page, asked for to take the scan's census".to_string()
            } else {
                format!("page {page}")
            };
            // The page's retries, as the report counts them: after errors like
            // this one, and after 429 answers.
            let max = self.options.max_retries;
            let made = self.retried.get(&page).map_or(0, |r| r.made);
            let after_429 = made.saturating_sub(max);
            let detail = if after_429 == 0 {
                format!("gave up after {made} retries")
            } else {
                format!(
                    "gave up after {made} retries: {max} after errors, the most maxRetries allows, and {after_429} after 429 answers"
                )
            };
            let message = format!("{} ({what}: {detail})", err.message);
            return self.fail_request(page, SyncError { message, ..err });
        }
        self.owe_retry(page);
        let wait = self.backoff.delay_ms(attempt, self.jitter.next_unit());
        self.pacer.hold_until(now_ms + wait);
        let max = self.options.max_retries;
        self.note_retry(page, attempt, max, wait, &err.message);
    }
}

impl SyncEngine {
    /// The next request of a check's product-name lookup, while it has offers to
    /// ask for: one at a time, paced and budgeted as the scan's requests.
    pub(super) fn next_name_lookup(&mut self, now_ms: u64) -> Option<Action> {
        let names = self.check.as_ref().and_then(CheckCollector::names)?;
        names.next_ids()?;
        if self.in_flight.iter().any(|f| f.page == NAMES) {
            return Some(Action::AwaitResponse);
        }
        Some(self.next_request(now_ms, Some(NAMES)))
    }

    /// Why the product-name lookup may not start another request at `start_at`:
    /// the request or subrequest budget, or the deadline.
    fn reason_to_skip_names(&self, start_at: u64) -> Option<String> {
        if let Some(max) = self.options.max_requests {
            if self.requests >= u64::from(max) {
                return Some(format!("the run's budget of {max} requests ran out"));
            }
        }
        if !self.can_afford(1, 0) {
            let max = self.options.max_subrequests.unwrap_or_default();
            return Some(format!("the run's budget of {max} subrequests ran out"));
        }
        self.deadline_at
            .is_some_and(|deadline| start_at >= deadline)
            .then(|| "the run's deadline came".to_string())
    }

    /// Takes the answer to a product-name request; a body that is not a page of
    /// offers is retried like a page.
    fn take_names(&mut self, now_ms: u64, body: &str) {
        let Some(names) = self.check.as_mut().and_then(CheckCollector::names_mut) else {
            return;
        };
        match names.take(body) {
            Ok(()) => {
                self.rate_limit_attempt = 0;
                self.page_attempts.remove(&NAMES);
                self.retried.remove(&NAMES);
            }
            Err(err) => self.retry(now_ms, NAMES, err),
        }
    }

    /// Ends the product-name lookup early: the check still completes, without
    /// the names not read, and its report says why.
    fn stop_names(&mut self, reason: &str) {
        if let Some(names) = self.check.as_mut().and_then(CheckCollector::names_mut) {
            names.stop(reason);
        }
        self.page_attempts.remove(&NAMES);
        self.retried.remove(&NAMES);
    }

    /// Ends the run with `err` for a request that failed for good, except a
    /// product-name request, whose failure only ends the lookup.
    fn fail_request(&mut self, page: u64, err: SyncError) {
        if page == NAMES {
            return self.stop_names(&err.message);
        }
        self.fail(err);
    }
}

/// `": <message>"` from a Laravel error body, shortened; empty if there is none.
fn message_of(body: &str) -> String {
    let message = read_text(body, |reader| {
        let mut message = None;
        reader.object("an error", &["message"], &mut |reader, _| {
            message = Some(reader.string()?);
            Ok(())
        })?;
        Ok(message)
    });
    match message {
        Ok(Some(message)) if !message.is_empty() => {
            let short: String = message.chars().take(200).collect();
            format!(": {short}")
        }
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::message_of;

    #[test]
    fn the_message_of_an_error_body() {
        for (body, said) in [
            (
                r#"{"message":"Not found","exception":{"x":[1]}}"#,
                ": Not found",
            ),
            (
                r#"  {"message" : "\u0421\u0435\u0440\u0432\u0435\u0440"}  "#,
                ": Сервер",
            ),
            (
                r#"["As serde takes an object's fields in order"]"#,
                ": As serde takes an object's fields in order",
            ),
            (r#"{"message":""}"#, ""),
            (r#"{"message":"a","message":"b"}"#, ""),
            (r#"{"message":5}"#, ""),
            (r#"{"errors":{}}"#, ""),
            (r#"{"message":"a"} trailing"#, ""),
            ("<html>502</html>", ""),
        ] {
            assert_eq!(message_of(body), said, "{body}");
        }
        let long = format!(r#"{{"message":"{}"}}"#, "я".repeat(300));
        assert_eq!(
            message_of(&long).chars().count(),
            202,
            "two for \": \", 200 of the message"
        );
    }
}
