//! The SKUs a scan pass has applied, kept as 64-bit hashes so that they can travel
//! in its [`ScanCursor`](crate::pagination::ScanCursor) from one run to the next.
//!
//! # The hash
//!
//! [`sku_hash`] is FNV-1a 64 over the SKU's UTF-8 bytes: fixed, the same on every
//! platform and in every version (a cursor written by one run is read by another,
//! possibly on another machine). Two different SKUs may share a hash; for `n`
//! distinct SKUs the chance that any two of a pass do is about `n² / 2⁶⁵`:
//! 3 × 10⁻¹⁰ at 100 000 SKUs. Such a collision only makes a row take the smaller
//! of its value and the new figure (see the [SKU rules](super)), never a figure
//! KeyCRM did not hold.
//!
//! # The text form
//!
//! The hashes, sorted ascending and without repeats, as little-endian `u64`s
//! encoded in unpadded base64url (`A–Z a–z 0–9 - _`): 32 characters for every three
//! hashes, about 10 667 characters per 1 000 SKUs. The empty set is the empty
//! string. Text that is not exactly this form is refused.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::pagination::MAX_PAGES;
use crate::request::PAGE_LIMIT;

/// The most hashes a cursor may carry: one per offer of the largest scan.
pub const MAX_SKU_HASHES: usize = (MAX_PAGES * PAGE_LIMIT) as usize;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// The stable 64-bit hash of a SKU: FNV-1a 64 over its UTF-8 bytes.
pub fn sku_hash(sku: &str) -> u64 {
    sku.bytes().fold(FNV_OFFSET, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(FNV_PRIME)
    })
}

/// A set of SKU hashes, sorted and without repeats.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SkuHashes(Vec<u64>);

impl SkuHashes {
    /// The empty set: nothing known.
    pub fn new() -> Self {
        SkuHashes::default()
    }

    /// The set of these hashes, in any order, repeats allowed.
    pub fn from_hashes(mut hashes: Vec<u64>) -> Self {
        hashes.sort_unstable();
        hashes.dedup();
        SkuHashes(hashes)
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many hashes the set holds.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the set holds this hash.
    pub fn contains(&self, hash: u64) -> bool {
        self.0.binary_search(&hash).is_ok()
    }

    /// Whether the set holds the hash of this SKU.
    pub fn contains_sku(&self, sku: &str) -> bool {
        self.contains(sku_hash(sku))
    }

    /// This set together with `more` (in any order, repeats allowed).
    pub fn union(&self, more: impl IntoIterator<Item = u64>) -> Self {
        let mut all = self.0.clone();
        all.extend(more);
        SkuHashes::from_hashes(all)
    }

    /// The text form (see the [module docs](self)).
    pub fn encode(&self) -> String {
        let mut text = String::with_capacity((self.0.len() * 32).div_ceil(3));
        let mut bits: u32 = 0;
        let mut held: u32 = 0;
        for byte in self.0.iter().flat_map(|hash| hash.to_le_bytes()) {
            bits = (bits << 8) | u32::from(byte);
            held += 8;
            while held >= 6 {
                held -= 6;
                text.push(char::from(ALPHABET[((bits >> held) & 63) as usize]));
            }
        }
        if held > 0 {
            text.push(char::from(ALPHABET[((bits << (6 - held)) & 63) as usize]));
        }
        text
    }

    /// Reads the text form back.
    ///
    /// # Errors
    /// A message saying what is wrong: a character outside base64url, a length that
    /// is not a whole number of hashes, bits set past the last byte, hashes out of
    /// order or repeated, or more than [`MAX_SKU_HASHES`].
    pub fn decode(text: &str) -> Result<Self, String> {
        let chars = text.len();
        if chars % 32 == 0 {
            // A whole number of groups of three hashes.
        } else if ![11, 22].contains(&(chars % 32)) {
            return Err(format!(
                "{chars} characters are not a whole number of hashes"
            ));
        }
        let count = chars * 3 / 32;
        if count > MAX_SKU_HASHES {
            return Err(format!(
                "{count} hashes, more than the {MAX_SKU_HASHES} one scan can read"
            ));
        }
        let mut bytes = Vec::with_capacity(count * 8);
        let mut bits: u32 = 0;
        let mut held: u32 = 0;
        for (at, c) in text.bytes().enumerate() {
            let Some(value) = sextet(c) else {
                return Err(format!("character {} is not base64url", at + 1));
            };
            bits = (bits << 6) | value;
            held += 6;
            if held >= 8 {
                held -= 8;
                bytes.push((bits >> held) as u8);
            }
        }
        if bits & ((1 << held) - 1) != 0 {
            return Err("bits are set past the last hash".into());
        }
        let hashes: Vec<u64> = bytes
            .chunks_exact(8)
            .map(|chunk| {
                let mut word = [0u8; 8];
                word.copy_from_slice(chunk);
                u64::from_le_bytes(word)
            })
            .collect();
        if hashes.windows(2).any(|pair| pair[0] >= pair[1]) {
            return Err("the hashes are not in ascending order without repeats".into());
        }
        Ok(SkuHashes(hashes))
    }
}

/// The value of one base64url character.
fn sextet(c: u8) -> Option<u32> {
    let value = match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'-' => 62,
        b'_' => 63,
        _ => return None,
    };
    Some(u32::from(value))
}

