//! Other tools' histories: Jepsen/Knossos EDN (and Maelstrom's and Porcupine's kv logs, which are
//! EDN too), Jepsen's `jepsen.util` log lines (Porcupine's etcd histories), Porcupine's JSON
//! `[]Operation` dumps, and Jepsen-shaped JSON.
//!
//! Every format becomes the same [`History`]; the mappings are documented in
//! `tests/data/histories/formats/README.md` with an example file per format. In short:
//! - `:invoke` starts an operation; `:ok` completes it (a read's value is what it read); `:fail`
//!   means it certainly did not take effect; `:info` means it may or may not have taken effect,
//!   at any point after its invoke (as in Knossos). An invoke never completed counts as `:info`.
//! - Events whose `:process` is not an integer (`:nemesis`) are not client operations: skipped.
//! - `:f` `:read`/`:get`, `:write`/`:put`, `:cas` (`[expected new]`), `:append`, `:acquire`,
//!   `:release`. `:time` becomes the event's time when it is a non-negative integer.
//! - Independent keys: an op with `:key` acts on that key; when no op has one and every read,
//!   write and cas value is a `[k v]` tuple (Jepsen's `independent`), `k` is the key and `v` the
//!   value. Either makes the model `kv`, otherwise `register` (`--model` overrides).
//! - Porcupine's kv vocabulary (`:get`/`:put`) means its kv model: a missing key reads `""`, so the
//!   initial value is `""`.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::exact::{
    display, exact_number, read_value, ReadError, Reader, DEPTH_MAX, NUMBER_LEN_MAX,
};
use crate::history::{short_json, Event, EventKind, History, ModelKind, OpFn};
use crate::parse::{field_line_offset, line_at, HistoryError, Parser};

/// The reserved key of an EDN keyword in a value (`:timed-out`), so it never equals a string.
const KEYWORD_KEY: &str = "\u{0}keyword";
/// The reserved key of an EDN symbol.
const SYMBOL_KEY: &str = "\u{0}symbol";
/// The reserved key of an EDN set (its elements sorted by their text).
const SET_KEY: &str = "\u{0}set";
/// The reserved key prefix of an EDN tagged literal (`#inst "..."`).
const TAG_PREFIX: &str = "\u{0}#";

fn tagged(key: &str, value: Value) -> Value {
    let mut map = Map::new();
    map.insert(key.to_string(), value);
    Value::Object(map)
}

/// The name of a keyword or a string (`:invoke` or `"invoke"`).
fn name_of(value: &Value) -> Option<&str> {
    match value {
        Value::String(text) => Some(text),
        Value::Object(map) if map.len() == 1 => map.get(KEYWORD_KEY).and_then(Value::as_str),
        _ => None,
    }
}

/// A reader of EDN text into values (see the module docs of `exact` for numbers).
struct Edn<'a> {
    reader: Reader<'a>,
}

fn edn_error<T>(offset: usize, message: impl Into<String>) -> Result<T, ReadError> {
    Err(ReadError {
        offset,
        message: message.into(),
    })
}

fn is_delimiter(byte: u8) -> bool {
    byte.is_ascii_whitespace()
        || matches!(
            byte,
            b',' | b'(' | b')' | b'[' | b']' | b'{' | b'}' | b'"' | b';'
        )
}

impl<'a> Edn<'a> {
    fn new(text: &'a str, position: usize) -> Self {
        Edn {
            reader: Reader::new(text, position),
        }
    }

    fn position(&self) -> usize {
        self.reader.position
    }

    fn skip_space(&mut self) -> Result<(), ReadError> {
        loop {
            let bytes = self.reader.bytes;
            match bytes.get(self.reader.position) {
                Some(byte) if byte.is_ascii_whitespace() || *byte == b',' => {
                    self.reader.position += 1
                }
                Some(b';') => {
                    while bytes
                        .get(self.reader.position)
                        .is_some_and(|byte| *byte != b'\n')
                    {
                        self.reader.position += 1;
                    }
                }
                Some(b'#') if bytes.get(self.reader.position + 1) == Some(&b'_') => {
                    self.reader.position += 2;
                    self.value(0)?;
                }
                _ => return Ok(()),
            }
        }
    }

