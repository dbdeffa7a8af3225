//! Every choice of a `[swarm]` table as the member scenario that runs it, so that the tables
//! only a family decodes (`[protocol]`, `[workload]`, `[checks]`) and the names only it knows
//! are validated for every choice when the file is loaded, not when some seed happens to draw
//! the choice; and an error found in a member placed back in the file, at the line of the
//! choice that set the field (or at the file's own line when no choice set it).
//!
//! Each [`SwarmChoice`] is one choice of one key with every other key at its first choice, so a
//! file with keys of `c1, c2, ...` choices gives `c1 + c2 + ...` members. What this catches: any
//! choice that is invalid on its own, beside the first choices of the other keys. What it does
//! not: choices that are valid alone but invalid together (say a `"protocol"` choice whose
//! heartbeat is above the election timeout of a `"protocol.election_timeout"` choice other than
//! the first); those are found when a seed draws them, as an error at that seed. A file keeps
//! values that must agree in one key (a table choice, or `"*"`), which this checks whole.

use crate::error::{ScenarioError, Source};
use crate::located::{self, FieldPath, Segment};
use crate::{validate, Scenario};

/// One choice of a swarm key, and the member of the family in which it runs.
#[derive(Debug, Clone)]
pub struct SwarmChoice {
    /// The swarm key, e.g. `protocol.pre_vote`, or `*`.
    pub key: String,
    /// The choice's position in its list, from 0.
    pub index: usize,
    /// How many choices the key lists.
    pub count: usize,
    /// The member in which the key takes this choice and every other key its first.
    pub member: Scenario,
    /// Each key of the file with the position and value of its choice in this member.
    applied: Vec<(String, usize, toml::Value)>,
}

impl Scenario {
    /// Every choice of this file's `[swarm]` table, key by key in key order, each as a member
    /// scenario; empty for a file without `[swarm]`.
    pub fn swarm_choices(&self) -> Result<Vec<SwarmChoice>, ScenarioError> {
        let raw = validate::parse_raw(&self.file, &self.text)?;
        let Some(table) = &raw.swarm else {
            return Ok(Vec::new());
        };
        let source = Source::new(&self.file, &self.text);
        let choices = validate::swarm_choices(&source, table)?;
        let mut out = Vec::new();
        for (k, (key, list)) in choices.iter().enumerate() {
            for index in 0..list.len() {
                let mut picks = vec![0; choices.len()];
                picks[k] = index;
                let text = validate::swarm_member(&source, table, &choices, &picks)?;
                let mut member = Scenario::parse(&self.file, &text)?;
                member.file.clone_from(&self.file);
                let applied = choices
                    .iter()
                    .zip(&picks)
                    .map(|((key, list), &i)| (key.clone(), i, list[i].clone()))
                    .collect();
                out.push(SwarmChoice {
                    key: key.clone(),
                    index,
                    count: list.len(),
                    member,
                    applied,
                });
            }
        }
        Ok(out)
    }

    /// `error`, found in `choice`'s member, placed in this file: at the choice that sets the
    /// field it names (the key's own choice first), with the field's full path; at the file's
    /// own line when no choice sets it and the member is the one of first choices; else at
    /// the choice the member exists to try.
    pub fn swarm_error(&self, choice: &SwarmChoice, error: ScenarioError) -> ScenarioError {
        let source = Source::new(&self.file, &self.text);
        let path = segments(&error.field);
        let own = choice.applied.iter().filter(|(key, ..)| *key == choice.key);
        let others = choice.applied.iter().filter(|(key, ..)| *key != choice.key);
        for (key, index, value) in own.chain(others) {
            if let Some(inner) = sets(key, value, &path) {
                return self.at_choice(&source, key, *index, inner, &error);
            }
        }
        if choice.applied.iter().all(|(_, i, _)| *i == 0) {
            // No choice sets the field: the file's own mistake, at its own line.
            let field = FieldPath(path.into_iter().map(Segment::Key).collect());
            let offset = located::locate(self.text.as_str(), &field).unwrap_or(0);
            return source.error_at(offset, &error.field, error.message);
        }
        self.at_choice(&source, &choice.key, choice.index, Vec::new(), &error)
    }

