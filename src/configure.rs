//! Command line + file → [`Options`], as nats-server's `ConfigureOptions`: defaults, then the
//! file ([`crate::config`]), then the flags on top (flags always win). Used at start, for `-t`,
//! and on every reload.

use crate::cli::Invocation;
use crate::config;
use crate::options::Options;

/// Options ready to run with, and the file's warnings (printed at start, fatal for `-t`).
pub struct Configured {
    pub options: Options,
    pub warnings: Vec<String>,
}

/// Reads the configuration file (if any) and applies the flags. The error is the text to
/// print after `natsd: `; a file's messages each end in a newline, as the reference prints
/// them.
pub fn configure(invocation: &Invocation) -> Result<Configured, String> {
    let mut base = Options::default();
    let mut warnings = Vec::new();
    match &invocation.config_file {
        Some(path) => {
            let report = config::apply_file(path, &mut base);
            if !report.errors.is_empty() {
                return Err(report.message());
            }
            warnings = report.warnings;
        }
        None if invocation.check_config => {
            return Err(
                "must specify [-c, --config] option to check configuration file syntax".into(),
            );
        }
        None => {}
    }
    let options = invocation.options(base)?;
    Ok(Configured { options, warnings })
}

/// `-t`: the message to print after `natsd: ` and whether the configuration is valid
/// (warnings make it invalid, as in the reference).
pub fn check(invocation: &Invocation) -> (String, bool) {
    match configure(invocation) {
        Ok(configured) if configured.warnings.is_empty() => {
            let path = invocation
                .config_file
                .as_deref()
                .map_or(String::new(), |p| p.display().to_string());
            (format!("configuration file {path} is valid"), true)
        }
        Ok(configured) => (lines(&configured.warnings), false),
        Err(text) => (text, false),
    }
}

/// Each message on its own line.
pub fn lines<'a>(messages: impl IntoIterator<Item = &'a String>) -> String {
    messages.into_iter().map(|m| format!("{m}\n")).collect()
}