    fn at_end(&mut self) -> Result<bool, ReadError> {
        self.skip_space()?;
        Ok(self.reader.position >= self.reader.bytes.len())
    }

    fn token(&mut self) -> &'a str {
        let start = self.reader.position;
        let bytes = self.reader.bytes;
        while bytes
            .get(self.reader.position)
            .is_some_and(|byte| !is_delimiter(*byte))
        {
            self.reader.position += 1;
        }
        &self.reader.text[start..self.reader.position]
    }

    fn value(&mut self, depth: usize) -> Result<Value, ReadError> {
        self.skip_space()?;
        let start = self.reader.position;
        if depth > DEPTH_MAX {
            return edn_error(
                start,
                format!("values nest deeper than {DEPTH_MAX} levels, the most this reader takes"),
            );
        }
        let bytes = self.reader.bytes;
        match bytes.get(start) {
            None => edn_error(start, "expected an EDN value, found the end of the text"),
            Some(b'{') => {
                self.reader.position += 1;
                self.map(depth + 1, start)
            }
            Some(b'[' | b'(') => {
                let close = if bytes[start] == b'[' { b']' } else { b')' };
                self.reader.position += 1;
                self.sequence(depth + 1, close).map(Value::Array)
            }
            Some(b'"') => self.string().map(Value::String),
            Some(b'#') => self.dispatch(depth, start),
            Some(b':') => {
                self.reader.position += 1;
                let name = self.token();
                if name.is_empty() {
                    return edn_error(start, "a ':' with no keyword name");
                }
                Ok(tagged(KEYWORD_KEY, Value::String(name.to_string())))
            }
            Some(b'\\') => edn_error(start, "EDN characters (\\c) are not read; use a string"),
            Some(b')' | b']' | b'}') => {
                edn_error(start, format!("an unmatched {:?}", bytes[start] as char))
            }
            Some(byte) => {
                let signed_digit = matches!(byte, b'+' | b'-')
                    && bytes.get(start + 1).is_some_and(u8::is_ascii_digit);
                if byte.is_ascii_digit() || signed_digit {
                    return self.number(start);
                }
                let symbol = self.token();
                Ok(match symbol {
                    "nil" => Value::Null,
                    "true" => Value::Bool(true),
                    "false" => Value::Bool(false),
                    _ => tagged(SYMBOL_KEY, Value::String(symbol.to_string())),
                })
            }
        }
    }

    fn number(&mut self, start: usize) -> Result<Value, ReadError> {
        let token = self.token();
        if token.len() > NUMBER_LEN_MAX {
            return edn_error(
                start,
                format!(
                    "a number longer than {NUMBER_LEN_MAX} characters, the most this reader takes"
                ),
            );
        }
        let body = token.strip_suffix(['N', 'M']).unwrap_or(token);
        let body = body.strip_prefix('+').unwrap_or(body);
        let well_formed = !body.is_empty()
            && body.bytes().all(|byte| {
                byte.is_ascii_digit() || matches!(byte, b'.' | b'e' | b'E' | b'+' | b'-')
            });
        if !well_formed || body.contains('/') {
            return edn_error(start, format!("a number this reader does not take: {token:?} (ratios, hex and radix numbers are not read)"));
        }
        // The JSON grammar is a strict subset of EDN's for these; check it before reading exactly.
        let mut check = Reader::new(body, 0);
        match check.value(0) {
            Ok(_) if check.position == body.len() => {}
            _ => return edn_error(start, format!("an invalid number {token:?}")),
        }
        exact_number(body).map_or_else(|message| edn_error(start, message), Ok)
    }

    fn string(&mut self) -> Result<String, ReadError> {
        // EDN strings escape like JSON's for everything histories hold; raw newlines are allowed.
        let start = self.reader.position;
        let bytes = self.reader.bytes;
        let mut end = start + 1;
        let mut has_control = false;
        while let Some(&byte) = bytes.get(end) {
            match byte {
                b'"' => break,
                b'\\' => end += 2,
                _ => {
                    has_control |= byte < 0x20;
                    end += 1;
                }
            }
        }
        if end >= bytes.len() {
            return edn_error(start, "a string is not closed");
        }
        if !has_control {
            return self.reader.string();
        }
        let escaped: String = self.reader.text[start..=end]
            .chars()
            .map(|character| match character {
                '\n' => "\\n".to_string(),
                '\r' => "\\r".to_string(),
                '\t' => "\\t".to_string(),
                other => other.to_string(),
            })
            .collect();
        let mut inner = Reader::new(&escaped, 0);
        let text = inner.string().map_err(|error| ReadError {
            offset: start,
            message: error.message,
        })?;
        self.reader.position = end + 1;
        Ok(text)
    }

    fn sequence(&mut self, depth: usize, close: u8) -> Result<Vec<Value>, ReadError> {
        let mut items = Vec::new();
        loop {
            self.skip_space()?;
            match self.reader.bytes.get(self.reader.position) {
                Some(&byte) if byte == close => {
                    self.reader.position += 1;
                    return Ok(items);
                }
                None => {
                    return edn_error(
                        self.reader.position,
                        format!("expected {:?}, found the end of the text", close as char),
                    )
                }
                _ => items.push(self.value(depth)?),
            }
        }
    }

    fn map(&mut self, depth: usize, start: usize) -> Result<Value, ReadError> {
        let mut map = Map::new();
        loop {
            self.skip_space()?;
            let key_start = self.reader.position;
            match self.reader.bytes.get(key_start) {
                Some(b'}') => {
                    self.reader.position += 1;
                    return Ok(Value::Object(map));
                }
                None => return edn_error(start, "a map is not closed"),
                _ => {}
            }
            let key = self.value(depth)?;
            let key = match (&key, name_of(&key)) {
                (_, Some(name)) => name.to_string(),
                (Value::Number(_), _) => display(&key),
                _ => {
                    return edn_error(
                        key_start,
                        format!(
                            "map keys must be keywords, strings or numbers, found {}",
                            short_json(&key)
                        ),
                    )
                }
            };
            self.skip_space()?;
            if self.reader.bytes.get(self.reader.position) == Some(&b'}') {
                return edn_error(key_start, format!("the map key {key:?} has no value"));
            }
            let value = self.value(depth)?;
            if map.insert(key.clone(), value).is_some() {
                return edn_error(key_start, format!("duplicate key {key:?}"));
            }
        }
    }

    fn dispatch(&mut self, depth: usize, start: usize) -> Result<Value, ReadError> {
        self.reader.position += 1;
        if self.reader.bytes.get(self.reader.position) == Some(&b'{') {
            self.reader.position += 1;
            let mut items = self.sequence(depth + 1, b'}')?;
            items.sort_by_cached_key(display);
            items.dedup();
            return Ok(tagged(SET_KEY, Value::Array(items)));
        }
        let tag = self.token();
        if tag.is_empty() {
            return edn_error(start, "a '#' with no tag");
        }
        let value = self.value(depth + 1)?;
        if value.is_object() {
            // A record (`#jepsen.history.Op{...}`): its fields are what matters.
            return Ok(value);
        }
        Ok(tagged(&format!("{TAG_PREFIX}{tag}"), value))
    }
}

