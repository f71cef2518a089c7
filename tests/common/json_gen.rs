//! Random JSON text for the property tests of the core's readers: keys,
//! numbers and strings in every form JSON allows (and some it does not), and
//! values of any kind.

use proptest::prelude::*;

/// A key as JSON text: one of `known` (sometimes with a letter escaped), or not.
pub fn key(known: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop_oneof![
        6 => prop::sample::select(known).prop_map(|k| format!("\"{k}\"")),
        1 => (prop::sample::select(known), any::<prop::sample::Index>()).prop_map(|(k, i)| {
            let at = i.index(k.len());
            format!("\"{}\\u{:04x}{}\"", &k[..at], k.as_bytes()[at], &k[at + 1..])
        }),
        1 => "[a-zA-Z_]{0,12}".prop_map(|k| format!("\"{k}\"")),
    ]
}

/// A JSON number in any of the forms JSON has, around the edges of the types.
pub fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u64..1_000).prop_map(|n| n.to_string()),
        (1u64..70_000).prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        prop::sample::select(vec![
            "0",
            "-0",
            "1",
            "-1",
            "3",
            "100",
            "500",
            "01",
            "00",
            "-01",
            "4294967295",
            "4294967296",
            "18446744073709551615",
            "18446744073709551616",
            "99999999999999999999999",
            "0.0",
            "-0.0",
            "1.0",
            "1.5",
            "1e3",
            "1E+2",
            "2e-1",
            "60e0",
        ])
        .prop_map(str::to_string),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| format!("{f:?}")),
    ]
}

/// A JSON string: plain or escaped text, a URL, a cursor's SKU hashes, or
/// escapes JSON refuses (lone surrogates).
pub fn string() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,10}".prop_map(|s| serde_json::to_string(&s).unwrap()),
        prop::sample::select(vec![
            r#""https://example.test/v1""#,
            r#""http://127.0.0.1:9/v1/""#,
            r#""https://user:pw@example.test""#,
            r#""ftp://x""#,
            r#"" київ ""#,
            r#""\u041a\u0438\u0457\u0432""#,
            r#""a,b""#,
            r#""""#,
            r#"" ""#,
            r#""\ud83d\ude00""#,
            r#""\ud800""#,
            r#""\udc00x""#,
            r#""\ud800\u0041""#,
            r#""\/\b\f\n\r\t\"\\""#,
            r#""\x""#,
            r#""AAAAAAAAAAA""#,
            r#""not base64!""#,
        ])
        .prop_map(str::to_string),
    ]
}

/// Any JSON value, as text.
pub fn value() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("null".to_string()),
        Just("true".to_string()),
        Just("false".to_string()),
        number(),
        string(),
    ];
    leaf.prop_recursive(2, 8, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4)
                .prop_map(|items| format!("[{}]", items.join(","))),
            prop::collection::vec(("\"[a-zA-Z]{1,8}\"", inner), 0..3)
                .prop_map(|fields| object(&fields)),
        ]
    })
}

pub fn object(fields: &[(String, String)]) -> String {
    let fields: Vec<String> = fields.iter().map(|(k, v)| format!("{k}:{v}")).collect();
    format!("{{{}}}", fields.join(","))
}

/// A stock figure's value: a number in any form (long fractions and
/// exponents, beyond the ceiling and beyond `f64`), a string holding one or
/// not, or any value.
pub fn figure() -> impl Strategy<Value = String> {
    let odd = prop::sample::select(vec![
        "0.12345678901234567890123",
        "999999999999999.9999999",
        "1000000000000000.4",
        "1000000000000000.6",
        "1e15",
        "1E+15",
        "10e14",
        "-1e15",
        "1.000000000000001e15",
        "4.9e-324",
        "2.2250738585072011e-308",
        "1e-400",
        "1e400",
        "-1e400",
        "123456789012345678901234567890e-20",
        "\"12.5\"",
        "\" 7 \"",
        "\"+3\"",
        "\"1e3\"",
        "\".5\"",
        "\"5.\"",
        "\"inf\"",
        "\"-infinity\"",
        "\"NaN\"",
        "\"1e999\"",
        "\"\"",
        "\"lots\"",
        "\"\\u0031\"",
    ])
    .prop_map(str::to_string);
    let decimal = (any::<i64>(), 0u32..30).prop_map(|(digits, scale)| {
        let text = digits.unsigned_abs().to_string();
        let sign = if digits < 0 { "-" } else { "" };
        match text.len().checked_sub(scale as usize) {
            Some(whole) if whole > 0 && scale > 0 => {
                format!("{sign}{}.{}", &text[..whole], &text[whole..])
            }
            _ => format!("{sign}{text}e-{scale}"),
        }
    });
    prop_oneof![
        4 => number(),
        2 => decimal,
        2 => odd,
        1 => value(),
    ]
}
