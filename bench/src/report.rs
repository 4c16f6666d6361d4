//! What a run measured (every repetition of every contender), the comparisons with their goals
//! and verdicts, and the two renderings: a plain-text table for stdout and Markdown for
//! `BENCHMARKS.md`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The unit of a measurement, and which way is better.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// Nanoseconds per operation (lower is better).
    NsPerOp,
    /// Milliseconds for the whole task (lower is better).
    Ms,
    /// Items per second (higher is better).
    ItemsPerSec,
    /// GiB per second (higher is better).
    GibPerSec,
    /// Nanoseconds of one-way latency (lower is better).
    NsLatency,
}

impl Unit {
    /// Whether a larger value is better.
    pub fn higher_is_better(self) -> bool {
        matches!(self, Unit::ItemsPerSec | Unit::GibPerSec)
    }

    fn name(self) -> &'static str {
        match self {
            Unit::NsPerOp => "ns/op",
            Unit::Ms => "ms",
            Unit::ItemsPerSec => "items/s",
            Unit::GibPerSec => "GiB/s",
            Unit::NsLatency => "ns",
        }
    }

    /// `v` formatted with the unit.
    pub fn show(self, v: f64) -> String {
        match self {
            Unit::NsPerOp | Unit::NsLatency => {
                if v >= 10_000.0 {
                    format!("{:.1} µs", v / 1000.0)
                } else if v >= 100.0 {
                    format!("{v:.0} {}", self.name())
                } else {
                    format!("{v:.1} {}", self.name())
                }
            }
            Unit::Ms => {
                if v >= 100.0 {
                    format!("{v:.0} ms")
                } else {
                    format!("{v:.2} ms")
                }
            }
            Unit::ItemsPerSec => {
                if v >= 1e6 {
                    format!("{:.2} M/s", v / 1e6)
                } else {
                    format!("{:.0} k/s", v / 1e3)
                }
            }
            Unit::GibPerSec => format!("{v:.2} GiB/s"),
        }
    }
}

/// One contender of one group: the value of each repetition, or why it was not run.
#[derive(Clone, Debug)]
pub struct Measure {
    /// The group letter (a..g).
    pub group: char,
    /// What was measured, for the table.
    pub label: String,
    /// The unit of `samples`.
    pub unit: Unit,
    /// One value per repetition.
    pub samples: Vec<f64>,
    /// Why there are no samples (`None` while it runs or when it ran).
    pub not_run: Option<String>,
    /// Repetitions that failed, and the first failure's reason.
    pub failed: Option<(usize, String)>,
}

impl Measure {
    /// The median of the samples.
    pub fn median(&self) -> Option<f64> {
        if self.not_run.is_some() || self.samples.is_empty() {
            return None;
        }
        Some(median(&self.samples))
    }
}

/// The median of `v` (mean of the middle two for an even count).
pub fn median(v: &[f64]) -> f64 {
    let mut s: Vec<f64> = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

/// The `p` quantile (0..=1) of `v`, nearest rank.
pub fn quantile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NAN;
    }
    v[((v.len() - 1) as f64 * p).round() as usize]
}

/// A goal on a comparison's ratio.
#[derive(Clone, Copy, Debug)]
pub enum Goal {
    /// The ratio must be at most this.
    AtMost(f64),
    /// The ratio must be at least this.
    AtLeast(f64),
}

/// How a comparison's ratio is formed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ratio {
    /// shmgen's cost relative to the baseline's: shmgen / baseline for lower-is-better units,
    /// baseline / shmgen for higher-is-better ones (1.10 = 10% slower than the baseline).
    Cost,
    /// How many times better shmgen is: the inverse of [`Ratio::Cost`].
    Speedup,
}

/// shmgen's contender against a baseline.
#[derive(Clone, Debug)]
pub struct Comparison {
    /// The group letter.
    pub group: char,
    /// What is compared, for the table.
    pub what: String,
    /// The key of shmgen's measurement.
    pub ours: String,
    /// The key of the baseline's measurement.
    pub base: String,
    /// How the ratio is formed.
    pub ratio: Ratio,
    /// The goal, if the issue sets one.
    pub goal: Option<Goal>,
}

