//! The `natsd` daemon: command line → options → logging → server → signal loop.

use std::process::exit;

use natsd::cli::{self, Command};
use natsd::{logging, process, Server};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opts = match cli::parse(&args) {
        Ok(Command::Run(opts)) => opts,
        Ok(Command::Print(text)) => {
            print!("{text}");
            exit(0);
        }
        Err(err) => {
            eprint!("{}", err.stderr);
            print!("{}", err.stdout);
            exit(err.code);
        }
    };
    if let Err(err) = logging::init(&opts.log) {
        eprintln!("natsd: {err}");
        exit(1);
    }
    let signals = match process::trap_signals() {
        Ok(signals) => signals,
        Err(err) => logging::fatal(format_args!("Unable to trap signals: {err}")),
    };
    process::raise_fd_limit();
    let server = match Server::start(opts) {
        Ok(server) => server,
        Err(err) => logging::fatal(format_args!("{err}")),
    };
    exit(process::run_until_stopped(signals, server));
}
