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
//! so that slow answers overlap. Every step back and every new segment starts a new
//! [`epoch`](PagePlan::epoch); answers to requests of an older epoch are dropped.

use serde::{Deserialize, Serialize};

use crate::error::{ErrorCode, SyncError};
use crate::page::StockPage;
use crate::request::{OfferFilter, StockQuery, PAGE_LIMIT};

/// Pages in a row that may hold only offers already read before the scan calls the
/// pagination broken (an API that ignores `page` would otherwise loop forever).
const MAX_STALE_PAGES: u32 = 3;

/// Where an unfinished whole-catalogue scan stopped, to resume from in a later run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
}

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
}

/// Where a page left the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageStep {
    /// Another page of the same segment follows.
    Next,
    /// Offers may have moved back; the plan stepped back to re-read.
    Rewound,
    /// The segment ended; another one (or none) follows.
    SegmentDone,
}

impl PagePlan {
    /// A plan over the whole catalogue, or over the given filter chunks.
    pub fn new(filters: Vec<OfferFilter>, details: bool) -> Self {
        let segments = if filters.is_empty() {
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
    pub fn resume(cursor: ScanCursor, details: bool) -> Self {
        let mut plan = PagePlan::new(Vec::new(), details);
        plan.page = cursor.page.saturating_sub(1).max(1);
        plan.last_total = cursor.total;
        plan.anchor = cursor.last_offer_id;
        plan
    }

    /// Where to resume, if this is an unfinished whole-catalogue scan.
    pub fn cursor(&self) -> Option<ScanCursor> {
        (!self.is_done() && self.segments == [None]).then_some(ScanCursor {
            page: self.page,
            total: self.last_total,
            last_offer_id: self.last_id,
        })
    }

    /// The page to process next in the current segment, or `None` when the scan is
    /// over.
    pub fn current_page(&self) -> Option<u64> {
        (!self.is_done()).then_some(self.page)
    }

    /// The last page that may be requested ahead: the last page KeyCRM announced,
    /// or just the current one while the segment's size is unknown.
    ///
    /// One exception: before the first answer of a whole-catalogue scan, the plan
    /// assumes more pages follow (the caller bounds how many are requested ahead).
    /// A catalogue worth syncing has many pages, and when the first answer is
    /// slower than the pacing interval this saves its latency; at worst a tiny
    /// catalogue costs a few requests more.
    pub fn requestable_until(&self) -> u64 {
        if self.pages_in_segment > 0 && self.known_pages > 0 {
            self.known_pages.max(self.page)
        } else if self.pages_in_segment == 0 && self.segments == [None] {
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

    /// Applies the stop rules to the page just read.
    ///
    /// The segment ends when any of these says so: `data` is empty,
    /// `next_page_url` is `null`, or the page is at or past `last_page`. A drop in
    /// `total` overrides them all and steps back first.
    /// `new_offers` is how many rows of the page had not been read before.
    ///
    /// # Errors
    /// [`ErrorCode::BadPage`] when pagination does not end: pages keep repeating
    /// offers already read, or far more pages were read than KeyCRM ever announced.
    pub fn advance(&mut self, page: &StockPage, new_offers: usize) -> Result<PageStep, SyncError> {
        let read = self.page;
        self.pages_read += 1;
        self.pages_in_segment += 1;
        let per_page = page.per_page.filter(|&n| n > 0).unwrap_or(PAGE_LIMIT);
        let announced = page
            .last_page
            .or_else(|| page.total.map(|t| t.div_ceil(per_page)))
            .unwrap_or(0);
        self.known_pages = self.known_pages.max(announced);

        if new_offers == 0 && !page.data.is_empty() && read > self.furthest_page {
            self.stale_pages += 1;
            if self.stale_pages >= MAX_STALE_PAGES {
                return Err(broken(format!(
                    "{MAX_STALE_PAGES} pages in a row repeated offers already read"
                )));
            }
        } else {
            self.stale_pages = 0;
        }
        if self.known_pages > 0 && self.pages_in_segment > 2 * self.known_pages + 10 {
            return Err(broken(format!(
                "{} pages read where KeyCRM announced {}",
                self.pages_in_segment, self.known_pages
            )));
        }
        self.furthest_page = self.furthest_page.max(read);

        let shrunk_by = match (self.last_total, page.total) {
            (Some(before), Some(now)) if now < before => before - now,
            _ => 0,
        };
        self.last_total = page.total.or(self.last_total);
        if shrunk_by > 0 && read > 1 {
            self.page = read.saturating_sub(shrunk_by.div_ceil(per_page)).max(1);
            self.epoch += 1;
            self.last_id = None;
            return Ok(PageStep::Rewound);
        }
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

        let last = page.data.is_empty()
            || page.says_last_by_url()
            || page.last_page.is_some_and(|last| read >= last);
        if last {
            self.segment += 1;
            self.page = 1;
            self.last_total = None;
            self.furthest_page = 0;
            self.known_pages = 0;
            self.pages_in_segment = 0;
            self.stale_pages = 0;
            self.epoch += 1;
            Ok(PageStep::SegmentDone)
        } else {
            self.page = read + 1;
            self.last_id = page.data.last().map(|row| row.id);
            Ok(PageStep::Next)
        }
    }
}

fn broken(detail: String) -> SyncError {
    SyncError::new(
        ErrorCode::BadPage,
        format!("pagination of /offers/stocks does not end: {detail}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(json: &str) -> StockPage {
        StockPage::from_json(json).unwrap()
    }

    fn rows(n: usize) -> String {
        let rows: Vec<String> = (0..n)
            .map(|i| format!(r#"{{"id":{i},"quantity":0,"reserve":0}}"#))
            .collect();
        rows.join(",")
    }

    #[test]
    fn stops_on_null_next_url() {
        let mut plan = PagePlan::new(vec![], false);
        let p = page(&format!(r#"{{"next_page_url":null,"data":[{}]}}"#, rows(3)));
        assert_eq!(plan.advance(&p, 3).unwrap(), PageStep::SegmentDone);
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
        assert_eq!(plan.advance(&p, 50).unwrap(), PageStep::SegmentDone);
    }

    #[test]
    fn without_last_page_goes_on_until_an_empty_page() {
        let mut plan = PagePlan::new(vec![], false);
        let full = page(&format!(r#"{{"next_page_url":"x","data":[{}]}}"#, rows(50)));
        assert_eq!(plan.advance(&full, 50).unwrap(), PageStep::Next);
        assert_eq!(plan.query().unwrap().page, 2);
        let empty = page(r#"{"data":[]}"#);
        assert_eq!(plan.advance(&empty, 0).unwrap(), PageStep::SegmentDone);
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
        assert_eq!(plan.advance(&short, 10).unwrap(), PageStep::Next);
    }

    #[test]
    fn growing_total_moves_the_end() {
        let mut plan = PagePlan::new(vec![], false);
        let first = page(&format!(
            r#"{{"total":100,"last_page":2,"next_page_url":"x","data":[{}]}}"#,
            rows(50)
        ));
        plan.advance(&first, 50).unwrap();
        let grown = page(&format!(
            r#"{{"total":120,"last_page":3,"next_page_url":"x","data":[{}]}}"#,
            rows(50)
        ));
        assert_eq!(plan.advance(&grown, 50).unwrap(), PageStep::Next);
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
            plan.advance(&page(&json), 50).unwrap();
            assert_eq!(plan.query().unwrap().page, p + 1);
        }
        // 60 offers vanished before page 4 was read: up to 60 unread ones moved back
        // by 60 positions, into pages 2 and 3.
        let json = format!(
            r#"{{"total":440,"last_page":9,"next_page_url":"x","data":[{}]}}"#,
            rows(50)
        );
        assert_eq!(plan.advance(&page(&json), 50).unwrap(), PageStep::Rewound);
        assert_eq!(plan.query().unwrap().page, 2);
    }

    #[test]
    fn shrink_on_the_last_page_still_rewinds() {
        let mut plan = PagePlan::new(vec![], false);
        let first = page(&format!(
            r#"{{"total":60,"last_page":2,"next_page_url":"x","data":[{}]}}"#,
            rows(50)
        ));
        plan.advance(&first, 50).unwrap();
        let last = page(&format!(
            r#"{{"total":55,"last_page":2,"next_page_url":null,"data":[{}]}}"#,
            rows(5)
        ));
        assert_eq!(plan.advance(&last, 5).unwrap(), PageStep::Rewound);
        assert_eq!(plan.query().unwrap().page, 1);
        assert!(!plan.is_done());
    }

    #[test]
    fn segments_run_in_turn() {
        let filters = OfferFilter::chunks(&(1..=60).collect::<Vec<_>>(), &[]);
        let mut plan = PagePlan::new(filters, true);
        assert!(plan.query().unwrap().filter.is_some());
        let last = page(&format!(r#"{{"last_page":1,"data":[{}]}}"#, rows(50)));
        assert_eq!(plan.advance(&last, 50).unwrap(), PageStep::SegmentDone);
        assert!(!plan.is_done());
        assert_eq!(plan.query().unwrap().page, 1);
        plan.advance(&last, 10).unwrap();
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
        let mut plan = PagePlan::new(vec![], false);
        assert_eq!(
            plan.requestable_until(),
            u64::MAX,
            "whole catalogue: ahead at once"
        );
        let first = page(&format!(
            r#"{{"total":260,"last_page":6,"next_page_url":"x","data":[{}]}}"#,
            rows(50)
        ));
        plan.advance(&first, 50).unwrap();
        assert_eq!(
            (plan.current_page(), plan.requestable_until()),
            (Some(2), 6)
        );
        let epoch = plan.epoch();
        let shrunk = page(&format!(
            r#"{{"total":200,"last_page":4,"next_page_url":"x","data":[{}]}}"#,
            rows(50)
        ));
        assert_eq!(plan.advance(&shrunk, 50).unwrap(), PageStep::Rewound);
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
        plan.advance(&bare, 50).unwrap();
        assert_eq!(plan.requestable_until(), 2);
    }

    fn cursor(page: u64, total: Option<u64>, last_offer_id: Option<u64>) -> ScanCursor {
        ScanCursor {
            page,
            total,
            last_offer_id,
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
        let mut plan = PagePlan::resume(cursor(7, Some(500), None), false);
        assert_eq!(plan.current_page(), Some(6));
        let shrunk = page(&format!(
            r#"{{"total":380,"last_page":8,"next_page_url":"x","data":[{}]}}"#,
            rows(50)
        ));
        assert_eq!(plan.advance(&shrunk, 50).unwrap(), PageStep::Rewound);
        assert_eq!(plan.current_page(), Some(3), "120 gone: three pages back");
        assert_eq!(plan.cursor(), Some(cursor(3, Some(380), None)));
        let first = PagePlan::resume(cursor(1, None, None), false);
        assert_eq!(first.current_page(), Some(1));
    }

    #[test]
    fn resume_steps_back_until_it_finds_the_last_offer_applied() {
        // The previous run applied up to offer 300 (end of page 6). Since then,
        // 120 offers before it went and 150 came at the end: `total` grew, and
        // offer 300 now sits on page 4.
        let mut plan = PagePlan::resume(cursor(7, Some(1000), Some(300)), false);
        assert_eq!(plan.current_page(), Some(6));
        assert_eq!(
            plan.advance(&ids_from(371, 50), 50).unwrap(),
            PageStep::Rewound
        );
        assert_eq!(plan.current_page(), Some(5));
        assert_eq!(
            plan.advance(&ids_from(321, 50), 50).unwrap(),
            PageStep::Rewound
        );
        assert_eq!(plan.current_page(), Some(4));
        assert_eq!(
            plan.advance(&ids_from(271, 50), 50).unwrap(),
            PageStep::Next
        );
        assert_eq!(plan.current_page(), Some(5), "found: on from here");
        assert_eq!(plan.cursor(), Some(cursor(5, Some(1000), Some(320))));
    }

    #[test]
    fn resume_trusts_a_page_not_listed_by_id() {
        let mut plan = PagePlan::resume(cursor(7, Some(1000), Some(300)), false);
        let unordered = page(
            r#"{"total":1000,"last_page":20,"next_page_url":"x","data":[{"id":900,"quantity":0,"reserve":0},{"id":400,"quantity":0,"reserve":0}]}"#,
        );
        assert_eq!(plan.advance(&unordered, 2).unwrap(), PageStep::Next);
    }

    #[test]
    fn only_unfinished_whole_scans_have_a_cursor() {
        let filtered = PagePlan::new(OfferFilter::chunks(&[1], &[]), false);
        assert_eq!(filtered.cursor(), None);
        let mut plan = PagePlan::new(vec![], false);
        assert_eq!(plan.cursor(), Some(cursor(1, None, None)));
        plan.advance(&page(r#"{"next_page_url":null,"data":[]}"#), 0)
            .unwrap();
        assert_eq!(plan.cursor(), None);
    }

    #[test]
    fn repeating_pages_are_an_error_not_a_loop() {
        let mut plan = PagePlan::new(vec![], false);
        let same = page(&format!(r#"{{"next_page_url":"x","data":[{}]}}"#, rows(50)));
        plan.advance(&same, 50).unwrap();
        plan.advance(&same, 0).unwrap();
        plan.advance(&same, 0).unwrap();
        let err = plan.advance(&same, 0).unwrap_err();
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
            result = plan.advance(&page(&json), 1);
            if result.is_err() {
                break;
            }
        }
        assert_eq!(result.unwrap_err().code, ErrorCode::BadPage);
    }
}
