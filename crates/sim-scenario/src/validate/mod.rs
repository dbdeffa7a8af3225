//! The one-way path from a file's text to a validated [`Scenario`]: TOML into the raw schema
//! ([`crate::raw`]), then the [`Builder`] checks every value and assembles the scenario.
//!
//! The builder is split by section: the cluster ([`cluster`]), the network and latencies
//! ([`network`]), faults by trigger, target and kind ([`fault`], [`action`]). Parameters given as
//! `[low, high]` ranges are resolved by a [`Sampler`]: their low or high ends when validating, a
//! seed's draws when sampling. Nothing here goes back to [`Scenario`]'s methods except to look
//! up the nodes already validated.

mod action;
mod cluster;
mod fault;
mod network;
mod restart;

use std::cell::RefCell;

use sim_core::{Latency, NetworkConfig, SimDuration};
use toml::Spanned;

use crate::error::{ScenarioError, Source};
use crate::located::{self, FieldPath};
use crate::nemesis::Nemesis;
use crate::raw::{Ranged, RawScenario};
use crate::sample::{self, ParameterRange, Sampler};
use crate::swarm;
use crate::swarm_check::own_setting_error;
use crate::{Expect, Scenario, EXPECT_SEEDS_MAX, RUN_MAX};

/// Parses and validates `text`, read from `file`: a file with ranges is validated at both ends
/// (every low bound, then every high bound), and the scenario returned holds the low ends.
pub(crate) fn parse(file: &str, text: &str) -> Result<Scenario, ScenarioError> {
    let raw = parse_raw(file, text)?;
    if let Some(swarm) = &raw.swarm {
        return parse_swarm(file, text, swarm);
    }
    let source = Source::new(file, text);
    let low = Builder::new(source.clone(), Sampler::Low).build(&raw)?;
    if !low.ranges.is_empty() {
        Builder::new(source, Sampler::High).build(&raw)?;
    }
    Ok(low)
}

/// The member of the file's family that `seed` runs: every range drawn from the seed's
/// `parameters` stream, in file order.
pub(crate) fn sample(file: &str, text: &str, seed: u64) -> Result<Scenario, ScenarioError> {
    let raw = parse_raw(file, text)?;
    if let Some(swarm) = &raw.swarm {
        return sample_swarm(file, text, swarm, seed);
    }
    let sampler = Sampler::Draw(Box::new(sim_core::Streams::new(seed).stream("parameters")));
    Builder::new(Source::new(file, text), sampler).build(&raw)
}

/// The choices of a `[swarm]` table, with errors placed at the table.
pub(crate) fn swarm_choices(
    source: &Source<'_>,
    swarm: &Spanned<toml::Table>,
) -> Result<swarm::Choices, ScenarioError> {
    swarm::choices(swarm.get_ref())
        .map_err(|(field, message)| source.error_at(swarm.span().start, &field, message))
}

/// The file's TOML less `[swarm]`, with choice `picks[k]` of every key `k` applied.
pub(crate) fn swarm_member(
    source: &Source<'_>,
    swarm: &Spanned<toml::Table>,
    choices: &swarm::Choices,
    picks: &[usize],
) -> Result<String, ScenarioError> {
    let mut doc: toml::Table =
        toml::from_str(source.text).map_err(|e| source.error_at(0, "", e.message().to_string()))?;
    doc.remove("swarm");
    for ((key, list), &i) in choices.iter().zip(picks) {
        swarm::apply(&mut doc, key, &list[i])
            .map_err(|m| source.error_at(swarm.span().start, &format!("swarm.\"{key}\""), m))?;
    }
    toml::to_string(&doc).map_err(|e| source.error_at(0, "swarm", e.to_string()))
}

/// The swarm keys as ranges, and the choices a seed picked as sampled values.
fn note_swarm(
    scenario: &mut Scenario,
    text: &str,
    choices: &swarm::Choices,
    picks: Option<&[usize]>,
) {
    scenario.text = text.to_string();
    for (k, (key, list)) in choices.iter().enumerate() {
        scenario.ranges.push(ParameterRange {
            field: key.clone(),
            low: "choice 1".to_string(),
            high: format!("choice {}", list.len()),
        });
        if let Some(picks) = picks {
            scenario
                .sampled
                .push((key.clone(), swarm::render(&list[picks[k]])));
        }
    }
}