/// Everything one run produced.
#[derive(Default)]
pub struct Report {
    /// Measurements by key, in insertion order through `order`.
    pub measures: BTreeMap<String, Measure>,
    order: Vec<String>,
    /// The comparisons, in table order.
    pub comparisons: Vec<Comparison>,
    /// Notes per group (what was run and how, what was skipped).
    pub notes: Vec<(char, String)>,
    /// The load average seen when each group started.
    pub loads: Vec<(char, String)>,
}

/// A comparison's figures, once computed.
pub struct Row {
    /// The comparison.
    pub cmp: Comparison,
    /// shmgen's median, shown with its unit, or why it is missing.
    pub ours: String,
    /// The baseline's median, shown with its unit, or why it is missing.
    pub base: String,
    /// The ratio, when both ran.
    pub ratio: Option<f64>,
    /// The goal, shown.
    pub goal: String,
    /// The verdict: met / missed by X% / not run: why.
    pub verdict: String,
}

impl Report {
    /// Declares a measurement (with no samples yet).
    pub fn declare(&mut self, key: &str, group: char, label: &str, unit: Unit) {
        if !self.measures.contains_key(key) {
            self.order.push(key.to_owned());
        }
        self.measures.insert(
            key.to_owned(),
            Measure {
                group,
                label: label.to_owned(),
                unit,
                samples: Vec::new(),
                not_run: None,
                failed: None,
            },
        );
    }

    /// Adds one repetition's value.
    pub fn add(&mut self, key: &str, v: f64) {
        let m = self.measures.get_mut(key).expect("declared measurement");
        m.samples.push(v);
    }

    /// Marks a measurement as not run, with the reason (the first reason wins).
    pub fn not_run(&mut self, key: &str, why: &str) {
        let m = self.measures.get_mut(key).expect("declared measurement");
        if m.not_run.is_none() {
            m.not_run = Some(why.to_owned());
        }
    }

    /// Records a repetition that failed (its value is missing; the others still count).
    pub fn fail(&mut self, key: &str, why: &str) {
        let m = self.measures.get_mut(key).expect("declared measurement");
        match &mut m.failed {
            Some((n, _)) => *n += 1,
            None => m.failed = Some((1, why.to_owned())),
        }
    }

    /// Adds a comparison.
    pub fn compare(
        &mut self,
        group: char,
        what: &str,
        ours: &str,
        base: &str,
        ratio: Ratio,
        goal: Option<Goal>,
    ) {
        self.comparisons.push(Comparison {
            group,
            what: what.to_owned(),
            ours: ours.to_owned(),
            base: base.to_owned(),
            ratio,
            goal,
        });
    }

    /// Adds a note to a group.
    pub fn note(&mut self, group: char, text: impl Into<String>) {
        self.notes.push((group, text.into()));
    }

    /// The measurements in the order they were declared.
    pub fn measures_in_order(&self) -> impl Iterator<Item = (&String, &Measure)> {
        self.order.iter().map(|k| (k, &self.measures[k]))
    }

    fn shown(&self, key: &str) -> (String, Option<f64>, Option<Unit>) {
        match self.measures.get(key) {
            None => ("not available".to_owned(), None, None),
            Some(m) => match (&m.not_run, m.median()) {
                (Some(why), _) => (format!("not run: {why}"), None, Some(m.unit)),
                (None, Some(v)) => (m.unit.show(v), Some(v), Some(m.unit)),
                (None, None) => match &m.failed {
                    Some((_, why)) => (format!("not run: {why}"), None, Some(m.unit)),
                    None => ("not available".to_owned(), None, Some(m.unit)),
                },
            },
        }
    }

