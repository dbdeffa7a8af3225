//! `[cluster]`: how many nodes, their names, and their kinds.
//!
//! `nodes = N` names them `n1..nN`; `names = [...]` names them; `kinds = { coordinator = 1,
//! participant = 4 }` counts them by kind, numbered in the order the kinds are written, and may
//! go with `names` when the counts add up to the names given. Without `kinds`, every node is of
//! the one default kind, [`sim_core::Declaration::DEFAULT_KIND`].

use sim_core::Declaration;
use toml::Spanned;

use super::Builder;
use crate::error::ScenarioError;
use crate::raw::{RawCluster, RawKinds};
use crate::NODES_MAX;

/// Words that select nodes in a fault's `node`, so no node may be called by them.
const RESERVED: [&str; 4] = ["leader", "random", "minority", "reporter"];
/// Prefixes of selectors (`role:leader`, `kind:participant`, `random:participant`).
pub(super) const SELECTOR_PREFIXES: [&str; 4] = ["role:", "kind:", "random:", "client:"];

/// Whether `name` reads as a selector rather than a node's name.
pub(super) fn is_selector(name: &str) -> bool {
    RESERVED.contains(&name) || SELECTOR_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// The nodes of a cluster: their names and, one for each, their kind.
pub(super) struct Nodes {
    pub(super) names: Vec<String>,
    pub(super) kinds: Vec<String>,
}

impl Builder<'_> {
    pub(super) fn cluster(&self, cluster: &Spanned<RawCluster>) -> Result<Nodes, ScenarioError> {
        let c = cluster.get_ref();
        match (&c.nodes, &c.names, &c.kinds) {
            (Some(_), Some(names), _) => Err(self.at(
                names,
                "cluster.names",
                "give either nodes (a count) or names, not both",
            )),
            (Some(_), None, Some(kinds)) => Err(self.at(
                kinds,
                "cluster.kinds",
                "give either nodes (a count) or kinds (a count of each kind), not both",
            )),
            (None, None, None) => Err(self.at(
                cluster,
                "cluster",
                "missing: give nodes = <count> or names = [...]",
            )),
            (Some(count), None, None) => {
                let n = self.pick(count, "cluster.nodes", |n| {
                    if n < 1 || n > NODES_MAX as i64 {
                        Err(format!(
                            "expected a node count in 1..={NODES_MAX}, found {n}"
                        ))
                    } else {
                        Ok(())
                    }
                })?;
                Ok(uniform((1..=n).map(|i| format!("n{i}")).collect()))
            }
            (None, Some(names), None) => Ok(uniform(self.names(names)?)),
            (None, names, Some(kinds)) => self.kinds(kinds, names.as_ref()),
        }
    }

    fn names(&self, names: &Spanned<Vec<Spanned<String>>>) -> Result<Vec<String>, ScenarioError> {
        let list = names.get_ref();
        if list.is_empty() || list.len() > NODES_MAX {
            return Err(self.at(
                names,
                "cluster.names",
                format!("expected 1..={NODES_MAX} node names, found {}", list.len()),
            ));
        }
        let mut seen: Vec<String> = Vec::new();
        for name in list {
            let s = name.get_ref();
            if s.is_empty() || is_selector(s) {
                return Err(self.at(
                    name,
                    "cluster.names",
                    format!("{s:?} cannot name a node (empty, or a reserved selector)"),
                ));
            }
            if seen.contains(s) {
                return Err(self.at(
                    name,
                    "cluster.names",
                    format!("the name {s:?} is given twice"),
                ));
            }
            seen.push(s.clone());
        }
        Ok(seen)
    }

    /// Nodes counted by kind, named by `names` if given (the counts must add up to them).
    fn kinds(
        &self,
        kinds: &Spanned<RawKinds>,
        names: Option<&Spanned<Vec<Spanned<String>>>>,
    ) -> Result<Nodes, ScenarioError> {
        let mut node_kinds: Vec<String> = Vec::new();
        for (kind, count) in &kinds.get_ref().0 {
            let field = format!("cluster.kinds.{kind}");
            if kind.is_empty() {
                return Err(self.at(count, "cluster.kinds", "a kind needs a name"));
            }
            let n = *count.get_ref();
            if n < 1 || n > NODES_MAX as i64 {
                return Err(self.at(
                    count,
                    &field,
                    format!("expected a node count in 1..={NODES_MAX}, found {n}"),
                ));
            }
            let total = node_kinds.len() + n as usize;
            if total > NODES_MAX {
                return Err(self.at(
                    count,
                    &field,
                    format!("the kinds add up to more than {NODES_MAX} nodes"),
                ));
            }
            node_kinds.resize(total, kind.clone());
        }
        if node_kinds.is_empty() {
            return Err(self.at(kinds, "cluster.kinds", "expected at least one kind"));
        }
        let names = match names {
            None => (1..=node_kinds.len()).map(|i| format!("n{i}")).collect(),
            Some(names) => self.names(names)?,
        };
        if names.len() != node_kinds.len() {
            return Err(self.at(
                kinds,
                "cluster.kinds",
                format!(
                    "the kinds add up to {} nodes, but names lists {}",
                    node_kinds.len(),
                    names.len()
                ),
            ));
        }
        Ok(Nodes {
            names,
            kinds: node_kinds,
        })
    }
}

/// Nodes all of the default kind.
fn uniform(names: Vec<String>) -> Nodes {
    let kinds = vec![Declaration::DEFAULT_KIND.to_string(); names.len()];
    Nodes { names, kinds }
}
