//! The shrink's own steps: removing any node, and pinning what faults drew when they fired.

use std::sync::{Arc, Mutex};

use sim_core::NodeId;
use sim_scenario::{emit, Action, Scenario, Shape, Target};

use super::without_node;
use crate::bench::BeatSuite;
use crate::driver::RunOptions;
use crate::Families;

const FIVE: &str = r#"duration = "10s"
quiet = "1s"
[cluster]
nodes = 5
[protocol]
name = "beat"
interval = "100ms"
[[faults]]
at = "1s"
kind = "crash"
nodes = ["n2", "n4"]
[[faults]]
at = "2s"
kind = "partition"
groups = [["n1", "n2"], ["n3"]]
[[faults]]
at = "3s"
kind = "partition"
shape = "bridge"
nodes = ["n5", "n2", "n3", "n4", "n1"]
[[faults]]
at = "4s"
kind = "pause"
node = "n2"
for = "1s"
"#;

#[test]
fn removing_a_middle_node_renumbers_the_nodes_after_it() {
    let s = Scenario::parse("five.toml", FIVE).expect("valid");
    let c = without_node(&s, 1).expect("n2 removed");
    assert_eq!(c.node_names, ["n1", "n2", "n3", "n4"]);
    let n = |i: u32| NodeId(i);
    // The old n4 is the new n3; the fault aimed only at n2 is gone.
    assert_eq!(c.faults.len(), 3);
    assert!(
        matches!(&c.faults[0].action, Action::Crash { target: Target::Nodes(t), .. } if *t == [n(2)])
    );
    assert!(matches!(&c.faults[1].action,
        Action::Partition { shape: Shape::Split(g), .. } if *g == [vec![n(0)], vec![n(1)]]));
    assert!(matches!(&c.faults[2].action,
        Action::Partition { shape: Shape::BridgeOf(o), .. } if *o == [n(3), n(1), n(2), n(0)]));
    emit::reparse(&c).expect("the smaller scenario is a valid file");
    // Down to two nodes, the bridge cannot be formed and goes.
    let two = without_node(&without_node(&c, 3).unwrap(), 2).unwrap();
    assert_eq!(two.node_count(), 2);
    assert!(two.faults.iter().all(|f| !matches!(
        f.action,
        Action::Partition {
            shape: Shape::BridgeOf(_),
            ..
        }
    )));
    emit::reparse(&two).expect("valid");
}

/// A run asked to pin its draws hands back its schedule with every fired fault's draws written
/// out; run from its text, that schedule gives the same run (the same faults hitting the same
/// nodes, the same events; only halves now read as the split they drew), and draws nothing.
#[test]
fn a_pinned_schedule_runs_the_same_and_draws_nothing() {
    let text = "duration = \"20s\"\nquiet = \"1s\"\n[cluster]\nnodes = 5\n[protocol]\n\
                name = \"beat\"\ninterval = \"100ms\"\n[[faults]]\nat = \"500ms\"\n\
                kind = \"crash\"\nnode = \"random\"\nrestart_after = \"1s\"\n[[faults]]\n\
                at = \"700ms\"\nkind = \"partition\"\nnode = \"minority\"\nheal_after = \"1s\"\n\
                [[faults]]\nat = \"2s\"\nkind = \"partition\"\nshape = \"halves\"\n\
                heal_after = \"1s\"\n[nemesis]\nkinds = [\"partition\", \"pause\"]\n\
                interval = [\"100ms\", \"500ms\"]\nfault_duration = [\"100ms\", \"500ms\"]\n\
                start_after = \"4s\"\n";
    let families = Families::new().with::<BeatSuite>();
    let scenario = Scenario::parse("pin.toml", text).expect("valid");
    let start = families.explicit(&scenario, 7, None).expect("explicit");
    let drawn = Arc::new(Mutex::new(Vec::new()));
    let mut options = RunOptions::new(7);
    options.pinned = Some(Arc::clone(&drawn));
    let original = families.run(&start, options).expect("runs");
    let mut pinned = start.clone();
    pinned.faults = drawn.lock().unwrap().clone();
    assert_eq!(pinned.faults.len(), start.faults.len());
    let draws = |s: &Scenario| {
        s.faults
            .iter()
            .filter(|f| match &f.action {
                Action::Crash { target, .. } | Action::Pause { target, .. } => {
                    matches!(target, Target::Random | Target::Minority)
                }
                Action::Partition { shape, .. } => matches!(
                    shape,
                    Shape::Halves
                        | Shape::MajorityRing
                        | Shape::Bridge
                        | Shape::Isolate(Target::Random | Target::Minority)
                ),
                _ => false,
            })
            .count()
    };
    assert!(draws(&start) >= 4, "the test draws: {}", draws(&start));
    assert_eq!(draws(&pinned), 0);
    let pinned = emit::reparse(&pinned).expect("a valid file");
    let again = families.run(&pinned, RunOptions::new(7)).expect("runs");
    let faults = |r: &crate::RunReport| -> Vec<String> {
        r.applied
            .iter()
            .map(|f| format!("{} {}", f.time, f.text.replace("halves ", "split ")))
            .collect()
    };
    assert_eq!(faults(&original), faults(&again));
    assert_eq!(
        format!("{:?}", original.stats),
        format!("{:?}", again.stats)
    );
}
