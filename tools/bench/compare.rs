//! Side-by-side mode: each scenario runs against a fresh natsd and a fresh
//! reference server, over several rounds with the order alternating, and the
//! medians of each side and their ratio (natsd / reference) are reported.

use std::collections::BTreeSet;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::report::{human, median, table, Better, Report};
use crate::scenarios::{self, Kind, Spec, Target};
use crate::server::Server;

/// What to compare.
pub struct Options {
    pub natsd: PathBuf,
    pub reference: PathBuf,
    pub rounds: usize,
    pub specs: Vec<Spec>,
    /// Arguments both servers get (client TLS with `--tls`).
    pub server_args: Vec<String>,
}

/// The scenarios compared when none are named.
pub const DEFAULT_SCENARIOS: [&str; 12] = [
    "pub:size=16",
    "pubsub:size=16",
    "pubsub:size=1024",
    "pubsub:size=16384",
    "fanout:subs=8",
    "queue:subs=4",
    "reqrep",
    "conns:conns=10000",
    "subs:subjects=10000",
    "route:size=16",
    "leaf:size=16",
    "hub:size=16",
];

const SIDES: [&str; 2] = ["natsd", "reference"];

/// Everything gathered for one scenario.
#[derive(Default)]
struct Gathered {
    /// Reports per side (natsd, reference), one per successful round.
    reports: [Vec<Report>; 2],
    errors: Vec<String>,
    /// Troubling server log lines, without repeats.
    log: BTreeSet<String>,
}

/// Runs the comparison and prints the result; returns whether every run
/// passed its checks.
pub fn run(opts: &Options, json_out: bool) -> Result<bool, String> {
    let binaries = [opts.natsd.as_path(), opts.reference.as_path()];
    let mut gathered: Vec<Gathered> = opts.specs.iter().map(|_| Gathered::default()).collect();
    let progress = Progress::new(opts.rounds * opts.specs.len() * 2);
    for round in 0..opts.rounds {
        // Alternate which server goes first.
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for (spec, got) in opts.specs.iter().zip(&mut gathered) {
            for side in order {
                progress.step(&format!(
                    "round {}/{} {} on {}",
                    round + 1,
                    opts.rounds,
                    spec.label,
                    SIDES[side]
                ));
                let tag = format!("round {} {}", round + 1, SIDES[side]);
                match once(spec, binaries[side], &opts.server_args, got) {
                    Ok(report) => {
                        progress.note(&format!("{}", Rate(&report)));
                        got.reports[side].push(report);
                    }
                    Err(e) => {
                        progress.note("FAILED");
                        got.errors.push(format!("{tag}: {e}"));
                    }
                }
            }
        }
    }
    progress.finish();
    let ok = gathered.iter().all(|g| g.errors.is_empty());
    if json_out {
        let out = to_json(opts, &gathered);
        println!(
            "{}",
            serde_json::to_string_pretty(&out).expect("JSON of plain values")
        );
    } else {
        print!("{}", to_table(opts, &gathered));
    }
    for (spec, got) in opts.specs.iter().zip(&gathered) {
        for e in &got.errors {
            eprintln!("FAIL {}: {e}", spec.label);
        }
        for line in &got.log {
            eprintln!("server log, {}: {line}", spec.label);
        }
    }
    Ok(ok)
}

/// One scenario against a fresh server (for `route`: a fresh two-server
/// cluster; for `leaf` and `hub`: a fresh hub and a leaf of it), with the
/// configuration file the scenario needs (accounts).
fn once(
    spec: &Spec,
    binary: &Path,
    server_args: &[String],
    got: &mut Gathered,
) -> Result<Report, String> {
    let args: Vec<&str> = server_args.iter().map(String::as_str).collect();
    let mut servers = match spec.kind {
        Kind::Route => Server::start_pair(binary, &args)?,
        // The hub, then the leaf: the order the scenarios take their URLs in.
        Kind::Leaf | Kind::Hub => Server::start_leaf_pair(binary, &args)?,
        _ => vec![Server::start(
            binary,
            &args,
            spec.server_config().as_deref(),
        )?],
    };
    let target = Target {
        urls: servers.iter().map(|s| s.url().to_string()).collect(),
        pids: servers.iter().map(Server::pid).collect(),
    };
    let result = scenarios::run(spec, &target);
    let name = binary
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    for server in &servers {
        got.log.extend(
            server
                .log_problems()
                .into_iter()
                .map(|l| format!("{name}: {l}")),
        );
    }
    match servers.iter_mut().find_map(Server::exit_status) {
        Some(exit) => Err(match result {
            Ok(_) => exit,
            Err(e) => format!("{e}\n{exit}"),
        }),
        None => result,
    }
}

