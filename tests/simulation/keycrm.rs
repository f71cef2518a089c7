//! The simulated KeyCRM: a catalogue that changes while it is read, its history
//! (to tell which figures KeyCRM really held), and its pages as Laravel serves them.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;

use super::rng::Rng;
use super::Faults;

#[derive(Clone, Debug, PartialEq)]
pub struct Offer {
    pub id: u64,
    pub sku: Option<String>,
    pub quantity: f64,
    pub reserve: f64,
}

/// How figures become what can be sold, as the options ask for it. Written from the
/// rules' statement, not from the engine's code: reserve counts from 0 up, and a
/// figure too large for the millionth rounding is taken as it is.
#[derive(Clone, Copy, Debug)]
pub struct Rules {
    pub keep_reserve: bool,
    pub fractional: bool,
}

impl Rules {
    pub fn available(&self, quantity: f64, reserve: f64) -> f64 {
        let raw = if self.keep_reserve {
            quantity
        } else {
            quantity - reserve.max(0.0)
        };
        let settled = if raw.abs() < 1e15 {
            (raw * 1e6).round() / 1e6
        } else {
            raw
        };
        let value = if self.fractional {
            settled
        } else {
            settled.floor()
        };
        value.max(0.0) + 0.0
    }
}

/// One state of an offer, from `at` on; `None` once deleted.
type State = (u64, Option<Offer>);

#[derive(Clone)]
pub struct Catalogue {
    /// Ascending id order, as KeyCRM lists them.
    pub offers: Vec<Offer>,
    pub per_page: usize,
    pub without_last_page: bool,
    next_id: u64,
    next_sku: u64,
    history: HashMap<u64, Vec<State>>,
    /// Every offer that ever carried a SKU.
    by_sku: HashMap<String, BTreeSet<u64>>,
    /// Largest `total` any answer announced.
    pub announced_max: u64,
    /// Unless deletions and additions may mix: whether this catalogue only grows
    /// (else it only shrinks).
    grows_only: bool,
}

/// What a page answer carries besides its body: the offers in it.
pub struct Served {
    pub body: String,
    pub ids: Vec<u64>,
}

/// Ways an envelope may lie, when that fault family is on.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Envelope {
    Honest,
    /// `last_page: 0` with a `next_page_url`.
    LastPageZero,
    /// `total` far above the offers that exist.
    TotalInflated,
    /// `next_page_url: null` on a page that is not the last, `last_page` saying more.
    NullNextEarly,
}

impl Catalogue {
    pub fn generate(rng: &mut Rng, faults: &Faults, now: u64) -> Catalogue {
        let mut cat = Catalogue {
            offers: Vec::new(),
            per_page: 50,
            without_last_page: rng.chance(0.3),
            next_id: rng.range(1, 500),
            next_sku: 1,
            history: HashMap::new(),
            by_sku: HashMap::new(),
            announced_max: 0,
            grows_only: rng.chance(0.5),
        };
        let size = match rng.below(10) {
            0 => 0,
            1..=5 => rng.range(1, 60),
            _ => rng.range(40, 170),
        };
        for _ in 0..size {
            let offer = cat.new_offer(rng, faults);
            cat.offers.push(offer.clone());
            cat.record(now, offer.id, Some(offer));
        }
        cat
    }

    fn new_offer(&mut self, rng: &mut Rng, faults: &Faults) -> Offer {
        let id = self.next_id;
        self.next_id += rng.range(1, 3);
        let sku = self.some_sku(rng, faults);
        let (quantity, reserve) = figures(rng, faults);
        Offer {
            id,
            sku,
            quantity,
            reserve,
        }
    }

    fn some_sku(&mut self, rng: &mut Rng, faults: &Faults) -> Option<String> {
        if rng.chance(0.05) {
            return None;
        }
        if faults.duplicate_skus && !self.offers.is_empty() && rng.chance(0.08) {
            let other = rng.pick(&self.offers).sku.clone();
            if other.is_some() {
                return other;
            }
        }
        self.next_sku += 1;
        Some(if rng.chance(0.1) {
            // Digits only: KeyCRM may send it as a bare number.
            format!("{}", 7_000 + self.next_sku)
        } else {
            format!("s{}", self.next_sku)
        })
    }

    fn record(&mut self, at: u64, id: u64, state: Option<Offer>) {
        if let Some(sku) = state.as_ref().and_then(|o| o.sku.clone()) {
            self.by_sku.entry(sku).or_default().insert(id);
        }
        self.history.entry(id).or_default().push((at, state));
    }

