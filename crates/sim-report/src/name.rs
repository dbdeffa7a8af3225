//! The name of a protocol value's kind: an enum's variant (`AppendEntries`), or a struct's type
//! name, read through its `Serialize` form without serializing its fields.
//!
//! A serializer that stops at the first name it is shown: every method returns an "error"
//! carrying the name (or none), so a message costs a few calls however large it is.

use std::fmt;

use serde::ser::{self, Impossible, Serialize};

/// The variant or type name of `value`, or `"value"` for a plain value (a number, a string).
pub fn kind_name<T: Serialize + ?Sized>(value: &T) -> &'static str {
    match value.serialize(NameOnly) {
        Err(Found(Some(name))) => name,
        _ => "value",
    }
}

/// What the serializer found: a name, or a value without one.
#[derive(Debug)]
struct Found(Option<&'static str>);

impl fmt::Display for Found {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl std::error::Error for Found {}

impl ser::Error for Found {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Found(None)
    }
}

struct NameOnly;

type Nothing = Impossible<(), Found>;

macro_rules! unnamed {
    ($($method:ident($($arg:ty),*)),* $(,)?) => {
        $(fn $method(self, $(_: $arg),*) -> Result<(), Found> {
            Err(Found(None))
        })*
    };
}

impl ser::Serializer for NameOnly {
    type Ok = ();
    type Error = Found;
    type SerializeSeq = Nothing;
    type SerializeTuple = Nothing;
    type SerializeTupleStruct = Nothing;
    type SerializeTupleVariant = Nothing;
    type SerializeMap = Nothing;
    type SerializeStruct = Nothing;
    type SerializeStructVariant = Nothing;

    unnamed! {
        serialize_bool(bool), serialize_i8(i8), serialize_i16(i16), serialize_i32(i32),
        serialize_i64(i64), serialize_u8(u8), serialize_u16(u16), serialize_u32(u32),
        serialize_u64(u64), serialize_f32(f32), serialize_f64(f64), serialize_char(char),
        serialize_str(&str), serialize_bytes(&[u8]), serialize_none(), serialize_unit(),
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Found> {
        value.serialize(self)
    }

    fn serialize_unit_struct(self, name: &'static str) -> Result<(), Found> {
        Err(Found(Some(name)))
    }

    fn serialize_unit_variant(self, _: &'static str, _: u32, v: &'static str) -> Result<(), Found> {
        Err(Found(Some(v)))
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        _: &T,
    ) -> Result<(), Found> {
        Err(Found(Some(name)))
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: &T,
    ) -> Result<(), Found> {
        Err(Found(Some(variant)))
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Nothing, Found> {
        Err(Found(None))
    }

    fn serialize_tuple(self, _: usize) -> Result<Nothing, Found> {
        Err(Found(None))
    }

    fn serialize_tuple_struct(self, name: &'static str, _: usize) -> Result<Nothing, Found> {
        Err(Found(Some(name)))
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Nothing, Found> {
        Err(Found(Some(variant)))
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Nothing, Found> {
        Err(Found(None))
    }

    fn serialize_struct(self, name: &'static str, _: usize) -> Result<Nothing, Found> {
        Err(Found(Some(name)))
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Nothing, Found> {
        Err(Found(Some(variant)))
    }
}

#[cfg(test)]
mod tests {
    use super::kind_name;
    use serde::Serialize;

    #[derive(Serialize)]
    enum Msg {
        Ping,
        Vote(u64),
        Append { term: u64, entries: Vec<u64> },
        Pair(u8, u8),
    }

    #[derive(Serialize)]
    struct Beat {
        seq: u64,
    }

    #[test]
    fn variants_and_structs_are_named_and_plain_values_are_not() {
        assert_eq!(kind_name(&Msg::Ping), "Ping");
        assert_eq!(kind_name(&Msg::Vote(3)), "Vote");
        let append = Msg::Append {
            term: 1,
            entries: vec![1, 2],
        };
        assert_eq!(kind_name(&append), "Append");
        assert_eq!(kind_name(&Msg::Pair(1, 2)), "Pair");
        assert_eq!(kind_name(&Beat { seq: 1 }), "Beat");
        assert_eq!(kind_name(&Some(Msg::Ping)), "Ping");
        assert_eq!(kind_name(&7u64), "value");
        assert_eq!(kind_name(&()), "value");
    }
}
