//! The catch-up for missed order webhooks: the orders changed since the last
//! check, listed by `GET /order?filter[updated_between]=…`, give the offers whose
//! stock may have moved, and just those offers are read again.
//!
//! Between full scans this costs one request per page of 50 orders, plus one per
//! 50 of their offers, where a full scan costs one per 50 offers of the catalogue.
//! It sees what orders move (reserves, write-offs, cancellations); stock moved by
//! receipts, transfers, inventory or manual edits has no order, and waits for the
//! stock webhook or the next full scan.
//!
//! **Times.** KeyCRM keeps `updated_at` in UTC, to the second, and filters on it
//! inclusively (`YYYY-MM-DD HH:MM:SS, YYYY-MM-DD HH:MM:SS`). The window runs from the
//! last check to a day after the run's start: an end in the future means that an
//! order changed while the list is paged stays in it (it cannot drop out and shift
//! the pages under the listing), and with the list in id order a page can only
//! repeat an order, never skip one. The next check starts [`CHECK_OVERLAP_MS`]
//! before this run's start, so that an order KeyCRM saved just before the start, or
//! under a clock a little ahead of this machine's, is listed again rather than
//! missed.

use crate::error::{ErrorCode, SyncError};
use crate::json_read::{read_text, Read, Reader};
use crate::request::{encode, PAGE_LIMIT};
use crate::webhook::OrderLines;

/// How far before a run's start the next check begins: 10 minutes, for orders
/// saved while the run started and for clocks that differ by less than that.
pub const CHECK_OVERLAP_MS: u64 = 10 * 60_000;

/// How far past the run's start the listed window ends: a day (see the module
/// docs for why the end lies ahead).
const WINDOW_AHEAD_MS: u64 = 24 * 3_600_000;

/// Most pages of orders one catch-up lists (500 000 orders): a bound on a
/// listing whose envelope never says it ended.
pub const MAX_ORDER_PAGES: u64 = 10_000;

/// The latest time a check may start from, 9999-12-31 23:59:59.999 UTC: the
/// filter's dates have four-digit years.
pub const MAX_CHECK_MS: u64 = 253_402_300_799_999;

/// A listing of the orders changed since a time, page by page, and the offers on
/// their lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderListing {
    since_ms: u64,
    until_ms: u64,
    /// The page to ask for next; `None` once the listing ended.
    page: Option<u64>,
    /// Offer ids on the lines of the orders listed, each once, in order met.
    offer_ids: Vec<u64>,
    /// Orders listed (repeats included).
    orders: u64,
}

impl OrderListing {
    /// A listing of the orders changed from `since_ms` on, for a run that starts at
    /// `now_ms` (both Unix ms).
    pub fn new(since_ms: u64, now_ms: u64) -> Self {
        OrderListing {
            since_ms,
            until_ms: now_ms.saturating_add(WINDOW_AHEAD_MS).min(MAX_CHECK_MS),
            page: Some(1),
            offer_ids: Vec::new(),
            orders: 0,
        }
    }

    /// The page to ask for next, while the listing goes on.
    pub fn page(&self) -> Option<u64> {
        self.page
    }

    /// The offers on the lines of the orders listed so far.
    pub fn offer_ids(&self) -> &[u64] {
        &self.offer_ids
    }

    /// Orders listed so far.
    pub fn orders(&self) -> u64 {
        self.orders
    }

    /// The URL of the next page, with the orders' lines and their offers.
    pub fn url(&self, api_url: &str) -> String {
        let page = self.page.unwrap_or(1);
        format!(
            "{api_url}/order?limit={PAGE_LIMIT}&page={page}&sort=id&include=products.offer\
             &filter%5Bupdated_between%5D={},{}",
            encode(&utc_time(self.since_ms)),
            encode(&utc_time(self.until_ms))
        )
    }

    /// Takes the answer to the page asked for; returns whether the listing goes on.
    ///
    /// # Errors
    /// [`ErrorCode::BadPage`] when the body is not a page of orders, or an order's
    /// lines were not sent with their offers (see [`OrderLines`]), naming the
    /// order; [`ErrorCode::BadPage`] too when the listing passes
    /// [`MAX_ORDER_PAGES`].
    pub fn take(&mut self, body: &str) -> Result<bool, SyncError> {
        let Some(page) = self.page else {
            return Ok(false);
        };
        let listed = OrderPage::read(body).map_err(|e| {
            SyncError::new(
                ErrorCode::BadPage,
                format!("page {page} of the order list is not valid: {e}"),
            )
        })?;
        // Checked whole before any of it is kept: a retried page adds nothing twice.
        let mut ids = self.offer_ids.clone();
        for order in &listed.data {
            order.add_offer_ids(&mut ids)?;
        }
        self.offer_ids = ids;
        self.orders += listed.data.len() as u64;
        let last = listed.data.is_empty()
            || !listed.has_next_page_url
            || listed.last_page.is_some_and(|last| page >= last);
        if last {
            self.page = None;
            return Ok(false);
        }
        if page >= MAX_ORDER_PAGES {
            return Err(SyncError::new(
                ErrorCode::BadPage,
                format!("the order list did not end within {MAX_ORDER_PAGES} pages"),
            ));
        }
        self.page = Some(page + 1);
        Ok(true)
    }
}