/// The headline figure of a report, for the progress line.
struct Rate<'a>(&'a Report);

impl std::fmt::Display for Rate<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.metrics.first() {
            Some(m) => write!(f, "{} {}", human(m.value), m.unit),
            None => f.write_str("done"),
        }
    }
}

/// Medians of one metric on both sides.
struct Row {
    name: &'static str,
    unit: &'static str,
    better: Better,
    values: [Vec<f64>; 2],
}

impl Row {
    fn medians(&self) -> [f64; 2] {
        [median(&self.values[0]), median(&self.values[1])]
    }

    fn ratio(&self) -> f64 {
        let [n, r] = self.medians();
        n / r
    }
}

/// The metrics of a scenario, in report order, with the values of each side.
fn rows(got: &Gathered) -> Vec<Row> {
    let mut rows: Vec<Row> = Vec::new();
    for (side, reports) in got.reports.iter().enumerate() {
        for m in reports.iter().flat_map(|r| &r.metrics) {
            let i = match rows.iter().position(|row| row.name == m.name) {
                Some(i) => i,
                None => {
                    rows.push(Row {
                        name: m.name,
                        unit: m.unit,
                        better: m.better,
                        values: Default::default(),
                    });
                    rows.len() - 1
                }
            };
            rows[i].values[side].push(m.value);
        }
    }
    rows
}

fn to_table(opts: &Options, gathered: &[Gathered]) -> String {
    let header = [
        "scenario",
        "metric",
        "unit",
        "natsd",
        "reference",
        "natsd/ref",
        "better",
    ];
    let mut lines = vec![header.map(String::from).to_vec()];
    for (spec, got) in opts.specs.iter().zip(gathered) {
        let mut label = spec.label.clone();
        if !got.errors.is_empty() {
            label.push_str(" (FAILED)");
        }
        for row in rows(got) {
            let [n, r] = row.medians();
            let better = match row.better {
                Better::Higher => "higher",
                Better::Lower => "lower",
            };
            let ratio = row.ratio();
            let ratio = if ratio.is_finite() {
                format!("{ratio:.2}")
            } else {
                "-".into()
            };
            lines.push(vec![
                std::mem::take(&mut label),
                row.name.into(),
                row.unit.into(),
                human(n),
                human(r),
                ratio,
                better.into(),
            ]);
        }
        if !label.is_empty() {
            lines.push(vec![label, "(no successful run)".into()]);
        }
    }
    let mut out = table(&lines);
    out.push_str(&format!(
        "medians of {} round(s); natsd: {}; reference: {}\n",
        opts.rounds,
        opts.natsd.display(),
        opts.reference.display()
    ));
    out
}

fn to_json(opts: &Options, gathered: &[Gathered]) -> Value {
    let scenarios: Vec<Value> = opts
        .specs
        .iter()
        .zip(gathered)
        .map(|(spec, got)| {
            let metrics: Vec<Value> = rows(got)
                .iter()
                .map(|row| {
                    let [n, r] = row.medians();
                    json!({
                        "name": row.name,
                        "unit": row.unit,
                        "better": row.better,
                        "natsd": n,
                        "reference": r,
                        "ratio": row.ratio(),
                        "natsd_rounds": row.values[0],
                        "reference_rounds": row.values[1],
                    })
                })
                .collect();
            json!({
                "scenario": spec.label,
                "ok": got.errors.is_empty(),
                "metrics": metrics,
                "errors": got.errors,
                "server_log": got.log,
            })
        })
        .collect();
    json!({
        "natsd": opts.natsd.display().to_string(),
        "reference": opts.reference.display().to_string(),
        "rounds": opts.rounds,
        "scenarios": scenarios,
    })
}

/// The progress line on stderr: rewritten in place on a terminal, one line
/// per step otherwise.
struct Progress {
    total: usize,
    done: std::cell::Cell<usize>,
    tty: bool,
}

impl Progress {
    fn new(total: usize) -> Progress {
        Progress {
            total,
            done: 0.into(),
            tty: std::io::stderr().is_terminal(),
        }
    }

    fn step(&self, what: &str) {
        self.done.set(self.done.get() + 1);
        let text = format!("[{}/{}] {what} ...", self.done.get(), self.total);
        let mut err = std::io::stderr().lock();
        let _ = if self.tty {
            write!(err, "\r\x1b[K{text}")
        } else {
            write!(err, "{text}")
        };
        let _ = err.flush();
    }

    fn note(&self, result: &str) {
        eprint!(" {result}");
        if !self.tty {
            eprintln!();
        }
    }

    fn finish(&self) {
        if self.tty {
            eprint!("\r\x1b[K");
        }
    }
}