/// One record of another tool's history: a map of fields, where it starts, and its text.
struct Record<'t> {
    line: usize,
    raw: &'t str,
    value: Value,
}

/// Reads EDN: a sequence of op maps, or one vector or list of them.
pub(crate) fn parse_edn(parser: &Parser<'_>) -> Result<History, HistoryError> {
    let text = parser.text;
    let mut edn = Edn::new(text, 0);
    let syntax = |error: ReadError| parser.read_error(&error);
    let mut records = Vec::new();
    let mut line_of = LineTracker::default();
    while !edn.at_end().map_err(syntax)? {
        let start = edn.position();
        let opens_sequence = matches!(text.as_bytes()[start], b'[' | b'(');
        if opens_sequence && records.is_empty() {
            edn.reader.position += 1;
            loop {
                edn.skip_space().map_err(syntax)?;
                match text.as_bytes().get(edn.position()) {
                    Some(b']' | b')') => {
                        edn.reader.position += 1;
                        break;
                    }
                    None => {
                        return Err(syntax(ReadError {
                            offset: start,
                            message: "the vector of ops is not closed".to_string(),
                        }))
                    }
                    _ => {}
                }
                parser.poll(records.len())?;
                let op_start = edn.position();
                let value = edn.value(0).map_err(syntax)?;
                records.push(Record {
                    line: line_of.line(text, op_start),
                    raw: &text[op_start..edn.position()],
                    value,
                });
            }
            continue;
        }
        parser.poll(records.len())?;
        let value = edn.value(0).map_err(syntax)?;
        records.push(Record {
            line: line_of.line(text, start),
            raw: &text[start..edn.position()],
            value,
        });
    }
    jepsen_history(parser, records)
}

