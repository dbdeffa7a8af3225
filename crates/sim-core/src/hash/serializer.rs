//! A `serde::Serializer` that folds a value into a [`StableHasher`] field by field.
//!
//! This is how message, timer, report, request and reply contents reach the trace hash: no text
//! is formatted and nothing is allocated. Each primitive is one 64-bit word (128-bit integers are
//! two); an enum variant writes its index; strings, byte strings, sequences and maps are prefixed
//! with their length, so `("ab", "c")` and `("a", "bc")` hash apart (a string of up to 7 bytes
//! shares its one word with its length). Struct and tuple fields are
//! written in order without names: the type fixes them. `Option` writes 0 for `None` and 1 before
//! a `Some` value. The serializer says it is not human-readable, so types that print themselves
//! for people (durations, node names) can give it their plain numbers instead.
//!
//! Types that serialize through `collect_str` are hashed by their `Display` text ([`hash_text`]:
//! packed into words, then its length); everything else never formats. Every method is `#[inline]`: the derived
//! `Serialize` code of a protocol crate calls them once per field, across crates.

use std::fmt::{self, Display};

use serde::ser::{self, Serialize};

use super::StableHasher;

/// Folds `value` into `hasher` through its `Serialize` implementation.
///
/// A `Serialize` implementation may fail on purpose (`serde::ser::Error::custom`); the hasher
/// then holds whatever was written before, and the failure is folded in as a marker word, so
/// two runs still hash the same value the same way.
#[inline]
pub fn hash_value<T: Serialize + ?Sized>(hasher: &mut StableHasher, value: &T) {
    if value.serialize(HashSerializer { hasher }).is_err() {
        hasher.write_u64(FAILED);
    }
}

/// Folds the `Display` text of `value` into `hasher` as it is formatted, without a `String`:
/// 8 bytes to a word, then the length. The hash depends only on the text, not on how the
/// formatter split it into pieces.
pub fn hash_text<T: Display + ?Sized>(hasher: &mut StableHasher, value: &T) {
    use std::fmt::Write as _;
    let mut text = TextWords {
        hasher,
        word: 0,
        length: 0,
    };
    let _ = write!(text, "{value}");
    let length = text.length;
    if !length.is_multiple_of(8) {
        text.hasher.write_u64(text.word);
    }
    text.hasher.write_u64(length);
}

/// Packs text into words for [`hash_text`].
struct TextWords<'a> {
    hasher: &'a mut StableHasher,
    word: u64,
    length: u64,
}

impl fmt::Write for TextWords<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for &byte in s.as_bytes() {
            self.word |= u64::from(byte) << (8 * (self.length % 8));
            self.length += 1;
            if self.length.is_multiple_of(8) {
                self.hasher.write_u64(self.word);
                self.word = 0;
            }
        }
        Ok(())
    }
}

/// Written after a value whose serialization failed.
const FAILED: u64 = 0xfa11_ed00_fa11_ed00;
/// Written before a sequence or map whose length is not known up front (its count follows it).
const UNKNOWN_LENGTH: u64 = u64::MAX;

/// The serializer: a borrowed hasher.
pub struct HashSerializer<'a> {
    hasher: &'a mut StableHasher,
}

impl<'a> HashSerializer<'a> {
    #[inline]
    pub fn new(hasher: &'a mut StableHasher) -> Self {
        HashSerializer { hasher }
    }
}

/// A failure a `Serialize` implementation raised; it carries no text, so raising it allocates
/// nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashError;

impl Display for HashError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a value refused to serialize")
    }
}

impl std::error::Error for HashError {}

impl ser::Error for HashError {
    fn custom<T: Display>(_msg: T) -> Self {
        HashError
    }
}

/// The state of a sequence or map being hashed.
pub struct Sequence<'a> {
    hasher: &'a mut StableHasher,
    /// Counts elements when the length was not known up front, to write it at the end.
    counted: Option<u64>,
}

