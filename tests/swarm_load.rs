//! Issues 14 and 15 through the real binary: a swarm file's choices are all checked when it is
//! loaded, by `sim run`, `sim fuzz` and `sim verify` alike (the family's own tables included),
//! and a 2-node member of the failure-detector swarm skips the partitions it cannot form.

use std::path::Path;

use crate::support::{code, root, sim, stderr, stdout, temp_file};

fn s(path: &Path) -> &str {
    path.to_str().expect("UTF-8 path")
}

#[test]
fn issue_15_a_bad_swarm_choice_is_refused_at_its_line_before_any_seed_runs() {
    let text = std::fs::read_to_string(root().join("scenarios/raft/swarm.toml")).expect("read");
    let good = "\"protocol.snapshot_threshold\" = [0, 20, 200]";
    assert!(text.contains(good));
    let bad = text.replace(
        good,
        "\"protocol.snapshot_threshold\" = [0, 20,\n  \"six\"]",
    );
    let line = bad
        .lines()
        .position(|l| l.contains("\"six\""))
        .expect("the bad choice")
        + 1;
    let file = temp_file("issue15-bad-choice.toml", &bad);
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("issue15-fuzz");
    let _ = std::fs::remove_dir_all(&out_dir);
    for args in [
        vec!["run", s(&file)],
        vec!["fuzz", s(&file), "--count", "1", "--out", s(&out_dir)],
        vec!["verify", s(&file), "--seeds", "1"],
    ] {
        let out = sim(&args);
        let err = stderr(&out) + &stdout(&out);
        assert_eq!(code(&out), 2, "{args:?}: {err}");
        assert!(
            err.contains(&format!(":{line}:"))
                && err.contains("swarm.\"protocol.snapshot_threshold\"[2]"),
            "{args:?}: {err}"
        );
        assert!(
            err.contains("choice 3 of 3, protocol.snapshot_threshold"),
            "{args:?}: {err}"
        );
    }
    assert!(!out_dir.join("seeds.jsonl").exists(), "no seed ran");
}

#[test]
fn issue_14_a_two_node_member_of_the_fd_swarm_skips_the_partitions_it_cannot_form() {
    let text = std::fs::read_to_string(root().join("scenarios/fd/swarm.toml")).expect("read");
    let two = text
        .replace("\"cluster.nodes\" = [2, 3, 5, 7]\n", "")
        .replace("[cluster]\n", "[cluster]\nnodes = 2\n");
    let file = temp_file("issue14-fd-two.toml", &two);
    let out = sim(&["run", s(&file), "--seed", "1"]);
    let text = stdout(&out);
    assert_eq!(code(&out), 0, "{text}{}", stderr(&out));
    assert!(
        !text.contains(" and \n") && !text.contains("joining n1 and "),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l.starts_with("warning")
            && l.contains("partition bridge: a bridge needs at least 3 nodes")),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l.starts_with("warning")
            && l.contains("partition majority-ring: a majority ring needs at least 4 nodes")),
        "{text}"
    );
}
