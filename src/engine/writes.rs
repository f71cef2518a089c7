//! Writes: admitting rows by the SKU rules, comparing batches with the site,
//! holding raises until the run ends, zeroing.
//!
//! # Raises wait for the end of the run
//!
//! A SKU shared by several offers gets the smallest of their figures (see the
//! [SKU rules](crate::ledger)), and the offers may be pages apart. Were every
//! change written as its batch is compared, a larger figure met first would be
//! written, shown by the site until the smaller one is read (stock that is not
//! there), and lowered again: every scan would write the row twice. So a change
//! that *lowers* a row, or gives a figure to a row without one (NULL), is written
//! with its batch, while a change that *raises* a row is held until no more rows
//! can come: the run has read its last page, or is ending (completed, or stopped
//! by its deadline, budget, a stop or a failure — but not a failure of the site
//! itself, after which nothing more is written). Held raises are then decided
//! again: one whose figure is still the smallest the run read for its key is
//! written, in batches, with its own observation time; one that a smaller figure
//! has since superseded is dropped, that figure's own batch having written it, or
//! found it in place, or held it in its stead. Raises of a batch compared once no
//! more rows can come are written with it (a stock webhook's delivery stays one
//! write), unless earlier raises wait: they join them, so that raises are written
//! in the order they were read. So the site never shows a figure
//! above the smallest the run has read for the row, and a run over a catalogue
//! that has not changed since the last complete run writes nothing. At most one
//! raise is held per key read.

use foldhash::HashMap;

use super::{SyncEngine, Waiting, Write, Zeroing};
use crate::availability::{differs, DesiredStock, StockKey};
use crate::diff::{diff, SiteFigures, SiteStock, StockChange};
use crate::engine::Action;
use crate::error::{ErrorCode, SyncError};
use crate::ledger::{is_storable, Admission};
use crate::page::OfferStock;

/// Raises held until the run ends (see the [module docs](self)).
#[derive(Debug, Default)]
pub(super) struct HeldRaises {
    /// In the order read; `None` where a later raise of the same key took the
    /// earlier one's place (at the end, in the order read).
    held: Vec<Option<StockChange>>,
    /// Where each key's raise is in `held`: at most one per key.
    places: HashMap<StockKey, usize>,
    /// Decided again at the end of the run, waiting to be written, in the order
    /// they were read.
    released: Vec<StockChange>,
}

impl HeldRaises {
    /// Whether no raise waits to be written.
    pub(super) fn is_empty(&self) -> bool {
        self.places.is_empty() && self.released.is_empty()
    }

    /// Holds `change`, instead of a raise of its key held before.
    ///
    /// Not inlined: the comparing loop that calls it is among the first functions
    /// V8 optimises, at a cost growing with their size, and most runs hold few
    /// raises.
    #[inline(never)]
    fn hold(&mut self, change: StockChange) {
        let place = self.held.len();
        if let Some(earlier) = self.places.insert(key_of(&change), place) {
            self.held[earlier] = None;
        }
        self.held.push(Some(change));
    }

    /// The raises held, in the order read; none are held after.
    fn take(&mut self) -> impl Iterator<Item = StockChange> {
        self.places.clear();
        std::mem::take(&mut self.held).into_iter().flatten()
    }
}

