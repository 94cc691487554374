//! `natsd-bench`: a load generator for NATS servers (natsd, nats-server).
//!
//! It runs scenarios against a server at a URL, or (`compare`) starts two
//! server binaries itself and reports their figures side by side. Every run
//! checks that each message was delivered exactly once and in order; a run
//! that loses, duplicates or reorders a message fails with exit status 1.
//! `soak` runs a long mixed load and reports the server's fds, threads and
//! memory over it (see the `soak` module).

mod check;
mod client;
mod compare;
mod proc;
mod report;
mod scenarios;
mod server;
mod soak;

use std::path::PathBuf;
use std::process::exit;

use scenarios::{Params, Spec, Target};

const USAGE: &str = "\
natsd-bench: load generator and side-by-side comparison for NATS servers

USAGE:
  natsd-bench [OPTIONS] SCENARIO...
      run scenarios against a running server (--url)
  natsd-bench compare --natsd PATH --reference PATH [--rounds 3] [OPTIONS] [SCENARIO...]
      start each server fresh per run on a random loopback port, alternate
      them over the rounds, report medians and natsd/reference ratios
      (default scenarios: pub:size=16 pubsub:size=16 pubsub:size=1024
      pubsub:size=16384 fanout:subs=8 queue:subs=4 reqrep conns:conns=10000
      subs:subjects=10000 route:size=16 leaf:size=16 hub:size=16; route runs
      on a two-server cluster, leaf and hub on a hub and a leaf of it, both
      servers of the same binary)
  natsd-bench soak --natsd PATH --reference PATH --duration SECS [--tls DIR]
  natsd-bench soak --url URL --pid PID --duration SECS [--tls DIR]
      soak: for SECS, at once, well-behaved publishers -> subscribers and a
      queue group (checked: no loss, duplicate or reordering), connection
      churn (clean, abrupt, half-open, garbage; with --tls aborted and
      completed TLS handshakes too), subscription churn, random-size
      publishing (0-64 KB), slow consumers the server must cut. Every second
      the server's open fds, threads and RSS are read from /proc/PID. Reports
      idle and peak values, RSS per tenth of the run after the first (and its
      slope), whether fds and threads came back to idle once the load stopped
      (within 30 s) and RSS 10 s after. With --natsd and --reference both are
      started with the same configuration (max_pending: 1048576,
      write_deadline: \"2s\"; with --tls DIR also a tls block with DIR's
      server certificate and allow_non_tls: true) and soaked side by side at
      the same time. Exit status 1 on a delivery violation or fds/threads not
      back at idle (on either server; the reference's threads are shown but
      not checked: the Go runtime keeps the OS threads it has started)

SCENARIO is NAME[:key=value,...], keys being the options below without
dashes (size, count, duration, pubs, subs, conns, subjects, accounts):
  pub      publishers only
  pubsub   publishers -> subscribers on one subject (default 1 -> 1)
  fanout   1 publisher -> N subscribers (default 8)
  queue    publishers -> a queue group of N (default 4); each message once
  reqrep   requesters (--pubs) -> one responder; latency percentiles
  conns    N idle connections; server memory per connection (needs the pid)
  subs     insert N subscriptions, publish to matching and non-matching subjects
  route    publish on the first --url, subscribe on the second
  leaf     across a leafnode link, upstream: publish on the leaf, subscribe
           on the hub
  hub      across a leafnode link, downstream: publish on the hub, subscribe
           on the leaf. Both take two --url: the hub's first, then the
           leaf's. compare writes each pair's configuration: the hub
           `leafnodes { listen: \"127.0.0.1:P\" }` (P a free loopback port),
           the leaf `leafnodes { remotes: [ { url: \"nats-leaf://127.0.0.1:P\" } ] }`
  accounts N accounts (default 4), the same subject in each: per account
           publishers -> subscribers (default 1 -> 1), each subscriber
           checked to get its own account's messages only. The server needs
           accounts A0..A{N-1}, each with user aK password aK (K = 0..N-1):
           `accounts { A0 { users = [{user: a0, password: a0}] } ... }`;
           compare starts both servers with that configuration file