    /// One change, as KeyCRM's users make them: what it was, the offer's id, and
    /// the offer after the change when a stock webhook would report it.
    pub fn mutate(
        &mut self,
        rng: &mut Rng,
        faults: &Faults,
        now: u64,
    ) -> (&'static str, u64, Option<Offer>) {
        let mut kind = rng.below(10);
        if !faults.adds_with_deletes && kind < 2 {
            // Only one of the two, so that `total` moves one way.
            kind = if self.grows_only { 0 } else { 1 };
        }
        if self.offers.is_empty() && !faults.adds_with_deletes && !self.grows_only {
            return ("nothing", 0, None);
        }
        if self.offers.is_empty() || kind == 0 {
            let offer = self.new_offer(rng, faults);
            self.offers.push(offer.clone());
            self.record(now, offer.id, Some(offer.clone()));
            return ("added", offer.id, Some(offer));
        }
        let at = rng.below(self.offers.len() as u64) as usize;
        match kind {
            1 => {
                let gone = self.offers.remove(at);
                self.record(now, gone.id, None);
                ("deleted", gone.id, None)
            }
            2 => {
                let sku = self.some_sku(rng, faults);
                self.offers[at].sku = sku;
                let offer = self.offers[at].clone();
                self.record(now, offer.id, Some(offer.clone()));
                ("sku changed", offer.id, None)
            }
            3..=5 => {
                let (_, reserve) = figures(rng, faults);
                self.offers[at].reserve = reserve;
                let offer = self.offers[at].clone();
                self.record(now, offer.id, Some(offer.clone()));
                ("reserve changed", offer.id, Some(offer))
            }
            _ => {
                let (quantity, _) = figures(rng, faults);
                self.offers[at].quantity = quantity;
                let offer = self.offers[at].clone();
                self.record(now, offer.id, Some(offer.clone()));
                ("quantity changed", offer.id, Some(offer))
            }
        }
    }

    /// What can be sold of `sku`, by each offer carrying it at some moment of
    /// `[from, to]`.
    pub fn held(&self, sku: &str, from: u64, to: u64, rules: Rules) -> Vec<f64> {
        let mut out = Vec::new();
        for id in self.by_sku.get(sku).into_iter().flatten() {
            let states = &self.history[id];
            for (i, (at, state)) in states.iter().enumerate() {
                let until = states.get(i + 1).map_or(u64::MAX, |s| s.0);
                if *at > to || until <= from {
                    continue;
                }
                if let Some(o) = state.as_ref().filter(|o| o.sku.as_deref() == Some(sku)) {
                    out.push(rules.available(o.quantity, o.reserve));
                }
            }
        }
        out
    }

    /// Offers that existed, with the same SKU, from `from` to `to`.
    pub fn throughout(&self, from: u64, to: u64) -> Vec<u64> {
        let mut out = Vec::new();
        for (id, states) in &self.history {
            let Some(start) = states.iter().rposition(|(at, _)| *at <= from) else {
                continue;
            };
            let Some(first) = &states[start].1 else {
                continue;
            };
            let steady = states[start + 1..]
                .iter()
                .take_while(|(at, _)| *at <= to)
                .all(|(_, s)| s.as_ref().is_some_and(|o| o.sku == first.sku));
            if steady {
                out.push(*id);
            }
        }
        out.sort_unstable();
        out
    }

    /// Whether some offer carried `sku` all along from `from` to `to`.
    pub fn sku_held_throughout(&self, sku: &str, from: u64, to: u64) -> bool {
        let ids: BTreeSet<u64> = self.throughout(from, to).into_iter().collect();
        self.by_sku.get(sku).is_some_and(|offers| {
            offers.iter().any(|id| {
                ids.contains(id)
                    && self.history[id]
                        .iter()
                        .rev()
                        .find(|(at, _)| *at <= from)
                        .and_then(|(_, s)| s.as_ref())
                        .is_some_and(|o| o.sku.as_deref() == Some(sku))
            })
        })
    }

    /// The catalogue as it is now, with its history starting over at `now`.
    pub fn settled_copy(&self, now: u64) -> Catalogue {
        let mut copy = self.clone();
        copy.history.clear();
        copy.by_sku.clear();
        copy.announced_max = 0;
        for offer in self.offers.clone() {
            copy.record(now, offer.id, Some(offer));
        }
        copy
    }

