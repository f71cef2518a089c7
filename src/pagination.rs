//! Which page comes next, and when a scan is over.
//!
//! KeyCRM pages by offset (`page` × 50), so offers deleted during a scan shift the
//! ones after them to earlier pages, where a naive scan never looks. The plan watches
//! `total`: when it drops by `d`, up to `d` unread offers may have moved back, so it
//! steps back `ceil(d / per_page)` pages and reads forward again. Offers read twice
//! are dropped by the engine, which knows their ids.
//!
//! Pages are *processed* strictly in order, but once KeyCRM has announced how many
//! there are, later ones may be *requested* ahead ([`PagePlan::requestable_until`]),
//! so that slow answers overlap. Every step back, every re-read and every new segment
//! starts a new [`epoch`](PagePlan::epoch); answers to requests of an older epoch are
//! dropped.
//!
//! # When a segment is complete
//!
//! A segment (the whole catalogue, or one filter chunk) ends only when the plan can
//! show it saw what KeyCRM listed; otherwise the scan ends with `BAD_PAGE`, the report
//! says `complete: false`, and nothing is zeroed.
//!
//! - **Repeated pages.** A page past the furthest one read whose offers were all read
//!   before in the segment, when the plan did not step back, is not taken: the same
//!   page is asked for again ([`PageStep::Reread`]). The third such answer in a row
//!   ends the scan. A repeated page never ends a segment.
//! - **Contradictions.** An envelope that contradicts itself or the request ends the
//!   scan at once, naming what contradicted ([`PagePlan::check`]).
//! - **The count.** When a segment ends, the distinct offers it read are weighed
//!   against the last `total` KeyCRM announced: offers deleted during the scan lower
//!   it (and were read before they went, or the plan stepped back for them), offers
//!   added raise it. Fewer distinct offers than `total` means some were never seen.
//!   A resumed scan counts the positions before the first page it read as seen by the
//!   runs before it. Without any `total`, only the other rules apply.
//! - **The census.** The count above cannot see a deletion before the page being
//!   read when an addition at the end keeps `total` unchanged: an unread offer moves
//!   onto a page already read, and the offer added stands in for it. So a
//!   whole-catalogue scan from page 1 first takes a census: once page 1 says how
//!   many pages there are, it asks for the last one alone ([`PagePlan::probe_page`])
//!   and takes its largest id (the *ceiling*) and its `total`, what KeyCRM had at
//!   that moment. Then it starts over from page 1, keeping the last page's answer
//!   as that page's ([`PagePlan::take_probe`]), so that every answer it counts was
//!   asked for after the census. Offers are listed by ascending id and new offers
//!   get larger ids, so an offer read since with an id up to the ceiling existed at
//!   the census (none comes back once deleted); when at least the census's `total`
//!   of them were read, every offer KeyCRM had then was read, whatever changed
//!   meanwhile. Otherwise the scan ends with [`ErrorCode::CatalogueChanged`]. A
//!   listing not in id order fails the count (old offers above the last page's
//!   largest id look like additions), which is safe; so does one without `total`
//!   or `last_page`, a last page that keeps moving, and a cursor without a census.
//!   A pass over several runs carries the census in its [`ScanCursor`], with how
//!   many offers up to which id the runs before counted; later runs count only
//!   above that id, so none counts twice. A last page holding fewer offers than its
//!   own `total` says gives no census, and the count against `total` judges the
//!   scan.
//! - **Bounds.** A segment reads at most `2 × announced pages + 10` pages (re-reads
//!   after deletions included), where the announced pages are the largest `last_page`
//!   (or `total / per_page`) seen; and never more than 20 000 pages (1 000 000 offers at
//!   50 a page), which also bounds a segment that announces no size at all. A `total`
//!   or `last_page` past that bound is refused as absurd.

use serde::{Deserialize, Serialize};

use crate::error::{ErrorCode, SyncError};
use crate::id_set::IdSet;
use crate::ledger::SkuHashes;
use crate::page::StockPage;
use crate::request::{OfferFilter, StockQuery, PAGE_LIMIT};

/// Answers in a row that may repeat offers already read (each one asked for again)
/// before the scan calls the pagination broken.
const MAX_STALE_PAGES: u32 = 3;

/// The most pages one segment reads, whatever KeyCRM announces: 1 000 000 offers at
/// 50 a page, about five and a half hours at KeyCRM's 60 requests a minute.
pub const MAX_PAGES: u64 = 20_000;

/// The fields of a [`ScanCursor`] as JSON has them, in order.
pub const CURSOR_FIELDS: &[&str] = &["page", "total", "lastOfferId", "skus", "census"];

/// The fields of a [`Census`] as JSON has them, in order.
pub const CENSUS_FIELDS: &[&str] = &["ceiling", "total", "counted", "countedTo"];

/// Where an unfinished whole-catalogue scan stopped, to resume from in a later run.
///
/// A scan that spans runs (a *pass*) hands each run the cursor the previous one
/// reported. Besides the place, the cursor carries the SKUs the pass has applied so
/// far ([`skus`](Self::skus)), so that a resumed run applies the
/// [SKU rules](crate::ledger) as one run reading the whole catalogue would.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScanCursor {
    /// The first page not yet applied.
    pub page: u64,
    /// KeyCRM's `total` when the scan stopped, to notice offers deleted meanwhile.
    #[serde(default)]
    pub total: Option<u64>,
    /// The id of the last offer applied, to find the place again when deletions
    /// and additions left `total` unchanged or larger.
    #[serde(default)]
    pub last_offer_id: Option<u64>,
    /// The SKUs the pass applied before this cursor, as 64-bit hashes in their text
    /// form ([`SkuHashes`]; about 10.7 KB per 1 000 SKUs). Absent or `null` (a
    /// cursor of an earlier version): nothing is known, and an offer before the
    /// cursor that shares its SKU with one after it is not noticed. Text not in the
    /// form is refused ([`ErrorCode::InvalidConfig`] naming `resumeFrom`).
    #[serde(default, skip_serializing_if = "SkuHashes::is_empty")]
    pub skus: SkuHashes,
    /// The pass's census: what KeyCRM had when it started, and the offers of it the
    /// runs before this cursor counted (see [the module docs](self)). Absent (a
    /// cursor of an earlier version): the resumed pass cannot show it saw every
    /// offer, and ends with [`ErrorCode::CatalogueChanged`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub census: Option<Census>,
}

