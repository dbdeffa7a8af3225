//! Exact values: a JSON reader that never rounds, truncates or substitutes.
//!
//! serde_json (without its `arbitrary_precision` feature, which the rest of the workspace cannot
//! take: it breaks `#[serde(flatten)]` with numbers) reads `1e30` and `1e30 + 1` as the same
//! `f64`, and a value nested deeper than its recursion limit can only be an error. A checker that
//! compared such values would call a history linearizable whose values differ. So histories are
//! read here, by [`read_value`]:
//! - Numbers compare by their exact decimal value: `1`, `1.0` and `10e-1` are the same number,
//!   `1e30` and `1000000000000000000000000000001` are not. A number that an `i64`/`u64` holds, or
//!   whose shortest `f64` text is its own exact value, is a plain [`serde_json::Number`]; any other
//!   is kept exactly as a *big number*: an object with the single reserved key [`BIG_NUMBER_KEY`]
//!   whose value is the canonical decimal text. Equal numbers have equal representations, so
//!   `==`, hashing and text comparisons stay exact. [`display`] writes big numbers back as numbers.
//! - Every limit is an error at its offset, never a substitution: nesting deeper than
//!   [`DEPTH_MAX`], a number longer than [`NUMBER_LEN_MAX`] characters, an exponent out of range,
//!   an object key starting with NUL (reserved for the big-number encoding), a duplicate key.

use std::fmt::Write as _;

use serde_json::{Map, Number, Value};

/// The deepest nesting of arrays and objects a value may have.
pub const DEPTH_MAX: usize = 128;
/// The longest number token read, in characters.
pub const NUMBER_LEN_MAX: usize = 1_000;
/// The reserved object key that marks a big number (see the module docs).
pub const BIG_NUMBER_KEY: &str = "\u{0}number";
/// Prefix of every reserved key.
pub(crate) const RESERVED_PREFIX: char = '\u{0}';

/// Why text is not a value: the byte offset at fault and a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadError {
    pub offset: usize,
    pub message: String,
}

fn error<T>(offset: usize, message: impl Into<String>) -> Result<T, ReadError> {
    Err(ReadError {
        offset,
        message: message.into(),
    })
}

/// Reads one JSON value starting at byte `start` of `text` (after whitespace); returns it and the
/// offset just after it.
pub fn read_value(text: &str, start: usize) -> Result<(Value, usize), ReadError> {
    let mut reader = Reader {
        bytes: text.as_bytes(),
        text,
        position: start,
    };
    reader.skip_space();
    let value = reader.value(0)?;
    Ok((value, reader.position))
}

/// Reads `text` as exactly one JSON value (whitespace around it allowed).
pub fn read_whole(text: &str) -> Result<Value, ReadError> {
    let (value, end) = read_value(text, 0)?;
    let mut reader = Reader {
        bytes: text.as_bytes(),
        text,
        position: end,
    };
    reader.skip_space();
    if reader.position < text.len() {
        return error(reader.position, "trailing characters after the value");
    }
    Ok(value)
}

