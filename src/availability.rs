//! What can be sold: from an offer's stock row to the figures the site should show.

use serde::{Deserialize, Serialize};

use crate::error::{ErrorCode, SyncError};
use crate::options::{SyncOptions, WarehouseRef};
use crate::page::{OfferStock, WarehouseStock};

/// Identifies one stock row on the site: a SKU, or a (SKU, warehouse) pair in
/// per-warehouse mode.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StockKey {
    /// The offer's SKU, exactly as KeyCRM has it.
    pub sku: String,
    /// The KeyCRM warehouse id, in per-warehouse mode only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warehouse_id: Option<u64>,
}

/// A figure the site should show for a key, and the offer it comes from.
#[derive(Debug, Clone, PartialEq)]
pub struct DesiredStock {
    /// The site row.
    pub key: StockKey,
    /// Units that can be sold.
    pub stock: f64,
    /// When KeyCRM's figure was observed (Unix ms): the start of the request that
    /// read it, or the arrival of the webhook that carried it.
    pub observed_at: u64,
}

/// How figures are computed from stock rows; built once from the options.
#[derive(Debug, Clone)]
pub struct Availability {
    keep_reserve: bool,
    fractional: bool,
    warehouses: Vec<WarehouseRef>,
    per_warehouse: bool,
}

impl Availability {
    /// The rules the options ask for.
    pub fn new(options: &SyncOptions) -> Self {
        Availability {
            keep_reserve: options.keep_reserve,
            fractional: options.fractional,
            warehouses: options.warehouses.clone(),
            per_warehouse: options.per_warehouse,
        }
    }

    /// The figures for one offer that has a SKU.
    ///
    /// Quantity and reserve are summed over the chosen warehouses before the reserve
    /// is subtracted, so "all warehouses" equals KeyCRM's own totals.
    ///
    /// # Errors
    /// [`ErrorCode::BadPage`] when a warehouse breakdown is needed and the row has none.
    pub fn figures(
        &self,
        row: &OfferStock,
        sku: &str,
        observed_at: u64,
    ) -> Result<Vec<DesiredStock>, SyncError> {
        let key = |warehouse_id| StockKey {
            sku: sku.to_string(),
            warehouse_id,
        };
        if !self.per_warehouse && self.warehouses.is_empty() {
            let stock = self.available(row.quantity, row.reserve);
            return Ok(vec![DesiredStock {
                key: key(None),
                stock,
                observed_at,
            }]);
        }
        let breakdown = row.warehouse.as_deref().ok_or_else(|| {
            SyncError::new(
                ErrorCode::BadPage,
                format!(
                    "offer {} has no warehouse breakdown although details were asked for",
                    row.id
                ),
            )
        })?;
        let chosen = breakdown.iter().filter(|w| self.is_chosen(w));
        if self.per_warehouse {
            return Ok(chosen
                .map(|w| DesiredStock {
                    key: key(Some(w.id)),
                    stock: self.available(w.quantity, w.reserve),
                    observed_at,
                })
                .collect());
        }
        let (quantity, reserve) =
            chosen.fold((0.0, 0.0), |(q, r), w| (q + w.quantity, r + w.reserve));
        Ok(vec![DesiredStock {
            key: key(None),
            stock: self.available(quantity, reserve),
            observed_at,
        }])
    }

    fn is_chosen(&self, w: &WarehouseStock) -> bool {
        self.warehouses.is_empty() || self.warehouses.iter().any(|r| r.matches(w.id, &w.name))
    }

    /// Sellable units from a quantity and a reserve: never below zero, floored to
    /// whole units unless fractional output was asked for.
    pub fn available(&self, quantity: f64, reserve: f64) -> f64 {
        let raw = if self.keep_reserve {
            quantity
        } else {
            quantity - reserve
        };
        // Rounding to a millionth first absorbs binary float error, so that
        // 2.3 − 0.3 floors to 2, not 1.
        let settled = (raw * 1e6).round() / 1e6;
        let value = if self.fractional {
            settled
        } else {
            settled.floor()
        };
        // `max` also turns -0.0 into 0.0, which serializes as plain 0.
        value.max(0.0) + 0.0
    }
}

