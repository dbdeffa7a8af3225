//! Reading histories from text: a JSON document or JSON Lines.
//!
//! Owns [`parse_history`], [`load_history`] and [`HistoryError`], whose message names the source,
//! the line (and column for JSON syntax), the op and the field at fault. Nothing here panics on any
//! input; what makes an event valid is decided by [`History`] itself.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::value::RawValue;
use serde_json::Value;

use crate::history::{short_json, Event, EventError, EventKind, History, ModelKind, OpFn};

/// Why a history could not be read.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// The file could not be read.
    #[error("{}: cannot read: {error}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        error: std::io::Error,
    },
    /// The text is not JSON.
    #[error("{source_name}:{line}:{column}: invalid JSON: {message}")]
    Syntax {
        source_name: String,
        line: usize,
        column: usize,
        message: String,
    },
    /// The JSON does not describe a valid history.
    #[error("{}", describe_invalid(source_name, *line, *op, field.as_deref(), message))]
    Invalid {
        source_name: String,
        /// The 1-based line, when the history came from text.
        line: Option<usize>,
        /// The 0-based index of the op (event) at fault, if one is.
        op: Option<usize>,
        field: Option<String>,
        message: String,
    },
}

impl HistoryError {
    /// The 1-based line at fault, when known.
    pub fn line(&self) -> Option<usize> {
        match self {
            HistoryError::Io { .. } => None,
            HistoryError::Syntax { line, .. } => Some(*line),
            HistoryError::Invalid { line, .. } => *line,
        }
    }

    fn invalid(
        source_name: &str,
        line: Option<usize>,
        op: Option<usize>,
        field: Option<&str>,
        message: String,
    ) -> Self {
        HistoryError::Invalid {
            source_name: source_name.to_string(),
            line,
            op,
            field: field.map(str::to_string),
            message,
        }
    }
}

fn describe_invalid(
    source_name: &str,
    line: Option<usize>,
    op: Option<usize>,
    field: Option<&str>,
    message: &str,
) -> String {
    let mut text = source_name.to_string();
    if let Some(line) = line {
        text.push_str(&format!(":{line}"));
    }
    text.push(':');
    if let Some(op) = op {
        text.push_str(&format!(" op {op}"));
    }
    if let Some(field) = field {
        text.push_str(&format!(" field {:?}", field));
    }
    if op.is_some() || field.is_some() {
        text.push(':');
    }
    text.push(' ');
    text.push_str(message);
    text
}

/// Reads a history file (see [`parse_history`]).
pub fn load_history(
    path: &Path,
    model_override: Option<ModelKind>,
) -> Result<History, HistoryError> {
    let bytes = std::fs::read(path).map_err(|error| HistoryError::Io {
        path: path.to_path_buf(),
        error,
    })?;
    let source_name = path.display().to_string();
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(error) => {
            let valid = &error.as_bytes()[..error.utf8_error().valid_up_to()];
            let line = 1 + valid.iter().filter(|&&byte| byte == b'\n').count();
            return Err(HistoryError::invalid(
                &source_name,
                Some(line),
                None,
                None,
                "the file is not UTF-8 text".to_string(),
            ));
        }
    };
    parse_history(&text, &source_name, model_override)
}

/// Parses a history given as a JSON document (`{"model": .., "init": .., "ops": [..]}`), as a bare
/// JSON array of ops, or as JSON Lines (one op per line, optionally after a header line
/// `{"model": .., "init": ..}`). `model_override` wins over the model the text names; text that
/// names none needs it. `source_name` is used in error messages.
pub fn parse_history(
    text: &str,
    source_name: &str,
    model_override: Option<ModelKind>,
) -> Result<History, HistoryError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let parser = Parser {
        text,
        source_name,
        model_override,
    };
    match parser.detect_format() {
        Format::Document => parser.parse_document(),
        Format::Array => parser.parse_array(),
        Format::Lines => parser.parse_lines(),
    }
}

enum Format {
    Document,
    Array,
    Lines,
}

struct Parser<'a> {
    text: &'a str,
    source_name: &'a str,
    model_override: Option<ModelKind>,
}

