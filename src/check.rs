//! The mismatch report: a read-only whole-catalogue scan that says, completely,
//! where the site and KeyCRM disagree.
//!
//! A check (`check: true` in the options) reads every offer as a sync would, with
//! the same figures (warehouses, reserve, per-warehouse rows, fractions) and the
//! same [SKU rules](crate::ledger), but it writes nothing and asks the site for its
//! rows once, with `readAll`, after the scan. [`CheckCollector`] keeps what the
//! scan read; [`CheckCollector::findings`] compares it with the site's rows:
//!
//! - **stock differs** — a site row whose figure a sync would change, with the
//!   site's figure and KeyCRM's (the same comparison as a sync: a site figure
//!   observed after KeyCRM's stays, and is not a finding);
//! - **missing in KeyCRM** — a site row whose SKU no offer has;
//! - **not on site** — an offer with a figure for a row the site lacks (in
//!   per-warehouse mode, one finding per missing warehouse row);
//! - **without SKU** — an offer with no SKU;
//! - **duplicate SKU** — a SKU on several offers, with their ids;
//! - **near miss** — a KeyCRM SKU and a site SKU that differ only in letter case or
//!   surrounding whitespace, where one of the two has no exact counterpart: the
//!   usual reason a row "does not sync";
//! - **invalid SKU** — an offer skipped because its SKU holds U+0000.
//!
//! Every list is complete and in a stable order. Nothing here does I/O.
//!
//! **Product names.** The stock list carries no product name. With `names` in the
//! options, once the findings are known, the offers with no site row are read
//! again with their product ([`NameLookup`]): `GET /offers?filter[id]=…&include=product`,
//! [`NAMES_PER_REQUEST`] offers a request, so `n` such offers cost
//! `ceil(n / 50)` more requests, paced, retried and budgeted as the scan's are.
//! A lookup that fails for good (after its retries, or when a budget or the
//! deadline leaves no room) does not fail the check: the names it did not get
//! stay `null`, and [`CheckFindings::warnings`] says why.

use std::collections::{BTreeMap, BTreeSet};

use foldhash::{HashMap, HashSet};

use serde::Serialize;

use crate::availability::{Availability, DesiredStock, StockKey};
use crate::diff::{diff, SiteStock};
use crate::engine::SyncEngine;
use crate::error::{ErrorCode, SyncError};
use crate::json_read::{read_text, Read, Reader};
use crate::ledger::{is_storable, Admission};
use crate::options::SyncOptions;
use crate::page::OfferStock;

/// Refuses options a check cannot honour: it reads the whole catalogue from its
/// first page and writes nothing.
///
/// # Errors
/// [`ErrorCode::InvalidConfig`](crate::ErrorCode::InvalidConfig) for `offerIds`,
/// `skus`, `orderId`, `resumeFrom` or `zeroMissing` together with `check`.
pub fn check_options(options: &SyncOptions) -> Result<(), SyncError> {
    if options.is_filtered()
        || options.order_id.is_some()
        || options.resume_from.is_some()
        || options.zero_missing
    {
        return Err(SyncError::config(
            "check compares the whole catalogue in one scan and writes nothing; offerIds, skus, orderId, resumeFrom and zeroMissing do not apply",
        ));
    }
    Ok(())
}

impl SyncEngine {
    /// A check: a read-only whole-catalogue scan that ends by reading every row of
    /// the site (`readAll`) and comparing, and reports its findings in
    /// [`SyncReport::findings`](crate::SyncReport::findings). It is a dry run:
    /// [`Action::WriteSite`](crate::Action::WriteSite) never comes, and neither does
    /// [`Action::ReadSite`](crate::Action::ReadSite).
    ///
    /// # Errors
    /// [`ErrorCode::InvalidConfig`](crate::ErrorCode::InvalidConfig) for options a
    /// check cannot honour (see [`check_options`]).
    pub fn for_check(options: SyncOptions, now_ms: u64, seed: u64) -> Result<Self, SyncError> {
        check_options(&options)?;
        let options = SyncOptions {
            dry_run: true,
            ..options
        };
        let mut engine = SyncEngine::new(options, now_ms, seed);
        engine.check = Some(CheckCollector::new());
        Ok(engine)
    }
}

