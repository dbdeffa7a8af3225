//! `sim fuzz SCENARIO`: a campaign over many seeds, and `sim fuzz-merge`: the summaries of its
//! shards as one.
//!
//! The campaign directory (`--out DIR`, default `fuzz-out/<scenario name>/`) holds:
//! - `campaign.json`: what the campaign runs (scenario digest, seeds, shard, duration);
//! - `seeds.jsonl`: the journal, one line per finished seed, appended after its record;
//! - `seed-<N>.json`: the failure record of each failing seed, written whole (a temporary file,
//!   then a rename), so an interrupted campaign never leaves half a record;
//! - `seed-<N>.shrunk.toml` with `--shrink`; `summary.json` at the end.
//!
//! `--resume` reads the journal and runs only the seeds it lacks, so a campaign stopped by
//! Ctrl-C, `--time`, or a kill neither repeats nor skips a seed. The work itself is
//! `sim_runner::campaign`'s; this module owns the files, the clock and the display.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::mpsc::RecvTimeoutError;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use serde::{Deserialize, Serialize};
use sim_core::SimDuration;
use sim_runner::campaign::{self, CampaignPlan, SeedLine, SeedOptions, SeedSpace, Shard, Summary};
use sim_runner::shrink::ShrinkOptions;

use crate::progress::{self, Progress, Stopwatch};
use crate::run::load_scenario;
use crate::{parse_duration, Program, EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK};

#[derive(Args, Debug)]
pub struct FuzzArgs {
    /// The scenario file (TOML).
    pub scenario: PathBuf,
    /// The seeds: `A..B` (B excluded), or `A..` with --time or --stop-after.
    #[arg(long, value_name = "A..B")]
    pub seeds: Option<String>,
    /// Run this many seeds, from 0 (or from the start of --seeds).
    #[arg(long, value_name = "N", conflicts_with = "seeds")]
    pub count: Option<u64>,
    /// Stop taking new seeds after this much wall time, e.g. 10m.
    #[arg(long, value_parser = parse_duration, value_name = "D")]
    pub time: Option<SimDuration>,
    /// Worker threads (default: every core).
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// The campaign directory (default fuzz-out/<scenario name>).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Continue the campaign in --out: run only the seeds its journal lacks.
    #[arg(long, conflicts_with = "overwrite")]
    pub resume: bool,
    /// Start over in an --out directory that holds an earlier campaign, deleting its results.
    #[arg(long)]
    pub overwrite: bool,
    /// Shrink the first failing seed of each failed check.
    #[arg(long)]
    pub shrink: bool,
    /// Run shard K of N (K from 0): the seeds at positions K, K+N, K+2N, ...
    #[arg(long, value_name = "K/N")]
    pub shard: Option<Shard>,
    /// Also write the JSON summary to FILE (for `sim fuzz-merge`).
    #[arg(long, value_name = "FILE")]
    pub summary: Option<PathBuf>,
    /// Replace the scenario's fault-phase duration, e.g. 10s.
    #[arg(long, value_parser = parse_duration, value_name = "D")]
    pub duration: Option<SimDuration>,
    /// Write an HTML report beside each failure record of this run (`seed-N.html`).
    #[arg(long)]
    pub report: bool,
    /// Also write the campaign as JUnit XML to FILE (a test case per check, failed with its
    /// seeds and reproduce lines), for CI systems.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Measure determinism too: run one in N passing seeds a second time (N is 16 when not
    /// given) and report a different trace hash as a determinism bug.
    #[arg(long, value_name = "N", num_args = 0..=1, default_missing_value = "16")]
    pub recheck: Option<u64>,
    /// Stop as if interrupted after starting this many seeds (tests of --resume).
    #[arg(long, hide = true, value_name = "N")]
    pub stop_after_seeds: Option<u64>,
    /// Stop taking new seeds after N failing seeds (the seeds in flight still finish), to hunt
    /// a rare failure without paying for a whole campaign.
    #[arg(long, value_name = "N")]
    pub stop_after: Option<u64>,
}

/// What `campaign.json` says: enough for `--resume` to tell it is the same campaign.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct CampaignFile {
    scenario_file: String,
    scenario_digest: String,
    space: SeedSpace,
    duration: Option<SimDuration>,
}

