//! Typed access to configuration values with the reference's failure text: its Go code
//! asserts a type (`v.(int64)`) and the recovered panic becomes the message
//! `interface conversion: interface {} is <got>, not <want>` at the value.

use crate::conf::{ConfError, Kind, Map, Value};
use crate::gofmt;

/// The Go type-assertion failure for `value` expected to be `want`.
pub(super) fn type_error(value: &Value, want: &str) -> ConfError {
    value.error(format!(
        "interface conversion: interface {{}} is {}, not {want}",
        value.kind.type_name()
    ))
}

/// An integer (`int64`).
pub(super) fn int(value: &Value) -> Result<i64, ConfError> {
    match value.kind {
        Kind::Int(n) => Ok(n),
        _ => Err(type_error(value, "int64")),
    }
}

/// A boolean.
pub(super) fn boolean(value: &Value) -> Result<bool, ConfError> {
    match value.kind {
        Kind::Bool(b) => Ok(b),
        _ => Err(type_error(value, "bool")),
    }
}

/// A string.
pub(super) fn string(value: &Value) -> Result<&str, ConfError> {
    match &value.kind {
        Kind::String(text) => Ok(text),
        _ => Err(type_error(value, "string")),
    }
}

/// An array.
pub(super) fn array(value: &Value) -> Result<&[Value], ConfError> {
    match &value.kind {
        Kind::Array(items) => Ok(items),
        _ => Err(type_error(value, "[]interface {}")),
    }
}

/// A map.
pub(super) fn map(value: &Value) -> Result<&Map, ConfError> {
    match &value.kind {
        Kind::Map(map) => Ok(map),
        _ => Err(type_error(value, "map[string]interface {}")),
    }
}

/// A value as Go's `%q` prints the reference's parsed value: a string quoted, an integer as
/// a quoted character (`'\x05'`), anything else `%!q(<type>=<value>)`.
pub(super) fn go_quote(kind: &Kind) -> String {
    match kind {
        Kind::String(text) => gofmt::quote_str(text),
        Kind::Int(n) => gofmt::quote_rune(*n),
        other => format!("%!q({}={})", other.type_name(), go_text(other)),
    }
}

/// A value as Go's `%v` prints the reference's parsed value, for messages such as
/// `Expected users field to be an array, got x`. (Inside arrays and maps the reference
/// prints the addresses of its token wrappers; natsd prints the values instead.)
pub(super) fn go_text(kind: &Kind) -> String {
    match kind {
        Kind::Bool(b) => b.to_string(),
        Kind::Int(n) => n.to_string(),
        Kind::Float(f) => gofmt::float(*f),
        Kind::String(text) => text.clone(),
        Kind::Datetime(dt) => format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02} +0000 UTC",
            dt.year, dt.month, dt.day, dt.hour, dt.minute, dt.second
        ),
        Kind::Array(items) => {
            let items: Vec<String> = items.iter().map(|v| go_text(&v.kind)).collect();
            format!("[{}]", items.join(" "))
        }
        Kind::Map(map) => {
            // Go prints maps with sorted keys.
            let mut entries: Vec<(&str, String)> = map
                .iter()
                .map(|e| (e.key.as_str(), go_text(&e.value.kind)))
                .collect();
            entries.sort();
            let entries: Vec<String> = entries.iter().map(|(k, v)| format!("{k}:{v}")).collect();
            format!("map[{}]", entries.join(" "))
        }
    }
}