/// What KeyCRM had when a whole-catalogue scan started, learned from its last page,
/// and how many of those offers the scan has read since (see the
/// [module docs](self)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Census {
    /// The largest offer id then: every offer above it was added since.
    pub ceiling: u64,
    /// KeyCRM's `total` then.
    pub total: u64,
    /// Distinct offers with ids up to `counted_to` (and up to `ceiling`) read since
    /// by the runs before a cursor.
    #[serde(default)]
    pub counted: u64,
    /// The id up to which `counted` counts; later runs count only above it.
    #[serde(default)]
    pub counted_to: u64,
}

/// Where the plan stands on its census.
#[derive(Debug, Clone, PartialEq, Eq)]
enum CensusState {
    /// A filtered scan: the census does not apply.
    NotNeeded,
    /// Taken when page 1 is read.
    Pending,
    /// The last page is to be asked for (the probe), for the `tries`-th time.
    Wanted { page: u64, tries: u32 },
    /// Taken.
    Known(Census),
    /// Not taken and never will be (a cursor without one, a listing that
    /// announces no size): the scan cannot show it saw every offer.
    Unknown(&'static str),
}

/// Probes in a row whose answer is not the catalogue's last page before the scan
/// gives up with [`ErrorCode::CatalogueChanged`].
const MAX_PROBES: u32 = 3;

/// The pagination state of one scan: a list of segments (one per filter chunk, or a
/// single unfiltered one), each paged until its stop rule.
#[derive(Debug, Clone)]
pub struct PagePlan {
    segments: Vec<Option<OfferFilter>>,
    details: bool,
    segment: usize,
    page: u64,
    last_total: Option<u64>,
    furthest_page: u64,
    known_pages: u64,
    pages_in_segment: u64,
    stale_pages: u32,
    pages_read: u64,
    epoch: u64,
    /// The last offer id of the last page applied in order.
    last_id: Option<u64>,
    /// After a resume: the offer the previous run applied last, until it is found.
    anchor: Option<u64>,
    /// After a resume: the cursor resumed from, reported again while no page has
    /// been read.
    resumed_from: Option<ScanCursor>,
    /// Offer ids read in the current segment.
    seen: IdSet,
    /// The lowest page read in the current segment (above 1 only when resumed).
    lowest_page: u64,
    /// Rows per page, as KeyCRM last said.
    per_page: u64,
    /// Whether the one unfiltered segment ended with the evidence above, read from
    /// page 1.
    saw_catalogue: bool,
    census: CensusState,
    /// Offers read since the census, with ids in `(counted_to, ceiling]`.
    counted: IdSet,
    /// Whether a page listed offers out of id order.
    unordered: bool,
}

/// Where a page left the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageStep {
    /// Another page of the same segment follows.
    Next,
    /// Offers may have moved back; the plan stepped back to re-read.
    Rewound,
    /// The page repeated offers already read although the plan did not step back;
    /// the same page is asked for again.
    Reread,
    /// The segment ended; another one (or none) follows.
    SegmentDone,
}

impl PagePlan {
    /// A plan over the whole catalogue, or over the given filter chunks.
    pub fn new(filters: Vec<OfferFilter>, details: bool) -> Self {
        let whole = filters.is_empty();
        let segments = if whole {
            vec![None]
        } else {
            filters.into_iter().map(Some).collect()
        };
        PagePlan {
            segments,
            details,
            segment: 0,
            page: 1,
            last_total: None,
            furthest_page: 0,
            known_pages: 0,
            pages_in_segment: 0,
            stale_pages: 0,
            pages_read: 0,
            epoch: 0,
            last_id: None,
            anchor: None,
            resumed_from: None,
            seen: IdSet::new(),
            lowest_page: u64::MAX,
            per_page: PAGE_LIMIT,
            saw_catalogue: false,
            census: if whole {
                CensusState::Pending
            } else {
                CensusState::NotNeeded
            },
            counted: IdSet::new(),
            unordered: false,
        }
    }
    /// A plan with nothing to read: figures come from elsewhere (a webhook), or an
    /// order lookup decides the offers later.
    pub fn empty() -> Self {
        let mut plan = PagePlan::new(Vec::new(), false);
        plan.segments.clear();
        plan
    }

    /// A whole-catalogue plan that resumes where `cursor` stopped.
    ///
    /// Offers deleted meanwhile in front of the cursor move the rest back, so it
    /// re-reads one page before the cursor, and steps back further while that page
    /// starts after the offer the previous run applied last (offers are listed by
    /// ascending id; a page that is not is taken as it is) or when `total` dropped
    /// by more than a page. Offers read twice are harmless: they are written once.
    /// The cursor's SKUs are not the plan's business (see [`cursor`](Self::cursor)).
    pub fn resume(cursor: &ScanCursor, details: bool) -> Self {
        let mut plan = PagePlan::new(Vec::new(), details);
        plan.page = cursor.page.saturating_sub(1).max(1);
        plan.last_total = cursor.total;
        plan.anchor = cursor.last_offer_id;
        plan.resumed_from = Some(ScanCursor {
            skus: SkuHashes::new(),
            ..cursor.clone()
        });
        plan.census = match &cursor.census {
            Some(census) => CensusState::Known(census.clone()),
            None if plan.page == 1 => CensusState::Pending,
            None => CensusState::Unknown("it resumed from a cursor without a census"),
        };
        plan
    }

    /// Where to resume, if this is an unfinished whole-catalogue scan, without the
    /// pass's SKUs (the engine adds them). A resumed plan that has read no page
    /// gives back the cursor it resumed from, rather than one a page earlier that no
    /// longer knows the last offer applied.
    pub fn cursor(&self) -> Option<ScanCursor> {
        if self.is_done() || self.segments != [None] {
            return None;
        }
        if let Some(cursor) = self.resumed_from.as_ref().filter(|_| self.pages_read == 0) {
            return Some(cursor.clone());
        }
        let census = match &self.census {
            CensusState::Known(census) => {
                // Offers this run counted up to the last one applied are handed on;
                // the next run counts only above it, so none counts twice.
                let counted_to = self.last_id.unwrap_or(0).max(census.counted_to);
                let counted = self.counted.iter().filter(|&id| id <= counted_to).count();
                Some(Census {
                    counted: census.counted + counted as u64,
                    counted_to,
                    ..census.clone()
                })
            }
            CensusState::Unknown(_) => None,
            // No census yet: the next run starts afresh and takes one.
            _ => {
                return Some(ScanCursor {
                    page: 1,
                    total: None,
                    last_offer_id: None,
                    skus: SkuHashes::new(),
                    census: None,
                })
            }
        };
        Some(ScanCursor {
            page: self.page,
            total: self.last_total,
            last_offer_id: self.last_id,
            skus: SkuHashes::new(),
            census,
        })
    }