/// `A..B` or `A..`.
fn parse_seeds(text: &str) -> Result<(u64, Option<u64>), String> {
    let (a, b) = text
        .split_once("..")
        .ok_or_else(|| format!("--seeds: expected A..B such as 0..1000, found {text:?}"))?;
    let start = a
        .trim()
        .parse::<u64>()
        .map_err(|_| format!("--seeds: expected a first seed, found {a:?}"))?;
    let end = match b.trim() {
        "" => None,
        b => Some(
            b.parse::<u64>()
                .map_err(|_| format!("--seeds: expected a last seed (excluded), found {b:?}"))?,
        ),
    };
    if end.is_some_and(|e| e < start) {
        return Err(format!("--seeds: {text} is empty the wrong way round"));
    }
    Ok((start, end))
}

/// Writes `bytes` to `path` whole or not at all: a temporary file beside it, then a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp-{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let mut file = File::create(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    fs::rename(&tmp, path)
}

/// The journal's lines; a torn last line (a kill mid-write) is dropped, and the file rewritten
/// without it so that appends start on a fresh line.
fn read_journal(path: &Path) -> Result<BTreeMap<u64, SeedLine>, String> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let mut lines = BTreeMap::new();
    let mut valid = String::new();
    for (i, line) in text.split_inclusive('\n').enumerate() {
        match serde_json::from_str::<SeedLine>(line.trim_end()) {
            Ok(seed) if line.ends_with('\n') => {
                valid.push_str(line);
                lines.insert(seed.seed, seed);
            }
            _ if i + 1 == text.split_inclusive('\n').count() => {}
            Err(e) => return Err(format!("{}:{}: {e}", path.display(), i + 1)),
            Ok(_) => {}
        }
    }
    if valid.len() != text.len() {
        write_atomic(path, valid.as_bytes()).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(lines)
}

/// Removes what an earlier campaign left in `dir` (only files of the campaign's own names).
/// Whether `name` is a file a campaign writes in its directory (a temporary record included).
fn campaign_file(name: &str) -> bool {
    matches!(name, "campaign.json" | "seeds.jsonl" | "summary.json")
        || (name.starts_with("seed-")
            && (name.ends_with(".json")
                || name.ends_with(".shrunk.toml")
                || name.ends_with(".html")
                || is_temporary(name)))
}

/// A record being written when its campaign was killed (`seed-N.json.tmp-PID`): never a result.
fn is_temporary(name: &str) -> bool {
    name.starts_with("seed-") && name.contains(".json.tmp-")
}

/// The campaign files in `dir` (only temporary ones with `temporary_only`), by name.
fn campaign_files(dir: &Path, temporary_only: bool) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            if temporary_only {
                is_temporary(&name)
            } else {
                campaign_file(&name)
            }
        })
        .map(|e| e.path())
        .collect();
    files.sort();
    files
}

fn remove_files(files: &[PathBuf]) -> std::io::Result<()> {
    files.iter().try_for_each(fs::remove_file)
}

/// An --out directory holding an earlier campaign is only reused when asked: `--resume` to
/// continue it, `--overwrite` to start over (its results are deleted then, never silently).
fn clear_campaign(dir: &Path, overwrite: bool) -> Result<(), String> {
    let files = campaign_files(dir, false);
    let results = files
        .iter()
        .filter(|f| !f.to_string_lossy().contains(".json.tmp-"))
        .count();
    if results > 0 && !overwrite {
        return Err(format!(
            "--out {}: holds the results of an earlier campaign ({results} files); continue it \
             with --resume, start over with --overwrite (which deletes them), or choose another \
             --out",
            dir.display()
        ));
    }
    remove_files(&files).map_err(|e| format!("--out {}: {e}", dir.display()))
}

/// Makes `dir` ready for the campaign `this`: with `--resume`, the journal of the same campaign
/// (same scenario, shard and duration); otherwise an empty directory, an earlier campaign's
/// results deleted only with `--overwrite`.
fn prepare_out(
    dir: &Path,
    this: &CampaignFile,
    args: &FuzzArgs,
    scenario_file: &str,
) -> Result<BTreeMap<u64, SeedLine>, String> {
    let mut lines = BTreeMap::new();
    if args.resume {
        let earlier = fs::read_to_string(dir.join("campaign.json"))
            .map_err(|e| format!("--resume: {} holds no campaign: {e}", dir.display()))?;
        let earlier: CampaignFile = serde_json::from_str(&earlier)
            .map_err(|e| format!("--resume: {}/campaign.json: {e}", dir.display()))?;
        if earlier.scenario_digest != this.scenario_digest {
            return Err(format!(
                "--resume: {} changed since the campaign in {} started; start afresh without --resume",
                scenario_file,
                dir.display()
            ));
        }
        if earlier.space.shard != this.space.shard {
            return Err(format!(
                "--resume: the campaign in {} ran{}; resume it with the same --shard",
                dir.display(),
                campaign_flags(&earlier.space, earlier.duration)
            ));
        }
        if earlier.duration != this.duration {
            return Err(format!(
                "--resume: the campaign in {} ran{}; resume it with the same --duration",
                dir.display(),
                campaign_flags(&earlier.space, earlier.duration)
            ));
        }
        lines = read_journal(&dir.join("seeds.jsonl"))?;
        // A record a killed run left half-written is rewritten whole if its seed runs again.
        remove_files(&campaign_files(dir, true))
            .map_err(|e| format!("--out {}: {e}", dir.display()))?;
    } else {
        clear_campaign(dir, args.overwrite)?;
    }
    Ok(lines)
}