impl<'a> Parser<'a> {
    fn detect_format(&self) -> Format {
        let trimmed = self.text.trim_start();
        if trimmed.starts_with('[') {
            return Format::Array;
        }
        match serde_json::from_str::<BTreeMap<String, &RawValue>>(self.text) {
            Ok(map) => {
                let is_single_op = !map.contains_key("ops")
                    && (map.contains_key("type") || map.contains_key("process"));
                if is_single_op {
                    Format::Lines
                } else {
                    Format::Document
                }
            }
            Err(_) => {
                let first_line = trimmed.lines().next().unwrap_or("");
                let first_is_object = matches!(
                    serde_json::from_str::<Value>(first_line),
                    Ok(Value::Object(_))
                );
                let first_looks_like_op =
                    first_line.contains("\"process\"") || first_line.contains("\"type\"");
                if first_is_object || first_looks_like_op {
                    Format::Lines
                } else {
                    Format::Document
                }
            }
        }
    }

    fn syntax_error(&self, error: &serde_json::Error, line_offset: usize) -> HistoryError {
        let message = error.to_string();
        let message = match message.rfind(" at line ") {
            Some(cut) => message[..cut].to_string(),
            None => message,
        };
        HistoryError::Syntax {
            source_name: self.source_name.to_string(),
            line: line_offset + error.line().max(1),
            column: error.column(),
            message,
        }
    }

    fn invalid(
        &self,
        line: Option<usize>,
        op: Option<usize>,
        field: Option<&str>,
        message: String,
    ) -> HistoryError {
        HistoryError::invalid(self.source_name, line, op, field, message)
    }

    fn line_of(&self, raw: &RawValue) -> usize {
        line_at(self.text, offset_in(self.text, raw.get()))
    }

    fn model(&self, named: Option<(&Value, usize)>) -> Result<ModelKind, HistoryError> {
        if let Some(model) = self.model_override {
            return Ok(model);
        }
        match named {
            Some((Value::String(name), line)) => name
                .parse()
                .map_err(|message| self.invalid(Some(line), None, Some("model"), message)),
            Some((other, line)) => Err(self.invalid(
                Some(line),
                None,
                Some("model"),
                format!(
                    "expected one of register, kv, mutex, found {}",
                    short_json(other)
                ),
            )),
            None => Err(self.invalid(
                Some(1),
                None,
                Some("model"),
                "missing: name the model in the history or pass --model register|kv|mutex"
                    .to_string(),
            )),
        }
    }

    fn parse_document(&self) -> Result<History, HistoryError> {
        let map: BTreeMap<String, &RawValue> =
            serde_json::from_str(self.text).map_err(|error| self.syntax_error(&error, 0))?;
        let model_field = map
            .get("model")
            .map(|raw| (parse_raw(raw), self.line_of(raw)));
        let model = self.model(model_field.as_ref().map(|(value, line)| (value, *line)))?;
        let init = map
            .get("init")
            .map(|raw| parse_raw(raw))
            .unwrap_or(Value::Null);
        let Some(ops_raw) = map.get("ops") else {
            return Err(self.invalid(
                Some(1),
                None,
                Some("ops"),
                "missing: a history document is {\"model\": .., \"init\": .., \"ops\": [..]}"
                    .to_string(),
            ));
        };
        let ops: Vec<&RawValue> = serde_json::from_str(ops_raw.get()).map_err(|_| {
            self.invalid(
                Some(self.line_of(ops_raw)),
                None,
                Some("ops"),
                format!(
                    "expected an array of ops, found {}",
                    short_json(&parse_raw(ops_raw))
                ),
            )
        })?;
        let mut history = History::new(model, init);
        let mut line_counter = LineCounter::new(self.text);
        for (index, raw) in ops.iter().enumerate() {
            let offset = offset_in(self.text, raw.get());
            let line = line_counter.line_at(offset);
            self.push_op(&mut history, index, raw.get(), line)?;
        }
        Ok(history)
    }

    fn parse_array(&self) -> Result<History, HistoryError> {
        let ops: Vec<&RawValue> =
            serde_json::from_str(self.text).map_err(|error| self.syntax_error(&error, 0))?;
        let model = self.model(None)?;
        let mut history = History::new(model, Value::Null);
        let mut line_counter = LineCounter::new(self.text);
        for (index, raw) in ops.iter().enumerate() {
            let line = line_counter.line_at(offset_in(self.text, raw.get()));
            self.push_op(&mut history, index, raw.get(), line)?;
        }
        Ok(history)
    }