impl Sequence<'_> {
    #[inline]
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), HashError> {
        if let Some(count) = &mut self.counted {
            *count += 1;
        }
        value.serialize(HashSerializer {
            hasher: self.hasher,
        })
    }

    #[inline]
    fn end(self) -> Result<(), HashError> {
        if let Some(count) = self.counted {
            self.hasher.write_u64(count);
        }
        Ok(())
    }
}

/// The state of a tuple or struct being hashed: its type fixes how many fields it has.
pub struct Fields<'a> {
    hasher: &'a mut StableHasher,
}

impl Fields<'_> {
    #[inline]
    fn field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), HashError> {
        value.serialize(HashSerializer {
            hasher: self.hasher,
        })
    }
}

impl<'a> HashSerializer<'a> {
    #[inline]
    fn word(self, word: u64) -> Result<(), HashError> {
        self.hasher.write_u64(word);
        Ok(())
    }

    #[inline]
    fn sequence(self, len: Option<usize>) -> Sequence<'a> {
        let counted = match len {
            Some(len) => {
                self.hasher.write_u64(len as u64);
                None
            }
            None => {
                self.hasher.write_u64(UNKNOWN_LENGTH);
                Some(0)
            }
        };
        Sequence {
            hasher: self.hasher,
            counted,
        }
    }

    #[inline]
    fn fields(self) -> Fields<'a> {
        Fields {
            hasher: self.hasher,
        }
    }
}

impl<'a> ser::Serializer for HashSerializer<'a> {
    type Ok = ();
    type Error = HashError;
    type SerializeSeq = Sequence<'a>;
    type SerializeTuple = Fields<'a>;
    type SerializeTupleStruct = Fields<'a>;
    type SerializeTupleVariant = Fields<'a>;
    type SerializeMap = Sequence<'a>;
    type SerializeStruct = Fields<'a>;
    type SerializeStructVariant = Fields<'a>;

