//! Issue 14: a partition the file names that the cluster it describes cannot form is an error
//! at the field that names it, with file, line and full path; one test per kind of partition.

use sim_core::NodeId;

use crate::{isolation_problem, split_problem, Scenario, ScenarioError, Shape, Target};

/// A beat cluster of `nodes` with one partition fault whose fields are `fields` (from line 8).
fn with_partition(nodes: &str, fields: &str) -> String {
    format!(
        "duration = \"10s\"\n[cluster]\n{nodes}\n[protocol]\nname = \"beat\"\n[[faults]]\n\
         at = \"1s\"\nkind = \"partition\"\n{fields}\n"
    )
}

fn refused(nodes: &str, fields: &str) -> ScenarioError {
    let text = with_partition(nodes, fields);
    Scenario::parse("p.toml", &text).expect_err("an impossible partition")
}

fn accepted(nodes: &str, fields: &str) -> Scenario {
    let text = with_partition(nodes, fields);
    Scenario::parse("p.toml", &text).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn a_bridge_needs_three_nodes() {
    let e = refused("nodes = 2", "shape = \"bridge\"");
    assert_eq!((e.field.as_str(), e.line), ("faults[0].shape", 9), "{e}");
    assert!(e.message.contains("a bridge needs at least 3 nodes"), "{e}");
    assert!(e.message.contains("the cluster has 2"), "{e}");
    assert_eq!(e.file, "p.toml");
    accepted("nodes = 3", "shape = \"bridge\"");
}

#[test]
fn a_majority_ring_needs_four_nodes() {
    for n in 1..=3 {
        let e = refused(&format!("nodes = {n}"), "shape = \"majority-ring\"");
        assert_eq!((e.field.as_str(), e.line), ("faults[0].shape", 9), "{e}");
        assert!(
            e.message.contains("a majority ring needs at least 4"),
            "{e}"
        );
    }
    accepted("nodes = 4", "shape = \"majority-ring\"");
}

#[test]
fn halves_need_two_nodes() {
    let e = refused("nodes = 1", "shape = \"halves\"");
    assert_eq!((e.field.as_str(), e.line), ("faults[0].shape", 9), "{e}");
    accepted("nodes = 2", "shape = \"halves\"");
}

#[test]
fn a_split_needs_two_sides() {
    // One group holding every node leaves no other side.
    let e = refused("nodes = 3", "groups = [[\"n1\", \"n2\", \"n3\"]]");
    assert_eq!((e.field.as_str(), e.line), ("faults[0].groups", 9), "{e}");
    assert!(e.message.contains("needs two sides"), "{e}");
    // The nodes in no group form the other side.
    accepted("nodes = 3", "groups = [[\"n1\", \"n2\"]]");
    accepted("nodes = 3", "groups = [[\"n1\"], [\"n2\", \"n3\"]]");
}

#[test]
fn isolating_no_node_or_every_node_cuts_nothing() {
    let e = refused("nodes = 2", "node = \"minority\"");
    assert_eq!((e.field.as_str(), e.line), ("faults[0].node", 9), "{e}");
    assert!(
        e.message.contains("a minority of 2 nodes is no node"),
        "{e}"
    );
    accepted("nodes = 3", "node = \"minority\"");
    let e = refused("nodes = 2", "nodes = [\"n1\", \"n2\"]");
    assert_eq!((e.field.as_str(), e.line), ("faults[0].nodes", 9), "{e}");
    assert!(e.message.contains("every node of the 2"), "{e}");
    let e = refused("nodes = 1", "node = \"leader\"");
    assert_eq!(e.field, "faults[0].node", "{e}");
    let e = refused("nodes = 3", "node = \"kind:node\"");
    assert_eq!(e.field, "faults[0].node", "{e}");
    let e = refused("kinds = { a = 3 }", "node = \"kind:a\"");
    assert!(e.message.contains("cuts off every node of the 3"), "{e}");
    accepted("kinds = { a = 2, b = 1 }", "node = \"kind:a\"");
    // A client is cut off from every node, however few.
    accepted("nodes = 1", "node = \"client:c1\"");
}

/// Both ends of a ranged node count are checked, and so is each swarm choice of it.
#[test]
fn every_cluster_size_a_file_allows_is_checked() {
    let e = refused("nodes = [2, 5]", "shape = \"bridge\"");
    assert_eq!(e.field, "faults[0].shape", "{e}");
    let text = with_partition("", "shape = \"bridge\"") + "[swarm]\n\"cluster.nodes\" = [5, 2]\n";
    let e = Scenario::parse("p.toml", &text).expect_err("the 2-node member");
    assert_eq!(e.field, "swarm.\"cluster.nodes\"[1]", "{e}");
    assert!(e.message.contains("faults[0].shape"), "{e}");
    assert!(e.message.contains("a bridge needs at least 3"), "{e}");
}

#[test]
fn shapes_form_exactly_on_clusters_large_enough() {
    let none = |_: &str| 0;
    let needs = [
        (Shape::Halves, 2),
        (Shape::Bridge, 3),
        (Shape::MajorityRing, 4),
        (Shape::Isolate(Target::Random), 2),
        (Shape::Isolate(Target::Role("leader".into())), 2),
        (Shape::Isolate(Target::Minority), 3),
    ];
    for (shape, least) in needs {
        for n in 1..=7 {
            let problem = shape.problem(n, none);
            assert_eq!(problem.is_none(), n >= least, "{shape} on {n}: {problem:?}");
        }
    }
    let n = |i: u32| NodeId(i);
    assert!(split_problem(&[vec![n(0)], vec![]], 3).is_some());
    assert!(split_problem(&[vec![n(0), n(1)]], 2).is_some());
    assert!(split_problem(&[vec![n(0)]], 2).is_none());
    assert!(
        split_problem(&[vec![n(0)], vec![n(5)]], 3).is_some(),
        "n6 is gone"
    );
    assert!(isolation_problem(&Target::Random, 0, 3).is_some());
    assert!(isolation_problem(&Target::Random, 3, 3).is_some());
    assert!(isolation_problem(&Target::Random, 2, 3).is_none());
}

/// A ring or a bridge may be written in a fixed order (`sim shrink` writes drawn ones so):
/// every node once, and the file it emits reads back the same.
#[test]
fn a_ring_or_bridge_in_a_given_order_lists_every_node_once() {
    let s = accepted(
        "nodes = 4",
        "shape = \"majority-ring\"\nnodes = [\"n3\", \"n1\", \"n4\", \"n2\"]",
    );
    let order = vec![NodeId(2), NodeId(0), NodeId(3), NodeId(1)];
    assert!(matches!(&s.faults[0].action,
        crate::Action::Partition { shape: Shape::RingOf(o), .. } if *o == order));
    let again = crate::emit::reparse(&s).expect("emitted and read back");
    assert_eq!(again.faults[0].action, s.faults[0].action);
    let b = accepted(
        "nodes = 3",
        "shape = \"bridge\"\nnodes = [\"n3\", \"n1\", \"n2\"]",
    );
    assert_eq!(b.faults[0].to_string(), "at 1s: partition bridge n3,n1,n2");
    let e = refused("nodes = 3", "shape = \"bridge\"\nnodes = [\"n3\", \"n1\"]");
    assert_eq!((e.field.as_str(), e.line), ("faults[0].nodes", 10), "{e}");
    assert!(e.message.contains("every node once"), "{e}");
    let e = refused(
        "nodes = 3",
        "shape = \"bridge\"\nnodes = [\"n3\", \"n1\", \"n3\"]",
    );
    assert!(e.message.contains("listed twice"), "{e}");
    let e = refused(
        "nodes = 3",
        "shape = \"majority-ring\"\nnodes = [\"n3\", \"n1\", \"n2\"]",
    );
    assert!(
        e.message.contains("a majority ring needs at least 4"),
        "{e}"
    );
}
