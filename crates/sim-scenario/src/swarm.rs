//! Swarm testing: a `[swarm]` table lets each seed pick, from lists of choices, the fault kinds
//! in play, their rates, the protocol's timing and the workload's shape (TigerBeetle's
//! `options_swarm`, FoundationDB's buggify knobs).
//!
//! ```toml
//! [swarm]
//! # One of these sets of nemesis kinds per seed.
//! "nemesis.kinds" = [["crash"], ["partition", "pause"], ["crash", "partition", "clock", "network"]]
//! "nemesis.interval" = [["200ms", "1s"], ["1s", "4s"]]
//! # A table choice is merged into the table it names: fields that must agree go together.
//! protocol = [
//!   { election_timeout = ["150ms", "300ms"], heartbeat_interval = "50ms" },
//!   { election_timeout = ["60ms", "70ms"], heartbeat_interval = "20ms", pre_vote = true },
//! ]
//! "workload.mix" = [{ get = 0.9, put = 0.1 }, { get = 0.1, put = 0.6, cas = 0.3 }]
//! # Timing and the bounds that judge it, picked together.
//! "*" = [
//!   { protocol = { heartbeat_interval = "1s" }, checks = { completeness_within = "10s" } },
//!   { protocol = { heartbeat_interval = "100ms" }, checks = { completeness_within = "2s" } },
//! ]
//! ```
//!
//! Each key names a field or a table by its dotted path (`"*"`: a table of whole sections, so
//! that values in different sections that must agree are picked together) and lists its choices; a seed picks one
//! choice per key, in the keys' sorted order, from its own `swarm` stream (so the `parameters` stream of
//! `[low, high]` ranges, the network and the nemesis draw exactly as before). A choice that is a
//! table, for a path that names a table, is merged into it; any other choice replaces the value.
//! The picks are applied to the file's TOML before it is validated, so a swarm member is an
//! ordinary scenario: it prints, emits (`--emit-scenario`, `sim shrink`) and replays as one.
//!
//! Parsing validates every choice of every key (with the other keys at their first choice);
//! an invalid choice is an error at its key naming the choice. The tables a family decodes
//! (`[protocol]`, `[workload]`, `[checks]`) are checked by the family for every choice when the
//! file is loaded (`sim_runner::Families::validate`, through [`crate::SwarmChoice`]); choices
//! that are valid alone but not together are found only when a seed draws them.

use sim_core::SimRng;
use std::collections::BTreeSet;

/// The sections a swarm key may name.
const SECTIONS: [&str; 6] = [
    "cluster", "protocol", "network", "workload", "checks", "nemesis",
];

/// The swarm keys of a file: each path and its choices, in key order.
pub(crate) type Choices = Vec<(String, Vec<toml::Value>)>;

/// The file's `[swarm]` table as choices, with errors in words (the caller places them).
pub(crate) fn choices(table: &toml::Table) -> Result<Choices, (String, String)> {
    let mut out = Vec::new();
    for (key, value) in table {
        let field = format!("swarm.\"{key}\"");
        let toml::Value::Array(list) = value else {
            return Err((
                field,
                format!(
                    "expected an array of choices, found {}; e.g. \"{key}\" = [a, b]",
                    value.type_str()
                ),
            ));
        };
        if list.is_empty() {
            return Err((field, "expected at least one choice, found none".into()));
        }
        if key == "*" {
            // Whole sections picked together: each choice is a table of sections.
            for choice in list {
                let ok = choice.as_table().is_some_and(|t| {
                    t.iter()
                        .all(|(k, v)| SECTIONS.contains(&k.as_str()) && v.is_table())
                });
                if !ok {
                    return Err((
                        field,
                        format!(
                            "each choice of \"*\" is a table of sections ({}) to merge together, found {choice}",
                            SECTIONS.join(", ")
                        ),
                    ));
                }
                if choice.get("protocol").is_some_and(names_protocol) {
                    return Err((field, "the protocol's name cannot be sampled".into()));
                }
            }
            out.push((key.clone(), list.clone()));
            continue;
        }
        let path: Vec<&str> = key.split('.').collect();
        if path.iter().any(|p| p.is_empty()) {
            return Err((
                field,
                format!("{key:?} is not a dotted path such as \"protocol.pre_vote\""),
            ));
        }
        if !SECTIONS.contains(&path[0]) {
            return Err((
                field,
                format!(
                    "{:?} is not a section a seed can sample; expected one of {}",
                    path[0],
                    SECTIONS.join(", ")
                ),
            ));
        }
        if key == "protocol.name" || key == "protocol" && list.iter().any(names_protocol) {
            return Err((field, "the protocol's name cannot be sampled".into()));
        }
        out.push((key.clone(), list.clone()));
    }
    Ok(out)
}

fn names_protocol(choice: &toml::Value) -> bool {
    choice.as_table().is_some_and(|t| t.contains_key("name"))
}

