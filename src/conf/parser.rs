//! Builds the value tree from the lexer's items, following the reference
//! parser (`conf/parse.go`): a stack of open maps/arrays, a stack of pending
//! keys, block-scoped `$variable` lookup with an environment fallback, and
//! `include` of other files.
//!
//! The key stack is kept exactly like the reference's, including its quirk:
//! a key whose value is dropped (an integer with an unknown size suffix)
//! stays on the stack, so `x { a = 1kbb }` stores the map under `a`.

use std::cell::Cell;
use std::path::Path;
use std::sync::Arc;

use crate::gopath;

use super::error::ConfError;
use super::files::Files;
use super::lexer::{Item, ItemKind, Lexer};
use super::scalar;
use super::value::{Entry, Kind, Map, Pos, Value};

/// Maximum nesting of maps and arrays (across includes and environment
/// values). The reference has no limit; this one keeps every recursive
/// operation on the tree (drop, clone, compare) far from the stack limit.
pub const MAX_NESTING: usize = 256;

/// Maximum nesting of documents parsed for `include` and for environment
/// variable values. Deeper nesting is almost certainly an include cycle
/// (on which the reference recurses until it crashes).
pub const MAX_DOCUMENTS: usize = 32;

/// Maximum number of values copied by `$variable` references in one
/// configuration (the file, its includes and environment values together).
/// The reference shares values between references; copies could otherwise
/// grow exponentially (`b = [$a, $a]`, `c = [$b, $b]`, ...), or by the
/// limit times [`MAX_DOCUMENTS`] with a limit per document.
const MAX_COPIED_VALUES: usize = 1_000_000;

/// The key the reference stores an environment variable's value under while
/// parsing it as `pk=<value>`.
const ENV_KEY: &str = "pk";

/// Prefix of bcrypt hashes, which look like variables but are not.
const BCRYPT_PREFIX: &str = "2a$";

/// The reference's two parse modes, which differ in how a file that cannot
/// be read is reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// `ParseFileWithChecks`: the main file and the files it includes.
    Checks,
    /// `Parse`/`ParseFile`: an environment variable's value and any file it
    /// includes (read errors get an `error opening config file: ` prefix).
    Plain,
}

/// Everything a document's parse needs to know about where it sits.
#[derive(Debug)]
pub(crate) struct Scope {
    mode: Mode,
    /// The file name used in positions and messages (empty for env values).
    file: Arc<Path>,
    /// Go's `filepath.Dir(file)`: where includes are resolved.
    dir: String,
    /// Environment variables being expanded (cycle detection).
    env_chain: Vec<String>,
    /// Enclosing includes and environment values.
    documents: usize,
    /// Nesting depth of the map this document's keys land in.
    base_depth: usize,
}

impl Scope {
    /// The scope of a top-level configuration file named `file`.
    pub(crate) fn main(file: &Path) -> Self {
        Scope::for_file(Mode::Checks, file, 0, 0)
    }

    fn for_file(mode: Mode, file: &Path, documents: usize, base_depth: usize) -> Self {
        Scope {
            mode,
            file: Arc::from(file),
            dir: gopath::dir(&file.to_string_lossy()),
            env_chain: Vec::new(),
            documents,
            base_depth,
        }
    }
}

/// What all the documents of one configuration (the file, its includes and
/// environment values) share.
pub(crate) struct Shared<'a> {
    /// Where the file and its includes are read.
    files: &'a dyn Files,
    /// Values copied so far by `$variable` references.
    copied_values: Cell<usize>,
}

impl<'a> Shared<'a> {
    /// The start of a configuration read from `files`.
    pub(crate) fn new(files: &'a dyn Files) -> Self {
        Shared {
            files,
            copied_values: Cell::new(0),
        }
    }
}

/// Reads and parses the file at `path` (used for the main file and for
/// includes), reporting read errors in Go's words.
pub(crate) fn parse_file_in(path: &Path, scope: Scope, shared: &Shared) -> Result<Map, ConfError> {
    let data = shared
        .files
        .read(path)
        .map_err(|message| match scope.mode {
            Mode::Checks => ConfError::new(message),
            Mode::Plain => ConfError::new(format!("error opening config file: {message}")),
        })?;
    parse_document(&data, scope, shared)
}

/// Parses one document (file contents or `pk=<env value>`).
pub(crate) fn parse_document(text: &[u8], scope: Scope, shared: &Shared) -> Result<Map, ConfError> {
    Parser {
        lexer: Lexer::new(text),
        scope,
        shared,
        root: Map::new(),
        open: Vec::new(),
        keys: Vec::new(),
    }
    .run()
}

/// An open `{` or `[` whose contents are being collected.
enum Open {
    Map(Map),
    Array(Vec<Value>),
}

/// A key waiting for its value.
struct PendingKey {
    name: String,
    pos: Pos,
}

