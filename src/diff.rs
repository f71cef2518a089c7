//! What the site has against what it should have: only changed rows are written.

use foldhash::HashMap;

use serde::{Deserialize, Serialize};

use crate::availability::{differs, DesiredStock, StockKey};

/// A stock row as the site's database has it (what a sink's `read` returns).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SiteStock {
    /// The row's SKU.
    pub sku: String,
    /// The row's warehouse, in per-warehouse mode.
    #[serde(default)]
    pub warehouse_id: Option<u64>,
    /// The stored figure; `None` when the column is NULL.
    #[serde(default)]
    pub stock: Option<f64>,
    /// When the stored figure was observed in KeyCRM (Unix ms), if the sink keeps
    /// track; a figure observed earlier never replaces it.
    #[serde(default)]
    pub observed_at: Option<u64>,
}

impl SiteStock {
    /// The row's key.
    pub fn key(&self) -> StockKey {
        StockKey {
            sku: self.sku.clone(),
            warehouse_id: self.warehouse_id,
        }
    }
}

/// A value to write into an existing site row (what a sink's `write` takes).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StockChange {
    /// The row's SKU.
    pub sku: String,
    /// The row's warehouse, in per-warehouse mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warehouse_id: Option<u64>,
    /// The new figure: always `Some`, finite and ≥ 0 — a figure KeyCRM held, or 0
    /// when zeroing. Never NULL, NaN or ∞ ([`StockChange::new`] takes a plain
    /// number); an `Option` only so that it reads like [`SiteStock::stock`].
    pub stock: Option<f64>,
    /// When KeyCRM's figure was observed (Unix ms), for sinks that keep track;
    /// absent for zeroing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observed_at: Option<u64>,
}

impl StockChange {
    /// A change of `key` to `stock`, a finite figure ≥ 0 (checked in debug builds;
    /// [`Availability`](crate::Availability) guarantees it for every figure it gives).
    pub fn new(key: &StockKey, stock: f64) -> Self {
        Self::of(key.clone(), stock)
    }

    /// [`StockChange::new`], taking the key.
    fn of(key: StockKey, stock: f64) -> Self {
        debug_assert!(
            stock.is_finite() && stock >= 0.0,
            "a written figure is finite and >= 0, not {stock}"
        );
        let stock = Some(stock);
        StockChange {
            sku: key.sku,
            warehouse_id: key.warehouse_id,
            stock,
            observed_at: None,
        }
    }
}

/// What the site holds in a row a change is for.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SiteFigures {
    /// The figure of the row compared: the last the site returned for the key.
    pub stored: Option<f64>,
    /// The last figure other than NULL among the rows the site returned for the
    /// key: `stored`, unless the site returned the key twice.
    pub last_figure: Option<f64>,
}

/// The outcome of comparing a batch with the site.
#[derive(Debug, Default, PartialEq)]
pub struct Diff {
    /// Rows to write, each with what the site holds in it.
    pub changes: Vec<(StockChange, SiteFigures)>,
    /// Rows already right.
    pub unchanged: u64,
    /// Rows left alone because the site's figure was observed later.
    pub kept_newer: u64,
    /// Keys the site has no row for.
    pub not_on_site: Vec<StockKey>,
}

/// A site row's key, borrowed from the row: its SKU and warehouse.
type SiteKey<'a> = (&'a str, Option<u64>);

/// The site's row for a key (the last it returned for the key), and the last
/// figure other than NULL among its rows for the key.
type Found<'a> = Option<(&'a SiteStock, Option<f64>)>;

/// Compares desired figures with the site's rows for the same keys.
///
/// A NULL on the site always counts as a change. A site figure observed after the
/// desired one (a webhook that came while the page was on its way) is newer and
/// stays: the newest observation wins. A key the site returned twice is compared
/// with the last of its rows.
///
/// `desired` names each key at most once (the engine queues one figure a key).
pub fn diff(desired: Vec<DesiredStock>, site: &[SiteStock]) -> Diff {
    debug_assert!(
        keys_distinct(&desired),
        "a batch compared names each key at most once"
    );
    let found = found_in_order(&desired, site).unwrap_or_else(|| found_by_key(&desired, site));
    let mut out = Diff::default();
    for (want, found) in desired.into_iter().zip(found) {
        match found {
            None => out.not_on_site.push(want.key),
            Some((row, _)) if row.observed_at.is_some_and(|at| at > want.observed_at) => {
                out.kept_newer += 1
            }
            Some((
                SiteStock {
                    stock: Some(have), ..
                },
                _,
            )) if !differs(*have, want.stock) => out.unchanged += 1,
            Some((row, last_figure)) => {
                let site = SiteFigures {
                    stored: row.stock,
                    last_figure,
                };
                let mut change = StockChange::of(want.key, want.stock);
                change.observed_at = Some(want.observed_at);
                out.changes.push((change, site));
            }
        }
    }
    out
}

