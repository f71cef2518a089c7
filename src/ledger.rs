//! The SKU rules: offers read twice, offers without a SKU, SKUs that cannot be
//! stored, and SKUs on two offers.
//!
//! # A SKU on several offers
//!
//! The site keeps one row per SKU (per SKU and warehouse in per-warehouse mode), so
//! when KeyCRM has several offers with one SKU the site cannot tell which figure is
//! meant. The row gets the **smallest** figure among those offers, per key: a figure
//! KeyCRM really held, and the one that cannot oversell. The SKU is still reported
//! as a duplicate.
//!
//! The rule depends only on the offers a scan reads, not on what the site held
//! before, so a complete scan leaves the same rows whatever earlier, interrupted
//! runs wrote. Within a scan, the second offer may come pages after the first: its
//! figure is queued only if it is smaller, giving the smallest so far. The first
//! one's figure is written with its page only when it lowers the row (or the row
//! has none); one that would raise the row waits for the end of the run and is
//! then written only if it is still the smallest (see the engine's `writes`
//! module), so the site never shows the larger figure and a second scan of an
//! unchanged catalogue writes nothing. A warehouse listed by only some of the
//! offers gets the smallest among those that list it.
//!
//! On a site that keeps when each figure was observed (`observedColumn`), where the
//! newest observation wins, a smallest figure written later in the scan carries
//! the newest observation among the figures it was chosen from, its own or an
//! earlier offer's: the smallest is drawn from all of them and is as fresh as the
//! freshest. Otherwise a page answered late (a retry) could write the larger figure
//! with a later time than the page carrying the smaller one, and the smaller one
//! would be refused as older.
//!
//! # A pass over several runs
//!
//! A scan that stops early (a deadline, a budget, a Worker's slice) reports a
//! [`ScanCursor`](crate::pagination::ScanCursor), and the next run resumes the
//! *pass* from it. The runs before the cursor read offers the resumed run does not
//! see, so the cursor carries the SKUs the pass applied so far ([`SkuHashes`]) and
//! the resumed run's ledger starts from them ([`SkuLedger::resumed`]). An offer of
//! the resumed run whose SKU the pass applied earlier gets, for each key, the
//! smaller of the site row's current figure and its own: the row holds what the
//! pass wrote for the earlier offer (or a newer figure a webhook wrote, also one
//! KeyCRM held). A row with no figure (NULL) gets the offer's. Further offers of
//! that SKU in the same run follow the same rule. So the pass leaves the smallest
//! figure, as one run over the whole catalogue would, wherever its runs ended.
//!
//! Such an offer is reported as a duplicate when it comes after the last offer the
//! cursor says was applied (KeyCRM lists offers by ascending id). Offers at or
//! before it are ones the resumed run reads again (it overlaps the previous run by
//! a page): their figures follow the rule above, so a figure that went *up* since
//! waits for the next pass, but they are not reported. A cursor that does not name
//! the last offer applied reports none of them.
//!
//! Two SKUs with the same 64-bit hash (about 3 × 10⁻¹⁰ for a pass of 100 000
//! SKUs) only make a row take the smaller of its current figure and the new one.
//! A cursor without SKUs (from an earlier version) knows nothing: an offer before
//! it that shares its SKU with one after it is not noticed, and that row holds the
//! later figure until the next pass.
//!
//! # SKUs that cannot be stored
//!
//! A SKU containing U+0000 (NUL) is skipped and reported by offer id, never written:
//! PostgreSQL's text types cannot hold that character and refuse the whole batch
//! that carries it, so one such SKU would keep every other row of its batch stale.
//! Other control characters are ordinary characters to every bundled database, so
//! such SKUs are matched and written as they are.

mod sku_hashes;
mod sku_map;

use std::num::NonZeroU64;

use crate::availability::{differs, DesiredStock};
use crate::diff::StockChange;
use crate::id_set::IdSet;
use crate::pagination::ScanCursor;

pub use sku_hashes::{sku_hash, SkuHashes, MAX_SKU_HASHES};
use sku_map::{Place, SkuMap};