    /// Every comparison with its figures and verdict.
    pub fn rows(&self) -> Vec<Row> {
        self.comparisons
            .iter()
            .map(|c| {
                let (ours, o, unit) = self.shown(&c.ours);
                let (base, b, _) = self.shown(&c.base);
                let ratio = match (o, b, unit) {
                    (Some(o), Some(b), Some(u)) if o > 0.0 && b > 0.0 => {
                        let cost_of = |o: f64, b: f64| {
                            let cost = if u.higher_is_better() { b / o } else { o / b };
                            match c.ratio {
                                Ratio::Cost => cost,
                                Ratio::Speedup => 1.0 / cost,
                            }
                        };
                        // Paired repetitions (same count, none failed): the median of the
                        // per-repetition ratios, each from two runs made back to back.
                        let (mo, mb) = (&self.measures[&c.ours], &self.measures[&c.base]);
                        let paired = mo.samples.len() == mb.samples.len()
                            && mo.samples.len() > 1
                            && mo.failed.is_none()
                            && mb.failed.is_none();
                        if paired {
                            let per: Vec<f64> = mo
                                .samples
                                .iter()
                                .zip(&mb.samples)
                                .filter(|(o, b)| **o > 0.0 && **b > 0.0)
                                .map(|(o, b)| cost_of(*o, *b))
                                .collect();
                            Some(median(&per))
                        } else {
                            Some(cost_of(o, b))
                        }
                    }
                    _ => None,
                };
                let goal = match c.goal {
                    None => "—".to_owned(),
                    Some(Goal::AtMost(x)) => format!("≤ {x:.2}×"),
                    Some(Goal::AtLeast(x)) => format!("≥ {x:.2}×"),
                };
                let verdict = match (ratio, c.goal) {
                    (None, _) => {
                        let why = [&ours, &base]
                            .into_iter()
                            .find(|s| s.starts_with("not "))
                            .cloned()
                            .unwrap_or_else(|| "not available".to_owned());
                        if why.starts_with("not run") {
                            why
                        } else {
                            format!("not run: {why}")
                        }
                    }
                    (Some(_), None) => "(no goal)".to_owned(),
                    (Some(r), Some(Goal::AtMost(x))) => {
                        if r <= x {
                            "met".to_owned()
                        } else {
                            missed((r / x - 1.0) * 100.0)
                        }
                    }
                    (Some(r), Some(Goal::AtLeast(x))) => {
                        if r >= x {
                            "met".to_owned()
                        } else {
                            missed((1.0 - r / x) * 100.0)
                        }
                    }
                };
                Row {
                    cmp: c.clone(),
                    ours,
                    base,
                    ratio,
                    goal,
                    verdict,
                }
            })
            .collect()
    }
}

/// `missed by 12%` (one decimal below 10%, so that a near miss does not read "0%").
fn missed(pct: f64) -> String {
    if pct < 10.0 {
        format!("missed by {pct:.1}%")
    } else {
        format!("missed by {pct:.0}%")
    }
}

/// The name of a group.
pub fn group_title(g: char) -> &'static str {
    match g {
        'a' => "(a) per-field Mutex vs raw pthread_mutex",
        'b' => "(b) atomic field vs raw atomic",
        'c' => "(c) the reference counter: 2 processes x N increments",
        'd' => "(d) messages between 2 processes",
        'e' => "(e) publishing a 64 MiB f64 array",
        'f' => "(f) one-way latency between 2 processes",
        'g' => "(g) shmgen build time",
        _ => "?",
    }
}

fn ratio_text(r: &Row) -> String {
    match r.ratio {
        None => "—".to_owned(),
        Some(x) => format!("{x:.2}×"),
    }
}

/// The comparisons as a plain-text table.
pub fn render_text(report: &Report) -> String {
    let rows = report.rows();
    let mut s = String::new();
    let w = rows
        .iter()
        .map(|r| r.cmp.what.chars().count())
        .max()
        .unwrap_or(10)
        .max(10);
    let _ = writeln!(
        s,
        "{:<w$}  {:>14}  {:>14}  {:>8}  {:>8}  verdict",
        "comparison (shmgen vs baseline)", "shmgen", "baseline", "ratio", "goal"
    );
    let mut group = ' ';
    for r in &rows {
        if r.cmp.group != group {
            group = r.cmp.group;
            let _ = writeln!(s, "{}", group_title(group));
        }
        let short = |t: &str| {
            if t.starts_with("not ") {
                "—".to_owned()
            } else {
                t.to_owned()
            }
        };
        let _ = writeln!(
            s,
            "{:<w$}  {:>14}  {:>14}  {:>8}  {:>8}  {}",
            r.cmp.what,
            short(&r.ours),
            short(&r.base),
            ratio_text(r),
            r.goal,
            r.verdict
        );
    }
    s
}