struct Parser<'a> {
    lexer: Lexer<'a>,
    scope: Scope,
    shared: &'a Shared<'a>,
    root: Map,
    open: Vec<Open>,
    keys: Vec<PendingKey>,
}

impl Parser<'_> {
    fn run(mut self) -> Result<Map, ConfError> {
        let mut dangling_key = false;
        loop {
            let item = self.lexer.next_item();
            if item.kind == ItemKind::Eof {
                if dangling_key {
                    return Err(self.dangling_key_error(&item));
                }
                return Ok(self.root);
            }
            // A trailing "}" key is allowed so that JSON-like files work.
            dangling_key = item.kind == ItemKind::Key && item.text != b"}";
            self.process(&item)?;
        }
    }

    /// The v2.9.25 check for a key without a value at the end of input.
    fn dangling_key_error(&self, eof: &Item) -> ConfError {
        ConfError::new(format!(
            "config is invalid ({}:{}:{})",
            self.scope.file.display(),
            eof.line,
            eof.pos
        ))
    }

    fn process(&mut self, item: &Item) -> Result<(), ConfError> {
        let text = String::from_utf8_lossy(&item.text).into_owned();
        let kind = match item.kind {
            ItemKind::Error => {
                return Err(ConfError::new(format!(
                    "Parse error on line {}: '{text}'",
                    item.line
                )))
            }
            ItemKind::Eof => return Ok(()),
            ItemKind::Key => {
                let pos = self.pos_of(item);
                self.keys.push(PendingKey { name: text, pos });
                return Ok(());
            }
            ItemKind::MapStart => return self.open(Open::Map(Map::new()), item),
            ItemKind::ArrayStart => return self.open(Open::Array(Vec::new()), item),
            ItemKind::MapEnd | ItemKind::ArrayEnd => match self.open.pop() {
                Some(Open::Map(map)) => Kind::Map(map),
                Some(Open::Array(items)) => Kind::Array(items),
                None => return Ok(()),
            },
            ItemKind::Variable => return self.variable(item, &text),
            ItemKind::Include => return self.include(&text),
            ItemKind::String => Kind::String(text),
            ItemKind::Bool => Kind::Bool(scalar::boolean(&text).map_err(ConfError::new)?),
            ItemKind::Float => Kind::Float(scalar::float(&text).map_err(ConfError::new)?),
            ItemKind::Datetime => Kind::Datetime(scalar::datetime(&text).map_err(ConfError::new)?),
            ItemKind::Integer => match scalar::integer(&text).map_err(ConfError::new)? {
                Some(number) => Kind::Int(number),
                None => return Ok(()),
            },
        };
        let value = Value {
            kind,
            pos: self.pos_of(item),
        };
        self.set_value(value, false);
        Ok(())
    }

    fn pos_of(&self, item: &Item) -> Pos {
        Pos {
            file: self.scope.file.clone(),
            line: item.line,
            col: item.pos,
        }
    }

    /// Current nesting depth, counting the documents this one is inside.
    fn depth(&self) -> usize {
        self.scope.base_depth + self.open.len()
    }

    fn open(&mut self, container: Open, item: &Item) -> Result<(), ConfError> {
        if self.depth() >= MAX_NESTING {
            return Err(ConfError::new(format!(
                "Parse error on line {}: 'Maps and arrays nested deeper than {MAX_NESTING} levels'",
                item.line
            )));
        }
        self.open.push(container);
        Ok(())
    }

    /// Stores a value in the innermost open container: appended to an array,
    /// or set in a map under the most recent pending key (whose position the
    /// value then takes).
    fn set_value(&mut self, mut value: Value, used_as_variable: bool) {
        let map = match self.open.last_mut() {
            Some(Open::Array(items)) => {
                items.push(value);
                return;
            }
            Some(Open::Map(map)) => map,
            None => &mut self.root,
        };
        // The lexer only yields map values after a key; nothing to do if not.
        if let Some(key) = self.keys.pop() {
            value.pos = key.pos;
            map.insert_entry(Entry {
                key: key.name,
                value,
                used_as_variable,
            });
        }
    }

    // ----- variables ------------------------------------------------------

    fn variable(&mut self, item: &Item, name: &str) -> Result<(), ConfError> {
        let pos = self.pos_of(item);
        let found = self.lookup(name, &pos).map_err(|reason| {
            ConfError::new(format!(
                "variable reference for '{name}' on line {} could not be parsed: {reason}",
                item.line
            ))
        })?;
        let Some(kind) = found else {
            return Err(ConfError::new(format!(
                "variable reference for '{name}' on line {} can not be found",
                item.line
            )));
        };
        self.set_value(Value { kind, pos }, false);
        Ok(())
    }

    /// Resolves `$name`: bcrypt hashes are literal strings; then the keys
    /// already defined in the enclosing maps, innermost first (marking the
    /// entry as used); then the environment.
    fn lookup(&mut self, name: &str, at: &Pos) -> Result<Option<Kind>, String> {
        if name.starts_with(BCRYPT_PREFIX) {
            return Ok(Some(Kind::String(format!("${name}"))));
        }
        let depth_here = self.depth();
        let copied = &self.shared.copied_values;
        let budget = MAX_COPIED_VALUES.saturating_sub(copied.get());
        let enclosing = self.open.iter_mut().rev().filter_map(|open| match open {
            Open::Map(map) => Some(map),
            Open::Array(_) => None,
        });
        let found = enclosing
            .chain(std::iter::once(&mut self.root))
            .find_map(|map| map.use_as_variable(name))
            .map(|value| copy_within_limits(&value.kind, budget, depth_here));
        match found {
            Some(copy) => {
                let (kind, values) = copy?;
                copied.set(copied.get() + values);
                Ok(Some(kind))
            }
            None => self.lookup_env(name, at),
        }
    }

    /// Parses an environment variable's value as a config value
    /// (`pk=<value>`), so `4222` stays an integer. Every value read this way
    /// is located at the `$NAME` reference.
    fn lookup_env(&self, name: &str, at: &Pos) -> Result<Option<Kind>, String> {
        if self.scope.env_chain.iter().any(|seen| seen == name) {
            return Err(format!("variable reference cycle for '{name}'"));
        }
        let Some(raw) = env_var(name) else {
            return Ok(None);
        };
        if self.scope.documents >= MAX_DOCUMENTS {
            return Err(format!(
                "variable references nested deeper than {MAX_DOCUMENTS} levels"
            ));
        }
        let mut env_chain = self.scope.env_chain.clone();
        env_chain.push(name.to_string());
        let scope = Scope {
            mode: Mode::Plain,
            file: Arc::from(Path::new("")),
            dir: gopath::dir(""),
            env_chain,
            documents: self.scope.documents + 1,
            base_depth: self.depth(),
        };
        let text = format!("{ENV_KEY}={raw}");
        let parsed =
            parse_document(text.as_bytes(), scope, self.shared).map_err(|err| err.to_string())?;
        let Some(entry) = parsed.into_iter().find(|entry| entry.key == ENV_KEY) else {
            return Ok(None);
        };
        let mut value = entry.value;
        relocate(&mut value, at);
        Ok(Some(value.kind))
    }

    // ----- include --------------------------------------------------------

    /// `include <name>`: parses the file (relative to this file's directory,
    /// with Go's path joining) as its own document and sets its top-level
    /// keys here.
    fn include(&mut self, name: &str) -> Result<(), ConfError> {
        let wrap = |reason: String| {
            ConfError::new(format!("error parsing include file '{name}', {reason}"))
        };
        if self.scope.documents >= MAX_DOCUMENTS {
            return Err(wrap(format!(
                "includes nested deeper than {MAX_DOCUMENTS} levels"
            )));
        }
        let path = gopath::join(&self.scope.dir, name);
        let scope = Scope::for_file(
            self.scope.mode,
            Path::new(&path),
            self.scope.documents + 1,
            self.depth(),
        );
        let included = parse_file_in(Path::new(&path), scope, self.shared)
            .map_err(|err| wrap(err.to_string()))?;
        for entry in included {
            self.keys.push(PendingKey {
                name: entry.key,
                pos: entry.value.pos.clone(),
            });
            self.set_value(entry.value, entry.used_as_variable);
        }
        Ok(())
    }
}