/// The flags that select a campaign's seeds and duration (` --seeds 0..20 --shard 1/2`), for
/// the resume line: `--resume` runs the same campaign only with the same flags.
fn campaign_flags(space: &SeedSpace, duration: Option<SimDuration>) -> String {
    let mut flags = match space.end {
        Some(end) => format!(" --seeds {}..{end}", space.start),
        None => format!(" --seeds {}..", space.start),
    };
    if space.shard != Shard::WHOLE {
        flags.push_str(&format!(" --shard {}", space.shard));
    }
    if let Some(d) = duration {
        flags.push_str(&format!(" --duration {d}"));
    }
    flags
}

/// `--recheck N` for a resume line, when the campaign samples passing seeds.
fn recheck_flag(one_in: u64) -> String {
    if one_in == 0 {
        String::new()
    } else {
        format!(" --recheck {one_in}")
    }
}

fn record_path(dir: &Path, seed: u64) -> PathBuf {
    dir.join(format!("seed-{seed}.json"))
}

pub fn run(program: &Program, args: FuzzArgs) -> u8 {
    match fuzz(program, args) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            EXIT_BAD_INPUT
        }
    }
}

fn fuzz(program: &Program, args: FuzzArgs) -> Result<u8, String> {
    let scenario = load_scenario(&args.scenario)?;
    // Every choice of a swarm file, and the family's own tables, before anything runs.
    program
        .families
        .validate(&scenario)
        .map_err(|e| e.to_string())?;
    if args.duration == Some(SimDuration::ZERO) {
        return Err("--duration: expected a positive duration".into());
    }
    let (start, end) = match (&args.seeds, args.count, args.time) {
        (Some(s), _, _) => parse_seeds(s)?,
        (None, Some(n), _) => (0, Some(n)),
        (None, None, Some(_)) => (0, None),
        (None, None, None) => (0, Some(100)),
    };
    if end.is_none() && args.time.is_none() && args.stop_after.is_none() {
        return Err("--seeds A.. without an end needs --time or --stop-after".into());
    }
    let space = SeedSpace {
        start,
        end,
        shard: args.shard.unwrap_or(Shard::WHOLE),
    };
    let jobs = jobs(args.jobs)?;
    let recheck_one_in = recheck_ratio(args.recheck)?;
    let mut hunt = Hunt::new(args.stop_after)?;
    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| Path::new("fuzz-out").join(&scenario.name));
    fs::create_dir_all(&dir).map_err(|e| format!("--out {}: {e}", dir.display()))?;
    let journal_path = dir.join("seeds.jsonl");
    let this = CampaignFile {
        scenario_file: scenario.file.clone(),
        scenario_digest: campaign::scenario_digest(&scenario.text),
        space,
        duration: args.duration,
    };
    let mut lines = prepare_out(&dir, &this, &args, &scenario.file)?;
    write_atomic(
        &dir.join("campaign.json"),
        serde_json::to_string_pretty(&this)
            .unwrap_or_default()
            .as_bytes(),
    )
    .map_err(|e| format!("--out {}: {e}", dir.display()))?;
    let mut journal = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&journal_path)
        .map_err(|e| format!("{}: {e}", journal_path.display()))?;

    let done: BTreeSet<u64> = lines.keys().copied().collect();
    let already = lines.keys().filter(|&&s| space.contains(s)).count() as u64;
    let remaining = space.len().map(|n| n.saturating_sub(already));
    if already > 0 {
        eprintln!(
            "fuzz: resuming {}: {already} seeds already done",
            dir.display()
        );
    }
    let watch = Stopwatch::start();
    let budget = args.time.map(|t| Duration::from_nanos(t.as_nanos()));
    let mut progress = Progress::new(remaining, budget, watch);
    progress::catch_interrupt();
    let plan = CampaignPlan {
        space,
        done,
        jobs,
        stop_after: args.stop_after_seeds,
        stop_after_failures: args.stop_after,
        seed_options: SeedOptions {
            duration: args.duration,
            families: program.families.clone(),
            sim: program.provenance(),
            recheck_one_in,
        },
    };
    let running = campaign::spawn(Arc::new(scenario.clone()), plan);
    let mut new_seeds = 0u64;
    let mut error = None;
    let mut interrupted = false;
    loop {
        match running.results.recv_timeout(Duration::from_millis(100)) {
            Ok(Ok(outcome)) => {
                if let Some(record) = &outcome.record {
                    write_atomic(
                        &record_path(&dir, outcome.line.seed),
                        record.to_json().as_bytes(),
                    )
                    .map_err(|e| format!("{}: {e}", dir.display()))?;
                }
                let mut json = serde_json::to_string(&outcome.line).unwrap_or_default();
                json.push('\n');
                journal
                    .write_all(json.as_bytes())
                    .and_then(|()| journal.flush())
                    .map_err(|e| format!("{}: {e}", journal_path.display()))?;
                progress.seed_done(!outcome.line.passed);
                if hunt.seed_done(outcome.line.passed) {
                    running.stop.store(true, Ordering::SeqCst);
                }
                new_seeds += 1;
                lines.insert(outcome.line.seed, outcome.line);
            }
            Ok(Err(e)) => {
                error.get_or_insert(e.to_string());
                running.stop.store(true, Ordering::SeqCst);
            }
            Err(RecvTimeoutError::Timeout) => progress.tick(),
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if progress::interrupted() && !interrupted {
            interrupted = true;
            eprintln!(
                "fuzz: interrupted; finishing the seeds in flight (Ctrl-C again to quit now)"
            );
            running.stop.store(true, Ordering::SeqCst);
        }
        if progress.out_of_time() {
            running.stop.store(true, Ordering::SeqCst);
        }
    }
    let stopped = running.stop.load(Ordering::SeqCst);
    running.join();
    progress.finish();
    if let Some(e) = error {
        return Err(e);
    }
    let wall = watch.elapsed().as_secs_f64();

    let mut summary = Summary::new(&scenario, space, args.duration, program.provenance());
    fold(&mut summary, lines, (wall, new_seeds, jobs));
    summary.recheck_one_in = recheck_one_in;
    let dir_for_paths = dir.clone();
    let mut text =
        summary.render_text(&|seed| record_path(&dir_for_paths, seed).display().to_string());
    if new_seeds != summary.seeds_run {
        text.push_str(&format!(
            "this run   {new_seeds} seeds; {} were done before\n",
            summary.seeds_run - new_seeds
        ));
    }
    let summary_json = serde_json::to_string_pretty(&summary).unwrap_or_default() + "\n";
    write_atomic(&dir.join("summary.json"), summary_json.as_bytes())
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    if let Some(path) = &args.summary {
        write_atomic(path, summary_json.as_bytes())
            .map_err(|e| format!("--summary {}: {e}", path.display()))?;
    }
    write_junit(program, &scenario, &summary, &dir, args.junit.as_deref())?;
    print!("{text}");
    if let Some(line) = hunt.line() {
        println!("{line}");
    }
    if stopped && !summary.complete && space.end.is_some() {
        println!(
            "resume     {} fuzz {} --out {} --resume{}",
            program.name,
            args.scenario.display(),
            dir.display(),
            campaign_flags(&space, args.duration) + &recheck_flag(recheck_one_in)
        );
    }
    after_campaign(program, &args, &dir, &summary, jobs)?;
    Ok(exit_status(&summary, interrupted))
}

