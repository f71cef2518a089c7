//! The options reader (`SyncOptions::from_json`) held to serde_json, the reader
//! it stands in for (`SyncOptions`'s `Deserialize`, then `validate`): on random
//! options objects of known and unknown fields, with values of every kind and
//! numbers and strings in every form JSON allows, on the same objects respaced,
//! and on random byte-level damage to them, both take the same options or both
//! refuse the text; the reader refuses with `INVALID_CONFIG` and never panics.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::json_gen::{key, number, object, string, value};
use common::{damaged, proptest_config};
use keycrm_stock_sync::options::OPTION_NAMES as OPTIONS;
use keycrm_stock_sync::pagination::{CENSUS_FIELDS as CENSUS, CURSOR_FIELDS as CURSOR};
use keycrm_stock_sync::{ErrorCode, SyncOptions};
use proptest::prelude::*;

/// What serde_json reads, validated: the options the reader must agree with.
fn serde_options(text: &str) -> Option<SyncOptions> {
    let options: SyncOptions = serde_json::from_str(text).ok()?;
    options.validate().ok()
}

/// The reader and serde_json take the same options from `text`, or both refuse
/// it.
fn agrees(text: &str) -> Result<(), TestCaseError> {
    let ours = SyncOptions::from_json(text);
    match (ours, serde_options(text)) {
        (Ok(ours), Some(serde)) => prop_assert_eq!(ours, serde, "{}", text),
        (Err(err), None) => prop_assert_eq!(err.code, ErrorCode::InvalidConfig, "{}", text),
        (ours, serde) => prop_assert!(false, "{}\nreader: {:?}\nserde:  {:?}", text, ours, serde),
    }
    Ok(())
}

/// A census, mostly of its own fields; or its fields in order, in an array
/// (which serde takes too).
fn census() -> impl Strategy<Value = String> {
    let field = (key(CENSUS), prop_oneof![3 => number(), 1 => value()]);
    prop_oneof![
        3 => prop::collection::vec(field, 0..5).prop_map(|fields| object(&fields)),
        1 => prop::collection::vec(number(), 0..6).prop_map(|items| format!("[{}]", items.join(","))),
    ]
}

/// A cursor, mostly of its own fields with values of their kinds.
fn cursor() -> impl Strategy<Value = String> {
    let field = key(CURSOR).prop_flat_map(|k| {
        let value = match k.as_str() {
            "\"census\"" => prop_oneof![3 => census(), 1 => value()].boxed(),
            "\"skus\"" => prop_oneof![
                Just("null".to_string()),
                Just("\"\"".to_string()),
                Just("\"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"".to_string()),
                string(),
                value(),
            ]
            .boxed(),
            _ => prop_oneof![3 => number(), 1 => value()].boxed(),
        };
        (Just(k), value)
    });
    let in_order = (
        prop::collection::vec(number(), 0..4),
        prop_oneof![
            Just(String::new()),
            string().prop_map(|s| format!(",{s}")),
            Just(",null".to_string())
        ],
        prop_oneof![Just(String::new()), census().prop_map(|c| format!(",{c}"))],
    )
        .prop_map(|(numbers, skus, census)| {
            let skus = if numbers.len() == 3 {
                skus
            } else {
                String::new()
            };
            let census = if skus.is_empty() {
                String::new()
            } else {
                census
            };
            format!("[{}{skus}{census}]", numbers.join(","))
        });
    prop_oneof![
        3 => prop::collection::vec(field, 0..5).prop_map(|fields| object(&fields)),
        1 => in_order,
    ]
}

/// A value of the kind an option takes, mostly, or any value.
fn option_value(key: &str) -> BoxedStrategy<String> {
    let kind = match key {
        "\"apiUrl\"" => string().boxed(),
        "\"warehouses\"" => prop::collection::vec(prop_oneof![number(), string()], 0..3)
            .prop_map(|items| format!("[{}]", items.join(",")))
            .boxed(),
        "\"offerIds\"" => prop::collection::vec(number(), 0..3)
            .prop_map(|items| format!("[{}]", items.join(",")))
            .boxed(),
        "\"skus\"" => prop::collection::vec(string(), 0..3)
            .prop_map(|items| format!("[{}]", items.join(",")))
            .boxed(),
        "\"resumeFrom\"" => cursor().boxed(),
        "\"keepReserve\"" | "\"fractional\"" | "\"perWarehouse\"" | "\"zeroMissing\""
        | "\"dryRun\"" | "\"names\"" => {
            prop_oneof![Just("true".to_string()), Just("false".to_string())].boxed()
        }
        _ => number().boxed(),
    };
    prop_oneof![4 => kind, 1 => value()].boxed()
}

/// An options object as JSON text: its fields, and the whitespace around them.
fn options_text() -> impl Strategy<Value = String> {
    let field = key(OPTIONS).prop_flat_map(|k| {
        let value = option_value(&k);
        (Just(k), value)
    });
    let space = prop::sample::select(vec!["", " ", "\n  ", "\t"]);
    (prop::collection::vec(field, 0..6), space).prop_map(|(fields, space)| {
        let fields: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!("{space}{k}{space}:{space}{v}"))
            .collect();
        format!("{space}{{{}{space}}}{space}", fields.join(","))
    })
}

