//! One seed's world: KeyCRM, the network, the site and a clock, and the driver
//! that runs engines in it, checking the invariants after every step.

use std::collections::HashSet;

use keycrm_stock_sync::pacing::SharedPacing;
use keycrm_stock_sync::webhook::parse_stock_webhook;
use keycrm_stock_sync::{
    Action, HttpResponse, StockChange, SyncEngine, SyncOptions, SyncReport, TransportFailure,
};

use super::keycrm::{Catalogue, Rules};
use super::network::{Flight, Hold, Net, Reply};
use super::rng::Rng;
use super::site::{close, Site};
use super::Faults;

#[derive(Debug)]
pub struct Violation {
    pub invariant: &'static str,
    pub detail: String,
}

pub type Check<T = ()> = Result<T, Violation>;

fn fail<T>(invariant: &'static str, detail: String) -> Check<T> {
    Err(Violation { invariant, detail })
}

/// Offers a scan and the runs resuming it have handed to the engine.
#[derive(Clone, Default)]
pub struct Chain {
    pub started: u64,
    pub seen: HashSet<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Interrupt {
    None,
    /// `handle_stop` before this step.
    Stop(u64),
    /// The engine is dropped before this step.
    Crash(u64),
}

#[derive(Default, Debug, Clone, Copy)]
pub struct Stats {
    pub runs: u64,
    pub complete: u64,
    pub steps: u64,
    pub requests: u64,
    pub writes: u64,
    pub webhooks: u64,
    pub crashes: u64,
    pub compared: u64,
}

impl Stats {
    pub fn add(&mut self, o: &Stats) {
        self.runs += o.runs;
        self.complete += o.complete;
        self.steps += o.steps;
        self.requests += o.requests;
        self.writes += o.writes;
        self.webhooks += o.webhooks;
        self.crashes += o.crashes;
        self.compared += o.compared;
    }
}

pub struct World {
    pub rng: Rng,
    pub faults: Faults,
    pub now: u64,
    pub cat: Catalogue,
    pub site: Site,
    pub rules: Rules,
    pub net: Net,
    /// Whether KeyCRM's users are at work (catalogue changes, webhooks).
    pub busy: bool,
    pub mutation_gap_ms: u64,
    next_mutation: u64,
    /// (arrives, generated, body)
    webhooks: Vec<(u64, u64, String)>,
    pub site_fail_rate: f64,
    pub site_slow_ms: u64,
    /// Request starts of this process, and the waits 429s asked for.
    starts: Vec<u64>,
    holds: Vec<(u64, u64, &'static str)>,
    pub pacing: SharedPacing,
    pub base: SyncOptions,
    pub tracing: bool,
    pub trace: Vec<String>,
    pub stats: Stats,
}

impl World {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        rng: Rng,
        faults: Faults,
        now: u64,
        cat: Catalogue,
        site: Site,
        net: Net,
        base: SyncOptions,
    ) -> World {
        World {
            rules: Rules {
                keep_reserve: base.keep_reserve,
                fractional: base.fractional,
            },
            rng,
            faults,
            now,
            cat,
            site,
            net,
            busy: false,
            mutation_gap_ms: 1_000,
            next_mutation: now,
            webhooks: Vec::new(),
            site_fail_rate: 0.0,
            site_slow_ms: 0,
            starts: Vec::new(),
            holds: Vec::new(),
            pacing: SharedPacing::default(),
            base,
            tracing: false,
            trace: Vec::new(),
            stats: Stats::default(),
        }
    }

    fn note(&mut self, line: impl FnOnce() -> String) {
        if self.tracing {
            let line = format!("t={} {}", self.now, line());
            self.trace.push(line);
        }
    }

    /// A new process: its pacing starts over, after a restart that takes a while.
    pub fn restart(&mut self) {
        self.pacing = SharedPacing::default();
        self.starts.clear();
        self.holds.clear();
    }

    /// How long the waits 429s asked for still last.
    pub fn holds_left(&self) -> u64 {
        let until = self.holds.iter().map(|h| h.1).max().unwrap_or(0);
        until.saturating_sub(self.now)
    }

