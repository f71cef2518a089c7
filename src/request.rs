//! The requests the engine asks the driver to make, and the answers it takes back.

use serde::{Deserialize, Serialize};

use crate::page::OfferStock;

/// KeyCRM's largest page; asking for more is silently capped, asking for less wastes
/// the rate limit.
pub const PAGE_LIMIT: u64 = 50;

/// Filters of the stock list, split into chunks so that request URLs stay short.
///
/// KeyCRM's filters take comma-separated lists, and its Laravel backend decodes
/// the query before splitting on commas: `a%2Cb` arrives as `a,b` and is read as
/// the two SKUs `a` and `b`. No encoding is known to survive that (a doubly
/// encoded `a%252Cb` would be searched for literally, as `a%2Cb`), so a SKU that
/// holds a comma cannot be filtered on, alone or not: see [`sku_is_filterable`].
/// Such offers are reached by their offer id (`filter[offers_id]`, which webhooks
/// and confirmation reads use) or by a full scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OfferFilter {
    /// `filter[offers_id]=1,2,3`.
    OfferIds(Vec<u64>),
    /// `filter[offers_sku]=a,b`.
    Skus(Vec<String>),
}

/// Most ids or SKUs in one filter chunk.
const CHUNK_ITEMS: usize = 50;
/// Most characters of one encoded filter value.
const CHUNK_CHARS: usize = 1_500;

/// Whether a SKU can be asked for by `filter[offers_sku]`: not when it holds a
/// comma, which KeyCRM splits the filter on after decoding it, so that `a,b` would
/// ask for `a` and `b` and never for `a,b`.
pub fn sku_is_filterable(sku: &str) -> bool {
    !sku.contains(',')
}

impl OfferFilter {
    /// Splits ids or SKUs into filters of at most 50 items and ~1 500 encoded
    /// characters each.
    ///
    /// SKUs that cannot be filtered on ([`sku_is_filterable`]) are left out:
    /// options holding one are refused before a run starts.
    pub fn chunks(offer_ids: &[u64], skus: &[String]) -> Vec<OfferFilter> {
        if !offer_ids.is_empty() {
            return offer_ids
                .chunks(CHUNK_ITEMS)
                .map(|c| OfferFilter::OfferIds(c.to_vec()))
                .collect();
        }
        let mut chunks = Vec::new();
        let mut current: Vec<String> = Vec::new();
        let mut chars = 0;
        for sku in skus.iter().filter(|sku| sku_is_filterable(sku)) {
            let len = encode(sku).len() + 1;
            if !current.is_empty() && (current.len() == CHUNK_ITEMS || chars + len > CHUNK_CHARS) {
                chunks.push(OfferFilter::Skus(std::mem::take(&mut current)));
                chars = 0;
            }
            current.push(sku.clone());
            chars += len;
        }
        if !current.is_empty() {
            chunks.push(OfferFilter::Skus(current));
        }
        chunks
    }

    /// Whether a row of the answer is one this filter asked for: the offer id, or
    /// the SKU exactly as asked. A backend that splits or widens a filter (a
    /// partial match, a comma read as a separator) sends rows of other offers;
    /// they are not this filter's to write.
    pub fn admits(&self, row: &OfferStock) -> bool {
        match self {
            OfferFilter::OfferIds(ids) => ids.contains(&row.id),
            OfferFilter::Skus(skus) => row
                .sku
                .as_deref()
                .is_some_and(|sku| skus.iter().any(|asked| asked == sku)),
        }
    }

    fn query(&self) -> String {
        match self {
            OfferFilter::OfferIds(ids) => {
                let list: Vec<String> = ids.iter().map(u64::to_string).collect();
                format!("filter%5Boffers_id%5D={}", list.join(","))
            }
            OfferFilter::Skus(skus) => {
                let list: Vec<String> = skus.iter().map(|s| encode(s)).collect();
                format!("filter%5Boffers_sku%5D={}", list.join(","))
            }
        }
    }
}

/// The stock-list page to request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockQuery<'a> {
    /// 1-based page number.
    pub page: u64,
    /// Ask for the per-warehouse breakdown.
    pub details: bool,
    /// Only offers matching this filter.
    pub filter: Option<&'a OfferFilter>,
}

impl StockQuery<'_> {
    /// The full URL under the API base.
    pub fn url(&self, api_url: &str) -> String {
        let mut url = format!(
            "{api_url}/offers/stocks?limit={PAGE_LIMIT}&page={}",
            self.page
        );
        if self.details {
            url.push_str("&filter%5Bdetails%5D=true");
        }
        if let Some(filter) = self.filter {
            url.push('&');
            url.push_str(&filter.query());
        }
        url
    }
}

