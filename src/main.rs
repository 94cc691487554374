//! The `natsd` daemon: command line → configuration → logging → server → signal loop.

use std::process::exit;

use natsd::cli::{self, Command};
use natsd::configure::{self, lines};
use natsd::{logging, process, signal_cmd, Server};

fn main() {
    process::use_one_malloc_arena();
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let invocation = match cli::parse(&args) {
        Ok(Command::Run(invocation)) => invocation,
        Ok(Command::Print(text)) => {
            print!("{text}");
            exit(0);
        }
        Ok(Command::Signal(request)) => match signal_cmd::send(&request) {
            Ok(()) => exit(0),
            Err(err) => fail(&err),
        },
        Err(err) => {
            eprint!("{}", err.stderr);
            print!("{}", err.stdout);
            exit(err.code);
        }
    };
    if invocation.check_config {
        let (message, valid) = configure::check(&invocation);
        eprintln!("natsd: {message}");
        exit(if valid { 0 } else { 1 });
    }
    let configured = configure::configure(&invocation).unwrap_or_else(|err| fail(&err));
    eprint!("{}", lines(&configured.warnings));
    let opts = configured.options;
    if let Some(feature) = opts.unsupported_yet() {
        fail(&format!("{feature} is not supported yet"));
    }
    if let Err(err) = logging::init(&opts.log) {
        fail(&err);
    }
    let signals = process::trap_signals()
        .unwrap_or_else(|err| logging::fatal(format_args!("Unable to trap signals: {err}")));
    process::raise_fd_limit();
    // As the reference: bad options end the process with `natsd: <error>` before the banner;
    // failures once it starts (a port in use) are logged as fatal.
    let starting = Server::prepare(opts).unwrap_or_else(|err| fail(&err.to_string()));
    let daemon =
        process::start(starting).unwrap_or_else(|err| logging::fatal(format_args!("{err}")));
    exit(process::run_until_stopped(signals, daemon, &invocation));
}

/// `natsd: <message>` on stderr, exit status 1.
fn fail(message: &str) -> ! {
    eprintln!("natsd: {message}");
    exit(1);
}