    /// Lets time pass to `target`: catalogue changes and webhooks on the way.
    pub fn pass_time(&mut self, target: u64) -> Check {
        loop {
            let next_mutation = if self.busy {
                self.next_mutation
            } else {
                u64::MAX
            };
            let next_hook = self.webhooks.iter().map(|w| w.0).min().unwrap_or(u64::MAX);
            let next = next_mutation.min(next_hook);
            if next > target {
                break;
            }
            self.now = self.now.max(next);
            if next == next_hook {
                let i = self.webhooks.iter().position(|w| w.0 == next).unwrap();
                let (_, generated, body) = self.webhooks.swap_remove(i);
                self.webhook(generated, &body)?;
            } else {
                let (what, id, changed) = self.cat.mutate(&mut self.rng, &self.faults, self.now);
                if self.tracing {
                    let index = self.cat.offers.iter().position(|o| o.id == id);
                    self.note(|| format!("catalogue: offer {id} {what}, now at index {index:?}"));
                }
                if let Some(offer) = changed.filter(|_| self.rng.chance(0.4)) {
                    let arrives = self.now + self.rng.below(3_000);
                    let body = Catalogue::webhook_body(&[offer]);
                    self.webhooks.push((arrives, self.now, body));
                }
                self.next_mutation = self.now + 1 + self.rng.below(2 * self.mutation_gap_ms);
            }
        }
        self.now = self.now.max(target);
        Ok(())
    }

    /// Delivers every webhook still on its way, then KeyCRM's users stop.
    pub fn settle(&mut self) -> Check {
        self.busy = false;
        let last = self.webhooks.iter().map(|w| w.0).max().unwrap_or(self.now);
        self.pass_time(last)
    }

    pub fn start_busy(&mut self) {
        self.busy = true;
        self.next_mutation = self.now + self.rng.below(2 * self.mutation_gap_ms);
    }

    /// A stock webhook's delivery, applied by its own engine.
    fn webhook(&mut self, generated: u64, body: &str) -> Check {
        self.stats.webhooks += 1;
        let rows = match parse_stock_webhook(body, 1_000) {
            Ok(rows) => rows,
            // Figures no stock holds may be refused, with the delivery.
            Err(_) if absurd_rows(body) => return Ok(()),
            Err(e) => return fail("webhook_parses", format!("{body}: {e:?}")),
        };
        let mut options = self.base.clone();
        options.zero_missing = false;
        let start = self.now;
        let mut engine = match SyncEngine::for_stock_webhook(options, start, &rows) {
            Ok(engine) => engine,
            Err(e) => return fail("webhook_options", format!("{e:?}")),
        };
        self.note(|| format!("webhook generated at {generated}: {body}"));
        for _ in 0..10_000 {
            match engine.poll(self.now) {
                Action::ReadSite(keys) => {
                    if self.rng.chance(self.site_fail_rate) {
                        engine.handle_site_failure("read failed");
                    } else {
                        engine.handle_site_stock(self.site.read(&keys));
                    }
                }
                Action::WriteSite(changes) => {
                    self.check_writes(&changes, start, generated, false, "webhook")?;
                    if self.rng.chance(self.site_fail_rate) {
                        engine.handle_site_failure("write failed");
                    } else {
                        self.site.write(&changes, self.now);
                        engine.handle_written();
                    }
                }
                Action::Done(_) => return Ok(()),
                other => return fail("webhook_run_is_local", format!("{other:?}")),
            }
        }
        fail(
            "bounded_run",
            "a webhook's run did not end in 10 000 steps".into(),
        )
    }