/// Counts lines up to increasing offsets.
#[derive(Default)]
struct LineTracker {
    offset: usize,
    line: usize,
}

impl LineTracker {
    fn line(&mut self, text: &str, offset: usize) -> usize {
        if self.line == 0 || offset < self.offset {
            self.offset = 0;
            self.line = 1;
        }
        self.line += text.as_bytes()[self.offset..offset]
            .iter()
            .filter(|&&byte| byte == b'\n')
            .count();
        self.offset = offset;
        self.line
    }
}

/// Reads Jepsen's log lines: `INFO  jepsen.util - 3\t:invoke\t:read\tnil`. Lines without
/// `jepsen.util - ` are other log output and are not read.
pub(crate) fn parse_etcd_log(parser: &Parser<'_>) -> Result<History, HistoryError> {
    const MARK: &str = "jepsen.util - ";
    let text = parser.text;
    let mut records = Vec::new();
    let mut offset = 0;
    for (line_index, line_text) in text.split('\n').enumerate() {
        let line_start = offset;
        offset += line_text.len() + 1;
        let Some(cut) = line_text.find(MARK) else {
            continue;
        };
        parser.poll(records.len())?;
        let body_start = line_start + cut + MARK.len();
        let body = line_text[cut + MARK.len()..].trim_end_matches('\r');
        let mut rest = body;
        let mut next_field = || {
            let trimmed = rest.trim_start();
            let end = trimmed.find(char::is_whitespace).unwrap_or(trimmed.len());
            let field = &trimmed[..end];
            rest = &trimmed[end..];
            (!field.is_empty()).then_some(field)
        };
        let (Some(process), Some(kind), Some(f)) = (next_field(), next_field(), next_field())
        else {
            return Err(parser.invalid(
                Some(line_index + 1),
                None,
                None,
                "expected `PROCESS :TYPE :F VALUE` after `jepsen.util - `".to_string(),
            ));
        };
        let f_end = body.len() - rest.len();
        let value_text = rest;
        let mut edn = Edn::new(text, body_start + f_end);
        let value = if value_text.trim().is_empty() {
            Value::Null
        } else {
            let value = edn.value(0).map_err(|error| parser.read_error(&error))?;
            if edn.position() < body_start + body.len()
                && !text[edn.position()..body_start + body.len()]
                    .trim()
                    .is_empty()
            {
                return Err(parser.read_error(&ReadError {
                    offset: edn.position(),
                    message: "expected one value after the operation".to_string(),
                }));
            }
            value
        };
        records.push(Record {
            line: line_index + 1,
            raw: line_text,
            value: log_op(process, kind, f, value),
        });
    }
    if records.is_empty() {
        return Err(parser.invalid(
            Some(1),
            None,
            None,
            format!("no line holds `{MARK}`: this is not a Jepsen log"),
        ));
    }
    jepsen_history(parser, records)
}