/// `doc` (the file's TOML less `[swarm]`) with `choice` applied at `path`.
pub(crate) fn apply(doc: &mut toml::Table, path: &str, choice: &toml::Value) -> Result<(), String> {
    if path == "*" {
        for (section, fields) in choice.as_table().into_iter().flatten() {
            apply(doc, section, fields)?;
        }
        return Ok(());
    }
    let parts: Vec<&str> = path.split('.').collect();
    let (last, parents) = parts.split_last().ok_or("an empty path")?;
    let mut table = doc;
    for part in parents {
        let entry = table
            .entry(part.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        table = entry
            .as_table_mut()
            .ok_or_else(|| format!("{part:?} in {path:?} is a value, not a table"))?;
    }
    match (table.get_mut(*last), choice) {
        (Some(toml::Value::Table(existing)), toml::Value::Table(fields)) => {
            for (k, v) in fields {
                existing.insert(k.clone(), v.clone());
            }
        }
        _ => {
            table.insert(last.to_string(), choice.clone());
        }
    }
    Ok(())
}

/// The paths that every choice of some key replaces, with that key: a value the file itself
/// sets at one of them never takes effect, whichever member a seed runs. A table choice
/// replaces each key it names inside its table (`apply` merges one level), a value choice the
/// path itself.
pub(crate) fn always_replaced(choices: &Choices) -> Vec<(String, String)> {
    fn replaced(path: &str, choice: &toml::Value, out: &mut BTreeSet<String>) {
        match choice {
            toml::Value::Table(fields) if path == "*" => {
                for (section, value) in fields {
                    replaced(section, value, out);
                }
            }
            toml::Value::Table(fields) => {
                out.extend(fields.keys().map(|k| format!("{path}.{k}")));
            }
            _ => {
                out.insert(path.to_string());
            }
        }
    }
    let mut always = Vec::new();
    for (key, list) in choices {
        let mut sets = list.iter().map(|choice| {
            let mut set = BTreeSet::new();
            replaced(key, choice, &mut set);
            set
        });
        let Some(first) = sets.next() else { continue };
        let common = sets.fold(first, |acc, set| &acc & &set);
        always.extend(common.into_iter().map(|path| (path, key.clone())));
    }
    always
}

/// Removes the value at dotted `path` from `doc`, if the file sets it.
pub(crate) fn remove(doc: &mut toml::Table, path: &str) {
    let mut parts: Vec<&str> = path.split('.').collect();
    let Some(last) = parts.pop() else { return };
    let mut table = doc;
    for part in parts {
        match table.get_mut(part).and_then(toml::Value::as_table_mut) {
            Some(inner) => table = inner,
            None => return,
        }
    }
    table.remove(last);
}

/// The value at dotted `path` in `doc`, if the file sets it.
pub(crate) fn lookup<'a>(doc: &'a toml::Table, path: &str) -> Option<&'a toml::Value> {
    let mut parts = path.split('.');
    let mut value = doc.get(parts.next()?)?;
    for part in parts {
        value = value.as_table()?.get(part)?;
    }
    Some(value)
}

/// One pick per key from `rng`, in key order: the index of each choice.
pub(crate) fn pick(choices: &Choices, rng: &mut SimRng) -> Vec<usize> {
    choices
        .iter()
        .map(|(_, list)| sim_core::rng::between(rng, 0, list.len() as u64 - 1) as usize)
        .collect()
}

