//! The fast reader of a stock page: one pass over the text, in the shape KeyCRM
//! sends, with nothing buffered.
//!
//! It reads pages as KeyCRM sends them and steps aside for anything else: it
//! gives a page only where serde_json would give the same page, and `None` (not
//! an error) wherever it is not sure, so that [`StockPage::from_json`] then reads
//! the text with the complete reader ([`super::read_page`]), whose verdict and
//! messages stand. So it never refuses
//! anything, and it need not know every rule of the page: a row it cannot take as
//! it is (a figure with an exponent or of more than 15 digits, a key with an
//! escape, a duplicate key, a missing field, a lone surrogate) makes it step
//! aside for the whole page.
//!
//! What it takes, it checks as serde_json does: JSON's grammar (values it skips
//! included), no control character inside a string, nothing after the page but
//! whitespace. `tests/page_reader.rs` holds it to serde_json on random pages and
//! on random byte-level damage to them and to real ones.
//!
//! It takes:
//! - ids and envelope counts as JSON integers that fit `u64`;
//! - figures as JSON numbers without an exponent, or strings holding just such a
//!   number, of up to 15 digits in all (so exact, and within the ceiling);
//! - SKUs as text, a bare whole number that fits `u64`, or null; warehouse
//!   names as text;
//! - text with the escapes JSON allows; `\u` escapes of surrogates only in pairs,
//!   and only in text it reads (a SKU, a name, `next_page_url`).

use std::borrow::Cow;
use std::sync::Arc;

use super::{OfferStock, StockPage, WarehouseStock};
use crate::decimal::short_decimal;
use crate::request::PAGE_LIMIT;

/// Reads `text` as a stock page, or `None` to leave it to the complete reader.
pub fn scan_page(text: &str) -> Option<StockPage> {
    let mut scan = Scan::new(text);
    let page = scan.page()?;
    scan.skip_space();
    (scan.at == text.len()).then_some(page)
}

/// A JSON string in `text` at `*at` (its opening quote, or whitespace before
/// it), decoded; `*at` moves past it. `None` when it is not a well-formed JSON
/// string: a control character, an escape JSON does not have, a lone
/// surrogate. For the options' reader, which reads strings as pages do.
pub(crate) fn string_at(text: &str, at: &mut usize) -> Option<String> {
    let mut scan = Scan::new(text);
    scan.at = *at;
    let decoded = scan.text()?.into_owned();
    *at = scan.at;
    Some(decoded)
}

/// Deepest nesting of a skipped value taken; deeper is left to the complete
/// reader, which has a limit of its own.
const MAX_DEPTH: u32 = 32;

/// Every whole number of up to 19 digits fits `u64`.
const U64_DIGITS: usize = 19;

/// The fields of a page's envelope the reader takes.
#[derive(Clone, Copy)]
enum PageField {
    Total,
    CurrentPage,
    LastPage,
    PerPage,
    NextPageUrl,
    Data,
    Other,
}

/// The fields of an offer's row the reader takes.
#[derive(Clone, Copy)]
enum RowField {
    Id,
    Sku,
    Quantity,
    Reserve,
    Warehouse,
    Other,
}

/// The fields of a warehouse's figures.
#[derive(Clone, Copy)]
enum WarehouseField {
    Id,
    Name,
    Quantity,
    Reserve,
    Other,
}

struct Scan<'a> {
    text: &'a str,
    at: usize,
    /// Warehouse names read so far, as written and decoded: every row of a
    /// page names the same few warehouses, mostly in `\u` escapes.
    names: Vec<(&'a str, Arc<str>)>,
}

/// The most warehouse names remembered per page.
const NAMES_KEPT: usize = 16;

/// A field of an object, read at most once: a key that comes again makes the
/// reader step aside (the page is refused).
struct Once<T>(Option<T>);

impl<T> Once<T> {
    fn new() -> Self {
        Once(None)
    }

