//! Serde errors placed at their field: the full path of the field (`faults[0].one_way`,
//! `workload.mix.pt`), the line that sets it, what was expected in words, and the nearest known
//! key for a misspelt one.
//!
//! Serde's messages carry neither a path nor a place (`invalid type: string "yes", expected a
//! boolean`), and a protocol family's table is decoded from a `toml::Table` that has lost its
//! spans. So every deserialisation runs under `serde_path_to_error`, which records the path of
//! the value that failed, and the path is then looked up in a [`SpanTree`] of the file: the same
//! text read again into a tree of spanned values, for all tables, the families' included, with
//! no per-field code. Both steps are linear in the file's size.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use toml::Spanned;

use crate::error::{ScenarioError, Source};
use crate::names::suggest;
use crate::section::MaybeSpanned;

/// One step of a field's path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Segment {
    Key(String),
    Index(usize),
}

/// A field's path, rendered as scenarios write it: `faults[0].groups[1]`, `workload.mix.pt`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct FieldPath(pub(crate) Vec<Segment>);

impl FieldPath {
    /// The path `serde_path_to_error` recorded, less the private keys through which `toml`
    /// deserialises a [`Spanned`] value.
    pub(crate) fn from_serde(path: &serde_path_to_error::Path) -> Self {
        use serde_path_to_error::Segment as S;
        FieldPath(
            path.iter()
                .filter_map(|segment| match segment {
                    S::Seq { index } => Some(Segment::Index(*index)),
                    S::Map { key } if !key.starts_with("$__") => Some(Segment::Key(key.clone())),
                    _ => None,
                })
                .collect(),
        )
    }

    pub(crate) fn key(key: &str) -> Self {
        FieldPath(vec![Segment::Key(key.to_string())])
    }

