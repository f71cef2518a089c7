//! What a run is asked to do: the options bag, decoded once and validated.

use serde::Deserialize;

use crate::error::SyncError;
use crate::pagination::ScanCursor;

mod read;

/// The API base used when none is given.
pub const DEFAULT_API_URL: &str = "https://openapi.keycrm.app/v1";

/// A warehouse chosen by its KeyCRM id or by its name.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum WarehouseRef {
    /// The warehouse's id, as in `warehouse[].id` of the stock list.
    Id(u64),
    /// The warehouse's name; matched ignoring case and surrounding spaces.
    Name(String),
}

impl WarehouseRef {
    /// Whether this reference names the warehouse with that id and name.
    pub fn matches(&self, id: u64, name: &str) -> bool {
        match self {
            WarehouseRef::Id(wanted) => *wanted == id,
            WarehouseRef::Name(wanted) => normalize_name(wanted) == normalize_name(name),
        }
    }
}

impl std::fmt::Display for WarehouseRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WarehouseRef::Id(id) => write!(f, "{id}"),
            WarehouseRef::Name(name) => write!(f, "\"{name}\""),
        }
    }
}

fn normalize_name(name: &str) -> String {
    name.trim().to_lowercase()
}

/// The options' names, as the JS caller passes them, in the order of
/// [`SyncOptions`]'s fields.
pub const OPTION_NAMES: &[&str] = &[
    "apiUrl",
    "rateLimitPerMinute",
    "maxConcurrentRequests",
    "keepReserve",
    "fractional",
    "warehouses",
    "perWarehouse",
    "offerIds",
    "skus",
    "zeroMissing",
    "dryRun",
    "batchSize",
    "maxRetries",
    "maxRateLimitRetries",
    "maxRetryAfterMs",
    "backoffBaseMs",
    "backoffMaxMs",
    "requestTimeoutMs",
    "sinkTimeoutMs",
    "deadlineMs",
    "maxRequests",
    "maxSubrequests",
    "resumeFrom",
    "orderId",
    "ordersUpdatedSince",
    "names",
];