/// The URL that reads some offers with their product (`GET /offers`, filtered by
/// offer id, `include=product`): one page of at most [`PAGE_LIMIT`] offers, so
/// `offer_ids` should hold no more.
pub fn offers_with_product_url(api_url: &str, offer_ids: &[u64]) -> String {
    let list: Vec<String> = offer_ids.iter().map(u64::to_string).collect();
    format!(
        "{api_url}/offers?limit={PAGE_LIMIT}&include=product&filter%5Bid%5D={}",
        list.join(",")
    )
}

/// A request for the driver to make: `GET url` with the API key, JSON accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpRequest {
    /// Identifies the request when its answer is handed back; several may be in
    /// flight at once.
    pub id: u64,
    /// The full URL, query included. Never carries the API key.
    pub url: String,
    /// Abort the request after this many ms and report a timeout.
    pub timeout_ms: u64,
}

/// KeyCRM's answer, as the driver hands it back.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpResponse {
    /// HTTP status.
    pub status: u16,
    /// The `Retry-After` header, if any.
    #[serde(default)]
    pub retry_after: Option<String>,
    /// The body text.
    #[serde(default)]
    pub body: String,
}

/// Why a request got no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TransportFailure {
    /// No answer within the request's timeout.
    Timeout,
    /// Connection refused or reset, DNS failure, TLS failure.
    Network,
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub(crate) fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_url_always_asks_for_fifty() {
        let q = StockQuery {
            page: 3,
            details: false,
            filter: None,
        };
        assert_eq!(
            q.url("http://h/v1"),
            "http://h/v1/offers/stocks?limit=50&page=3"
        );
    }

    #[test]
    fn offers_are_read_with_their_product_by_id() {
        assert_eq!(
            offers_with_product_url("http://h/v1", &[3, 17, 4]),
            "http://h/v1/offers?limit=50&include=product&filter%5Bid%5D=3,17,4"
        );
    }

    #[test]
    fn filters_and_details_are_encoded() {
        let filter = OfferFilter::Skus(vec!["a b".into(), "x;y&z".into(), "Київ".into()]);
        let q = StockQuery {
            page: 1,
            details: true,
            filter: Some(&filter),
        };
        assert_eq!(
            q.url("http://h/v1"),
            "http://h/v1/offers/stocks?limit=50&page=1&filter%5Bdetails%5D=true\
             &filter%5Boffers_sku%5D=a%20b,x%3By%26z,%D0%9A%D0%B8%D1%97%D0%B2"
        );
    }

    /// KeyCRM splits `filter[offers_sku]` on commas after decoding it, so a SKU
    /// holding one never goes into a filter, alone or with others.
    #[test]
    fn skus_with_commas_are_never_filtered_on() {
        assert!(!sku_is_filterable("a,b") && sku_is_filterable("a;b"));
        let skus: Vec<String> = ["x", "a,b", "y", ",", "z"].map(String::from).to_vec();
        assert_eq!(
            OfferFilter::chunks(&[], &skus),
            [OfferFilter::Skus(vec!["x".into(), "y".into(), "z".into()])]
        );
        assert_eq!(OfferFilter::chunks(&[], &["a,b".into()]), []);
        for chunk in OfferFilter::chunks(&[], &skus) {
            let query = chunk.query();
            let value = query.split_once('=').unwrap().1;
            assert!(!value.contains("%2C"), "{query}");
        }
    }

    #[test]
    fn answers_are_matched_by_exact_sku_or_id() {
        let row = |id, sku: Option<&str>| OfferStock {
            id,
            sku: sku.map(String::from),
            quantity: 1.0,
            reserve: 0.0,
            warehouse: None,
        };
        let skus = OfferFilter::Skus(vec!["a".into(), "b".into()]);
        assert!(skus.admits(&row(1, Some("a"))) && skus.admits(&row(2, Some("b"))));
        for other in [Some("a,b"), Some("A"), Some("a "), Some("ab"), None] {
            assert!(!skus.admits(&row(3, other)), "{other:?}");
        }
        let ids = OfferFilter::OfferIds(vec![4, 5]);
        assert!(ids.admits(&row(5, None)) && !ids.admits(&row(6, Some("a"))));
    }

    #[test]
    fn chunks_bound_count_and_length() {
        let ids: Vec<u64> = (1..=120).collect();
        let chunks = OfferFilter::chunks(&ids, &[]);
        assert_eq!(chunks.len(), 3);
        assert_eq!(chunks[2], OfferFilter::OfferIds((101..=120).collect()));

        let long: Vec<String> = (0..40).map(|i| format!("{i:0>100}")).collect();
        let chunks = OfferFilter::chunks(&[], &long);
        assert!(chunks.len() > 1);
        let total: usize = chunks
            .iter()
            .map(|c| match c {
                OfferFilter::Skus(s) => {
                    assert!(c.query().len() < CHUNK_CHARS + 30);
                    s.len()
                }
                OfferFilter::OfferIds(_) => unreachable!(),
            })
            .sum();
        assert_eq!(total, 40);
    }
}