/// A choice as a scenario file writes it, on one line.
pub(crate) fn render(choice: &toml::Value) -> String {
    choice.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_choice_merges_and_a_value_replaces() {
        let mut doc: toml::Table = toml::from_str(
            "[protocol]\nname = \"raft\"\nheartbeat_interval = \"50ms\"\npre_vote = false\n",
        )
        .unwrap();
        let choice: toml::Value =
            toml::from_str::<toml::Table>("c = { heartbeat_interval = \"20ms\" }").unwrap()["c"]
                .clone();
        apply(&mut doc, "protocol", &choice).unwrap();
        apply(&mut doc, "protocol.pre_vote", &toml::Value::Boolean(true)).unwrap();
        apply(&mut doc, "workload.keys", &toml::Value::Integer(3)).unwrap();
        assert_eq!(doc["protocol"]["name"].as_str(), Some("raft"));
        assert_eq!(doc["protocol"]["heartbeat_interval"].as_str(), Some("20ms"));
        assert_eq!(doc["protocol"]["pre_vote"].as_bool(), Some(true));
        assert_eq!(doc["workload"]["keys"].as_integer(), Some(3));
        let err = apply(&mut doc, "protocol.pre_vote.x", &toml::Value::Integer(1)).unwrap_err();
        assert!(err.contains("pre_vote"), "{err}");
    }

    #[test]
    fn choices_must_be_nonempty_arrays_under_a_known_section() {
        let table = |text: &str| toml::from_str::<toml::Table>(text).unwrap();
        assert!(choices(&table("\"protocol.pre_vote\" = [true, false]")).is_ok());
        let (field, m) = choices(&table("\"protocol.pre_vote\" = true")).unwrap_err();
        assert_eq!(field, "swarm.\"protocol.pre_vote\"");
        assert!(m.contains("array of choices"), "{m}");
        assert!(choices(&table("\"protocol.pre_vote\" = []")).is_err());
        let (_, m) = choices(&table("\"expect.fails\" = [\"a\"]")).unwrap_err();
        assert!(m.contains("expect"), "{m}");
        assert!(choices(&table("\"protocol.name\" = [\"raft\"]")).is_err());
        assert!(choices(&table("protocol = [{ name = \"x\" }]")).is_err());
    }

    const SWARM: &str = r#"
duration = "10s"
[cluster]
[protocol]
name = "beat"
[network]
drop = [0.0, 0.1]
[nemesis]
kinds = ["crash"]
interval = ["1s", "2s"]
fault_duration = ["1s", "2s"]
[swarm]
"nemesis.kinds" = [["crash"], ["partition"], ["pause", "clock"]]
protocol = [{ interval = "100ms" }, { interval = "20ms", extra = true }]
"cluster.nodes" = [3, 5]
"#;

    #[test]
    fn each_seed_picks_one_member_the_same_way_every_time_and_explicitly() {
        let s = crate::Scenario::parse("s.toml", SWARM).expect("valid");
        assert_eq!(s.node_count(), 3, "the first choices");
        let fields: Vec<&str> = s.ranges.iter().map(|r| r.field.as_str()).collect();
        assert_eq!(
            fields,
            ["network.drop", "cluster.nodes", "nemesis.kinds", "protocol"]
        );
        let mut kinds = std::collections::BTreeSet::new();
        let mut nodes = std::collections::BTreeSet::new();
        for seed in 0..30 {
            let a = s.sample(seed).expect("sampled");
            let b = s.sample(seed).expect("sampled");
            assert_eq!(a.sampled, b.sampled);
            assert_eq!(a.protocol_table(), b.protocol_table());
            assert_eq!(a.text, SWARM, "the file's text, to sample again");
            assert_eq!(a.sampled.len(), 4);
            let nemesis = a.nemesis.as_ref().expect("a nemesis");
            kinds.insert(format!("{:?}", nemesis.kinds));
            nodes.insert(a.node_count());
            let fast = a.protocol_table().get("interval").and_then(|v| v.as_str()) == Some("20ms");
            assert_eq!(
                fast,
                a.protocol_table().contains_key("extra"),
                "a table choice goes whole"
            );
            // The member written out is an ordinary scenario: no swarm left, the picks explicit.
            let emitted = crate::emit::to_toml(&a, "");
            assert!(!emitted.contains("[swarm]"), "{emitted}");
            let again = crate::Scenario::parse("e.toml", &emitted).expect("the member parses");
            assert_eq!(again.node_count(), a.node_count());
            assert!(again.ranges.is_empty());
        }
        assert_eq!(kinds.len(), 3, "{kinds:?}");
        assert_eq!(nodes.len(), 2);
    }

    #[test]
    fn every_choice_is_validated_at_its_key() {
        let bad = SWARM.replace("[3, 5]", "[3, 500]");
        let e = crate::Scenario::parse("s.toml", &bad).expect_err("500 nodes");
        assert_eq!(e.field, "swarm.\"cluster.nodes\"[1]", "{e}");
        assert!(e.message.contains("choice 2 of 2, cluster.nodes"), "{e}");
        assert!(e.line > 0, "{e}");
        let kind = SWARM.replace("[\"pause\", \"clock\"]", "[\"pause\", \"clocks\"]");
        let e = crate::Scenario::parse("s.toml", &kind).expect_err("no such kind");
        assert!(e.field.starts_with("swarm.\"nemesis.kinds\"[2]"), "{e}");
    }

    /// A setting of the file that every choice of a key replaces never takes effect: an error
    /// at its own line. A field the file's schema requires (the nemesis's kinds) may stay.
    #[test]
    fn a_setting_every_choice_replaces_is_an_error_at_its_line() {
        let shadowed = SWARM.replace("[cluster]\n", "[cluster]\nnodes = 4\n");
        let e = crate::Scenario::parse("s.toml", &shadowed).expect_err("nodes never used");
        assert_eq!(e.field, "cluster.nodes", "{e}");
        assert_eq!(e.line, 4, "{e}");
        assert!(
            e.message
                .contains("every choice of swarm.\"cluster.nodes\""),
            "{e}"
        );
        let in_table = SWARM.replace("name = \"beat\"\n", "name = \"beat\"\ninterval = \"5ms\"\n");
        let e = crate::Scenario::parse("s.toml", &in_table).expect_err("interval never used");
        assert_eq!(e.field, "protocol.interval", "{e}");
    }
}
