//! Tables a file may define only by naming them: `[cluster.kinds]` with no `[cluster]` header
//! defines `cluster` implicitly, as TOML allows, and means what `[cluster]` with
//! `kinds = { ... }` means.
//!
//! `toml` gives an implicit table no span, and a plain [`Spanned`] then refuses it (`expected a
//! borrowed string, found "kinds"`). [`MaybeSpanned`] reads a value with its span when it has one
//! and without otherwise; the schema's sections go through [`required`] and [`optional`], which
//! mark an implicit table with [`IMPLICIT`] until `parse_raw` places it at its first entry
//! ([`crate::located::locate`]).

use std::fmt;
use std::marker::PhantomData;
use std::ops::Range;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use toml::Spanned;

use crate::located::{locate, FieldPath, Segment};
use crate::raw::RawScenario;

/// The names through which `toml` hands a value's span to [`Spanned`] (`serde_spanned`'s,
/// which it keeps unstable; the tests of implicit and explicit tables fail if they change).
const SPANNED_NAME: &str = "$__serde_spanned_private_Spanned";
const START_FIELD: &str = "$__serde_spanned_private_start";
const END_FIELD: &str = "$__serde_spanned_private_end";
const VALUE_FIELD: &str = "$__serde_spanned_private_value";
const SPANNED_FIELDS: &[&str] = &[START_FIELD, END_FIELD, VALUE_FIELD];

/// The span an implicit table carries until it is placed: no offset in a file is this.
pub(crate) const IMPLICIT: Range<usize> = usize::MAX..usize::MAX;

/// A value and its span, if the file gives it one (an implicit table has none).
#[derive(Debug)]
pub(crate) struct MaybeSpanned<T> {
    pub(crate) span: Option<Range<usize>>,
    pub(crate) value: T,
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for MaybeSpanned<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_struct(
            SPANNED_NAME,
            SPANNED_FIELDS,
            MaybeSpannedVisitor(PhantomData),
        )
    }
}

/// A section of the schema, `[cluster]` say, written or implicit.
pub(crate) fn required<'de, D, T>(deserializer: D) -> Result<Spanned<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    let read = MaybeSpanned::<T>::deserialize(deserializer)?;
    Ok(Spanned::new(read.span.unwrap_or(IMPLICIT), read.value))
}

/// An optional section of the schema (with `#[serde(default)]`), written or implicit.
pub(crate) fn optional<'de, D, T>(deserializer: D) -> Result<Option<Spanned<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    required(deserializer).map(Some)
}

struct MaybeSpannedVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for MaybeSpannedVisitor<T> {
    type Value = MaybeSpanned<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a table")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<MaybeSpanned<T>, A::Error> {
        let Some(first) = map.next_key::<String>()? else {
            // An empty table without a span: read it as written, with no entries.
            let value = T::deserialize(de::value::MapAccessDeserializer::new(map))?;
            return Ok(MaybeSpanned { span: None, value });
        };
        if first != START_FIELD {
            // An implicit table: `first` is its first key, given back to `T` before the rest.
            let rest = Replay {
                first: Some(first),
                map,
            };
            let value = T::deserialize(de::value::MapAccessDeserializer::new(rest))?;
            return Ok(MaybeSpanned { span: None, value });
        }
        let start: usize = map.next_value()?;
        expect_key(&mut map, END_FIELD)?;
        let end: usize = map.next_value()?;
        expect_key(&mut map, VALUE_FIELD)?;
        let value: T = map.next_value()?;
        Ok(MaybeSpanned {
            span: Some(start..end),
            value,
        })
    }
}

fn expect_key<'de, A: MapAccess<'de>>(map: &mut A, key: &'static str) -> Result<(), A::Error> {
    match map.next_key::<String>()? {
        Some(k) if k == key => Ok(()),
        _ => Err(de::Error::missing_field(key)),
    }
}

/// A map whose first key was already read: it gives that key back, then the rest.
struct Replay<A> {
    first: Option<String>,
    map: A,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Replay<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        match self.first.take() {
            Some(key) => {
                let key: de::value::StringDeserializer<A::Error> =
                    de::IntoDeserializer::into_deserializer(key);
                seed.deserialize(key).map(Some)
            }
            None => self.map.next_key_seed(seed),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        self.map.next_value_seed(seed)
    }
}

/// `raw` with the sections it read as implicit tables placed where the file first writes into
/// them (the header of their first subtable), so that errors about them point at a line.
pub(crate) fn place(mut raw: RawScenario, text: &str) -> RawScenario {
    raw.cluster = placed(raw.cluster, text, &["cluster"]);
    let kinds = raw.cluster.get_mut().kinds.take();
    raw.cluster.get_mut().kinds = kinds.map(|k| placed(k, text, &["cluster", "kinds"]));
    raw.protocol = placed(raw.protocol, text, &["protocol"]);
    raw.network = raw.network.map(|s| placed(s, text, &["network"]));
    raw.workload = raw.workload.map(|s| placed(s, text, &["workload"]));
    raw.checks = raw.checks.map(|s| placed(s, text, &["checks"]));
    raw.nemesis = raw.nemesis.map(|s| placed(s, text, &["nemesis"]));
    raw.expect = raw.expect.map(|s| placed(s, text, &["expect"]));
    raw.swarm = raw.swarm.map(|s| placed(s, text, &["swarm"]));
    raw
}

fn placed<T>(section: Spanned<T>, text: &str, path: &[&str]) -> Spanned<T> {
    if section.span() != IMPLICIT {
        return section;
    }
    let path = FieldPath(path.iter().map(|k| Segment::Key(k.to_string())).collect());
    let start = locate(text, &path).unwrap_or(0);
    Spanned::new(start..start, section.into_inner())
}