/// The site's row for each desired key, when the site returned its rows in the
/// order of the keys asked for (as a sink reading key by key gives them), each
/// found after the one before; `None` when a row is not (the rows are then looked
/// up by key).
///
/// Each key is compared with at most one row that is not its own, so this costs
/// at most one comparison a key and one a row, however the rows are ordered.
/// With each key named once, a row found for each key in turn is the only row
/// of its key.
fn found_in_order<'a>(desired: &[DesiredStock], site: &'a [SiteStock]) -> Option<Vec<Found<'a>>> {
    let mut found = vec![None; desired.len()];
    let mut next = 0;
    for row in site {
        let at = desired[next..].iter().position(|want| {
            want.key.warehouse_id == row.warehouse_id && want.key.sku == row.sku
        })?;
        found[next + at] = Some((row, row.stock));
        next += at + 1;
    }
    Some(found)
}

/// The site's row for each desired key, found by key.
fn found_by_key<'a>(desired: &[DesiredStock], site: &'a [SiteStock]) -> Vec<Found<'a>> {
    // Keyed by borrowed SKUs: a batch's lookups copy no string.
    let mut current: HashMap<SiteKey, (&SiteStock, Option<f64>)> =
        HashMap::with_capacity_and_hasher(site.len(), Default::default());
    for row in site {
        current
            .entry((row.sku.as_str(), row.warehouse_id))
            .and_modify(|(last, last_figure)| {
                *last = row;
                *last_figure = row.stock.or(*last_figure);
            })
            .or_insert((row, row.stock));
    }
    desired
        .iter()
        .map(|want| {
            current
                .get(&(want.key.sku.as_str(), want.key.warehouse_id))
                .copied()
        })
        .collect()
}

