//! One page of `GET /offers/stocks`, parsed defensively, and the field readers that
//! pages and stock webhooks share.
//!
//! KeyCRM wraps the rows in Laravel's paginator envelope. The published description
//! lists fewer envelope fields than live answers carry, so every envelope field but
//! `data` is optional. A row's fields are not: see [`OfferStock`].
//!
//! # One rule for pages and webhooks
//!
//! Rows of a page and rows of the stock webhook are read by the same functions:
//!
//! - **Ids** (`id`, `offer_id`, a warehouse's `id`) are JSON integers ≥ 0; a string,
//!   a fraction or null is refused.
//! - **Figures** (`quantity`, `reserve`, `in_stock`, `in_reserve`) are required. A
//!   figure is a JSON number, or a string holding one (some Laravel setups emit
//!   decimals as strings), possibly fractional. The published description types
//!   them as numbers and never as nullable, so `null` is refused rather than read as
//!   0: a figure KeyCRM did not give is not a figure it held. A figure that is not
//!   finite (`"NaN"`, `"inf"`, `"1e999"`) or beyond ±[`MAX_FIGURE`] units is
//!   refused too, so no arithmetic on it can overflow.
//! - **SKUs** are text or a bare integer; null, absent and blank mean "no SKU".
//!   Which SKUs may be written is decided later, by the [SKU rules](crate::ledger).
//! - **Duplicate keys** in a row or envelope (`{"quantity":1,"quantity":9}`) are
//!   refused, as they are ambiguous; unknown keys are ignored.
//!
//! A page with any refused row is refused whole ([`ErrorCode::BadPage`], retried
//! like any malformed answer); a webhook delivery with any refused row is refused
//! whole ([`ErrorCode::BadWebhook`]). Errors name the field.

mod read;
mod scan;

use std::sync::Arc;

use serde::de::{self, Deserializer};
use serde::Deserialize;

use crate::error::{ErrorCode, SyncError};

pub use read::read_page;
pub use scan::scan_page;
pub(crate) use scan::string_at;

/// The largest stock figure taken, in units, either sign: 10¹⁵. No shop holds
/// that much of one offer, so a figure beyond it is a fault (of KeyCRM, a proxy
/// or a sender), refused rather than written; and sums and differences of figures
/// within it stay far from `f64`'s limits.
pub const MAX_FIGURE: f64 = 1e15;

/// A parsed page of the stock list.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct StockPage {
    /// Total offers matching the query, at the time of this answer.
    #[serde(default)]
    pub total: Option<u64>,
    /// The page KeyCRM says this is.
    #[serde(default)]
    pub current_page: Option<u64>,
    /// The last page, as of this answer. Absent in the published description.
    #[serde(default)]
    pub last_page: Option<u64>,
    /// Rows per page KeyCRM applied (it caps `limit` at 50).
    #[serde(default)]
    pub per_page: Option<u64>,
    /// `None` both when the field is `null` (the last page) and when it is absent;
    /// [`StockPage::has_next_url_field`] tells them apart.
    #[serde(default, deserialize_with = "present_or_null")]
    pub next_page_url: Option<Option<String>>,
    /// The rows.
    pub data: Vec<OfferStock>,
}

impl StockPage {
    /// Parses a page from the body text: by the fast reader ([`scan_page`]) when
    /// it takes the text, by the complete one ([`read_page`]) otherwise; both
    /// give the same page.
    ///
    /// # Errors
    /// [`ErrorCode::BadPage`] when the text is not JSON or not shaped like a page.
    pub fn from_json(text: &str) -> Result<Self, SyncError> {
        if let Some(page) = scan_page(text) {
            return Ok(page);
        }
        read_page(text).map_err(|e| {
            SyncError::new(ErrorCode::BadPage, format!("stock page is not valid: {e}"))
        })
    }

    /// Whether the envelope says, by `next_page_url: null`, that no page follows.
    pub fn says_last_by_url(&self) -> bool {
        matches!(self.next_page_url, Some(None))
    }
}

/// One row of the stock list: one offer (product variant).
///
/// `id`, `quantity` and `reserve` are required (see the [module docs](self)); a
/// row without one of them is drift in KeyCRM's answer, refused naming the field.
/// `warehouse` is required only when a breakdown was asked for, which
/// [`Availability`](crate::availability::Availability) checks.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct OfferStock {
    /// The offer (variant) id, not the product id.
    pub id: u64,
    /// The offer's SKU; `None` when null, absent or blank.
    #[serde(default, deserialize_with = "sku")]
    pub sku: Option<String>,
    /// Total stock over all warehouses; may be negative (oversold).
    #[serde(deserialize_with = "quantity")]
    pub quantity: f64,
    /// Total reserved by orders over all warehouses.
    #[serde(deserialize_with = "reserve")]
    pub reserve: f64,
    /// Per-warehouse breakdown; present only with `filter[details]=true`.
    #[serde(default)]
    pub warehouse: Option<Vec<WarehouseStock>>,
}