/// A cursor over JSON text. Public to the crate so the history reader can walk a document's top
/// level itself and keep the offset of every op.
pub(crate) struct Reader<'a> {
    pub(crate) bytes: &'a [u8],
    pub(crate) text: &'a str,
    pub(crate) position: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(text: &'a str, position: usize) -> Self {
        Reader {
            bytes: text.as_bytes(),
            text,
            position,
        }
    }

    pub(crate) fn skip_space(&mut self) {
        while let Some(&byte) = self.bytes.get(self.position) {
            if matches!(byte, b' ' | b'\t' | b'\n' | b'\r') {
                self.position += 1;
            } else {
                break;
            }
        }
    }

    pub(crate) fn peek(&self) -> Option<u8> {
        self.bytes.get(self.position).copied()
    }

    /// Skips whitespace and consumes `byte`, or fails naming what was expected.
    pub(crate) fn expect(&mut self, byte: u8, what: &str) -> Result<(), ReadError> {
        self.skip_space();
        if self.peek() == Some(byte) {
            self.position += 1;
            Ok(())
        } else {
            error(
                self.position,
                format!("expected {what}, found {}", self.found()),
            )
        }
    }

    pub(crate) fn found(&self) -> String {
        match self
            .text
            .get(self.position..)
            .and_then(|rest| rest.chars().next())
        {
            Some(character) => format!("{character:?}"),
            None => "the end of the text".to_string(),
        }
    }

    pub(crate) fn value(&mut self, depth: usize) -> Result<Value, ReadError> {
        self.skip_space();
        let start = self.position;
        match self.peek() {
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => self.string().map(Value::String),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b't') => self.word("true", Value::Bool(true)),
            Some(b'f') => self.word("false", Value::Bool(false)),
            Some(b'n') => self.word("null", Value::Null),
            _ => error(
                start,
                format!("expected a JSON value, found {}", self.found()),
            ),
        }
    }

    fn word(&mut self, word: &str, value: Value) -> Result<Value, ReadError> {
        if self.bytes[self.position..].starts_with(word.as_bytes()) {
            self.position += word.len();
            Ok(value)
        } else {
            error(
                self.position,
                format!("expected a JSON value, found {}", self.found()),
            )
        }
    }

    fn check_depth(&self, depth: usize) -> Result<(), ReadError> {
        if depth > DEPTH_MAX {
            return error(
                self.position,
                format!("values nest deeper than {DEPTH_MAX} levels, the most this reader takes"),
            );
        }
        Ok(())
    }

    fn array(&mut self, depth: usize) -> Result<Value, ReadError> {
        self.check_depth(depth)?;
        self.position += 1;
        let mut items = Vec::new();
        self.skip_space();
        if self.peek() == Some(b']') {
            self.position += 1;
            return Ok(Value::Array(items));
        }
        loop {
            items.push(self.value(depth)?);
            self.skip_space();
            match self.peek() {
                Some(b',') => self.position += 1,
                Some(b']') => {
                    self.position += 1;
                    return Ok(Value::Array(items));
                }
                _ => {
                    return error(
                        self.position,
                        format!("expected ',' or ']', found {}", self.found()),
                    )
                }
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value, ReadError> {
        self.check_depth(depth)?;
        self.position += 1;
        let mut map = Map::new();
        self.skip_space();
        if self.peek() == Some(b'}') {
            self.position += 1;
            return Ok(Value::Object(map));
        }
        loop {
            self.skip_space();
            let key_start = self.position;
            if self.peek() != Some(b'"') {
                return error(
                    self.position,
                    format!("expected a string key, found {}", self.found()),
                );
            }
            let key = self.string()?;
            if key.starts_with(RESERVED_PREFIX) {
                return error(key_start, "object keys starting with NUL are reserved");
            }
            self.expect(b':', "':'")?;
            let value = self.value(depth)?;
            if map.insert(key.clone(), value).is_some() {
                return error(key_start, format!("duplicate key {key:?}"));
            }
            self.skip_space();
            match self.peek() {
                Some(b',') => self.position += 1,
                Some(b'}') => {
                    self.position += 1;
                    return Ok(Value::Object(map));
                }
                _ => {
                    return error(
                        self.position,
                        format!("expected ',' or '}}', found {}", self.found()),
                    )
                }
            }
        }
    }

    pub(crate) fn string(&mut self) -> Result<String, ReadError> {
        let start = self.position;
        self.position += 1;
        let mut out = String::new();
        loop {
            let run_start = self.position;
            while let Some(&byte) = self.bytes.get(self.position) {
                if byte == b'"' || byte == b'\\' || byte < 0x20 {
                    break;
                }
                self.position += 1;
            }
            out.push_str(&self.text[run_start..self.position]);
            match self.peek() {
                Some(b'"') => {
                    self.position += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    let escape_start = self.position;
                    self.position += 1;
                    let character = self.escape(escape_start)?;
                    out.push(character);
                }
                Some(_) => return error(self.position, "a control character inside a string"),
                None => return error(start, "a string is not closed"),
            }
        }
    }

    fn escape(&mut self, escape_start: usize) -> Result<char, ReadError> {
        let Some(byte) = self.peek() else {
            return error(escape_start, "a string is not closed");
        };
        self.position += 1;
        let character = match byte {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let first = self.hex4(escape_start)?;
                if (0xd800..0xdc00).contains(&first) {
                    if !self.bytes[self.position..].starts_with(b"\\u") {
                        return error(escape_start, "a lone surrogate in a \\u escape");
                    }
                    self.position += 2;
                    let second = self.hex4(escape_start)?;
                    if !(0xdc00..0xe000).contains(&second) {
                        return error(escape_start, "a lone surrogate in a \\u escape");
                    }
                    let code = 0x10000 + ((first - 0xd800) << 10) + (second - 0xdc00);
                    return char::from_u32(code)
                        .map_or_else(|| error(escape_start, "an invalid \\u escape"), Ok);
                }
                return char::from_u32(first).map_or_else(
                    || error(escape_start, "a lone surrogate in a \\u escape"),
                    Ok,
                );
            }
            _ => return error(escape_start, "an invalid escape in a string"),
        };
        Ok(character)
    }

    fn hex4(&mut self, escape_start: usize) -> Result<u32, ReadError> {
        let digits = self
            .text
            .get(self.position..self.position + 4)
            .filter(|digits| digits.bytes().all(|byte| byte.is_ascii_hexdigit()));
        let Some(digits) = digits else {
            return error(escape_start, "a \\u escape needs four hex digits");
        };
        self.position += 4;
        u32::from_str_radix(digits, 16)
            .map_or_else(|_| error(escape_start, "an invalid \\u escape"), Ok)
    }

    fn number(&mut self) -> Result<Value, ReadError> {
        let start = self.position;
        let bytes = self.bytes;
        let mut end = start;
        if bytes.get(end) == Some(&b'-') {
            end += 1;
        }
        let digits_start = end;
        while bytes.get(end).is_some_and(u8::is_ascii_digit) {
            end += 1;
        }
        let int_len = end - digits_start;
        if int_len == 0 || (int_len > 1 && bytes[digits_start] == b'0') {
            return error(start, "an invalid number");
        }
        if bytes.get(end) == Some(&b'.') {
            end += 1;
            let fraction_start = end;
            while bytes.get(end).is_some_and(u8::is_ascii_digit) {
                end += 1;
            }
            if end == fraction_start {
                return error(start, "an invalid number: no digit after '.'");
            }
        }
        if matches!(bytes.get(end), Some(b'e' | b'E')) {
            end += 1;
            if matches!(bytes.get(end), Some(b'+' | b'-')) {
                end += 1;
            }
            let exponent_start = end;
            while bytes.get(end).is_some_and(u8::is_ascii_digit) {
                end += 1;
            }
            if end == exponent_start {
                return error(start, "an invalid number: no digit in the exponent");
            }
        }
        if end - start > NUMBER_LEN_MAX {
            return error(
                start,
                format!(
                    "a number longer than {NUMBER_LEN_MAX} characters, the most this reader takes"
                ),
            );
        }
        self.position = end;
        exact_number(&self.text[start..end]).map_or_else(|message| error(start, message), Ok)
    }
}

/// A number's exact value: sign, significant digits without leading or trailing zeros, and a
/// power of ten. Zero has no digits and no sign.
#[derive(Debug, PartialEq, Eq)]
struct Decimal {
    negative: bool,
    digits: String,
    exponent: i64,
}

/// The exponents a number may have (after normalisation).
const EXPONENT_MAX: i64 = 1_000_000;

fn decimal(token: &str) -> Result<Decimal, String> {
    let (negative, rest) = match token.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, token),
    };
    let (mantissa, exponent_text) = match rest.find(['e', 'E']) {
        Some(cut) => (&rest[..cut], Some(&rest[cut + 1..])),
        None => (rest, None),
    };
    let mut exponent: i64 = match exponent_text {
        Some(text) => {
            let text = text.strip_prefix('+').unwrap_or(text);
            match text.parse::<i64>() {
                Ok(value) if value.abs() <= EXPONENT_MAX => value,
                _ => return Err(format!("a number's exponent beyond ±{EXPONENT_MAX}")),
            }
        }
        None => 0,
    };
    let (integer, fraction) = match mantissa.find('.') {
        Some(cut) => (&mantissa[..cut], &mantissa[cut + 1..]),
        None => (mantissa, ""),
    };
    exponent -= fraction.len() as i64;
    let mut digits: String = format!("{integer}{fraction}");
    let leading = digits.len() - digits.trim_start_matches('0').len();
    digits.drain(..leading);
    let trimmed_len = digits.trim_end_matches('0').len();
    exponent += (digits.len() - trimmed_len) as i64;
    digits.truncate(trimmed_len);
    if digits.is_empty() {
        return Ok(Decimal {
            negative: false,
            digits,
            exponent: 0,
        });
    }
    Ok(Decimal {
        negative,
        digits,
        exponent,
    })
}