/// Where the site and KeyCRM disagree, every finding of every kind. Serialized in
/// camelCase as the report's `findings`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckFindings {
    /// Site rows a sync would change, by SKU then warehouse.
    pub stock_differs: Vec<StockDiffers>,
    /// Site rows whose SKU KeyCRM lacks, by SKU then warehouse.
    pub missing_in_keycrm: Vec<MissingInKeycrm>,
    /// Offers with a figure for a row the site lacks, by offer id then warehouse.
    pub not_on_site: Vec<NotOnSiteOffer>,
    /// Offers without a SKU, by id.
    pub without_sku: Vec<u64>,
    /// SKUs on several offers, by SKU.
    pub duplicate_skus: Vec<DuplicateSku>,
    /// KeyCRM SKUs that differ from a site SKU only in case or surrounding
    /// whitespace, by KeyCRM's SKU then the site's.
    pub near_misses: Vec<NearMiss>,
    /// Offers skipped because their SKU holds U+0000, by id.
    pub invalid_skus: Vec<InvalidSku>,
    /// What the check could not do although its findings are complete: product
    /// names it could not read (see the [module docs](self)). Left out of the JSON
    /// when empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl CheckFindings {
    /// Whether a stock on the site differs from KeyCRM's: what makes a check fail.
    pub fn has_stock_mismatch(&self) -> bool {
        !self.stock_differs.is_empty()
    }
}

/// A site row a sync would change.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StockDiffers {
    /// The row's SKU.
    pub sku: String,
    /// The row's warehouse, in per-warehouse mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warehouse_id: Option<u64>,
    /// The site's figure; `None` for NULL.
    pub site: Option<f64>,
    /// The figure a sync would write.
    pub keycrm: f64,
}

/// A site row whose SKU no offer in KeyCRM has.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MissingInKeycrm {
    /// The row's SKU.
    pub sku: String,
    /// The row's warehouse, in per-warehouse mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warehouse_id: Option<u64>,
    /// The site's figure; `None` for NULL.
    pub site: Option<f64>,
}

/// An offer with a figure for a row the site lacks.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NotOnSiteOffer {
    /// The offer's id in KeyCRM.
    pub offer_id: u64,
    /// The offer's SKU.
    pub sku: String,
    /// The warehouse of the missing row, in per-warehouse mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warehouse_id: Option<u64>,
    /// The figure a sync would write into the row, were it there.
    pub keycrm: f64,
    /// The offer's product name, when names were asked for (`Some`): `Some(None)`
    /// (JSON `null`) when KeyCRM gave none or the lookup failed. Left out of the
    /// JSON when names were not asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<Option<String>>,
}

/// A SKU on several offers.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DuplicateSku {
    /// The SKU.
    pub sku: String,
    /// Its offers, ascending.
    pub offer_ids: Vec<u64>,
}

/// A KeyCRM SKU and a site SKU equal but for case or surrounding whitespace.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NearMiss {
    /// KeyCRM's SKU.
    pub sku: String,
    /// The site's SKU.
    pub site_sku: String,
    /// The offers with KeyCRM's SKU, ascending.
    pub offer_ids: Vec<u64>,
}

/// An offer skipped because its SKU holds U+0000.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InvalidSku {
    /// The offer's id.
    pub offer_id: u64,
    /// The SKU as KeyCRM has it.
    pub sku: String,
}

/// The outcome of comparing a check's scan with the site: the findings, and the
/// counts a sync's report would carry.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CheckOutcome {
    /// Every finding.
    pub findings: CheckFindings,
    /// Rows already right.
    pub unchanged: u64,
    /// Rows whose site figure was observed after KeyCRM's.
    pub kept_newer: u64,
    /// Keys the site has no row for.
    pub not_on_site: Vec<StockKey>,
}

/// An offer as the scan read it.
#[derive(Debug)]
struct ReadOffer {
    /// Its SKU, as read.
    sku: Option<String>,
    /// The keys it has figures for, with its own figure.
    figures: Vec<(StockKey, f64)>,
}

/// What a check's scan read: each offer once, with the keys of its figures, and
/// the figure a sync would write per key.
#[derive(Debug, Default)]
pub struct CheckCollector {
    /// Offers by id.
    offers: BTreeMap<u64, ReadOffer>,
    /// Per key, the smallest figure among its offers and the newest observation
    /// among them (the [SKU rules](crate::ledger)).
    desired: HashMap<StockKey, (f64, u64)>,
    /// The findings, once the site's rows were compared.
    findings: Option<CheckFindings>,
    /// The product names of the offers with no site row, when asked for.
    names: Option<NameLookup>,
}

impl CheckCollector {
    /// An empty collector.
    pub fn new() -> Self {
        CheckCollector::default()
    }

