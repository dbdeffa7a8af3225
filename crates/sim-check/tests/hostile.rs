//! The reader against hostile values: a history writes one value and then reads another, given as
//! text that serde_json and f64 would round, truncate or substitute. Whatever the text, the
//! verdict is never `linearizable` when the two values differ (the reader may refuse the text,
//! which is exit 2 in `sim check`), and never `not linearizable` when they are equal.

use proptest::prelude::*;
use sim_check::{check, parse_history_with, Budget, InputFormat, ReadOptions, Verdict};

/// A value as text, and a second text with the same value or a different one.
#[derive(Clone, Debug)]
struct Pair {
    written: String,
    read: String,
    equal: bool,
}

fn digits(min: usize, max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(0u8..10, min..max)
        .prop_map(|digits| digits.into_iter().map(|d| char::from(b'0' + d)).collect())
}

fn numbers() -> impl Strategy<Value = Pair> {
    (digits(1, 60), 0usize..6, any::<bool>(), any::<bool>()).prop_map(
        |(body, form, negative, equal)| {
            let body = format!("1{body}");
            let sign = if negative { "-" } else { "" };
            let written = format!("{sign}{body}");
            let read = if equal {
                match form {
                    0 => format!("{sign}{body}.0"),
                    1 => format!("{sign}{body}e0"),
                    2 => format!("{sign}{body}0e-1"),
                    3 => format!("{sign}{}.{}e{}", &body[..1], &body[1..], body.len() - 1),
                    _ => written.clone(),
                }
            } else {
                match form {
                    0 => format!("{sign}{body}1"),
                    1 => format!("{sign}{body}.000000000000000000001"),
                    2 => {
                        let mut changed = body.clone().into_bytes();
                        let last = changed.len() - 1;
                        changed[last] = if changed[last] == b'9' {
                            b'8'
                        } else {
                            changed[last] + 1
                        };
                        format!("{sign}{}", String::from_utf8(changed).unwrap_or_default())
                    }
                    3 => format!("{sign}{body}e1"),
                    4 => format!("\"{sign}{body}\""),
                    _ => format!("{}{body}", if negative { "" } else { "-" }),
                }
            };
            Pair {
                written,
                read,
                equal,
            }
        },
    )
}

fn decimals() -> impl Strategy<Value = Pair> {
    (digits(1, 30), digits(0, 4), any::<bool>()).prop_map(|(fraction, extra, equal)| {
        let written = format!("0.{fraction}");
        let read = if equal {
            format!("0.{fraction}000")
        } else {
            format!("0.{fraction}{extra}1")
        };
        Pair {
            written,
            read,
            equal,
        }
    })
}

fn nested() -> impl Strategy<Value = Pair> {
    (
        1usize..200,
        any::<bool>(),
        prop_oneof![Just("null"), Just("1"), Just("\"x\"")],
    )
        .prop_map(|(depth, equal, leaf)| {
            let wrap = |inner: &str| format!("{}{inner}{}", "[".repeat(depth), "]".repeat(depth));
            let written = wrap(leaf);
            let read = if equal {
                written.clone()
            } else {
                wrap(if leaf == "null" { "0" } else { "null" })
            };
            Pair {
                written,
                read,
                equal,
            }
        })
}

fn strings() -> impl Strategy<Value = Pair> {
    ("[a-z\u{e9}\u{1f600} ]{0,12}", any::<bool>()).prop_map(|(text, equal)| {
        let escaped: String = text
            .chars()
            .map(|c| {
                if c.is_ascii() {
                    c.to_string()
                } else {
                    c.encode_utf16(&mut [0; 2])
                        .iter()
                        .map(|unit| format!("\\u{unit:04x}"))
                        .collect()
                }
            })
            .collect();
        let written = format!("\"{text}\"");
        let read = if equal {
            format!("\"{escaped}\"")
        } else {
            format!("\"{escaped}\\u0000\"")
        };
        Pair {
            written,
            read,
            equal,
        }
    })
}

fn history(pair: &Pair, edn: bool) -> String {
    if edn {
        format!(
            "{{:process 0, :type :invoke, :f :write, :value {w}}}\n{{:process 0, :type :ok, :f :write, :value {w}}}\n{{:process 1, :type :invoke, :f :read, :value nil}}\n{{:process 1, :type :ok, :f :read, :value {r}}}\n",
            w = pair.written,
            r = pair.read
        )
    } else {
        format!(
            "{{\"model\": \"register\", \"init\": null, \"ops\": [\n{{\"process\": 0, \"type\": \"invoke\", \"f\": \"write\", \"value\": {w}}},\n{{\"process\": 0, \"type\": \"ok\", \"f\": \"write\", \"value\": {w}}},\n{{\"process\": 1, \"type\": \"invoke\", \"f\": \"read\", \"value\": null}},\n{{\"process\": 1, \"type\": \"ok\", \"f\": \"read\", \"value\": {r}}}\n]}}",
            w = pair.written,
            r = pair.read
        )
    }
}

fn verdict(text: &str, format: InputFormat) -> Option<Verdict> {
    let options = ReadOptions {
        format: Some(format),
        ..ReadOptions::default()
    };
    let history = parse_history_with(text, "hostile", &options).ok()?;
    Some(check(&history, &Budget::default()).verdict)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn altered_values_are_never_linearizable(
        pair in prop_oneof![numbers(), decimals(), nested(), strings()],
        edn in any::<bool>(),
    ) {
        let format = if edn { InputFormat::Edn } else { InputFormat::Json };
        let text = history(&pair, edn);
        match verdict(&text, format) {
            None => {}
            Some(verdict) if pair.equal => prop_assert_eq!(verdict, Verdict::Linearizable, "{}", text),
            Some(verdict) => prop_assert_eq!(verdict, Verdict::NotLinearizable, "{}", text),
        }
    }
}

#[test]
fn the_issue_cases_are_decided_exactly() {
    let big = Pair {
        written: "1e30".into(),
        read: "1000000000000000000000000000001".into(),
        equal: false,
    };
    assert_eq!(
        verdict(&history(&big, false), InputFormat::Json),
        Some(Verdict::NotLinearizable)
    );
    let deep = format!("{}0{}", "[".repeat(200), "]".repeat(200));
    let text = format!("{{\"model\": \"register\", \"init\": {deep}, \"ops\": [\n{{\"process\": 1, \"type\": \"invoke\", \"f\": \"read\", \"value\": null}},\n{{\"process\": 1, \"type\": \"ok\", \"f\": \"read\", \"value\": null}}]}}");
    let error = parse_history_with(&text, "deep.json", &ReadOptions::default()).unwrap_err();
    assert!(error.to_string().starts_with("deep.json:1:"), "{error}");
    assert!(
        error.to_string().contains("nest deeper than 128"),
        "{error}"
    );
}