/// The value of a JSON number token, exactly (see the module docs).
pub(crate) fn exact_number(token: &str) -> Result<Value, String> {
    let exact = decimal(token)?;
    if exact.digits.is_empty() {
        return Ok(Value::from(0u64));
    }
    if exact.exponent >= 0 && exact.digits.len() as i64 + exact.exponent <= 20 {
        let text = format!(
            "{}{}{}",
            if exact.negative { "-" } else { "" },
            exact.digits,
            "0".repeat(exact.exponent as usize)
        );
        if let Ok(value) = text.parse::<u64>() {
            return Ok(Value::from(value));
        }
        if let Ok(value) = text.parse::<i64>() {
            return Ok(Value::from(value));
        }
    }
    if exact.exponent < 0 {
        if let Ok(float) = token.parse::<f64>() {
            // Rust prints the shortest text that reads back as the same f64; if that text has
            // the token's exact value, the f64 stands for exactly this number among decimals.
            let shortest = format!("{float}");
            if float.is_finite() && decimal(&shortest).as_ref() == Ok(&exact) {
                if let Some(number) = Number::from_f64(float) {
                    return Ok(Value::Number(number));
                }
            }
        }
    }
    let mut map = Map::new();
    map.insert(BIG_NUMBER_KEY.to_string(), Value::String(canonical(&exact)));
    Ok(Value::Object(map))
}

