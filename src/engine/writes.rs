//! Writes: admitting rows by the SKU rules, comparing batches with the site,
//! zeroing.

use std::collections::HashMap;

use super::{SyncEngine, Waiting, Write, Zeroing};
use crate::diff::{diff, SiteStock, StockChange};
use crate::engine::Action;
use crate::error::{ErrorCode, SyncError};
use crate::ledger::{is_storable, Admission};
use crate::page::OfferStock;

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
    pub(super) fn take_row(
        &mut self,
        row: &OfferStock,
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
        let sku = row.sku.as_deref().unwrap_or_default();
        let figures = self.availability.figures(row, sku, observed_at)?;
        for figure in self.ledger.lowest(figures) {
            if shared {
                self.pending.retain(|queued| queued.key != figure.key);
            }
            self.pending.push(figure);
        }
        Ok(true)
    }

    /// Drops the changes that would raise a row of a SKU the pass applied in an
    /// earlier run, counting each as unchanged.
    fn keep_lower(&mut self, changes: &mut Vec<StockChange>, rows: &[SiteStock]) {
        if !self.ledger.resumed_a_pass() || !changes.iter().any(|c| self.ledger.lower_only(&c.sku))
        {
            return;
        }
        let current: HashMap<(&str, Option<u64>), Option<f64>> = rows
            .iter()
            .map(|row| ((row.sku.as_str(), row.warehouse_id), row.stock))
            .collect();
        let before = changes.len();
        changes.retain(|change| {
            if !self.ledger.lower_only(&change.sku) {
                return true;
            }
            let have = current
                .get(&(change.sku.as_str(), change.warehouse_id))
                .copied()
                .flatten();
            match (have, change.stock) {
                (Some(have), Some(want)) => want < have,
                _ => true,
            }
        });
        self.unchanged += (before - changes.len()) as u64;
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
        let mut outcome = diff(&batch, &rows);
        self.keep_lower(&mut outcome.changes, &rows);
        self.unchanged += outcome.unchanged;
        self.kept_newer += outcome.kept_newer;
        for key in &outcome.not_on_site {
            self.not_on_site.add(&key.sku);
        }
        if !outcome.changes.is_empty() {
            self.write = Some(Write {
                updated: outcome.changes.len() as u64,
                changes: outcome.changes,
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
    pub fn handle_site_failure(&mut self, message: &str) {
        self.waiting = Waiting::Nothing;
        self.write = None;
        self.fail(SyncError::new(
            ErrorCode::SinkFailed,
            format!("the site database failed: {message}"),
        ));
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
