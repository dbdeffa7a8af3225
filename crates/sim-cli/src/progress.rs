//! The wall clock of a fuzz campaign: its progress display, its time budget, its speed, and
//! Ctrl-C.
//!
//! This is the one place in `sim` that reads the wall clock (`Instant::now`, allowed locally):
//! a campaign's results never depend on it, only how long it runs with `--time` and what it
//! prints while it runs. On a terminal the progress is an indicatif bar (seeds done, seeds per
//! second, failures so far, time left); without one (CI, a pipe) it is a plain line every
//! [`PLAIN_EVERY`].

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// How often a plain progress line is printed without a terminal.
pub const PLAIN_EVERY: Duration = Duration::from_secs(10);

/// Wall time since a start.
#[derive(Debug, Clone, Copy)]
pub struct Stopwatch {
    start: Instant,
}

impl Stopwatch {
    #[allow(clippy::disallowed_methods)] // The campaign's wall clock: speed and --time only.
    pub fn start() -> Self {
        Stopwatch {
            start: Instant::now(),
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }
}

/// What the campaign shows while it runs.
pub struct Progress {
    watch: Stopwatch,
    total: Option<u64>,
    budget: Option<Duration>,
    bar: Option<ProgressBar>,
    last_plain: Duration,
    done: u64,
    failures: u64,
}

impl Progress {
    /// `total` seeds to run (unknown under a time budget), `budget` of wall time if any.
    pub fn new(total: Option<u64>, budget: Option<Duration>, watch: Stopwatch) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = match total {
                Some(n) => ProgressBar::new(n),
                None => ProgressBar::new_spinner(),
            };
            let template = match total {
                Some(_) => "{bar:30} {pos}/{len} seeds, {per_sec}, {msg}, {eta} left",
                None => "{spinner} {pos} seeds, {per_sec}, {msg}",
            };
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style);
            }
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Progress {
            watch,
            total,
            budget,
            bar,
            last_plain: Duration::ZERO,
            done: 0,
            failures: 0,
        }
    }

    /// Whether the time budget is spent.
    pub fn out_of_time(&self) -> bool {
        self.budget.is_some_and(|b| self.watch.elapsed() >= b)
    }

    fn message(&self) -> String {
        let mut m = format!(
            "{} failure{}",
            self.failures,
            if self.failures == 1 { "" } else { "s" }
        );
        if let Some(b) = self.budget {
            let left = b.saturating_sub(self.watch.elapsed());
            m.push_str(&format!(", {}s left", left.as_secs()));
        }
        m
    }

    /// A seed finished.
    pub fn seed_done(&mut self, failed: bool) {
        self.done += 1;
        self.failures += u64::from(failed);
        self.tick();
    }

    /// Called often: refreshes the display.
    pub fn tick(&mut self) {
        let message = self.message();
        if let Some(bar) = &self.bar {
            bar.set_position(self.done);
            bar.set_message(message);
            return;
        }
        let elapsed = self.watch.elapsed();
        if elapsed.saturating_sub(self.last_plain) < PLAIN_EVERY {
            return;
        }
        self.last_plain = elapsed;
        let rate = self.done as f64 / elapsed.as_secs_f64().max(1e-9);
        let of = self.total.map(|t| format!("/{t}")).unwrap_or_default();
        let left = match (self.total, self.budget) {
            (_, Some(_)) => String::new(),
            (Some(t), None) if rate > 0.0 => {
                format!(", ~{:.0}s left", t.saturating_sub(self.done) as f64 / rate)
            }
            _ => String::new(),
        };
        eprintln!(
            "fuzz: {}{of} seeds, {rate:.1} seeds/s, {message}{left}",
            self.done
        );
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Whether Ctrl-C was pressed since [`catch_interrupt`].
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Catches Ctrl-C (SIGINT): the first sets a flag the campaign polls, so workers finish their
/// seeds and the summary prints; a second exits at once with status 130.
///
/// No dependency is needed for this: `signal` and `_exit` are in the C library every Unix
/// program links, and the handler only touches an atomic and calls `_exit`, both safe in a
/// signal handler. Elsewhere Ctrl-C keeps its default effect.
pub fn catch_interrupt() {
    #[cfg(unix)]
    {
        const SIGINT: i32 = 2;
        extern "C" {
            fn signal(signum: i32, handler: extern "C" fn(i32)) -> usize;
            fn _exit(status: i32) -> !;
        }
        extern "C" fn on_interrupt(_: i32) {
            if INTERRUPTED.swap(true, Ordering::SeqCst) {
                // SAFETY: _exit is async-signal-safe; a second Ctrl-C means "now".
                unsafe { _exit(130) }
            }
        }
        // SAFETY: installs a handler that only uses an atomic and _exit (see above).
        unsafe {
            signal(SIGINT, on_interrupt);
        }
    }
}
