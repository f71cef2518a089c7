//! A map from SKUs, for the ledger: the SKUs' text in a few shared buffers, each
//! entry keeping its SKU's hash.
//!
//! The ledger meets most of a catalogue's SKUs once each, so its map grows through
//! a scan, and looks SKUs up on every offer row. A `HashMap<String, _>` allocates
//! (and later frees) each SKU on its own, and hashes every SKU again each time it
//! grows. Here a SKU's text is appended to a chunk of text, and its entry holds
//! where it lies and its hash: growing the table reads no text. Chunks are never
//! reallocated, so the text is not copied as it grows either.

use std::hash::BuildHasher;

use foldhash::fast::RandomState;
use hashbrown::hash_table::{Entry, HashTable};

/// Where a SKU's entry is in its map, until the next SKU is added (which may move
/// every entry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Place(usize);

/// A value per SKU.
#[derive(Debug)]
pub(super) struct SkuMap<V> {
    table: HashTable<SkuEntry<V>>,
    text: SkuText,
    hasher: RandomState,
}

/// Every SKU's text, one after another, in chunks filled in turn.
#[derive(Debug, Default)]
struct SkuText(Vec<String>);

/// Room for a chunk of [`SkuText`], in bytes: some hundreds of SKUs.
const CHUNK_BYTES: usize = 4096;

/// Where a SKU's text lies in a [`SkuText`].
#[derive(Debug, Clone, Copy)]
struct Span {
    chunk: usize,
    start: usize,
    end: usize,
}

#[derive(Debug)]
struct SkuEntry<V> {
    /// The SKU's hash, kept so that growing the table reads no text.
    hash: u64,
    /// Where the SKU's text lies in the map's `text`.
    span: Span,
    value: V,
}

impl<V> Default for SkuMap<V> {
    fn default() -> Self {
        SkuMap {
            table: HashTable::new(),
            text: SkuText::default(),
            hasher: RandomState::default(),
        }
    }
}

impl<V> SkuMap<V> {
    /// The SKU's value, added by `new` if the SKU is new, with where it is and
    /// whether it was added.
    pub(super) fn get_or_insert_with(
        &mut self,
        sku: &str,
        new: impl FnOnce() -> V,
    ) -> (&mut V, Place, bool) {
        let hash = self.hasher.hash_one(sku);
        let text = &self.text;
        let entry = self.table.entry(
            hash,
            |entry| entry.hash == hash && text.holds(entry.span, sku),
            |entry| entry.hash,
        );
        let (entry, added) = match entry {
            Entry::Occupied(found) => (found, false),
            Entry::Vacant(slot) => {
                let entry = SkuEntry {
                    hash,
                    span: self.text.push(sku),
                    value: new(),
                };
                (slot.insert(entry), true)
            }
        };
        let place = Place(entry.bucket_index());
        (&mut entry.into_mut().value, place, added)
    }

    /// The SKU's value, if the SKU is in the map.
    #[inline]
    pub(super) fn get(&self, sku: &str) -> Option<&V> {
        let hash = self.hasher.hash_one(sku);
        self.table
            .find(hash, |entry| {
                entry.hash == hash && self.text.holds(entry.span, sku)
            })
            .map(|entry| &entry.value)
    }

    /// The SKU's value, if the SKU is in the map; looked for first at `place`.
    ///
    /// Inlined into its callers, which look SKUs up for every row: a call of its
    /// own measured about twice the instructions of the lookup itself.
    #[inline(always)]
    pub(super) fn get_mut(&mut self, sku: &str, place: Option<Place>) -> Option<&mut V> {
        if let Some(Place(index)) = place {
            let here = self.table.get_bucket(index);
            if here.is_some_and(|entry| self.text.holds(entry.span, sku)) {
                return self
                    .table
                    .get_bucket_mut(index)
                    .map(|entry| &mut entry.value);
            }
        }
        let hash = self.hasher.hash_one(sku);
        let text = &self.text;
        self.table
            .find_mut(hash, |entry| {
                entry.hash == hash && text.holds(entry.span, sku)
            })
            .map(|entry| &mut entry.value)
    }

