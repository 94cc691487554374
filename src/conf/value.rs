//! The value tree produced by the parser: typed values with the position the
//! reference attaches to them, and maps that keep keys in file order.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use super::error::ConfError;

/// A position in a config file, as the reference reports it.
///
/// `col` reproduces the reference's quirk: it is the byte offset within the
/// line, 0-based on line 1 and 1-based on every later line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pos {
    /// The file as named by the reference: the path given for the main file,
    /// the joined and cleaned path for an included file.
    pub file: Arc<Path>,
    /// 1-based line.
    pub line: usize,
    /// Column as described above.
    pub col: usize,
}

impl fmt::Display for Pos {
    /// `file:line:col`, the prefix of the reference's configuration errors.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.col)
    }
}

/// A parsed value with where it came from.
///
/// `pos` is the position the reference's error messages use for this value:
/// for a map entry the position of its *key*; for an array element the
/// position of the element itself (for a nested map or array that is just
/// after its closing bracket, for a `$variable` the name after the `$`).
/// Values read from an environment variable carry, at every depth, the
/// position of the `$NAME` reference.
#[derive(Clone, Debug, PartialEq)]
pub struct Value {
    /// The typed value.
    pub kind: Kind,
    /// Where the reference locates it.
    pub pos: Pos,
}

impl Value {
    /// An error located at this value, printed `file:line:col: message`.
    pub fn error(&self, message: impl Into<String>) -> ConfError {
        ConfError::at(self.pos.clone(), message)
    }
}

/// The types a configuration value can have.
#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    /// `true`/`false`/`yes`/`no`/`on`/`off`, any case, unquoted.
    Bool(bool),
    /// An integer, size suffixes already applied (wrapping like Go's int64).
    Int(i64),
    /// A float (`1.5`, `-0.25`; no exponent syntax).
    Float(f64),
    /// Any string: quoted, unquoted, block or IP-like.
    String(String),
    /// An ISO-8601 Zulu datetime (`2016-05-04T18:53:41Z`).
    Datetime(Datetime),
    /// `[ ... ]`.
    Array(Vec<Value>),
    /// `{ ... }`.
    Map(Map),
}

impl Kind {
    /// Counts this value and everything inside it, and measures how deeply
    /// maps and arrays nest in it (0 for a scalar). Counting stops early once
    /// it exceeds `max_values`. Iterative, so any depth is safe.
    pub(crate) fn measure(&self, max_values: usize) -> (usize, usize) {
        let (mut values, mut depth) = (0, 0);
        let mut pending = vec![(self, 0)];
        while let Some((kind, above)) = pending.pop() {
            values += 1;
            if values > max_values {
                break;
            }
            let children: Box<dyn Iterator<Item = &Value>> = match kind {
                Kind::Array(items) => Box::new(items.iter()),
                Kind::Map(map) => Box::new(map.iter().map(|entry| &entry.value)),
                _ => continue,
            };
            depth = depth.max(above + 1);
            pending.extend(children.map(|value| (&value.kind, above + 1)));
        }
        (values, depth)
    }

    /// The Go dynamic type name the reference uses in messages such as
    /// `interface conversion: interface {} is string, not int64`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Kind::Bool(_) => "bool",
            Kind::Int(_) => "int64",
            Kind::Float(_) => "float64",
            Kind::String(_) => "string",
            Kind::Datetime(_) => "time.Time",
            Kind::Array(_) => "[]interface {}",
            Kind::Map(_) => "map[string]interface {}",
        }
    }
}

/// A validated UTC datetime as written in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Datetime {
    /// Year, 0–9999.
    pub year: u16,
    /// Month, 1–12.
    pub month: u8,
    /// Day of the month, valid for `month` and `year`.
    pub day: u8,
    /// Hour, 0–23.
    pub hour: u8,
    /// Minute, 0–59.
    pub minute: u8,
    /// Second, 0–59.
    pub second: u8,
}

impl fmt::Display for Datetime {
    /// The file form, `YYYY-MM-DDTHH:MM:SSZ`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

/// One key of a map with its value.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// The key exactly as written (case preserved, quotes removed).
    pub key: String,
    /// The value; `value.pos` is the position of the key.
    pub value: Value,
    /// Whether a later `$key` reference read this entry. The reference does
    /// not report such keys as unknown fields.
    pub used_as_variable: bool,
}

/// A map with keys in file order. Keys are case-sensitive; redefining a key
/// replaces the earlier entry (last one wins, as in the reference) in the
/// earlier entry's place.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Map {
    entries: Vec<Entry>,
    index: HashMap<String, usize>,
}