/// The op map of one log line's fields.
fn log_op(process: &str, kind: &str, f: &str, value: Value) -> Value {
    let mut map = Map::new();
    let process_value = match process.parse::<u64>() {
        Ok(number) => Value::from(number),
        Err(_) => Value::String(process.trim_start_matches(':').to_string()),
    };
    map.insert("process".into(), process_value);
    map.insert(
        "type".into(),
        Value::String(kind.trim_start_matches(':').to_string()),
    );
    map.insert(
        "f".into(),
        Value::String(f.trim_start_matches(':').to_string()),
    );
    map.insert("value".into(), value);
    Value::Object(map)
}

/// Reads Jepsen-shaped JSON (an array of ops or JSON Lines without a model header): the same
/// mapping as EDN, with strings for keywords.
pub(crate) fn jepsen_json(
    parser: &Parser<'_>,
    ops: Vec<(usize, usize, Value)>,
) -> Result<History, HistoryError> {
    let mut line_of = LineTracker::default();
    let records = ops
        .into_iter()
        .map(|(start, end, value)| Record {
            line: line_of.line(parser.text, start),
            raw: &parser.text[start..end],
            value,
        })
        .collect();
    jepsen_history(parser, records)
}

/// A client event of another tool, before keys are resolved.
struct ClientEvent {
    index: usize,
    line: usize,
    process: u64,
    kind: EventKind,
    f: OpFn,
    key: Option<String>,
    value: Value,
    time_ns: Option<u64>,
    /// Porcupine's kv vocabulary (`get`/`put`).
    porcupine_kv: bool,
}

fn field_error(
    parser: &Parser<'_>,
    record: &Record<'_>,
    index: usize,
    field: &str,
    message: String,
) -> HistoryError {
    let line = record.line + field_line_offset(record.raw, field);
    parser.invalid(Some(line), Some(index), Some(field), message)
}

fn function(name: &str) -> Option<(OpFn, bool)> {
    Some(match name {
        "read" | "r" => (OpFn::Read, false),
        "get" => (OpFn::Read, true),
        "write" | "w" => (OpFn::Write, false),
        "put" => (OpFn::Write, true),
        "cas" | "compare-and-set" => (OpFn::Cas, false),
        "append" => (OpFn::Append, false),
        "acquire" => (OpFn::Acquire, false),
        "release" => (OpFn::Release, false),
        _ => return None,
    })
}

/// Converts one record; `None` for a non-client event.
fn client_event(
    parser: &Parser<'_>,
    record: &Record<'_>,
    index: usize,
) -> Result<Option<ClientEvent>, HistoryError> {
    let Value::Object(map) = &record.value else {
        return Err(parser.invalid(
            Some(record.line),
            Some(index),
            None,
            format!("expected an op map, found {}", short_json(&record.value)),
        ));
    };
    let error = |field: &str, message: String| field_error(parser, record, index, field, message);
    let process = match map.get("process") {
        Some(Value::Number(number)) => match number.as_u64() {
            Some(process) => process,
            None => {
                return Err(error(
                    "process",
                    format!("expected a non-negative integer or :nemesis, found {number}"),
                ))
            }
        },
        // :nemesis and other non-integer processes are not clients.
        Some(_) => return Ok(None),
        None => return Err(error("process", "missing".to_string())),
    };
    let kind = match map.get("type").and_then(name_of) {
        Some(name) => name.parse().map_err(|message| error("type", message))?,
        None => {
            return Err(error(
                "type",
                format!(
                    "expected one of :invoke, :ok, :fail, :info, found {}",
                    map.get("type").map_or("nothing".to_string(), short_json)
                ),
            ))
        }
    };
    let f_name = map.get("f").and_then(name_of);
    let Some((f, porcupine_kv)) = f_name.and_then(function) else {
        return Err(error(
            "f",
            format!(
                "expected one of :read/:get, :write/:put, :cas, :append, :acquire, :release, \
                 found {}",
                map.get("f").map_or("nothing".to_string(), display)
            ),
        ));
    };
    let key = match map.get("key") {
        None | Some(Value::Null) => None,
        Some(Value::String(key)) => Some(key.clone()),
        Some(other) => Some(name_of(other).map_or_else(|| display(other), str::to_string)),
    };
    let time_ns = map.get("time").and_then(Value::as_u64);
    Ok(Some(ClientEvent {
        index,
        line: record.line,
        process,
        kind,
        f,
        key,
        value: map.get("value").cloned().unwrap_or(Value::Null),
        time_ns,
        porcupine_kv,
    }))
}