    /// The page to ask for to take the census (the catalogue's last page), while
    /// one is wanted: no other page is asked for meanwhile.
    pub fn probe_page(&self) -> Option<u64> {
        match self.census {
            CensusState::Wanted { page, .. } if !self.is_done() => Some(page),
            _ => None,
        }
    }

    /// Takes the answer to the [probe](Self::probe_page). Returns `true` when the
    /// census is taken: the plan then starts over from page 1 (only pages asked for
    /// after the census count), and the probe's answer may be taken as the answer
    /// to its page, which it was asked for after the census too. Returns `false`
    /// when the answer was not the last page (the catalogue grew or shrank
    /// meanwhile): the last page it announces is asked for next.
    ///
    /// # Errors
    /// [`ErrorCode::BadPage`] when the envelope contradicts itself;
    /// [`ErrorCode::CatalogueChanged`] after three answers in a row that
    /// were not the last page.
    pub fn take_probe(&mut self, page: &StockPage) -> Result<bool, SyncError> {
        let CensusState::Wanted { page: asked, tries } = self.census else {
            return Ok(false);
        };
        if let Some(detail) = contradiction(asked, page) {
            return Err(SyncError::new(
                ErrorCode::BadPage,
                format!("the stock page contradicts itself: {detail}"),
            ));
        }
        let per_page = page.per_page.unwrap_or(PAGE_LIMIT);
        let announced = page
            .last_page
            .or_else(|| page.total.map(|t| t.div_ceil(per_page).max(1)));
        let rows = page.data.len() as u64;
        let is_last = match announced {
            Some(last) => last <= asked,
            None => !matches!(page.next_page_url, Some(Some(_))),
        };
        let empty_catalogue = page.data.is_empty() && page.total.unwrap_or(0) == 0;
        let rows_before = (asked - 1).saturating_mul(per_page);
        if page.total.is_some_and(|total| total > rows_before + rows) && (is_last || rows == 0) {
            // The last page holds fewer offers than its own `total` places there:
            // the envelope cannot be trusted, and no census can be taken from it.
            // The scan goes on; the count against `total` judges it.
            self.census = CensusState::Unknown(
                "the last page holds fewer offers than its total says there are",
            );
            return Ok(false);
        }
        if (is_last && rows > 0) || empty_catalogue {
            let ceiling = page.data.iter().map(|row| row.id).max().unwrap_or(0);
            let total = page.total.unwrap_or(rows_before + rows);
            self.census = CensusState::Known(Census {
                ceiling,
                total,
                counted: 0,
                counted_to: 0,
            });
            self.known_pages = self.known_pages.max(announced.unwrap_or(asked));
            self.last_total = page.total.or(self.last_total);
            self.page = 1;
            self.last_id = None;
            self.stale_pages = 0;
            self.epoch += 1;
            return Ok(true);
        }
        let tries = tries + 1;
        let next = announced.unwrap_or(asked + 1).max(2);
        if tries >= MAX_PROBES {
            return Err(SyncError::new(
                ErrorCode::CatalogueChanged,
                format!(
                    "the scan of /offers/stocks cannot show it saw every offer: the catalogue's last page moved {tries} times in a row while the scan looked for it (last asked for page {asked}, now {next})"
                ),
            ));
        }
        self.census = CensusState::Wanted { page: next, tries };
        self.epoch += 1;
        Ok(false)
    }

    /// The page to process next in the current segment, or `None` when the scan is
    /// over.
    pub fn current_page(&self) -> Option<u64> {
        (!self.is_done()).then_some(self.page)
    }

    /// The last page that may be requested ahead: the last page KeyCRM announced,
    /// or just the current one while the segment's size is unknown.
    ///
    /// While the census is wanted ([`probe_page`](Self::probe_page)), nothing but
    /// the probe: answers asked for before it do not count.
    ///
    /// One exception: before the first answer of a resumed whole-catalogue scan
    /// (whose census the cursor carries), the plan assumes more pages follow (the
    /// caller bounds how many are requested ahead). A catalogue worth syncing has
    /// many pages, and when the first answer is slower than the pacing interval
    /// this saves its latency. A scan from page 1 does not: its census comes first,
    /// and pages asked for before it would be asked for again.
    pub fn requestable_until(&self) -> u64 {
        if self.probe_page().is_some() {
            self.page.saturating_sub(1)
        } else if self.pages_in_segment > 0 && self.known_pages > 0 {
            self.known_pages.max(self.page)
        } else if self.pages_in_segment == 0
            && self.segments == [None]
            && self.census != CensusState::Pending
        {
            u64::MAX
        } else {
            self.page
        }
    }