proptest! {
    #![proptest_config(proptest_config(2048))]

    /// Options objects as a caller would write them, or nearly: the reader takes
    /// what serde_json takes, the same options, and refuses what it refuses.
    #[test]
    fn options_objects_agree(text in options_text()) {
        agrees(&text)?;
    }

    /// Byte-level damage to those objects: the same.
    #[test]
    fn damaged_options_agree(
        text in options_text(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), any::<u8>()), 1..4),
    ) {
        agrees(&damaged(&text, &edits))?;
    }

    /// Any text at all: never a panic, and any refusal is `INVALID_CONFIG`.
    #[test]
    fn any_text_is_taken_or_refused(text in "\\PC{0,40}") {
        agrees(&text)?;
    }

    /// The options' fields in order, in an array (which serde takes as well).
    #[test]
    fn fields_in_an_array_agree(
        url in string(),
        numbers in prop::collection::vec(number(), 0..3),
        flags in prop::collection::vec(any::<bool>(), 0..3),
    ) {
        let mut items = vec![url];
        items.extend(numbers);
        items.extend(flags.iter().map(bool::to_string));
        agrees(&format!("[{}]", items.join(",")))?;
    }
}

#[test]
fn serde_takes_some_options_the_generators_make() {
    // The generators reach accepted options, not only refusals.
    let text = r#"{"apiUrl":"http://127.0.0.1:9/v1/","warehouses":[2," київ "],"resumeFrom":{"page":3,"total":9,"census":{"ceiling":4,"total":9}},"deadlineMs":null,"dryRun":true}"#;
    let ours = SyncOptions::from_json(text).unwrap();
    assert_eq!(Some(ours.clone()), serde_options(text));
    assert_eq!(ours.api_url, "http://127.0.0.1:9/v1");
    assert_eq!(ours.resume_from.unwrap().census.unwrap().ceiling, 4);
}

#[test]
fn refusals_name_what_is_wrong() {
    for (text, said) in [
        (
            r#"{"rateLimitPerMinute": "60"}"#,
            "`rateLimitPerMinute` must be a whole number",
        ),
        (r#"{"dryRun": 1}"#, "`dryRun` must be true or false"),
        (
            r#"{"offerIds": [1, -2]}"#,
            "`offerIds[1]` must be a whole number",
        ),
        (
            r#"{"warehouses": [1.5]}"#,
            "`warehouses[0]` must be a warehouse id",
        ),
        (
            r#"{"dryRun": true, "dryRun": false}"#,
            "`dryRun` is given twice",
        ),
        (
            r#"{"resumeFrom": {"total": 5}}"#,
            "`resumeFrom.page` must be given",
        ),
        (
            r#"{"resumeFrom": {"page": 2, "skus": 7}}"#,
            "resumeFrom.skus must be a string",
        ),
        (
            r#"{"maxRequests": 4294967296}"#,
            "`maxRequests` must be at most 4294967295",
        ),
        (r#"{"apiUrl": "\ud800"}"#, "not one JSON object"),
        (r#"{} {}"#, "not one JSON object"),
    ] {
        let err = SyncOptions::from_json(text).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidConfig, "{text}");
        assert!(err.message.contains(said), "{text}: {}", err.message);
        assert!(serde_options(text).is_none(), "{text}");
    }
}
