//! `sim compare`: two scenarios over the same seeds in one table, and its exit statuses.

use crate::support::{code, sim, stderr, stdout};

/// The CP and AP sides of the same split: the table has a column per scenario and the rows
/// that compare them, and the figures both families report line up by name.
#[test]
fn compare_tabulates_two_families_under_the_same_partition() {
    let output = sim(&[
        "compare",
        "scenarios/quorum/abd-partition.toml",
        "scenarios/quorum/dynamo-partition.toml",
        "--seeds",
        "0..1",
        "--jobs",
        "1",
    ]);
    let text = stdout(&output);
    assert_eq!(code(&output), 0, "{text}{}", stderr(&output));
    for row in [
        "quorum-abd-partition",
        "quorum-dynamo-partition",
        "ok during the partition, majority side",
        "ok during the partition, minority side",
        "linearizable (seeds)",
        "reads.stale",
        "writes.lost",
    ] {
        assert!(text.contains(row), "no {row:?} in:\n{text}");
    }
    assert!(text.contains("linearizable: 1"), "{text}");
}

#[test]
fn compare_refuses_an_empty_seed_range_and_a_missing_file() {
    let empty = sim(&[
        "compare",
        "scenarios/cap-raft.toml",
        "scenarios/cap-dynamo.toml",
        "--seeds",
        "3..3",
    ]);
    assert_eq!(code(&empty), 2, "{}", stderr(&empty));
    let missing = sim(&[
        "compare",
        "scenarios/cap-raft.toml",
        "scenarios/no-such.toml",
        "--seeds",
        "0..1",
    ]);
    assert_eq!(code(&missing), 2, "{}", stderr(&missing));
    assert!(
        stderr(&missing).contains("no-such.toml"),
        "{}",
        stderr(&missing)
    );
}