/// Whether a history without keys uses Jepsen's independent `[k v]` tuples.
fn is_independent(events: &[ClientEvent]) -> bool {
    let mut any = false;
    for event in events {
        if event.key.is_some() {
            return false;
        }
        if matches!(event.f, OpFn::Read | OpFn::Write | OpFn::Cas) {
            if event.kind == EventKind::Fail || event.kind == EventKind::Info {
                // Completions that did not observe anything may carry anything (:timed-out).
                if !matches!(&event.value, Value::Array(pair) if pair.len() == 2) {
                    continue;
                }
            }
            match &event.value {
                Value::Array(pair) if pair.len() == 2 => any = true,
                _ => return false,
            }
        }
    }
    any
}

fn key_text(key: &Value) -> String {
    match key {
        Value::String(text) => text.clone(),
        other => name_of(other).map_or_else(|| display(other), str::to_string),
    }
}

fn jepsen_history(parser: &Parser<'_>, records: Vec<Record<'_>>) -> Result<History, HistoryError> {
    let mut events = Vec::new();
    for (index, record) in records.iter().enumerate() {
        if let Some(event) = client_event(parser, record, index)? {
            events.push(event);
        }
    }
    let model_override = parser.model_override();
    let independent =
        model_override.is_none_or(|model| model.has_keys()) && is_independent(&events);
    if independent {
        resolve_tuples(&mut events);
    }
    let keyed = events.iter().any(|event| event.key.is_some());
    let porcupine_kv = events.iter().any(|event| event.porcupine_kv);
    let model = model_override.unwrap_or(if keyed {
        ModelKind::Kv
    } else {
        ModelKind::Register
    });
    let init = if porcupine_kv && model == ModelKind::Kv {
        Value::String(String::new())
    } else {
        Value::Null
    };
    let mut history = History::new(model, init);
    for event in events {
        let ClientEvent {
            index,
            line,
            process,
            kind,
            f,
            key,
            value,
            time_ns,
            ..
        } = event;
        let record = &records[index];
        let pushed = history.try_push(Event {
            process,
            kind,
            f,
            key,
            value,
            time_ns,
        });
        if let Err(error) = pushed {
            let line = match error.field {
                Some(field) => line + field_line_offset(record.raw, field),
                None => line,
            };
            return Err(parser.invalid(Some(line), Some(index), error.field, error.message));
        }
    }
    Ok(history)
}

/// Turns Jepsen's `[k v]` tuples into keys and values; a completion without a tuple gets its
/// invoke's key.
fn resolve_tuples(events: &mut [ClientEvent]) {
    let mut open_keys: BTreeMap<u64, Option<String>> = BTreeMap::new();
    for event in events {
        let tuple = match &mut event.value {
            Value::Array(pair) if pair.len() == 2 => Some((pair[0].clone(), pair[1].take())),
            _ => None,
        };
        match tuple {
            Some((key, value)) => {
                event.key = Some(key_text(&key));
                event.value = value;
            }
            None => event.key = open_keys.get(&event.process).cloned().flatten(),
        }
        if event.kind == EventKind::Invoke {
            open_keys.insert(event.process, event.key.clone());
        }
    }
}

/// A field of a Porcupine object by any of its usual spellings.
fn porcupine_field<'v>(map: &'v Map<String, Value>, names: &[&str]) -> Option<&'v Value> {
    names.iter().find_map(|name| map.get(*name))
}

