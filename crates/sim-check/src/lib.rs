//! `sim-check`: a linearizability checker for histories of operations, independent of the
//! simulator.
//!
//! A history (see [`History`], read with [`parse_history`] or [`load_history`], recorded with
//! [`History::invoke`] and [`History::complete`]) lists the invocations and completions of
//! operations by client processes in real-time order. [`check`] decides whether some order of the
//! operations, consistent with real time, is legal for the sequential [`Model`] (a register, a
//! key-value map, a mutex, or your own): linearizable, not linearizable with an [`Explanation`],
//! or unknown when the [`Budget`] runs out. [`render_text`] and [`render_json`] present the result;
//! [`exit_code`] maps it to the status of `sim check`.
//!
//! Modules: `history` (events, operations, the builder and writers), `parse` (text to history,
//! [`HistoryError`], [`InputFormat`]), [`exact`] (the exact JSON reader: values never rounded or
//! substituted), `formats` (Jepsen/Knossos/Maelstrom EDN, Jepsen log lines, Porcupine JSON),
//! [`field`] (histories shaped like Jepsen's and Porcupine's tests, `sim bench field`), `model` (the [`Model`] trait and built-in models), `search` (the
//! Wing–Gong–Lowe search with memoisation for one object), `table` (its hash tables), `check`
//! (splitting by key, running the searches, combining), `incremental` ([`Incremental`]: checking
//! a history as it is recorded, key by key at quiescent cuts, in memory that does not grow), `stretch` (its
//! search of one stretch), `unseen` (info operations no observation can see, left out), `report` (text and JSON), `writer` ([`HistoryWriter`]: a history written as it is recorded), [`bench`](mod@bench) (a
//! generator of histories and a benchmark). The command line lives in the `sim` binary; this crate
//! reads no files except through [`load_history`] and reads the clock only for a timeout or a
//! benchmark (`clock`).
//!
//! ```
//! use sim_check::{check, parse_history, Budget, Verdict};
//!
//! let text = r#"{"model": "register", "init": 0, "ops": [
//!   {"process": 0, "type": "invoke", "f": "write", "value": 1},
//!   {"process": 0, "type": "ok", "f": "write", "value": 1},
//!   {"process": 1, "type": "invoke", "f": "read", "value": null},
//!   {"process": 1, "type": "ok", "f": "read", "value": 0}
//! ]}"#;
//! let history = parse_history(text, "stale.json", None).unwrap();
//! let result = check(&history, &Budget::default());
//! assert_eq!(result.verdict, Verdict::NotLinearizable);
//! ```

pub mod bench;
mod check;
mod clock;
mod cuts;
mod defer;
pub mod exact;
pub mod field;
mod formats;
mod history;
mod incremental;
mod lock;
mod model;
mod parse;
mod report;
mod search;
mod stretch;
mod table;
mod unseen;
mod writer;

#[cfg(test)]
mod tests;

pub use check::{
    check, check_with, exit_code, Budget, Candidate, CheckResult, Explanation, KeyResult,
    PrefixStep, Verdict, FIRST_ROUND_STATES, ROUND_GROWTH,
};
pub use defer::{DEFER_CUTS_MAX, DEFER_OPS_MAX, DEFER_STATES_MAX};
pub use history::{
    Event, EventError, EventKind, History, ModelKind, OpFn, OpIndex, Operation, Outcome,
};
pub use incremental::{
    check_incrementally, Incremental, IncrementalResult, SegmentFailure, FRONTIER_MAX,
};
pub use lock::{LockState, LockTable};
pub use model::{Cell, Json, Kv, Model, Mutex, Register, Replay, StateTest};
pub use parse::{
    detect_format, load_history, load_history_with, parse_history, parse_history_with,
    HistoryError, InputFormat, ReadOptions,
};
pub use report::{render_json, render_text};
pub use writer::HistoryWriter;
