//! Tests of the anomaly analyses: scripted histories for each definition, and a property test
//! that pits the tracker (judging as it goes, with a write log spilling to disk every few
//! writes) against the definitions read literally on the whole history.

use super::*;
use proptest::prelude::*;

/// One operation of a test history. Writes write `value`; reads return `values`.
#[derive(Clone, Debug)]
struct Op {
    write: bool,
    key: String,
    session: u64,
    value: String,
    values: Vec<String>,
    invoked_ns: u64,
    /// When it ended (`None`: still in flight at the end).
    ended_ns: Option<u64>,
    outcome: Outcome,
}

fn write(value: &str, session: u64, invoked: u64, acked: Option<u64>) -> Op {
    Op {
        write: true,
        key: "k".into(),
        session,
        value: value.into(),
        values: Vec::new(),
        invoked_ns: invoked,
        ended_ns: Some(acked.unwrap_or(invoked + 1)),
        outcome: if acked.is_some() {
            Outcome::Ok
        } else {
            Outcome::Info
        },
    }
}

fn read(values: &[&str], session: u64, invoked: u64, completed: u64) -> Op {
    Op {
        write: false,
        key: "k".into(),
        session,
        value: String::new(),
        values: values.iter().map(|v| v.to_string()).collect(),
        invoked_ns: invoked,
        ended_ns: Some(completed),
        outcome: Outcome::Ok,
    }
}

/// Feeds `ops` to a tracker in time order (invocations and completions at one moment in the
/// order of `ops`), spilling every `block` writes.
fn track(ops: &[Op], block: usize) -> AnomalyTracker {
    let mut steps: Vec<(u64, usize, bool)> = Vec::new();
    for (n, op) in ops.iter().enumerate() {
        steps.push((op.invoked_ns, 2 * n, false));
        if let Some(ended) = op.ended_ns {
            steps.push((ended, 2 * n + 1, true));
        }
    }
    steps.sort_unstable();
    let mut tracker = AnomalyTracker::with_block(block);
    for (at, step, ends) in steps {
        let op = &ops[step / 2];
        let id = (step / 2) as u64;
        match (op.write, ends) {
            (true, false) => tracker.write_invoked(id, &op.key, &op.value, op.session, at),
            (true, true) => tracker.write_completed(id, op.outcome, at),
            (false, false) => tracker.read_invoked(id, &op.key, op.session, at),
            (false, true) => tracker.read_completed(id, op.outcome, &op.values, at),
        }
    }
    tracker
}

fn count(found: Result<Found, String>) -> u64 {
    found.expect("no spill error").count
}

#[test]
fn a_read_that_misses_a_completed_write_is_stale_and_a_concurrent_one_is_not() {
    let ops = vec![
        write("a", 1, 0, Some(10)),
        write("b", 1, 20, Some(30)),
        read(&["a"], 2, 40, 50),      // stale: b completed at 30
        read(&["a"], 3, 25, 35),      // b was concurrent: not stale
        read(&[], 4, 15, 16),         // absent after a completed: stale
        read(&["a", "b"], 5, 60, 61), // siblings including b: not stale
    ];
    let stale = track(&ops, 1).stale_reads().expect("judged");
    assert_eq!(stale.count, 2, "{stale:?}");
    let first = stale.first.expect("named");
    // The first in the order reads completed: the absent read at 15 (completed at 16).
    assert_eq!(first.at_ns, 15);
    assert!(first.message.contains("missing \"a\""), "{}", first.message);
}

#[test]
fn the_write_named_is_the_newest_the_read_missed() {
    let ops = vec![
        write("a", 1, 0, Some(10)),
        write("b", 1, 20, Some(30)),
        write("c", 2, 22, Some(25)),
        read(&["a"], 3, 40, 50),
    ];
    let stale = track(&ops, 1).stale_reads().expect("judged");
    let message = stale.first.expect("named").message;
    assert!(message.contains("missing \"c\""), "{message}");
}

#[test]
fn a_write_acknowledged_at_the_moment_a_read_begins_is_not_missed() {
    let ops = vec![write("a", 1, 0, Some(10)), read(&[], 2, 10, 12)];
    assert_eq!(count(track(&ops, 4).stale_reads()), 0);
    let ops = vec![write("a", 1, 0, Some(10)), read(&[], 2, 11, 12)];
    assert_eq!(count(track(&ops, 4).stale_reads()), 1);
}

