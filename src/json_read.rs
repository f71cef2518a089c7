//! A reader of JSON text for everything the core takes from outside but the
//! options: stock pages the fast reader steps aside for, webhook bodies, pages of
//! orders and offers, error bodies. Each caller reads its own types with it,
//! field by field, into what it needs.
//!
//! The rules are serde_json's for types derived as the core's are, and the
//! tests hold each caller to serde_json on the same texts (same accept or
//! refuse, same values): JSON's grammar, nothing after the value but
//! whitespace, nesting at most 128 deep; in an object, keys known to the caller
//! given at most once and others skipped (their values checked for grammar
//! only, as serde_json skips them); an array standing for an object's fields in
//! order; whole numbers as JSON writes them within `u64`; strings with JSON's
//! escapes, a lone surrogate refused where the text is read. One difference: a
//! number with a fraction or exponent is read correctly rounded (by
//! [`crate::decimal`]), where serde_json's default reader may be one unit in
//! the last place off.
//!
//! In the wasm core it replaces serde_json's reader and what serde generated
//! for these types, which took a fifth of the module.

use std::borrow::Cow;
use std::fmt::Display;

use crate::decimal::parse_f64;
use crate::page::{string_at, MAX_FIGURE};

/// Why a text was refused, for people: what, and where (line and column).
pub type Read<T> = Result<T, String>;

/// An object's key, decoded: borrowed from the text when it holds no escape.
type Key<'a> = Cow<'a, str>;

/// Deepest nesting of arrays and objects taken, as in serde_json.
const MAX_DEPTH: u32 = 128;

/// Reads `text` whole: `read` takes its one value, and nothing but whitespace
/// may follow it.
///
/// # Errors
/// What `read` returns, or trailing characters.
pub fn read_text<T>(text: &str, read: impl FnOnce(&mut Reader) -> Read<T>) -> Read<T> {
    let mut reader = Reader::new(text);
    let value = read(&mut reader)?;
    reader.end()?;
    Ok(value)
}

