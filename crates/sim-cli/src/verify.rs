//! `sim verify PATH...`: every scenario under the paths, run by its own `[expect]` table.
//!
//! A scenario without the table must pass `--seeds N` seeds (0..N); one with `fails = "CHECK"`
//! and `within_seeds = N` must fail that check on some seed of 0..N. One line per scenario, then
//! a total; exit 0 when every expectation held, 1 when one did not, 2 on bad input (a path that
//! cannot be read, a scenario that does not parse or names something its family does not
//! declare).

use std::path::{Path, PathBuf};

use clap::Args;
use sim_runner::expect;

use crate::run::load_scenario;
use crate::{Program, EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK};

#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// Scenario files, or directories searched for `.toml` files (recursively).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// The seeds a scenario without an `[expect]` table must pass: N or 0..N (from seed 0).
    #[arg(long, default_value = "20", value_parser = parse_pass_seeds, value_name = "N")]
    pub seeds: u64,
    /// Worker threads (default: every core).
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
}

/// `--seeds N` or `--seeds 0..N`: how many seeds, from 0, a passing scenario must pass.
fn parse_pass_seeds(text: &str) -> Result<u64, String> {
    let count = text.strip_prefix("0..").unwrap_or(text);
    match count.trim().parse::<u64>() {
        Ok(0) => Err("expected at least one seed".to_string()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!(
            "expected N or 0..N such as 50 or 0..50, found {text:?}"
        )),
    }
}

/// The scenario files under `paths`, each directory's in name order.
fn scenario_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            collect(path, &mut files)?;
        } else if path.exists() {
            files.push(path.clone());
        } else {
            return Err(format!("{}: no such file or directory", path.display()));
        }
    }
    Ok(files)
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            collect(&path, files)?;
        } else if path.extension().is_some_and(|e| e == "toml") {
            files.push(path);
        }
    }
    Ok(())
}

pub fn run(program: &Program, args: VerifyArgs) -> u8 {
    if args.jobs == Some(0) {
        eprintln!("error: --jobs: expected at least 1");
        return EXIT_BAD_INPUT;
    }
    let files = match scenario_files(&args.paths) {
        Ok(files) if !files.is_empty() => files,
        Ok(_) => {
            eprintln!("error: no scenario file (*.toml) under the paths given");
            return EXIT_BAD_INPUT;
        }
        Err(message) => {
            eprintln!("error: {message}");
            return EXIT_BAD_INPUT;
        }
    };
    let jobs = args.jobs.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let mut unmet = 0;
    for file in &files {
        let verdict = load_scenario(file).and_then(|scenario| {
            expect::verify(
                &program.families,
                &scenario,
                args.seeds,
                jobs,
                program.provenance(),
            )
            .map_err(|e| e.to_string())
        });
        match verdict {
            Ok(v) => {
                let mark = if v.met { "ok  " } else { "FAIL" };
                println!(
                    "{mark} {}: expected to {}: {}",
                    file.display(),
                    v.expectation,
                    v.detail
                );
                unmet += usize::from(!v.met);
            }
            Err(message) => {
                eprintln!("error: {message}");
                return EXIT_BAD_INPUT;
            }
        }
    }
    println!(
        "verified   {} scenarios: {} as expected, {unmet} not",
        files.len(),
        files.len() - unmet
    );
    if unmet == 0 {
        EXIT_OK
    } else {
        EXIT_FAILED
    }
}