/// An offer's stock in one warehouse.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct WarehouseStock {
    /// The warehouse id.
    pub id: u64,
    /// The warehouse name as set in KeyCRM; shared by the rows of a page that
    /// name the warehouse alike.
    #[serde(default = "no_name")]
    pub name: Arc<str>,
    /// Stock in this warehouse (required).
    #[serde(deserialize_with = "quantity")]
    pub quantity: f64,
    /// Reserved in this warehouse (required).
    #[serde(deserialize_with = "reserve")]
    pub reserve: f64,
}

fn no_name() -> Arc<str> {
    Arc::from("")
}

fn present_or_null<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

fn quantity<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    figure(d, "quantity")
}

fn reserve<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    figure(d, "reserve")
}

/// Reads the stock figure in `field`: a JSON number or a numeric string, finite and
/// within ±[`MAX_FIGURE`]. Null is refused (see the [module docs](self)).
///
/// A visitor rather than an untagged enum: this runs for every figure of every row,
/// and untagged enums buffer each value before trying the variants.
///
/// # Errors
/// A message naming `field` when the value is null, not a number, not finite, or
/// beyond the ceiling.
pub(crate) fn figure<'de, D: Deserializer<'de>>(
    d: D,
    field: &'static str,
) -> Result<f64, D::Error> {
    struct Figure(&'static str);
    impl<'de> de::Visitor<'de> for Figure {
        type Value = f64;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "`{}` as a number or numeric string", self.0)
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
            within_ceiling(self.0, v)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
            within_ceiling(self.0, v as f64)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
            within_ceiling(self.0, v as f64)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<f64, E> {
            let n = v
                .trim()
                .parse()
                .map_err(|_| E::custom(format!("`{}` {v:?} is not a number", self.0)))?;
            within_ceiling(self.0, n)
        }
        fn visit_unit<E: de::Error>(self) -> Result<f64, E> {
            Err(E::custom(format!(
                "`{}` is null; KeyCRM documents it as a number",
                self.0
            )))
        }
        fn visit_none<E: de::Error>(self) -> Result<f64, E> {
            self.visit_unit()
        }
    }
    d.deserialize_any(Figure(field))
}

fn within_ceiling<E: de::Error>(field: &str, v: f64) -> Result<f64, E> {
    crate::json_read::within_ceiling(field, v).map_err(E::custom)
}