/// A file with `[swarm]`: every choice of every key is validated (the other keys at their first
/// choice); the scenario returned is the member of first choices.
fn parse_swarm(
    file: &str,
    text: &str,
    swarm: &Spanned<toml::Table>,
) -> Result<Scenario, ScenarioError> {
    let source = Source::new(file, text);
    let choices = swarm_choices(&source, swarm)?;
    no_setting_always_replaced(&source, &choices)?;
    let first = vec![0; choices.len()];
    for (k, (key, list)) in choices.iter().enumerate() {
        for i in 0..list.len() {
            let mut picks = first.clone();
            picks[k] = i;
            let member = swarm_member(&source, swarm, &choices, &picks)?;
            parse(file, &member).map_err(|e| {
                // The member of first choices failing in a setting no choice sets: the file's
                // own mistake (another member may fail there only because of its choice).
                let own_setting =
                    || (i == 0).then(|| own_setting_error(&source, text, key, &list[i], &e));
                if let Some(own) = own_error(file, text, &e).or_else(|| own_setting().flatten()) {
                    return own;
                }
                let at = source.locate_key("swarm", key);
                let at = if at == 0 { swarm.span().start } else { at };
                source.error_at(
                    at,
                    &format!("swarm.\"{key}\"[{i}]"),
                    format!(
                        "choice {} of {}, {}: {}",
                        i + 1,
                        list.len(),
                        if e.field.is_empty() {
                            "the scenario"
                        } else {
                            &e.field
                        },
                        e.message
                    ),
                )
            })?;
        }
    }
    let member = swarm_member(&source, swarm, &choices, &first)?;
    let mut scenario = parse(file, &member)?;
    note_swarm(&mut scenario, text, &choices, None);
    Ok(scenario)
}

/// A setting of the file that every choice of a swarm key replaces never takes effect: an
/// error at its line, never a value silently unused.
fn no_setting_always_replaced(
    source: &Source<'_>,
    choices: &swarm::Choices,
) -> Result<(), ScenarioError> {
    let Ok(doc) = toml::from_str::<toml::Table>(source.text) else {
        return Ok(()); // the members' parse reports a syntax error at its place
    };
    for (path, key) in swarm::always_replaced(choices) {
        if path.starts_with("swarm.") || swarm::lookup(&doc, &path).is_none() {
            continue;
        }
        // A field the file's schema requires (a nemesis's `fault_duration`, say) must stay,
        // even though every choice replaces it.
        let mut without = doc.clone();
        swarm::remove(&mut without, &path);
        let required =
            toml::to_string(&without).map_or(true, |text| parse_raw(source.file, &text).is_err());
        if required {
            continue;
        }
        let field = crate::located::FieldPath(
            path.split('.')
                .map(|k| crate::located::Segment::Key(k.to_string()))
                .collect(),
        );
        let at = crate::located::locate(source.text, &field).unwrap_or(0);
        return Err(source.error_at(
            at,
            &path,
            format!(
                "every choice of swarm.\"{key}\" sets this, so the value here never takes \
                 effect: remove it, or make it one of the choices"
            ),
        ));
    }
    Ok(())
}

/// The error `e` of a swarm member when the file's own text, less `[swarm]`, has the same one:
/// then it is the file's mistake, not a choice's, and it is reported at its own line (a
/// member's text is written anew, so its lines are not the file's).
fn own_error(file: &str, text: &str, e: &ScenarioError) -> Option<ScenarioError> {
    match parse(file, &without_swarm_table(text)) {
        Err(own) if own.field == e.field && own.message == e.message => Some(own),
        _ => None,
    }
}