/// A campaign fails when a seed failed, a rechecked seed hashed differently, or no seed reached
/// a moment the scenario asks for; one interrupted with nothing failed is not a pass either.
fn exit_status(summary: &Summary, interrupted: bool) -> u8 {
    let failed = !summary.failures.is_empty()
        || !summary.determinism_bugs.is_empty()
        || !summary.moments_never_met().is_empty();
    if failed {
        EXIT_FAILED
    } else if interrupted {
        EXIT_INTERRUPTED
    } else {
        EXIT_OK
    }
}

/// What follows a campaign's summary: a report beside each failure record that has none
/// (`--report`), and the first failing seed of each failed check shrunk (`--shrink`).
fn after_campaign(
    program: &Program,
    args: &FuzzArgs,
    dir: &Path,
    summary: &Summary,
    jobs: usize,
) -> Result<(), String> {
    if args.report {
        for failure in &summary.failures {
            let record = record_path(dir, failure.seed);
            if record.with_extension("html").exists() {
                continue;
            }
            let path = crate::report::beside_record(program, &record)?;
            println!("report     {}", path.display());
        }
    }
    if args.shrink {
        for (check, failures) in summary.failures_by_check() {
            let seed = failures[0].seed;
            shrink_one(program, dir, seed, check, jobs);
        }
    }
    Ok(())
}