impl SyncEngine {
    /// Admits one row read from KeyCRM (from a page or a stock webhook) by the
    /// [SKU rules](crate::ledger) and queues the figures to write; returns whether
    /// the offer was new to this run.
    ///
    /// A figure of an offer whose SKU another offer has is queued only when it is
    /// below the smallest so far, replacing a queued figure for the same row. A
    /// figure of a SKU the pass applied in an earlier run is then written only
    /// below the site's ([`handle_site_stock`](Self::handle_site_stock)).
    ///
    /// # Errors
    /// [`ErrorCode::BadPage`] from [`Availability::figures`](crate::Availability::figures):
    /// a missing warehouse breakdown, or figures beyond the ceiling.
    ///
    /// The row's SKU moves into its figures: a sync reads no row's SKU after
    /// this.
    pub(super) fn take_row(
        &mut self,
        row: &mut OfferStock,
        observed_at: u64,
    ) -> Result<bool, SyncError> {
        let admission = self.ledger.admit(row.id, row.sku.as_deref());
        if let Some(check) = self.check.as_mut() {
            return check.take_row(&self.availability, row, admission, observed_at);
        }
        let shared = match admission {
            Admission::AlreadyRead => return Ok(false),
            Admission::WithoutSku | Admission::InvalidSku => return Ok(true),
            Admission::Accept | Admission::SeenEarlier => false,
            Admission::Shared => true,
        };
        let sku = row.sku.take().unwrap_or_default();
        let mut figures = std::mem::take(&mut self.row_figures);
        figures.clear();
        self.availability
            .figures_into(row, sku, observed_at, &mut figures)?;
        self.ledger.lowest(&mut figures);
        keep_last_of_each_key(&mut figures);
        for figure in figures.drain(..) {
            if shared {
                self.pending.retain(|queued| queued.key != figure.key);
            }
            self.pending.push(figure);
        }
        self.row_figures = figures;
        Ok(true)
    }

    /// Whether the SKU rules let a change be written: one to a row of a SKU the
    /// pass applied in an earlier run must lower it (or fill a NULL); the others
    /// count as unchanged.
    fn may_write(&self, change: &StockChange, site: SiteFigures) -> bool {
        if !self.ledger.resumed_a_pass() || !self.ledger.lower_only(&change.sku) {
            return true;
        }
        match (site.stored, change.stock) {
            (Some(have), Some(want)) => want < have,
            _ => true,
        }
    }

    /// Whether no more rows can be read: the scan has read its last page, or the
    /// run is ending.
    fn reading_done(&self) -> bool {
        self.failure.is_some() || (self.order_lookup.is_none() && self.plan.is_done())
    }

    /// Holds a change if it would raise a row holding a figure; returns it if not.
    fn hold_raise(&mut self, change: StockChange, site: SiteFigures) -> Option<StockChange> {
        match (site.last_figure, change.stock) {
            (Some(have), Some(want)) if want > have => {
                self.raises.hold(change);
                None
            }
            _ => Some(change),
        }
    }

    /// Sink calls the raises may still need: one write per batch of those held and
    /// of `rows` more rows, which comparing may hold too.
    pub(super) fn raise_calls(&self, rows: u64) -> u64 {
        let raises = (self.raises.places.len() + self.raises.released.len()) as u64;
        (raises + rows).div_ceil(self.options.batch_size as u64)
    }

    /// Ends the run, first writing the raises held (see the [module docs](self));
    /// only for runs that may still write.
    pub(super) fn end(&mut self, now_ms: u64) -> Action {
        match self.release_raises() {
            Some(action) => action,
            None => self.finish(now_ms),
        }
    }

    /// Once no more rows can come: decides the held raises again and starts
    /// writing those still due (see the [module docs](self)); `None` when none is.
    pub(super) fn release_raises(&mut self) -> Option<Action> {
        for change in self.raises.take() {
            let smallest = self.ledger.smallest(&change.sku, change.warehouse_id);
            let still_smallest = match (smallest, change.stock) {
                (Some(low), Some(want)) => !differs(low, want),
                _ => false,
            };
            if still_smallest {
                self.raises.released.push(change);
            }
        }
        self.next_write()
    }