/// The options of one sync run, as the JS caller passes them (camelCase).
///
/// Unknown fields are refused so that a typo fails loudly instead of being ignored.
/// The API key is not among them: it stays in the JS shim, which adds the header.
///
/// [`from_json`](Self::from_json) reads them with a reader of its own (the
/// `read` module), which tests hold to this type's serde `Deserialize`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct SyncOptions {
    /// KeyCRM API base URL, without a trailing slash. Default [`DEFAULT_API_URL`].
    /// No query, fragment or credentials (`user:password@`).
    pub api_url: String,
    /// Requests per minute the scan may start. Default 60, KeyCRM's limit.
    pub rate_limit_per_minute: u32,
    /// Most requests in flight at once. Starts stay paced whatever this is; more
    /// than one lets slow answers overlap, so latency above the pacing interval
    /// does not slow the scan. Default 4.
    pub max_concurrent_requests: u32,
    /// Keep the reserve in the figure (write `quantity`, not `quantity − reserve`).
    /// Default false.
    pub keep_reserve: bool,
    /// Write fractional stock as is instead of flooring to whole units. Default false.
    pub fractional: bool,
    /// Warehouses to sum; empty means KeyCRM's totals over all warehouses.
    pub warehouses: Vec<WarehouseRef>,
    /// One row per (SKU, warehouse) instead of one per SKU. Default false.
    pub per_warehouse: bool,
    /// Only these offer (variant) ids. Default: all offers.
    pub offer_ids: Vec<u64>,
    /// Only these SKUs. Default: all offers.
    pub skus: Vec<String>,
    /// Set site rows whose SKU KeyCRM does not have to 0, after a complete scan only.
    /// Default false.
    pub zero_missing: bool,
    /// Compute and report everything, write nothing. Default false.
    pub dry_run: bool,
    /// Most rows read from or written to the sink in one call. Default 500.
    pub batch_size: usize,
    /// Retries of one request after 5xx, timeouts, network errors or malformed
    /// pages. Default 5.
    pub max_retries: u32,
    /// Retries of one request after 429 answers. Default 10.
    pub max_rate_limit_retries: u32,
    /// Longest wait a `Retry-After` header may impose, in ms. Default 120 000.
    pub max_retry_after_ms: u64,
    /// First backoff delay in ms; doubles per attempt, with jitter. Default 1 000.
    pub backoff_base_ms: u64,
    /// Longest backoff delay in ms. Default 30 000.
    pub backoff_max_ms: u64,
    /// Abort one request after this many ms. Default 30 000.
    pub request_timeout_ms: u64,
    /// Give up on one sink call (`read`, `write`, `readAll`) after this many ms; the
    /// run then ends with `SINK_FAILED`. Default 30 000.
    pub sink_timeout_ms: u64,
    /// Stop the run after this many ms from its start. Default: no deadline.
    pub deadline_ms: Option<u64>,
    /// Stop the run after this many requests. Default: no limit.
    pub max_requests: Option<u32>,
    /// A budget of HTTP requests plus sink calls (each read, write or readAll is
    /// one), for platforms that count both (Cloudflare Workers). The run stops
    /// starting pages while it can still write what it has read, and sink calls are
    /// batched by `batch_size` rows instead of per page. Default: no budget.
    pub max_subrequests: Option<u32>,
    /// Resume an unfinished whole-catalogue scan from a report's `cursor`.
    pub resume_from: Option<ScanCursor>,
    /// Sync only the offers on the lines of this order: look the order up
    /// (`GET /order/{id}?include=products.offer`), then read their stock.
    pub order_id: Option<u64>,
    /// Catch up on orders changed since this time (Unix ms): list them
    /// (`GET /order?filter[updated_between]=…&include=products.offer`), then read
    /// the stock of the offers on their lines. The report's
    /// `nextOrdersUpdatedSince` is the time to pass next. See [`crate::catchup`].
    pub orders_updated_since: Option<u64>,
    /// In a check, also read the product name of each offer with no site row, 50
    /// offers a request (`GET /offers?filter[id]=…&include=product`), after the
    /// scan and within its budgets. A sync ignores it. Default false.
    pub names: bool,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            api_url: DEFAULT_API_URL.to_string(),
            rate_limit_per_minute: 60,
            max_concurrent_requests: 4,
            keep_reserve: false,
            fractional: false,
            warehouses: Vec::new(),
            per_warehouse: false,
            offer_ids: Vec::new(),
            skus: Vec::new(),
            zero_missing: false,
            dry_run: false,
            batch_size: 500,
            max_retries: 5,
            max_rate_limit_retries: 10,
            max_retry_after_ms: 120_000,
            backoff_base_ms: 1_000,
            backoff_max_ms: 30_000,
            request_timeout_ms: 30_000,
            sink_timeout_ms: 30_000,
            deadline_ms: None,
            max_requests: None,
            max_subrequests: None,
            resume_from: None,
            order_id: None,
            orders_updated_since: None,
            names: false,
        }
    }
}

impl SyncOptions {
    /// Decodes options from JSON text, then validates them. An unknown option
    /// gets the nearest known name ("did you mean"); no message gives a position
    /// in the text, which the caller never wrote.
    ///
    /// # Errors
    /// [`ErrorCode::InvalidConfig`](crate::ErrorCode::InvalidConfig) for malformed JSON,
    /// an unknown field, a wrong type, or a value [`validate`](Self::validate) refuses.
    pub fn from_json(text: &str) -> Result<Self, SyncError> {
        read::read_options(text)
            .map_err(SyncError::config)?
            .validate()
    }