    /// Changes whenever the plan steps back or moves to a new segment.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The query for `page` of the current segment, or `None` when the scan is over.
    pub fn query_for(&self, page: u64) -> Option<StockQuery<'_>> {
        let filter = self.segments.get(self.segment)?;
        Some(StockQuery {
            page,
            details: self.details,
            filter: filter.as_ref(),
        })
    }

    /// The query for the current page, or `None` when the scan is over.
    pub fn query(&self) -> Option<StockQuery<'_>> {
        self.query_for(self.page)
    }

    /// Whether every segment has ended.
    pub fn is_done(&self) -> bool {
        self.segment >= self.segments.len()
    }

    /// Pages read so far.
    pub fn pages_read(&self) -> u64 {
        self.pages_read
    }

    /// A best guess of the pages the scan still has to read, from the latest
    /// `last_page` (or `total`) KeyCRM reported.
    pub fn pages_left(&self) -> u64 {
        if self.is_done() {
            return 0;
        }
        let in_segment = self.known_pages.saturating_sub(self.page - 1).max(1);
        let later_segments = (self.segments.len() - self.segment - 1) as u64;
        in_segment + later_segments
    }

    /// Whether the scan read the whole catalogue from its first page and its one
    /// segment ended with the evidence of the [module docs](self): the only scan
    /// after which rows KeyCRM lacks may be zeroed.
    pub fn saw_whole_catalogue(&self) -> bool {
        self.saw_catalogue
    }

    /// Checks the envelope of the page just answered against itself and against the
    /// page asked for (the current one).
    ///
    /// # Errors
    /// [`ErrorCode::BadPage`] naming the contradiction: `per_page` 0; `current_page`
    /// other than the page asked for; more rows than `per_page`; a `next_page_url`
    /// with `last_page` 0 or below the page asked for; rows with `last_page` 0;
    /// `last_page` other than `max(1, ceil(total / per_page))`; a `total` or
    /// `last_page` beyond what one scan reads ([`MAX_PAGES`] pages).
    pub fn check(&self, page: &StockPage) -> Result<(), SyncError> {
        match contradiction(self.page, page) {
            Some(detail) => Err(SyncError::new(
                ErrorCode::BadPage,
                format!("the stock page contradicts itself: {detail}"),
            )),
            None => Ok(()),
        }
    }

    /// Applies the stop rules to the page just read (the current one).
    ///
    /// The segment ends when any of these says so: `data` is empty,
    /// `next_page_url` is `null`, or the page is at or past `last_page`. A drop in
    /// `total` overrides them all and steps back first; a page repeating offers
    /// already read is asked for again. A segment that ends must account for
    /// KeyCRM's last `total` (see the [module docs](self)).
    ///
    /// # Errors
    /// [`ErrorCode::BadPage`] when the envelope contradicts itself ([`check`](Self::check));
    /// when pagination does not end: answers keep repeating offers already read, or far
    /// more pages were read than KeyCRM announced (or than [`MAX_PAGES`]); or when the
    /// segment ends having read fewer distinct offers than the last `total` says exist.
    pub fn advance(&mut self, page: &StockPage) -> Result<PageStep, SyncError> {
        self.check(page)?;
        let read = self.page;
        self.pages_read += 1;
        self.pages_in_segment += 1;
        self.lowest_page = self.lowest_page.min(read);
        let per_page = page.per_page.unwrap_or(PAGE_LIMIT);
        self.per_page = per_page;
        let announced = page
            .last_page
            .or_else(|| page.total.map(|t| t.div_ceil(per_page)))
            .unwrap_or(0);
        self.known_pages = self.known_pages.max(announced);
        let seen = &mut self.seen;
        let new_offers = page.data.iter().filter(|row| seen.insert(row.id)).count();
        if !page.data.windows(2).all(|w| w[0].id < w[1].id) {
            self.unordered = true;
        }
        let ends_here = page.data.is_empty()
            || page.says_last_by_url()
            || page.last_page.is_some_and(|last| read >= last);
        if self.census == CensusState::Pending && read == 1 {
            let rows = page.data.len() as u64;
            self.census = if ends_here && page.total.is_some_and(|total| total > rows) {
                CensusState::Unknown("page 1 is the last and holds fewer offers than its total")
            } else if ends_here {
                // Page 1 is the whole catalogue: it is its own census.
                CensusState::Known(Census {
                    ceiling: page.data.iter().map(|row| row.id).max().unwrap_or(0),
                    total: page.total.unwrap_or(page.data.len() as u64),
                    counted: 0,
                    counted_to: 0,
                })
            } else if announced == 0 {
                CensusState::Unknown("KeyCRM announced no size (neither last_page nor total)")
            } else {
                // Answers asked for ahead were asked before the census: dropped.
                self.epoch += 1;
                CensusState::Wanted {
                    page: announced.max(2),
                    tries: 0,
                }
            };
        }
        if let CensusState::Known(census) = &self.census {
            let counted = &mut self.counted;
            for row in &page.data {
                if row.id <= census.ceiling && row.id > census.counted_to {
                    counted.insert(row.id);
                }
            }
        }

        if self.pages_in_segment > MAX_PAGES {
            return Err(endless(format!(
                "{} pages read, more than the {MAX_PAGES} one scan reads",
                self.pages_in_segment
            )));
        }
        let cap = self.known_pages.saturating_mul(2).saturating_add(10);
        if self.known_pages > 0 && self.pages_in_segment > cap {
            return Err(endless(format!(
                "{} pages read where KeyCRM announced {}",
                self.pages_in_segment, self.known_pages
            )));
        }

        let shrunk_by = match (self.last_total, page.total) {
            (Some(before), Some(now)) if now < before => before - now,
            _ => 0,
        };
        self.last_total = page.total.or(self.last_total);
        if shrunk_by > 0 && read > 1 {
            self.furthest_page = self.furthest_page.max(read);
            self.stale_pages = 0;
            self.page = read.saturating_sub(shrunk_by.div_ceil(per_page)).max(1);
            self.epoch += 1;
            self.last_id = None;
            return Ok(PageStep::Rewound);
        }
        if new_offers == 0 && !page.data.is_empty() && read > self.furthest_page {
            // Nothing moved back (`total` did not drop), yet the page holds only
            // offers already read: a stale or misrouted answer. Taking it would skip
            // the offers really on this page.
            self.stale_pages += 1;
            if self.stale_pages >= MAX_STALE_PAGES {
                return Err(endless(format!(
                    "page {read} repeated offers already read, {MAX_STALE_PAGES} answers in a row"
                )));
            }
            self.epoch += 1;
            return Ok(PageStep::Reread);
        }
        self.stale_pages = 0;
        self.furthest_page = self.furthest_page.max(read);
        if let Some(anchor) = self.anchor {
            let ascending = page.data.windows(2).all(|w| w[0].id < w[1].id);
            let starts_after = page.data.first().is_some_and(|row| row.id > anchor);
            if ascending && starts_after && read > 1 {
                self.page = read - 1;
                self.epoch += 1;
                return Ok(PageStep::Rewound);
            }
            self.anchor = None;
        }

        if ends_here {
            let shortfall = self.shortfall();
            let unproven = self.census_shortfall();
            let census_taken = matches!(self.census, CensusState::Known(_));
            self.saw_catalogue = shortfall.is_none()
                && unproven.is_none()
                && self.segments == [None]
                && self.lowest_page == 1;
            self.end_segment();
            let changed = |detail| {
                Err(SyncError::new(
                    ErrorCode::CatalogueChanged,
                    format!("the scan of /offers/stocks cannot show it saw every offer: {detail}"),
                ))
            };
            // A census taken and not met names the cause: the catalogue changed.
            match (shortfall, unproven) {
                (_, Some(detail)) if census_taken => changed(detail),
                (Some(detail), _) => Err(SyncError::new(
                    ErrorCode::BadPage,
                    format!("the scan of /offers/stocks is not complete: {detail}"),
                )),
                (None, Some(detail)) => changed(detail),
                (None, None) => Ok(PageStep::SegmentDone),
            }
        } else {
            if let (Some(before), Some(first)) = (self.last_id, page.data.first()) {
                if first.id <= before && self.census != CensusState::NotNeeded {
                    self.unordered = true;
                }
            }
            self.page = read + 1;
            self.last_id = page.data.last().map(|row| row.id);
            Ok(PageStep::Next)
        }
    }

    /// Why the census does not show that the whole-catalogue scan saw every offer
    /// KeyCRM had when it started, if it does not.
    fn census_shortfall(&self) -> Option<String> {
        match &self.census {
            CensusState::NotNeeded | CensusState::Pending | CensusState::Wanted { .. } => None,
            CensusState::Unknown(why) => Some(format!("it took no census: {why}")),
            CensusState::Known(census) => {
                let read = census.counted + self.counted.len() as u64;
                if read >= census.total {
                    return None;
                }
                let why = if self.unordered {
                    "KeyCRM did not list offers by ascending id, so offers above the last page's largest id cannot be told from offers added since"
                } else {
                    "offers were deleted and added while it read, and a deletion before the page being read moves unread offers onto pages already read"
                };
                Some(format!(
                    "{read} of the {} offers KeyCRM had at its start (ids up to {}) were read after that; {why}; a fresh scan usually can",
                    census.total, census.ceiling
                ))
            }
        }
    }

    /// Why the segment's distinct offers do not account for KeyCRM's last `total`,
    /// if they do not.
    fn shortfall(&self) -> Option<String> {
        let total = self.last_total?;
        let read = self.seen.len() as u64;
        let before = self
            .lowest_page
            .saturating_sub(1)
            .saturating_mul(self.per_page);
        if read.saturating_add(before) >= total {
            return None;
        }
        Some(if before == 0 {
            format!("{read} distinct offers read where KeyCRM's total says {total} exist")
        } else {
            format!(
                "{read} distinct offers read from page {} on, where KeyCRM's total says {total} exist ({before} before that page)",
                self.lowest_page
            )
        })
    }

    fn end_segment(&mut self) {
        self.segment += 1;
        self.page = 1;
        self.last_total = None;
        self.furthest_page = 0;
        self.known_pages = 0;
        self.pages_in_segment = 0;
        self.stale_pages = 0;
        self.seen.clear();
        self.lowest_page = u64::MAX;
        self.per_page = PAGE_LIMIT;
        self.epoch += 1;
    }
}

