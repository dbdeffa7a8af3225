//! Simulated time: [`SimTime`] (an instant) and [`SimDuration`], both integer nanoseconds.
//!
//! Nothing in the simulator reads the wall clock; every instant is a value carried by the core.
//! Durations are written the human way in scenario files (`150ms`, `5s`, `2m`), parsed by
//! [`SimDuration::parse`].

use std::fmt;
use std::ops::{Add, AddAssign, Sub};

/// An instant of simulated time, in nanoseconds since the start of the run.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SimTime(pub u64);

/// A span of simulated time, in nanoseconds.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SimDuration(pub u64);

impl SimTime {
    pub const ZERO: SimTime = SimTime(0);
    pub const MAX: SimTime = SimTime(u64::MAX);

    pub fn as_nanos(self) -> u64 {
        self.0
    }

    /// The time elapsed since `earlier`, zero if `earlier` is later.
    pub fn saturating_since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }

    pub fn saturating_add(self, d: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(d.0))
    }
}

impl SimDuration {
    pub const ZERO: SimDuration = SimDuration(0);
    pub const MAX: SimDuration = SimDuration(u64::MAX);

    pub const fn from_nanos(ns: u64) -> Self {
        SimDuration(ns)
    }
    pub const fn from_micros(us: u64) -> Self {
        SimDuration(us * 1_000)
    }
    pub const fn from_millis(ms: u64) -> Self {
        SimDuration(ms * 1_000_000)
    }
    pub const fn from_secs(s: u64) -> Self {
        SimDuration(s * 1_000_000_000)
    }
    pub fn as_nanos(self) -> u64 {
        self.0
    }
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }
    pub fn as_millis_f64(self) -> f64 {
        self.0 as f64 / 1e6
    }
    pub fn saturating_mul(self, k: u64) -> SimDuration {
        SimDuration(self.0.saturating_mul(k))
    }

    /// Parses a human duration: an unsigned integer or decimal followed by a unit
    /// (`ns`, `us`, `ms`, `s`, `m`, `h`), e.g. `150ms`, `1.5s`, `2m`. A bare `0` is accepted.
    pub fn parse(text: &str) -> Result<SimDuration, DurationError> {
        let s = text.trim();
        if s.is_empty() {
            return Err(DurationError::new(text, "an empty string"));
        }
        if s == "0" {
            return Ok(SimDuration::ZERO);
        }
        let split = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| DurationError::new(text, "a number without a unit"))?;
        let (number, unit) = s.split_at(split);
        let unit_ns: u64 = match unit.trim() {
            "ns" => 1,
            "us" | "µs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" | "min" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return Err(DurationError::new(text, "an unknown unit")),
        };
        if number.is_empty() {
            return Err(DurationError::new(text, "a unit without a number"));
        }
        let (whole, frac) = match number.split_once('.') {
            Some((w, f)) => (w, f),
            None => (number, ""),
        };
        if frac.contains('.') || (whole.is_empty() && frac.is_empty()) {
            return Err(DurationError::new(text, "a malformed number"));
        }
        let whole: u64 = if whole.is_empty() {
            0
        } else {
            whole
                .parse()
                .map_err(|_| DurationError::new(text, "a number too large"))?
        };
        let mut nanos = whole
            .checked_mul(unit_ns)
            .ok_or_else(|| DurationError::new(text, "a duration too large"))?;
        // The fractional part, exact to the nanosecond: digits beyond what the unit can resolve are
        // rejected rather than rounded, so that a printed scenario reads back to the same value.
        let mut scale = unit_ns;
        for digit in frac.chars() {
            let d = digit
                .to_digit(10)
                .ok_or_else(|| DurationError::new(text, "a malformed number"))?;
            if !scale.is_multiple_of(10) {
                if d != 0 {
                    return Err(DurationError::new(text, "more precision than a nanosecond"));
                }
                continue;
            }
            scale /= 10;
            nanos = nanos
                .checked_add(d as u64 * scale)
                .ok_or_else(|| DurationError::new(text, "a duration too large"))?;
        }
        Ok(SimDuration(nanos))
    }
}

/// A duration string that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected a duration such as \"150ms\", \"5s\" or \"2m\", found {found:?} ({problem})")]
pub struct DurationError {
    pub found: String,
    pub problem: &'static str,
}

impl DurationError {
    fn new(found: &str, problem: &'static str) -> Self {
        DurationError {
            found: found.to_string(),
            problem,
        }
    }
}

impl Add<SimDuration> for SimTime {
    type Output = SimTime;
    fn add(self, d: SimDuration) -> SimTime {
        SimTime(
            self.0
                .checked_add(d.0)
                .expect("simulated time overflowed u64 nanoseconds"),
        )
    }
}

impl AddAssign<SimDuration> for SimTime {
    fn add_assign(&mut self, d: SimDuration) {
        *self = *self + d;
    }
}