    /// Checks ranges and combinations, and normalizes the API URL.
    ///
    /// # Errors
    /// [`ErrorCode::InvalidConfig`](crate::ErrorCode::InvalidConfig) naming the option.
    pub fn validate(mut self) -> Result<Self, SyncError> {
        let url = self.api_url.trim().trim_end_matches('/');
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"));
        if !rest.is_some_and(|host| !host.is_empty() && !host.contains(char::is_whitespace)) {
            return Err(SyncError::config(
                "apiUrl must be an http:// or https:// URL, e.g. https://openapi.keycrm.app/v1",
            ));
        }
        if url.contains(['?', '#']) {
            return Err(SyncError::config(
                "apiUrl must not carry a query or fragment",
            ));
        }
        // `user:password@` in the URL: fetch refuses such URLs, which would pass
        // for network errors and be retried. The URL is not echoed: it holds a secret.
        let authority = rest
            .unwrap_or_default()
            .split('/')
            .next()
            .unwrap_or_default();
        if authority.contains('@') {
            return Err(SyncError::config(
                "apiUrl must not carry credentials (user:password@): the API key goes in apiKey (KEYCRM_API_KEY)",
            ));
        }
        self.api_url = url.to_string();
        check_range(
            "rateLimitPerMinute",
            self.rate_limit_per_minute.into(),
            1,
            60_000,
        )?;
        check_range(
            "maxConcurrentRequests",
            self.max_concurrent_requests.into(),
            1,
            16,
        )?;
        check_range("batchSize", self.batch_size as u64, 1, 10_000)?;
        check_range("maxRetries", self.max_retries.into(), 0, 50)?;
        check_range(
            "maxRateLimitRetries",
            self.max_rate_limit_retries.into(),
            0,
            100,
        )?;
        check_range("maxRetryAfterMs", self.max_retry_after_ms, 0, 3_600_000)?;
        check_range("backoffBaseMs", self.backoff_base_ms, 1, 600_000)?;
        check_range(
            "backoffMaxMs",
            self.backoff_max_ms,
            self.backoff_base_ms,
            3_600_000,
        )?;
        check_range("requestTimeoutMs", self.request_timeout_ms, 100, 600_000)?;
        check_range("sinkTimeoutMs", self.sink_timeout_ms, 100, 600_000)?;
        if let Some(deadline) = self.deadline_ms {
            check_range("deadlineMs", deadline, 1, u64::from(u32::MAX))?;
        }
        if let Some(max) = self.max_requests {
            check_range("maxRequests", max.into(), 1, u64::from(u32::MAX))?;
        }
        if let Some(bad) = self
            .warehouses
            .iter()
            .find(|w| matches!(w, WarehouseRef::Name(name) if name.trim().is_empty()))
        {
            return Err(SyncError::config(format!(
                "warehouses: {bad} is not a warehouse id or name"
            )));
        }
        if let Some(max) = self.max_subrequests {
            // One page needs a request, a read and a write.
            check_range("maxSubrequests", max.into(), 3, u64::from(u32::MAX))?;
        }
        if let Some(cursor) = &self.resume_from {
            check_range("resumeFrom.page", cursor.page, 1, u64::from(u32::MAX))?;
        }
        if self.skus.iter().any(|sku| sku.is_empty()) {
            return Err(SyncError::config(
                "skus: an empty SKU cannot be filtered on",
            ));
        }
        if let Some(sku) = self
            .skus
            .iter()
            .find(|sku| !crate::request::sku_is_filterable(sku))
        {
            return Err(SyncError::config(format!(
                "skus: {sku:?} holds a comma, and KeyCRM splits filter[offers_sku] on commas whatever the encoding, so it cannot be filtered on; sync its offer by offerIds, or leave it to a full scan"
            )));
        }
        if !self.offer_ids.is_empty() && !self.skus.is_empty() {
            return Err(SyncError::config(
                "offerIds and skus cannot be combined: choose one filter",
            ));
        }
        if self.order_id.is_some()
            && (self.is_filtered() || self.resume_from.is_some() || self.zero_missing)
        {
            return Err(SyncError::config(
                "orderId syncs the offers of one order; it cannot be combined with offerIds, skus, resumeFrom or zeroMissing",
            ));
        }
        if let Some(since) = self.orders_updated_since {
            check_range("ordersUpdatedSince", since, 0, crate::catchup::MAX_CHECK_MS)?;
            if self.is_filtered()
                || self.order_id.is_some()
                || self.resume_from.is_some()
                || self.zero_missing
            {
                return Err(SyncError::config(
                    "ordersUpdatedSince syncs the offers of the orders changed since then; it cannot be combined with offerIds, skus, orderId, resumeFrom or zeroMissing",
                ));
            }
        }
        if self.resume_from.is_some() && self.is_filtered() {
            return Err(SyncError::config(
                "resumeFrom continues a whole-catalogue scan; it cannot be combined with offerIds or skus",
            ));
        }
        if self.zero_missing && self.is_filtered() {
            return Err(SyncError::config(
                "zeroMissing needs a scan of the whole catalogue; it cannot be combined with offerIds or skus",
            ));
        }
        Ok(self)
    }