    /// Every written figure is the row's old value or one KeyCRM held for that SKU
    /// since `keycrm_from`; never NULL (unless restoring a NULL), NaN or ∞.
    fn check_writes(
        &mut self,
        changes: &[StockChange],
        site_from: u64,
        keycrm_from: u64,
        zeroing: bool,
        who: &str,
    ) -> Check {
        self.stats.writes += 1;
        for c in changes {
            if c.warehouse_id.is_some() {
                return fail("written_key", format!("{who}: {c:?}"));
            }
            let Some(v) = c.stock else {
                if !self.site.held_since(&c.sku, site_from, None) {
                    return fail("no_null_written", format!("{who}: {c:?}"));
                }
                continue;
            };
            if !v.is_finite() || v < 0.0 {
                return fail("written_figure_finite", format!("{who}: {c:?}"));
            }
            if zeroing {
                if v != 0.0 {
                    return fail("zeroing_writes_zero", format!("{who}: {c:?}"));
                }
                continue;
            }
            let held = self.cat.held(&c.sku, keycrm_from, self.now, self.rules);
            if !held.iter().any(|h| close(*h, v))
                && !self.site.held_since(&c.sku, site_from, Some(v))
            {
                return fail(
                    "written_figure_held",
                    format!("{who}: {c:?}; KeyCRM held {held:?} since {keycrm_from}"),
                );
            }
        }
        Ok(())
    }

    /// Checks and records a request start.
    fn check_start(&mut self) -> Check {
        let interval = self.base.request_interval_ms();
        let now = self.now;
        if let Some(&last) = self.starts.last() {
            if now < last + interval {
                return fail(
                    "pacing_interval",
                    format!("starts at {last} and {now}, interval {interval}"),
                );
            }
        }
        let in_minute = self
            .starts
            .iter()
            .rev()
            .take_while(|&&s| s + 60_000 > now)
            .count();
        if in_minute as u64 + 1 > u64::from(self.base.rate_limit_per_minute) {
            return fail("sliding_minute", format!("{} starts", in_minute + 1));
        }
        if let Some(h) = self.holds.iter().find(|h| now >= h.0 && now < h.1) {
            return fail(
                "retry_after_honoured",
                format!("start at {now} inside the wait {h:?} a 429 asked for"),
            );
        }
        self.starts.push(now);
        Ok(())
    }