    #[inline]
    fn serialize_bool(self, v: bool) -> Result<(), HashError> {
        self.word(u64::from(v))
    }
    #[inline]
    fn serialize_i8(self, v: i8) -> Result<(), HashError> {
        self.word(v as i64 as u64)
    }
    #[inline]
    fn serialize_i16(self, v: i16) -> Result<(), HashError> {
        self.word(v as i64 as u64)
    }
    #[inline]
    fn serialize_i32(self, v: i32) -> Result<(), HashError> {
        self.word(v as i64 as u64)
    }
    #[inline]
    fn serialize_i64(self, v: i64) -> Result<(), HashError> {
        self.word(v as u64)
    }
    #[inline]
    fn serialize_i128(self, v: i128) -> Result<(), HashError> {
        self.serialize_u128(v as u128)
    }
    #[inline]
    fn serialize_u8(self, v: u8) -> Result<(), HashError> {
        self.word(u64::from(v))
    }
    #[inline]
    fn serialize_u16(self, v: u16) -> Result<(), HashError> {
        self.word(u64::from(v))
    }
    #[inline]
    fn serialize_u32(self, v: u32) -> Result<(), HashError> {
        self.word(u64::from(v))
    }
    #[inline]
    fn serialize_u64(self, v: u64) -> Result<(), HashError> {
        self.word(v)
    }
    #[inline]
    fn serialize_u128(self, v: u128) -> Result<(), HashError> {
        self.hasher.write_u64(v as u64);
        self.word((v >> 64) as u64)
    }
    #[inline]
    fn serialize_f32(self, v: f32) -> Result<(), HashError> {
        self.word(u64::from(v.to_bits()))
    }
    #[inline]
    fn serialize_f64(self, v: f64) -> Result<(), HashError> {
        self.word(v.to_bits())
    }
    #[inline]
    fn serialize_char(self, v: char) -> Result<(), HashError> {
        self.word(u64::from(v))
    }
    #[inline]
    fn serialize_str(self, v: &str) -> Result<(), HashError> {
        self.serialize_bytes(v.as_bytes())
    }
    /// Up to 7 bytes share one word with their length (in the top byte); longer ones write their
    /// length (8 or more, so its top byte is 0) and then their bytes.
    #[inline]
    fn serialize_bytes(self, v: &[u8]) -> Result<(), HashError> {
        if v.len() < 8 {
            let mut word = (v.len() as u64) << 56;
            for (i, &byte) in v.iter().enumerate() {
                word |= u64::from(byte) << (8 * i);
            }
            return self.word(word);
        }
        self.hasher.write_u64(v.len() as u64);
        self.hasher.write_bytes(v);
        Ok(())
    }
    #[inline]
    fn serialize_none(self) -> Result<(), HashError> {
        self.word(0)
    }
    #[inline]
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), HashError> {
        self.hasher.write_u64(1);
        value.serialize(self)
    }
    #[inline]
    fn serialize_unit(self) -> Result<(), HashError> {
        Ok(())
    }
    #[inline]
    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), HashError> {
        Ok(())
    }
    #[inline]
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        variant_index: u32,
        _variant: &'static str,
    ) -> Result<(), HashError> {
        self.word(u64::from(variant_index))
    }
    #[inline]
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), HashError> {
        value.serialize(self)
    }
    #[inline]
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        variant_index: u32,
        _variant: &'static str,
        value: &T,
    ) -> Result<(), HashError> {
        self.hasher.write_u64(u64::from(variant_index));
        value.serialize(self)
    }
    #[inline]
    fn serialize_seq(self, len: Option<usize>) -> Result<Sequence<'a>, HashError> {
        Ok(self.sequence(len))
    }
    #[inline]
    fn serialize_tuple(self, _len: usize) -> Result<Fields<'a>, HashError> {
        Ok(self.fields())
    }
    #[inline]
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Fields<'a>, HashError> {
        Ok(self.fields())
    }
    #[inline]
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        variant_index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Fields<'a>, HashError> {
        self.hasher.write_u64(u64::from(variant_index));
        Ok(self.fields())
    }
    #[inline]
    fn serialize_map(self, len: Option<usize>) -> Result<Sequence<'a>, HashError> {
        Ok(self.sequence(len))
    }
    #[inline]
    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Fields<'a>, HashError> {
        Ok(self.fields())
    }
    #[inline]
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        variant_index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Fields<'a>, HashError> {
        self.hasher.write_u64(u64::from(variant_index));
        Ok(self.fields())
    }
    /// Text hashed as it is formatted (no `String`), see [`hash_text`].
    #[inline]
    fn collect_str<T: Display + ?Sized>(self, value: &T) -> Result<(), HashError> {
        hash_text(self.hasher, value);
        Ok(())
    }
    #[inline]
    fn is_human_readable(&self) -> bool {
        false
    }
}

impl ser::SerializeSeq for Sequence<'_> {
    type Ok = ();
    type Error = HashError;
    #[inline]
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), HashError> {
        self.element(value)
    }
    #[inline]
    fn end(self) -> Result<(), HashError> {
        Sequence::end(self)
    }
}

impl ser::SerializeTuple for Fields<'_> {
    type Ok = ();
    type Error = HashError;
    #[inline]
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), HashError> {
        self.field(value)
    }
    #[inline]
    fn end(self) -> Result<(), HashError> {
        Ok(())
    }
}

impl ser::SerializeTupleStruct for Fields<'_> {
    type Ok = ();
    type Error = HashError;
    #[inline]
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), HashError> {
        self.field(value)
    }
    #[inline]
    fn end(self) -> Result<(), HashError> {
        Ok(())
    }
}

impl ser::SerializeTupleVariant for Fields<'_> {
    type Ok = ();
    type Error = HashError;
    #[inline]
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), HashError> {
        self.field(value)
    }
    #[inline]
    fn end(self) -> Result<(), HashError> {
        Ok(())
    }
}

impl ser::SerializeMap for Sequence<'_> {
    type Ok = ();
    type Error = HashError;
    #[inline]
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), HashError> {
        self.element(key)
    }
    /// Values are not counted: the count is of entries, one per key.
    #[inline]
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), HashError> {
        value.serialize(HashSerializer {
            hasher: self.hasher,
        })
    }
    #[inline]
    fn end(self) -> Result<(), HashError> {
        Sequence::end(self)
    }
}