/// `--jobs N` (every core when not given), at least 1.
fn jobs(flag: Option<usize>) -> Result<usize, String> {
    let jobs = flag.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    if jobs == 0 {
        return Err("--jobs: expected at least 1".into());
    }
    Ok(jobs)
}

/// `--recheck [N]`: one in N passing seeds run twice (0: none).
fn recheck_ratio(flag: Option<u64>) -> Result<u64, String> {
    let Some(one_in) = flag else { return Ok(0) };
    if !(1..=sim_runner::recheck::ONE_IN_MAX).contains(&one_in) {
        return Err(format!(
            "--recheck: expected one in N passing seeds with N in 1..={}, found {one_in}",
            sim_runner::recheck::ONE_IN_MAX
        ));
    }
    Ok(one_in)
}

/// `--junit FILE`: the campaign as JUnit XML, a test case per check of the family.
fn write_junit(
    program: &Program,
    scenario: &sim_scenario::Scenario,
    summary: &Summary,
    dir: &Path,
    path: Option<&Path>,
) -> Result<(), String> {
    let Some(path) = path else { return Ok(()) };
    let checks = program
        .families
        .validate(scenario)
        .map(|d| d.checks)
        .unwrap_or_default();
    let xml = crate::junit::render(summary, &checks, program.name, &|seed| {
        record_path(dir, seed).display().to_string()
    });
    write_atomic(path, xml.as_bytes()).map_err(|e| format!("--junit {}: {e}", path.display()))
}

/// Folds the journal's seeds of the campaign's space into `summary`, with this run's wall time,
/// new seeds and jobs.
fn fold(
    summary: &mut Summary,
    lines: BTreeMap<u64, SeedLine>,
    (wall, new, jobs): (f64, u64, usize),
) {
    let space = summary.space;
    let in_space: BTreeMap<u64, SeedLine> = lines
        .into_iter()
        .filter(|(s, _)| space.contains(*s))
        .collect();
    summary.add(&in_space);
    summary.complete = space.len() == Some(summary.seeds_run);
    summary.wall_seconds = wall;
    summary.seeds_timed = new;
    summary.jobs = jobs;
}

/// `--stop-after N`: counts failing seeds and says when to stop taking new ones.
struct Hunt {
    limit: Option<u64>,
    failures: u64,
    reached: bool,
}

impl Hunt {
    fn new(limit: Option<u64>) -> Result<Hunt, String> {
        if limit == Some(0) {
            return Err("--stop-after: expected at least 1 failing seed, found 0".into());
        }
        Ok(Hunt {
            limit,
            failures: 0,
            reached: false,
        })
    }

    /// Counts a finished seed; true once, when the limit is reached.
    fn seed_done(&mut self, passed: bool) -> bool {
        self.failures += u64::from(!passed);
        let now = !self.reached && self.limit.is_some_and(|n| self.failures >= n);
        self.reached |= now;
        now
    }

    /// The summary's line when the limit stopped the campaign.
    fn line(&self) -> Option<String> {
        let limit = self.limit.filter(|_| self.reached)?;
        Some(format!(
            "stopped    at --stop-after {limit} failing seeds ({} failed, the seeds in flight \
             included)",
            self.failures
        ))
    }
}

/// A campaign stopped by Ctrl-C before its end, with no failure so far (128 + SIGINT).
const EXIT_INTERRUPTED: u8 = 130;