/// `text` with the lines of its `[swarm]` table blanked, so every other line keeps its number.
fn without_swarm_table(text: &str) -> String {
    // A table header starts its line; an array's element (`["crash"],`) is indented or has
    // a comma, quotes or braces.
    let is_header = |line: &str| {
        if line.starts_with(char::is_whitespace) || line.contains('"') {
            return false;
        }
        let line = line.split('#').next().unwrap_or("").trim();
        line.starts_with('[') && line.ends_with(']') && !line.contains(',') && !line.contains('{')
    };
    let mut in_swarm = false;
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        if is_header(line) {
            in_swarm = line.trim() == "[swarm]";
        }
        if in_swarm {
            out.push('\n');
        } else {
            out.push_str(line);
        }
    }
    out
}

/// The member of a `[swarm]` file that `seed` runs: its picks from the `swarm` stream, then its
/// ranges from the `parameters` stream as for any file.
fn sample_swarm(
    file: &str,
    text: &str,
    swarm: &Spanned<toml::Table>,
    seed: u64,
) -> Result<Scenario, ScenarioError> {
    let source = Source::new(file, text);
    let choices = swarm_choices(&source, swarm)?;
    let mut rng = sim_core::Streams::new(seed).stream("swarm");
    let picks = swarm::pick(&choices, &mut rng);
    let member = swarm_member(&source, swarm, &choices, &picks)?;
    let raw = parse_raw(file, &member)?;
    let sampler = Sampler::Draw(Box::new(sim_core::Streams::new(seed).stream("parameters")));
    let mut scenario = Builder::new(Source::new(file, &member), sampler).build(&raw)?;
    note_swarm(&mut scenario, text, &choices, Some(&picks));
    Ok(scenario)
}

/// The file's text read into the raw schema, with TOML and serde errors placed in the file.
pub(crate) fn parse_raw(file: &str, text: &str) -> Result<RawScenario, ScenarioError> {
    let source = Source::new(file, text);
    if text.trim().is_empty() {
        return Err(source.error(
            "",
            "the file is empty; a scenario needs at least duration, [cluster] and [protocol]",
        ));
    }
    let raw = located::deserialize(toml::Deserializer::new(text)).map_err(|(path, e)| {
        let message = match e.message().trim() {
            // Some of toml's errors carry no message of their own.
            "" => "invalid TOML: expected a value here".to_string(),
            m => m.to_string(),
        };
        let fallback = Some(e.span().map_or(0, |s| s.start));
        located::error(&source, FieldPath::default(), path, &message, fallback)
    })?;
    Ok(crate::section::place(raw, text))
}

/// The field a serde message names (`unknown field `foo``). Only messages about a field quote
/// its name; the others quote the value found (`invalid type: boolean `true``), which is no
/// field.
pub(crate) fn backticked(message: &str) -> Option<String> {
    const NAMING: [&str; 4] = [
        "unknown field `",
        "missing field `",
        "duplicate field `",
        "duplicate key `",
    ];
    let start = NAMING
        .iter()
        .find_map(|prefix| message.find(prefix).map(|i| i + prefix.len()))?;
    let len = message.get(start..)?.find('`')?;
    message.get(start..start + len).map(str::to_string)
}

fn file_stem(file: &str) -> String {
    let base = file.rsplit(['/', '\\']).next().unwrap_or(file);
    base.strip_suffix(".toml").unwrap_or(base).to_string()
}

pub(crate) struct Builder<'a> {
    source: Source<'a>,
    /// Where range values come from: their low or high ends (validation), or a seed's draws.
    sampler: RefCell<Sampler>,
    ranges: RefCell<Vec<ParameterRange>>,
    sampled: RefCell<Vec<(String, String)>>,
}

impl<'a> Builder<'a> {
    pub(crate) fn new(source: Source<'a>, sampler: Sampler) -> Self {
        Builder {
            source,
            sampler: RefCell::new(sampler),
            ranges: RefCell::new(Vec::new()),
            sampled: RefCell::new(Vec::new()),
        }
    }

    /// The value of a possibly ranged parameter: a range is checked (`low <= high`, each end by
    /// `check`), recorded, and resolved by the sampler.
    fn pick<T: sample::Sample>(
        &self,
        value: &Spanned<Ranged<T>>,
        field: &str,
        check: impl Fn(T) -> Result<(), String>,
    ) -> Result<T, ScenarioError> {
        self.pick_at(value.get_ref(), value.span().start, field, check)
    }