impl ser::SerializeStruct for Fields<'_> {
    type Ok = ();
    type Error = HashError;
    #[inline]
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        _key: &'static str,
        value: &T,
    ) -> Result<(), HashError> {
        self.field(value)
    }
    /// A skipped field still leaves a mark, so skipping differs from the next field's value.
    #[inline]
    fn skip_field(&mut self, _key: &'static str) -> Result<(), HashError> {
        self.hasher.write_u64(FAILED ^ 1);
        Ok(())
    }
    #[inline]
    fn end(self) -> Result<(), HashError> {
        Ok(())
    }
}

impl ser::SerializeStructVariant for Fields<'_> {
    type Ok = ();
    type Error = HashError;
    #[inline]
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        _key: &'static str,
        value: &T,
    ) -> Result<(), HashError> {
        self.field(value)
    }
    #[inline]
    fn skip_field(&mut self, _key: &'static str) -> Result<(), HashError> {
        self.hasher.write_u64(FAILED ^ 1);
        Ok(())
    }
    #[inline]
    fn end(self) -> Result<(), HashError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Serialize;
    use std::collections::BTreeMap;

    fn hash<T: Serialize + ?Sized>(value: &T) -> u64 {
        let mut hasher = StableHasher::new();
        hash_value(&mut hasher, value);
        hasher.finish()
    }

    #[derive(Serialize)]
    enum Msg {
        Ping,
        Pong,
        Vote { term: u64, granted: bool },
        Data(Vec<String>),
        Pair(u32, Option<u8>),
    }

    #[test]
    fn a_field_of_a_message_changes_its_hash() {
        let vote = |term, granted| Msg::Vote { term, granted };
        assert_eq!(hash(&vote(3, true)), hash(&vote(3, true)));
        assert_ne!(hash(&vote(3, true)), hash(&vote(4, true)));
        assert_ne!(hash(&vote(3, true)), hash(&vote(3, false)));
        assert_ne!(hash(&Msg::Ping), hash(&Msg::Pong));
        assert_ne!(hash(&Msg::Pair(1, None)), hash(&Msg::Pair(1, Some(0))));
    }

    #[test]
    fn lengths_keep_strings_and_sequences_apart() {
        let data = |items: &[&str]| Msg::Data(items.iter().map(|s| s.to_string()).collect());
        assert_ne!(hash(&data(&["ab", "c"])), hash(&data(&["a", "bc"])));
        assert_ne!(hash(&data(&["a", ""])), hash(&data(&["a"])));
        assert_ne!(hash(&data(&[])), hash(&data(&[""])));
        assert_ne!(hash(&("", "a")), hash(&("a", "")));
        let one: BTreeMap<u8, u8> = [(1, 2)].into_iter().collect();
        let two: BTreeMap<u8, u8> = [(1, 2), (3, 4)].into_iter().collect();
        assert_ne!(hash(&one), hash(&two));
    }

    #[test]
    fn text_hashes_by_its_characters_not_by_how_it_was_formatted() {
        let hash_of = |value: &dyn Display| {
            let mut hasher = StableHasher::new();
            hash_text(&mut hasher, value);
            hasher.finish()
        };
        let node = 12;
        assert_eq!(
            hash_of(&format_args!("crash n{node} now")),
            hash_of(&"crash n12 now")
        );
        assert_ne!(hash_of(&"crash n1"), hash_of(&"crash n1\0"));
        assert_ne!(hash_of(&"12345678"), hash_of(&"1234567"));
        assert_ne!(hash_of(&""), hash_of(&"\0"));
    }

    #[test]
    fn unknown_lengths_are_counted() {
        struct Unsized(Vec<u64>);
        impl Serialize for Unsized {
            fn serialize<S: ser::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_seq(self.0.iter().filter(|_| true))
            }
        }
        assert_ne!(hash(&Unsized(vec![1, 2])), hash(&Unsized(vec![1, 2, 0])));
        assert_eq!(hash(&Unsized(vec![5])), hash(&Unsized(vec![5])));
    }
}