/// What in the envelope of the answer to page `asked` contradicts itself or the
/// request, if anything.
fn contradiction(asked: u64, page: &StockPage) -> Option<String> {
    if page.per_page == Some(0) {
        return Some("per_page is 0".into());
    }
    if let Some(current) = page.current_page.filter(|&c| c != asked) {
        return Some(format!(
            "page {asked} was asked for and the answer is current_page {current}"
        ));
    }
    let rows = page.data.len() as u64;
    if let Some(per_page) = page.per_page.filter(|&n| rows > n) {
        return Some(format!("{rows} rows on a page of per_page {per_page}"));
    }
    let per_page = page.per_page.unwrap_or(PAGE_LIMIT);
    let has_next = matches!(page.next_page_url, Some(Some(_)));
    if let Some(last) = page.last_page {
        if has_next && last < asked {
            return Some(format!(
                "last_page {last} on page {asked}, with a next_page_url"
            ));
        }
        if last == 0 && rows > 0 {
            return Some(format!("last_page 0 with {rows} rows"));
        }
        if last > MAX_PAGES {
            return Some(format!(
                "last_page {last} is absurd: one scan reads at most {MAX_PAGES} pages"
            ));
        }
    }
    if let Some(total) = page.total {
        if total > MAX_PAGES.saturating_mul(per_page) {
            return Some(format!(
                "total {total} is absurd: one scan reads at most {MAX_PAGES} pages of {per_page}"
            ));
        }
        if let (Some(last), Some(per_page)) = (page.last_page, page.per_page) {
            let pages = total.div_ceil(per_page).max(1);
            if last != pages {
                return Some(format!(
                    "last_page {last} where total {total} at per_page {per_page} makes {pages}"
                ));
            }
        }
    }
    None
}

