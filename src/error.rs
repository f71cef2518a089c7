//! The one error type of the sync, with stable machine codes.

use std::fmt;

use serde::Serialize;

/// What went wrong, as a stable code that callers (and the JS `err.code`) branch on.
///
/// Codes never change meaning between versions; new ones may be added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
pub enum ErrorCode {
    /// The options are invalid (unknown field, out-of-range number, bad URL, a filter
    /// combined with zeroing). Raised before any request; retrying the same options
    /// fails the same way.
    InvalidConfig,
    /// KeyCRM answered 401 or 403: the API key is wrong, revoked or lacks access.
    /// Retrying does not help until the key is fixed.
    Unauthorized,
    /// KeyCRM answered another 4xx (400, 404, 422, ...): the request itself is wrong.
    /// Not retried; retrying the same run fails the same way.
    CrmHttp,
    /// 5xx answers, timeouts or network errors went on past the retry limit.
    /// A later run usually succeeds.
    CrmUnavailable,
    /// KeyCRM kept answering 429 past the retry limit. A later run, or a lower
    /// `rateLimitPerMinute`, helps.
    RateLimited,
    /// A 200 answer whose body is not a stock page (malformed JSON, missing `data`, a
    /// row without an id, a row without its warehouse breakdown when one was asked
    /// for), past the retry limit; or pagination that does not end; or a scan that
    /// cannot show it saw the catalogue: an envelope contradicting itself or the
    /// request, pages repeating offers already read, or fewer distinct offers than
    /// KeyCRM's `total` (see [`crate::pagination`]).
    BadPage,
    /// A webhook body is not what KeyCRM sends: not JSON, a wrong shape, a figure
    /// that is not a number, too many rows, or an unknown event. Nothing was
    /// applied; sending the same body again fails the same way.
    BadWebhook,
    /// A warehouse chosen by id or name never appeared in KeyCRM's data. Nothing was
    /// written; the message lists the warehouses that were seen.
    UnknownWarehouse,
    /// The scan could not show it saw every offer KeyCRM had when it started:
    /// offers were added and deleted while it read (a deletion before the page being
    /// read moves unread offers onto pages already read, and an addition can hide it
    /// from `total`), or KeyCRM does not list offers by ascending id. KeyCRM did
    /// nothing wrong; the rows written are figures it held, nothing was zeroed, and
    /// the report leaves no cursor. Retrying (a fresh scan) usually helps. See
    /// [`crate::pagination`].
    CatalogueChanged,
    /// The site database (the sink) failed to read or write. The batch in flight was
    /// not written (sinks write each batch in one transaction).
    SinkFailed,
    /// The run's deadline came before the scan finished. The next run continues.
    DeadlineExceeded,
    /// The run's request budget (`maxRequests`) ran out before the scan finished.
    BudgetExhausted,
    /// The engine was driven out of order; a bug in the driver, never user input.
    Internal,
}

impl ErrorCode {
    /// The code as the string that reports and JS errors carry, e.g. `"CRM_HTTP"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidConfig => "INVALID_CONFIG",
            ErrorCode::Unauthorized => "UNAUTHORIZED",
            ErrorCode::CrmHttp => "CRM_HTTP",
            ErrorCode::CrmUnavailable => "CRM_UNAVAILABLE",
            ErrorCode::RateLimited => "RATE_LIMITED",
            ErrorCode::BadPage => "BAD_PAGE",
            ErrorCode::BadWebhook => "BAD_WEBHOOK",
            ErrorCode::UnknownWarehouse => "UNKNOWN_WAREHOUSE",
            ErrorCode::CatalogueChanged => "CATALOGUE_CHANGED",
            ErrorCode::SinkFailed => "SINK_FAILED",
            ErrorCode::DeadlineExceeded => "DEADLINE_EXCEEDED",
            ErrorCode::BudgetExhausted => "BUDGET_EXHAUSTED",
            ErrorCode::Internal => "INTERNAL",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error with its stable [`ErrorCode`], a human message, and the HTTP status when
/// KeyCRM's answer caused it.
///
/// Messages never contain the API key: the engine never sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncError {
    /// The stable machine code.
    pub code: ErrorCode,
    /// What happened, for people.
    pub message: String,
    /// KeyCRM's HTTP status, when an answer caused the error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
}

impl SyncError {
    /// An error with a code and message and no HTTP status.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        SyncError {
            code,
            message: message.into(),
            status: None,
        }
    }

    /// Shorthand for an [`ErrorCode::InvalidConfig`] error.
    pub fn config(message: impl Into<String>) -> Self {
        SyncError::new(ErrorCode::InvalidConfig, message)
    }

    /// Attaches KeyCRM's HTTP status.
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }
}

impl fmt::Display for SyncError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for SyncError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_serializes_as_its_string() {
        for code in [
            ErrorCode::InvalidConfig,
            ErrorCode::CrmHttp,
            ErrorCode::UnknownWarehouse,
            ErrorCode::BudgetExhausted,
        ] {
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
        }
    }

    #[test]
    fn display_has_code_and_message() {
        let err = SyncError::new(ErrorCode::CrmHttp, "404 on /offers/stocks").with_status(404);
        assert_eq!(err.to_string(), "CRM_HTTP: 404 on /offers/stocks");
        assert_eq!(err.status, Some(404));
    }
}
