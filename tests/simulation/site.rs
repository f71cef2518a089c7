//! The simulated site: one stock table, with an observed-at column when the seed
//! says so, and every value each row ever held (to tell a row's old values).

use std::collections::{BTreeMap, HashMap};

use keycrm_stock_sync::{SiteStock, StockChange, StockKey};

#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub stock: Option<f64>,
    pub observed_at: Option<u64>,
}

/// The order `read` returns rows in: sinks differ.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum ReadOrder {
    /// The order of the keys asked for, as a sink reading key by key gives them.
    #[default]
    Keys,
    /// By SKU, as the SQL sinks give them.
    Sku,
    /// The keys' order reversed.
    Reversed,
}

#[derive(Clone)]
pub struct Site {
    pub rows: BTreeMap<String, Row>,
    /// Whether the table keeps when each figure was observed (`observedColumn`).
    pub tracks_observed: bool,
    pub read_order: ReadOrder,
    /// Per SKU: (from when, value), oldest first.
    history: HashMap<String, Vec<(u64, Option<f64>)>>,
}

impl Site {
    pub fn new(rows: BTreeMap<String, Option<f64>>, tracks_observed: bool, now: u64) -> Site {
        let history = rows
            .iter()
            .map(|(sku, stock)| (sku.clone(), vec![(now, *stock)]))
            .collect();
        Site {
            rows: rows
                .into_iter()
                .map(|(sku, stock)| {
                    let row = Row {
                        stock,
                        observed_at: None,
                    };
                    (sku, row)
                })
                .collect(),
            tracks_observed,
            read_order: ReadOrder::default(),
            history,
        }
    }

    /// The same table, its history starting over at `now`.
    pub fn settled_copy(&self, now: u64) -> Site {
        let rows = self
            .rows
            .iter()
            .map(|(k, r)| (k.clone(), r.stock))
            .collect();
        let mut copy = Site::new(rows, self.tracks_observed, now);
        copy.rows = self.rows.clone();
        copy.read_order = self.read_order;
        copy
    }

    pub fn read(&self, keys: &[StockKey]) -> Vec<SiteStock> {
        let mut rows: Vec<SiteStock> = keys
            .iter()
            .filter_map(|k| {
                let row = self.rows.get(&k.sku).filter(|_| k.warehouse_id.is_none())?;
                Some(SiteStock {
                    sku: k.sku.clone(),
                    warehouse_id: None,
                    stock: row.stock,
                    observed_at: row.observed_at,
                })
            })
            .collect();
        match self.read_order {
            ReadOrder::Keys => {}
            ReadOrder::Sku => rows.sort_by(|a, b| a.sku.cmp(&b.sku)),
            ReadOrder::Reversed => rows.reverse(),
        }
        rows
    }

    pub fn read_all(&self) -> Vec<SiteStock> {
        self.rows
            .iter()
            .map(|(sku, row)| SiteStock {
                sku: sku.clone(),
                warehouse_id: None,
                stock: row.stock,
                observed_at: row.observed_at,
            })
            .collect()
    }

    /// One transaction, as the SQL sinks write it: a change observed earlier than
    /// the row's figure leaves the row alone.
    pub fn write(&mut self, changes: &[StockChange], now: u64) {
        for c in changes {
            let Some(row) = self.rows.get_mut(&c.sku) else {
                continue;
            };
            if self.tracks_observed {
                if let (Some(have), Some(at)) = (row.observed_at, c.observed_at) {
                    if have > at {
                        continue;
                    }
                }
                row.observed_at = c.observed_at.or(row.observed_at);
            }
            row.stock = c.stock;
            self.history
                .entry(c.sku.clone())
                .or_default()
                .push((now, c.stock));
        }
    }

    /// Whether the row held `value` at some moment from `from` on.
    pub fn held_since(&self, sku: &str, from: u64, value: Option<f64>) -> bool {
        let Some(values) = self.history.get(sku) else {
            return false;
        };
        let start = values.iter().rposition(|(at, _)| *at <= from).unwrap_or(0);
        values[start..].iter().any(|(_, v)| match (v, value) {
            (Some(a), Some(b)) => close(*a, b),
            (None, None) => true,
            _ => false,
        })
    }
}

pub fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}