    /// Takes one row the ledger has judged; returns whether the offer was new to
    /// the run, as a sync's `take_row` does.
    ///
    /// # Errors
    /// [`ErrorCode::BadPage`](crate::ErrorCode::BadPage) from
    /// [`Availability::figures`].
    pub fn take_row(
        &mut self,
        availability: &Availability,
        row: &OfferStock,
        admission: Admission,
        observed_at: u64,
    ) -> Result<bool, SyncError> {
        let figures = match admission {
            Admission::AlreadyRead => return Ok(false),
            Admission::WithoutSku | Admission::InvalidSku => Vec::new(),
            Admission::Accept | Admission::SeenEarlier | Admission::Shared => {
                let sku = row.sku.as_deref().unwrap_or_default();
                availability.figures(row, sku, observed_at)?
            }
        };
        let keys = figures.iter().map(|f| (f.key.clone(), f.stock)).collect();
        for DesiredStock {
            key,
            stock,
            observed_at,
        } in figures
        {
            self.desired
                .entry(key)
                .and_modify(|(low, newest)| {
                    *low = low.min(stock);
                    *newest = (*newest).max(observed_at);
                })
                .or_insert((stock, observed_at));
        }
        let offer = ReadOffer {
            sku: row.sku.clone(),
            figures: keys,
        };
        self.offers.insert(row.id, offer);
        Ok(true)
    }

    /// Compares what the scan read with every row of the site, and keeps the
    /// findings for [`findings`](Self::findings).
    pub fn take_site(&mut self, site: &[SiteStock]) -> CheckOutcome {
        let outcome = self.compare(site);
        self.findings = Some(outcome.findings.clone());
        outcome
    }

    /// Starts looking up the product names of the offers with no site row, once
    /// [`take_site`](Self::take_site) found them; none to look up is a lookup
    /// already done.
    pub fn look_up_names(&mut self) {
        let ids = self
            .findings
            .iter()
            .flat_map(|f| f.not_on_site.iter().map(|o| o.offer_id));
        self.names = Some(NameLookup::new(ids));
    }

    /// The product-name lookup, once started.
    pub fn names(&self) -> Option<&NameLookup> {
        self.names.as_ref()
    }

    /// The product-name lookup, once started, to hand it answers.
    pub fn names_mut(&mut self) -> Option<&mut NameLookup> {
        self.names.as_mut()
    }

    /// The findings, once [`take_site`](Self::take_site) compared the site, with
    /// the product names read since, if they were asked for.
    pub fn findings(&self) -> Option<CheckFindings> {
        let mut findings = self.findings.clone()?;
        if let Some(names) = &self.names {
            for offer in &mut findings.not_on_site {
                offer.name = Some(names.name_of(offer.offer_id));
            }
            findings.warnings.extend(names.warnings());
        }
        Some(findings)
    }

    /// Compares what the scan read with every row of the site.
    pub fn compare(&self, site: &[SiteStock]) -> CheckOutcome {
        let mut findings = CheckFindings::default();
        let desired: Vec<DesiredStock> = self
            .desired
            .iter()
            .map(|(key, &(stock, observed_at))| DesiredStock {
                key: key.clone(),
                stock,
                observed_at,
            })
            .collect();
        let outcome = diff(desired, site);
        findings.stock_differs = outcome
            .changes
            .into_iter()
            .filter_map(|(change, on_site)| {
                Some(StockDiffers {
                    keycrm: change.stock?,
                    site: on_site.stored,
                    sku: change.sku,
                    warehouse_id: change.warehouse_id,
                })
            })
            .collect();
        let current: HashSet<StockKey> = site.iter().map(SiteStock::key).collect();
        sort_by_row(&mut findings.stock_differs, |f| (&f.sku, f.warehouse_id));

        // Offers by SKU, for duplicates, near misses and what the site lacks.
        let mut by_sku: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
        let mut invalid: BTreeSet<&str> = BTreeSet::new();
        for (&id, ReadOffer { sku, figures }) in &self.offers {
            match sku.as_deref() {
                None => findings.without_sku.push(id),
                Some(sku) if !is_storable(sku) => {
                    invalid.insert(sku);
                    findings.invalid_skus.push(InvalidSku {
                        offer_id: id,
                        sku: sku.to_string(),
                    });
                }
                Some(sku) => {
                    by_sku.entry(sku).or_default().push(id);
                    for (key, stock) in figures {
                        if !current.contains(key) {
                            findings.not_on_site.push(NotOnSiteOffer {
                                offer_id: id,
                                sku: sku.to_string(),
                                warehouse_id: key.warehouse_id,
                                keycrm: self.desired.get(key).map_or(*stock, |d| d.0),
                                name: None,
                            });
                        }
                    }
                }
            }
        }
        findings.duplicate_skus = by_sku
            .iter()
            .filter(|(_, ids)| ids.len() > 1)
            .map(|(sku, ids)| DuplicateSku {
                sku: (*sku).to_string(),
                offer_ids: ids.clone(),
            })
            .collect();

        // Built by inserting: collecting would sort a list first, with code of
        // its own in the wasm.
        let mut site_skus = BTreeSet::new();
        site_skus.extend(site.iter().map(|row| row.sku.as_str()));
        findings.missing_in_keycrm = site
            .iter()
            .filter(|row| {
                !by_sku.contains_key(row.sku.as_str()) && !invalid.contains(row.sku.as_str())
            })
            .map(|row| MissingInKeycrm {
                sku: row.sku.clone(),
                warehouse_id: row.warehouse_id,
                site: row.stock,
            })
            .collect();
        sort_by_row(&mut findings.missing_in_keycrm, |f| {
            (&f.sku, f.warehouse_id)
        });
        findings.near_misses = near_misses(&by_sku, &site_skus);

        CheckOutcome {
            findings,
            unchanged: outcome.unchanged,
            kept_newer: outcome.kept_newer,
            not_on_site: outcome.not_on_site,
        }
    }
}