fn endless(detail: String) -> SyncError {
    SyncError::new(
        ErrorCode::BadPage,
        format!("pagination of /offers/stocks does not end: {detail}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    fn page(json: &str) -> StockPage {
        StockPage::from_json(json).unwrap()
    }

    /// `n` rows of offers no other call of this function returns.
    fn rows(n: usize) -> String {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        let first = NEXT_ID.fetch_add(n as u64, Ordering::Relaxed);
        let rows: Vec<String> = (first..first + n as u64)
            .map(|i| format!(r#"{{"id":{i},"quantity":0,"reserve":0}}"#))
            .collect();
        rows.join(",")
    }

    #[test]
    fn stops_on_null_next_url() {
        let mut plan = PagePlan::new(vec![], false);
        let p = page(&format!(r#"{{"next_page_url":null,"data":[{}]}}"#, rows(3)));
        assert_eq!(plan.advance(&p).unwrap(), PageStep::SegmentDone);
        assert!(plan.is_done());
        assert!(plan.query().is_none());
    }

    #[test]
    fn stops_at_last_page_even_with_a_next_url() {
        let mut plan = PagePlan::new(vec![], false);
        let p = page(&format!(
            r#"{{"last_page":1,"next_page_url":"x?page=2","data":[{}]}}"#,
            rows(50)
        ));
        assert_eq!(plan.advance(&p).unwrap(), PageStep::SegmentDone);
    }

    #[test]
    fn without_last_page_goes_on_until_an_empty_page() {
        let mut plan = PagePlan::new(vec![], false);
        let full = page(&format!(r#"{{"next_page_url":"x","data":[{}]}}"#, rows(50)));
        assert_eq!(plan.advance(&full).unwrap(), PageStep::Next);
        assert_eq!(plan.query().unwrap().page, 2);
        let empty = page(r#"{"data":[]}"#);
        // Without a size, no census can be taken: the scan ends, unproven.
        let err = plan.advance(&empty).unwrap_err();
        assert_eq!(err.code, ErrorCode::CatalogueChanged);
        assert!(err.message.contains("announced no size"), "{}", err.message);
        let mut plan = censused();
        assert_eq!(plan.advance(&full).unwrap(), PageStep::Next);
        assert_eq!(plan.advance(&empty).unwrap(), PageStep::SegmentDone);
    }

    /// A whole-catalogue plan whose census is taken and asks for nothing.
    fn censused() -> PagePlan {
        PagePlan::resume(
            &ScanCursor {
                census: Some(Census {
                    ceiling: u64::MAX,
                    total: 0,
                    counted: 0,
                    counted_to: 0,
                }),
                ..cursor(1, None, None)
            },
            false,
        )
    }

    #[test]
    fn a_short_page_alone_does_not_stop_the_scan() {
        // A page may come back short while offers are being deleted; only the
        // envelope or an empty page ends the scan.
        let mut plan = PagePlan::new(vec![], false);
        let short = page(&format!(
            r#"{{"last_page":3,"next_page_url":"x","data":[{}]}}"#,
            rows(10)
        ));
        assert_eq!(plan.advance(&short).unwrap(), PageStep::Next);
    }

    #[test]
    fn growing_total_moves_the_end() {
        let mut plan = PagePlan::new(vec![], false);
        let first = page(&format!(
            r#"{{"total":100,"last_page":2,"next_page_url":"x","data":[{}]}}"#,
            rows(50)
        ));
        plan.advance(&first).unwrap();
        let grown = page(&format!(
            r#"{{"total":120,"last_page":3,"next_page_url":"x","data":[{}]}}"#,
            rows(50)
        ));
        assert_eq!(plan.advance(&grown).unwrap(), PageStep::Next);
        assert_eq!(plan.query().unwrap().page, 3);
    }

    #[test]
    fn shrinking_total_steps_back() {
        let mut plan = PagePlan::new(vec![], false);
        for p in 1..=3 {
            let json = format!(
                r#"{{"total":500,"last_page":10,"next_page_url":"x","data":[{}]}}"#,
                rows(50)
            );
            plan.advance(&page(&json)).unwrap();
            assert_eq!(plan.query().unwrap().page, p + 1);
        }
        // 60 offers vanished before page 4 was read: up to 60 unread ones moved back
        // by 60 positions, into pages 2 and 3.
        let json = format!(
            r#"{{"total":440,"last_page":9,"next_page_url":"x","data":[{}]}}"#,
            rows(50)
        );
        assert_eq!(plan.advance(&page(&json)).unwrap(), PageStep::Rewound);
        assert_eq!(plan.query().unwrap().page, 2);
    }

    #[test]
    fn shrink_on_the_last_page_still_rewinds() {
        let mut plan = PagePlan::new(vec![], false);
        let first = page(&format!(
            r#"{{"total":60,"last_page":2,"next_page_url":"x","data":[{}]}}"#,
            rows(50)
        ));
        plan.advance(&first).unwrap();
        let last = page(&format!(
            r#"{{"total":55,"last_page":2,"next_page_url":null,"data":[{}]}}"#,
            rows(5)
        ));
        assert_eq!(plan.advance(&last).unwrap(), PageStep::Rewound);
        assert_eq!(plan.query().unwrap().page, 1);
        assert!(!plan.is_done());
    }

    #[test]
    fn segments_run_in_turn() {
        let filters = OfferFilter::chunks(&(1..=60).collect::<Vec<_>>(), &[]);
        let mut plan = PagePlan::new(filters, true);
        assert!(plan.query().unwrap().filter.is_some());
        let last = page(&format!(r#"{{"last_page":1,"data":[{}]}}"#, rows(50)));
        assert_eq!(plan.advance(&last).unwrap(), PageStep::SegmentDone);
        assert!(!plan.is_done());
        assert_eq!(plan.query().unwrap().page, 1);
        plan.advance(&last).unwrap();
        assert!(plan.is_done());
    }

    #[test]
    fn look_ahead_opens_once_the_size_is_announced() {
        let filters = OfferFilter::chunks(&[1, 2, 3], &[]);
        let filtered = PagePlan::new(filters, false);
        assert_eq!(
            filtered.requestable_until(),
            1,
            "filtered: one page at a time"
        );
        assert_eq!(
            censused().requestable_until(),
            u64::MAX,
            "a resumed whole catalogue: ahead at once"
        );
        let mut plan = PagePlan::new(vec![], false);
        assert_eq!(plan.requestable_until(), 1, "from page 1: the census first");
        let first = page(&format!(
            r#"{{"total":260,"last_page":6,"next_page_url":"x","data":[{}]}}"#,
            rows(50)
        ));
        plan.advance(&first).unwrap();
        assert_eq!(plan.probe_page(), Some(6), "the census first");
        assert_eq!(plan.requestable_until(), 1, "nothing else meanwhile");
        let last = page(&format!(
            r#"{{"total":260,"last_page":6,"next_page_url":null,"data":[{}]}}"#,
            rows(10)
        ));
        assert!(plan.take_probe(&last).unwrap(), "the census is taken");
        assert_eq!(
            (plan.current_page(), plan.requestable_until()),
            (Some(1), 6)
        );
        plan.advance(&first).unwrap();
        let epoch = plan.epoch();
        let shrunk = page(&format!(
            r#"{{"total":200,"last_page":4,"next_page_url":"x","data":[{}]}}"#,
            rows(50)
        ));
        assert_eq!(plan.advance(&shrunk).unwrap(), PageStep::Rewound);
        assert_ne!(plan.epoch(), epoch);
        assert_eq!(
            (plan.current_page(), plan.requestable_until()),
            (Some(1), 6)
        );
    }

    #[test]
    fn no_look_ahead_without_an_announced_size() {
        let mut plan = PagePlan::new(vec![], false);
        let bare = page(&format!(r#"{{"next_page_url":"x","data":[{}]}}"#, rows(50)));
        plan.advance(&bare).unwrap();
        assert_eq!(plan.requestable_until(), 2);
    }

    fn cursor(page: u64, total: Option<u64>, last_offer_id: Option<u64>) -> ScanCursor {
        ScanCursor {
            page,
            total,
            last_offer_id,
            skus: SkuHashes::new(),
            census: None,
        }
    }

    /// A page of `n` rows with ids `first`, `first + 1`, …
    fn ids_from(first: u64, n: u64) -> StockPage {
        let rows: Vec<String> = (first..first + n)
            .map(|i| format!(r#"{{"id":{i},"quantity":0,"reserve":0}}"#))
            .collect();
        page(&format!(
            r#"{{"total":1000,"last_page":20,"next_page_url":"x","data":[{}]}}"#,
            rows.join(",")
        ))
    }

    #[test]
    fn resume_overlaps_one_page_and_notices_deletions() {
        let mut plan = PagePlan::resume(&cursor(7, Some(500), None), false);
        assert_eq!(plan.current_page(), Some(6));
        let shrunk = page(&format!(
            r#"{{"total":380,"last_page":8,"next_page_url":"x","data":[{}]}}"#,
            rows(50)
        ));
        assert_eq!(plan.advance(&shrunk).unwrap(), PageStep::Rewound);
        assert_eq!(plan.current_page(), Some(3), "120 gone: three pages back");
        assert_eq!(plan.cursor(), Some(cursor(3, Some(380), None)));
        let first = PagePlan::resume(&cursor(1, None, None), false);
        assert_eq!(first.current_page(), Some(1));
        let unread = PagePlan::resume(&cursor(7, Some(500), Some(300)), false);
        assert_eq!(
            unread.cursor(),
            Some(cursor(7, Some(500), Some(300))),
            "nothing read: the same cursor, not one a page back"
        );
    }

    #[test]
    fn resume_steps_back_until_it_finds_the_last_offer_applied() {
        // The previous run applied up to offer 300 (end of page 6). Since then,
        // 120 offers before it went and 150 came at the end: `total` grew, and
        // offer 300 now sits on page 4.
        let mut plan = PagePlan::resume(&cursor(7, Some(1000), Some(300)), false);
        assert_eq!(plan.current_page(), Some(6));
        assert_eq!(plan.advance(&ids_from(371, 50)).unwrap(), PageStep::Rewound);
        assert_eq!(plan.current_page(), Some(5));
        assert_eq!(plan.advance(&ids_from(321, 50)).unwrap(), PageStep::Rewound);
        assert_eq!(plan.current_page(), Some(4));
        assert_eq!(plan.advance(&ids_from(271, 50)).unwrap(), PageStep::Next);
        assert_eq!(plan.current_page(), Some(5), "found: on from here");
        assert_eq!(plan.cursor(), Some(cursor(5, Some(1000), Some(320))));
    }

    #[test]
    fn resume_trusts_a_page_not_listed_by_id() {
        let mut plan = PagePlan::resume(&cursor(7, Some(1000), Some(300)), false);
        let unordered = page(
            r#"{"total":1000,"last_page":20,"next_page_url":"x","data":[{"id":900,"quantity":0,"reserve":0},{"id":400,"quantity":0,"reserve":0}]}"#,
        );
        assert_eq!(plan.advance(&unordered).unwrap(), PageStep::Next);
    }

    #[test]
    fn only_unfinished_whole_scans_have_a_cursor() {
        let filtered = PagePlan::new(OfferFilter::chunks(&[1], &[]), false);
        assert_eq!(filtered.cursor(), None);
        let mut plan = PagePlan::new(vec![], false);
        assert_eq!(plan.cursor(), Some(cursor(1, None, None)));
        plan.advance(&page(r#"{"next_page_url":null,"data":[]}"#))
            .unwrap();
        assert_eq!(plan.cursor(), None);
    }

    #[test]
    fn repeating_pages_are_an_error_not_a_loop() {
        let mut plan = PagePlan::new(vec![], false);
        let same = page(&format!(r#"{{"next_page_url":"x","data":[{}]}}"#, rows(50)));
        plan.advance(&same).unwrap();
        plan.advance(&same).unwrap();
        plan.advance(&same).unwrap();
        let err = plan.advance(&same).unwrap_err();
        assert_eq!(err.code, ErrorCode::BadPage);
    }

    #[test]
    fn far_past_the_announced_end_is_an_error() {
        let mut plan = PagePlan::new(vec![], false);
        let mut result = Ok(PageStep::Next);
        for i in 0..100 {
            let json = format!(
                r#"{{"last_page":5,"next_page_url":"x","data":[{{"id":{i},"quantity":0,"reserve":0}}]}}"#
            );
            // A server that ignores `page` answers page 1 with new rows forever.
            plan.page = 1;
            result = plan.advance(&page(&json));
            if result.is_err() {
                break;
            }
        }
        assert_eq!(result.unwrap_err().code, ErrorCode::BadPage);
    }

    #[test]
    fn a_repeated_page_is_read_again_and_never_ends_the_segment() {
        let mut plan = censused();
        let ids = rows(50);
        let first = page(&format!(r#"{{"next_page_url":"x","data":[{ids}]}}"#));
        assert_eq!(plan.advance(&first).unwrap(), PageStep::Next);
        let epoch = plan.epoch();
        // Page 2 comes back with page 1's offers, and says it is the last.
        let stale = page(&format!(r#"{{"next_page_url":null,"data":[{ids}]}}"#));
        assert_eq!(plan.advance(&stale).unwrap(), PageStep::Reread);
        assert_eq!(plan.current_page(), Some(2), "the same page again");
        assert_ne!(plan.epoch(), epoch, "answers asked for ahead are dropped");
        assert!(!plan.is_done());
        let real = page(&format!(
            r#"{{"next_page_url":null,"data":[{}]}}"#,
            rows(10)
        ));
        assert_eq!(plan.advance(&real).unwrap(), PageStep::SegmentDone);
        assert!(plan.saw_whole_catalogue());
    }

    #[test]
    fn pages_re_read_after_a_step_back_may_repeat() {
        let mut plan = PagePlan::new(vec![], false);
        let one = rows(50);
        let two = rows(50);
        let env = |total: u64, ids: &str| {
            page(&format!(
                r#"{{"total":{total},"next_page_url":"x","data":[{ids}]}}"#
            ))
        };
        plan.advance(&env(200, &one)).unwrap();
        plan.advance(&env(200, &two)).unwrap();
        assert_eq!(
            plan.advance(&env(150, &rows(50))).unwrap(),
            PageStep::Rewound
        );
        assert_eq!(plan.current_page(), Some(2));
        // Page 2 read again holds what it held: expected after a step back.
        assert_eq!(plan.advance(&env(150, &two)).unwrap(), PageStep::Next);
    }

    #[test]
    fn contradicting_envelopes_are_bad_pages_naming_the_contradiction() {
        let data = rows(3);
        for (envelope, named) in [
            (r#""last_page":0,"next_page_url":"x""#, "last_page 0"),
            (
                r#""last_page":0,"next_page_url":null"#,
                "last_page 0 with 3 rows",
            ),
            (r#""current_page":1,"next_page_url":"x""#, "current_page 1"),
            (r#""per_page":0,"next_page_url":"x""#, "per_page is 0"),
            (
                r#""per_page":2,"next_page_url":"x""#,
                "3 rows on a page of per_page 2",
            ),
            (
                r#""total":700,"per_page":50,"last_page":3,"next_page_url":"x""#,
                "last_page 3 where total 700 at per_page 50 makes 14",
            ),
            (
                r#""total":99000000,"next_page_url":"x""#,
                "total 99000000 is absurd",
            ),
            (
                r#""last_page":999999,"next_page_url":"x""#,
                "last_page 999999 is absurd",
            ),
        ] {
            let mut plan = PagePlan::new(vec![], false);
            plan.advance(&page(&format!(
                r#"{{"next_page_url":"x","data":[{}]}}"#,
                rows(50)
            )))
            .unwrap();
            let answer = page(&format!(r#"{{{envelope},"data":[{data}]}}"#));
            let err = plan.check(&answer).unwrap_err();
            assert_eq!(err.code, ErrorCode::BadPage, "{envelope}");
            assert!(err.message.contains(named), "{envelope}: {}", err.message);
            assert_eq!(plan.advance(&answer).unwrap_err(), err);
        }
        // The end of the listing, as Laravel answers a page past it, is no
        // contradiction; nor is a next_page_url on the last page.
        let mut plan = PagePlan::new(vec![], false);
        let past_the_end = r#"{"current_page":1,"last_page":1,"next_page_url":null,"data":[]}"#;
        assert_eq!(
            plan.advance(&page(past_the_end)).unwrap(),
            PageStep::SegmentDone
        );
    }

    #[test]
    fn a_segment_ends_only_when_its_offers_account_for_the_total() {
        let mut plan = PagePlan::new(vec![], false);
        let short = page(&format!(
            r#"{{"total":500,"next_page_url":null,"data":[{}]}}"#,
            rows(50)
        ));
        let err = plan.advance(&short).unwrap_err();
        assert_eq!(err.code, ErrorCode::BadPage);
        assert!(
            err.message
                .contains("50 distinct offers read where KeyCRM's total says 500"),
            "{}",
            err.message
        );
        assert!(!plan.saw_whole_catalogue());
        assert_eq!(plan.cursor(), None, "the next run starts afresh");

        // Offers deleted after they were read still count; added ones must be read.
        let mut plan = PagePlan::new(vec![], false);
        let full = |total: u64, next: &str| {
            page(&format!(
                r#"{{"total":{total},"next_page_url":{next},"data":[{}]}}"#,
                rows(50)
            ))
        };
        plan.advance(&full(100, r#""x""#)).unwrap();
        assert_eq!(
            plan.advance(&full(100, "null")).unwrap(),
            PageStep::SegmentDone
        );
    }

    #[test]
    fn a_resumed_segment_counts_the_pages_before_it_as_read() {
        let full = |total: u64| {
            page(&format!(
                r#"{{"total":{total},"next_page_url":null,"data":[{}]}}"#,
                rows(50)
            ))
        };
        // Resumed at page 3: page 2 is read again, page 1 was read by earlier runs.
        let mut plan = PagePlan::resume(&counted(cursor(3, Some(100), None)), false);
        assert_eq!(plan.advance(&full(100)).unwrap(), PageStep::SegmentDone);
        assert!(
            !plan.saw_whole_catalogue(),
            "page 1 was not read by this run"
        );
        let mut plan = PagePlan::resume(&counted(cursor(3, Some(150), None)), false);
        let err = plan.advance(&full(150)).unwrap_err();
        assert!(
            err.message
                .contains("50 distinct offers read from page 2 on"),
            "{}",
            err.message
        );
    }

    /// The cursor with a census that holds nothing to count.
    fn counted(cursor: ScanCursor) -> ScanCursor {
        ScanCursor {
            census: censused().resumed_from.and_then(|c| c.census),
            ..cursor
        }
    }

    #[test]
    fn a_segment_that_announces_nothing_still_ends() {
        let mut plan = PagePlan::new(vec![], false);
        let mut pages = 0;
        let err = loop {
            let next = page(&format!(r#"{{"next_page_url":"x","data":[{}]}}"#, rows(2)));
            match plan.advance(&next) {
                Ok(step) => assert_eq!(step, PageStep::Next),
                Err(err) => break err,
            }
            pages += 1;
        };
        assert_eq!(pages, MAX_PAGES);
        assert_eq!(err.code, ErrorCode::BadPage);
        assert!(err.message.contains("20001 pages read"), "{}", err.message);
    }

    #[test]
    fn only_a_whole_scan_from_page_one_saw_the_catalogue() {
        let last = || {
            page(&format!(
                r#"{{"total":3,"next_page_url":null,"data":[{}]}}"#,
                rows(3)
            ))
        };
        let mut whole = PagePlan::new(vec![], false);
        assert!(!whole.saw_whole_catalogue());
        whole.advance(&last()).unwrap();
        assert!(whole.saw_whole_catalogue());
        let mut filtered = PagePlan::new(OfferFilter::chunks(&[1, 2, 3], &[]), false);
        filtered.advance(&last()).unwrap();
        assert!(filtered.is_done() && !filtered.saw_whole_catalogue());
    }
}
