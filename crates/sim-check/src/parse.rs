//! Reading histories from text: this tool's JSON (a document, an array or JSON Lines), and,
//! through `formats`, Jepsen's EDN, Jepsen's log lines and Porcupine's JSON.
//!
//! Owns [`parse_history`], [`load_history`] and [`HistoryError`], whose message names the source,
//! the line (and column for JSON syntax), the op and the field at fault. Nothing here panics on any
//! input; what makes an event valid is decided by [`History`] itself.

use std::path::{Path, PathBuf};

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::exact::{read_whole, ReadError, Reader};
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
    #[error("{source_name}:{line}:{column}: {message}")]
    Syntax {
        source_name: String,
        line: usize,
        column: usize,
        message: String,
    },
    /// Reading did not finish within the timeout.
    #[error("{source_name}: the timeout of {} ran out while reading the history", crate::check::format_duration(*timeout))]
    Timeout {
        source_name: String,
        timeout: Duration,
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
            HistoryError::Io { .. } | HistoryError::Timeout { .. } => None,
            HistoryError::Syntax { line, .. } => Some(*line),
            HistoryError::Invalid { line, .. } => *line,
        }
    }

    pub(crate) fn invalid(
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

/// The formats a history can be read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum InputFormat {
    /// This tool's interchange format: a JSON document, a bare JSON array of ops, or JSON Lines.
    Json,
    /// A Jepsen or Knossos history in EDN (also Maelstrom's `history.edn` and Porcupine's kv logs).
    Edn,
    /// The `INFO jepsen.util - ...` log lines of a Jepsen test (Porcupine's etcd histories).
    EtcdLog,
    /// A Porcupine `[]Operation` dump as JSON (`ClientId`, `Input`, `Call`, `Output`, `Return`).
    Porcupine,
}

impl InputFormat {
    pub const ALL: [InputFormat; 4] = [
        InputFormat::Json,
        InputFormat::Edn,
        InputFormat::EtcdLog,
        InputFormat::Porcupine,
    ];

    pub fn name(self) -> &'static str {
        match self {
            InputFormat::Json => "json",
            InputFormat::Edn => "edn",
            InputFormat::EtcdLog => "etcd-log",
            InputFormat::Porcupine => "porcupine",
        }
    }
}

impl std::str::FromStr for InputFormat {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        InputFormat::ALL
            .into_iter()
            .find(|format| format.name() == text)
            .ok_or_else(|| {
                format!(
                    "expected one of json, edn, etcd-log, porcupine, found {:?}",
                    text
                )
            })
    }
}

/// What the formats are, for the message of a history whose format cannot be told.
pub(crate) const FORMATS_READ: &str = "the formats read are json (this tool's: \
     {\"model\": .., \"init\": .., \"ops\": [..]}, a JSON array of ops, or JSON Lines), edn (Jepsen, \
     Knossos, Maelstrom and Porcupine kv histories: {:process 0, :type :invoke, :f :read, ..}), \
     etcd-log (Jepsen log lines: INFO  jepsen.util - 3 :invoke :read nil) and porcupine (a JSON \
     array of {\"ClientId\", \"Input\", \"Call\", \"Output\", \"Return\"}); name one with --input-format";

/// How to read a history.
#[derive(Clone, Copy, Debug, Default)]
pub struct ReadOptions {
    /// The model, overriding the one the text names (or implies).
    pub model: Option<ModelKind>,
    /// The format; detected from the content when `None`.
    pub format: Option<InputFormat>,
    /// When reading must stop with [`HistoryError::Timeout`], and the timeout it comes from.
    pub deadline: Option<(Instant, Duration)>,
}

impl ReadOptions {
    /// A deadline `timeout` from now, by the wall clock, for [`ReadOptions::deadline`].
    pub fn deadline_after(timeout: Duration) -> (Instant, Duration) {
        let start = crate::clock::now();
        (start.checked_add(timeout).unwrap_or(start), timeout)
    }

    pub fn with_model(model: Option<ModelKind>) -> Self {
        ReadOptions {
            model,
            ..ReadOptions::default()
        }
    }
}

/// Reads a history file (see [`parse_history`]).
pub fn load_history(
    path: &Path,
    model_override: Option<ModelKind>,
) -> Result<History, HistoryError> {
    load_history_with(path, &ReadOptions::with_model(model_override))
}

/// Reads a history file in any of the [`InputFormat`]s.
pub fn load_history_with(path: &Path, options: &ReadOptions) -> Result<History, HistoryError> {
    let bytes = std::fs::read(path).map_err(|error| HistoryError::Io {
        path: path.to_path_buf(),
        error,
    })?;
    let source_name = path.display().to_string();
    check_deadline(&source_name, options)?;
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
    parse_history_with(&text, &source_name, options)
}

