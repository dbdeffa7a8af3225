//! Writing a history as it is recorded, so that it never has to be held whole.
//!
//! Owns [`HistoryWriter`]: the interchange format of [`History::write_json`](crate::History::write_json)
//! (one op per line), written event by event to any `Write`, with the first error kept for the
//! end. Reading lives in `parse`; the format in `history`.

use std::io::{self, Write};

use serde_json::Value;

use crate::history::{event_to_line, Event, ModelKind};

/// Writes a history's events as they happen; [`HistoryWriter::finish`] closes the document.
pub struct HistoryWriter {
    out: Box<dyn Write>,
    events: u64,
    /// The first write error; later writes are skipped.
    error: Option<io::Error>,
}

impl HistoryWriter {
    /// Starts the document for a history of `model` starting at `init`.
    pub fn new(mut out: Box<dyn Write>, model: ModelKind, init: &Value) -> Self {
        let error = writeln!(
            out,
            "{{\"model\": \"{}\", \"init\": {}, \"ops\": [",
            model.name(),
            crate::exact::display(init)
        )
        .err();
        HistoryWriter {
            out,
            events: 0,
            error,
        }
    }

    /// Writes one event (the caller keeps the history well formed, as `History` would).
    pub fn event(&mut self, event: &Event) {
        if self.error.is_some() {
            return;
        }
        let separator = if self.events == 0 { "" } else { ",\n" };
        self.events += 1;
        self.error = write!(self.out, "{separator}{}", event_to_line(event)).err();
    }

    /// Closes the document and flushes it; the first error of the whole history, if any.
    pub fn finish(&mut self) -> io::Result<()> {
        if let Some(error) = self.error.take() {
            return Err(error);
        }
        let newline = if self.events == 0 { "" } else { "\n" };
        writeln!(self.out, "{newline}]}}")?;
        self.out.flush()
    }
}

impl std::fmt::Debug for HistoryWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HistoryWriter")
            .field("events", &self.events)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use serde_json::json;

    use super::*;
    use crate::{History, OpFn, Outcome};

    /// A `Write` whose bytes the test can read afterwards.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// Streamed event by event, the file is byte for byte what `write_json` writes.
    #[test]
    fn streamed_history_is_the_interchange_format() {
        for op_count in [0, 1, 3] {
            let mut history = History::new(ModelKind::Kv, Value::Null);
            let shared = Shared::default();
            let mut writer =
                HistoryWriter::new(Box::new(shared.clone()), ModelKind::Kv, &Value::Null);
            for k in 0..op_count {
                let op = history.invoke(k, OpFn::Write, Some("k".into()), json!(k), 2 * k);
                writer.event(history.events().last().unwrap());
                history.complete(op, Outcome::Ok, Value::Null, 2 * k + 1);
                writer.event(history.events().last().unwrap());
            }
            writer.finish().unwrap();
            let mut expected = Vec::new();
            history.write_json(&mut expected).unwrap();
            let written = shared.0.lock().unwrap().clone();
            assert_eq!(
                String::from_utf8(written).unwrap(),
                String::from_utf8(expected).unwrap()
            );
        }
    }
}
