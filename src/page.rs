//! One page of `GET /offers/stocks`, parsed defensively.
//!
//! KeyCRM wraps the rows in Laravel's paginator envelope. The published description
//! lists fewer envelope fields than live answers carry, so every envelope field but
//! `data` is optional. Stock figures are JSON numbers that may be fractional; they
//! are also accepted as numeric strings, which some Laravel setups emit for decimals.

use serde::de::{self, Deserializer};
use serde::Deserialize;

use crate::error::{ErrorCode, SyncError};

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
    /// Parses a page from the body text.
    ///
    /// # Errors
    /// [`ErrorCode::BadPage`] when the text is not JSON or not shaped like a page.
    pub fn from_json(text: &str) -> Result<Self, SyncError> {
        serde_json::from_str(text).map_err(|e| {
            SyncError::new(ErrorCode::BadPage, format!("stock page is not valid: {e}"))
        })
    }

    /// Whether the envelope says, by `next_page_url: null`, that no page follows.
    pub fn says_last_by_url(&self) -> bool {
        matches!(self.next_page_url, Some(None))
    }
}

/// One row of the stock list: one offer (product variant).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct OfferStock {
    /// The offer (variant) id, not the product id.
    pub id: u64,
    /// The offer's SKU; `None` when null, absent or blank.
    #[serde(default, deserialize_with = "sku")]
    pub sku: Option<String>,
    /// Total stock over all warehouses.
    #[serde(default, deserialize_with = "number")]
    pub quantity: f64,
    /// Total reserved by orders over all warehouses.
    #[serde(default, deserialize_with = "number")]
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
    /// The warehouse name as set in KeyCRM.
    #[serde(default)]
    pub name: String,
    /// Stock in this warehouse.
    #[serde(default, deserialize_with = "number")]
    pub quantity: f64,
    /// Reserved in this warehouse.
    #[serde(default, deserialize_with = "number")]
    pub reserve: f64,
}

fn present_or_null<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// A number, a numeric string, or null (read as 0).
///
/// A visitor rather than an untagged enum: this runs for every figure of every row,
/// and untagged enums buffer each value before trying the variants.
fn number<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    struct Figure;
    impl<'de> de::Visitor<'de> for Figure {
        type Value = f64;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a stock figure (number, numeric string or null)")
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
            finite(v)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
            Ok(v as f64)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
            Ok(v as f64)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<f64, E> {
            let n = v
                .trim()
                .parse()
                .map_err(|_| E::custom(format!("stock figure {v:?} is not a number")))?;
            finite(n)
        }
        fn visit_unit<E: de::Error>(self) -> Result<f64, E> {
            Ok(0.0)
        }
        fn visit_none<E: de::Error>(self) -> Result<f64, E> {
            Ok(0.0)
        }
    }
    d.deserialize_any(Figure)
}

fn finite<E: de::Error>(v: f64) -> Result<f64, E> {
    if v.is_finite() {
        Ok(v)
    } else {
        Err(E::custom("stock figure is not a finite number"))
    }
}

/// A SKU: text, or a bare number some imports produce; blank and null mean none.
pub(crate) fn sku<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Text(String),
        Integer(u64),
        Null(()),
    }
    Ok(match Raw::deserialize(d)? {
        Raw::Text(s) if s.trim().is_empty() => None,
        Raw::Text(s) => Some(s),
        Raw::Integer(n) => Some(n.to_string()),
        Raw::Null(()) => None,
    })
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
        assert_eq!(row.warehouse.as_ref().unwrap()[0].name, "Основний");
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
    fn figures_accept_fractions_strings_and_null() {
        let page = StockPage::from_json(
            r#"{"data":[{"id":1,"sku":"a","quantity":"12.500","reserve":null},
                        {"id":2,"sku":"b","quantity":0.75,"reserve":0.25}]}"#,
        )
        .unwrap();
        assert_eq!((page.data[0].quantity, page.data[0].reserve), (12.5, 0.0));
        assert_eq!((page.data[1].quantity, page.data[1].reserve), (0.75, 0.25));
    }

    #[test]
    fn skus_blank_null_absent_numeric() {
        let page = StockPage::from_json(
            r#"{"data":[{"id":1,"sku":null},{"id":2,"sku":"  "},{"id":3},{"id":4,"sku":12345}]}"#,
        )
        .unwrap();
        let skus: Vec<_> = page.data.iter().map(|r| r.sku.clone()).collect();
        assert_eq!(skus, [None, None, None, Some("12345".to_string())]);
    }

    #[test]
    fn malformed_bodies_are_bad_pages() {
        for body in [
            "",
            "{\"data\": [",
            "<html>502</html>",
            r#"{"message":"x"}"#,
            r#"{"data":[{"sku":"no id"}]}"#,
            r#"{"data":[{"id":1,"quantity":"lots"}]}"#,
        ] {
            assert_eq!(
                StockPage::from_json(body).unwrap_err().code,
                ErrorCode::BadPage,
                "{body}"
            );
        }
    }
}
