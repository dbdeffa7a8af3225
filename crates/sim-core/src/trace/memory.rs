//! The in-memory sink: keeps every event, owned, for tests and reports that look back over a
//! run. Only a run that attaches one keeps its trace in memory.

use std::cell::{Ref, RefCell};
use std::io;
use std::rc::Rc;

use super::{OwnedTraceEvent, TraceEvent, TraceSink};
use crate::process::Process;
use crate::time::SimTime;

/// One kept event and its time.
pub struct TraceRecord<P: Process> {
    pub time: SimTime,
    pub event: OwnedTraceEvent<P>,
}

impl<P: Process> Clone for TraceRecord<P> {
    fn clone(&self) -> Self {
        TraceRecord {
            time: self.time,
            event: self.event.clone(),
        }
    }
}

impl<P: Process> std::fmt::Debug for TraceRecord<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {:?}", self.time, self.event)
    }
}

/// Keeps the events of a run. Clones share the same records: attach one clone to the trace
/// (`Trace::with_sink(Box::new(sink.clone()))`) and read the other after the run.
pub struct MemorySink<P: Process> {
    records: Rc<RefCell<Vec<TraceRecord<P>>>>,
}

impl<P: Process> Clone for MemorySink<P> {
    fn clone(&self) -> Self {
        MemorySink {
            records: Rc::clone(&self.records),
        }
    }
}

impl<P: Process> Default for MemorySink<P> {
    fn default() -> Self {
        MemorySink {
            records: Rc::new(RefCell::new(Vec::new())),
        }
    }
}

impl<P: Process> MemorySink<P> {
    pub fn new() -> Self {
        Self::default()
    }

    /// The events so far, in order.
    pub fn records(&self) -> Ref<'_, [TraceRecord<P>]> {
        Ref::map(self.records.borrow(), Vec::as_slice)
    }

    /// Takes the events so far, leaving none.
    pub fn take(&self) -> Vec<TraceRecord<P>> {
        std::mem::take(&mut *self.records.borrow_mut())
    }
}

impl<P: Process> TraceSink<P> for MemorySink<P> {
    fn record(&mut self, time: SimTime, event: &TraceEvent<'_, P>) -> io::Result<()> {
        self.records.borrow_mut().push(TraceRecord {
            time,
            event: event.to_owned_event(),
        });
        Ok(())
    }
}