/// What to do with a row, by its offer id and SKU.
#[derive(Debug, PartialEq)]
pub enum Admission {
    /// First sight of this offer and of its SKU: compute and write its figures.
    Accept,
    /// First sight of this offer, whose SKU another offer has: compute its figures
    /// and write those below the smallest so far ([`SkuLedger::lowest`]).
    Shared,
    /// First sight in this run of an offer whose SKU the pass applied in an earlier
    /// run: compute its figures, and write each only below the site row's current
    /// figure ([`SkuLedger::lower_only`]).
    SeenEarlier,
    /// The offer was read before (pages shift while a scan runs): ignore it.
    AlreadyRead,
    /// The offer has no SKU: skip it, counted.
    WithoutSku,
    /// The offer's SKU cannot be stored (it contains U+0000): skip it, reported.
    InvalidSku,
}

/// What the ledger knows of one SKU.
#[derive(Debug, Default)]
struct SkuState {
    /// Offers with this SKU read so far.
    offers: u32,
    /// The pass applied this SKU in an earlier run: figures are written only below
    /// the site's.
    earlier: bool,
    /// Listed among the duplicates.
    reported: bool,
    /// The SKU's first key, and where its others (by warehouse) start in
    /// [`MoreKeys`]. A list, not a map: a SKU has one key, or one per warehouse,
    /// and a few are searched faster than hashed; the first one kept here needs
    /// no room elsewhere.
    first: Option<KeyState>,
    more: Option<usize>,
}

/// The keys of every SKU after its first, in one list, each with where the
/// SKU's next one is: a SKU with a key per warehouse needs no allocation of its
/// own.
#[derive(Debug, Default)]
struct MoreKeys(Vec<(KeyState, Option<usize>)>);

/// What the ledger knows of one key of a SKU: its row, or its row for one
/// warehouse.
///
/// Kept small: the ledger's table holds one in each SKU's entry, and moves them
/// all each time it grows.
#[derive(Debug, Clone, Copy)]
struct KeyState {
    warehouse_id: Option<u64>,
    /// The smallest figure so far; NaN until one is read (a figure is never NaN).
    lowest: f64,
    /// The newest observation among the figures read for the key.
    newest: u64,
    /// The write (counted from 1) that first gave the key's row a figure.
    written_by: Option<NonZeroU64>,
}

impl SkuState {
    /// The key of this warehouse, if met; `more` holds the keys after the first.
    fn key<'a>(&'a self, more: &'a MoreKeys, warehouse_id: Option<u64>) -> Option<&'a KeyState> {
        let first = self.first.as_ref()?;
        if first.warehouse_id == warehouse_id {
            return Some(first);
        }
        more.find(self.more, warehouse_id).map(|at| &more.0[at].0)
    }

    /// The key of this warehouse, added if new; `more` holds the keys after the
    /// first.
    fn key_mut<'a>(
        &'a mut self,
        more: &'a mut MoreKeys,
        warehouse_id: Option<u64>,
    ) -> &'a mut KeyState {
        let new = KeyState {
            warehouse_id,
            lowest: f64::NAN,
            newest: 0,
            written_by: None,
        };
        let first = self.first.get_or_insert(new);
        if first.warehouse_id == warehouse_id {
            return first;
        }
        let at = match more.find(self.more, warehouse_id) {
            Some(at) => at,
            None => {
                more.0.push((new, self.more));
                let at = more.0.len() - 1;
                self.more = Some(at);
                at
            }
        };
        &mut more.0[at].0
    }
}

impl MoreKeys {
    /// Where the key of this warehouse is among the keys linked from `start`.
    fn find(&self, start: Option<usize>, warehouse_id: Option<u64>) -> Option<usize> {
        let mut next = start;
        while let Some(at) = next {
            let (key, after) = &self.0[at];
            if key.warehouse_id == warehouse_id {
                return Some(at);
            }
            next = *after;
        }
        None
    }
}

/// Every offer and SKU a scan has met.
#[derive(Debug, Default)]
pub struct SkuLedger {
    offers: IdSet,
    skus: SkuMap<SkuState>,
    more_keys: MoreKeys,
    /// Where the SKU of the offer admitted last is: its figures are asked for
    /// next ([`lowest`](Self::lowest)).
    admitted: Option<Place>,
    duplicates: Vec<String>,
    without_sku: u64,
    invalid: Vec<u64>,
    /// The SKUs the pass applied in earlier runs.
    earlier: SkuHashes,
    /// The last offer the earlier runs applied, if the cursor says.
    read_up_to: Option<u64>,
    /// Writes noted so far.
    writes: u64,
}