    /// Page `page` (1-based) by offset, in Laravel's envelope.
    pub fn page(&mut self, rng: &mut Rng, page: u64, envelope: Envelope, drift: bool) -> Served {
        let total = self.offers.len() as u64;
        let per_page = self.per_page as u64;
        let last_page = total.div_ceil(per_page).max(1);
        let start = ((page - 1) * per_page).min(total) as usize;
        let end = (start + self.per_page).min(total as usize);
        let rows = &self.offers[start..end];
        let base = "https://openapi.keycrm.app/v1/offers/stocks";
        let (total_shown, last_shown, next) = match envelope {
            Envelope::Honest => (total, Some(last_page), page < last_page),
            Envelope::LastPageZero => (total, Some(0), true),
            Envelope::TotalInflated => (total * 10 + 200, Some(last_page), page < last_page),
            Envelope::NullNextEarly => (total, Some(last_page), false),
        };
        self.announced_max = self.announced_max.max(total_shown);
        let mut body = String::with_capacity(100 + rows.len() * 110);
        let _ = write!(body, r#"{{"current_page":{page},"data":["#);
        let drifted = if drift && !rows.is_empty() {
            Some(rng.below(rows.len() as u64) as usize)
        } else {
            None
        };
        for (i, o) in rows.iter().enumerate() {
            if i > 0 {
                body.push(',');
            }
            let _ = write!(body, r#"{{"id":{},"sku":"#, o.id);
            match &o.sku {
                None => body.push_str(if rng.chance(0.5) { "null" } else { "\"\"" }),
                Some(s) if s.bytes().all(|b| b.is_ascii_digit()) && rng.chance(0.5) => {
                    body.push_str(s)
                }
                Some(s) => {
                    let _ = write!(body, "\"{s}\"");
                }
            }
            body.push_str(r#","price":10.5,"purchased_price":4"#);
            let as_text = rng.chance(0.05);
            let drop = drifted.filter(|&d| d == i).map(|_| rng.below(2));
            if drop != Some(0) {
                body.push_str(",\"quantity\":");
                figure(&mut body, o.quantity, as_text);
            }
            if drop != Some(1) {
                body.push_str(",\"reserve\":");
                figure(&mut body, o.reserve, as_text);
            }
            body.push('}');
        }
        let _ = write!(
            body,
            r#"],"first_page_url":"{base}?page=1","from":{},"#,
            start + 1
        );
        if let Some(last) = last_shown.filter(|_| !self.without_last_page) {
            let _ = write!(body, r#""last_page":{last},"#);
        }
        if next {
            let _ = write!(body, r#""next_page_url":"{base}?page={}","#, page + 1);
        } else {
            body.push_str(r#""next_page_url":null,"#);
        }
        let _ = write!(
            body,
            r#""path":"{base}","per_page":{per_page},"to":{end},"total":{total_shown}}}"#
        );
        Served {
            body,
            ids: rows.iter().map(|o| o.id).collect(),
        }
    }

    /// A stock webhook's body for these offers, as KeyCRM sends it.
    pub fn webhook_body(offers: &[Offer]) -> String {
        let mut body = String::from("[");
        for (i, o) in offers.iter().enumerate() {
            if i > 0 {
                body.push(',');
            }
            let _ = write!(body, r#"{{"offer_id":{},"sku":"#, o.id);
            match &o.sku {
                None => body.push_str("null"),
                Some(s) => {
                    let _ = write!(body, "\"{s}\"");
                }
            }
            body.push_str(",\"in_stock\":");
            figure(&mut body, o.quantity, false);
            body.push_str(",\"in_reserve\":");
            figure(&mut body, o.reserve, false);
            body.push('}');
        }
        body.push(']');
        body
    }
}

fn figure(body: &mut String, value: f64, as_text: bool) {
    if as_text && value.abs() < 1e9 {
        let _ = write!(body, "\"{value:.3}\"");
    } else {
        let _ = write!(body, "{value:?}");
    }
}

/// A quantity and a reserve: mostly small whole numbers, sometimes fractional, and
/// with the fault families on, negative reserves and figures near f64's limit.
fn figures(rng: &mut Rng, faults: &Faults) -> (f64, f64) {
    let mut quantity = rng.below(40) as f64;
    let mut reserve = if rng.chance(0.4) {
        rng.below(8) as f64
    } else {
        0.0
    };
    if rng.chance(0.15) {
        quantity += rng.below(1000) as f64 / 1000.0;
        reserve += rng.below(4) as f64 / 4.0;
    }
    if faults.negative_reserve && rng.chance(0.04) {
        reserve = -(rng.range(1, 5) as f64);
    }
    if faults.huge_figures && rng.chance(0.02) {
        if rng.chance(0.5) {
            quantity = 1e303 * rng.range(1, 100) as f64;
        } else {
            reserve = -1e303 * rng.range(1, 100) as f64;
        }
    }
    (quantity, reserve)
}