/// Copies a variable's value unless that exceeds the copy `budget` or
/// nests the tree (placed at `depth_here`) deeper than [`MAX_NESTING`].
/// Returns the copy and how many values it holds.
fn copy_within_limits(
    kind: &Kind,
    budget: usize,
    depth_here: usize,
) -> Result<(Kind, usize), String> {
    let (values, depth) = kind.measure(budget);
    if values > budget {
        return Err(format!(
            "variable references copy more than {MAX_COPIED_VALUES} values"
        ));
    }
    if depth_here + depth > MAX_NESTING {
        return Err(format!(
            "maps and arrays nested deeper than {MAX_NESTING} levels"
        ));
    }
    Ok((kind.clone(), values))
}

/// Reads an environment variable like Go's `os.LookupEnv` (names that cannot
/// exist are simply not found).
fn env_var(name: &str) -> Option<String> {
    if name.is_empty() || name.contains(['=', '\0']) {
        return None;
    }
    std::env::var_os(name).map(|value| value.to_string_lossy().into_owned())
}

/// Sets the position of `value` and of everything inside it to `at`.
fn relocate(value: &mut Value, at: &Pos) {
    let mut pending = vec![value];
    while let Some(value) = pending.pop() {
        value.pos = at.clone();
        match &mut value.kind {
            Kind::Array(items) => pending.extend(items.iter_mut()),
            Kind::Map(map) => pending.extend(map.values_mut()),
            _ => {}
        }
    }
}