/// Fails with [`HistoryError::Timeout`] once the deadline of `options` has passed.
pub(crate) fn check_deadline(source_name: &str, options: &ReadOptions) -> Result<(), HistoryError> {
    match options.deadline {
        Some((deadline, timeout)) if crate::clock::now() >= deadline => {
            Err(HistoryError::Timeout {
                source_name: source_name.to_string(),
                timeout,
            })
        }
        _ => Ok(()),
    }
}

/// Parses a history given as a JSON document (`{"model": .., "init": .., "ops": [..]}`), as a bare
/// JSON array of ops, or as JSON Lines (one op per line, optionally after a header line
/// `{"model": .., "init": ..}`). `model_override` wins over the model the text names; text that
/// names none needs it. `source_name` is used in error messages. Other tools' formats are read by
/// [`parse_history_with`].
pub fn parse_history(
    text: &str,
    source_name: &str,
    model_override: Option<ModelKind>,
) -> Result<History, HistoryError> {
    parse_history_with(text, source_name, &ReadOptions::with_model(model_override))
}

/// Parses a history in any of the [`InputFormat`]s, detected from the content unless
/// `options.format` names one.
pub fn parse_history_with(
    text: &str,
    source_name: &str,
    options: &ReadOptions,
) -> Result<History, HistoryError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let format = match options.format {
        Some(format) => format,
        None => detect_format(text).ok_or_else(|| {
            HistoryError::invalid(
                source_name,
                Some(1),
                None,
                None,
                format!("cannot tell which format this history is in: {FORMATS_READ}"),
            )
        })?,
    };
    let parser = Parser {
        text,
        source_name,
        options,
        format,
    };
    match format {
        InputFormat::Json => parser.parse_json(),
        InputFormat::Edn => crate::formats::parse_edn(&parser),
        InputFormat::EtcdLog => crate::formats::parse_etcd_log(&parser),
        InputFormat::Porcupine => crate::formats::parse_porcupine(&parser),
    }
}

/// The format of `text`, told from its first characters; `None` when it looks like none.
pub fn detect_format(text: &str) -> Option<InputFormat> {
    let trimmed = text.trim_start_matches(|c: char| c.is_whitespace() || c == ',');
    let after = |rest: &str| -> Option<char> {
        rest.trim_start_matches(|c: char| c.is_whitespace() || c == ',')
            .chars()
            .next()
    };
    match trimmed.chars().next()? {
        '{' => match after(&trimmed[1..])? {
            ':' => Some(InputFormat::Edn),
            _ => Some(InputFormat::Json),
        },
        '[' => {
            let inner = trimmed[1..].trim_start();
            match inner.chars().next()? {
                '{' => match after(&inner[1..])? {
                    ':' => Some(InputFormat::Edn),
                    _ if inner[..inner.len().min(4096)].contains("\"ClientId\"") => {
                        Some(InputFormat::Porcupine)
                    }
                    _ => Some(InputFormat::Json),
                },
                ']' => Some(InputFormat::Json),
                _ => None,
            }
        }
        '(' | ';' => Some(InputFormat::Edn),
        _ => {
            let head = &trimmed[..trimmed.len().min(1 << 16)];
            let head = match head.char_indices().last() {
                Some(_) if trimmed.is_char_boundary(head.len()) => head,
                _ => "",
            };
            head.lines()
                .take(100)
                .any(is_jepsen_log_line)
                .then_some(InputFormat::EtcdLog)
        }
    }
}

/// Whether `line` is a Jepsen log line of an operation: `.. jepsen.util - 3 :invoke ..`.
fn is_jepsen_log_line(line: &str) -> bool {
    let Some((_, rest)) = line.split_once("jepsen.util - ") else {
        return false;
    };
    let kind = rest.split_whitespace().nth(1).unwrap_or("");
    matches!(kind, ":invoke" | ":ok" | ":fail" | ":info")
}

/// Reading one text: what every format's reader shares.
pub(crate) struct Parser<'a> {
    pub(crate) text: &'a str,
    pub(crate) source_name: &'a str,
    pub(crate) options: &'a ReadOptions,
    pub(crate) format: InputFormat,
}

/// How many ops are read between looks at the clock.
const POLL_OPS: usize = 1 << 10;

impl<'a> Parser<'a> {
    pub(crate) fn model_override(&self) -> Option<ModelKind> {
        self.options.model
    }