/// Most offers one product-name request asks for: KeyCRM's largest page.
pub const NAMES_PER_REQUEST: usize = 50;

/// The product names of some offers, read [`NAMES_PER_REQUEST`] offers a request
/// (see the [module docs](self)). It decides what to ask for and keeps what came
/// back; the engine makes the requests.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct NameLookup {
    /// The offers to name, ascending, in chunks of at most [`NAMES_PER_REQUEST`].
    chunks: Vec<Vec<u64>>,
    /// The chunk to ask for next.
    next: usize,
    /// The names read, by offer id.
    names: HashMap<u64, String>,
    /// Why the lookup stopped before its end, if it did.
    stopped: Option<String>,
}

/// A page of `GET /offers?include=product`, as much as names need: each
/// offer's id and its product's name.
fn offer_names(text: &str) -> Read<Vec<(u64, Option<String>)>> {
    read_text(text, |reader| {
        let mut offers = None;
        reader.object("a page of offers", &["data"], &mut |reader, _| {
            offers = Some(reader.list("the offers of a page", offer_name)?);
            Ok(())
        })?;
        offers.ok_or_else(|| reader.missing("data"))
    })
}

/// An offer's id and its product's name: `None` when the product or its name
/// is null or absent.
fn offer_name(reader: &mut Reader) -> Read<(u64, Option<String>)> {
    let (mut id, mut name) = (None, None);
    reader.object("an offer", &["id", "product"], &mut |reader, field| {
        if field == 0 {
            id = Some(reader.whole()?);
        } else {
            name = reader.nullable(product_name)?.flatten();
        }
        Ok(())
    })?;
    Ok((id.ok_or_else(|| reader.missing("id"))?, name))
}

/// A product's name, `None` when it is null or absent.
fn product_name(reader: &mut Reader) -> Read<Option<String>> {
    let mut name = None;
    reader.object("an offer's product", &["name"], &mut |reader, _| {
        name = reader.nullable(Reader::string)?;
        Ok(())
    })?;
    Ok(name)
}

impl NameLookup {
    /// A lookup of the names of these offers.
    pub fn new(offer_ids: impl IntoIterator<Item = u64>) -> Self {
        let mut ids: Vec<u64> = offer_ids.into_iter().collect();
        ids.sort_unstable();
        ids.dedup();
        NameLookup {
            chunks: ids.chunks(NAMES_PER_REQUEST).map(<[u64]>::to_vec).collect(),
            ..NameLookup::default()
        }
    }

    /// The offers the next request asks for; `None` once every chunk was read or
    /// the lookup stopped.
    pub fn next_ids(&self) -> Option<&[u64]> {
        if self.stopped.is_some() {
            return None;
        }
        self.chunks.get(self.next).map(Vec::as_slice)
    }

    /// Requests the whole lookup takes: one per [`NAMES_PER_REQUEST`] offers.
    pub fn requests(&self) -> usize {
        self.chunks.len()
    }

    /// Takes the answer to the request for [`next_ids`](Self::next_ids): the
    /// names of the offers asked for (others in the answer are ignored).
    ///
    /// # Errors
    /// [`ErrorCode::BadPage`] when the body is not a page of offers; nothing is
    /// kept, and the same offers are asked for again.
    pub fn take(&mut self, body: &str) -> Result<(), SyncError> {
        let Some(asked) = self.chunks.get(self.next) else {
            return Ok(());
        };
        let offers = offer_names(body).map_err(|e| {
            SyncError::new(
                ErrorCode::BadPage,
                format!("the answer to the product-name lookup is not a page of offers: {e}"),
            )
        })?;
        for (id, name) in offers {
            if let (true, Some(name)) = (asked.contains(&id), name) {
                self.names.insert(id, name);
            }
        }
        self.next += 1;
        Ok(())
    }

