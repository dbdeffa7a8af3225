//! `sim compare A.toml B.toml ... --seeds 0..100`: several scenarios over the same seeds, side
//! by side, in one table; built for the CAP comparison (the same cluster, partition and
//! workload on a CP and an AP store), and knowing no protocol.
//!
//! Each scenario runs every seed of the range; the table sums what the runs measured:
//! availability during a partition per side of the cut (`sim-client`'s `cut.*` figures: an
//! operation's side is its client's home node's side when it was invoked), every other figure
//! the families report ([`sim_core::Suite::figures`]: total, and the seeds where it was not
//! zero), the linearizability verdicts (any check named `*.linearizable`, from its `verdict`
//! figure, so a store that only observes linearizability is counted too), and how many seeds
//! failed each check. `--format markdown` prints the same table for a README. Exit status: 0
//! when every run passed its checks, 1 when one did not, 2 on bad input.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use sim_runner::{RunOptions, RunReport};
use sim_scenario::Scenario;

use crate::run::load_scenario;
use crate::{Program, EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CompareFormat {
    Text,
    Markdown,
}

#[derive(Args, Debug)]
pub struct CompareArgs {
    /// Two or more scenario files.
    #[arg(required = true, num_args = 2..)]
    pub scenarios: Vec<PathBuf>,
    /// The seeds, `A..B` (B excluded).
    #[arg(long, default_value = "0..20", value_parser = parse_range, value_name = "A..B")]
    pub seeds: (u64, u64),
    /// Worker threads (default: every core); the table does not depend on it.
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: CompareFormat,
}

fn parse_range(text: &str) -> Result<(u64, u64), String> {
    let (a, b) = text
        .split_once("..")
        .ok_or_else(|| format!("expected A..B such as 0..100, found {text:?}"))?;
    let a: u64 = a
        .trim()
        .parse()
        .map_err(|_| format!("expected a first seed, found {a:?}"))?;
    let b: u64 = b
        .trim()
        .parse()
        .map_err(|_| format!("expected a last seed (excluded), found {b:?}"))?;
    if b <= a {
        return Err(format!("{text} holds no seed"));
    }
    Ok((a, b))
}

/// What the runs of one scenario add up to.
#[derive(Debug, Default)]
struct Column {
    name: String,
    protocol: String,
    seeds: u64,
    /// Figure name to (total, seeds where it was not zero), in first-seen order.
    figures: Vec<(String, u64, u64)>,
    /// Seeds per linearizability verdict.
    verdicts: BTreeMap<String, u64>,
    /// Check name to seeds it failed.
    failed: BTreeMap<String, u64>,
    failed_seeds: u64,
}

impl Column {
    fn add(&mut self, report: &RunReport) {
        self.seeds += 1;
        for (name, value) in &report.figures {
            match self.figures.iter_mut().find(|(n, _, _)| n == name) {
                Some(entry) => {
                    entry.1 += value;
                    entry.2 += u64::from(*value > 0);
                }
                None => self
                    .figures
                    .push((name.clone(), *value, u64::from(*value > 0))),
            }
        }
        for check in &report.checks {
            if check.name.ends_with("linearizable") {
                let verdict = check
                    .figures
                    .iter()
                    .find(|(k, _)| k == "verdict")
                    .map(|(_, v)| v.split(" (").next().unwrap_or(v).to_string())
                    .or_else(|| {
                        check
                            .not_evaluated
                            .as_ref()
                            .map(|_| "not evaluated".to_string())
                    })
                    .unwrap_or_else(|| "unknown".to_string());
                *self.verdicts.entry(verdict).or_default() += 1;
            }
            if check.violation.is_some() {
                *self.failed.entry(check.name.clone()).or_default() += 1;
            }
        }
        self.failed_seeds += u64::from(!report.passed());
    }

    fn figure(&self, name: &str) -> Option<(u64, u64)> {
        self.figures
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, t, s)| (*t, *s))
    }

    /// `ok of invoked (share)` for one side of the cut.
    fn side(&self, side: &str) -> String {
        let ok = self.figure(&format!("cut.{side}.ok"));
        let failed = self.figure(&format!("cut.{side}.failed"));
        match (ok, failed) {
            (Some((ok, _)), Some((failed, _))) if ok + failed > 0 => {
                let share = 100.0 * ok as f64 / (ok + failed) as f64;
                format!("{ok} of {} ({share:.1}%)", ok + failed)
            }
            (Some(_), Some(_)) => "no operation".to_string(),
            _ => "not measured".to_string(),
        }
    }
}

fn run_column(
    program: &Program,
    scenario: &Scenario,
    seeds: (u64, u64),
    jobs: usize,
) -> Result<Column, String> {
    let all: Vec<u64> = (seeds.0..seeds.1).collect();
    let chunk = all.len().div_ceil(jobs.max(1)).max(1);
    let results: Vec<Result<Vec<RunReport>, String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = all
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|&seed| {
                            program
                                .families
                                .run(scenario, compare_options(seed))
                                .map_err(|e| e.to_string())
                        })
                        .collect::<Result<Vec<_>, _>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("a worker panicked".to_string()))
            })
            .collect()
    });
    let mut column = Column {
        name: scenario.name.clone(),
        protocol: scenario.protocol.clone(),
        ..Column::default()
    };
    // Chunks are in seed order, so the sums do not depend on the number of workers.
    for part in results {
        for report in part? {
            column.add(&report);
        }
    }
    Ok(column)
}