    /// Every [`POLL_OPS`] ops, fails once the deadline passed.
    pub(crate) fn poll(&self, index: usize) -> Result<(), HistoryError> {
        if index.is_multiple_of(POLL_OPS) {
            check_deadline(self.source_name, self.options)?;
        }
        Ok(())
    }

    pub(crate) fn read_error(&self, error: &ReadError) -> HistoryError {
        let offset = error.offset.min(self.text.len());
        let line = line_at(self.text, offset);
        let line_start = self.text[..offset].rfind('\n').map_or(0, |cut| cut + 1);
        HistoryError::Syntax {
            source_name: self.source_name.to_string(),
            line,
            column: offset - line_start + 1,
            message: match self.format {
                InputFormat::Json | InputFormat::Porcupine => {
                    format!("invalid JSON: {}", error.message)
                }
                InputFormat::Edn | InputFormat::EtcdLog => {
                    format!("invalid EDN: {}", error.message)
                }
            },
        }
    }

    pub(crate) fn invalid(
        &self,
        line: Option<usize>,
        op: Option<usize>,
        field: Option<&str>,
        message: String,
    ) -> HistoryError {
        HistoryError::invalid(self.source_name, line, op, field, message)
    }

    fn model(&self, named: Option<(&Value, usize)>) -> Result<ModelKind, HistoryError> {
        if let Some(model) = self.model_override() {
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

    fn parse_json(&self) -> Result<History, HistoryError> {
        let trimmed = self.text.trim_start();
        if trimmed.starts_with('[') {
            return self.parse_array();
        }
        let first_line = trimmed.lines().next().unwrap_or("");
        let more_lines = !trimmed[first_line.len()..].trim().is_empty();
        match read_whole(first_line) {
            Ok(Value::Object(map))
                if !map.contains_key("ops")
                    && (more_lines || map.contains_key("type") || map.contains_key("process")) =>
            {
                self.parse_lines()
            }
            Err(_) if first_line.contains("\"type\"") && !first_line.contains("\"ops\"") => {
                self.parse_lines()
            }
            _ => self.parse_document(),
        }
    }

    /// Reads an array of values starting at the reader's position, with the byte range of each.
    fn read_ops(
        &self,
        reader: &mut Reader<'_>,
    ) -> Result<Vec<(usize, usize, Value)>, HistoryError> {
        reader
            .expect(b'[', "'[' starting the array of ops")
            .map_err(|error| self.read_error(&error))?;
        let mut ops = Vec::new();
        reader.skip_space();
        if reader.peek() == Some(b']') {
            reader.position += 1;
            return Ok(ops);
        }
        loop {
            self.poll(ops.len())?;
            reader.skip_space();
            let start = reader.position;
            let value = reader.value(0).map_err(|error| self.read_error(&error))?;
            ops.push((start, reader.position, value));
            reader.skip_space();
            match reader.peek() {
                Some(b',') => reader.position += 1,
                Some(b']') => {
                    reader.position += 1;
                    return Ok(ops);
                }
                _ => {
                    let error = ReadError {
                        offset: reader.position,
                        message: format!(
                            "expected ',' or ']' between ops, found {}",
                            reader.found()
                        ),
                    };
                    return Err(self.read_error(&error));
                }
            }
        }
    }

    /// The value of the document's `ops` field, which must be an array.
    fn read_ops_field(
        &self,
        reader: &mut Reader<'_>,
    ) -> Result<Vec<(usize, usize, Value)>, HistoryError> {
        if reader.peek() == Some(b'[') {
            return self.read_ops(reader);
        }
        let value_start = reader.position;
        let value = reader.value(0).map_err(|error| self.read_error(&error))?;
        Err(self.invalid(
            Some(line_at(self.text, value_start)),
            None,
            Some("ops"),
            format!("expected an array of ops, found {}", short_json(&value)),
        ))
    }

    fn expect_end(&self, reader: &mut Reader<'_>) -> Result<(), HistoryError> {
        reader.skip_space();
        if reader.position < self.text.len() {
            let error = ReadError {
                offset: reader.position,
                message: "trailing characters after the history".to_string(),
            };
            return Err(self.read_error(&error));
        }
        Ok(())
    }

    fn parse_document(&self) -> Result<History, HistoryError> {
        let mut reader = Reader::new(self.text, 0);
        let syntax = |error: ReadError| self.read_error(&error);
        reader
            .expect(b'{', "'{' starting the history document")
            .map_err(syntax)?;
        let mut model_field: Option<(Value, usize)> = None;
        let mut init = Value::Null;
        let mut ops: Option<Vec<(usize, usize, Value)>> = None;
        reader.skip_space();
        if reader.peek() == Some(b'}') {
            reader.position += 1;
        } else {
            loop {
                reader.skip_space();
                if reader.peek() != Some(b'"') {
                    let message = format!("expected a string key, found {}", reader.found());
                    return Err(syntax(ReadError {
                        offset: reader.position,
                        message,
                    }));
                }
                let key = reader.string().map_err(syntax)?;
                reader.expect(b':', "':'").map_err(syntax)?;
                reader.skip_space();
                let value_start = reader.position;
                if key == "ops" {
                    ops = Some(self.read_ops_field(&mut reader)?);
                } else {
                    let value = reader.value(0).map_err(syntax)?;
                    match key.as_str() {
                        "model" => model_field = Some((value, line_at(self.text, value_start))),
                        "init" => init = value,
                        _ => {}
                    }
                }
                reader.skip_space();
                match reader.peek() {
                    Some(b',') => reader.position += 1,
                    Some(b'}') => {
                        reader.position += 1;
                        break;
                    }
                    _ => {
                        let message = format!("expected ',' or '}}', found {}", reader.found());
                        return Err(syntax(ReadError {
                            offset: reader.position,
                            message,
                        }));
                    }
                }
            }
        }
        self.expect_end(&mut reader)?;
        let model = self.model(model_field.as_ref().map(|(value, line)| (value, *line)))?;
        let Some(ops) = ops else {
            return Err(self.invalid(
                Some(1),
                None,
                Some("ops"),
                "missing: a history document is {\"model\": .., \"init\": .., \"ops\": [..]}"
                    .to_string(),
            ));
        };
        self.build(History::new(model, init), ops)
    }

    fn build(
        &self,
        mut history: History,
        ops: Vec<(usize, usize, Value)>,
    ) -> Result<History, HistoryError> {
        let mut line_counter = LineCounter::new(self.text);
        for (index, (start, end, value)) in ops.into_iter().enumerate() {
            self.poll(index)?;
            let line = line_counter.line_at(start);
            self.push_value(&mut history, index, &value, &self.text[start..end], line)?;
        }
        Ok(history)
    }

    fn parse_array(&self) -> Result<History, HistoryError> {
        let mut reader = Reader::new(self.text, 0);
        let ops = self.read_ops(&mut reader)?;
        self.expect_end(&mut reader)?;
        if self.model_override().is_none() {
            // No model named: ops shaped like Jepsen's, converted to JSON.
            return crate::formats::jepsen_json(self, ops);
        }
        let model = self.model(None)?;
        self.build(History::new(model, Value::Null), ops)
    }

    fn parse_lines(&self) -> Result<History, HistoryError> {
        let mut history: Option<History> = None;
        let mut index = 0;
        let mut offset = 0;
        for (line_index, line_text) in self.text.split('\n').enumerate() {
            let line_start = offset;
            offset += line_text.len() + 1;
            let line = line_index + 1;
            if line_text.trim().is_empty() {
                continue;
            }
            self.poll(index)?;
            let value = read_whole(line_text).map_err(|error| {
                self.read_error(&ReadError {
                    offset: line_start + error.offset,
                    message: error.message,
                })
            })?;
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
                if self.model_override().is_none() {
                    return self.jepsen_lines();
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

    /// JSON Lines without a model header: ops shaped like Jepsen's, converted to JSON.
    fn jepsen_lines(&self) -> Result<History, HistoryError> {
        let mut ops = Vec::new();
        let mut offset = 0;
        for line_text in self.text.split('\n') {
            let line_start = offset;
            offset += line_text.len() + 1;
            if line_text.trim().is_empty() {
                continue;
            }
            self.poll(ops.len())?;
            let value = read_whole(line_text).map_err(|error| {
                self.read_error(&ReadError {
                    offset: line_start + error.offset,
                    message: error.message,
                })
            })?;
            ops.push((line_start, line_start + line_text.len(), value));
        }
        crate::formats::jepsen_json(self, ops)
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

pub(crate) fn line_at(text: &str, offset: usize) -> usize {
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
pub(crate) fn field_line_offset(raw: &str, field: &str) -> usize {
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

pub(crate) fn op_to_event(value: &Value) -> Result<Event, EventError> {
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
    fn json_lines_without_a_model_read_as_jepsen_ops() {
        let text = "{\"process\": 0, \"type\": \"invoke\", \"f\": \"read\"}\n{\"process\": 0, \"type\": \"ok\", \"f\": \"read\", \"value\": null}\n";
        // Without a model header the ops are read as Jepsen's: a register, as no op has a key.
        let history = parse(text).unwrap();
        assert_eq!(history.model(), ModelKind::Register);
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