/// Reads a Porcupine `[]Operation` dump: `{"ClientId": 0, "Input": {"Op": "put", "Key": "x",
/// "Value": "1"}, "Call": 10, "Output": {"Value": ""}, "Return": 20}`. Times order the events
/// (a call before a return at the same time, as Porcupine orders them). `Return` absent or null:
/// the operation never returned (info). An output with `"Unknown": true` is info; with
/// `"Ok": false` the operation failed (did not take effect); with `"Exists": false` a read
/// returned nothing (null).
pub(crate) fn parse_porcupine(parser: &Parser<'_>) -> Result<History, HistoryError> {
    let text = parser.text;
    let mut reader = Reader::new(text, 0);
    reader.skip_space();
    let start = reader.position;
    let (value, _) = read_value(text, start).map_err(|error| parser.read_error(&error))?;
    let Value::Array(items) = value else {
        return Err(parser.invalid(
            Some(1),
            None,
            None,
            "a Porcupine history is a JSON array of operations".to_string(),
        ));
    };
    // Where each operation starts, for error lines: scan the array's top level.
    let starts = element_starts(text, start, items.len());
    let mut ops = Vec::new();
    let mut keyed = false;
    let mut porcupine_kv = false;
    for (index, item) in items.iter().enumerate() {
        parser.poll(index)?;
        let line = line_at(text, starts.get(index).copied().unwrap_or(0));
        let op = porcupine_op(parser, item, index, line)?;
        keyed |= op.key.is_some();
        porcupine_kv |= op.porcupine_kv;
        ops.push(op);
    }
    let model = parser.model_override().unwrap_or(if keyed {
        ModelKind::Kv
    } else {
        ModelKind::Register
    });
    let init = if model == ModelKind::Kv && porcupine_kv {
        Value::String(String::new())
    } else {
        Value::Null
    };
    let mut entries: Vec<(i128, u8, usize)> = Vec::new();
    for (position, op) in ops.iter().enumerate() {
        entries.push((op.call, 0, position));
        if let Some(ret) = op.ret {
            entries.push((ret, 1, position));
        }
    }
    entries.sort_unstable();
    let mut history = History::new(model, init);
    for (time, is_return, position) in entries {
        let op = &ops[position];
        let event = Event {
            process: op.client,
            kind: if is_return == 0 {
                EventKind::Invoke
            } else {
                op.outcome
            },
            f: op.f,
            key: op.key.clone(),
            value: if is_return == 0 {
                op.input.clone()
            } else {
                op.output.clone()
            },
            time_ns: u64::try_from(time).ok(),
        };
        history.try_push(event).map_err(|error| {
            parser.invalid(Some(op.line), Some(position), error.field, error.message)
        })?;
    }
    Ok(history)
}

fn element_starts(text: &str, array_start: usize, count: usize) -> Vec<usize> {
    let mut starts = Vec::with_capacity(count);
    let mut reader = Reader::new(text, array_start + 1);
    for _ in 0..count {
        reader.skip_space();
        starts.push(reader.position);
        if reader.value(0).is_err() {
            break;
        }
        reader.skip_space();
        if reader.peek() == Some(b',') {
            reader.position += 1;
        }
    }
    starts
}

/// How a Porcupine operation ended, and the value it returned.
fn porcupine_output(output: &Value) -> (EventKind, Value) {
    let Value::Object(out) = output else {
        return (EventKind::Ok, output.clone());
    };
    let flag = |names: &[&str]| porcupine_field(out, names).and_then(Value::as_bool);
    if flag(&["Unknown", "unknown"]) == Some(true) {
        (EventKind::Info, Value::Null)
    } else if flag(&["Ok", "ok"]) == Some(false) {
        (EventKind::Fail, Value::Null)
    } else if flag(&["Exists", "exists"]) == Some(false) {
        (EventKind::Ok, Value::Null)
    } else {
        let value = porcupine_field(out, &["Value", "value"]).cloned();
        (EventKind::Ok, value.unwrap_or(Value::Null))
    }
}