/// All measurements (median, spread, repetitions) as a plain-text table.
pub fn render_measures_text(report: &Report) -> String {
    let mut s = String::new();
    let w = report
        .measures_in_order()
        .map(|(_, m)| m.label.chars().count())
        .max()
        .unwrap_or(10);
    let mut group = ' ';
    for (_, m) in report.measures_in_order() {
        if m.group != group {
            group = m.group;
            let _ = writeln!(s, "{}", group_title(group));
        }
        let _ = writeln!(s, "  {:<w$}  {}", m.label, measure_cell(m));
    }
    s
}

fn measure_cell(m: &Measure) -> String {
    if let Some(why) = &m.not_run {
        return format!("not run: {why}");
    }
    if m.samples.is_empty() {
        return "not available".to_owned();
    }
    let lo = m.samples.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = m.samples.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!(
        "{} (min {}, max {}, {} runs){}",
        m.unit.show(median(&m.samples)),
        m.unit.show(lo),
        m.unit.show(hi),
        m.samples.len(),
        failures(m)
    )
}

/// `; N more failed: why` when repetitions failed.
fn failures(m: &Measure) -> String {
    match &m.failed {
        Some((n, why)) => format!("; {n} more failed: {why}"),
        None => String::new(),
    }
}

/// The comparisons and measurements as Markdown tables, by group, with the notes.
pub fn render_markdown(report: &Report) -> String {
    let rows = report.rows();
    let mut s = String::new();
    let _ = writeln!(
        s,
        "| | comparison (shmgen vs baseline) | shmgen | baseline | ratio | goal | verdict |"
    );
    let _ = writeln!(s, "|---|---|---:|---:|---:|---:|---|");
    for r in &rows {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} |",
            r.cmp.group,
            r.cmp.what,
            r.ours,
            r.base,
            ratio_text(r),
            r.goal,
            if r.verdict.starts_with("missed") {
                format!("**{}**", r.verdict)
            } else {
                r.verdict.clone()
            }
        );
    }
    s.push('\n');
    let _ = writeln!(s, "### Every measurement\n");
    let _ = writeln!(s, "| | what | median | min | max | runs |");
    let _ = writeln!(s, "|---|---|---:|---:|---:|---:|");
    for (_, m) in report.measures_in_order() {
        if let Some(why) = &m.not_run {
            let _ = writeln!(s, "| {} | {} | not run: {why} | | | |", m.group, m.label);
            continue;
        }
        if m.samples.is_empty() {
            let why = m
                .failed
                .as_ref()
                .map_or("not available".to_owned(), |(_, w)| format!("not run: {w}"));
            let _ = writeln!(s, "| {} | {} | {why} | | | |", m.group, m.label);
            continue;
        }
        let lo = m.samples.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = m.samples.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {}{} |",
            m.group,
            m.label,
            m.unit.show(median(&m.samples)),
            m.unit.show(lo),
            m.unit.show(hi),
            m.samples.len(),
            failures(m)
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_verdicts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        let mut r = Report::default();
        r.declare("o", 'a', "ours", Unit::NsPerOp);
        r.declare("b", 'a', "base", Unit::NsPerOp);
        r.declare("q", 'd', "ring", Unit::ItemsPerSec);
        r.declare("p", 'd', "pipe", Unit::ItemsPerSec);
        r.declare("x", 'd', "missing", Unit::ItemsPerSec);
        for v in [12.0, 13.0, 14.0] {
            r.add("o", v);
        }
        for v in [10.0, 10.0, 10.0] {
            r.add("b", v);
        }
        r.add("q", 4e6);
        r.add("p", 1e6);
        r.not_run("x", "no peer");
        r.compare('a', "lock", "o", "b", Ratio::Cost, Some(Goal::AtMost(1.2)));
        r.compare(
            'd',
            "ring",
            "q",
            "p",
            Ratio::Speedup,
            Some(Goal::AtLeast(5.0)),
        );
        r.compare(
            'd',
            "ring2",
            "q",
            "x",
            Ratio::Speedup,
            Some(Goal::AtLeast(1.0)),
        );
        let rows = r.rows();
        assert!((rows[0].ratio.unwrap() - 1.3).abs() < 1e-9);
        assert_eq!(rows[0].verdict, "missed by 8.3%");
        assert!((rows[1].ratio.unwrap() - 4.0).abs() < 1e-9);
        assert_eq!(rows[1].verdict, "missed by 20%");
        assert_eq!(rows[2].verdict, "not run: no peer");
        assert!(render_markdown(&r).contains("**missed by 8.3%**"));
    }
}
