//! What differs between a record and its replay, in values: the trace hash, the event count,
//! or (when both agree, as after an edit of the record's checkpoints) the first checkpoint that
//! does not, with its recorded and replayed hashes. A divergence message never shows two equal
//! values as if they differed.

use sim_core::trace::Checkpoint;

use crate::record::FailureRecord;
use crate::report::RunReport;

/// The first of the record's values its replay does not reproduce, in words.
pub fn what_differs(record: &FailureRecord, report: &RunReport) -> String {
    let replayed_hash = report.trace_hash_hex();
    if !record.trace_hash.eq_ignore_ascii_case(&replayed_hash) {
        return format!(
            "recorded trace hash {}, replayed {replayed_hash}",
            record.trace_hash
        );
    }
    if record.trace_events != report.trace_events {
        return format!(
            "recorded {} events, replayed {} (the same final hash {replayed_hash})",
            record.trace_events, report.trace_events
        );
    }
    let recorded = record.trace_checkpoints();
    match first_checkpoint_difference(&recorded, &report.trace_checkpoints) {
        Some((events, Some(a), Some(b))) => format!(
            "recorded checkpoint hash {a:016x} after {events} events, replayed {b:016x} (the final \
             trace hash {replayed_hash} agrees: the record's checkpoints were changed)"
        ),
        Some((events, a, b)) => format!(
            "the record {} a checkpoint after {events} events and the replay {} (the final trace \
             hash {replayed_hash} agrees: the record's checkpoints were changed)",
            if a.is_some() { "has" } else { "lacks" },
            if b.is_some() { "has one" } else { "does not" }
        ),
        None => format!("the same trace hash {replayed_hash} and checkpoints"),
    }
}

/// The first event count at which the two lists of checkpoints disagree, with each side's hash
/// there (`None` where a side has no checkpoint at that count).
fn first_checkpoint_difference(
    a: &[Checkpoint],
    b: &[Checkpoint],
) -> Option<(u64, Option<u64>, Option<u64>)> {
    let (mut i, mut j) = (0, 0);
    loop {
        match (a.get(i), b.get(j)) {
            (None, None) => return None,
            (Some(x), Some(y)) if x.events == y.events => {
                if x.hash != y.hash || x.time != y.time {
                    return Some((x.events, Some(x.hash), Some(y.hash)));
                }
                i += 1;
                j += 1;
            }
            (Some(x), Some(y)) if x.events < y.events => {
                return Some((x.events, Some(x.hash), None))
            }
            (Some(_), Some(y)) => return Some((y.events, None, Some(y.hash))),
            (Some(x), None) => return Some((x.events, Some(x.hash), None)),
            (None, Some(y)) => return Some((y.events, None, Some(y.hash))),
        }
    }
}

#[cfg(test)]
mod tests {
    use sim_core::SimTime;

    use super::*;

    fn at(events: u64, hash: u64) -> Checkpoint {
        Checkpoint {
            events,
            time: SimTime::ZERO,
            hash,
        }
    }

    #[test]
    fn the_first_differing_checkpoint_is_found_with_both_hashes() {
        let a = [at(1024, 1), at(2048, 2), at(3072, 3)];
        assert_eq!(first_checkpoint_difference(&a, &a), None);
        let edited = [at(1024, 1), at(2048, 9), at(3072, 3)];
        assert_eq!(
            first_checkpoint_difference(&a, &edited),
            Some((2048, Some(2), Some(9)))
        );
        assert_eq!(
            first_checkpoint_difference(&a[..2], &a),
            Some((3072, None, Some(3)))
        );
    }
}