/// Whether a SKU can be stored in every bundled database: it holds no U+0000.
pub fn is_storable(sku: &str) -> bool {
    !sku.contains('\0')
}

impl SkuLedger {
    /// An empty ledger.
    pub fn new() -> Self {
        SkuLedger::default()
    }

    /// A ledger for a run that resumes a pass from `cursor`: it knows the SKUs the
    /// pass applied before (see the [module docs](self)).
    pub fn resumed(cursor: &ScanCursor) -> Self {
        SkuLedger {
            earlier: cursor.skus.clone(),
            read_up_to: cursor.last_offer_id,
            ..SkuLedger::default()
        }
    }

    /// Decides what to do with an offer's row.
    pub fn admit(&mut self, offer_id: u64, sku: Option<&str>) -> Admission {
        if !self.offers.insert(offer_id) {
            return Admission::AlreadyRead;
        }
        let Some(sku) = sku else {
            self.without_sku += 1;
            return Admission::WithoutSku;
        };
        if !is_storable(sku) {
            self.invalid.push(offer_id);
            return Admission::InvalidSku;
        }
        let (state, place, new) = self.skus.get_or_insert_with(sku, SkuState::default);
        self.admitted = Some(place);
        state.offers += 1;
        if !new {
            if !state.reported {
                state.reported = true;
                self.duplicates.push(sku.to_string());
            }
            return Admission::Shared;
        }
        if !self.earlier.is_empty() && self.earlier.contains_sku(sku) {
            state.earlier = true;
            // Offers up to the last one applied are read again, not new.
            if self.read_up_to.is_some_and(|last| offer_id > last) {
                state.reported = true;
                self.duplicates.push(sku.to_string());
            }
            Admission::SeenEarlier
        } else {
            Admission::Accept
        }
    }

    /// Whether figures of this SKU are written only below the site row's current
    /// figure: the pass applied the SKU in an earlier run.
    pub fn lower_only(&self, sku: &str) -> bool {
        self.skus.get(sku).is_some_and(|state| state.earlier)
    }

    /// Whether the pass applied SKUs in earlier runs.
    pub fn resumed_a_pass(&self) -> bool {
        !self.earlier.is_empty()
    }

    /// The SKUs the pass has applied: those of earlier runs and this run's.
    pub fn pass_skus(&self) -> SkuHashes {
        self.earlier.union(self.skus.skus().map(sku_hash))
    }

    /// Takes the figures of the offer admitted last (all of its SKU) and keeps in
    /// `figures` those to write: the ones below the smallest figure recorded for their key
    /// (every one for a SKU's first offer), each recorded as the new smallest.
    ///
    /// A figure kept carries the newest observation time among all the figures
    /// read for its key, not only its own: the smallest figure is a conclusion drawn
    /// from all of them, as fresh as the freshest (see the [module docs](self)).
    pub fn lowest(&mut self, figures: &mut Vec<DesiredStock>) {
        let Some(sku) = figures.first().map(|figure| figure.key.sku.as_str()) else {
            return;
        };
        let Some(state) = self.skus.get_mut(sku, self.admitted) else {
            return;
        };
        figures.retain_mut(|figure| {
            debug_assert!(!figure.stock.is_nan(), "a figure is never NaN");
            let key = state.key_mut(&mut self.more_keys, figure.key.warehouse_id);
            if key.lowest.is_nan() {
                key.lowest = figure.stock;
                key.newest = figure.observed_at;
                return true;
            }
            key.newest = key.newest.max(figure.observed_at);
            if !differs(key.lowest, figure.stock) || key.lowest < figure.stock {
                return false;
            }
            key.lowest = figure.stock;
            figure.observed_at = key.newest;
            true
        });
    }

    /// The smallest figure read for this key (a SKU, and a warehouse for a
    /// per-warehouse row) so far in the run, if any.
    pub fn smallest(&self, sku: &str, warehouse_id: Option<u64>) -> Option<f64> {
        let state = self.skus.get(sku)?;
        let low = state.key(&self.more_keys, warehouse_id)?.lowest;
        (!low.is_nan()).then_some(low)
    }

