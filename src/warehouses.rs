//! The warehouses a scan has seen, and whether the chosen ones are among them.
//!
//! KeyCRM has no endpoint that lists warehouses: they appear only inside stock rows
//! read with `filter[details]=true`. So a chosen warehouse is known to exist once a
//! row mentions it, and known not to exist only when the scan is over.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::error::{ErrorCode, SyncError};
use crate::options::WarehouseRef;
use crate::page::OfferStock;

/// A warehouse as seen in stock rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WarehouseSeen {
    /// KeyCRM's id.
    pub id: u64,
    /// Its name.
    pub name: String,
}

/// Warehouses seen so far, against the ones the options chose.
#[derive(Debug, Clone, Default)]
pub struct WarehouseBook {
    chosen: Vec<WarehouseRef>,
    seen: BTreeMap<u64, String>,
    all_found: bool,
}

impl WarehouseBook {
    /// A book for the chosen warehouses (none chosen: all of them, nothing to find).
    pub fn new(chosen: &[WarehouseRef]) -> Self {
        WarehouseBook {
            chosen: chosen.to_vec(),
            seen: BTreeMap::new(),
            all_found: chosen.is_empty(),
        }
    }

    /// Notes the warehouses a row mentions.
    pub fn note(&mut self, row: &OfferStock) {
        let Some(breakdown) = &row.warehouse else {
            return;
        };
        for w in breakdown {
            if !self.seen.contains_key(&w.id) {
                self.meet(w.id, &w.name);
            }
        }
    }

    /// Notes a warehouse seen for the first time. Apart from [`note`](Self::note),
    /// which runs for every row, so that V8 optimises only what every row runs.
    #[cold]
    #[inline(never)]
    fn meet(&mut self, id: u64, name: &str) {
        self.seen.insert(id, name.to_string());
        self.all_found = self.missing().is_empty();
    }

    /// Whether every chosen warehouse has been seen, so figures may be written.
    pub fn all_found(&self) -> bool {
        self.all_found
    }

    /// The chosen warehouses not seen (yet).
    pub fn missing(&self) -> Vec<&WarehouseRef> {
        self.chosen
            .iter()
            .filter(|r| !self.seen.iter().any(|(id, name)| r.matches(*id, name)))
            .collect()
    }

    /// How many warehouses have been seen.
    pub fn seen_count(&self) -> usize {
        self.seen.len()
    }

    /// Every warehouse seen, by id.
    pub fn seen(&self) -> Vec<WarehouseSeen> {
        self.seen
            .iter()
            .map(|(id, name)| WarehouseSeen {
                id: *id,
                name: name.clone(),
            })
            .collect()
    }

    /// The error for a scan that ended with chosen warehouses never seen.
    pub fn missing_error(&self) -> SyncError {
        let missing: Vec<String> = self.missing().iter().map(|r| r.to_string()).collect();
        let seen: Vec<String> = self
            .seen
            .iter()
            .map(|(id, name)| format!("{id} \"{name}\""))
            .collect();
        let seen = if seen.is_empty() {
            "none".to_string()
        } else {
            seen.join(", ")
        };
        SyncError::new(
            ErrorCode::UnknownWarehouse,
            format!(
                "warehouse {} not found in KeyCRM; warehouses seen: {seen}",
                missing.join(", ")
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::page::StockPage;

    fn rows(json: &str) -> Vec<OfferStock> {
        StockPage::from_json(json).unwrap().data
    }

    #[test]
    fn found_once_every_choice_was_seen() {
        let mut book =
            WarehouseBook::new(&[WarehouseRef::Id(2), WarehouseRef::Name("київ".into())]);
        assert!(!book.all_found());
        for row in rows(
            r#"{"data":[{"id":1,"quantity":0,"reserve":0,
            "warehouse":[{"id":2,"name":"Основний","quantity":0,"reserve":0}]}]}"#,
        ) {
            book.note(&row);
        }
        assert!(!book.all_found());
        for row in rows(
            r#"{"data":[{"id":2,"quantity":0,"reserve":0,
            "warehouse":[{"id":5,"name":"Київ","quantity":0,"reserve":0}]}]}"#,
        ) {
            book.note(&row);
        }
        assert!(book.all_found());
    }

    #[test]
    fn error_lists_what_was_seen() {
        let mut book = WarehouseBook::new(&[WarehouseRef::Name("Kyiv".into())]);
        for row in rows(
            r#"{"data":[{"id":1,"quantity":0,"reserve":0,"warehouse":[
                {"id":1,"name":"Основний","quantity":0,"reserve":0},
                {"id":2,"name":"Київ","quantity":0,"reserve":0}]}]}"#,
        ) {
            book.note(&row);
        }
        let err = book.missing_error();
        assert_eq!(err.code, ErrorCode::UnknownWarehouse);
        assert_eq!(
            err.message,
            "warehouse \"Kyiv\" not found in KeyCRM; warehouses seen: 1 \"Основний\", 2 \"Київ\""
        );
        assert_eq!(book.seen().len(), 2);
    }

    #[test]
    fn nothing_chosen_is_always_found() {
        assert!(WarehouseBook::new(&[]).all_found());
    }
}