#[test]
fn a_value_never_acknowledged_or_never_written_is_never_judged() {
    let ops = vec![
        write("a", 1, 0, Some(10)),
        write("b", 1, 20, Some(30)),
        write("c", 2, 1, None),
        read(&["c"], 3, 40, 50),
        read(&["nobody-wrote-this"], 3, 60, 70),
    ];
    let tracker = track(&ops, 1);
    assert_eq!(count(tracker.stale_reads()), 0);
    assert_eq!(count(tracker.monotonic_reads()), 0);
}

#[test]
fn an_acknowledged_write_is_lost_when_the_survivor_precedes_it() {
    let ops = vec![
        write("a", 1, 0, Some(10)),
        write("b", 2, 20, Some(30)),
        write("c", 3, 25, None),
    ];
    let tracker = track(&ops, 1);
    let survivors = BTreeMap::from([("k".to_string(), vec!["a".to_string()])]);
    let lost = tracker.lost_writes(&survivors).expect("judged");
    assert_eq!(lost.count, 1, "{lost:?}");
    let first = lost.first.expect("named");
    assert!(first.message.contains("\"b\""), "{}", first.message);
    assert_eq!(first.at_ns, 30);
    // b survives: a was overwritten by a later write, nothing is lost.
    let survivors = BTreeMap::from([("k".to_string(), vec!["b".to_string()])]);
    assert_eq!(count(tracker.lost_writes(&survivors)), 0);
    // A survivor never acknowledged precedes nothing: nothing can be called lost.
    let survivors = BTreeMap::from([("k".to_string(), vec!["c".to_string()])]);
    assert_eq!(count(tracker.lost_writes(&survivors)), 0);
}

#[test]
fn session_guarantees_are_judged_per_session() {
    let ops = vec![
        write("a", 1, 0, Some(10)),
        write("b", 1, 20, Some(30)),
        read(&["b"], 1, 40, 41),
        read(&["a"], 1, 50, 51),
        read(&["a"], 2, 50, 51),
    ];
    let tracker = track(&ops, 1);
    assert_eq!(count(tracker.read_your_writes()), 1);
    let monotonic = tracker.monotonic_reads().expect("judged");
    assert_eq!(monotonic.count, 1);
    assert_eq!(monotonic.first.expect("named").session, 1);
}

#[test]
fn numbered_values_are_found_after_their_blocks_are_spilled() {
    // Session 1 writes 40 numbered values; with blocks of 4, all but the newest few spill.
    let mut ops: Vec<Op> = (1..=40)
        .map(|seq| write(&format!("c1-{seq}"), 1, seq * 100, Some(seq * 100 + 10)))
        .collect();
    // A read of the first value long after: stale, and judged only if c1-1 is still known.
    ops.push(read(&["c1-1"], 2, 10_000, 10_001));
    // A value of another key is no write of this one.
    let mut elsewhere = write("c1-41", 1, 4_100, Some(4_110));
    elsewhere.key = "other".into();
    ops.push(elsewhere);
    ops.push(read(&["c1-41"], 2, 10_002, 10_003));
    let tracker = track(&ops, 4);
    let (in_memory, spilled) = tracker.write_counts();
    assert!(spilled >= 32 && in_memory <= 9, "{in_memory} {spilled}");
    assert_eq!(count(tracker.stale_reads()), 1);
    let survivors = BTreeMap::from([("k".to_string(), vec!["c1-2".to_string()])]);
    let lost = tracker.lost_writes(&survivors).expect("judged");
    assert_eq!(lost.count, 38, "c1-3 ..= c1-40");
    assert!(lost.first.expect("named").message.contains("\"c1-3\""));
}

#[test]
fn only_the_exact_spelling_is_a_numbered_value() {
    assert_eq!(
        ValueRef::of_str("c3-17"),
        ValueRef::Numbered {
            session: 3,
            seq: 17
        }
    );
    for text in [
        "c03-17", "c3-017", "c-1", "c3-", "d3-17", "c3-17x", "c+3-17",
    ] {
        assert_eq!(
            ValueRef::of_str(text),
            ValueRef::Text(text.into()),
            "{text}"
        );
    }
}

/// The definitions read literally, on the whole history: every write against every read.
mod literal {
    use super::*;

    /// A write's value, invocation and acknowledgement; failed writes are left out.
    fn writes(ops: &[Op]) -> Vec<&Op> {
        ops.iter()
            .filter(|op| op.write && op.outcome != Outcome::Fail)
            .collect()
    }

