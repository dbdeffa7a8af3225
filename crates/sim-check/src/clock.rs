//! The one place this crate reads the wall clock.
//!
//! The checker is also a standalone tool (`sim check`) whose users ask for a wall-clock budget,
//! and its benchmark reports wall time. The simulator calls the checker with a state budget only,
//! which is deterministic, so nothing it records depends on this clock.

use std::time::Instant;

/// Now, by the wall clock.
#[allow(clippy::disallowed_methods)] // A timeout for a standalone tool and a benchmark's timing; see the module docs.
pub(crate) fn now() -> Instant {
    Instant::now()
}