fn keys_distinct(desired: &[DesiredStock]) -> bool {
    let keys: foldhash::HashSet<&StockKey> = desired.iter().map(|want| &want.key).collect();
    keys.len() == desired.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn want(sku: &str, stock: f64) -> DesiredStock {
        DesiredStock {
            key: StockKey {
                sku: sku.into(),
                warehouse_id: None,
            },
            stock,
            observed_at: 100,
        }
    }

    fn site(sku: &str, stock: Option<f64>) -> SiteStock {
        SiteStock {
            sku: sku.into(),
            warehouse_id: None,
            stock,
            observed_at: None,
        }
    }

    #[test]
    fn only_changed_rows_are_written() {
        let d = diff(
            vec![
                want("a", 5.0),
                want("b", 0.0),
                want("c", 2.0),
                want("d", 1.0),
            ],
            &[site("a", Some(5.0)), site("b", Some(3.0)), site("c", None)],
        );
        assert_eq!(d.unchanged, 1);
        let written: Vec<_> = d
            .changes
            .iter()
            .map(|(c, _)| (c.sku.as_str(), c.stock))
            .collect();
        assert_eq!(written, [("b", Some(0.0)), ("c", Some(2.0))]);
        assert_eq!(d.not_on_site, [want("d", 0.0).key]);
    }

    #[test]
    fn the_newest_observation_wins() {
        let observed = |sku: &str, stock, at| SiteStock {
            observed_at: Some(at),
            ..site(sku, Some(stock))
        };
        // Desired figures were observed at 100 (see `want`).
        let d = diff(
            vec![
                want("webhook-later", 1.0),
                want("webhook-earlier", 1.0),
                want("no-time", 1.0),
            ],
            &[
                observed("webhook-later", 9.0, 150),
                observed("webhook-earlier", 9.0, 50),
                site("no-time", Some(9.0)),
            ],
        );
        assert_eq!(d.kept_newer, 1);
        let written: Vec<_> = d
            .changes
            .iter()
            .map(|(c, _)| (c.sku.as_str(), c.observed_at))
            .collect();
        assert_eq!(
            written,
            [("webhook-earlier", Some(100)), ("no-time", Some(100))]
        );
    }

    #[test]
    fn warehouse_rows_are_distinct_keys() {
        let key = |w| StockKey {
            sku: "a".into(),
            warehouse_id: Some(w),
        };
        let d = diff(
            vec![
                DesiredStock {
                    key: key(1),
                    stock: 1.0,
                    observed_at: 100,
                },
                DesiredStock {
                    key: key(2),
                    stock: 2.0,
                    observed_at: 100,
                },
            ],
            &[SiteStock {
                sku: "a".into(),
                warehouse_id: Some(2),
                stock: Some(2.0),
                observed_at: None,
            }],
        );
        assert_eq!(
            (d.unchanged, d.not_on_site.len(), d.changes.len()),
            (1, 1, 0)
        );
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "a written figure is finite")]
    fn a_change_is_never_infinite() {
        StockChange::new(&want("a", 0.0).key, f64::INFINITY);
    }

    #[test]
    fn change_serializes_for_sinks() {
        let json = serde_json::to_string(&StockChange::new(&want("a", 0.0).key, 3.0)).unwrap();
        assert_eq!(json, r#"{"sku":"a","stock":3.0}"#);
    }

    #[test]
    fn rows_in_the_order_asked_are_found_in_turn_and_others_by_key() {
        let desired = vec![want("a", 1.0), want("b", 1.0), want("c", 1.0)];
        // In order, "b" missing: found in turn.
        let in_turn = [site("a", Some(1.0)), site("c", Some(2.0))];
        assert!(found_in_order(&desired, &in_turn).is_some());
        // Out of order, or a key twice (the last row counts): by key.
        let reversed = [site("c", Some(2.0)), site("a", Some(1.0))];
        assert!(found_in_order(&desired, &reversed).is_none());
        let twice = [site("a", Some(5.0)), site("a", Some(1.0)), site("b", None)];
        assert!(found_in_order(&desired, &twice).is_none());
        let d = diff(desired, &twice);
        assert_eq!((d.unchanged, d.changes.len()), (1, 1));
        assert_eq!(d.changes[0].1.stored, None);
        assert_eq!(d.not_on_site, [want("c", 0.0).key]);
    }

    /// Which row is found for each key: its index in `site`, and the last figure.
    #[cfg(not(target_arch = "wasm32"))]
    fn rows_found(found: &[Found], site: &[SiteStock]) -> Vec<Option<(usize, Option<f64>)>> {
        found
            .iter()
            .map(|f| {
                f.map(|(row, last)| {
                    let at = site.iter().position(|r| std::ptr::eq(r, row)).unwrap();
                    (at, last)
                })
            })
            .collect()
    }

    #[cfg(not(target_arch = "wasm32"))]
    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config::with_cases(512))]

        /// Finding rows in turn, whenever it does, finds what looking them up by
        /// key finds: the same row (the last of its key) and the same last figure.
        #[test]
        fn rows_found_in_turn_are_those_found_by_key(
            keys in proptest::collection::btree_set((0u8..12, proptest::option::of(1u64..3)), 0..10),
            picks in proptest::collection::vec((0usize..16, proptest::option::of(0u8..3)), 0..14),
            shuffle in proptest::bool::ANY,
        ) {
            let key = |(sku, warehouse_id): (u8, Option<u64>)| StockKey {
                sku: format!("s{sku}"),
                warehouse_id,
            };
            let desired: Vec<DesiredStock> = keys
                .iter()
                .map(|&k| DesiredStock { key: key(k), stock: 1.0, observed_at: 100 })
                .collect();
            // Rows of desired keys (in their order unless shuffled), of others,
            // and of some keys twice.
            let mut picks = picks;
            if !shuffle {
                picks.sort_by_key(|&(at, _)| at);
            }
            let site: Vec<SiteStock> = picks
                .iter()
                .map(|&(at, stock)| {
                    let k = desired.get(at).map_or_else(|| key((20 + at as u8, None)), |d| d.key.clone());
                    SiteStock {
                        sku: k.sku,
                        warehouse_id: k.warehouse_id,
                        stock: stock.map(f64::from),
                        observed_at: None,
                    }
                })
                .collect();
            let by_key = found_by_key(&desired, &site);
            match found_in_order(&desired, &site) {
                Some(in_turn) => proptest::prop_assert_eq!(
                    rows_found(&in_turn, &site),
                    rows_found(&by_key, &site)
                ),
                // Rows of distinct desired keys, in their order, are found in turn.
                None => proptest::prop_assert!(
                    shuffle
                        || picks.iter().any(|&(at, _)| at >= desired.len())
                        || picks.windows(2).any(|w| w[0].0 == w[1].0)
                ),
            }
        }
    }
}