/// What a Porcupine input asks: the operation, whether it is named in Porcupine's kv
/// vocabulary, the key and the argument.
fn porcupine_input(input: &Value) -> Result<(OpFn, bool, Option<String>, Value), String> {
    let Value::Object(input_map) = input else {
        return Err(format!(
            "expected an object naming the operation (\"Op\": \"get\"|\"put\"|\"append\"|\"read\"|\"write\"|\"cas\"), found {}",
            short_json(input)
        ));
    };
    let op_name =
        porcupine_field(input_map, &["Op", "op", "F", "f", "Kind", "kind"]).and_then(Value::as_str);
    let Some((f, porcupine_kv)) = op_name.and_then(function) else {
        return Err("expected \"Op\" naming the operation: get, put, append, read, write or cas (numeric op codes mean different things in each Porcupine model; name them)".to_string());
    };
    let key = porcupine_field(input_map, &["Key", "key"]).map(key_text);
    let mut argument = porcupine_field(input_map, &["Value", "value", "Arg", "arg"])
        .cloned()
        .unwrap_or(Value::Null);
    if f == OpFn::Cas && !matches!(&argument, Value::Array(pair) if pair.len() == 2) {
        let expected = porcupine_field(input_map, &["Arg1", "arg1", "Expected", "expected"]);
        let new = porcupine_field(input_map, &["Arg2", "arg2", "New", "new"]);
        if let (Some(expected), Some(new)) = (expected, new) {
            argument = Value::Array(vec![expected.clone(), new.clone()]);
        }
    }
    if f == OpFn::Read {
        argument = Value::Null;
    }
    Ok((f, porcupine_kv, key, argument))
}

struct PorcupineOp {
    line: usize,
    client: u64,
    f: OpFn,
    key: Option<String>,
    input: Value,
    output: Value,
    outcome: EventKind,
    call: i128,
    ret: Option<i128>,
    porcupine_kv: bool,
}

fn porcupine_op(
    parser: &Parser<'_>,
    item: &Value,
    index: usize,
    line: usize,
) -> Result<PorcupineOp, HistoryError> {
    let error = |field: &str, message: String| {
        parser.invalid(Some(line), Some(index), Some(field), message)
    };
    let Value::Object(map) = item else {
        return Err(parser.invalid(
            Some(line),
            Some(index),
            None,
            format!("expected an operation object, found {}", short_json(item)),
        ));
    };
    let client = porcupine_field(map, &["ClientId", "clientId", "client_id"])
        .and_then(Value::as_u64)
        .ok_or_else(|| error("ClientId", "expected a non-negative integer".to_string()))?;
    let time = |names: &[&str]| -> Result<Option<i128>, HistoryError> {
        match porcupine_field(map, names) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => match value.as_i64() {
                Some(time) => Ok(Some(i128::from(time))),
                None => Err(error(
                    names[0],
                    format!("expected an integer time, found {}", short_json(value)),
                )),
            },
        }
    };
    let call = time(&["Call", "call"])?.ok_or_else(|| error("Call", "missing".to_string()))?;
    let ret = time(&["Return", "return"])?;
    let input = porcupine_field(map, &["Input", "input"])
        .cloned()
        .unwrap_or(Value::Null);
    let (f, porcupine_kv, key, argument) =
        porcupine_input(&input).map_err(|message| error("Input", message))?;
    let output = porcupine_field(map, &["Output", "output"])
        .cloned()
        .unwrap_or(Value::Null);
    let (outcome, value) = porcupine_output(&output);
    let (outcome, output) = if ret.is_none() {
        (EventKind::Info, Value::Null)
    } else {
        (outcome, value)
    };
    if let Some(ret) = ret {
        if ret < call {
            return Err(error(
                "Return",
                format!("returns at {ret}, before its call at {call}"),
            ));
        }
    }
    Ok(PorcupineOp {
        line,
        client,
        f,
        key,
        input: argument,
        output,
        outcome,
        call,
        ret,
        porcupine_kv,
    })
}