    /// Every SKU in the map, in no particular order.
    pub(super) fn skus(&self) -> impl Iterator<Item = &str> + '_ {
        self.table.iter().map(|entry| self.text.get(entry.span))
    }
}

impl SkuText {
    /// Appends a SKU, in a new chunk if the last has no room for it.
    fn push(&mut self, sku: &str) -> Span {
        let fits = self
            .0
            .last()
            .is_some_and(|chunk| chunk.capacity() - chunk.len() >= sku.len());
        if !fits {
            self.0
                .push(String::with_capacity(CHUNK_BYTES.max(sku.len())));
        }
        let chunk = self.0.len() - 1;
        let text = &mut self.0[chunk];
        let start = text.len();
        text.push_str(sku);
        Span {
            chunk,
            start,
            end: text.len(),
        }
    }

    /// The SKU at `span`.
    fn get(&self, span: Span) -> &str {
        &self.0[span.chunk][span.start..span.end]
    }

    /// Whether `span` holds this SKU, comparing bytes (a span holds a whole SKU).
    fn holds(&self, span: Span, sku: &str) -> bool {
        let text = self.0.get(span.chunk).map(String::as_bytes);
        text.and_then(|text| text.get(span.start..span.end)) == Some(sku.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sku_keeps_its_value_as_the_map_grows() {
        let mut map = SkuMap::default();
        let skus: Vec<String> = (0..5_000).map(|n| format!("SKU-{n}")).collect();
        for (n, sku) in skus.iter().enumerate() {
            let (value, _, added) = map.get_or_insert_with(sku, || n);
            assert_eq!((*value, added), (n, true));
        }
        for (n, sku) in skus.iter().enumerate() {
            assert_eq!(map.get(sku), Some(&n));
            let (value, _, added) = map.get_or_insert_with(sku, || 0);
            assert_eq!((*value, added), (n, false));
        }
        assert_eq!(map.get("SKU-5000"), None);
        assert_eq!(map.get("SKU-"), None);
        let mut all: Vec<&str> = map.skus().collect();
        all.sort_unstable();
        let mut expected: Vec<&str> = skus.iter().map(String::as_str).collect();
        expected.sort_unstable();
        assert_eq!(all, expected);
    }

    #[test]
    fn skus_longer_than_a_chunk_and_across_chunks_are_kept_whole() {
        let mut map = SkuMap::default();
        let long = "ї".repeat(CHUNK_BYTES);
        let skus = ["", "a", long.as_str(), "b", &long[2..], "c"];
        for (n, sku) in skus.iter().enumerate() {
            map.get_or_insert_with(sku, || n);
        }
        for n in 0..CHUNK_BYTES {
            map.get_or_insert_with(&format!("{n:05}"), || n);
        }
        for (n, sku) in skus.iter().enumerate() {
            assert_eq!(map.get(sku), Some(&n), "{n}");
        }
        assert_eq!(map.get(&long[..2]), None);
        assert_eq!(map.skus().count(), skus.len() + CHUNK_BYTES);
    }

    #[test]
    fn a_place_is_a_hint_checked_against_the_sku() {
        let mut map = SkuMap::default();
        let (_, a, _) = map.get_or_insert_with("a", || 1);
        let (_, b, _) = map.get_or_insert_with("", || 2);
        assert_eq!(map.get_mut("a", Some(a)).copied(), Some(1));
        assert_eq!(map.get_mut("a", Some(b)).copied(), Some(1));
        assert_eq!(map.get_mut("", Some(a)).copied(), Some(2));
        assert_eq!(map.get_mut("b", Some(a)), None);
        assert_eq!(map.get_mut("a", None).copied(), Some(1));
    }
}
