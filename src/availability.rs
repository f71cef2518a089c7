//! What can be sold: from an offer's stock row to the figures the site should show.

use std::cell::RefCell;

use serde::{Deserialize, Serialize};

use crate::error::{ErrorCode, SyncError};
use crate::options::{SyncOptions, WarehouseRef};
use crate::page::{OfferStock, WarehouseStock, MAX_FIGURE};

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
    warehouses: Vec<Chosen>,
    per_warehouse: bool,
    /// Warehouse names met in rows, each with whether a chosen name matches it
    /// (see [`Availability::name_chosen`]).
    names_met: RefCell<Vec<(String, bool)>>,
}

/// The most warehouse names [`Availability`] remembers: far more than an
/// account's warehouses, while a list this short is searched fast.
const NAMES_REMEMBERED: usize = 64;

/// A chosen warehouse, as [`Availability`] matches it against every row.
#[derive(Debug, Clone)]
enum Chosen {
    Id(u64),
    /// The name trimmed and lowercased once, as [`WarehouseRef::matches`]
    /// compares names.
    Name(String),
}

impl Chosen {
    fn of(reference: &WarehouseRef) -> Self {
        match reference {
            WarehouseRef::Id(id) => Chosen::Id(*id),
            WarehouseRef::Name(name) => Chosen::Name(name.trim().to_lowercase()),
        }
    }

    /// [`WarehouseRef::matches`], as [`Availability`] decides it in two steps:
    /// by id, then by name.
    #[cfg(test)]
    fn matches(&self, w: &WarehouseStock) -> bool {
        self.matches_id(w.id) || self.matches_name(&w.name)
    }

    /// Whether this is the warehouse's id.
    fn matches_id(&self, id: u64) -> bool {
        matches!(self, Chosen::Id(wanted) if *wanted == id)
    }

    /// Whether this is a name that matches the warehouse's, without lowercasing
    /// that into a new string (an id matches no name).
    fn matches_name(&self, name: &str) -> bool {
        match self {
            Chosen::Id(_) => false,
            // A capital sigma lowercases by its place in the word: only the
            // string's own lowercasing knows how.
            Chosen::Name(wanted) if name.contains('Σ') => *wanted == name.trim().to_lowercase(),
            Chosen::Name(wanted) => name
                .trim()
                .chars()
                .flat_map(char::to_lowercase)
                .eq(wanted.chars()),
        }
    }
}

impl Availability {
    /// The rules the options ask for.
    pub fn new(options: &SyncOptions) -> Self {
        Availability {
            keep_reserve: options.keep_reserve,
            fractional: options.fractional,
            warehouses: options.warehouses.iter().map(Chosen::of).collect(),
            per_warehouse: options.per_warehouse,
            names_met: RefCell::default(),
        }
    }

    /// The figures for one offer that has a SKU.
    ///
    /// Quantity and reserve are summed over the chosen warehouses before the reserve
    /// is subtracted, so "all warehouses" equals KeyCRM's own totals (each reserve
    /// is clamped at 0 first, see [`Availability::available`]).
    ///
    /// Every figure returned is finite, ≥ 0 and at most [`MAX_FIGURE`].
    ///
    /// # Errors
    /// [`ErrorCode::BadPage`] when a warehouse breakdown is needed and the row has
    /// none, or when a figure, or the sum over the chosen warehouses, is not finite
    /// or beyond ±[`MAX_FIGURE`] (rows read by [`crate::page`] are within it, so only
    /// a sum over many warehouses can get there).
    pub fn figures(
        &self,
        row: &OfferStock,
        sku: &str,
        observed_at: u64,
    ) -> Result<Vec<DesiredStock>, SyncError> {
        let mut figures = Vec::new();
        self.figures_into(row, sku.to_string(), observed_at, &mut figures)?;
        Ok(figures)
    }