    pub(super) fn next_write(&mut self) -> Option<Action> {
        if self.write.is_none() {
            let write = if !self.zero_queue.is_empty() {
                if !self.can_afford(1, 0) {
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
            } else if !self.raises.released.is_empty() {
                let take = self.raises.released.len().min(self.options.batch_size);
                let changes: Vec<StockChange> = self.raises.released.drain(..take).collect();
                self.update(changes)
            } else {
                return None;
            };
            self.write = Some(write);
        }
        if self.options.dry_run {
            self.handle_written();
            return self.next_write();
        }
        let write = self.write.as_mut()?;
        self.waiting = Waiting::SiteWrite;
        self.site_calls += 1;
        Some(Action::WriteSite(std::mem::take(&mut write.changes)))
    }

    /// Whether rows already read may still be written after the run failed: yes,
    /// unless the database itself failed, the chosen warehouses are in doubt, or
    /// the engine is confused.
    pub(super) fn may_write_after_failure(&self) -> bool {
        let code = self.failure.as_ref().map(|f| f.code);
        !matches!(
            code,
            Some(ErrorCode::SinkFailed | ErrorCode::Internal | ErrorCode::UnknownWarehouse)
        ) && self.warehouses.all_found()
    }

    /// Takes the site's rows for the keys of the last [`Action::ReadSite`].
    ///
    /// A figure of a SKU the pass applied in an earlier run (see the
    /// [SKU rules](crate::ledger)) is written only below the row's current figure
    /// (or into a row without one); otherwise the row counts as unchanged.
    pub fn handle_site_stock(&mut self, rows: Vec<SiteStock>) {
        if !self.expect(Waiting::SiteRead) {
            return;
        }
        let batch = std::mem::take(&mut self.comparing);
        let outcome = diff(batch, &rows);
        // Once no more rows can come, raises are written with their batch, unless
        // earlier ones wait: they then join them, to be written in the order read.
        let hold = !self.reading_done() || !self.raises.places.is_empty();
        let mut changes = Vec::with_capacity(outcome.changes.len());
        for (change, site) in outcome.changes {
            if !self.may_write(&change, site) {
                self.unchanged += 1;
            } else if !hold {
                changes.push(change);
            } else if let Some(change) = self.hold_raise(change, site) {
                changes.push(change);
            }
        }
        self.unchanged += outcome.unchanged;
        self.kept_newer += outcome.kept_newer;
        for key in &outcome.not_on_site {
            self.not_on_site.add(&key.sku);
        }
        if !changes.is_empty() {
            self.write = Some(self.update(changes));
        }
    }

    /// A write giving rows figures from this run; `updated` counts the rows it
    /// writes for the first time in the run (a shared SKU's row may be written
    /// again, lower).
    ///
    /// Its rows are noted as written now, before it is handed out: it is, unless
    /// the site fails, and after that nothing more is written, so no later write
    /// is counted by them. So the write need not keep a copy of its rows.
    fn update(&mut self, changes: Vec<StockChange>) -> Write {
        let updated = self.ledger.note_written(&changes);
        Write {
            updated,
            changes,
            zeroed: 0,
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
        self.updated += write.updated;
        self.zeroed += write.zeroed;
    }

    /// Takes every stock row of the site, after [`Action::ReadAllSite`].
    ///
    /// A row whose SKU holds U+0000 is never zeroed: no row of such a SKU is written.
    pub fn handle_site_all(&mut self, rows: Vec<SiteStock>) {
        if !self.expect(Waiting::SiteAll) {
            return;
        }
        self.zeroing = Zeroing::Done;
        if let Some(check) = self.check.as_mut() {
            let outcome = check.take_site(&rows);
            if self.options.names {
                check.look_up_names();
            }
            self.updated += outcome.findings.stock_differs.len() as u64;
            self.unchanged += outcome.unchanged;
            self.kept_newer += outcome.kept_newer;
            outcome
                .not_on_site
                .iter()
                .for_each(|key| self.not_on_site.add(&key.sku));
            return;
        }
        self.zero_queue = rows
            .into_iter()
            .filter(|row| {
                !self.ledger.knows(&row.sku) && is_storable(&row.sku) && row.stock != Some(0.0)
            })
            .map(|row| StockChange::new(&row.key(), 0.0))
            .collect();
    }

    /// How long the driver may wait for the sink call it is about to make, in ms.
    ///
    /// `sinkTimeoutMs`, and within the deadline plus one `sinkTimeoutMs`: what was
    /// read before the deadline is still written after it, but a run with a
    /// deadline never lasts longer than `deadlineMs + sinkTimeoutMs`.
    pub fn site_call_timeout_ms(&self, now_ms: u64) -> u64 {
        let limit = self.options.sink_timeout_ms;
        match self.deadline_at {
            Some(deadline) => limit.min(deadline.saturating_add(limit).saturating_sub(now_ms)),
            None => limit,
        }
    }

    /// Takes the news that the sink call owed did not settle within
    /// [`site_call_timeout_ms`](Self::site_call_timeout_ms); the run ends as if it
    /// had failed. A write given up on may still commit later.
    pub fn handle_site_timeout(&mut self, after_ms: u64) {
        let call = match self.waiting {
            Waiting::SiteRead => "read()",
            Waiting::SiteWrite => "write()",
            Waiting::SiteAll => "readAll()",
            Waiting::Nothing => "a call",
        };
        self.handle_site_failure(&format!("{call} timed out after {after_ms} ms"));
    }

    /// Takes the news that the site failed to read or write; the run ends.
    ///
    /// The site's failure outranks a stop already under way (a deadline, a budget,
    /// a stop or a bad page, after which the rows read are still written): nothing
    /// more is written, and the report gives no cursor, since a resumed run would
    /// skip the rows this write left out.
    pub fn handle_site_failure(&mut self, message: &str) {
        self.waiting = Waiting::Nothing;
        self.write = None;
        let mut message = format!("the site database failed: {message}");
        if self.may_write_after_failure() {
            if let Some(earlier) = self.failure.take() {
                message = format!(
                    "{message}, while writing the rows read before the run stopped ({earlier})"
                );
            }
        }
        self.fail(SyncError::new(ErrorCode::SinkFailed, message));
    }
}

/// Keeps the last of a row's figures for each key: a row naming a warehouse
/// twice gives it two figures, and the later is kept by
/// [`SkuLedger::lowest`](crate::ledger::SkuLedger::lowest) only below the earlier.
/// So a batch compared names each key once.
fn keep_last_of_each_key(figures: &mut Vec<DesiredStock>) {
    // The figures of a row share its SKU; a row lists few warehouses.
    let mut i = 0;
    while i + 1 < figures.len() {
        let warehouse_id = figures[i].key.warehouse_id;
        if figures[i + 1..]
            .iter()
            .any(|later| later.key.warehouse_id == warehouse_id)
        {
            figures.remove(i);
        } else {
            i += 1;
        }
    }
}

fn key_of(change: &StockChange) -> StockKey {
    StockKey {
        sku: change.sku.clone(),
        warehouse_id: change.warehouse_id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::SyncOptions;

    fn engine(json: &str) -> SyncEngine {
        SyncEngine::new(SyncOptions::from_json(json).unwrap(), 1_000, 1)
    }

    #[test]
    fn a_sink_call_waits_its_timeout_and_no_longer_than_a_timeout_past_the_deadline() {
        let open = engine(r#"{"sinkTimeoutMs": 500}"#);
        assert_eq!(open.site_call_timeout_ms(1_000_000), 500);
        let bounded = engine(r#"{"sinkTimeoutMs": 500, "deadlineMs": 2000}"#);
        assert_eq!(bounded.site_call_timeout_ms(1_000), 500);
        // The deadline is at 3 000: calls after it share one timeout.
        assert_eq!(bounded.site_call_timeout_ms(3_200), 300);
        assert_eq!(bounded.site_call_timeout_ms(9_000), 0);
    }

    #[test]
    fn a_sink_call_that_timed_out_ends_the_run_with_sink_failed() {
        let mut engine = engine(r#"{"apiUrl": "http://127.0.0.1:9/v1"}"#);
        let Action::Fetch(request) = engine.poll(1_000) else {
            panic!("a first request")
        };
        engine.handle_response(
            request.id,
            1_010,
            crate::request::HttpResponse {
                status: 200,
                retry_after: None,
                body:
                    r#"{"next_page_url":null,"data":[{"id":1,"sku":"a","quantity":3,"reserve":0}]}"#
                        .into(),
            },
        );
        assert!(matches!(engine.poll(1_020), Action::ReadSite(_)));
        engine.handle_site_timeout(500);
        let Action::Done(report) = engine.poll(1_600) else {
            panic!("the run ends")
        };
        let error = report.error.unwrap();
        assert_eq!(error.code, ErrorCode::SinkFailed);
        assert!(
            error.message.contains("read() timed out after 500 ms"),
            "{}",
            error.message
        );
        assert!(!report.complete && report.cursor.is_none());
    }
}