    /// Runs one engine to its end (or its crash), checking every step.
    pub fn run(
        &mut self,
        options: SyncOptions,
        interrupt: Interrupt,
        mut chain: Chain,
    ) -> Check<(Option<SyncReport>, Chain)> {
        self.stats.runs += 1;
        let t0 = self.now;
        let seed = self.rng.next_u64();
        let mut engine = SyncEngine::new(options.clone(), t0, seed);
        engine.share_pacing(&self.pacing);
        self.note(|| format!("run starts: {options:?}"));
        let mut flights: Vec<Flight> = Vec::new();
        let (mut requests, mut site_calls, mut site_time, mut rows_served) = (0u64, 0u64, 0, 0);
        let mut zeroing = false;
        let mut step = 0u64;
        loop {
            step += 1;
            self.stats.steps += 1;
            let bound = self.bound(&options, rows_served);
            if step > bound.steps {
                return fail("bounded_run", format!("{step} steps, bound {bound:?}"));
            }
            match interrupt {
                Interrupt::Stop(at) if at == step => {
                    self.note(|| "stop".into());
                    engine.handle_stop();
                }
                Interrupt::Crash(at) if at == step => {
                    self.note(|| "crash".into());
                    self.stats.crashes += 1;
                    return Ok((None, chain));
                }
                _ => {}
            }
            let action = engine.poll(self.now);
            match action {
                Action::Fetch(request) => {
                    self.check_start()?;
                    requests += 1;
                    self.stats.requests += 1;
                    if requests > bound.requests {
                        return fail("bounded_run", format!("{requests} requests, {bound:?}"));
                    }
                    // Changes due now come before the answer is made.
                    self.pass_time(self.now)?;
                    let page = page_of(&request.url);
                    let flight = self.net.answer(
                        &mut self.rng,
                        &self.faults,
                        &mut self.cat,
                        request.id,
                        page,
                        self.now,
                        request.timeout_ms,
                    );
                    self.note(|| {
                        format!(
                            "fetch #{} page {page}: {} arriving at {}",
                            request.id, flight.what, flight.arrives
                        )
                    });
                    flights.push(flight);
                }
                Action::Sleep(ms) => {
                    if ms == 0 {
                        return fail("no_empty_sleep", "Sleep(0)".into());
                    }
                    let wake = self.now + ms;
                    match next_flight(&flights).filter(|&i| flights[i].arrives <= wake) {
                        Some(i) => {
                            let flight = flights.swap_remove(i);
                            rows_served += self.deliver(&mut engine, flight, &mut chain)?;
                        }
                        None => self.pass_time(wake)?,
                    }
                }
                Action::AwaitResponse => {
                    let Some(i) = next_flight(&flights) else {
                        return fail("no_hang", "AwaitResponse with nothing in flight".into());
                    };
                    let flight = flights.swap_remove(i);
                    rows_served += self.deliver(&mut engine, flight, &mut chain)?;
                }
                Action::ReadSite(keys) => {
                    site_calls += 1;
                    site_time += self.site_call()?;
                    if self.rng.chance(self.site_fail_rate) {
                        engine.handle_site_failure("read failed");
                    } else {
                        engine.handle_site_stock(self.site.read(&keys));
                    }
                }
                Action::WriteSite(changes) => {
                    site_calls += 1;
                    self.check_writes(&changes, t0, t0, zeroing, "scan")?;
                    if zeroing {
                        for c in &changes {
                            if self.cat.sku_held_throughout(&c.sku, t0, self.now) {
                                return fail(
                                    "zeroing_only_missing",
                                    format!("{c:?}: an offer had this SKU all along"),
                                );
                            }
                        }
                    }
                    site_time += self.site_call()?;
                    if self.rng.chance(self.site_fail_rate) {
                        engine.handle_site_failure("write failed");
                    } else {
                        self.site.write(&changes, self.now);
                        self.note(|| format!("written {changes:?}"));
                        engine.handle_written();
                    }
                }
                Action::ReadAllSite => {
                    site_calls += 1;
                    if options.resume_from.is_some() || !options.zero_missing {
                        return fail("zeroing_after_complete_scan", "asked to read all".into());
                    }
                    let missed = self.missed(&chain);
                    if !missed.is_empty() {
                        return fail(
                            "zeroing_after_complete_scan",
                            format!("about to zero; offers never read: {missed:?}"),
                        );
                    }
                    zeroing = true;
                    site_time += self.site_call()?;
                    if self.rng.chance(self.site_fail_rate) {
                        engine.handle_site_failure("read failed");
                    } else {
                        engine.handle_site_all(self.site.read_all());
                    }
                }
                Action::Done(report) => {
                    self.note(|| format!("done: {report:?}"));
                    if let Err(detail) = super::json_text::json_text_agrees(report.as_ref()) {
                        return fail("json_text", detail);
                    }
                    let engine_time = self.now - t0 - site_time;
                    if engine_time > bound.time_ms {
                        return fail(
                            "bounded_run",
                            format!("{engine_time} ms outside site calls, bound {bound:?}"),
                        );
                    }
                    if report.requests != requests {
                        return fail(
                            "report_counts",
                            format!("{} requests reported, {requests} made", report.requests),
                        );
                    }
                    if let Some(max) = options.max_requests {
                        if requests > u64::from(max) {
                            return fail("request_budget", format!("{requests} > {max}"));
                        }
                    }
                    if let Some(max) = options.max_subrequests {
                        if requests + site_calls > u64::from(max) {
                            return fail(
                                "subrequest_budget",
                                format!("{requests} requests + {site_calls} site calls > {max}"),
                            );
                        }
                    }
                    if report.complete {
                        self.stats.complete += 1;
                        if report.error.is_some() || report.cursor.is_some() {
                            return fail("complete_report", format!("{report:?}"));
                        }
                        let missed = self.missed(&chain);
                        if !missed.is_empty() {
                            return fail(
                                "complete_scan_saw_every_offer",
                                format!("reported complete; never read: {missed:?}"),
                            );
                        }
                    } else if report.error.is_none() {
                        return fail(
                            "complete_report",
                            format!("incomplete without error: {report:?}"),
                        );
                    }
                    return Ok((Some(*report), chain));
                }
            }
        }
    }