    /// [`Availability::figures`], appended to `out`, so that a caller taking
    /// rows one after another can keep one buffer for them; the SKU moves into
    /// the row's last figure. On an error, `out` may hold some of the row's
    /// figures.
    ///
    /// # Errors
    /// As [`Availability::figures`].
    pub fn figures_into(
        &self,
        row: &OfferStock,
        sku: String,
        observed_at: u64,
        out: &mut Vec<DesiredStock>,
    ) -> Result<(), SyncError> {
        let desired = |sku, warehouse_id, quantity, reserve| {
            Ok(DesiredStock {
                key: StockKey { sku, warehouse_id },
                stock: self.checked(row.id, quantity, reserve)?,
                observed_at,
            })
        };
        if !self.per_warehouse && self.warehouses.is_empty() {
            out.push(desired(sku, None, row.quantity, row.reserve)?);
            return Ok(());
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
            for w in chosen {
                out.push(desired(sku.clone(), Some(w.id), w.quantity, w.reserve)?);
            }
            return Ok(());
        }
        let (quantity, reserve) = chosen.fold((0.0, 0.0), |(q, r), w| {
            (q + w.quantity, r + w.reserve.max(0.0))
        });
        out.push(desired(sku, None, quantity, reserve)?);
        Ok(())
    }

    fn is_chosen(&self, w: &WarehouseStock) -> bool {
        self.warehouses.is_empty()
            || self.warehouses.iter().any(|c| c.matches_id(w.id))
            || self.name_chosen(&w.name)
    }

    /// Whether a chosen name matches this warehouse name.
    ///
    /// Every row lists the same few warehouses, so the answer for each name met
    /// is remembered: comparing a name with those met costs far less than
    /// lowercasing it again, character by character.
    fn name_chosen(&self, name: &str) -> bool {
        let mut met = self.names_met.borrow_mut();
        if let Some((_, chosen)) = met.iter().find(|(known, _)| known == name) {
            return *chosen;
        }
        let chosen = self.warehouses.iter().any(|c| c.matches_name(name));
        if met.len() < NAMES_REMEMBERED {
            met.push((name.to_string(), chosen));
        }
        chosen
    }

    /// [`Availability::available`], after refusing figures it cannot be trusted on.
    fn checked(&self, offer: u64, quantity: f64, reserve: f64) -> Result<f64, SyncError> {
        for (name, figure) in [("quantity", quantity), ("reserve", reserve)] {
            if !figure.is_finite() || figure.abs() > MAX_FIGURE {
                return Err(SyncError::new(
                    ErrorCode::BadPage,
                    format!(
                        "offer {offer}: {name} {figure:e} is beyond {MAX_FIGURE:e} units, which no stock holds"
                    ),
                ));
            }
        }
        let stock = self.available(quantity, reserve);
        debug_assert!(stock.is_finite() && (0.0..=MAX_FIGURE).contains(&stock));
        Ok(stock)
    }