impl Serialize for SkuHashes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.encode())
    }
}

/// A string in the text form; `null` is the empty set.
impl<'de> Deserialize<'de> for SkuHashes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text: Option<String> = Option::deserialize(deserializer).map_err(|_| {
            serde::de::Error::custom("resumeFrom.skus must be a string of SKU hashes")
        })?;
        SkuHashes::decode(text.as_deref().unwrap_or_default()).map_err(|detail| {
            serde::de::Error::custom(format!(
                "resumeFrom.skus is not a cursor's SKU hashes: {detail}"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_fnv_1a_64() {
        // The published FNV-1a 64 test vectors.
        assert_eq!(sku_hash(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(sku_hash("a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(sku_hash("foobar"), 0x8594_4171_f739_67e8);
        assert_ne!(sku_hash("ТШ-1"), sku_hash("ТШ-2"));
    }

    #[test]
    fn the_text_form_round_trips_at_every_length() {
        let mut next = 0x9e37_79b9_7f4a_7c15_u64;
        for n in 0..40 {
            let hashes: Vec<u64> = (0..n)
                .map(|_| {
                    next = next.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                    next
                })
                .chain([0, u64::MAX].into_iter().take(n.min(2)))
                .collect();
            let set = SkuHashes::from_hashes(hashes);
            let text = set.encode();
            assert_eq!(text.len(), (set.len() * 32).div_ceil(3), "{n}");
            assert!(text
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
            assert_eq!(SkuHashes::decode(&text), Ok(set.clone()), "{text}");
            let json = serde_json::to_string(&set).unwrap();
            assert_eq!(serde_json::from_str::<SkuHashes>(&json).unwrap(), set);
        }
        assert_eq!(SkuHashes::new().encode(), "");
        for (value, &c) in ALPHABET.iter().enumerate() {
            assert_eq!(sextet(c), Some(value as u32));
        }
        assert_eq!(
            SkuHashes::from_hashes(vec![1]).encode(),
            "AQAAAAAAAAA",
            "little-endian"
        );
    }

    #[test]
    fn text_not_in_the_form_is_refused() {
        let swapped = SkuHashes(vec![2, 1]).encode();
        let repeated = SkuHashes(vec![7, 7]).encode();
        for (text, named) in [
            ("AQAAAAAAAA", "not a whole number"),
            ("AQAAAAAAAAA=", "not a whole number"),
            ("AQAAAAAAAA+", "character 11"),
            ("AQAAAAAAAAB", "bits are set"),
            (swapped.as_str(), "ascending"),
            (repeated.as_str(), "repeats"),
        ] {
            let err = SkuHashes::decode(text).unwrap_err();
            assert!(err.contains(named), "{text}: {err}");
        }
        assert!(serde_json::from_str::<SkuHashes>("12").is_err());
        assert_eq!(
            serde_json::from_str::<SkuHashes>("null").unwrap(),
            SkuHashes::new()
        );
    }

    #[test]
    fn union_and_lookup() {
        let set = SkuHashes::from_hashes(vec![sku_hash("b"), sku_hash("a")]);
        let more = set.union([sku_hash("c"), sku_hash("a")]);
        assert_eq!(more.len(), 3);
        assert!(more.contains_sku("c") && more.contains_sku("a") && !more.contains_sku("d"));
        assert!(!set.contains_sku("c"));
    }
}