    fn parse_lines(&self) -> Result<History, HistoryError> {
        let mut history: Option<History> = None;
        let mut index = 0;
        for (line_index, line_text) in self.text.lines().enumerate() {
            let line = line_index + 1;
            if line_text.trim().is_empty() {
                continue;
            }
            let value: Value = serde_json::from_str(line_text)
                .map_err(|error| self.syntax_error(&error, line_index))?;
            if history.is_none() {
                if let Value::Object(map) = &value {
                    let is_header = map.contains_key("model") && !map.contains_key("type");
                    if is_header {
                        let model = self.model(map.get("model").map(|model| (model, line)))?;
                        let init = map.get("init").cloned().unwrap_or(Value::Null);
                        history = Some(History::new(model, init));
                        continue;
                    }
                }
                history = Some(History::new(self.model(None)?, Value::Null));
            }
            let Some(history) = history.as_mut() else {
                continue;
            };
            self.push_value(history, index, &value, line_text, line)?;
            index += 1;
        }
        match history {
            Some(history) => Ok(history),
            None => Ok(History::new(self.model(None)?, Value::Null)),
        }
    }

    fn push_op(
        &self,
        history: &mut History,
        index: usize,
        raw: &str,
        line: usize,
    ) -> Result<(), HistoryError> {
        let value: Value = serde_json::from_str(raw).unwrap_or(Value::Null);
        self.push_value(history, index, &value, raw, line)
    }

    /// Converts one op and appends it; `raw` is its text, starting on `line`, used to find the line
    /// of the field at fault.
    fn push_value(
        &self,
        history: &mut History,
        index: usize,
        value: &Value,
        raw: &str,
        line: usize,
    ) -> Result<(), HistoryError> {
        let field_line = |field: Option<&str>| match field {
            Some(field) => line + field_line_offset(raw, field),
            None => line,
        };
        let event = op_to_event(value).map_err(|error| {
            self.invalid(
                Some(field_line(error.field)),
                Some(index),
                error.field,
                error.message,
            )
        })?;
        history.try_push(event).map_err(|error| {
            self.invalid(
                Some(field_line(error.field)),
                Some(index),
                error.field,
                error.message,
            )
        })
    }
}

fn parse_raw(raw: &RawValue) -> Value {
    serde_json::from_str(raw.get()).unwrap_or(Value::Null)
}

fn offset_in(text: &str, part: &str) -> usize {
    let start = text.as_ptr() as usize;
    let position = part.as_ptr() as usize;
    position.saturating_sub(start).min(text.len())
}

fn line_at(text: &str, offset: usize) -> usize {
    1 + text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&byte| byte == b'\n')
        .count()
}

/// Counts lines up to increasing offsets without rescanning the text.
struct LineCounter<'a> {
    bytes: &'a [u8],
    offset: usize,
    line: usize,
}

impl<'a> LineCounter<'a> {
    fn new(text: &'a str) -> Self {
        LineCounter {
            bytes: text.as_bytes(),
            offset: 0,
            line: 1,
        }
    }

    fn line_at(&mut self, offset: usize) -> usize {
        let offset = offset.min(self.bytes.len());
        if offset < self.offset {
            self.offset = 0;
            self.line = 1;
        }
        self.line += self.bytes[self.offset..offset]
            .iter()
            .filter(|&&byte| byte == b'\n')
            .count();
        self.offset = offset;
        self.line
    }
}

/// How many lines into the object text `raw` its top-level key `field` starts (0 when absent).
fn field_line_offset(raw: &str, field: &str) -> usize {
    let bytes = raw.as_bytes();
    let mut depth = 0usize;
    let mut position = 0;
    while position < bytes.len() {
        match bytes[position] {
            b'{' | b'[' => depth += 1,
            b'}' | b']' => depth = depth.saturating_sub(1),
            b'"' => {
                let start = position + 1;
                let mut end = start;
                while end < bytes.len() && bytes[end] != b'"' {
                    end += if bytes[end] == b'\\' { 2 } else { 1 };
                }
                let after = raw.get(end.min(bytes.len())..).unwrap_or("");
                let is_key = after.get(1..).unwrap_or("").trim_start().starts_with(':');
                if depth == 1 && is_key && raw.get(start..end) == Some(field) {
                    return bytes[..start].iter().filter(|&&byte| byte == b'\n').count();
                }
                position = end;
            }
            _ => {}
        }
        position += 1;
    }
    0
}

