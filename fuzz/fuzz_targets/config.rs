//! The configuration language end to end, without the file system: text → value tree →
//! keys → `Options`, then the checks the server makes before it starts. Never panics
//! (errors are fine).
//!
//! The input is up to three files separated by 0xFF bytes: `main.conf`, then `a.conf` and
//! `b.conf`, which `include a.conf` (or `./b.conf`, `x/../a.conf`, ...) finds. Option names
//! and tokens are in a dictionary:
//!   cargo +nightly fuzz run config -- -dict=config.dict
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use natsd::conf::MemoryFiles;
use natsd::config;
use natsd::options::Options;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(3, |&byte| byte == 0xFF);
    let mut files = MemoryFiles::new();
    files.insert("main.conf", parts.next().unwrap_or_default());
    for (name, part) in ["a.conf", "b.conf"].into_iter().zip(parts) {
        files.insert(name, part);
    }
    let mut opts = Options::default();
    let report = config::apply_file_from(Path::new("main.conf"), &files, &mut opts);
    let _ = report.message();
    // A report with errors leaves the options partly updated; the server would stop, but
    // nothing may panic on them either.
    let _ = opts.validate();
    let _ = opts.unsupported_yet();
    let _ = opts.has_plaintext_passwords();
    let _ = opts.tls_timeout();
    let _ = opts.auth_timeout();
});