    /// Sellable units from a quantity and a reserve: never below zero, floored to
    /// whole units unless fractional output was asked for.
    ///
    /// A negative reserve (a KeyCRM fault) is read as 0, so what can be sold never
    /// exceeds the quantity; a negative quantity (oversold) gives 0. For figures
    /// within ±[`MAX_FIGURE`], the result is finite and within [0, `MAX_FIGURE`].
    pub fn available(&self, quantity: f64, reserve: f64) -> f64 {
        let raw = if self.keep_reserve {
            quantity
        } else {
            quantity - reserve.max(0.0)
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
    fn a_negative_reserve_never_raises_availability() {
        let r = rules("{}");
        assert_eq!(r.available(5.0, -3.0), 5.0);
        assert_eq!(r.available(-4.0, 0.0), 0.0);
        assert_eq!(r.available(-4.0, -10.0), 0.0);
        let f = rules(r#"{"fractional": true}"#);
        assert_eq!(f.available(2.5, -1e15), 2.5);
        let mut negative = row();
        negative.reserve = -3.0;
        negative.quantity = 5.0;
        assert_eq!(stocks(r.figures(&negative, "a", 0).unwrap()), [(None, 5.0)]);
        // Summed over warehouses: a negative reserve in one does not free the
        // reserve of another.
        let mut breakdown = row();
        breakdown.warehouse.as_mut().unwrap()[1].reserve = -100.0;
        let both = rules(r#"{"warehouses": [1, 2]}"#);
        assert_eq!(
            stocks(both.figures(&breakdown, "a", 0).unwrap()),
            [(None, 9.0)]
        );
    }

    #[test]
    fn figures_beyond_the_ceiling_are_refused_never_infinite() {
        let r = rules("{}");
        // At the ceiling, everything stays finite.
        assert_eq!(r.available(MAX_FIGURE, -MAX_FIGURE), MAX_FIGURE);
        assert_eq!(r.available(-MAX_FIGURE, MAX_FIGURE), 0.0);
        let f = rules(r#"{"fractional": true}"#);
        assert_eq!(f.available(MAX_FIGURE, 0.5), MAX_FIGURE - 0.5);
        // A sum over warehouses can pass the ceiling although no figure does.
        let mut huge = row();
        for w in huge.warehouse.as_mut().unwrap() {
            w.quantity = MAX_FIGURE;
            w.reserve = 0.0;
        }
        let err = rules(r#"{"warehouses": [1, 2]}"#)
            .figures(&huge, "a", 0)
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::BadPage);
        assert!(
            err.message.contains("offer 7: quantity 2e15"),
            "{}",
            err.message
        );
        // Per warehouse, each is within it.
        let per = rules(r#"{"perWarehouse": true}"#);
        assert_eq!(
            stocks(per.figures(&huge, "a", 0).unwrap()),
            [(Some(1), MAX_FIGURE), (Some(2), MAX_FIGURE)]
        );
        // Figures that did not come through the page reader are checked too.
        let mut bad = row();
        bad.quantity = f64::INFINITY;
        assert_eq!(
            r.figures(&bad, "a", 0).unwrap_err().code,
            ErrorCode::BadPage
        );
        bad.quantity = 1e302;
        bad.reserve = -1e302;
        assert_eq!(
            r.figures(&bad, "a", 0).unwrap_err().code,
            ErrorCode::BadPage
        );
    }

    #[test]
    fn chosen_warehouses_match_as_the_options_say() {
        let names = [
            "Київ",
            " київ ",
            "КИЇВ",
            "Основний",
            "ΟΔΟΣ",
            "οδος",
            "οδοσ",
            "ΟΔΟΣ Α",
            "İstanbul",
            "i\u{307}stanbul",
            "istanbul",
            "ß",
            "SS",
            "",
            " ",
        ];
        for wanted in names {
            for name in names {
                let reference = WarehouseRef::Name(wanted.to_string());
                let w = WarehouseStock {
                    id: 1,
                    name: name.into(),
                    quantity: 0.0,
                    reserve: 0.0,
                };
                assert_eq!(
                    Chosen::of(&reference).matches(&w),
                    reference.matches(w.id, &w.name),
                    "{wanted:?} against {name:?}"
                );
            }
        }
    }

    #[test]
    fn names_met_are_decided_the_same_each_time_and_past_those_remembered() {
        let r = rules(r#"{"warehouses": ["київ", 1], "fractional": true}"#);
        // More names than are remembered, each met twice: the answers do not change.
        for round in 0..2 {
            for n in 0..NAMES_REMEMBERED + 8 {
                let mut other = row();
                let breakdown = other.warehouse.as_mut().unwrap();
                breakdown[0].id = 100 + n as u64;
                breakdown[0].name = format!("Склад {n}").into();
                assert_eq!(
                    stocks(r.figures(&other, "a", 0).unwrap()),
                    [(None, 0.5)],
                    "round {round}, name {n}"
                );
            }
            // The same name under another id, and an id chosen whatever its name.
            assert_eq!(stocks(r.figures(&row(), "a", 0).unwrap()), [(None, 7.5)]);
            let mut renamed = row();
            renamed.warehouse.as_mut().unwrap()[1].name = " КИЇВ ".into();
            renamed.warehouse.as_mut().unwrap()[1].id = 9;
            assert_eq!(stocks(r.figures(&renamed, "a", 0).unwrap()), [(None, 7.5)]);
        }
    }

    #[test]
    fn differs_ignores_noise() {
        assert!(!differs(0.2, 0.1 + 0.1));
        assert!(differs(1.0, 2.0));
    }
}