    /// Offers that existed all along since the chain started and were never read.
    fn missed(&self, chain: &Chain) -> Vec<u64> {
        self.cat
            .throughout(chain.started, self.now)
            .into_iter()
            .filter(|id| !chain.seen.contains(id))
            .collect()
    }

    /// A site call's duration; time passes meanwhile.
    fn site_call(&mut self) -> Check<u64> {
        let took = if self.rng.chance(0.05) {
            self.rng.below(self.site_slow_ms * 10 + 1)
        } else {
            self.rng.below(self.site_slow_ms + 1)
        };
        self.pass_time(self.now + took)?;
        Ok(took)
    }

    /// Hands a flight's answer to the engine; returns the rows it carried.
    fn deliver(
        &mut self,
        engine: &mut SyncEngine,
        flight: Flight,
        chain: &mut Chain,
    ) -> Check<u64> {
        self.pass_time(flight.arrives)?;
        let now = self.now;
        let id = flight.id;
        self.note(|| format!("answer #{id}: {}", flight.what));
        match flight.reply {
            Reply::Page(served) => {
                let rows = served.ids.len() as u64;
                chain.seen.extend(served.ids);
                engine.handle_response(id, now, ok(served.body));
                Ok(rows)
            }
            Reply::Status(status, retry_after, body) => {
                if let Some(hold) = flight.hold {
                    let max = self.base.max_retry_after_ms;
                    let until = match hold {
                        Hold::Ms(ms) => now + ms.min(max),
                        Hold::Until(at) => now + at.saturating_sub(now).min(max),
                        Hold::Backoff => now + self.base.backoff_base_ms / 2,
                    };
                    self.holds.push((now, until, flight.what));
                }
                let response = HttpResponse {
                    status,
                    retry_after,
                    body,
                };
                engine.handle_response(id, now, response);
                Ok(0)
            }
            Reply::Timeout => {
                engine.handle_transport_failure(id, now, TransportFailure::Timeout);
                Ok(0)
            }
            Reply::Network => {
                engine.handle_transport_failure(id, now, TransportFailure::Network);
                Ok(0)
            }
        }
    }

    /// How long a run with these options may last, whatever happens.
    fn bound(&self, o: &SyncOptions, rows_served: u64) -> Bound {
        let announced = self.cat.announced_max.max(self.cat.offers.len() as u64);
        let pages = 2 * announced.div_ceil(50) + 12;
        let per_page = u64::from(o.max_retries + o.max_rate_limit_retries + 2)
            + u64::from(o.max_concurrent_requests);
        let requests = (pages + 1) * per_page;
        let wait = o.request_interval_ms()
            + o.backoff_max_ms.max(o.max_retry_after_ms)
            + o.request_timeout_ms;
        Bound {
            requests,
            time_ms: o.deadline_ms.unwrap_or(requests * wait),
            steps: 4 * requests + 3 * (rows_served + self.site.rows.len() as u64) + 50,
        }
    }
}

#[derive(Debug)]
struct Bound {
    requests: u64,
    time_ms: u64,
    steps: u64,
}

/// Whether a webhook body carries a figure of 1e15 or more (written `1e…`).
fn absurd_rows(body: &str) -> bool {
    body.contains("e3")
}

fn next_flight(flights: &[Flight]) -> Option<usize> {
    (0..flights.len()).min_by_key(|&i| (flights[i].arrives, flights[i].id))
}

fn ok(body: String) -> HttpResponse {
    HttpResponse {
        status: 200,
        retry_after: None,
        body,
    }
}

fn page_of(url: &str) -> u64 {
    url.split_once('?')
        .and_then(|(_, q)| q.split('&').find_map(|p| p.strip_prefix("page=")))
        .and_then(|p| p.parse().ok())
        .unwrap_or(1)
}
