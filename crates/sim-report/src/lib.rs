//! `sim-report`: one self-contained HTML page of a run, a space-time diagram with the faults,
//! the client operations and the violation marked, and plots.
//!
//! - [`collector`]: the [`Collector`], a [`sim_core::trace::TraceSink`] for any protocol that
//!   keeps what the page draws (arrows, protocol reports, lifecycle, partitions, clock and network
//!   changes, client requests) in compact records; [`trace`] attaches it beside `--trace`.
//! - [`input`]: the [`ReportInput`]: summary, checks, violation, fault windows, client history
//!   and the linearizability checker's explanation, filled by the command line.
//! - [`page`]: [`render`] puts both into one HTML file with its style sheet and script inline
//!   (`assets/`); it needs no network and opens from disk.
//!
//! The crate knows no protocol family: messages and events are named through their `Serialize`
//! form ([`name::kind_name`]). It reads no files and no clock.

pub mod collector;
pub mod input;
pub mod name;
pub mod page;

pub use collector::{trace, Collected, Collector};
pub use input::{CheckLine, ReportInput, ViolationInput};
pub use page::render;