fn canonical(exact: &Decimal) -> String {
    let sign = if exact.negative { "-" } else { "" };
    if (0..=40).contains(&exact.exponent) {
        format!(
            "{sign}{}{}",
            exact.digits,
            "0".repeat(exact.exponent as usize)
        )
    } else {
        format!("{sign}{}e{}", exact.digits, exact.exponent)
    }
}

/// The big number `value` stands for, as canonical JSON number text, if it is one.
pub fn big_number(value: &Value) -> Option<&str> {
    match value {
        Value::Object(map) if map.len() == 1 => map.get(BIG_NUMBER_KEY).and_then(Value::as_str),
        _ => None,
    }
}

/// `value` as JSON text, big numbers written as the numbers they are.
pub fn display(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    out
}

fn write_value(out: &mut String, value: &Value) {
    if let Some(number) = big_number(value) {
        out.push_str(number);
        return;
    }
    match value {
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (index, (key, item)) in map.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                let _ = write!(out, "{}:", Value::String(key.clone()));
                write_value(out, item);
            }
            out.push('}');
        }
        other => {
            let _ = write!(out, "{other}");
        }
    }
}

/// `value` with big numbers made plain for a JSON report: `{"$number": "<decimal>"}`.
pub fn to_report(value: &Value) -> Value {
    if let Some(number) = big_number(value) {
        return serde_json::json!({ "$number": number });
    }
    match value {
        Value::Array(items) => Value::Array(items.iter().map(to_report).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, item)| (key.clone(), to_report(item)))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(text: &str) -> Value {
        read_whole(text).unwrap()
    }

    #[test]
    fn equal_numbers_read_equal_and_different_ones_differ() {
        assert_eq!(read("1"), read("1.0"));
        assert_eq!(read("1"), read("10e-1"));
        assert_eq!(read("-0"), read("0.0e5"));
        assert_eq!(read("0.1"), json!(0.1));
        assert_ne!(read("0.1"), read("0.10000000000000001"));
        assert_ne!(read("1e30"), read("1000000000000000000000000000001"));
        assert_eq!(read("1e30"), read("1000000000000000000000000000000"));
        assert_eq!(read("18446744073709551615"), json!(u64::MAX));
        assert_eq!(read("-9223372036854775808"), json!(i64::MIN));
        assert!(big_number(&read("18446744073709551616")).is_some());
        assert_eq!(
            display(&read("[1e30, {\"a\": -12345678901234567890123}]")),
            "[1000000000000000000000000000000,{\"a\":-12345678901234567890123}]"
        );
    }

    #[test]
    fn limits_are_errors_never_substitutions() {
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        let error = read_whole(&deep).unwrap_err();
        assert!(error.message.contains("nest deeper than 128"), "{error:?}");
        assert_eq!(error.offset, 128);
        assert!(read_whole(&"1".repeat(1001)).is_err());
        assert!(read_whole("1e99999999999").is_err());
        assert!(read_whole("{\"\\u0000number\": \"1\"}").is_err());
        assert!(read_whole("{\"a\": 1, \"a\": 2}").is_err());
        assert!(read_whole("[1,]").is_err());
        assert!(read_whole("\"\\ud800\"").is_err());
        assert_eq!(read("\"\\ud83d\\ude00 \\n\""), json!("\u{1f600} \n"));
    }
}
