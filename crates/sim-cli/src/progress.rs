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
                // The rate is ours ({msg}): indicatif's {per_sec} reads `0/s` before the first
                // seed and `262.4957/s` after.
                Some(_) => "{bar:30} {pos}/{len} seeds, {msg}, {eta} left",
                None => "{spinner} {pos} seeds, {msg}",
            };
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style);
            }
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        let progress = Progress {
            watch,
            total,
            budget,
            bar,
            last_plain: Duration::ZERO,
            done: 0,
            failures: 0,
        };
        // The first frame already says what it can, rather than an empty message.
        if let Some(bar) = &progress.bar {
            bar.set_message(progress.message(true));
        }
        progress
    }

    /// Whether the time budget is spent.
    pub fn out_of_time(&self) -> bool {
        self.budget.is_some_and(|b| self.watch.elapsed() >= b)
    }

    /// The failures so far and the time budget left, led by the rate when `with_rate`.
    fn message(&self, with_rate: bool) -> String {
        let elapsed = self.watch.elapsed();
        let mut m = String::new();
        if with_rate {
            m.push_str(&rate_text(self.done, elapsed));
            m.push_str(", ");
        }
        m.push_str(&format!(
            "{} failure{}",
            self.failures,
            if self.failures == 1 { "" } else { "s" }
        ));
        if let Some(b) = self.budget {
            let left = b.saturating_sub(elapsed);
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
        if let Some(bar) = &self.bar {
            bar.set_position(self.done);
            bar.set_message(self.message(true));
            return;
        }
        let message = self.message(false);
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
            "fuzz: {}{of} seeds, {}, {message}{left}",
            self.done,
            rate_text(self.done, elapsed)
        );
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Seeds per second in words, to a sensible precision: three significant figures at most
/// (`262 seeds/s`, `6.54 seeds/s`), and no rate before a seed is done.
pub fn rate_text(done: u64, elapsed: Duration) -> String {
    let seconds = elapsed.as_secs_f64();
    if done == 0 || seconds <= 0.0 {
        return "no seed done yet".to_string();
    }
    let rate = done as f64 / seconds;
    if rate >= 100.0 {
        format!("{rate:.0} seeds/s")
    } else if rate >= 10.0 {
        format!("{rate:.1} seeds/s")
    } else {
        format!("{rate:.2} seeds/s")
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The first frame says no seed is done rather than `0/s, ,`, and rates are rounded to
    /// three significant figures rather than `262.4957/s` (issue 14).
    #[test]
    fn rates_are_rounded_and_absent_before_the_first_seed() {
        assert_eq!(rate_text(0, Duration::ZERO), "no seed done yet");
        assert_eq!(rate_text(0, Duration::from_secs(3)), "no seed done yet");
        assert_eq!(
            rate_text(2624957, Duration::from_secs(10000)),
            "262 seeds/s"
        );
        assert_eq!(rate_text(654, Duration::from_secs(100)), "6.54 seeds/s");
        assert_eq!(rate_text(315, Duration::from_secs(10)), "31.5 seeds/s");
        let watch = Stopwatch::start();
        let progress = Progress::new(Some(300), None, watch);
        let first = progress.message(true);
        assert_eq!(first, "no seed done yet, 0 failures");
    }
}
