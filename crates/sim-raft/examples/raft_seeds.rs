//! Sweeps a Raft scenario over consecutive seeds and reports how many pass, the first failures
//! and the speed in seeds per second: `cargo run --release -p sim-raft --example raft_seeds --
//! scenarios/partition.toml 0 200`.

use std::process::ExitCode;

use sim_raft::RaftSuite;
use sim_runner::{run_suite, RunOptions};
use sim_scenario::Scenario;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (Some(file), first, count) = (
        args.get(1),
        args.get(2).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0),
        args.get(3)
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(100),
    ) else {
        eprintln!("usage: raft_seeds FILE [FIRST_SEED] [COUNT]");
        return ExitCode::from(2);
    };
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{file}: {e}");
            return ExitCode::from(2);
        }
    };
    let scenario = match Scenario::parse(file, &text) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    // The wall clock only measures the sweep's speed; it never reaches a run.
    #[allow(clippy::disallowed_methods)]
    let started = std::time::Instant::now();
    let mut failed = Vec::new();
    for seed in first..first + count {
        match run_suite::<RaftSuite>(&scenario, RunOptions::new(seed)) {
            Ok(report) => {
                if count == 1 {
                    println!("{}", report.render_text());
                }
                if let Some(failure) = report.failure() {
                    if failed.len() < 5 {
                        println!("seed {seed}: {failure}");
                    }
                    failed.push(seed);
                }
            }
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(2);
            }
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "{file}: {} of {count} seeds passed (seeds {first}..{}), first failing seed {:?}, {:.1} seeds/s",
        count - failed.len() as u64,
        first + count,
        failed.first(),
        count as f64 / elapsed
    );
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
