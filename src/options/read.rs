//! The options bag's JSON text, read into [`SyncOptions`] field by field.
//!
//! `SyncOptions` keeps serde's `Deserialize`, and `tests/options_reader.rs` holds
//! this reader to it: on any text, the same options taken or the text refused.
//! In the wasm core it takes about 11 KB less than the code serde generated for
//! these types, which ran once a sync and was compiled at every cold start.
//!
//! The rules are serde_json's for these types: no field unknown or given twice;
//! a missing field takes its default (a cursor's `page`, and a census's `ceiling`
//! and `total`, must be there); `null` only where a field may be absent
//! (`deadlineMs`, `resumeFrom`, …); a whole number only as JSON writes one (no
//! fraction, exponent or sign) within its type's range; strings as the page
//! reader reads them (JSON's escapes, a lone surrogate refused); an array for
//! the fields in order, as serde takes one; nothing after the value but
//! whitespace. No message gives a position in the text, which the caller never
//! wrote.

use std::ops::{Deref, DerefMut};

use super::{suggest, SyncOptions, WarehouseRef, OPTION_NAMES as OPTIONS};
use crate::json_read;
use crate::ledger::SkuHashes;
use crate::pagination::{Census, ScanCursor, CENSUS_FIELDS as CENSUS, CURSOR_FIELDS as CURSOR};

/// Why the text was refused, for people.
type Read<T> = Result<T, String>;

/// Reads the options from JSON text (not yet validated).
///
/// # Errors
/// What is wrong with the text, as the message of an `INVALID_CONFIG` error.
pub(super) fn read_options(text: &str) -> Read<SyncOptions> {
    let mut reader = Reader(json_read::Reader::new(text));
    let mut options = SyncOptions::default();
    reader.object(OPTIONS, &mut |reader, field| {
        let o = &mut options;
        match field {
            "apiUrl" => o.api_url = reader.string(field)?,
            "rateLimitPerMinute" => o.rate_limit_per_minute = reader.whole_u32(field)?,
            "maxConcurrentRequests" => o.max_concurrent_requests = reader.whole_u32(field)?,
            "keepReserve" => o.keep_reserve = reader.flag(field)?,
            "fractional" => o.fractional = reader.flag(field)?,
            "warehouses" => o.warehouses = reader.list(field, Reader::warehouse)?,
            "perWarehouse" => o.per_warehouse = reader.flag(field)?,
            "offerIds" => o.offer_ids = reader.list(field, Reader::whole)?,
            "skus" => o.skus = reader.list(field, Reader::string)?,
            "zeroMissing" => o.zero_missing = reader.flag(field)?,
            "dryRun" => o.dry_run = reader.flag(field)?,
            "batchSize" => o.batch_size = reader.whole_usize(field)?,
            "maxRetries" => o.max_retries = reader.whole_u32(field)?,
            "maxRateLimitRetries" => o.max_rate_limit_retries = reader.whole_u32(field)?,
            "maxRetryAfterMs" => o.max_retry_after_ms = reader.whole(field)?,
            "backoffBaseMs" => o.backoff_base_ms = reader.whole(field)?,
            "backoffMaxMs" => o.backoff_max_ms = reader.whole(field)?,
            "requestTimeoutMs" => o.request_timeout_ms = reader.whole(field)?,
            "sinkTimeoutMs" => o.sink_timeout_ms = reader.whole(field)?,
            "deadlineMs" => o.deadline_ms = reader.nullable(field, Reader::whole)?,
            "maxRequests" => o.max_requests = reader.nullable(field, Reader::whole_u32)?,
            "maxSubrequests" => o.max_subrequests = reader.nullable(field, Reader::whole_u32)?,
            "resumeFrom" => o.resume_from = reader.nullable(field, Reader::cursor)?,
            "orderId" => o.order_id = reader.nullable(field, Reader::whole)?,
            "ordersUpdatedSince" => {
                o.orders_updated_since = reader.nullable(field, Reader::whole)?;
            }
            "names" => o.names = reader.flag(field)?,
            _ => return Err(unknown(field, OPTIONS)),
        }
        Ok(())
    })?;
    if reader.peek().is_some() {
        return Err(not_json());
    }
    Ok(options)
}