/// `--shrink`: shrinks one failing seed's record and writes `seed-<N>.shrunk.toml`.
fn shrink_one(program: &Program, dir: &Path, seed: u64, check: &str, jobs: usize) {
    let record_file = record_path(dir, seed);
    let out = dir.join(format!("seed-{seed}.shrunk.toml"));
    let options = ShrinkOptions {
        jobs,
        ..ShrinkOptions::default()
    };
    println!("shrink     seed {seed} ({check}):");
    match crate::shrink::shrink_record(program, &record_file, &out, options) {
        Ok(lines) => {
            for line in lines {
                println!("           {line}");
            }
        }
        Err(e) => println!("           could not shrink: {e}"),
    }
}

#[derive(Args, Debug)]
pub struct MergeArgs {
    /// Summaries written by `sim fuzz --summary FILE`, one per shard.
    #[arg(required = true)]
    pub summaries: Vec<PathBuf>,
    /// Write the merged summary to FILE.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// `sim fuzz-merge`: 0 when the merged campaign found nothing, 1 when it found failures, 2 on
/// unreadable or mismatched summaries.
pub fn merge(args: MergeArgs) -> u8 {
    let mut summaries = Vec::new();
    for path in &args.summaries {
        let parsed = fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str::<Summary>(&t).map_err(|e| e.to_string()));
        match parsed {
            Ok(s) => summaries.push(s),
            Err(e) => {
                eprintln!("error: {}: {e}", path.display());
                return EXIT_BAD_INPUT;
            }
        }
    }
    let merged = match Summary::merge(&summaries) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    if let Some(path) = &args.out {
        let json = serde_json::to_string_pretty(&merged).unwrap_or_default() + "\n";
        if let Err(e) = write_atomic(path, json.as_bytes()) {
            eprintln!("error: --out {}: {e}", path.display());
            return EXIT_BAD_INPUT;
        }
    }
    print!(
        "{}",
        merged.render_text(&|seed| format!("<the shard's out dir>/seed-{seed}.json"))
    );
    let never_met = merged.moments_never_met();
    if merged.failures.is_empty() && merged.determinism_bugs.is_empty() && never_met.is_empty() {
        EXIT_OK
    } else {
        EXIT_FAILED
    }
}

/// Seeds run as written: no duration override, no sample run twice.
fn plain_seed_options(program: &Program) -> SeedOptions {
    SeedOptions {
        duration: None,
        families: program.families.clone(),
        sim: program.provenance(),
        recheck_one_in: 0,
    }
}

/// `sim bench fuzz`: campaign throughput (seeds per second) of `scenario` over seeds
/// `0..seeds` with each job count, and whether every job count found the same results.
pub fn bench(program: &Program, scenario: &Path, seeds: u64, job_counts: &[usize]) -> u8 {
    let scenario = match load_scenario(scenario) {
        Ok(s) => Arc::new(s),
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    println!(
        "fuzz campaign throughput: {} ({}), seeds 0..{seeds}",
        scenario.name, scenario.file
    );
    let mut baseline: Option<(f64, BTreeMap<u64, SeedLine>)> = None;
    for &jobs in job_counts {
        let watch = Stopwatch::start();
        let space = SeedSpace::range(0, seeds);
        let plan = CampaignPlan::new(space, jobs, plain_seed_options(program));
        let running = campaign::spawn(Arc::clone(&scenario), plan);
        let mut lines = BTreeMap::new();
        for result in running.results.iter() {
            match result {
                Ok(outcome) => {
                    lines.insert(outcome.line.seed, outcome.line);
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    return EXIT_BAD_INPUT;
                }
            }
        }
        running.join();
        let seconds = watch.elapsed().as_secs_f64();
        let rate = seeds as f64 / seconds.max(1e-9);
        let failures = lines.values().filter(|l| !l.passed).count();
        let events: u64 = lines.values().map(|l| l.events).sum();
        let events_rate = events as f64 / seconds.max(1e-9) / 1e6;
        let (speedup, same) = match &baseline {
            None => (1.0, true),
            Some((base_rate, base_lines)) => (rate / base_rate, *base_lines == lines),
        };
        println!(
            "  {jobs} job{}: {rate:>8.1} seeds/s, {events_rate:.2} M events/s ({seconds:.2}s, {failures} failing seeds){}{}",
            if jobs == 1 { " " } else { "s" },
            if baseline.is_some() {
                format!(", {speedup:.2}x")
            } else {
                String::new()
            },
            if same {
                ""
            } else {
                ", RESULTS DIFFER FROM THE FIRST JOB COUNT"
            }
        );
        if !same {
            return EXIT_FAILED;
        }
        if baseline.is_none() {
            baseline = Some((rate, lines));
        }
    }
    EXIT_OK
}
