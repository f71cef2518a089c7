//! A set of offer ids, for ids that mostly come in ascending order.
//!
//! KeyCRM lists offers by ascending id and a scan takes its pages in order, so
//! nearly every id a scan records is larger than every one before it. Such an id
//! is appended to a sorted list: no hashing, and no table to grow and fill again
//! as a scan of 100 000 offers goes on. An id that comes out of order (a page
//! read again after offers shifted, a catalogue listed otherwise, a webhook's
//! offers) goes to a hash set beside the list. Either way an insert or a lookup
//! costs at most a binary search and a hash lookup.

use foldhash::HashSet;

/// A set of `u64` ids (see the [module docs](self)).
#[derive(Debug, Clone, Default)]
pub struct IdSet {
    /// Ids that came in ascending order, sorted.
    ascending: Vec<u64>,
    /// The others. No id is in both: an id joins `rest` only when it is not in
    /// `ascending` and below its last id, and `ascending` only grows upwards.
    rest: HashSet<u64>,
}

impl IdSet {
    /// An empty set.
    pub fn new() -> Self {
        IdSet::default()
    }

    /// Adds `id`; whether it was not in the set.
    pub fn insert(&mut self, id: u64) -> bool {
        match self.ascending.last() {
            Some(&last) if id <= last => {
                self.ascending.binary_search(&id).is_err() && self.rest.insert(id)
            }
            _ => {
                self.ascending.push(id);
                true
            }
        }
    }

    /// Whether `id` is in the set.
    pub fn contains(&self, id: u64) -> bool {
        self.ascending.binary_search(&id).is_ok() || self.rest.contains(&id)
    }

    /// How many ids the set holds.
    pub fn len(&self) -> usize {
        self.ascending.len() + self.rest.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Empties the set.
    pub fn clear(&mut self) {
        self.ascending.clear();
        self.rest.clear();
    }

    /// The ids, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        self.ascending.iter().chain(&self.rest).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn holds_ids_in_any_order_once() {
        let mut set = IdSet::new();
        let mut model = BTreeSet::new();
        // Ascending runs, repeats, and ids below the largest, as pages that
        // shifted bring them.
        let ids = [
            5,
            7,
            9,
            9,
            3,
            7,
            12,
            4,
            4,
            20,
            11,
            1,
            20,
            21,
            0,
            u64::MAX,
            6,
        ];
        for id in ids {
            assert_eq!(set.insert(id), model.insert(id), "insert {id}");
            assert_eq!(set.len(), model.len());
        }
        for id in 0..25 {
            assert_eq!(set.contains(id), model.contains(&id), "contains {id}");
        }
        assert!(set.contains(u64::MAX));
        let mut all: Vec<u64> = set.iter().collect();
        all.sort_unstable();
        assert_eq!(all, model.iter().copied().collect::<Vec<_>>());
        set.clear();
        assert!(set.is_empty() && !set.contains(5));
        assert!(set.insert(5));
    }

    #[cfg(not(target_arch = "wasm32"))]
    proptest::proptest! {
        /// Any sequence of inserts, ascending runs and repeats alike, leaves the
        /// set a `BTreeSet` would hold.
        #[test]
        fn agrees_with_a_btree_set(
            mut ids in proptest::collection::vec(0u64..64, 0..200),
            ascending in 0usize..200,
        ) {
            // A first stretch in ascending order, as a scan brings them.
            let ascending = ascending.min(ids.len());
            ids[..ascending].sort_unstable();
            let mut set = IdSet::new();
            let mut model = BTreeSet::new();
            for id in ids {
                proptest::prop_assert_eq!(set.insert(id), model.insert(id));
            }
            proptest::prop_assert_eq!(set.len(), model.len());
            for id in 0..64 {
                proptest::prop_assert_eq!(set.contains(id), model.contains(&id));
            }
        }
    }
}