#[cold]
fn not_json() -> String {
    "invalid options: the text is not one JSON object".to_string()
}

#[cold]
fn unknown(name: &str, known: &[&str]) -> String {
    match suggest(name, known) {
        Some(near) => format!("unknown option `{name}`; did you mean `{near}`?"),
        None => format!("unknown option `{name}`; known: {}", known.join(", ")),
    }
}

#[cold]
fn expected(field: &str, what: &str) -> String {
    format!("invalid options: `{field}` must be {what}")
}

/// The shared JSON reader, with the options' own rules and messages on top:
/// no position in a message (the caller never wrote the text), unknown fields
/// refused.
struct Reader<'a>(json_read::Reader<'a>);

impl<'a> Deref for Reader<'a> {
    type Target = json_read::Reader<'a>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl DerefMut for Reader<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl Reader<'_> {
    /// An object's fields: `field(self, name)` takes the value of each, `name`
    /// being one of `known`. A field not known, or given twice, is refused.
    /// (Not generic: one copy serves the three kinds of object.)
    ///
    /// As serde does, an array stands for the fields in the order of `known`,
    /// the missing ones at the end taking their defaults.
    fn object(
        &mut self,
        known: &[&'static str],
        field: &mut dyn FnMut(&mut Self, &'static str) -> Read<()>,
    ) -> Read<()> {
        if self.eat(b'[') {
            return self.fields_in_order(known, field);
        }
        if !self.eat(b'{') {
            return Err(not_json());
        }
        if self.eat(b'}') {
            return Ok(());
        }
        let mut seen = vec![false; known.len()];
        loop {
            if self.peek() != Some(b'"') {
                return Err(not_json());
            }
            let name = self.text_value().ok_or_else(not_json)?;
            let Some(index) = known.iter().position(|k| *k == name) else {
                return Err(unknown(&name, known));
            };
            if std::mem::replace(&mut seen[index], true) {
                return Err(format!("invalid options: `{name}` is given twice"));
            }
            if !self.eat(b':') {
                return Err(not_json());
            }
            field(self, known[index])?;
            if self.eat(b'}') {
                return Ok(());
            }
            if !self.eat(b',') {
                return Err(not_json());
            }
        }
    }

    /// The fields of an object written as an array (see [`object`](Self::object)).
    fn fields_in_order(
        &mut self,
        known: &[&'static str],
        field: &mut dyn FnMut(&mut Self, &'static str) -> Read<()>,
    ) -> Read<()> {
        if self.eat(b']') {
            return Ok(());
        }
        for name in known {
            field(self, name)?;
            if self.eat(b']') {
                return Ok(());
            }
            if !self.eat(b',') {
                return Err(not_json());
            }
        }
        Err(format!(
            "invalid options: more than {} fields in an array",
            known.len()
        ))
    }

    /// `null`, or what `read` takes.
    fn nullable<T>(
        &mut self,
        field: &str,
        read: impl FnOnce(&mut Self, &str) -> Read<T>,
    ) -> Read<Option<T>> {
        if self.null() {
            return Ok(None);
        }
        read(self, field).map(Some)
    }

    /// An array, each element taken by `read`.
    fn list<T>(&mut self, field: &str, read: impl Fn(&mut Self, &str) -> Read<T>) -> Read<Vec<T>> {
        if !self.eat(b'[') {
            return Err(expected(field, "an array"));
        }
        let mut items = Vec::new();
        if self.eat(b']') {
            return Ok(items);
        }
        loop {
            items.push(read(self, &format!("{field}[{}]", items.len()))?);
            if self.eat(b']') {
                return Ok(items);
            }
            if !self.eat(b',') {
                return Err(not_json());
            }
        }
    }

    fn flag(&mut self, field: &str) -> Read<bool> {
        for (word, value) in [("true", true), ("false", false)] {
            if self.literal(word) {
                return Ok(value);
            }
        }
        Err(expected(field, "true or false"))
    }

    fn string(&mut self, field: &str) -> Read<String> {
        if self.peek() != Some(b'"') {
            return Err(expected(field, "a string"));
        }
        self.text_value().ok_or_else(not_json)
    }

    /// A whole number ≥ 0 as JSON writes one, within `u64`.
    fn whole(&mut self, field: &str) -> Read<u64> {
        self.0
            .whole()
            .map_err(|_| expected(field, "a whole number ≥ 0"))
    }

    fn whole_u32(&mut self, field: &str) -> Read<u32> {
        let value = self.whole(field)?;
        u32::try_from(value).map_err(|_| expected(field, "at most 4294967295"))
    }

    fn whole_usize(&mut self, field: &str) -> Read<usize> {
        let value = self.whole(field)?;
        usize::try_from(value).map_err(|_| expected(field, "a smaller number"))
    }

    /// A warehouse's id (a whole number) or name (a string).
    fn warehouse(&mut self, field: &str) -> Read<WarehouseRef> {
        match self.peek() {
            Some(b'"') => self.string(field).map(WarehouseRef::Name),
            Some(b'0'..=b'9') => self.whole(field).map(WarehouseRef::Id),
            _ => Err(String::new()),
        }
        .map_err(|_| expected(field, "a warehouse id (a whole number) or name (a string)"))
    }

    /// A report's cursor.
    fn cursor(&mut self, field: &str) -> Read<ScanCursor> {
        if !matches!(self.peek(), Some(b'{' | b'[')) {
            return Err(expected(field, "a report's cursor (an object)"));
        }
        let (mut page, mut total, mut last_offer_id) = (None, None, None);
        let (mut skus, mut census) = (SkuHashes::new(), None);
        self.object(CURSOR, &mut |reader, name| {
            match name {
                "page" => page = Some(reader.whole("resumeFrom.page")?),
                "total" => total = reader.nullable("resumeFrom.total", Reader::whole)?,
                "lastOfferId" => {
                    last_offer_id = reader.nullable("resumeFrom.lastOfferId", Reader::whole)?;
                }
                "skus" => skus = reader.sku_hashes()?,
                "census" => census = reader.nullable("resumeFrom.census", Reader::census)?,
                _ => return Err(unknown(name, CURSOR)),
            }
            Ok(())
        })?;
        Ok(ScanCursor {
            page: page.ok_or_else(|| expected("resumeFrom.page", "given"))?,
            total,
            last_offer_id,
            skus,
            census,
        })
    }

    /// A cursor's SKU hashes: their text, or `null` for none.
    fn sku_hashes(&mut self) -> Read<SkuHashes> {
        if self.null() {
            return Ok(SkuHashes::new());
        }
        if self.peek() != Some(b'"') {
            return Err("invalid options: resumeFrom.skus must be a string of SKU hashes".into());
        }
        let text = self.text_value().ok_or_else(not_json)?;
        SkuHashes::decode(&text).map_err(|detail| {
            format!("invalid options: resumeFrom.skus is not a cursor's SKU hashes: {detail}")
        })
    }

    fn census(&mut self, field: &str) -> Read<Census> {
        if !matches!(self.peek(), Some(b'{' | b'[')) {
            return Err(expected(field, "a report's census (an object)"));
        }
        let (mut ceiling, mut total, mut counted, mut counted_to) = (None, None, 0, 0);
        self.object(CENSUS, &mut |reader, name| {
            match name {
                "ceiling" => ceiling = Some(reader.whole("resumeFrom.census.ceiling")?),
                "total" => total = Some(reader.whole("resumeFrom.census.total")?),
                "counted" => counted = reader.whole("resumeFrom.census.counted")?,
                "countedTo" => counted_to = reader.whole("resumeFrom.census.countedTo")?,
                _ => return Err(unknown(name, CENSUS)),
            }
            Ok(())
        })?;
        Ok(Census {
            ceiling: ceiling.ok_or_else(|| expected("resumeFrom.census.ceiling", "given"))?,
            total: total.ok_or_else(|| expected("resumeFrom.census.total", "given"))?,
            counted,
            counted_to,
        })
    }

    /// A string at the cursor (its opening quote next), escapes decoded; `None`
    /// when it is not well-formed JSON text or holds a lone surrogate.
    fn text_value(&mut self) -> Option<String> {
        self.0.string().ok()
    }
}
