//! The nats-server (gnatsd) configuration language, text → value tree: lexer, parser,
//! `$variables`, `include`, positions (no option names).
//!
//! This module turns a configuration file into a tree of typed [`Value`]s
//! with the positions the reference server uses in its messages, and reports
//! language errors with the reference's exact wording. It knows nothing about
//! server options: mapping the tree onto options (case-insensitive key
//! matching, type checks, unknown fields) is the caller's job.
//!
//! The language, as implemented by nats-server 2.9 (`conf/lex.go`,
//! `conf/parse.go`), in short:
//!
//! * `key = value`, `key: value` or `key value`; `key { ... }` needs no
//!   separator. Entries end at a newline, `;` or `,` (also `}` at the top
//!   level); `#` and `//` start comments. A file may be wrapped in `{ }`.
//! * Keys: unquoted (up to whitespace, `=` or `:`), `"quoted"` or `'quoted'`
//!   (no escapes). Keys are case-sensitive in the tree; the reference's option
//!   mapper lowercases them (`strings.ToLower`) when matching option names.
//! * Values: `"double"` strings with `\t \n \r \" \\ \xHH` escapes, `'raw'`
//!   strings, unquoted strings (escapes processed too), `( ... )` blocks ending
//!   at a `)` alone on a line, integers with optional sign and size suffix,
//!   floats, booleans (`true/false/yes/no/on/off`, any case, unquoted only),
//!   `YYYY-MM-DDTHH:MM:SSZ` datetimes, `[ ... ]` arrays, `{ ... }` maps.
//! * `$NAME` refers to a key defined earlier in an enclosing map (innermost
//!   first), else to the environment variable `NAME`, whose value is parsed as
//!   a config value. `$2a$...` (bcrypt) is a plain string.
//! * `include path` inserts the top-level keys of another file, resolved
//!   relative to the including file (read through [`Files`]: the file
//!   system, or files in memory with [`parse_file_from`]).
//!
//! Deliberate differences from 2.9.10 (see also `config.md`): a key with no
//! value at the end of input is rejected as in v2.9.25; environment variable
//! cycles are reported as in v2.12 instead of recursing forever; in an array
//! `]` ends an integer (`[1,2]` is two integers); nesting is limited to
//! [`MAX_NESTING`] levels and include/environment documents to
//! [`MAX_DOCUMENTS`] levels.

mod chars;
mod error;
mod files;
mod lexer;
mod parser;
mod scalar;
mod value;

#[cfg(test)]
mod tests;

use std::path::Path;

pub use error::ConfError;
pub use files::{FileSystem, Files, MemoryFiles};
pub use parser::{MAX_DOCUMENTS, MAX_NESTING};
pub use value::{Datetime, Entry, Kind, Map, Pos, Value};

/// Reads and parses the configuration file at `path`.
///
/// Positions and messages name the file as `path` is written (as the
/// reference does with the `-c` argument); includes are resolved against its
/// directory. A missing file gives `open <path>: no such file or directory`.
pub fn parse_file(path: &Path) -> Result<Map, ConfError> {
    parse_file_from(path, &FileSystem)
}

/// [`parse_file`] with the file and its includes read from `files` (the
/// file system or files in memory).
pub fn parse_file_from(path: &Path, files: &dyn Files) -> Result<Map, ConfError> {
    let shared = parser::Shared::new(files);
    parser::parse_file_in(path, parser::Scope::main(path), &shared)
}

/// Parses configuration text as if it had been read from `origin`, which is
/// used in positions and messages and to resolve includes.
pub fn parse_str(text: &str, origin: &Path) -> Result<Map, ConfError> {
    let shared = parser::Shared::new(&FileSystem);
    parser::parse_document(text.as_bytes(), parser::Scope::main(origin), &shared)
}
