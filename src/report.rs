//! What a run tells its caller: the final report and progress along the way.

use serde::Serialize;

use crate::check::CheckFindings;
use crate::error::SyncError;
use crate::pagination::ScanCursor;
use crate::warehouses::WarehouseSeen;

/// Most SKUs listed in [`NotOnSite::sample`].
pub const NOT_ON_SITE_SAMPLE: usize = 20;

/// The outcome of a run. Serialized in camelCase; this is what `--json` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncReport {
    /// Every offer was read and every figure written; false on any error. A scan
    /// is complete only when it can show it saw the catalogue: no page repeating
    /// offers already read, no envelope contradicting itself, and at least as many
    /// distinct offers as KeyCRM's last `total` (see [`crate::pagination`]).
    pub complete: bool,
    /// Nothing was written; `updated` and `zeroed` say what would have been.
    pub dry_run: bool,
    /// Distinct offers (rows) read from KeyCRM.
    pub offers: u64,
    /// Stock-list pages read.
    pub pages: u64,
    /// Site rows whose figure changed, each counted once however often the run
    /// wrote it (a shared SKU's row may be lowered again).
    pub updated: u64,
    /// Site rows that already had the right figure.
    pub unchanged: u64,
    /// Site rows left alone because their figure was observed after this run's
    /// (a webhook that came while the page was on its way).
    pub kept_newer: u64,
    /// Site rows KeyCRM lacks that were set to 0 (`zeroMissing` only).
    pub zeroed: u64,
    /// KeyCRM rows the site has no row for.
    pub not_on_site: NotOnSite,
    /// Offers skipped because they have no SKU.
    pub without_sku: u64,
    /// SKUs found on more than one offer; each of their rows holds the smallest
    /// figure among those offers (see [`crate::ledger`]).
    pub duplicate_skus: Vec<String>,
    /// Offers skipped because their SKU contains U+0000, which a database cannot
    /// store; by offer id, as such a SKU does not print. Nothing was written for
    /// them, and the other rows were.
    pub invalid_skus: Vec<u64>,
    /// Warehouses seen in KeyCRM's rows (only when a breakdown was read).
    pub warehouses: Vec<WarehouseSeen>,
    /// HTTP requests made, retries included.
    pub requests: u64,
    /// Requests repeated after a 429, 5xx, timeout, network error or bad page, or
    /// because a page repeated offers already read; counted when the repeat starts,
    /// so a retry the run ended before making is not counted. A message "gave up
    /// after N retries" counts the same way, for its page.
    pub retries: u64,
    /// 429 answers seen.
    pub rate_limited: u64,
    /// Requests plus sink calls, the unit of `maxSubrequests`.
    pub subrequests: u64,
    /// Wall time of the run in ms.
    pub duration_ms: u64,
    /// Why the run is not complete.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<SyncError>,
    /// A complete check's findings (see [`crate::check`]); absent for a sync and
    /// for a check that did not complete.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub findings: Option<CheckFindings>,
    /// Where the next catch-up of changed orders starts (`ordersUpdatedSince`, Unix
    /// ms): the start of this run less [`CHECK_OVERLAP_MS`](crate::catchup::CHECK_OVERLAP_MS).
    /// Given by a complete catch-up, and by a complete scan of the whole catalogue
    /// (not resumed), which saw every change before it started; absent otherwise,
    /// so the caller keeps its last check time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_orders_updated_since: Option<u64>,
    /// Where an unfinished whole-catalogue scan can resume (`resumeFrom`); absent
    /// after a complete scan, so the next run starts afresh.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<ScanCursor>,
}

/// KeyCRM rows the site has no row for: how many, and a few of them.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct NotOnSite {
    /// How many keys.
    pub count: u64,
    /// Up to twenty of their SKUs, in the order met.
    pub sample: Vec<String>,
}

impl NotOnSite {
    /// Counts a SKU, keeping it in the sample while there is room.
    pub fn add(&mut self, sku: &str) {
        self.count += 1;
        if self.sample.len() < NOT_ON_SITE_SAMPLE && !self.sample.iter().any(|s| s == sku) {
            self.sample.push(sku.to_string());
        }
    }
}

/// How far a run has got, for progress bars.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    /// Pages read.
    pub pages: u64,
    /// Pages still to read, as far as KeyCRM has said.
    pub pages_left: u64,
    /// Distinct offers read.
    pub offers: u64,
    /// Site rows changed so far.
    pub updated: u64,
    /// Requests made.
    pub requests: u64,
    /// Estimated ms to the end of the scan at the paced rate.
    pub eta_ms: u64,
    /// A request that failed and waits to be repeated; absent when none does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryNotice>,
}

/// A failed request about to be repeated, so that people watching a run learn of
/// it at once rather than after the last retry.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RetryNotice {
    /// Failed attempts of the run so far, this one included: a new number is a new
    /// failure.
    pub failure: u64,
    /// What was asked for, e.g. "page 3".
    pub request: String,
    /// Which retry of that request comes next (1 for the first).
    pub retry: u32,
    /// The most retries it gets after failures of this kind.
    pub max_retries: u32,
    /// Ms from the failure to the retry's start.
    pub wait_ms: u64,
    /// Why it failed, e.g. "KeyCRM answered HTTP 503 for /v1/offers/stocks".
    pub reason: String,
}