/// The table's rows: a label and one cell per column.
fn rows(columns: &[Column]) -> Vec<(String, Vec<String>)> {
    let mut rows = Vec::new();
    let each = |f: &dyn Fn(&Column) -> String| columns.iter().map(f).collect::<Vec<_>>();
    rows.push(("protocol".to_string(), each(&|c| c.protocol.clone())));
    rows.push(("seeds".to_string(), each(&|c| c.seeds.to_string())));
    rows.push((
        "ok during the partition, majority side".to_string(),
        each(&|c| c.side("majority")),
    ));
    rows.push((
        "ok during the partition, minority side".to_string(),
        each(&|c| c.side("minority")),
    ));
    rows.push((
        "linearizable (seeds)".to_string(),
        each(&|c| {
            let parts: Vec<String> = c
                .verdicts
                .iter()
                .map(|(v, n)| format!("{v}: {n}"))
                .collect();
            if parts.is_empty() {
                "not checked".to_string()
            } else {
                parts.join(", ")
            }
        }),
    ));
    let mut names: Vec<String> = Vec::new();
    for column in columns {
        for (name, _, _) in &column.figures {
            if !name.starts_with("cut.") && !names.contains(name) {
                names.push(name.clone());
            }
        }
    }
    for name in names {
        rows.push((
            name.clone(),
            each(&|c| match c.figure(&name) {
                Some((total, seeds)) => format!("{total} ({seeds} seeds)"),
                None => "-".to_string(),
            }),
        ));
    }
    rows.push((
        "seeds failing a check".to_string(),
        each(&|c| {
            let parts: Vec<String> = c.failed.iter().map(|(k, n)| format!("{k} {n}")).collect();
            if parts.is_empty() {
                format!("{}", c.failed_seeds)
            } else {
                format!("{} ({})", c.failed_seeds, parts.join(", "))
            }
        }),
    ));
    rows
}

fn render(columns: &[Column], format: CompareFormat) -> String {
    let rows = rows(columns);
    let header: Vec<String> = columns.iter().map(|c| c.name.clone()).collect();
    let mut out = String::new();
    match format {
        CompareFormat::Markdown => {
            out.push_str(&format!("| | {} |\n", header.join(" | ")));
            out.push_str(&format!("| --- |{}\n", " --- |".repeat(header.len())));
            for (label, cells) in rows {
                out.push_str(&format!("| {label} | {} |\n", cells.join(" | ")));
            }
        }
        CompareFormat::Text => {
            let label_width = rows.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
            let widths: Vec<usize> = (0..columns.len())
                .map(|i| {
                    rows.iter()
                        .map(|(_, c)| c[i].len())
                        .chain([header[i].len()])
                        .max()
                        .unwrap_or(0)
                })
                .collect();
            let line = |label: &str, cells: &[String]| {
                let cells: Vec<String> = cells
                    .iter()
                    .zip(&widths)
                    .map(|(c, w)| format!("{c:<w$}"))
                    .collect();
                format!("{label:<label_width$}  {}\n", cells.join("  "))
                    .trim_end()
                    .to_string()
                    + "\n"
            };
            out.push_str(&line("", &header));
            for (label, cells) in rows {
                out.push_str(&line(&label, &cells));
            }
        }
    }
    out
}

pub fn run(program: &Program, args: CompareArgs) -> u8 {
    if args.jobs == Some(0) {
        eprintln!("error: --jobs: expected at least 1");
        return EXIT_BAD_INPUT;
    }
    let jobs = args.jobs.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    // Every file is read before any runs, so that bad input fails at once.
    let mut scenarios = Vec::new();
    for file in &args.scenarios {
        match load_scenario(file) {
            Ok(scenario) => scenarios.push(scenario),
            Err(message) => {
                eprintln!("error: {message}");
                return EXIT_BAD_INPUT;
            }
        }
    }
    let mut columns = Vec::new();
    for scenario in &scenarios {
        match run_column(program, scenario, args.seeds, jobs) {
            Ok(column) => columns.push(column),
            Err(message) => {
                eprintln!("error: {message}");
                return EXIT_BAD_INPUT;
            }
        }
    }
    let files: Vec<String> = args
        .scenarios
        .iter()
        .map(|f| f.display().to_string())
        .collect();
    println!(
        "compare    {} over seeds {}..{}",
        files.join(" vs "),
        args.seeds.0,
        args.seeds.1
    );
    print!("{}", render(&columns, args.format));
    let failed = columns.iter().any(|c| c.failed_seeds > 0);
    if failed {
        EXIT_FAILED
    } else {
        EXIT_OK
    }
}

/// A run of the table: it keeps the client history, whose anomalies (`reads.stale`,
/// `writes.lost`) the table compares.
fn compare_options(seed: u64) -> RunOptions {
    let mut options = RunOptions::new(seed);
    options.keep_history = true;
    options
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_ranges_read_a_to_b() {
        assert_eq!(parse_range("0..100"), Ok((0, 100)));
        assert!(parse_range("5..5").is_err());
        assert!(parse_range("100").is_err());
    }

    #[test]
    fn availability_is_the_share_of_operations_that_succeeded_per_side() {
        let column = Column {
            figures: vec![
                ("cut.majority.ok".into(), 90, 3),
                ("cut.majority.failed".into(), 10, 1),
                ("cut.minority.ok".into(), 0, 0),
                ("cut.minority.failed".into(), 0, 0),
            ],
            ..Column::default()
        };
        assert_eq!(column.side("majority"), "90 of 100 (90.0%)");
        assert_eq!(column.side("minority"), "no operation");
        assert_eq!(Column::default().side("minority"), "not measured");
    }
}