impl Sub<SimTime> for SimTime {
    type Output = SimDuration;
    fn sub(self, earlier: SimTime) -> SimDuration {
        SimDuration(
            self.0
                .checked_sub(earlier.0)
                .expect("subtracted a later SimTime"),
        )
    }
}

impl Add for SimDuration {
    type Output = SimDuration;
    fn add(self, d: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_add(d.0))
    }
}

impl fmt::Display for SimDuration {
    /// The shortest exact human form: `150ms`, `5s`, `2m`, `1500ms`; a second or more that is
    /// no whole number of milliseconds shows as seconds with its fraction, `1.204317s`, rather
    /// than `1204317us`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = self.0;
        if ns == 0 {
            return f.write_str("0s");
        }
        if ns >= 1_000_000_000 && !ns.is_multiple_of(1_000_000) {
            return fmt::Display::fmt(&SimTime(ns), f);
        }
        const UNITS: [(u64, &str); 6] = [
            (3_600_000_000_000, "h"),
            (60_000_000_000, "m"),
            (1_000_000_000, "s"),
            (1_000_000, "ms"),
            (1_000, "us"),
            (1, "ns"),
        ];
        for (unit_ns, name) in UNITS {
            if ns.is_multiple_of(unit_ns) {
                return write!(f, "{}{}", ns / unit_ns, name);
            }
        }
        unreachable!("every duration is a whole number of nanoseconds")
    }
}

impl fmt::Debug for SimDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for SimTime {
    /// Seconds with nanosecond precision trimmed of trailing zeros: `t=1.204317s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0 / 1_000_000_000;
        let frac = self.0 % 1_000_000_000;
        if frac == 0 {
            write!(f, "{secs}s")
        } else {
            let digits = format!("{frac:09}");
            write!(f, "{secs}.{}s", digits.trim_end_matches('0'))
        }
    }
}

impl fmt::Debug for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Durations are written the human way in scenario files and JSON: `"150ms"`, `"5s"`; to a
/// serializer that is not human-readable (the trace hash) as plain nanoseconds.
impl serde::Serialize for SimDuration {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.collect_str(self)
        } else {
            serializer.serialize_u64(self.0)
        }
    }
}

/// Instants are nanoseconds since the start of the run, in JSON and in the trace hash alike.
impl serde::Serialize for SimTime {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(self.0)
    }
}

impl<'de> serde::Deserialize<'de> for SimDuration {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = SimDuration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as \"150ms\", \"5s\" or \"2m\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<SimDuration, E> {
                SimDuration::parse(v).map_err(E::custom)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<SimDuration, E> {
                if v == 0 {
                    Ok(SimDuration::ZERO)
                } else {
                    Err(E::custom(format!("expected a duration with a unit such as \"{v}ms\", found the bare number {v}")))
                }
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<SimDuration, E> {
                if v < 0 {
                    Err(E::custom(format!(
                        "expected a duration, found the negative number {v}"
                    )))
                } else {
                    self.visit_u64(v as u64)
                }
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_human_units() {
        assert_eq!(
            SimDuration::parse("150ms"),
            Ok(SimDuration::from_millis(150))
        );
        assert_eq!(SimDuration::parse("5s"), Ok(SimDuration::from_secs(5)));
        assert_eq!(SimDuration::parse("2m"), Ok(SimDuration::from_secs(120)));
        assert_eq!(
            SimDuration::parse("1.5s"),
            Ok(SimDuration::from_millis(1500))
        );
        assert_eq!(SimDuration::parse("0"), Ok(SimDuration::ZERO));
        assert_eq!(
            SimDuration::parse("250us"),
            Ok(SimDuration::from_micros(250))
        );
    }

    #[test]
    fn rejects_malformed_durations() {
        for bad in [
            "",
            "5",
            "ms",
            "-5s",
            "5 parsecs",
            "1.2.3s",
            "99999999999999999999h",
            "1.5ns",
        ] {
            assert!(
                SimDuration::parse(bad).is_err(),
                "{bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn displays_time_trimmed() {
        assert_eq!(SimTime(1_204_317_000).to_string(), "1.204317s");
        assert_eq!(SimTime(2_000_000_000).to_string(), "2s");
        assert_eq!(SimDuration::from_millis(150).to_string(), "150ms");
        assert_eq!(SimDuration::from_millis(1500).to_string(), "1500ms");
        assert_eq!(SimDuration(1_204_317_000).to_string(), "1.204317s");
        assert_eq!(SimDuration(3_000_026_354).to_string(), "3.000026354s");
        assert_eq!(SimDuration(1_204_317).to_string(), "1204317ns");
    }

    proptest! {
        #[test]
        fn display_parses_back(ns in 0u64..u64::MAX / 4) {
            let d = SimDuration(ns);
            prop_assert_eq!(SimDuration::parse(&d.to_string()), Ok(d));
        }

        #[test]
        fn parse_never_panics(s in ".{0,24}") {
            let _ = SimDuration::parse(&s);
        }
    }
}