    fn acked(op: &Op) -> Option<u64> {
        (op.outcome == Outcome::Ok).then_some(op.ended_ns).flatten()
    }

    fn latest(ops: &[Op], key: &str, values: &[String]) -> Option<u64> {
        let writes = writes(ops);
        let mut latest = 0;
        for value in values {
            let write = writes.iter().find(|w| w.key == key && &w.value == value)?;
            latest = latest.max(acked(write)? + 1);
        }
        Some(latest)
    }

    /// Ok reads in the order they completed.
    fn reads(ops: &[Op]) -> Vec<&Op> {
        let mut reads: Vec<&Op> = ops
            .iter()
            .filter(|op| !op.write && op.outcome == Outcome::Ok && op.ended_ns.is_some())
            .collect();
        reads.sort_by_key(|op| op.ended_ns);
        reads
    }

    /// The invocation times of the reads that missed a write (of their own session only, if
    /// `own`), in the order they completed, each with the invocation of the newest write missed.
    pub fn missed(ops: &[Op], own: bool) -> Vec<(u64, u64)> {
        reads(ops)
            .into_iter()
            .filter_map(|read| {
                let latest = latest(ops, &read.key, &read.values)?;
                let newest = writes(ops)
                    .into_iter()
                    .filter(|w| {
                        w.key == read.key
                            && (!own || w.session == read.session)
                            && acked(w).is_some_and(|c| c < read.invoked_ns)
                            && w.invoked_ns >= latest
                    })
                    .map(|w| w.invoked_ns)
                    .max()?;
                Some((read.invoked_ns, newest))
            })
            .collect()
    }

    pub fn monotonic(ops: &[Op]) -> Vec<u64> {
        let mut last: BTreeMap<(u64, &str), &Op> = BTreeMap::new();
        let mut found = Vec::new();
        for read in reads(ops) {
            if let Some(earlier) = last.get(&(read.session, read.key.as_str())) {
                let newer = latest(ops, &read.key, &read.values).is_some_and(|latest| {
                    earlier.ended_ns < Some(read.invoked_ns)
                        && earlier.values.iter().any(|v| {
                            writes(ops).iter().any(|w| {
                                w.key == read.key && &w.value == v && w.invoked_ns >= latest
                            })
                        })
                });
                if newer {
                    found.push(read.invoked_ns);
                }
            }
            last.insert((read.session, read.key.as_str()), read);
        }
        found
    }

    /// The lost writes' acknowledgement times.
    pub fn lost(ops: &[Op], survivors: &BTreeMap<String, Vec<String>>) -> Vec<u64> {
        writes(ops)
            .into_iter()
            .filter_map(|w| {
                let completed = acked(w)?;
                let surviving = survivors.get(&w.key).map(Vec::as_slice).unwrap_or(&[]);
                let latest = latest(ops, &w.key, surviving)?;
                (!surviving.contains(&w.value) && w.invoked_ns >= latest).then_some(completed)
            })
            .collect()
    }
}

/// Histories of three sequential sessions on two keys: numbered and other values, writes
/// acknowledged, given up on, failed or still in flight, reads returning values of writes
/// invoked before they completed (never a failed one's) or values nobody wrote.
fn history_strategy() -> impl Strategy<Value = (Vec<Op>, BTreeMap<String, Vec<String>>)> {
    let op = (
        any::<bool>(),
        0..2u8,
        0..8u64,
        0..6u64,
        0..5u8,
        proptest::collection::vec(0..40usize, 0..3),
        any::<bool>(),
    );
    let session = proptest::collection::vec(op, 0..10);
    (
        proptest::collection::vec(session, 3),
        proptest::collection::vec(0..40usize, 0..4),
    )
        .prop_map(|(sessions, surviving)| build_history(sessions, surviving))
}

type DrawnOp = (bool, u8, u64, u64, u8, Vec<usize>, bool);

