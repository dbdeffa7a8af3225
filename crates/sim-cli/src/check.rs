//! `sim check HISTORY`: is a history linearizable?

use std::path::PathBuf;
use std::str::FromStr;

use clap::Args;
use sim_check::{Budget, HistoryError, InputFormat, ModelKind, ReadOptions};
use sim_core::SimDuration;

use crate::run::Format;
use crate::{parse_duration, EXIT_BAD_INPUT};

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// The history: this tool's JSON (a document, an array of ops or JSON Lines), a Jepsen,
    /// Knossos or Maelstrom EDN history, Jepsen log lines or a Porcupine JSON dump.
    pub history: PathBuf,
    /// The model: register, kv or mutex (overrides the file's).
    #[arg(long)]
    pub model: Option<String>,
    /// The history's format: json, edn, etcd-log or porcupine (default: told from the content).
    #[arg(long, value_name = "FORMAT")]
    pub input_format: Option<String>,
    /// Give up with verdict unknown (exit 3) after this long, reading included, e.g. 10s.
    #[arg(long, value_parser = parse_duration, value_name = "D")]
    pub timeout: Option<SimDuration>,
    /// Give up with verdict unknown (exit 3) after exploring this many states per key.
    #[arg(long, value_name = "N")]
    pub max_states: Option<u64>,
    /// The memory the search may use, e.g. 4GiB or 512MiB (default: half the machine's memory);
    /// running out is verdict unknown (exit 3).
    #[arg(long, value_parser = parse_bytes, value_name = "SIZE")]
    pub memory: Option<u64>,
    /// How to print the verdict.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Write a self-contained HTML report to FILE: one row per process with each operation as a
    /// bar, the explanation of a violation highlighted.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
}

pub fn run(args: CheckArgs) -> u8 {
    let (model, input_format) = match parse_names(&args) {
        Ok(names) => names,
        Err(message) => {
            eprintln!("error: {message}");
            return EXIT_BAD_INPUT;
        }
    };
    let deadline = args
        .timeout
        .map(|t| ReadOptions::deadline_after(std::time::Duration::from_nanos(t.as_nanos())));
    let options = ReadOptions {
        model,
        format: input_format,
        deadline,
    };
    let history = match sim_check::load_history_with(&args.history, &options) {
        Ok(h) => h,
        Err(HistoryError::Timeout { .. }) => return unknown_while_reading(&args, deadline),
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    let mut budget = Budget {
        timeout: deadline.map(|(_, timeout)| timeout),
        timeout_start: deadline.map(|(end, timeout)| end.checked_sub(timeout).unwrap_or(end)),
        max_memory: Some(args.memory.unwrap_or_else(default_memory)),
        ..Budget::default()
    };
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

fn parse_names(args: &CheckArgs) -> Result<(Option<ModelKind>, Option<InputFormat>), String> {
    let model = args
        .model
        .as_deref()
        .map(ModelKind::from_str)
        .transpose()
        .map_err(|message| format!("--model: {message}"))?;
    let format = args
        .input_format
        .as_deref()
        .map(InputFormat::from_str)
        .transpose()
        .map_err(|message| format!("--input-format: {message}"))?;
    Ok((model, format))
}

/// The timeout ran out while the history was read: verdict unknown, exit 3.
fn unknown_while_reading(
    args: &CheckArgs,
    deadline: Option<(std::time::Instant, std::time::Duration)>,
) -> u8 {
    let timeout = deadline.map_or(String::new(), |(_, timeout)| format!(" of {timeout:?}"));
    let reason = format!(
        "the timeout{timeout} ran out while reading {}",
        args.history.display()
    );
    match args.format {
        Format::Text => println!("unknown: {reason}"),
        Format::Json => println!(
            "{}",
            serde_json::json!({"verdict": "unknown", "reason": reason})
        ),
    }
    3
}

/// Half the machine's memory, from /proc/meminfo; 4 GiB where that cannot be read.
fn default_memory() -> u64 {
    const FALLBACK: u64 = 4 << 30;
    let Ok(text) = std::fs::read_to_string("/proc/meminfo") else {
        return FALLBACK;
    };
    text.lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map_or(FALLBACK, |kib| kib * 1024 / 2)
}

/// A size in bytes: a number with an optional unit B, KiB, MiB, GiB, TiB (or K, M, G, T).
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits_end);
    let shift = match unit.trim() {
        "" | "B" => 0,
        "K" | "KiB" | "KB" => 10,
        "M" | "MiB" | "MB" => 20,
        "G" | "GiB" | "GB" => 30,
        "T" | "TiB" | "TB" => 40,
        other => {
            return Err(format!(
                "expected a size like 4GiB or 512MiB, found unit {other:?}"
            ))
        }
    };
    let value: u64 = number
        .parse()
        .map_err(|_| format!("expected a size like 4GiB or 512MiB, found {text:?}"))?;
    match value.checked_mul(1 << shift) {
        Some(bytes) if bytes > 0 => Ok(bytes),
        Some(_) => Err("a memory budget of 0 leaves nothing to search with".to_string()),
        None => Err(format!("{text:?} is too large")),
    }
}