    /// Whether the scan is limited to some offers.
    pub fn is_filtered(&self) -> bool {
        !self.offer_ids.is_empty() || !self.skus.is_empty()
    }

    /// Whether the run's offers come from orders: one order's lines, or the orders
    /// changed since the last check.
    pub fn from_orders(&self) -> bool {
        self.order_id.is_some() || self.orders_updated_since.is_some()
    }

    /// The URL that looks up an order's lines with their offers.
    pub fn order_url(&self, order_id: u64) -> String {
        format!("{}/order/{order_id}?include=products.offer", self.api_url)
    }

    /// Whether rows must carry their per-warehouse breakdown.
    pub fn needs_details(&self) -> bool {
        self.per_warehouse || !self.warehouses.is_empty()
    }

    /// Shortest gap between the starts of two requests, in ms.
    ///
    /// One percent above `60 000 / limit`: request starts seen by KeyCRM drift by
    /// network jitter, and without the margin a sliding window could count one
    /// request too many.
    pub fn request_interval_ms(&self) -> u64 {
        let exact = 60_000.0 / f64::from(self.rate_limit_per_minute);
        (exact * 1.01).ceil() as u64
    }
}

/// The known name `name` most likely meant: the same name in another case or
/// spelling (`api_url`, `apiURL`), one it begins (`rateLimit`), or one at most a
/// few edits away (`dryrun`, `skuz`).
fn suggest<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    let plain = |s: &str| -> String {
        s.chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect()
    };
    let wanted = plain(name);
    if wanted.is_empty() {
        return None;
    }
    if let Some(same) = known.iter().find(|k| plain(k) == wanted) {
        return Some(same);
    }
    if wanted.chars().count() >= 4 {
        if let Some(longer) = known.iter().find(|k| plain(k).starts_with(&wanted)) {
            return Some(longer);
        }
    }
    let allowed = (wanted.chars().count() / 3).clamp(1, 3);
    known
        .iter()
        .map(|k| (edits(&plain(k), &wanted), *k))
        .filter(|(distance, _)| *distance <= allowed)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, k)| k)
}

