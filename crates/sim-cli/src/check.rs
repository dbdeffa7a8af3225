//! `sim check HISTORY`: is a history linearizable?

use std::path::PathBuf;
use std::str::FromStr;

use clap::Args;
use sim_check::{Budget, ModelKind};
use sim_core::SimDuration;

use crate::run::Format;
use crate::{parse_duration, EXIT_BAD_INPUT};

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// The history: a JSON document, or JSON Lines with --model.
    pub history: PathBuf,
    /// The model: register, kv or mutex (overrides the file's).
    #[arg(long)]
    pub model: Option<String>,
    /// Give up with verdict unknown (exit 3) after this long, e.g. 10s.
    #[arg(long, value_parser = parse_duration, value_name = "D")]
    pub timeout: Option<SimDuration>,
    /// Give up with verdict unknown (exit 3) after exploring this many states.
    #[arg(long, value_name = "N")]
    pub max_states: Option<u64>,
    /// How to print the verdict.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Write a self-contained HTML report to FILE: one row per process with each operation as a
    /// bar, the explanation of a violation highlighted.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
}

pub fn run(args: CheckArgs) -> u8 {
    let model = match args.model.as_deref().map(ModelKind::from_str).transpose() {
        Ok(m) => m,
        Err(_) => {
            eprintln!(
                "error: --model: expected one of register, kv, mutex, found {:?}",
                args.model.unwrap_or_default()
            );
            return EXIT_BAD_INPUT;
        }
    };
    let history = match sim_check::load_history(&args.history, model) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    let mut budget = Budget::default();
    if let Some(t) = args.timeout {
        budget.timeout = Some(std::time::Duration::from_nanos(t.as_nanos()));
    }
    if let Some(states) = args.max_states {
        budget.max_states = states;
    }
    let result = sim_check::check(&history, &budget);
    match args.format {
        Format::Text => print!("{}", sim_check::render_text(&result, &history)),
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&sim_check::render_json(&result, &history))
                .unwrap_or_default()
        ),
    }
    if let Some(path) = &args.report {
        let input = crate::report::history_input(&args.history, &history, &result);
        if let Err(e) = crate::report::write(path, None, &input) {
            eprintln!("error: {e}");
            return EXIT_BAD_INPUT;
        }
    }
    sim_check::exit_code(&result)
}