/// Whether two figures differ by more than float noise.
pub fn differs(site: f64, wanted: f64) -> bool {
    (site - wanted).abs() > 1e-9
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::page::StockPage;

    fn rules(json: &str) -> Availability {
        Availability::new(&SyncOptions::from_json(json).unwrap())
    }

    fn row() -> OfferStock {
        let page = StockPage::from_json(
            r#"{"data":[{"id":7,"sku":"a","quantity":10.5,"reserve":3,
                "warehouse":[{"id":1,"name":"Основний","quantity":8,"reserve":1},
                             {"id":2,"name":"Київ","quantity":2.5,"reserve":2}]}]}"#,
        )
        .unwrap();
        page.data.into_iter().next().unwrap()
    }

    fn stocks(figures: Vec<DesiredStock>) -> Vec<(Option<u64>, f64)> {
        figures
            .into_iter()
            .map(|f| (f.key.warehouse_id, f.stock))
            .collect()
    }

    #[test]
    fn totals_subtract_reserve_and_floor() {
        assert_eq!(
            stocks(rules("{}").figures(&row(), "a", 0).unwrap()),
            [(None, 7.0)]
        );
    }

    #[test]
    fn keep_reserve_and_fractional() {
        let r = rules(r#"{"keepReserve": true, "fractional": true}"#);
        assert_eq!(stocks(r.figures(&row(), "a", 0).unwrap()), [(None, 10.5)]);
        let r = rules(r#"{"fractional": true}"#);
        assert_eq!(stocks(r.figures(&row(), "a", 0).unwrap()), [(None, 7.5)]);
    }

    #[test]
    fn chosen_warehouses_are_summed_by_id_or_name() {
        let by_id = rules(r#"{"warehouses": [2]}"#);
        assert_eq!(
            stocks(by_id.figures(&row(), "a", 0).unwrap()),
            [(None, 0.0)]
        );
        let by_name = rules(r#"{"warehouses": ["основний", 2], "fractional": true}"#);
        assert_eq!(
            stocks(by_name.figures(&row(), "a", 0).unwrap()),
            [(None, 7.5)]
        );
    }

    #[test]
    fn per_warehouse_rows() {
        let r = rules(r#"{"perWarehouse": true}"#);
        assert_eq!(
            stocks(r.figures(&row(), "a", 0).unwrap()),
            [(Some(1), 7.0), (Some(2), 0.0)]
        );
        let r = rules(r#"{"perWarehouse": true, "warehouses": ["Київ"], "keepReserve": true}"#);
        assert_eq!(stocks(r.figures(&row(), "a", 0).unwrap()), [(Some(2), 2.0)]);
    }

    #[test]
    fn missing_breakdown_is_a_bad_page() {
        let mut bare = row();
        bare.warehouse = None;
        let err = rules(r#"{"warehouses": [1]}"#)
            .figures(&bare, "a", 0)
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::BadPage);
    }

    #[test]
    fn clamp_floor_and_float_noise() {
        let r = rules("{}");
        assert_eq!(r.available(2.0, 5.0), 0.0);
        assert_eq!(r.available(2.3, 0.3), 2.0);
        assert_eq!(r.available(0.999, 0.0), 0.0);
        assert!(r.available(1.0, 1.0).is_sign_positive());
        let f = rules(r#"{"fractional": true}"#);
        assert_eq!(f.available(0.3, 0.1), 0.2);
        assert_eq!(f.available(0.1, 0.3), 0.0);
    }

    #[test]
    fn differs_ignores_noise() {
        assert!(!differs(0.2, 0.1 + 0.1));
        assert!(differs(1.0, 2.0));
    }
}