fn op_to_event(value: &Value) -> Result<Event, EventError> {
    let field_error = |field: &'static str, message: String| EventError {
        field: Some(field),
        message,
    };
    let Value::Object(map) = value else {
        return Err(EventError {
            field: None,
            message: format!("expected an op object, found {}", short_json(value)),
        });
    };
    let process = match map.get("process") {
        Some(Value::Number(number)) if number.as_u64().is_some() => number.as_u64().unwrap_or(0),
        Some(other) => {
            return Err(field_error(
                "process",
                format!(
                    "expected a non-negative integer, found {}",
                    short_json(other)
                ),
            ))
        }
        None => return Err(field_error("process", "missing".to_string())),
    };
    let kind: EventKind = match map.get("type") {
        Some(Value::String(name)) => name
            .parse()
            .map_err(|message| field_error("type", message))?,
        Some(other) => {
            return Err(field_error(
                "type",
                format!(
                    "expected one of invoke, ok, fail, info, found {}",
                    short_json(other)
                ),
            ))
        }
        None => return Err(field_error("type", "missing".to_string())),
    };
    let f: OpFn = match map.get("f") {
        Some(Value::String(name)) => name.parse().map_err(|message| field_error("f", message))?,
        Some(other) => {
            return Err(field_error(
                "f",
                format!(
                    "expected one of read, write, cas, append, acquire, release, found {}",
                    short_json(other)
                ),
            ))
        }
        None => return Err(field_error("f", "missing".to_string())),
    };
    let key = match map.get("key") {
        None | Some(Value::Null) => None,
        Some(Value::String(key)) => Some(key.clone()),
        // Jepsen's independent keys are often integers; their decimal text names the same key.
        Some(Value::Number(number)) if number.is_i64() || number.is_u64() => {
            Some(number.to_string())
        }
        Some(other) => {
            return Err(field_error(
                "key",
                format!("expected a string, found {}", short_json(other)),
            ))
        }
    };
    let value = map.get("value").cloned().unwrap_or(Value::Null);
    let time_ns = match map.get("time") {
        None | Some(Value::Null) => None,
        Some(Value::Number(number)) if number.as_u64().is_some() => number.as_u64(),
        Some(other) => {
            return Err(field_error(
                "time",
                format!(
                    "expected non-negative integer nanoseconds, found {}",
                    short_json(other)
                ),
            ))
        }
    };
    Ok(Event {
        process,
        kind,
        f,
        key,
        value,
        time_ns,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(text: &str) -> Result<History, HistoryError> {
        parse_history(text, "h.json", None)
    }

    #[test]
    fn bad_type_names_the_line_op_and_field() {
        let mut text = String::from("{\"model\": \"register\", \"init\": 0, \"ops\": [\n");
        for index in 0..12 {
            text.push_str(&format!(
                "{{\"process\": {index}, \"type\": \"invoke\", \"f\": \"read\", \"value\": null}},\n"
            ));
        }
        text.push_str("{\"process\": 0, \"type\": \"done\", \"f\": \"read\", \"value\": 0}\n]}\n");
        let error = parse(&text).unwrap_err();
        assert_eq!(
            error.to_string(),
            "h.json:14: op 12 field \"type\": expected one of invoke, ok, fail, info, found \"done\""
        );
    }

    #[test]
    fn field_line_is_found_inside_a_pretty_printed_op() {
        let text = "{\"model\": \"kv\", \"ops\": [\n  {\n    \"process\": 0,\n    \"type\": \"invoke\",\n    \"f\": \"cas\",\n    \"key\": \"a\",\n    \"value\": 3\n  }\n]}";
        let error = parse(text).unwrap_err();
        assert_eq!(
            error.to_string(),
            "h.json:7: op 0 field \"value\": a cas takes [expected, new], found 3"
        );
    }

    #[test]
    fn syntax_error_names_line_and_column() {
        let error = parse("{\"model\": \"register\",\n \"ops\": [,]}").unwrap_err();
        let text = error.to_string();
        assert!(text.starts_with("h.json:2:"), "{text}");
        assert!(text.contains("invalid JSON"), "{text}");
    }

    #[test]
    fn json_lines_need_a_model() {
        let text = "{\"process\": 0, \"type\": \"invoke\", \"f\": \"read\"}\n{\"process\": 0, \"type\": \"ok\", \"f\": \"read\", \"value\": null}\n";
        let error = parse(text).unwrap_err();
        assert!(
            error.to_string().contains("field \"model\": missing"),
            "{error}"
        );
        let history = parse_history(text, "h.jsonl", Some(ModelKind::Register)).unwrap();
        assert_eq!(history.events().len(), 2);
    }

    #[test]
    fn json_lines_errors_carry_the_file_line() {
        let text = "{\"model\": \"kv\", \"init\": \"\"}\n\n{\"process\": 0, \"type\": \"invoke\", \"f\": \"read\", \"key\": \"a\"}\n{\"process\": 0, \"type\": \"ok\", \"f\": \"write\", \"key\": \"a\"}\n";
        let error = parse(text).unwrap_err();
        assert_eq!(
            error.to_string(),
            "h.json:4: op 1 field \"f\": completes op 0 of process 0, a read, but says write"
        );
    }

    #[test]
    fn json_lines_syntax_error_points_at_the_line() {
        let text = "{\"process\": 0, \"type\": \"invoke\", \"f\": \"read\"}\n{\"process\": 0, \"type\": }\n";
        let error = parse_history(text, "h.jsonl", Some(ModelKind::Register)).unwrap_err();
        assert!(error.to_string().starts_with("h.jsonl:2:"), "{error}");
    }

    #[test]
    fn key_on_a_register_is_rejected() {
        let text = "{\"model\": \"register\", \"ops\": [{\"process\": 0, \"type\": \"invoke\", \"f\": \"read\", \"key\": \"a\"}]}";
        let error = parse(text).unwrap_err();
        assert!(error.to_string().contains("op 0 field \"key\""), "{error}");
    }

    #[test]
    fn missing_ops_is_reported() {
        let error = parse("{\"model\": \"register\"}").unwrap_err();
        assert_eq!(
            error.to_string(),
            "h.json:1: field \"ops\": missing: a history document is {\"model\": .., \"init\": .., \"ops\": [..]}"
        );
    }

    #[test]
    fn unknown_model_is_reported() {
        let error = parse("{\"model\": \"queue\", \"ops\": []}").unwrap_err();
        assert_eq!(
            error.to_string(),
            "h.json:1: field \"model\": expected one of register, kv, mutex, found \"queue\""
        );
    }

    #[test]
    fn integer_keys_read_as_their_text() {
        let text = "{\"model\": \"kv\", \"ops\": [{\"process\": 0, \"type\": \"invoke\", \"f\": \"write\", \"key\": 7, \"value\": 1}]}";
        let history = parse(text).unwrap();
        assert_eq!(history.events()[0].key.as_deref(), Some("7"));
    }

    #[test]
    fn a_bare_array_of_ops_is_accepted_with_a_model() {
        let text = "[{\"process\": 0, \"type\": \"invoke\", \"f\": \"acquire\"}]";
        let history = parse_history(text, "h.json", Some(ModelKind::Mutex)).unwrap();
        assert_eq!(history.model(), ModelKind::Mutex);
    }

    #[test]
    fn load_history_names_a_missing_file() {
        let error = load_history(Path::new("/nonexistent/h.json"), None).unwrap_err();
        assert!(error
            .to_string()
            .starts_with("/nonexistent/h.json: cannot read"));
    }

    const SAMPLE: &str = "{\"model\": \"kv\", \"init\": null, \"ops\": [\n{\"process\": 0, \"type\": \"invoke\", \"f\": \"cas\", \"key\": \"a\", \"value\": [1, 2], \"time\": 5},\n{\"process\": 0, \"type\": \"ok\", \"f\": \"cas\", \"key\": \"a\", \"value\": [1, 2]}\n]}";

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let text = String::from_utf8_lossy(&bytes);
            let _ = parse_history(&text, "fuzz", None);
            let _ = parse_history(&text, "fuzz", Some(ModelKind::Kv));
        }

        #[test]
        fn mutated_histories_never_panic(
            position in 0usize..SAMPLE.len(),
            cut in 0usize..8,
            insert in "[{}\\[\\]\":,0-9a-z\\n ]{0,6}",
        ) {
            let mut text = SAMPLE.to_string();
            let mut start = position.min(text.len());
            while !text.is_char_boundary(start) { start -= 1; }
            let mut end = (start + cut).min(text.len());
            while !text.is_char_boundary(end) { end -= 1; }
            text.replace_range(start..end, &insert);
            let _ = parse_history(&text, "fuzz", None);
            let _ = parse_history(&text, "fuzz", Some(ModelKind::Register));
        }
    }
}