    fn join(mut self, other: FieldPath) -> Self {
        self.0.extend(other.0);
        self
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Key(key) if i == 0 => write!(f, "{key}")?,
                Segment::Key(key) => write!(f, ".{key}")?,
                Segment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

/// Every value of a TOML document with its span, whatever its schema: where a path points.
#[derive(Debug)]
enum SpanTree {
    Table(BTreeMap<String, Spanned<SpanTree>>),
    Array(Vec<Spanned<SpanTree>>),
    Leaf,
}

impl<'de> Deserialize<'de> for SpanTree {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TreeVisitor;
        impl<'de> Visitor<'de> for TreeVisitor {
            type Value = SpanTree;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any TOML value")
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<SpanTree, E> {
                Ok(SpanTree::Leaf)
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<SpanTree, E> {
                Ok(SpanTree::Leaf)
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<SpanTree, E> {
                Ok(SpanTree::Leaf)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<SpanTree, E> {
                Ok(SpanTree::Leaf)
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<SpanTree, E> {
                Ok(SpanTree::Leaf)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<SpanTree, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(SpanTree::Array(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SpanTree, A::Error> {
                let mut entries = BTreeMap::new();
                while let Some((key, value)) = map.next_entry::<String, MaybeSpanned<SpanTree>>()? {
                    // An implicit table (`[a.b]` with no `[a]`) starts where its first entry does.
                    let span = value.span.unwrap_or_else(|| {
                        let start = value.value.first_offset();
                        start..start
                    });
                    entries.insert(key, Spanned::new(span, value.value));
                }
                Ok(SpanTree::Table(entries))
            }
        }
        deserializer.deserialize_any(TreeVisitor)
    }
}

impl SpanTree {
    /// Where the first of a table's entries is written (an implicit table's place).
    fn first_offset(&self) -> usize {
        match self {
            SpanTree::Table(entries) => entries.values().map(|e| e.span().start).min().unwrap_or(0),
            SpanTree::Array(_) | SpanTree::Leaf => 0,
        }
    }
}

/// The offset of the deepest value along `path` in `text` (`None` when the text is no TOML
/// document, or the path's first step is not in it).
pub(crate) fn locate(text: &str, path: &FieldPath) -> Option<usize> {
    let tree: SpanTree = toml::from_str(text).ok()?;
    let mut node = &tree;
    let mut found = None;
    for segment in &path.0 {
        let next = match (node, segment) {
            (SpanTree::Table(entries), Segment::Key(key)) => entries.get(key),
            (SpanTree::Array(items), Segment::Index(index)) => items.get(*index),
            _ => None,
        };
        let Some(next) = next else { break };
        found = Some(next.span().start);
        node = next.get_ref();
    }
    found
}

/// A deserialisation error of `T` from `deserializer`, with the path of the field that failed.
pub(crate) fn deserialize<'de, T, D>(deserializer: D) -> Result<T, (FieldPath, D::Error)>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let path = FieldPath::from_serde(e.path());
        (path, e.into_inner())
    })
}

/// The error `message` about the value at `path` (inside `prefix`, the table it was decoded
/// from), placed at its line when the file has it there, else at `fallback`: the field's full
/// path, the key a message names (an unknown or missing field) appended, and the message in
/// words.
pub(crate) fn error(
    source: &Source<'_>,
    prefix: FieldPath,
    path: FieldPath,
    message: &str,
    fallback: Option<usize>,
) -> ScenarioError {
    let mut path = prefix.join(path);
    // An unknown key is on the path already (serde read it before refusing it); a missing one
    // is not.
    if let Some(key) = crate::validate::backticked(message) {
        if path.0.last() != Some(&Segment::Key(key.clone())) {
            path.0.push(Segment::Key(key));
        }
    }
    let offset = locate(source.text, &path).or(fallback).unwrap_or(0);
    let field = path.to_string();
    let message = in_words(message);
    if offset == 0 && fallback.is_none() && path.0.is_empty() {
        return source.error(&field, message);
    }
    source.error_at(offset, &field, message)
}

/// Serde's wording made a reader's: `invalid type: floating point `3.5`, expected i64` becomes
/// `expected an integer, found 3.5`; an unknown field gets the nearest known one suggested.
pub(crate) fn in_words(message: &str) -> String {
    let message = message.trim();
    if let Some(rest) = message.strip_prefix("invalid type: ") {
        if let Some((found, expected)) = rest.split_once(", expected ") {
            return format!(
                "expected {}, found {}",
                expected_in_words(expected),
                found_in_words(found)
            );
        }
    }
    if let Some(rest) = message.strip_prefix("invalid value: ") {
        if let Some((found, expected)) = rest.split_once(", expected ") {
            return format!(
                "expected {}, found {}",
                expected_in_words(expected),
                found_in_words(found)
            );
        }
    }
    if message.starts_with("unknown field `") {
        let names = quoted(message);
        if let Some((unknown, known)) = names.split_first() {
            let known: Vec<&str> = known.iter().map(String::as_str).collect();
            if let Some(nearest) = suggest(unknown, &known) {
                return format!("{message}; did you mean `{nearest}`?");
            }
        }
    }
    message.to_string()
}

/// The names a serde message quotes in backticks, in order.
fn quoted(message: &str) -> Vec<String> {
    message
        .split('`')
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, name)| name.to_string())
        .collect()
}

fn expected_in_words(expected: &str) -> String {
    match expected {
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "an integer".to_string(),
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => "a whole number (0 or more)".to_string(),
        "f32" | "f64" => "a number".to_string(),
        "a sequence" => "an array".to_string(),
        "a map" => "a table".to_string(),
        "a boolean" => "true or false".to_string(),
        "char" => "a single character".to_string(),
        e if e.starts_with("struct ") => "a table".to_string(),
        e if e.starts_with("a sequence") || e.starts_with("an array") => {
            e.replace("sequence", "array")
        }
        e => e.to_string(),
    }
}

/// `floating point `3.5`` as `3.5`, `string "x"` as `"x"`, `map` as `a table`.
fn found_in_words(found: &str) -> String {
    let value = |prefix: &str| {
        found
            .strip_prefix(prefix)
            .map(|v| v.trim_matches('`').to_string())
    };
    value("floating point ")
        .or_else(|| value("integer "))
        .or_else(|| value("boolean "))
        .or_else(|| value("string "))
        .unwrap_or_else(|| match found {
            "map" => "a table".to_string(),
            "sequence" => "an array".to_string(),
            other => other.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_found_at_their_own_line() {
        let text = "a = 1\n[t]\nx = 2\n[[f]]\ny = 3\n[[f]]\ny = 4\nz = [\n  1,\n  2,\n]\n";
        let source = Source::new("f.toml", text);
        let at = |path: Vec<Segment>| {
            source
                .line_column(locate(text, &FieldPath(path)).unwrap())
                .0
        };
        assert_eq!(
            at(vec![Segment::Key("t".into()), Segment::Key("x".into())]),
            3
        );
        let f1 = vec![
            Segment::Key("f".into()),
            Segment::Index(1),
            Segment::Key("y".into()),
        ];
        assert_eq!(at(f1), 7);
        let z1 = vec![
            Segment::Key("f".into()),
            Segment::Index(1),
            Segment::Key("z".into()),
            Segment::Index(1),
        ];
        assert_eq!(at(z1), 10);
    }

    #[test]
    fn serde_wording_becomes_words() {
        assert_eq!(
            in_words("invalid type: floating point `3.5`, expected i64"),
            "expected an integer, found 3.5"
        );
        assert_eq!(
            in_words("invalid type: string \"yes\", expected a boolean"),
            "expected true or false, found \"yes\""
        );
        assert_eq!(
            in_words("unknown field `hael_after`, expected one of `at`, `heal_after`"),
            "unknown field `hael_after`, expected one of `at`, `heal_after`; did you mean `heal_after`?"
        );
    }
}