/// A cursor over JSON text.
pub struct Reader<'a> {
    text: &'a str,
    at: usize,
    depth: u32,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `text`.
    pub fn new(text: &'a str) -> Self {
        Reader {
            text,
            at: 0,
            depth: 0,
        }
    }

    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    fn space(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes().get(self.at) {
            self.at += 1;
        }
    }

    /// The next byte after whitespace, not taken.
    pub fn peek(&mut self) -> Option<u8> {
        self.space();
        self.bytes().get(self.at).copied()
    }

    /// Takes `byte` if it comes next (after whitespace).
    pub fn eat(&mut self, byte: u8) -> bool {
        let next = self.peek() == Some(byte);
        self.at += usize::from(next);
        next
    }

    /// Takes the literal `word` (`null`, `true`, `false`) if it comes next.
    pub fn literal(&mut self, word: &str) -> bool {
        self.space();
        let next = self.bytes()[self.at..].starts_with(word.as_bytes());
        if next {
            self.at += word.len();
        }
        next
    }

    /// Takes `null` if it comes next.
    pub fn null(&mut self) -> bool {
        self.literal("null")
    }

    /// Checks that nothing but whitespace follows.
    ///
    /// # Errors
    /// When something does.
    pub fn end(mut self) -> Read<()> {
        if self.peek().is_some() {
            return Err(self.not_json("trailing characters"));
        }
        Ok(())
    }

    /// `message`, with where the reader stands.
    #[cold]
    pub fn error(&self, message: impl Display) -> String {
        let before = &self.bytes()[..self.at.min(self.text.len())];
        let line = before.iter().filter(|b| **b == b'\n').count() + 1;
        let column = before.iter().rev().take_while(|b| **b != b'\n').count() + 1;
        format!("{message} at line {line} column {column}")
    }

    /// A fault in JSON's grammar.
    #[cold]
    fn not_json(&self, what: &str) -> String {
        if self.at >= self.text.len() {
            return self.error("not JSON: EOF while parsing a value");
        }
        self.error(format_args!("not JSON: {what}"))
    }

    /// The value at the cursor is not `expected`: names what it is.
    #[cold]
    pub fn invalid_type(&mut self, expected: &str) -> String {
        let start = self.at;
        let found = match self.peek() {
            Some(b'"') => match string_at(self.text, &mut self.at) {
                Some(text) => format!("string {text:?}"),
                None => return self.not_json("invalid string"),
            },
            Some(b'{') => "map".to_string(),
            Some(b'[') => "sequence".to_string(),
            Some(b't') if self.literal("true") => "boolean `true`".to_string(),
            Some(b'f') if self.literal("false") => "boolean `false`".to_string(),
            Some(b'n') if self.null() => "null".to_string(),
            Some(b'-' | b'0'..=b'9') => match self.number() {
                Ok((written, true)) => format!("integer `{written}`"),
                Ok((written, false)) => format!("floating point `{written}`"),
                Err(e) => return e,
            },
            _ => return self.not_json("expected value"),
        };
        self.at = start;
        self.space();
        self.error(format_args!("invalid type: {found}, expected {expected}"))
    }

    /// Enters an array or object: refused past [`MAX_DEPTH`].
    fn nest(&mut self) -> Read<()> {
        if self.depth == MAX_DEPTH {
            return Err(self.error("recursion limit exceeded"));
        }
        self.depth += 1;
        self.at += 1;
        Ok(())
    }

    /// Reads an object: `field(self, index)` reads the value of each key that is
    /// `fields[index]`; a key given twice is refused, other keys are skipped.
    /// As serde does, an array stands for the fields in the order of `fields`;
    /// those missing at its end are left unread. Whether a field that was not
    /// read may be missing is the caller's to say, by [`missing`](Self::missing).
    ///
    /// `what` names the object in a message that the value is not one.
    ///
    /// # Errors
    /// When the value is not an object (or array), a key comes twice, or what
    /// `field` returns.
    pub fn object(
        &mut self,
        what: &str,
        fields: &[&'static str],
        field: &mut dyn FnMut(&mut Self, usize) -> Read<()>,
    ) -> Read<()> {
        match self.peek() {
            Some(b'{') => {}
            Some(b'[') => return self.fields_in_order(what, fields, field),
            _ => return Err(self.invalid_type(what)),
        }
        let mut seen = 0u64;
        self.members(true, &mut |reader, key| {
            let key = key.unwrap_or_default();
            let Some(index) = fields.iter().position(|known| *known == key) else {
                return reader.skip();
            };
            if seen & 1 << index != 0 {
                return Err(reader.error(format_args!("duplicate field `{key}`")));
            }
            seen |= 1 << index;
            field(reader, index)
        })
    }

    /// An object's members, at its opening brace: `member(self, key)` reads
    /// the value of each, given the key decoded when `decode`, else `None`
    /// (the key then only checked for grammar, as serde_json checks a key it
    /// skips).
    fn members(
        &mut self,
        decode: bool,
        member: &mut dyn FnMut(&mut Self, Option<Key<'a>>) -> Read<()>,
    ) -> Read<()> {
        self.nest()?;
        if !self.eat(b'}') {
            loop {
                if self.peek() != Some(b'"') {
                    return Err(self.not_json("key must be a string"));
                }
                let key = if decode {
                    Some(self.key()?)
                } else {
                    self.skip_string()?;
                    None
                };
                if !self.eat(b':') {
                    return Err(self.not_json("expected `:`"));
                }
                member(self, key)?;
                if self.eat(b'}') {
                    break;
                }
                if !self.eat(b',') {
                    return Err(self.not_json("expected `,` or `}`"));
                }
            }
        }
        self.depth -= 1;
        Ok(())
    }

    /// The fields of an object written as an array (see [`object`](Self::object)).
    fn fields_in_order(
        &mut self,
        what: &str,
        fields: &[&'static str],
        field: &mut dyn FnMut(&mut Self, usize) -> Read<()>,
    ) -> Read<()> {
        self.elements(&mut |reader, index| {
            if index == fields.len() {
                return Err(reader.error(format_args!(
                    "invalid length: more than {index} fields for {what}"
                )));
            }
            field(reader, index)
        })
    }

    /// An object's key at its opening quote: borrowed from the text when it
    /// holds no escape (KeyCRM's never do), decoded otherwise.
    fn key(&mut self) -> Read<Key<'a>> {
        let rest = &self.bytes()[self.at + 1..];
        if let Some(end) = rest
            .iter()
            .position(|b| matches!(b, b'"' | b'\\' | 0..=0x1F))
        {
            if rest[end] == b'"' {
                let key = &self.text[self.at + 1..self.at + 1 + end];
                self.at += end + 2;
                return Ok(Cow::Borrowed(key));
            }
        }
        string_at(self.text, &mut self.at)
            .map(Cow::Owned)
            .ok_or_else(|| self.not_json("invalid string"))
    }

    /// A field the object did not give, where it must.
    #[cold]
    pub fn missing(&self, field: &str) -> String {
        self.error(format_args!("missing field `{field}`"))
    }

    /// Reads an array: `element(self, index)` reads each element.
    ///
    /// # Errors
    /// When the value is not an array (`what` names the array expected), or
    /// what `element` returns.
    pub fn array(
        &mut self,
        what: &str,
        element: &mut dyn FnMut(&mut Self, usize) -> Read<()>,
    ) -> Read<()> {
        if self.peek() != Some(b'[') {
            return Err(self.invalid_type(what));
        }
        self.elements(element)
    }

    /// An array's elements, at its opening bracket.
    fn elements(&mut self, element: &mut dyn FnMut(&mut Self, usize) -> Read<()>) -> Read<()> {
        self.nest()?;
        if !self.eat(b']') {
            let mut index = 0;
            loop {
                element(self, index)?;
                index += 1;
                if self.eat(b']') {
                    break;
                }
                if !self.eat(b',') {
                    return Err(self.not_json("expected `,` or `]`"));
                }
            }
        }
        self.depth -= 1;
        Ok(())
    }

    /// An array's elements, each read by `item`.
    ///
    /// # Errors
    /// As [`array`](Self::array).
    pub fn list<T>(
        &mut self,
        what: &str,
        mut item: impl FnMut(&mut Self) -> Read<T>,
    ) -> Read<Vec<T>> {
        let mut items = Vec::new();
        self.array(what, &mut |reader, _| {
            items.push(item(reader)?);
            Ok(())
        })?;
        Ok(items)
    }

    /// `null`, or what `read` takes.
    ///
    /// # Errors
    /// What `read` returns.
    pub fn nullable<T>(&mut self, read: impl FnOnce(&mut Self) -> Read<T>) -> Read<Option<T>> {
        if self.null() {
            return Ok(None);
        }
        read(self).map(Some)
    }

    /// A string, escapes decoded.
    ///
    /// # Errors
    /// When the value is not a string, or not a well-formed one (a control
    /// character, an unknown escape, a lone surrogate).
    pub fn string(&mut self) -> Read<String> {
        if self.peek() != Some(b'"') {
            return Err(self.invalid_type("a string"));
        }
        string_at(self.text, &mut self.at).ok_or_else(|| self.not_json("invalid string"))
    }

    /// A whole number ≥ 0, as JSON writes one, that fits `u64`.
    ///
    /// # Errors
    /// When the value is anything else.
    pub fn whole(&mut self) -> Read<u64> {
        if let Some(b'-' | b'0'..=b'9') = self.peek() {
            let start = self.at;
            let (written, integral) = self.number()?;
            if let (true, Ok(value)) = (integral, written.parse::<u64>()) {
                return Ok(value);
            }
            self.at = start;
        }
        Err(self.invalid_type("a whole number ≥ 0"))
    }

    /// A stock figure `field`: a JSON number or a string holding a number,
    /// finite and within ±[`MAX_FIGURE`], as [`crate::page`] sets out.
    ///
    /// # Errors
    /// A message naming `field` when the value is null, not a number, not
    /// finite, or beyond the ceiling.
    pub fn figure(&mut self, field: &str) -> Read<f64> {
        let start = self.at;
        let value = match self.peek() {
            Some(b'"') => {
                let text = self.string()?;
                parse_f64(text.trim()).ok_or_else(|| {
                    self.at = start;
                    self.error(format_args!("`{field}` {text:?} is not a number"))
                })?
            }
            Some(b'-' | b'0'..=b'9') => {
                let value = parse_f64(self.number()?.0).unwrap_or(f64::NAN);
                if value.is_infinite() {
                    self.at = start;
                    return Err(self.error("number out of range"));
                }
                value
            }
            Some(b'n') if self.null() => {
                self.at = start;
                return Err(self.error(format_args!(
                    "`{field}` is null; KeyCRM documents it as a number"
                )));
            }
            _ => return Err(self.invalid_type(&format!("`{field}` as a number or numeric string"))),
        };
        within_ceiling(field, value).map_err(|message| {
            self.at = start;
            self.error(message)
        })
    }

    /// A SKU: text (blank is none), a whole number ≥ 0 (its own text), or null.
    ///
    /// # Errors
    /// When the value is anything else.
    pub fn sku(&mut self) -> Read<Option<String>> {
        match self.peek() {
            Some(b'"') => {
                let text = self.string()?;
                Ok((!text.trim().is_empty()).then_some(text))
            }
            Some(b'n') if self.null() => Ok(None),
            Some(b'-' | b'0'..=b'9') => {
                let start = self.at;
                let (written, integral) = self.number()?;
                if integral && !written.starts_with('-') && written.parse::<u64>().is_ok() {
                    return Ok(Some(written.to_string()));
                }
                self.at = start;
                Err(self.invalid_type("a SKU as text, a whole number >= 0, or null"))
            }
            _ => Err(self.invalid_type("a SKU as text, a whole number >= 0, or null")),
        }
    }

    /// A number in JSON's grammar, `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`,
    /// as written, and whether it is integral (no fraction or exponent).
    fn number(&mut self) -> Read<(&'a str, bool)> {
        self.space();
        let bytes = self.bytes();
        let start = self.at;
        let digits = |from: usize| {
            let mut to = from;
            while bytes.get(to).is_some_and(u8::is_ascii_digit) {
                to += 1;
            }
            to
        };
        let mut at = start + usize::from(bytes.get(start) == Some(&b'-'));
        let end = digits(at);
        let leading_zero = end - at > 1 && bytes[at] == b'0';
        let mut grammatical = end > at && !leading_zero;
        at = end;
        let mut integral = true;
        if grammatical && bytes.get(at) == Some(&b'.') {
            let end = digits(at + 1);
            grammatical = end > at + 1;
            (at, integral) = (end, false);
        }
        if let (true, Some(b'e' | b'E')) = (grammatical, bytes.get(at)) {
            at += 1;
            if let Some(b'+' | b'-') = bytes.get(at) {
                at += 1;
            }
            let end = digits(at);
            grammatical = end > at;
            (at, integral) = (end, false);
        }
        self.at = at;
        if !grammatical {
            return Err(self.not_json("invalid number"));
        }
        Ok((&self.text[start..at], integral))
    }

    /// Skips one value of any kind, checking its grammar only: strings are not
    /// decoded (a `\u` escape of a lone surrogate passes, as in serde_json).
    ///
    /// # Errors
    /// When the value is not JSON, or nests too deep.
    pub fn skip(&mut self) -> Read<()> {
        match self.peek() {
            Some(b'"') => self.skip_string(),
            Some(b'{') => self.members(false, &mut |reader, _| reader.skip()),
            Some(b'[') => self.array("", &mut |reader, _| reader.skip()),
            Some(b'n') => self.word("null"),
            Some(b't') => self.word("true"),
            Some(b'f') => self.word("false"),
            _ => self.number().map(|_| ()),
        }
    }

    fn word(&mut self, word: &str) -> Read<()> {
        if self.literal(word) {
            Ok(())
        } else {
            Err(self.not_json("expected value"))
        }
    }

    /// Skips a string at its opening quote.
    fn skip_string(&mut self) -> Read<()> {
        let bytes = self.bytes();
        let mut at = self.at + 1;
        loop {
            match bytes.get(at) {
                None | Some(0..=0x1F) => {
                    self.at = at;
                    return Err(self.not_json("invalid string"));
                }
                Some(b'"') => {
                    self.at = at + 1;
                    return Ok(());
                }
                Some(b'\\') => {
                    let escape = match bytes.get(at + 1) {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => 2,
                        Some(b'u')
                            if bytes
                                .get(at + 2..at + 6)
                                .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit)) =>
                        {
                            6
                        }
                        _ => {
                            self.at = at;
                            return Err(self.not_json("invalid escape"));
                        }
                    };
                    at += escape;
                }
                Some(_) => at += 1,
            }
        }
    }
}