impl Map {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `key` to `value` (replacing any earlier value and its
    /// `used_as_variable` flag).
    pub fn insert(&mut self, key: String, value: Value) {
        self.insert_entry(Entry {
            key,
            value,
            used_as_variable: false,
        });
    }

    /// Adds an entry, replacing an existing one with the same key in place.
    pub(crate) fn insert_entry(&mut self, entry: Entry) {
        match self.index.get(&entry.key) {
            Some(&slot) => self.entries[slot] = entry,
            None => {
                self.index.insert(entry.key.clone(), self.entries.len());
                self.entries.push(entry);
            }
        }
    }

    /// The value of `key` (exact, case-sensitive match).
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.entry(key).map(|entry| &entry.value)
    }

    /// The entry of `key` (exact, case-sensitive match).
    pub fn entry(&self, key: &str) -> Option<&Entry> {
        self.index.get(key).map(|&slot| &self.entries[slot])
    }

    /// Marks `key` as read through a `$key` reference and returns its value.
    pub(crate) fn use_as_variable(&mut self, key: &str) -> Option<&Value> {
        let slot = *self.index.get(key)?;
        let entry = &mut self.entries[slot];
        entry.used_as_variable = true;
        Some(&entry.value)
    }

    /// Mutable access to every value, in file order.
    pub(crate) fn values_mut(&mut self) -> impl Iterator<Item = &mut Value> {
        self.entries.iter_mut().map(|entry| &mut entry.value)
    }

    /// The entries in file order.
    pub fn iter(&self) -> std::slice::Iter<'_, Entry> {
        self.entries.iter()
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the map has no keys.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl<'a> IntoIterator for &'a Map {
    type Item = &'a Entry;
    type IntoIter = std::slice::Iter<'a, Entry>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl IntoIterator for Map {
    type Item = Entry;
    type IntoIter = std::vec::IntoIter<Entry>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(line: usize, col: usize) -> Pos {
        Pos {
            file: Arc::from(Path::new("t.conf")),
            line,
            col,
        }
    }

    fn int(n: i64) -> Value {
        Value {
            kind: Kind::Int(n),
            pos: pos(1, 0),
        }
    }

    #[test]
    fn map_keeps_order_and_last_value_wins() {
        let mut map = Map::new();
        map.insert("b".into(), int(1));
        map.insert("a".into(), int(2));
        map.insert("b".into(), int(3));
        let keys: Vec<_> = map.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["b", "a"]);
        assert_eq!(map.get("b"), Some(&int(3)));
        assert_eq!(map.len(), 2);
        assert!(map.get("B").is_none(), "keys are case-sensitive");
    }

    #[test]
    fn redefinition_clears_the_variable_mark() {
        let mut map = Map::new();
        map.insert("x".into(), int(1));
        assert!(map.use_as_variable("x").is_some());
        assert!(map.entry("x").unwrap().used_as_variable);
        map.insert("x".into(), int(2));
        assert!(!map.entry("x").unwrap().used_as_variable);
    }

    #[test]
    fn measure_counts_values_and_depth() {
        assert_eq!(Kind::Int(1).measure(10), (1, 0));
        let inner = Value {
            kind: Kind::Array(vec![int(1), int(2)]),
            pos: pos(1, 0),
        };
        let mut map = Map::new();
        map.insert("a".into(), inner);
        map.insert("b".into(), int(3));
        let outer = Kind::Array(vec![
            Value {
                kind: Kind::Map(map),
                pos: pos(1, 0),
            },
            int(4),
        ]);
        assert_eq!(outer.measure(100), (7, 3));
        assert_eq!(outer.measure(2).0, 3, "stops once over the limit");
    }

    #[test]
    fn display_and_type_names() {
        assert_eq!(pos(3, 5).to_string(), "t.conf:3:5");
        let dt = Datetime {
            year: 2016,
            month: 5,
            day: 4,
            hour: 18,
            minute: 53,
            second: 1,
        };
        assert_eq!(dt.to_string(), "2016-05-04T18:53:01Z");
        assert_eq!(Kind::Int(1).type_name(), "int64");
        assert_eq!(Kind::Float(1.0).type_name(), "float64");
        assert_eq!(Kind::String(String::new()).type_name(), "string");
        assert_eq!(Kind::Bool(true).type_name(), "bool");
        assert_eq!(Kind::Datetime(dt).type_name(), "time.Time");
        assert_eq!(Kind::Array(vec![]).type_name(), "[]interface {}");
        assert_eq!(Kind::Map(Map::new()).type_name(), "map[string]interface {}");
        let err = int(1).error("bad");
        assert_eq!(err.to_string(), "t.conf:1:0: bad");
    }
}