    /// Notes that a write of the run gives the rows of `changes` figures, and
    /// returns how many of them no earlier write gave one, so that the report
    /// counts a row once however often it was written (a shared SKU's row may be
    /// written again, lower).
    pub fn note_written(&mut self, changes: &[StockChange]) -> u64 {
        let write = NonZeroU64::MIN.saturating_add(self.writes);
        self.writes += 1;
        let mut first_time = 0;
        for change in changes {
            let Some(state) = self.skus.get_mut(&change.sku, None) else {
                first_time += 1;
                continue;
            };
            let key = state.key_mut(&mut self.more_keys, change.warehouse_id);
            match key.written_by {
                None => {
                    key.written_by = Some(write);
                    first_time += 1;
                }
                Some(by) if by == write => first_time += 1,
                Some(_) => {}
            }
        }
        first_time
    }

    /// Whether KeyCRM has this SKU (on one offer or several).
    pub fn knows(&self, sku: &str) -> bool {
        self.skus.get(sku).is_some()
    }

    /// Distinct offers read.
    pub fn offers(&self) -> u64 {
        self.offers.len() as u64
    }

    /// Offers skipped for having no SKU.
    pub fn without_sku(&self) -> u64 {
        self.without_sku
    }

    /// SKUs found on more than one offer, in the order they were found.
    pub fn duplicates(&self) -> &[String] {
        &self.duplicates
    }