    fn pick_at<T: sample::Sample>(
        &self,
        value: &Ranged<T>,
        offset: usize,
        field: &str,
        check: impl Fn(T) -> Result<(), String>,
    ) -> Result<T, ScenarioError> {
        let at = |message: String| self.source.error_at(offset, field, message);
        let [low, high] = match *value {
            Ranged::One(v) => {
                check(v).map_err(at)?;
                return Ok(v);
            }
            Ranged::Range(bounds) => bounds,
        };
        check(low).map_err(|m| at(format!("the range's low end: {m}")))?;
        check(high).map_err(|m| at(format!("the range's high end: {m}")))?;
        if low.exceeds(high) {
            return Err(at(format!(
                "the range's low end ({}) is above its high end ({})",
                low.render(),
                high.render()
            )));
        }
        self.ranges.borrow_mut().push(ParameterRange {
            field: field.to_string(),
            low: low.render(),
            high: high.render(),
        });
        let v = self.sampler.borrow_mut().pick(low, high);
        if self.drawing() {
            self.sampled
                .borrow_mut()
                .push((field.to_string(), v.render()));
        }
        Ok(v)
    }

    /// Whether ranges are drawn from a seed (rather than validated at their ends).
    fn drawing(&self) -> bool {
        matches!(*self.sampler.borrow(), Sampler::Draw(_))
    }

    fn at<T>(
        &self,
        spanned: &Spanned<T>,
        field: &str,
        message: impl Into<String>,
    ) -> ScenarioError {
        self.source.error_at(spanned.span().start, field, message)
    }

    pub(crate) fn build(&self, raw: &RawScenario) -> Result<Scenario, ScenarioError> {
        let nodes = self.cluster(&raw.cluster)?;
        let (duration, quiet) = self.phases(raw)?;
        let max_events = self.max_events(raw)?;
        let (protocol, protocol_table) = self.protocol(raw)?;
        let (network, client_latency) = match &raw.network {
            Some(n) => self.network(n.get_ref(), &NetworkConfig::default(), "network")?,
            None => (
                NetworkConfig::default(),
                Latency::Fixed(SimDuration::from_millis(1)),
            ),
        };
        let table = |t: &Option<Spanned<toml::Table>>| {
            t.as_ref().map(|t| t.get_ref().clone()).unwrap_or_default()
        };
        let mut scenario = Scenario {
            file: self.source.file.to_string(),
            text: self.source.text.to_string(),
            name: raw
                .name
                .clone()
                .unwrap_or_else(|| file_stem(self.source.file)),
            description: raw.description.clone().unwrap_or_default(),
            node_names: nodes.names,
            node_kinds: nodes.kinds,
            duration,
            quiet,
            max_events,
            protocol,
            network,
            client_latency,
            faults: Vec::new(),
            nemesis: None,
            expect: None,
            ranges: Vec::new(),
            sampled: Vec::new(),
            protocol_table,
            workload_table: table(&raw.workload),
            checks_table: table(&raw.checks),
        };
        for (i, fault) in raw.faults.iter().enumerate() {
            let spec = self.fault(fault, i, &scenario)?;
            scenario.faults.push(spec);
        }
        if let Some(nemesis) = &raw.nemesis {
            scenario.nemesis = Some(Nemesis::from_raw(nemesis, &self.source, scenario.duration)?);
        }
        self.restarts(raw, &scenario)?;
        scenario.expect = self.expect(raw)?;
        scenario.ranges = self.ranges.take();
        scenario.sampled = self.sampled.take();
        Ok(scenario)
    }

    /// The fault phase and the quiet phase, together at most [`RUN_MAX`].
    fn phases(&self, raw: &RawScenario) -> Result<(SimDuration, SimDuration), ScenarioError> {
        let duration = *raw.duration.get_ref();
        if duration == SimDuration::ZERO {
            return Err(self.at(
                &raw.duration,
                "duration",
                "expected a positive duration, found 0",
            ));
        }
        let quiet = raw
            .quiet
            .as_ref()
            .map_or(SimDuration::from_secs(10), |q| *q.get_ref());
        if duration + quiet > RUN_MAX {
            return Err(self.at(
                &raw.duration,
                "duration",
                format!(
                    "a run of {} is absurd; at most {RUN_MAX} of simulated time",
                    duration + quiet
                ),
            ));
        }
        Ok((duration, quiet))
    }