/// `value` if it is a figure that can be taken for `field`: finite, and within
/// ±[`MAX_FIGURE`]; otherwise why not.
///
/// # Errors
/// The message naming `field`.
pub fn within_ceiling(field: &str, value: f64) -> Result<f64, String> {
    if !value.is_finite() {
        return Err(format!("`{field}` is not a finite number"));
    }
    if value.abs() > MAX_FIGURE {
        return Err(format!(
            "`{field}` {value:e} is beyond {MAX_FIGURE:e} units, which no stock holds"
        ));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figure(text: &str) -> Read<f64> {
        let mut reader = Reader::new(text);
        let value = reader.figure("quantity")?;
        reader.end().map(|()| value)
    }

    #[test]
    fn figures_are_numbers_or_numeric_strings() {
        assert_eq!(figure("12"), Ok(12.0));
        assert_eq!(figure(" -0.25 "), Ok(-0.25));
        assert_eq!(figure(r#"" 7.5 ""#), Ok(7.5));
        assert_eq!(figure("1e15"), Ok(1e15));
        for (text, why) in [
            ("null", "`quantity` is null"),
            ("1e400", "number out of range"),
            ("1e16", "beyond"),
            (r#""NaN""#, "not a finite number"),
            (r#""lots""#, "\"lots\" is not a number"),
            ("true", "invalid type: boolean `true`"),
            ("01", "not JSON"),
            ("1.", "not JSON"),
            ("12 3", "trailing characters"),
        ] {
            let message = figure(text).unwrap_err();
            assert!(message.contains(why), "{text}: {message}");
        }
    }

    #[test]
    fn objects_refuse_a_key_twice_and_skip_others() {
        let read = |text: &str| {
            let mut reader = Reader::new(text);
            let mut id = None;
            reader.object("an offer", &["id"], &mut |reader, _| {
                id = Some(reader.whole()?);
                Ok(())
            })?;
            reader.end().map(|()| id)
        };
        assert_eq!(
            read(r#"{"x":{"y":["\ud800",1e5,true]},"id":4}"#),
            Ok(Some(4))
        );
        assert_eq!(read("[4]"), Ok(Some(4)));
        assert_eq!(read("{}"), Ok(None));
        let twice = read(r#"{"id":1,"i\u0064":2}"#).unwrap_err();
        assert!(
            twice.starts_with("duplicate field `id` at line 1"),
            "{twice}"
        );
        assert!(read("[4,5]").unwrap_err().contains("invalid length"));
        assert!(read("4").unwrap_err().contains("expected an offer"));
        let deep = format!(r#"{{"x":{}{}}}"#, "[".repeat(130), "]".repeat(130));
        assert!(read(&deep).unwrap_err().contains("recursion limit"));
    }

    #[test]
    fn positions_are_lines_and_columns() {
        let mut reader = Reader::new("{\n  \"id\": x}");
        let message = reader
            .object("an offer", &["id"], &mut |reader, _| {
                reader.whole().map(|_| ())
            })
            .unwrap_err();
        assert_eq!(message, "not JSON: expected value at line 2 column 9");
    }
}