/// A SKU: text, or a bare number some imports produce; blank and null mean none.
///
/// A visitor, like [`figure`], so that no SKU is buffered before it is read.
pub(crate) fn sku<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    struct Sku;
    impl<'de> de::Visitor<'de> for Sku {
        type Value = Option<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a SKU as text, a whole number >= 0, or null")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok((!v.trim().is_empty()).then(|| v.to_string()))
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
            Ok((!v.trim().is_empty()).then_some(v))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            match u64::try_from(v) {
                Ok(v) => self.visit_u64(v),
                Err(_) => Err(E::invalid_value(de::Unexpected::Signed(v), &self)),
            }
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }
    d.deserialize_any(Sku)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_example() {
        let page = StockPage::from_json(
            r#"{"total":100,"current_page":1,"per_page":50,"last_page":2,
                "next_page_url":"https://openapi.keycrm.app/v1/offers/stocks?page=2",
                "data":[{"id":22,"sku":"sku001","price":123.5,"purchased_price":50.5,
                         "quantity":98,"reserve":8,
                         "warehouse":[{"id":1,"name":"Основний","quantity":98,"reserve":8}]}]}"#,
        )
        .unwrap();
        assert_eq!(page.total, Some(100));
        assert_eq!(page.last_page, Some(2));
        assert!(!page.says_last_by_url());
        let row = &page.data[0];
        assert_eq!((row.id, row.sku.as_deref()), (22, Some("sku001")));
        assert_eq!((row.quantity, row.reserve), (98.0, 8.0));
        assert_eq!(&*row.warehouse.as_ref().unwrap()[0].name, "Основний");
    }

    #[test]
    fn null_next_url_differs_from_absent() {
        let last = StockPage::from_json(r#"{"next_page_url":null,"data":[]}"#).unwrap();
        assert!(last.says_last_by_url());
        let bare = StockPage::from_json(r#"{"data":[]}"#).unwrap();
        assert!(!bare.says_last_by_url());
        assert_eq!(bare.last_page, None);
    }

    #[test]
    fn figures_accept_fractions_and_numeric_strings() {
        let page = StockPage::from_json(
            r#"{"data":[{"id":1,"sku":"a","quantity":"12.500","reserve":" 2 "},
                        {"id":2,"sku":"b","quantity":0.75,"reserve":0.25},
                        {"id":3,"sku":"c","quantity":-3,"reserve":1e15}]}"#,
        )
        .unwrap();
        assert_eq!((page.data[0].quantity, page.data[0].reserve), (12.5, 2.0));
        assert_eq!((page.data[1].quantity, page.data[1].reserve), (0.75, 0.25));
        assert_eq!((page.data[2].quantity, page.data[2].reserve), (-3.0, 1e15));
    }

    #[test]
    fn skus_blank_null_absent_numeric() {
        let page = StockPage::from_json(
            r#"{"data":[{"id":1,"sku":null,"quantity":1,"reserve":0},
                        {"id":2,"sku":"  ","quantity":1,"reserve":0},
                        {"id":3,"quantity":1,"reserve":0},
                        {"id":4,"sku":12345,"quantity":1,"reserve":0}]}"#,
        )
        .unwrap();
        let skus: Vec<_> = page.data.iter().map(|r| r.sku.clone()).collect();
        assert_eq!(skus, [None, None, None, Some("12345".to_string())]);
    }

    fn refusal(body: &str) -> String {
        let err = StockPage::from_json(body).unwrap_err();
        assert_eq!(err.code, ErrorCode::BadPage, "{body}");
        err.message
    }

    #[test]
    fn a_row_missing_a_field_is_refused_naming_it() {
        for (row, field) in [
            (r#"{"sku":"a","quantity":1,"reserve":0}"#, "`id`"),
            (r#"{"id":1,"sku":"a","reserve":0}"#, "`quantity`"),
            (r#"{"id":1,"sku":"a","quantity":1}"#, "`reserve`"),
            (
                r#"{"id":1,"quantity":1,"reserve":null}"#,
                "`reserve` is null",
            ),
            (
                r#"{"id":1,"quantity":null,"reserve":0}"#,
                "`quantity` is null",
            ),
            (
                r#"{"id":1,"quantity":1,"reserve":0,"warehouse":[{"id":2,"quantity":1}]}"#,
                "`reserve`",
            ),
        ] {
            let message = refusal(&format!(r#"{{"data":[{row}]}}"#));
            assert!(message.contains(field), "{row}: {message}");
        }
    }

    #[test]
    fn figures_that_are_not_finite_or_absurd_are_refused() {
        for (figure, why) in [
            ("1e302", "beyond"),
            ("-1e16", "beyond"),
            ("1000000000000001", "1.000000000000001e15 is beyond"),
            (r#""1e999""#, "not a finite"),
            (r#""NaN""#, "not a finite"),
            (r#""-inf""#, "not a finite"),
            ("1e400", "out of range"),
            (r#""lots""#, "not a number"),
            ("true", "`quantity` as a number"),
        ] {
            let message = refusal(&format!(
                r#"{{"data":[{{"id":1,"sku":"a","quantity":{figure},"reserve":0}}]}}"#
            ));
            assert!(message.contains(why), "{figure}: {message}");
        }
    }

    #[test]
    fn duplicate_keys_are_refused() {
        let message = refusal(r#"{"data":[{"id":1,"quantity":1,"quantity":9,"reserve":0}]}"#);
        assert!(message.contains("duplicate field `quantity`"), "{message}");
        refusal(r#"{"data":[],"data":[]}"#);
    }

    #[test]
    fn malformed_bodies_are_bad_pages() {
        for body in [
            "",
            "{\"data\": [",
            "<html>502</html>",
            r#"{"message":"x"}"#,
            r#"{"data":[{"sku":"no id"}]}"#,
            r#"{"data":[{"id":1,"quantity":"lots","reserve":0}]}"#,
            r#"{"data":[{"id":"1","quantity":1,"reserve":0}]}"#,
            r#"{"data":[{"id":1.5,"quantity":1,"reserve":0}]}"#,
        ] {
            assert_eq!(
                StockPage::from_json(body).unwrap_err().code,
                ErrorCode::BadPage,
                "{body}"
            );
        }
    }
}