    fn max_events(&self, raw: &RawScenario) -> Result<u64, ScenarioError> {
        match &raw.max_events {
            None => Ok(500_000_000),
            Some(m) if *m.get_ref() >= 1 => Ok(*m.get_ref() as u64),
            Some(m) => Err(self.at(
                m,
                "max_events",
                format!("expected a positive count, found {}", m.get_ref()),
            )),
        }
    }

    /// `[expect]`: both keys or neither.
    fn expect(&self, raw: &RawScenario) -> Result<Option<Expect>, ScenarioError> {
        let Some(expect) = &raw.expect else {
            return Ok(None);
        };
        let e = expect.get_ref();
        let (fails, within_seeds) =
            match (&e.fails, &e.within_seeds) {
                (Some(fails), Some(seeds)) => (fails, seeds),
                (None, _) => return Err(self.at(
                    expect,
                    "expect.fails",
                    "missing: the check this scenario breaks, e.g. fails = \"raft.log_matching\"",
                )),
                (Some(_), None) => {
                    return Err(self.at(
                        expect,
                        "expect.within_seeds",
                        "missing: within how many seeds the check fails, e.g. within_seeds = 5",
                    ))
                }
            };
        if fails.get_ref().is_empty() {
            return Err(self.at(
                fails,
                "expect.fails",
                "expected a check name such as \"raft.log_matching\"",
            ));
        }
        let seeds = *within_seeds.get_ref();
        if seeds < 1 || seeds > EXPECT_SEEDS_MAX as i64 {
            return Err(self.at(
                within_seeds,
                "expect.within_seeds",
                format!("expected a seed count in 1..={EXPECT_SEEDS_MAX}, found {seeds}"),
            ));
        }
        Ok(Some(Expect {
            fails: fails.get_ref().clone(),
            within_seeds: seeds as u64,
        }))
    }

    /// The protocol's name, and its table less the name.
    fn protocol(&self, raw: &RawScenario) -> Result<(String, toml::Table), ScenarioError> {
        let mut table = raw.protocol.get_ref().clone();
        let name = match table.remove("name") {
            Some(toml::Value::String(name)) => name,
            Some(other) => {
                return Err(self.source.error_at(
                    self.source.locate_key("protocol", "name"),
                    "protocol.name",
                    format!(
                        "expected the protocol's name as a string, found {}",
                        other.type_str()
                    ),
                ))
            }
            None => {
                // A misspelt name is the error to report, at its line, rather than a missing one.
                if let Some(key) = table
                    .keys()
                    .find(|k| crate::names::suggest(k, &["name"]).is_some())
                {
                    return Err(self.source.error_at(
                        self.source.locate_key("protocol", key),
                        &format!("protocol.{key}"),
                        format!("unknown field `{key}`; did you mean `name`?"),
                    ));
                }
                return Err(self.at(
                    &raw.protocol,
                    "protocol.name",
                    "missing: say which protocol runs, e.g. name = \"raft\"",
                ));
            }
        };
        self.bugs(&table)?;
        Ok((name, table))
    }

    /// `[protocol] bugs`, if present, is an array of names: the rest of the table is the
    /// family's to decode, but bugs are checked against its declaration before that.
    fn bugs(&self, table: &toml::Table) -> Result<(), ScenarioError> {
        let Some(bugs) = table.get("bugs") else {
            return Ok(());
        };
        let offset = self.source.locate_key("protocol", "bugs");
        let toml::Value::Array(list) = bugs else {
            return Err(self.source.error_at(
                offset,
                "protocol.bugs",
                format!("expected an array of bug names, found {}", bugs.type_str()),
            ));
        };
        for (i, bug) in list.iter().enumerate() {
            if !bug.is_str() {
                return Err(self.source.error_at(
                    offset,
                    &format!("protocol.bugs[{i}]"),
                    format!("expected a bug name (a string), found {}", bug.type_str()),
                ));
            }
        }
        Ok(())
    }
}
