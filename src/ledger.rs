//! The SKU rules: offers read twice, offers without a SKU, SKUs on two offers.
//!
//! A SKU on two offers is ambiguous: the site cannot tell which figure is right, so
//! neither is written. The second offer may come pages after the first, when the
//! first one's figure is already written; the ledger keeps the values each write
//! replaced, so the engine can put them back.

use std::collections::{HashMap, HashSet};

use crate::availability::StockKey;
use crate::diff::StockChange;

/// What to do with a row, by its offer id and SKU.
#[derive(Debug, PartialEq)]
pub enum Admission {
    /// First sight of this offer and its SKU: compute and write its figures.
    Accept,
    /// The offer was read before (pages shift while a scan runs): ignore it.
    AlreadyRead,
    /// The offer has no SKU: skip it, counted.
    WithoutSku,
    /// Another offer has this SKU: write nothing for it. `restore` lists the rows an
    /// earlier write already changed, with the values they had before.
    Ambiguous {
        /// Changes that undo earlier writes for this SKU.
        restore: Vec<StockChange>,
    },
}

#[derive(Debug)]
enum SkuState {
    Single {
        offer_id: u64,
        replaced: Vec<(StockKey, Option<f64>)>,
    },
    Ambiguous,
}

/// Every offer and SKU a scan has met.
#[derive(Debug, Default)]
pub struct SkuLedger {
    offers: HashSet<u64>,
    skus: HashMap<String, SkuState>,
    duplicates: Vec<String>,
    without_sku: u64,
}

impl SkuLedger {
    /// An empty ledger.
    pub fn new() -> Self {
        SkuLedger::default()
    }

    /// Decides what to do with an offer's row.
    pub fn admit(&mut self, offer_id: u64, sku: Option<&str>) -> Admission {
        if !self.offers.insert(offer_id) {
            return Admission::AlreadyRead;
        }
        let Some(sku) = sku else {
            self.without_sku += 1;
            return Admission::WithoutSku;
        };
        match self.skus.get_mut(sku) {
            None => {
                self.skus.insert(
                    sku.to_string(),
                    SkuState::Single {
                        offer_id,
                        replaced: Vec::new(),
                    },
                );
                Admission::Accept
            }
            Some(SkuState::Ambiguous) => Admission::Ambiguous {
                restore: Vec::new(),
            },
            Some(state @ SkuState::Single { .. }) => {
                let SkuState::Single { replaced, .. } =
                    std::mem::replace(state, SkuState::Ambiguous)
                else {
                    unreachable!("matched Single above")
                };
                self.duplicates.push(sku.to_string());
                Admission::Ambiguous {
                    restore: replaced
                        .into_iter()
                        .map(|(key, before)| StockChange::new(&key, before))
                        .collect(),
                }
            }
        }
    }

    /// Remembers that a write replaced `before` in `key`'s row.
    pub fn record_write(&mut self, key: &StockKey, before: Option<f64>) {
        if let Some(SkuState::Single { replaced, .. }) = self.skus.get_mut(&key.sku) {
            // Keep the first value replaced: that is what the site had before the run.
            if !replaced.iter().any(|(k, _)| k == key) {
                replaced.push((key.clone(), before));
            }
        }
    }

    /// Whether KeyCRM has this SKU (on one offer or several).
    pub fn knows(&self, sku: &str) -> bool {
        self.skus.contains_key(sku)
    }

    /// Whether the SKU is on one offer only, so its figures may be written.
    pub fn is_unique(&self, sku: &str) -> bool {
        matches!(self.skus.get(sku), Some(SkuState::Single { .. }))
    }

    /// The offer a unique SKU belongs to.
    pub fn offer_of(&self, sku: &str) -> Option<u64> {
        match self.skus.get(sku) {
            Some(SkuState::Single { offer_id, .. }) => Some(*offer_id),
            _ => None,
        }
    }

    /// Distinct offers read.
    pub fn offers(&self) -> u64 {
        self.offers.len() as u64
    }

    /// Offers skipped for having no SKU.
    pub fn without_sku(&self) -> u64 {
        self.without_sku
    }

    /// SKUs found on more than one offer, in the order they were found.
    pub fn duplicates(&self) -> &[String] {
        &self.duplicates
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(sku: &str) -> StockKey {
        StockKey {
            sku: sku.into(),
            warehouse_id: None,
        }
    }

    #[test]
    fn offers_read_twice_count_once() {
        let mut ledger = SkuLedger::new();
        assert_eq!(ledger.admit(1, Some("a")), Admission::Accept);
        assert_eq!(ledger.admit(1, Some("a")), Admission::AlreadyRead);
        assert_eq!(ledger.admit(2, None), Admission::WithoutSku);
        assert_eq!(ledger.admit(2, None), Admission::AlreadyRead);
        assert_eq!((ledger.offers(), ledger.without_sku()), (2, 1));
        assert!(ledger.is_unique("a"));
        assert_eq!(ledger.offer_of("a"), Some(1));
    }

    #[test]
    fn second_offer_makes_a_sku_ambiguous_and_restores_writes() {
        let mut ledger = SkuLedger::new();
        ledger.admit(1, Some("a"));
        ledger.record_write(&key("a"), Some(4.0));
        ledger.record_write(&key("a"), Some(9.0));
        let Admission::Ambiguous { restore } = ledger.admit(7, Some("a")) else {
            panic!("expected ambiguous")
        };
        assert_eq!(restore, [StockChange::new(&key("a"), Some(4.0))]);
        assert_eq!(
            ledger.admit(8, Some("a")),
            Admission::Ambiguous { restore: vec![] }
        );
        assert_eq!(ledger.duplicates(), ["a"]);
        assert!(ledger.knows("a") && !ledger.is_unique("a"));
        assert!(!ledger.knows("b"));
    }

    #[test]
    fn writes_of_ambiguous_skus_are_not_recorded() {
        let mut ledger = SkuLedger::new();
        ledger.admit(1, Some("a"));
        ledger.admit(2, Some("a"));
        ledger.record_write(&key("a"), Some(1.0));
        assert_eq!(
            ledger.admit(3, Some("a")),
            Admission::Ambiguous { restore: vec![] }
        );
    }
}
