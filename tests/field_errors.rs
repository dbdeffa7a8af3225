//! Errors name the full field path at the field's own line (issue 14), as a property over every
//! shipped scenario: any one-line `key = value` of any table, the file's own or a family's,
//! given a value of a type no field takes, or a misspelt key, is reported at that line with the
//! field's full path (`faults[2].heal_after`, `protocol.heartbeat_interval`, `workload.keys`).

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use sim_runner::RunOptions;
use sim_scenario::{Scenario, ScenarioError};

use crate::support::root;

/// Every scenario file under `dir`, sorted.
fn scenario_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)
        .expect("a scenarios directory")
        .flatten()
    {
        let path = entry.path();
        if path.is_dir() {
            files.extend(scenario_files(&path));
        } else if path.extension().is_some_and(|e| e == "toml") {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// A one-line `key = value` of a file, with the full path of its field.
#[derive(Debug, Clone)]
struct Setting {
    line: usize,
    key: String,
    path_prefix: String,
}

/// The settings of `text` written on one line each, with the table each belongs to.
fn settings(text: &str) -> Vec<Setting> {
    let mut prefix = String::new();
    let mut arrays: std::collections::BTreeMap<String, usize> = Default::default();
    let mut found = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if let Some(name) = trimmed
            .strip_prefix("[[")
            .and_then(|l| l.strip_suffix("]]"))
        {
            let index = arrays.entry(name.to_string()).or_insert(0);
            prefix = format!("{name}[{index}].");
            *index += 1;
            continue;
        }
        if let Some(name) = trimmed.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            prefix = format!("{name}.");
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let (key, value) = (key.trim(), value.trim());
        let one_line = !value.is_empty()
            && (!value.starts_with('[') || value.ends_with(']'))
            && (!value.starts_with('{') || value.ends_with('}'))
            && !value.starts_with("\"\"\"");
        let plain_key = key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if one_line && plain_key && !line.starts_with(char::is_whitespace) {
            found.push(Setting {
                line: i + 1,
                key: key.to_string(),
                path_prefix: prefix.clone(),
            });
        }
    }
    found
}

/// The error of `text`, read as `file` and decoded by its family (`None` when it is valid).
fn error_of(file: &str, text: &str) -> Option<ScenarioError> {
    let scenario = match Scenario::parse(file, text) {
        Ok(s) => s,
        Err(e) => return Some(e),
    };
    let mut options = RunOptions::new(0);
    options.duration = None;
    sim::families().run(&scenario, options).err()
}

#[test]
fn any_mistyped_or_misspelt_setting_is_reported_at_its_line_with_its_full_path() {
    let files: Vec<(String, String)> = scenario_files(&root().join("scenarios"))
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("readable");
            (p.display().to_string(), text)
        })
        .collect();
    let mut runner = TestRunner::new(Config {
        cases: 96,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (0..files.len(), any::<prop::sample::Index>(), any::<bool>());
    let result = runner.run(&strategy, |(file_index, setting_index, misspell)| {
        let (file, text) = &files[file_index];
        let all = settings(text);
        prop_assume!(!all.is_empty());
        let setting = setting_index.get(&all);
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        let original = lines[setting.line - 1].clone();
        let (key, value) = original.split_once('=').expect("a setting");
        let expected = if misspell {
            let key = format!("{}zz", key.trim());
            lines[setting.line - 1] = format!("{key} ={value}");
            format!("{}{key}", setting.path_prefix)
        } else {
            // An array of mixed types: no field of any table takes one.
            lines[setting.line - 1] = format!("{key}= [true, \"x\", 3]");
            format!("{}{}", setting.path_prefix, setting.key)
        };
        let mutated = lines.join("\n") + "\n";
        let error = error_of(file, &mutated);
        prop_assert!(
            error.is_some(),
            "{file}:{}: {:?} was accepted",
            setting.line,
            lines[setting.line - 1]
        );
        let error = error.unwrap_or_else(|| unreachable!());
        prop_assert_eq!(error.line, setting.line, "{}", error);
        prop_assert!(
            error.field == expected || error.field.starts_with(&format!("{expected}[")),
            "{} (expected the field {:?})",
            error,
            expected
        );
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// The settings the property mutates are what the file says: every shipped file has some, and
/// `[[faults]]` tables are numbered.
#[test]
fn settings_are_found_with_their_table() {
    let text = "duration = \"1s\"\n[protocol]\nname = \"raft\"\n[[faults]]\nat = \"1s\"\n[[faults]]\nat = \"2s\"\n";
    let found: Vec<(usize, String)> = settings(text)
        .into_iter()
        .map(|s| (s.line, format!("{}{}", s.path_prefix, s.key)))
        .collect();
    assert_eq!(
        found,
        [
            (1, "duration".to_string()),
            (3, "protocol.name".to_string()),
            (5, "faults[0].at".to_string()),
            (7, "faults[1].at".to_string()),
        ]
    );
    for file in scenario_files(&root().join("scenarios")) {
        let text = std::fs::read_to_string(&file).expect("readable");
        assert!(!settings(&text).is_empty(), "{}", file.display());
    }
}

/// The audit's cases through the command line: each names its full field path at its own line
/// and exits 2.
#[test]
fn issue_14_the_audits_mistakes_are_reported_at_their_field() {
    use crate::support::{code, sim, stderr, temp_file};
    let text = std::fs::read_to_string(root().join("scenarios/raft/leader-crash.toml"))
        .expect("a shipped scenario");
    let cases = [
        (
            "heartbeat_interval = \"50ms\"",
            "heartbeat_interval = 50",
            "protocol.heartbeat_interval",
        ),
        (
            "[workload]\n",
            "[workload]\nkeys = \"x\"\n",
            "workload.keys",
        ),
    ];
    for (i, (from, to, field)) in cases.iter().enumerate() {
        assert!(text.contains(from), "leader-crash.toml has no {from:?}");
        let mutated = text.replacen(from, to, 1);
        let line = mutated
            .lines()
            .position(|l| l.starts_with(to.lines().last().unwrap_or(to)))
            .expect("the mutated line")
            + 1;
        let file = temp_file(&format!("issue14-field-{i}.toml"), &mutated);
        let out = sim(&["run", file.to_str().expect("utf-8 path"), "--seed", "1"]);
        assert_eq!(code(&out), 2, "{}", stderr(&out));
        let expected = format!(":{line}:");
        let err = stderr(&out);
        assert!(err.contains(&expected), "not at line {line}: {err}");
        assert!(err.contains(&format!("field \"{field}\"")), "{err}");
    }
}
