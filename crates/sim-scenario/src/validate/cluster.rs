//! `[cluster]`: how many nodes, and their names.

use toml::Spanned;

use super::Builder;
use crate::error::ScenarioError;
use crate::raw::RawCluster;
use crate::NODES_MAX;

/// Words that select nodes in a fault's `node`, so no node may be called by them.
const RESERVED: [&str; 4] = ["leader", "random", "minority", "reporter"];

impl Builder<'_> {
    pub(super) fn cluster(
        &self,
        cluster: &Spanned<RawCluster>,
    ) -> Result<Vec<String>, ScenarioError> {
        let c = cluster.get_ref();
        match (&c.nodes, &c.names) {
            (Some(_), Some(names)) => Err(self.at(
                names,
                "cluster.names",
                "give either nodes (a count) or names, not both",
            )),
            (None, None) => Err(self.at(
                cluster,
                "cluster",
                "missing: give nodes = <count> or names = [...]",
            )),
            (Some(count), None) => {
                let n = self.pick(count, "cluster.nodes", |n| {
                    if n < 1 || n > NODES_MAX as i64 {
                        Err(format!(
                            "expected a node count in 1..={NODES_MAX}, found {n}"
                        ))
                    } else {
                        Ok(())
                    }
                })?;
                Ok((1..=n).map(|i| format!("n{i}")).collect())
            }
            (None, Some(names)) => self.names(names),
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
            if s.is_empty() || RESERVED.contains(&s.as_str()) || s.starts_with("role:") {
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
}