OPTIONS:
  --url URL         server URL (default nats://127.0.0.1:4222; twice for
                    route, leaf and hub)
  --pid PID         the server's pid: adds server CPU and memory figures
                    (twice for route, leaf and hub: both servers' figures
                    are summed)
  --msg-size N      payload bytes (default 128, at least 8)
  --count N         messages in all (requests for reqrep), instead of --duration
  --duration SECS   how long publishers publish (default 2)
  --pubs N          publishers (requesters for reqrep)
  --subs N          subscribers (queue members for queue)
  --conns N         connections for conns (default 10000)
  --subjects N      subscriptions for subs (default 10000)
  --accounts N      accounts for accounts (default 4)
  --tls DIR         clients use TLS (nats:// URLs become tls://), trusting
                    DIR/ca.pem; with compare, both servers get --tls with
                    DIR/server-cert.pem and DIR/server-key.pem
                    (configs/certs has test ones)
  --json            print JSON instead of a table
  -h, --help        this text
";

fn main() {
    match real_main() {
        Ok(true) => {}
        Ok(false) => exit(1),
        Err(e) => {
            eprintln!("natsd-bench: {e}\n(see natsd-bench --help)");
            exit(2);
        }
    }
}

/// Parses the command line and runs it; `Ok(false)` when a run failed.
fn real_main() -> Result<bool, String> {
    let mut args = pico_args::Arguments::from_env();
    if args.contains(["-h", "--help"]) {
        print!("{USAGE}");
        return Ok(true);
    }
    let err = |e: pico_args::Error| e.to_string();
    let json = args.contains("--json");
    let mut defaults = Params::default();
    let mut given = Vec::new();
    for (flag, key) in [
        ("--msg-size", "size"),
        ("--count", "count"),
        ("--duration", "duration"),
        ("--pubs", "pubs"),
        ("--subs", "subs"),
        ("--conns", "conns"),
        ("--subjects", "subjects"),
        ("--accounts", "accounts"),
    ] {
        if let Some(value) = args.opt_value_from_str::<_, String>(flag).map_err(err)? {
            defaults.set(key, &value)?;
            given.push(key);
        }
    }
    if given.contains(&"count") && given.contains(&"duration") {
        return Err("give --count or --duration, not both".into());
    }
    let compare_mode = args.subcommand().map_err(err)?;
    let soak_mode = compare_mode.as_deref() == Some("soak");
    let soak_bins: (Option<PathBuf>, Option<PathBuf>) = if soak_mode {
        (
            args.opt_value_from_str("--natsd").map_err(err)?,
            args.opt_value_from_str("--reference").map_err(err)?,
        )
    } else {
        (None, None)
    };
    let compare_opts = if compare_mode.as_deref() == Some("compare") {
        Some((
            args.value_from_str::<_, PathBuf>("--natsd").map_err(err)?,
            args.value_from_str::<_, PathBuf>("--reference")
                .map_err(err)?,
            args.opt_value_from_str("--rounds")
                .map_err(err)?
                .unwrap_or(3usize),
        ))
    } else {
        None
    };
    let tls_dir: Option<PathBuf> = args.opt_value_from_str("--tls").map_err(err)?;
    let mut server_args = Vec::new();
    if let Some(dir) = &tls_dir {
        client::use_tls(&dir.join("ca.pem"))?;
        let path = |file: &str| dir.join(file).to_string_lossy().into_owned();
        server_args = vec![
            "--tls".to_string(),
            "--tlscert".to_string(),
            path("server-cert.pem"),
            "--tlskey".to_string(),
            path("server-key.pem"),
        ];
    }
    let mut urls: Vec<String> = args.values_from_str("--url").map_err(err)?;
    let pids: Vec<u32> = args.values_from_str("--pid").map_err(err)?;
    let mut names: Vec<String> = compare_mode
        .into_iter()
        .filter(|_| compare_opts.is_none() && !soak_mode)
        .collect();
    for rest in args.finish() {
        let rest = rest
            .into_string()
            .map_err(|a| format!("bad argument {a:?}"))?;
        if rest.starts_with('-') {
            return Err(format!("unknown option {rest}"));
        }
        names.push(rest);
    }
    proc::raise_fd_limit();

    if soak_mode {
        if !names.is_empty() {
            return Err(format!("soak takes no scenarios ({})", names.join(" ")));
        }
        if !given.contains(&"duration") {
            return Err("soak needs --duration SECS".into());
        }
        let targets = soak_targets(soak_bins, urls, pids)?;
        return soak::run(&soak::Options {
            targets,
            duration: defaults.duration,
            tls: tls_dir,
        });
    }

    if let Some((natsd, reference, rounds)) = compare_opts {
        if !urls.is_empty() || !pids.is_empty() {
            return Err("compare starts its own servers: --url and --pid do not apply".into());
        }
        if names.is_empty() {
            names = compare::DEFAULT_SCENARIOS.map(String::from).to_vec();
        }
        let specs = names
            .iter()
            .map(|n| Spec::parse(n, &defaults))
            .collect::<Result<_, _>>()?;
        let opts = compare::Options {
            natsd,
            reference,
            rounds: rounds.max(1),
            specs,
            server_args,
        };
        return compare::run(&opts, json);
    }

    if names.is_empty() {
        return Err("no scenario given".into());
    }
    let specs: Vec<Spec> = names
        .iter()
        .map(|n| Spec::parse(n, &defaults))
        .collect::<Result<_, _>>()?;
    if urls.is_empty() {
        urls.push("nats://127.0.0.1:4222".into());
    }
    if tls_dir.is_some() {
        for url in &mut urls {
            if let Some(addr) = url.strip_prefix("nats://") {
                *url = format!("tls://{addr}");
            }
        }
    }
    let target = Target { urls, pids };
    let mut reports = Vec::new();
    let mut ok = true;
    for spec in &specs {
        match scenarios::run(spec, &target) {
            Ok(report) => reports.push(report),
            Err(e) => {
                eprintln!("FAIL {}: {e}", spec.label);
                ok = false;
            }
        }
    }
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&reports).expect("JSON of plain values")
        );
    } else if !reports.is_empty() {
        print!("{}", report::reports_table(&reports));
    }
    Ok(ok)
}

/// What `soak` runs against: `--natsd` and `--reference` both, or one `--url` and `--pid`.
fn soak_targets(
    bins: (Option<PathBuf>, Option<PathBuf>),
    mut urls: Vec<String>,
    mut pids: Vec<u32>,
) -> Result<soak::Targets, String> {
    match (bins, urls.len(), pids.len()) {
        ((Some(natsd), Some(reference)), 0, 0) => Ok(soak::Targets::Pair { natsd, reference }),
        ((None, None), 1, 1) => Ok(soak::Targets::Running {
            url: urls.remove(0),
            pid: pids.remove(0),
        }),
        _ => Err("soak takes --natsd PATH --reference PATH, or one --url and one --pid".into()),
    }
}