    /// `error` at choice `index` of `key`, at the line of `inner` (a path inside the choice)
    /// when the file has it there.
    fn at_choice(
        &self,
        source: &Source<'_>,
        key: &str,
        index: usize,
        inner: Vec<String>,
        error: &ScenarioError,
    ) -> ScenarioError {
        let count = swarm_count(&self.text, key);
        let mut path = vec![
            Segment::Key("swarm".into()),
            Segment::Key(key.to_string()),
            Segment::Index(index),
        ];
        path.extend(inner.into_iter().map(Segment::Key));
        let offset = located::locate(&self.text, &FieldPath(path))
            .unwrap_or_else(|| source.locate_key("swarm", key));
        let what = if error.field.is_empty() {
            "the scenario"
        } else {
            &error.field
        };
        source.error_at(
            offset,
            &format!("swarm.\"{key}\"[{index}]"),
            format!("choice {} of {count}, {what}: {}", index + 1, error.message),
        )
    }
}

/// `error`, found in a member where swarm key `key` takes `value`, as the file's own mistake at
/// its own line, when that choice does not set the field and the file outside `[swarm]` does.
pub(crate) fn own_setting_error(
    source: &Source<'_>,
    text: &str,
    key: &str,
    value: &toml::Value,
    error: &ScenarioError,
) -> Option<ScenarioError> {
    let path = segments(&error.field);
    if path.is_empty() || sets(key, value, &path).is_some() {
        return None;
    }
    let field = FieldPath(path.into_iter().map(Segment::Key).collect());
    let offset = located::locate(text, &field)?;
    Some(source.error_at(offset, &error.field, error.message.clone()))
}

/// How many choices `key` lists in the file's `[swarm]` table.
fn swarm_count(text: &str, key: &str) -> usize {
    toml::from_str::<toml::Table>(text)
        .ok()
        .and_then(|doc| doc.get("swarm")?.get(key)?.as_array().map(Vec::len))
        .unwrap_or(0)
}

/// A field's dotted path as keys, indices dropped: `faults[0].shape` gives `faults`, `shape`.
fn segments(field: &str) -> Vec<String> {
    field
        .split('.')
        .filter(|s| !s.is_empty())
        .map(|s| s.split('[').next().unwrap_or(s).to_string())
        .collect()
}

/// Whether `value`, the choice of swarm key `key`, sets the field at `path`: the path inside
/// the choice where it does (empty for a choice that is the value itself).
fn sets(key: &str, value: &toml::Value, path: &[String]) -> Option<Vec<String>> {
    if key == "*" {
        let section = path.first()?;
        let inner = sets(section, value.get(section.as_str())?, path)?;
        let mut at = vec![section.clone()];
        at.extend(inner);
        return Some(at);
    }
    let key: Vec<&str> = key.split('.').collect();
    if path.len() < key.len() || path.iter().zip(&key).any(|(p, k)| p != k) {
        return None;
    }
    let rest = &path[key.len()..];
    match (rest.first(), value) {
        (None, _) => Some(Vec::new()),
        // A table choice is merged into its table: it sets the keys it names, and those only.
        (Some(first), toml::Value::Table(fields)) => {
            fields.contains_key(first.as_str()).then(|| rest.to_vec())
        }
        (Some(_), _) => Some(Vec::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_choice_sets_the_fields_it_names() {
        let table: toml::Table = toml::from_str(
            "p = { heartbeat_interval = \"1s\", phi = { threshold = 8.0 } }\n\
             s = { protocol = { heartbeat_interval = \"1s\" }, checks = { x = 1 } }\nv = 3\n",
        )
        .unwrap();
        let path = |s: &str| segments(s);
        assert_eq!(
            sets("protocol", &table["p"], &path("protocol.phi.threshold")),
            Some(vec!["phi".to_string(), "threshold".to_string()])
        );
        assert_eq!(
            sets("protocol", &table["p"], &path("protocol.pre_vote")),
            None
        );
        assert_eq!(
            sets("*", &table["s"], &path("checks.x")),
            Some(vec!["checks".to_string(), "x".to_string()])
        );
        assert_eq!(sets("*", &table["s"], &path("workload.keys")), None);
        assert_eq!(
            sets("workload.keys", &table["v"], &path("workload.keys")),
            Some(vec![])
        );
        assert_eq!(
            sets("workload.keys", &table["v"], &path("workload.key")),
            None
        );
        assert_eq!(segments("faults[2].groups[1]"), ["faults", "groups"]);
    }
}