/// A page of `GET /order`: Laravel's envelope, as much of it as the end of the
/// list needs.
struct OrderPage {
    last_page: Option<u64>,
    /// Whether `next_page_url` is there and not null.
    has_next_page_url: bool,
    data: Vec<OrderLines>,
}

impl OrderPage {
    fn read(text: &str) -> Read<Self> {
        read_text(text, |reader| {
            let (mut last_page, mut has_next_page_url, mut data) = (None, false, None);
            let fields = &["last_page", "next_page_url", "data"];
            reader.object("a page of orders", fields, &mut |reader, field| {
                match field {
                    0 => last_page = reader.nullable(Reader::whole)?,
                    1 => has_next_page_url = reader.nullable(Reader::skip)?.is_some(),
                    _ => data = Some(reader.list("the orders of a page", OrderLines::read)?),
                }
                Ok(())
            })?;
            Ok(OrderPage {
                last_page,
                has_next_page_url,
                data: data.ok_or_else(|| reader.missing("data"))?,
            })
        })
    }
}

/// A time as KeyCRM's filters take it: `YYYY-MM-DD HH:MM:SS` in UTC, to the second
/// (the milliseconds dropped).
pub fn utc_time(ms: u64) -> String {
    let secs = ms / 1_000;
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Days since 1970-01-01 to a civil date, in the proleptic Gregorian calendar.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rest / 3_600,
        rest / 60 % 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_utc_to_the_second() {
        assert_eq!(utc_time(0), "1970-01-01 00:00:00");
        assert_eq!(utc_time(1_700_000_000_999), "2023-11-14 22:13:20");
        assert_eq!(utc_time(951_782_400_000), "2000-02-29 00:00:00");
        assert_eq!(utc_time(1_767_225_599_000), "2025-12-31 23:59:59");
        assert_eq!(utc_time(MAX_CHECK_MS), "9999-12-31 23:59:59");
    }

    #[test]
    fn the_window_runs_from_the_check_to_a_day_ahead() {
        let listing = OrderListing::new(1_700_000_000_000, 1_700_000_600_000);
        assert_eq!(
            listing.url("http://h/v1"),
            "http://h/v1/order?limit=50&page=1&sort=id&include=products.offer\
             &filter%5Bupdated_between%5D=2023-11-14%2022%3A13%3A20,2023-11-15%2022%3A23%3A20"
        );
    }

    fn page(orders: &str, next: bool) -> String {
        let next = if next {
            r#""http://h/v1/order?page=2""#
        } else {
            "null"
        };
        format!(r#"{{"current_page":1,"per_page":50,"next_page_url":{next},"data":[{orders}]}}"#)
    }

    #[test]
    fn pages_are_listed_until_the_envelope_ends() {
        let mut listing = OrderListing::new(0, 0);
        let first = page(
            r#"{"id":1,"source_id":1,"products":[{"offer":{"id":7}},{"offer":{"id":9}}]},
               {"id":2,"source_id":1,"products":[{"offer":{"id":7}},{"offer":null}]}"#,
            true,
        );
        assert_eq!(listing.take(&first), Ok(true));
        assert_eq!(listing.page(), Some(2));
        let second = page(
            r#"{"id":3,"source_id":1,"products":[{"offer":{"id":4}}]}"#,
            false,
        );
        assert_eq!(listing.take(&second), Ok(false));
        assert_eq!((listing.offer_ids(), listing.orders()), (&[7, 9, 4][..], 3));
        assert_eq!(listing.page(), None);

        let mut empty = OrderListing::new(0, 0);
        assert_eq!(empty.take(&page("", true)), Ok(false));
        let mut capped = OrderListing::new(0, 0);
        let last = r#"{"last_page":1,"next_page_url":"x","data":[{"id":1,"products":[]}]}"#;
        assert_eq!(capped.take(last), Ok(false));
    }

    #[test]
    fn an_order_sent_without_its_offers_is_refused_naming_it() {
        let mut listing = OrderListing::new(0, 0);
        let err = listing
            .take(&page(
                r#"{"id":1,"products":[{"offer":{"id":7}}]},{"id":42,"products":[{"sku":"a"}]}"#,
                true,
            ))
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::BadPage);
        assert!(err.message.contains("order 42"), "{}", err.message);
        assert_eq!((listing.offer_ids(), listing.page()), (&[][..], Some(1)));
        for body in ["<html>", r#"{"data":{}}"#, r#"{"data":[{"id":1}]}"#] {
            assert_eq!(
                listing.take(body).unwrap_err().code,
                ErrorCode::BadPage,
                "{body}"
            );
        }
    }
}
