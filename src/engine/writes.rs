//! Writes: comparing batches with the site, restoring ambiguous SKUs, zeroing.

use super::{SyncEngine, Waiting, Write, Zeroing};
use crate::diff::{diff, SiteStock, StockChange};
use crate::engine::Action;
use crate::error::{ErrorCode, SyncError};

impl SyncEngine {
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
    pub(super) fn may_write_after_failure(&self) -> bool {
        let code = self.failure.as_ref().map(|f| f.code);
        !matches!(
            code,
            Some(ErrorCode::SinkFailed | ErrorCode::Internal | ErrorCode::UnknownWarehouse)
        ) && self.warehouses.all_found()
    }

    /// Takes the site's rows for the keys of the last [`Action::ReadSite`].
    pub fn handle_site_stock(&mut self, rows: Vec<SiteStock>) {
        if !self.expect(Waiting::SiteRead) {
            return;
        }
        let batch = std::mem::take(&mut self.comparing);
        let outcome = diff(&batch, &rows);
        self.unchanged += outcome.unchanged;
        self.kept_newer += outcome.kept_newer;
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
}