fn build_history(
    sessions: Vec<Vec<DrawnOp>>,
    surviving: Vec<usize>,
) -> (Vec<Op>, BTreeMap<String, Vec<String>>) {
    let mut ops = Vec::new();
    for (session, drawn) in sessions.into_iter().enumerate() {
        let session = session as u64 + 1;
        let mut now = 0;
        let count = drawn.len();
        for (seq, (is_write, key, gap, length, fate, picks, numbered)) in
            drawn.into_iter().enumerate()
        {
            let invoked = now + gap;
            let last = seq + 1 == count;
            let (ended, outcome) = match fate {
                0 => (invoked + length, Outcome::Info),
                1 => (invoked + length, Outcome::Fail),
                // The session's last write may still be in flight at the end.
                2 if last && is_write => (u64::MAX, Outcome::Info),
                _ => (invoked + length, Outcome::Ok),
            };
            now = ended.min(invoked + length);
            let value = if numbered {
                format!("c{session}-{}", seq + 1)
            } else {
                format!("v{session}.{seq}")
            };
            ops.push(Op {
                write: is_write,
                key: format!("k{key}"),
                session,
                value: if is_write { value } else { String::new() },
                values: picks.iter().map(|p| format!("pick{p}")).collect(),
                invoked_ns: invoked,
                ended_ns: (ended != u64::MAX).then_some(ended),
                outcome,
            });
        }
    }
    // Picks become values of writes invoked before the read completed (never a failed one's),
    // or a value nobody wrote.
    let writes: Vec<(String, String, u64, Outcome)> = ops
        .iter()
        .filter(|op| op.write)
        .map(|op| (op.key.clone(), op.value.clone(), op.invoked_ns, op.outcome))
        .collect();
    let pick = |p: usize, key: &str, before: u64| {
        let candidates: Vec<&String> = writes
            .iter()
            .filter(|(k, _, invoked, outcome)| {
                k == key && *invoked <= before && *outcome != Outcome::Fail
            })
            .map(|(_, value, ..)| value)
            .collect();
        match candidates.len() {
            0 => format!("nobody-{p}"),
            n if p % 7 == 6 => format!("nobody-{}", p % n),
            n => candidates[p % n].clone(),
        }
    };
    for op in ops.iter_mut().filter(|op| !op.write) {
        let before = op.ended_ns.unwrap_or(u64::MAX);
        op.values = op
            .values
            .iter()
            .map(|p| pick(p[4..].parse().expect("a pick"), &op.key, before))
            .collect();
        op.values.dedup();
    }
    let mut survivors = BTreeMap::new();
    for key in ["k0", "k1"] {
        let values = surviving
            .iter()
            .map(|p| pick(*p, key, u64::MAX))
            .collect::<Vec<_>>();
        survivors.insert(key.to_string(), values);
    }
    (ops, survivors)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Judged as it goes, with writes spilled to disk every two, the tracker finds exactly the
    /// anomalies the definitions do, first the same one, and names the newest write missed.
    #[test]
    fn the_tracker_judges_as_the_definitions_do((ops, survivors) in history_strategy()) {
        let tracker = track(&ops, 2);
        for own in [false, true] {
            let expected = literal::missed(&ops, own);
            let found = if own { tracker.read_your_writes() } else { tracker.stale_reads() };
            let found = found.expect("judged");
            prop_assert_eq!(found.count, expected.len() as u64);
            prop_assert_eq!(found.first.as_ref().map(|a| a.at_ns), expected.first().map(|e| e.0));
            if let (Some(first), Some((_, newest))) = (found.first, expected.first()) {
                let named = ops.iter().any(|w| {
                    w.write
                        && w.key == first.key
                        && w.invoked_ns == *newest
                        && first.message.contains(&format!("own write {:?}", w.value))
                            | first.message.contains(&format!("missing {:?}", w.value))
                });
                prop_assert!(named, "{}", first.message);
            }
        }
        let expected = literal::monotonic(&ops);
        let found = tracker.monotonic_reads().expect("judged");
        prop_assert_eq!(found.count, expected.len() as u64);
        prop_assert_eq!(found.first.map(|a| a.at_ns), expected.first().copied());
        let expected = literal::lost(&ops, &survivors);
        let found = tracker.lost_writes(&survivors).expect("judged");
        prop_assert_eq!(found.count, expected.len() as u64);
        prop_assert_eq!(found.first.map(|a| a.at_ns), expected.iter().min().copied());
        // Spilling changes nothing.
        let unspilled = track(&ops, 1 << 20);
        prop_assert_eq!(unspilled.stale_reads(), tracker.stale_reads());
        prop_assert_eq!(unspilled.monotonic_reads(), tracker.monotonic_reads());
        prop_assert_eq!(unspilled.lost_writes(&survivors), tracker.lost_writes(&survivors));
    }
}