    /// Keeps `value`; `None` if it is `None` or the field was read before.
    fn set(&mut self, value: Option<T>) -> Option<()> {
        if self.0.is_some() {
            return None;
        }
        self.0 = Some(value?);
        Some(())
    }
}

impl<'a> Scan<'a> {
    fn new(text: &'a str) -> Self {
        Scan {
            text,
            at: 0,
            names: Vec::new(),
        }
    }

    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    fn skip_space(&mut self) {
        let bytes = self.bytes();
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = bytes.get(self.at) {
            self.at += 1;
        }
    }

    /// The next byte after whitespace, not taken.
    fn peek(&mut self) -> Option<u8> {
        self.skip_space();
        self.bytes().get(self.at).copied()
    }

    /// Takes `byte`, after whitespace.
    fn eat(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.at += 1)
    }

    /// Takes the literal `word` (`null`, `true`, `false`).
    fn word(&mut self, word: &str) -> Option<()> {
        let end = self.at + word.len();
        (self.bytes().get(self.at..end)? == word.as_bytes()).then(|| self.at = end)
    }

    /// `null`, or what `read` takes.
    fn nullable<T>(&mut self, read: impl FnOnce(&mut Self) -> Option<T>) -> Option<Option<T>> {
        if self.peek()? == b'n' {
            self.word("null")?;
            return Some(None);
        }
        read(self).map(Some)
    }

    /// Reads an object's fields: `field(self, which)` takes each value, `which`
    /// being the field's name among `fields` (or `other`). Keys are taken without
    /// escapes only.
    ///
    /// `fields` lists the keys known, in the order KeyCRM sends them, each as it
    /// appears (quoted, with its colon): the next one expected is compared whole
    /// before any key is scanned, and then nothing is compared again. Keys in
    /// another order, or spaced, are read all the same.
    fn object<F: Copy>(
        &mut self,
        fields: &[(&'static str, F)],
        other: F,
        mut field: impl FnMut(&mut Self, F) -> Option<()>,
    ) -> Option<()> {
        self.eat(b'{')?;
        if self.eat(b'}').is_some() {
            return Some(());
        }
        let mut next = 0;
        loop {
            self.skip_space();
            let which = match fields.get(next) {
                Some(&(expected, which))
                    if begins_with(&self.bytes()[self.at..], expected.as_bytes()) =>
                {
                    self.at += expected.len();
                    next += 1;
                    which
                }
                _ => self.unexpected_key(fields, other)?,
            };
            field(self, which)?;
            match self.peek()? {
                b',' => self.at += 1,
                b'}' => {
                    self.at += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// Reads a key that is not the one expected next, and its colon: which of
    /// `fields` it is, or `other`. Apart from [`object`](Self::object), whose loop
    /// runs for every field of every row, since KeyCRM's keys come in order.
    #[cold]
    #[inline(never)]
    fn unexpected_key<F: Copy>(&mut self, fields: &[(&'static str, F)], other: F) -> Option<F> {
        let (key, escaped) = self.written_text()?;
        if escaped {
            return None;
        }
        self.eat(b':')?;
        let known = fields
            .iter()
            .find(|(known, _)| known.get(1..known.len() - 2) == Some(key));
        Some(known.map_or(other, |&(_, which)| which))
    }

    /// Reads an array's elements: `element(self)` takes each.
    fn array(&mut self, mut element: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.eat(b'[')?;
        if self.eat(b']').is_some() {
            return Some(());
        }
        loop {
            element(self)?;
            match self.peek()? {
                b',' => self.at += 1,
                b']' => {
                    self.at += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    fn page(&mut self) -> Option<StockPage> {
        use PageField as F;
        /// The envelope's fields, in the order Laravel's paginator writes them.
        const FIELDS: &[(&str, PageField)] = &[
            ("\"current_page\":", F::CurrentPage),
            ("\"data\":", F::Data),
            ("\"first_page_url\":", F::Other),
            ("\"from\":", F::Other),
            ("\"last_page\":", F::LastPage),
            ("\"last_page_url\":", F::Other),
            ("\"next_page_url\":", F::NextPageUrl),
            ("\"path\":", F::Other),
            ("\"per_page\":", F::PerPage),
            ("\"prev_page_url\":", F::Other),
            ("\"to\":", F::Other),
            ("\"total\":", F::Total),
        ];
        let (mut total, mut current_page) = (Once::new(), Once::new());
        let (mut last_page, mut per_page) = (Once::new(), Once::new());
        let (mut next_page_url, mut data) = (Once::new(), Once::new());
        self.object(FIELDS, F::Other, |scan, field| match field {
            F::Total => total.set(scan.nullable(Self::id)),
            F::CurrentPage => current_page.set(scan.nullable(Self::id)),
            F::LastPage => last_page.set(scan.nullable(Self::id)),
            F::PerPage => per_page.set(scan.nullable(Self::id)),
            F::NextPageUrl => {
                next_page_url.set(scan.nullable(|scan| scan.text().map(Cow::into_owned)))
            }
            F::Data => data.set(scan.rows()),
            F::Other => scan.skip_value(0),
        })?;
        Some(StockPage {
            total: total.0.flatten(),
            current_page: current_page.0.flatten(),
            last_page: last_page.0.flatten(),
            per_page: per_page.0.flatten(),
            next_page_url: next_page_url.0,
            data: data.0?,
        })
    }

    /// The rows of `data`. Not inlined, for the reason given at
    /// [`row`](Self::row): the envelope around it runs once a page.
    #[inline(never)]
    fn rows(&mut self) -> Option<Vec<OfferStock>> {
        let mut rows = Vec::with_capacity(PAGE_LIMIT as usize);
        self.array(|scan| {
            rows.push(scan.row()?);
            Some(())
        })?;
        Some(rows)
    }

    /// Not inlined, nor is [`warehouses`](Self::warehouses): V8 optimises a hot
    /// wasm function whole, at a cost that grows faster than its size, and the
    /// reader inlined into one function made a cold start's first pages cost a
    /// fifth more CPU.
    #[inline(never)]
    fn row(&mut self) -> Option<OfferStock> {
        use RowField as F;
        const FIELDS: &[(&str, RowField)] = &[
            ("\"id\":", F::Id),
            ("\"sku\":", F::Sku),
            ("\"price\":", F::Other),
            ("\"purchased_price\":", F::Other),
            ("\"quantity\":", F::Quantity),
            ("\"reserve\":", F::Reserve),
            ("\"warehouse\":", F::Warehouse),
        ];
        let (mut id, mut sku) = (Once::new(), Once::new());
        let (mut quantity, mut reserve, mut warehouse) = (Once::new(), Once::new(), Once::new());
        self.object(FIELDS, F::Other, |scan, field| match field {
            F::Id => id.set(scan.id()),
            F::Sku => sku.set(scan.sku()),
            F::Quantity => quantity.set(scan.figure()),
            F::Reserve => reserve.set(scan.figure()),
            F::Warehouse => warehouse.set(scan.warehouses()),
            F::Other => scan.skip_value(0),
        })?;
        Some(OfferStock {
            id: id.0?,
            sku: sku.0.flatten(),
            quantity: quantity.0?,
            reserve: reserve.0?,
            warehouse: warehouse.0.flatten(),
        })
    }

    /// The breakdown: a list of warehouses, or null.
    #[inline(never)]
    fn warehouses(&mut self) -> Option<Option<Vec<WarehouseStock>>> {
        self.nullable(|scan| {
            let mut all = Vec::new();
            scan.array(|scan| {
                all.push(scan.warehouse()?);
                Some(())
            })?;
            Some(all)
        })
    }

    fn warehouse(&mut self) -> Option<WarehouseStock> {
        use WarehouseField as F;
        const FIELDS: &[(&str, WarehouseField)] = &[
            ("\"id\":", F::Id),
            ("\"name\":", F::Name),
            ("\"quantity\":", F::Quantity),
            ("\"reserve\":", F::Reserve),
        ];
        let (mut id, mut name) = (Once::new(), Once::new());
        let (mut quantity, mut reserve) = (Once::new(), Once::new());
        self.object(FIELDS, F::Other, |scan, field| match field {
            F::Id => id.set(scan.id()),
            F::Name => name.set(scan.name()),
            F::Quantity => quantity.set(scan.figure()),
            F::Reserve => reserve.set(scan.figure()),
            F::Other => scan.skip_value(0),
        })?;
        Some(WarehouseStock {
            id: id.0?,
            name: name.0.unwrap_or_else(|| Arc::from("")),
            quantity: quantity.0?,
            reserve: reserve.0?,
        })
    }

    /// A whole number ≥ 0 that fits `u64`.
    fn id(&mut self) -> Option<u64> {
        self.skip_space();
        let bytes = self.bytes();
        let start = self.at;
        let mut at = start;
        let mut id: u64 = 0;
        while let Some(digit) = bytes.get(at).filter(|b| b.is_ascii_digit()) {
            let digit = u64::from(digit - b'0');
            // Up to 19 digits cannot overflow; the check (a wide multiply on
            // 32-bit targets) is kept for the 20th.
            id = if at - start < U64_DIGITS {
                id * 10 + digit
            } else {
                id.checked_mul(10)?.checked_add(digit)?
            };
            at += 1;
        }
        let count = at - start;
        if count == 0 || (count > 1 && bytes[start] == b'0') {
            return None;
        }
        if let Some(b'.' | b'e' | b'E') = bytes.get(at) {
            return None;
        }
        self.at = at;
        Some(id)
    }

    /// A figure: a JSON number, or a string holding just such a number (some
    /// Laravel setups send decimals as text), taken as [`short_decimal`] says (of up
    /// to 15 digits, so exact, and within the ceiling).
    fn figure(&mut self) -> Option<f64> {
        self.skip_space();
        let bytes = self.bytes();
        if bytes.get(self.at) == Some(&b'"') {
            let (value, end) = short_decimal(bytes, self.at + 1)?;
            if bytes.get(end) != Some(&b'"') {
                return None;
            }
            self.at = end + 1;
            return Some(value);
        }
        let (value, end) = short_decimal(bytes, self.at)?;
        if let Some(b'e' | b'E') = bytes.get(end) {
            return None;
        }
        self.at = end;
        Some(value)
    }

    /// A SKU: text (blank is none), a whole number, or null.
    fn sku(&mut self) -> Option<Option<String>> {
        match self.peek()? {
            b'n' => {
                self.word("null")?;
                Some(None)
            }
            b'"' => {
                let text = self.text()?;
                Some((!text.trim().is_empty()).then(|| text.into_owned()))
            }
            _ => self.numeric_sku(),
        }
    }

    /// A SKU written as a bare number: as JSON writes it, the number is its own
    /// text. Rare, so kept out of [`row`](Self::row), which V8 optimises whole.
    #[cold]
    #[inline(never)]
    fn numeric_sku(&mut self) -> Option<Option<String>> {
        Some(Some(self.id()?.to_string()))
    }

    /// A string, decoded.
    fn text(&mut self) -> Option<Cow<'a, str>> {
        let (written, escaped) = self.written_text()?;
        if escaped {
            decode(written).map(Cow::Owned)
        } else {
            Some(Cow::Borrowed(written))
        }
    }

    /// Where the run of plain characters from the cursor ends: at a quote or a
    /// backslash. `None` at a control character or the end of the text.
    ///
    /// Eight bytes at a time while they are plain, then byte by byte.
    fn string_end(&self) -> Option<usize> {
        let bytes = self.bytes();
        let mut at = self.at;
        while let Some(chunk) = bytes.get(at..at + 8) {
            let word = u64::from_le_bytes(chunk.try_into().ok()?);
            if has_special(word) {
                break;
            }
            at += 8;
        }
        loop {
            match *bytes.get(at)? {
                b'"' | b'\\' => return Some(at),
                0..=0x1F => return None,
                _ => at += 1,
            }
        }
    }

    /// The character an escape stands for, after its backslash.
    fn escape(&mut self) -> Option<char> {
        let byte = *self.bytes().get(self.at)?;
        self.at += 1;
        Some(match byte {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let unit = self.hex4()?;
                match unit {
                    0xD800..=0xDBFF => {
                        self.word("\\u")?;
                        let low = self.hex4()?;
                        if !(0xDC00..=0xDFFF).contains(&low) {
                            return None;
                        }
                        let code = 0x10000
                            + ((u32::from(unit) - 0xD800) << 10)
                            + (u32::from(low) - 0xDC00);
                        char::from_u32(code)?
                    }
                    0xDC00..=0xDFFF => return None,
                    _ => char::from_u32(u32::from(unit))?,
                }
            }
            _ => return None,
        })
    }

    /// Four hex digits.
    fn hex4(&mut self) -> Option<u16> {
        let digits = self.bytes().get(self.at..self.at + 4)?;
        let mut unit = 0;
        for &digit in digits {
            let value = match digit {
                b'0'..=b'9' => digit - b'0',
                b'a'..=b'f' => digit - b'a' + 10,
                b'A'..=b'F' => digit - b'A' + 10,
                _ => return None,
            };
            unit = unit << 4 | u16::from(value);
        }
        self.at += 4;
        Some(unit)
    }

    /// A warehouse name: a string, decoded once per page and shared after. A
    /// name met before on the page is compared where it stands, not scanned.
    fn name(&mut self) -> Option<Arc<str>> {
        if self.peek()? == b'"' {
            let rest = self.bytes().get(self.at + 1..)?;
            let known = self.names.iter().find(|(written, _)| {
                rest.get(written.len()) == Some(&b'"') && begins_with(rest, written.as_bytes())
            });
            if let Some((written, name)) = known {
                self.at += written.len() + 2;
                return Some(Arc::clone(name));
            }
        }
        let (written, escaped) = self.written_text()?;
        let name: Arc<str> = if escaped {
            decode(written)?.into()
        } else {
            written.into()
        };
        if self.names.len() < NAMES_KEPT {
            self.names.push((written, Arc::clone(&name)));
        }
        Some(name)
    }

    /// A string as written, escapes and all, without its quotes, and whether it
    /// holds an escape; the cursor goes past it. Its escapes are not checked
    /// here: [`decode`] checks them.
    fn written_text(&mut self) -> Option<(&'a str, bool)> {
        self.eat(b'"')?;
        let start = self.at;
        let mut escaped = false;
        loop {
            self.at = self.string_end()?;
            if self.bytes()[self.at] == b'"' {
                self.at += 1;
                return Some((self.text.get(start..self.at - 1)?, escaped));
            }
            escaped = true;
            self.at += 2;
        }
    }

    /// Skips one JSON value of any kind, checking its grammar.
    fn skip_value(&mut self, depth: u32) -> Option<()> {
        match self.peek()? {
            b'"' => {
                self.at += 1;
                self.skip_string()
            }
            b'{' => {
                let depth = depth.checked_add(1).filter(|d| *d <= MAX_DEPTH)?;
                self.object(&[], (), |scan, ()| scan.skip_value(depth))
            }
            b'[' => {
                let depth = depth.checked_add(1).filter(|d| *d <= MAX_DEPTH)?;
                self.array(|scan| scan.skip_value(depth))
            }
            b'n' => self.word("null"),
            b't' => self.word("true"),
            b'f' => self.word("false"),
            _ => self.skip_number(),
        }
    }

    /// Skips a string after its opening quote; a `\u` escape of a surrogate is
    /// left to the complete reader.
    fn skip_string(&mut self) -> Option<()> {
        loop {
            self.at = self.string_end()?;
            if self.bytes()[self.at] == b'"' {
                self.at += 1;
                return Some(());
            }
            self.at += 1;
            if self.bytes().get(self.at) == Some(&b'u') {
                self.at += 1;
                if let 0xD800..=0xDFFF = self.hex4()? {
                    return None;
                }
            } else {
                self.escape()?;
            }
        }
    }

    /// Skips a number in JSON's grammar: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    fn skip_number(&mut self) -> Option<()> {
        let bytes = self.bytes();
        let mut at = self.at;
        if bytes.get(at) == Some(&b'-') {
            at += 1;
        }
        let run = |from: usize| {
            let mut to = from;
            while bytes.get(to).is_some_and(u8::is_ascii_digit) {
                to += 1;
            }
            to
        };
        let end = run(at);
        if end == at || (end - at > 1 && bytes[at] == b'0') {
            return None;
        }
        at = end;
        if bytes.get(at) == Some(&b'.') {
            let end = run(at + 1);
            if end == at + 1 {
                return None;
            }
            at = end;
        }
        if let Some(b'e' | b'E') = bytes.get(at) {
            at += 1;
            if let Some(b'+' | b'-') = bytes.get(at) {
                at += 1;
            }
            let end = run(at);
            if end == at {
                return None;
            }
            at = end;
        }
        self.at = at;
        Some(())
    }
}

/// Whether `bytes` begins with `prefix`: compared in place, eight bytes at a
/// time, rather than by a call to `memcmp` (keys are short).
fn begins_with(bytes: &[u8], prefix: &[u8]) -> bool {
    let Some(head) = bytes.get(..prefix.len()) else {
        return false;
    };
    let mut words = head.chunks_exact(8).zip(prefix.chunks_exact(8));
    let same_words = words.all(|(a, b)| {
        u64::from_le_bytes(a.try_into().unwrap_or_default())
            == u64::from_le_bytes(b.try_into().unwrap_or_default())
    });
    let tail = head.len() / 8 * 8;
    same_words
        && head[tail..]
            .iter()
            .zip(&prefix[tail..])
            .all(|(a, b)| a == b)
}

/// A string's text from how it is written (without its quotes), escapes
/// decoded; `None` for an escape JSON does not have or a lone surrogate.
fn decode(written: &str) -> Option<String> {
    // Escapes never decode to more bytes than they take.
    let mut decoded = String::with_capacity(written.len());
    let mut scan = Scan::new(written);
    while let Some(backslash) = written.get(scan.at..)?.find('\\') {
        decoded.push_str(written.get(scan.at..scan.at + backslash)?);
        scan.at += backslash + 1;
        decoded.push(scan.escape()?);
    }
    decoded.push_str(written.get(scan.at..)?);
    Some(decoded)
}

/// Whether any of the eight bytes in `word` is a quote, a backslash or a control
/// character (below 0x20). May say yes for a byte that is none of them only
/// after one that is (borrows run upwards), which is all a search for the first
/// one needs.
fn has_special(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let zero_in = |w: u64| w.wrapping_sub(ONES) & !w & HIGHS;
    let below_space = word.wrapping_sub(ONES * 0x20) & !word & HIGHS;
    (zero_in(word ^ (ONES * u64::from(b'"')))
        | zero_in(word ^ (ONES * u64::from(b'\\')))
        | below_space)
        != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn both(text: &str) -> (Option<StockPage>, Result<StockPage, String>) {
        (
            scan_page(text),
            serde_json::from_str::<StockPage>(text).map_err(|e| e.to_string()),
        )
    }

    #[test]
    fn reads_a_page_as_keycrm_sends_it() {
        let text = r#"{"current_page":2,"data":[
            {"id":7,"sku":"A-1","price":12.5,"purchased_price":0,"quantity":-3,"reserve":1},
            {"id":8,"sku":null,"price":0,"purchased_price":0,"quantity":0,"reserve":0},
            {"id":9,"sku":"  ","quantity":4,"reserve":0},
            {"id":10,"sku":31337,"quantity":4,"reserve":0,
             "warehouse":[{"id":1,"name":"\u041a\u0438\u0457\u0432","quantity":4,"reserve":0}]}],
            "first_page_url":"https:\/\/openapi.keycrm.app\/v1\/offers\/stocks?page=1",
            "from":51,"last_page":3,"links":[{"url":null,"label":"&laquo;","active":false}],
            "next_page_url":"https:\/\/openapi.keycrm.app\/v1\/offers\/stocks?page=3",
            "per_page":50,"total":120} "#;
        let (fast, serde) = both(text);
        let fast = fast.expect("taken");
        assert_eq!(Ok(fast.clone()), serde);
        assert_eq!(fast.data[3].sku.as_deref(), Some("31337"));
        assert_eq!(&*fast.data[3].warehouse.as_ref().unwrap()[0].name, "Київ");
        assert_eq!(
            fast.next_page_url,
            Some(Some(
                "https://openapi.keycrm.app/v1/offers/stocks?page=3".into()
            ))
        );
    }

    #[test]
    fn steps_aside_for_what_it_does_not_take() {
        for text in [
            // Serde reads these, differently or not at all.
            r#"{"data":[{"id":1,"quantity":" 12","reserve":0}]}"#,
            r#"{"data":[{"id":1,"quantity":"+12","reserve":0}]}"#,
            r#"{"data":[{"id":1,"quantity":1.5e0,"reserve":0}]}"#,
            r#"{"data":[{"id":1,"quantity":1.,"reserve":0}]}"#,
            r#"{"data":[{"id":1,"quantity":0.1234567890123456,"reserve":0}]}"#,
            r#"{"data":[{"id":1,"quantity":1000000000000000,"reserve":0}]}"#,
            r#"{"data":[{"id":1,"quantity":1,"quantity":2,"reserve":0}]}"#,
            r#"{"data":[{"id":1,"quantity":1}]}"#,
            r#"{"data":[{"id":1,"sku":"a\ud800","quantity":1,"reserve":0}]}"#,
            r#"{"data":[{"id":1,"sku":-4,"quantity":1,"reserve":0}]}"#,
            r#"{"data":[{"id":1,"quantity":1,"reserve":0,"w\u0061rehouse":[]}]}"#,
            r#"{"data":[],"data":[]}"#,
            r#"{"data":[],"x":"\ud83d"}"#,
            r#"{"data":[],"x":"\ud83d\ude00"}"#,
            r#"{"total":100}"#,
            "{\"data\":[],\"x\":\"tab\there\"}",
            r#"{"data":[]} x"#,
            r#"{"data":[],"x":01}"#,
            r#"{"data":[],"x":[1,]}"#,
            "[]",
            "",
        ] {
            assert_eq!(scan_page(text), None, "{text}");
        }
    }

    #[test]
    fn what_it_takes_serde_reads_the_same() {
        for text in [
            r#"{"data":[]}"#,
            r#" { "data" : [ ] , "next_page_url" : null } "#,
            r#"{"data":[{"id":1,"sku":"\"\\\/\b\f\n\r\t\ud83d\ude00","quantity":999999999999999,"reserve":-999999999999999,"warehouse":null}]}"#,
            r#"{"data":[],"x":{"y":[1.5e-3,-0,true,false,null,"\u00e9\/",{}]}}"#,
            r#"{"total":null,"per_page":18446744073709551,"data":[]}"#,
            r#"{"data":[{"id":1,"quantity":0.1,"reserve":-12345678901234.5},{"id":2,"quantity":19.85,"reserve":0.00000000000001}]}"#,
        ] {
            let (fast, serde) = both(text);
            assert_eq!(Ok(fast.expect(text)), serde, "{text}");
        }
    }
}