    /// Ends the lookup early: the offers not read yet keep no name, and the
    /// report's warnings say why.
    pub fn stop(&mut self, reason: &str) {
        if self.stopped.is_none() {
            self.stopped = Some(reason.to_string());
        }
    }

    /// The product name of an offer, if it was read.
    pub fn name_of(&self, offer_id: u64) -> Option<String> {
        self.names.get(&offer_id).cloned()
    }

    /// What went wrong, for the report: the lookup stopped early, or KeyCRM sent
    /// no name for some offers.
    pub fn warnings(&self) -> Vec<String> {
        let total: usize = self.chunks.iter().map(Vec::len).sum();
        let asked: usize = self.chunks[..self.next].iter().map(Vec::len).sum();
        let mut out = Vec::new();
        if let Some(reason) = &self.stopped {
            out.push(format!(
                "product names were not read for {} of the {total} offers with no site row: {reason}",
                total - asked
            ));
        }
        let unnamed = asked - self.names.len();
        if unnamed > 0 {
            out.push(format!(
                "KeyCRM sent no product name for {unnamed} of the {asked} offers asked for"
            ));
        }
        out
    }
}

/// A SKU as people mean it: without surrounding whitespace, in lower case.
pub fn loose_sku(sku: &str) -> String {
    sku.trim().to_lowercase()
}

/// Pairs of a KeyCRM SKU and a site SKU that differ but are equal
/// [loosely](loose_sku), where the KeyCRM SKU has no site row or the site SKU is
/// on no offer.
/// Sorts findings by their row (SKU, then warehouse), findings of one row in the
/// order they came. One sort of (row, place) serves every kind of finding: a
/// sort compiled per kind costs the wasm several KB each.
fn sort_by_row<T>(findings: &mut Vec<T>, row: impl Fn(&T) -> (&str, Option<u64>)) {
    let mut order: Vec<(&str, Option<u64>, usize)> = findings
        .iter()
        .enumerate()
        .map(|(place, finding)| {
            let (sku, warehouse_id) = row(finding);
            (sku, warehouse_id, place)
        })
        .collect();
    // Places are distinct, so no two entries are equal: the order is stable.
    order.sort_unstable();
    let order: Vec<usize> = order.into_iter().map(|(_, _, place)| place).collect();
    let mut slots: Vec<Option<T>> = findings.drain(..).map(Some).collect();
    findings.extend(
        order
            .into_iter()
            .filter_map(|place| slots.get_mut(place).and_then(Option::take)),
    );
}

fn near_misses(keycrm: &BTreeMap<&str, Vec<u64>>, site: &BTreeSet<&str>) -> Vec<NearMiss> {
    let mut site_by_loose: HashMap<String, Vec<&str>> = HashMap::default();
    for sku in site {
        site_by_loose.entry(loose_sku(sku)).or_default().push(sku);
    }
    let mut out = Vec::new();
    for (sku, offer_ids) in keycrm {
        let Some(candidates) = site_by_loose.get(&loose_sku(sku)) else {
            continue;
        };
        for site_sku in candidates {
            if site_sku == sku || (site.contains(sku) && keycrm.contains_key(site_sku)) {
                continue;
            }
            out.push(NearMiss {
                sku: (*sku).to_string(),
                site_sku: (*site_sku).to_string(),
                offer_ids: offer_ids.clone(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn findings_sort_by_row_and_keep_the_order_of_one_rows() {
        let mut findings = vec![
            ("b", None, 1),
            ("a", Some(2), 2),
            ("a", None, 3),
            ("b", None, 4),
            ("a", Some(1), 5),
            ("a", None, 6),
        ];
        sort_by_row(&mut findings, |&(sku, warehouse_id, _)| (sku, warehouse_id));
        let order: Vec<u32> = findings.iter().map(|f| f.2).collect();
        assert_eq!(order, [3, 6, 5, 2, 1, 4]);
        let mut none: Vec<(&str, Option<u64>)> = Vec::new();
        sort_by_row(&mut none, |&(sku, warehouse_id)| (sku, warehouse_id));
        assert!(none.is_empty());
    }

    #[test]
    fn loose_skus_ignore_case_and_surrounding_whitespace_only() {
        assert_eq!(loose_sku("  Mug-RED\t"), "mug-red");
        assert_ne!(loose_sku("mug red"), loose_sku("mugred"));
        assert_eq!(loose_sku("ЧАШКА"), "чашка");
    }
}
