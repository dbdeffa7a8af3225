//! Tidy checks over the source tree (rust-analyzer's `tidy.rs`): habits a reviewer would
//! otherwise have to catch by eye.
//!
//! - Every Rust file opens with a `//!` comment saying what it owns.
//! - No function is longer than [`FUNCTION_LINES_MAX`] lines, except those listed in
//!   `tests/tidy/long-functions.txt`. The list may only shrink: a listed function that is now
//!   short enough (or gone) must leave the list, and a new long function is an error. After
//!   shortening functions, `SIM_BLESS=1 cargo test --test integration tidy` rewrites the list.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::support::root;

/// The longest a function may be, from its `fn` line to its closing brace.
const FUNCTION_LINES_MAX: usize = 70;

const ALLOW_LIST: &str = "tests/tidy/long-functions.txt";

/// Every `.rs` file of the workspace that is ours (not build output).
fn rust_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in ["crates", "src", "tests", "examples"] {
        collect(&root().join(dir), &mut files);
    }
    files.sort();
    files
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if name == "target" || name.to_string_lossy().starts_with('.') {
            continue;
        }
        if path.is_dir() {
            collect(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

fn relative(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}

#[test]
fn every_rust_file_opens_with_a_module_comment() {
    let missing: Vec<String> = rust_files()
        .into_iter()
        .filter(|path| {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            !text.trim_start().starts_with("//!")
        })
        .map(|path| relative(&path))
        .collect();
    assert!(
        missing.is_empty(),
        "these files do not open with a //! comment saying what they own:\n{}",
        missing.join("\n")
    );
}

/// The name of the function declared on `line`, if it declares one.
fn function_name(line: &str) -> Option<&str> {
    let mut rest = line.trim_start();
    for qualifier in [
        "pub(crate) ",
        "pub(super) ",
        "pub ",
        "const ",
        "async ",
        "unsafe ",
        "extern \"C\" ",
    ] {
        rest = rest.strip_prefix(qualifier).unwrap_or(rest);
    }
    let rest = rest.strip_prefix("fn ")?;
    let end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_'))?;
    Some(&rest[..end])
}

/// `path name` of every function longer than the limit, with its length.
fn long_functions() -> BTreeMap<String, usize> {
    let mut long = BTreeMap::new();
    for path in rust_files() {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        for (start, line) in lines.iter().enumerate() {
            let Some(name) = function_name(line) else {
                continue;
            };
            let indent = line.len() - line.trim_start().len();
            // A declaration without a body (a trait method) ends with `;` before any `{`.
            let header_end = lines[start..]
                .iter()
                .position(|l| l.contains('{') || l.trim_end().ends_with(';'));
            let Some(header_end) = header_end else {
                continue;
            };
            if !lines[start + header_end].contains('{') {
                continue;
            }
            let closing = format!("{}}}", " ".repeat(indent));
            let end = lines[start..].iter().position(|l| {
                l.trim_end() == closing || l.trim_end().ends_with(&format!("{closing})"))
            });
            let length = end.map_or(1, |e| e + 1);
            if length > FUNCTION_LINES_MAX {
                long.insert(format!("{} {name}", relative(&path)), length);
            }
        }
    }
    long
}

#[test]
fn no_function_is_longer_than_the_limit_beyond_the_allow_list() {
    let long = long_functions();
    if std::env::var_os("SIM_BLESS").is_some() {
        let mut text = format!(
            "# Functions longer than {FUNCTION_LINES_MAX} lines, allowed for now. This list may only \
             shrink (tests/tidy.rs).\n"
        );
        for (function, length) in &long {
            text.push_str(&format!("{function} {length}\n"));
        }
        std::fs::write(root().join(ALLOW_LIST), text).expect("write the allow-list");
        return;
    }
    let listed = std::fs::read_to_string(root().join(ALLOW_LIST)).unwrap_or_default();
    let allowed: BTreeMap<String, usize> = listed
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let (function, length) = l.rsplit_once(' ')?;
            Some((function.to_string(), length.parse().ok()?))
        })
        .collect();
    let mut problems = Vec::new();
    for (function, length) in &long {
        match allowed.get(function) {
            None => problems.push(format!(
                "{function} is {length} lines, over the limit of {FUNCTION_LINES_MAX}: split it"
            )),
            Some(&was) if *length > was => problems.push(format!(
                "{function} grew from {was} to {length} lines; listed functions may only shrink"
            )),
            Some(_) => {}
        }
    }
    for function in allowed.keys() {
        if !long.contains_key(function) {
            problems.push(format!(
                "{function} is no longer over the limit (or is gone): remove it from {ALLOW_LIST}"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The workspace's packages and, for each, the workspace packages it depends on (normal, build
/// and dev dependencies alike), read from the manifests.
fn workspace_dependencies() -> BTreeMap<String, Vec<String>> {
    let root_manifest = std::fs::read_to_string(root().join("Cargo.toml")).unwrap_or_default();
    let root_manifest: toml::Table = toml::from_str(&root_manifest).expect("the root manifest");
    let members: Vec<String> = root_manifest["workspace"]["members"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|m| m.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let mut manifests = vec![root_manifest];
    for member in &members {
        let text = std::fs::read_to_string(root().join(member).join("Cargo.toml"))
            .unwrap_or_else(|e| panic!("{member}/Cargo.toml: {e}"));
        manifests.push(toml::from_str(&text).expect("a member manifest"));
    }
    let name = |m: &toml::Table| m["package"]["name"].as_str().unwrap_or("").to_string();
    let names: Vec<String> = manifests.iter().map(name).collect();
    manifests
        .iter()
        .map(|m| {
            let deps = ["dependencies", "dev-dependencies", "build-dependencies"]
                .iter()
                .filter_map(|section| m.get(*section).and_then(|d| d.as_table()))
                .flat_map(|d| d.keys().cloned())
                .filter(|d| names.contains(d))
                .collect();
            (name(m), deps)
        })
        .collect()
}

/// The runner, the CLI and the layers below them name no protocol family, and no package
/// (dev-)depends on a package that depends on it (issue 8).
#[test]
fn the_runner_and_the_cli_depend_on_no_protocol_crate_and_nothing_is_circular() {
    let graph = workspace_dependencies();
    let protocols = ["sim-raft", "sim-fd", "sim-kv", "tickets"];
    for layer in [
        "sim-core",
        "sim-scenario",
        "sim-check",
        "sim-client",
        "sim-runner",
        "sim-cli",
    ] {
        let deps = graph
            .get(layer)
            .unwrap_or_else(|| panic!("no package {layer}"));
        for protocol in protocols {
            assert!(
                !deps.iter().any(|d| d == protocol),
                "{layer} depends on {protocol}"
            );
        }
    }
    // A depth-first search for a path from each package back to itself.
    for start in graph.keys() {
        let mut stack: Vec<(String, Vec<String>)> = vec![(start.clone(), vec![start.clone()])];
        while let Some((package, path)) = stack.pop() {
            for dep in graph.get(&package).into_iter().flatten() {
                assert!(
                    dep != start,
                    "a dependency cycle: {} -> {dep}",
                    path.join(" -> ")
                );
                if !path.contains(dep) {
                    let mut next = path.clone();
                    next.push(dep.clone());
                    stack.push((dep.clone(), next));
                }
            }
        }
    }
}