/// Levenshtein distance, by characters.
fn edits(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

fn check_range(name: &str, value: u64, min: u64, max: u64) -> Result<(), SyncError> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(SyncError::config(format!(
            "{name} must be between {min} and {max}, got {value}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    #[test]
    fn defaults_are_the_documented_ones() {
        let options = SyncOptions::from_json("{}").unwrap();
        assert_eq!(options.api_url, DEFAULT_API_URL);
        assert_eq!(options.rate_limit_per_minute, 60);
        assert!(!options.keep_reserve && !options.fractional && !options.zero_missing);
        assert_eq!(options.request_interval_ms(), 1_010);
    }

    #[test]
    fn unknown_field_is_refused() {
        let err = SyncOptions::from_json(r#"{"rateLimit": 30}"#).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidConfig);
        assert!(err.message.contains("rateLimit"), "{}", err.message);
    }

    #[test]
    fn unknown_options_get_the_nearest_name_and_no_parser_position() {
        for (bad, near) in [
            (r#"{"rateLimit": 30}"#, "rateLimitPerMinute"),
            (r#"{"dryrun": true}"#, "dryRun"),
            (r#"{"api_url": "http://h/v1"}"#, "apiUrl"),
            (r#"{"sku": ["a"]}"#, "skus"),
            (r#"{"offersIds": [1]}"#, "offerIds"),
            (r#"{"resumeFrom": {"page": 3, "totl": 5}}"#, "total"),
        ] {
            let err = SyncOptions::from_json(bad).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidConfig, "{bad}");
            assert!(
                err.message.ends_with(&format!("did you mean `{near}`?")),
                "{bad}: {}",
                err.message
            );
            assert!(!err.message.contains("line 1"), "{}", err.message);
        }
        let err = SyncOptions::from_json(r#"{"frobnicate": 1}"#).unwrap_err();
        assert!(err
            .message
            .starts_with("unknown option `frobnicate`; known: apiUrl, "));
        let err = SyncOptions::from_json(r#"{"rateLimitPerMinute": "x"}"#).unwrap_err();
        assert!(!err.message.contains(" at line "), "{}", err.message);
    }

    #[test]
    fn warehouses_mix_ids_and_names() {
        let options = SyncOptions::from_json(r#"{"warehouses": [2, " київ "]}"#).unwrap();
        assert!(options.warehouses[0].matches(2, "anything"));
        assert!(options.warehouses[1].matches(7, "Київ"));
        assert!(!options.warehouses[1].matches(7, "Львів"));
        assert!(options.needs_details());
    }

    #[test]
    fn url_is_normalized_and_checked() {
        let options = SyncOptions::from_json(r#"{"apiUrl": "http://127.0.0.1:9/v1/"}"#).unwrap();
        assert_eq!(options.api_url, "http://127.0.0.1:9/v1");
        for bad in [
            "ftp://x",
            "openapi.keycrm.app",
            "https://",
            "https://x/v1?key=1",
        ] {
            let json = format!(r#"{{"apiUrl": "{bad}"}}"#);
            assert_eq!(
                SyncOptions::from_json(&json).unwrap_err().code,
                ErrorCode::InvalidConfig,
                "{bad}"
            );
        }
    }

    #[test]
    fn credentials_in_the_url_are_refused_and_not_echoed() {
        for bad in [
            "https://user:s3cret@openapi.keycrm.app/v1",
            "https://s3cret@openapi.keycrm.app",
            "http://user:s3cret@127.0.0.1:9/v1/",
        ] {
            let json = format!(r#"{{"apiUrl": "{bad}"}}"#);
            let err = SyncOptions::from_json(&json).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidConfig, "{bad}");
            assert!(err.message.contains("credentials"), "{}", err.message);
            assert!(!err.to_string().contains("s3cret"), "{err}");
        }
        // An `@` in the path is no credential.
        let options = SyncOptions::from_json(r#"{"apiUrl": "https://h/v1/@team"}"#).unwrap();
        assert_eq!(options.api_url, "https://h/v1/@team");
    }

    #[test]
    fn ranges_and_combinations_are_checked() {
        for bad in [
            r#"{"rateLimitPerMinute": 0}"#,
            r#"{"batchSize": 0}"#,
            r#"{"offerIds": [1], "skus": ["a"]}"#,
            r#"{"skus": ["a"], "zeroMissing": true}"#,
            r#"{"skus": ["a", "b,c"]}"#,
            r#"{"warehouses": [" "]}"#,
            r#"{"maxSubrequests": 2}"#,
            r#"{"resumeFrom": {"page": 0}}"#,
            r#"{"resumeFrom": {"page": 3, "totl": 5}}"#,
            r#"{"resumeFrom": {"page": 3}, "skus": ["a"]}"#,
            r#"{"orderId": 5, "skus": ["a"]}"#,
            r#"{"orderId": 5, "zeroMissing": true}"#,
            r#"{"ordersUpdatedSince": 1, "orderId": 5}"#,
            r#"{"ordersUpdatedSince": 1, "offerIds": [5]}"#,
            r#"{"ordersUpdatedSince": 1, "zeroMissing": true}"#,
            r#"{"ordersUpdatedSince": 253402300800000}"#,
            r#"{"ordersUpdatedSince": -1}"#,
            r#"{"backoffBaseMs": 5000, "backoffMaxMs": 10}"#,
            r#"{"sinkTimeoutMs": 50}"#,
        ] {
            let err = SyncOptions::from_json(bad).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidConfig, "{bad}");
        }
    }

    #[test]
    fn interval_follows_the_limit() {
        let options = SyncOptions::from_json(r#"{"rateLimitPerMinute": 600}"#).unwrap();
        assert_eq!(options.request_interval_ms(), 101);
    }
}