    /// Offers skipped because their SKU cannot be stored, by id, in the order met.
    pub fn invalid(&self) -> &[u64] {
        &self.invalid
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::availability::StockKey;

    fn figure(sku: &str, warehouse_id: Option<u64>, stock: f64) -> DesiredStock {
        DesiredStock {
            key: StockKey {
                sku: sku.into(),
                warehouse_id,
            },
            stock,
            observed_at: 0,
        }
    }

    /// The figures [`SkuLedger::lowest`] keeps.
    fn lowest(ledger: &mut SkuLedger, mut figures: Vec<DesiredStock>) -> Vec<DesiredStock> {
        ledger.lowest(&mut figures);
        figures
    }

    fn stocks(figures: Vec<DesiredStock>) -> Vec<(Option<u64>, f64)> {
        figures
            .into_iter()
            .map(|f| (f.key.warehouse_id, f.stock))
            .collect()
    }

    #[test]
    fn offers_read_twice_count_once() {
        let mut ledger = SkuLedger::new();
        assert_eq!(ledger.admit(1, Some("a")), Admission::Accept);
        assert_eq!(ledger.admit(1, Some("a")), Admission::AlreadyRead);
        assert_eq!(ledger.admit(2, None), Admission::WithoutSku);
        assert_eq!(ledger.admit(2, None), Admission::AlreadyRead);
        assert_eq!((ledger.offers(), ledger.without_sku()), (2, 1));
        assert!(ledger.knows("a") && !ledger.knows("b"));
        assert!(ledger.duplicates().is_empty());
    }

    #[test]
    fn a_shared_sku_keeps_the_smallest_figure_per_key() {
        let mut ledger = SkuLedger::new();
        assert_eq!(ledger.admit(1, Some("a")), Admission::Accept);
        let first = vec![figure("a", Some(1), 4.0), figure("a", Some(2), 9.0)];
        assert_eq!(
            stocks(lowest(&mut ledger, first)),
            [(Some(1), 4.0), (Some(2), 9.0)]
        );
        assert_eq!(ledger.admit(7, Some("a")), Admission::Shared);
        let second = vec![
            figure("a", Some(1), 6.0),
            figure("a", Some(2), 2.0),
            figure("a", Some(3), 5.0),
        ];
        assert_eq!(
            stocks(lowest(&mut ledger, second)),
            [(Some(2), 2.0), (Some(3), 5.0)]
        );
        assert_eq!(ledger.admit(8, Some("a")), Admission::Shared);
        let third = vec![figure("a", Some(1), 4.0), figure("a", Some(2), 1.0)];
        assert_eq!(stocks(lowest(&mut ledger, third)), [(Some(2), 1.0)]);
        assert_eq!(ledger.duplicates(), ["a"], "listed once");
    }

    #[test]
    fn the_keys_of_several_skus_are_kept_apart() {
        let mut ledger = SkuLedger::new();
        for (offer, sku) in [(1, "a"), (2, "b")] {
            ledger.admit(offer, Some(sku));
            let figures = (1..=3).map(|w| figure(sku, Some(w), 4.0 + w as f64));
            assert_eq!(lowest(&mut ledger, figures.collect()).len(), 3);
        }
        assert_eq!(ledger.admit(3, Some("a")), Admission::Shared);
        let again = vec![figure("a", Some(3), 1.0), figure("a", Some(2), 9.0)];
        assert_eq!(stocks(lowest(&mut ledger, again)), [(Some(3), 1.0)]);
        let key = |sku: &str, warehouse_id| StockKey {
            sku: sku.into(),
            warehouse_id: Some(warehouse_id),
        };
        assert_eq!(ledger.smallest("a", Some(3)), Some(1.0));
        assert_eq!(ledger.smallest("b", Some(3)), Some(7.0));
        assert_eq!(ledger.smallest("a", Some(2)), Some(6.0));
        assert_eq!(ledger.smallest("a", Some(4)), None);
        let change = |sku, warehouse_id| StockChange::new(&key(sku, warehouse_id), 1.0);
        let first = [
            change("a", 3),
            change("b", 3),
            change("b", 2),
            change("c", 1),
        ];
        assert_eq!(ledger.note_written(&first), 4);
        assert_eq!(ledger.note_written(&[change("a", 3), change("a", 2)]), 1);
    }

    #[test]
    fn the_smallest_does_not_depend_on_the_order_offers_come_in() {
        let figures = [3.0, 8.0, 0.5, 2.0];
        let mut results = Vec::new();
        for rotation in 0..figures.len() {
            let mut ledger = SkuLedger::new();
            let mut last = None;
            for (i, stock) in figures.iter().cycle().skip(rotation).take(4).enumerate() {
                ledger.admit(i as u64, Some("a"));
                for f in lowest(&mut ledger, vec![figure("a", None, *stock)]) {
                    last = Some(f.stock);
                }
            }
            results.push(last);
        }
        assert_eq!(results, [Some(0.5); 4]);
    }

    #[test]
    fn a_resumed_ledger_knows_the_skus_of_the_pass() {
        let cursor = |last_offer_id| ScanCursor {
            page: 3,
            total: None,
            last_offer_id,
            skus: SkuHashes::from_hashes(vec![sku_hash("a"), sku_hash("b")]),
            census: None,
        };
        let mut ledger = SkuLedger::resumed(&cursor(Some(100)));
        assert_eq!(ledger.admit(90, Some("a")), Admission::SeenEarlier);
        assert_eq!(ledger.admit(120, Some("b")), Admission::SeenEarlier);
        assert_eq!(ledger.admit(130, Some("c")), Admission::Accept);
        assert_eq!(ledger.admit(140, Some("a")), Admission::Shared);
        assert!(ledger.lower_only("a") && ledger.lower_only("b") && !ledger.lower_only("c"));
        assert_eq!(
            ledger.duplicates(),
            ["b", "a"],
            "offer 90 was read before; 120 and 140 are new"
        );
        let all = ledger.pass_skus();
        assert_eq!(all.len(), 3);
        assert!(all.contains_sku("c"));

        let mut unplaced = SkuLedger::resumed(&cursor(None));
        assert_eq!(unplaced.admit(120, Some("b")), Admission::SeenEarlier);
        assert!(
            unplaced.duplicates().is_empty(),
            "cannot tell: not reported"
        );
        assert!(!SkuLedger::new().resumed_a_pass() && unplaced.resumed_a_pass());
    }

    #[test]
    fn a_sku_with_nul_is_skipped_and_reported() {
        let mut ledger = SkuLedger::new();
        assert_eq!(ledger.admit(4, Some("a\0b")), Admission::InvalidSku);
        assert_eq!(ledger.admit(4, Some("a\0b")), Admission::AlreadyRead);
        assert_eq!(ledger.admit(5, Some("\0")), Admission::InvalidSku);
        assert_eq!(ledger.admit(6, Some("tab\there")), Admission::Accept);
        assert_eq!(ledger.invalid(), [4, 5]);
        assert_eq!(ledger.offers(), 3);
        assert!(!ledger.knows("a\0b"));
        assert!(is_storable("ok\u{1}") && !is_storable("x\0"));
    }
}
