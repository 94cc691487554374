//! `authorization {}` and the permission maps (`parseAuthorization`, `parseUsers`,
//! `parseUserPermissions`, `parseVariablePermissions`, `parseSubjectPermission`,
//! `parsePermSubjects`, `parseAllowResponses`).

use std::collections::{BTreeSet, HashSet};

use super::{get, non_empty, parse_duration, positive, Collector, Step};
use crate::conf::{ConfError, Entry, Kind, Map, Value};
use crate::gofmt::quote_str;
use crate::options::{NkeyUser, Options, Permissions, ResponsePermission, SubjectPermission, User};

/// Connection types a user may be limited to (jwt `ConnectionType*`).
const CONNECTION_TYPES: [&str; 6] = [
    "STANDARD",
    "WEBSOCKET",
    "LEAFNODE",
    "LEAFNODE_WS",
    "MQTT",
    "MQTT_WS",
];

/// An `authorization {}` block as read, before the checks of its context (top level or
/// cluster). Empty strings mean "not given".
#[derive(Default)]
pub(super) struct Authorization {
    pub(super) user: String,
    pub(super) password: String,
    pub(super) token: String,
    pub(super) timeout: f64,
    /// `users`, when the block has a valid `users` array (possibly empty).
    pub(super) users: Option<Vec<User>>,
    pub(super) nkeys: Vec<NkeyUser>,
    pub(super) default_permissions: Option<Permissions>,
}

/// Reads an `authorization` map. `Err` is a wrong value type, which ends the block.
pub(super) fn parse(out: &mut Collector, value: &Value) -> Result<Authorization, ConfError> {
    let mut auth = Authorization::default();
    for entry in get::map(value)? {
        let value = &entry.value;
        match entry.key.to_lowercase().as_str() {
            "user" | "username" => auth.user = get::string(value)?.to_string(),
            "pass" | "password" => auth.password = get::string(value)?.to_string(),
            "token" => auth.token = get::string(value)?.to_string(),
            "timeout" => auth.timeout = timeout_secs(value),
            "users" => {
                if let Some((users, nkeys)) = parse_users(out, value) {
                    (auth.users, auth.nkeys) = (Some(users), nkeys);
                }
            }
            "default_permission" | "default_permissions" | "permissions" => {
                if let Some(permissions) = parse_permissions(out, value, true) {
                    auth.default_permissions = Some(permissions);
                }
            }
            _ => out.unknown(entry),
        }
    }
    if let Some(defaults) = &auth.default_permissions {
        let users = auth.users.as_deref_mut().unwrap_or_default();
        apply_default_permissions(defaults, users, &mut auth.nkeys);
    }
    Ok(auth)
}

/// An authorization `timeout` in seconds: an integer or a float; any other type silently
/// means one second.
pub(super) fn timeout_secs(value: &Value) -> f64 {
    match value.kind {
        Kind::Int(n) => n as f64,
        Kind::Float(f) => f,
        _ => 1.0,
    }
}

/// Gives `defaults` to the users that have no permissions of their own
/// (`applyDefaultPermissions`).
pub(super) fn apply_default_permissions(
    defaults: &Permissions,
    users: &mut [User],
    nkeys: &mut [NkeyUser],
) {
    let users = users.iter_mut().map(|u| &mut u.permissions);
    for permissions in users.chain(nkeys.iter_mut().map(|u| &mut u.permissions)) {
        permissions.get_or_insert_with(|| defaults.clone());
    }
}

/// The top-level `authorization` key: the block and the checks between its settings,
/// reported at the key.
pub(super) fn apply_top_level(out: &mut Collector, entry: &Entry, opts: &mut Options) -> Step {
    let at = &entry.value;
    let auth = parse(out, at)?;
    if (!auth.user.is_empty() || !auth.password.is_empty()) && !auth.token.is_empty() {
        out.error(at.error("Cannot have a user/pass and token"));
        return Ok(());
    }
    let target = &mut opts.auth;
    target.user = non_empty(&auth.user);
    target.password = non_empty(&auth.password);
    target.token = non_empty(&auth.token);
    target.timeout = auth.timeout;
    let mut names: HashSet<String> = target.users.iter().map(|u| u.username.clone()).collect();
    if let Some(users) = auth.users {
        if !auth.user.is_empty() {
            out.error(at.error("Can not have a single user/pass and a users array"));
            return Ok(());
        }
        if !auth.token.is_empty() {
            out.error(at.error("Can not have a token and a users array"));
            return Ok(());
        }
        if let Some(dup) = users.iter().find(|u| !names.insert(u.username.clone())) {
            let message = format!("Duplicate user {} detected", quote_str(&dup.username));
            out.error(at.error(message));
            return Ok(());
        }
        target.users.extend(users);
    }
    names.extend(target.nkeys.iter().map(|u| u.nkey.clone()));
    if let Some(dup) = auth.nkeys.iter().find(|u| !names.insert(u.nkey.clone())) {
        out.error(at.error(format!("Duplicate nkey {} detected", quote_str(&dup.nkey))));
        return Ok(());
    }
    target.nkeys.extend(auth.nkeys);
    target.default_permissions = auth.default_permissions;
    Ok(())
}

/// `users = [ {user, password, permissions, allowed_connection_types}, {nkey, ...} ]`.
/// `None` when the reference drops the whole list: not an array, an entry without a user,
/// a bad nkey, or a wrong value type.
pub(super) fn parse_users(
    out: &mut Collector,
    value: &Value,
) -> Option<(Vec<User>, Vec<NkeyUser>)> {
    let Kind::Array(items) = &value.kind else {
        let got = get::go_text(&value.kind);
        out.error(value.error(format!("Expected users field to be an array, got {got}")));
        return None;
    };
    let (mut users, mut nkeys) = (Vec::new(), Vec::new());
    for item in items {
        let Kind::Map(map) = &item.kind else {
            let got = get::go_text(&item.kind);
            let message = format!("Expected user entry to be a map/struct, got {got}");
            out.error(item.error(message));
            continue;
        };
        match parse_user(out, item, map) {
            Ok(UserEntry::Named(user)) => users.push(user),
            Ok(UserEntry::Nkey(user)) => nkeys.push(user),
            Err(err) => {
                out.error(err);
                return None;
            }
        }
    }
    Some((users, nkeys))
}

/// A `users` entry.
enum UserEntry {
    Named(User),
    Nkey(NkeyUser),
}

/// One `users` entry (`item` is the map `map`). Errors about the entry as a whole are
/// located, as in the reference, at its last key (or at the entry when it is empty).
fn parse_user(out: &mut Collector, item: &Value, map: &Map) -> Result<UserEntry, ConfError> {
    let (mut nkey, mut username, mut password) = (String::new(), String::new(), String::new());
    let (mut permissions, mut types) = (None, BTreeSet::new());
    let mut last = item;
    for entry in map {
        let value = &entry.value;
        last = value;
        match entry.key.to_lowercase().as_str() {
            "nkey" => nkey = get::string(value)?.to_string(),
            "user" | "username" => username = get::string(value)?.to_string(),
            "pass" | "password" => password = get::string(value)?.to_string(),
            "permission" | "permissions" | "authorization" => {
                permissions = parse_permissions(out, value, true);
            }
            "allowed_connection_types" | "connection_types" | "clients" => {
                types = parse_connection_types(out, value);
            }
            _ => out.unknown(entry),
        }
    }
    if nkey.is_empty() {
        if username.is_empty() {
            return Err(last.error("User entry requires a user"));
        }
        return Ok(UserEntry::Named(User {
            username,
            password: non_empty(&password),
            permissions,
            allowed_connection_types: types,
            account: None,
        }));
    }
    if !crate::nkeys::is_valid_public_user_key(&nkey) {
        return Err(last.error("Not a valid public nkey for a user"));
    }
    if !username.is_empty() || !password.is_empty() {
        return Err(last.error("Nkey users do not take usernames or passwords"));
    }
    Ok(UserEntry::Nkey(NkeyUser {
        nkey,
        permissions,
        allowed_connection_types: types,
        account: None,
    }))
}

/// `allowed_connection_types`: a string or an array of strings, matched upper-cased. The
/// known ones are kept even when others are reported.
fn parse_connection_types(out: &mut Collector, value: &Value) -> BTreeSet<String> {
    const WHAT: &str = "error parsing allowed connection types";
    let names: Vec<&str> = match &value.kind {
        Kind::String(name) => vec![name],
        Kind::Array(items) => items
            .iter()
            .filter_map(|item| match &item.kind {
                Kind::String(name) => Some(name.as_str()),
                other => {
                    let message =
                        format!("{WHAT}: unsupported type in array {}", other.type_name());
                    out.error(item.error(message));
                    None
                }
            })
            .collect(),
        other => {
            out.error(value.error(format!("{WHAT}: unsupported type {}", other.type_name())));
            return BTreeSet::new();
        }
    };
    let (known, unknown): (Vec<String>, Vec<String>) = names
        .iter()
        .map(|name| name.to_uppercase())
        .partition(|name| CONNECTION_TYPES.contains(&name.as_str()));
    if !unknown.is_empty() {
        let list: Vec<String> = unknown.iter().map(|name| quote_str(name)).collect();
        out.error(value.error(format!("invalid connection types [{}]", list.join(" "))));
    }
    known.into_iter().collect()
}

/// An error at `value`, or without a position where the reference has lost it (it was
/// handed the bare value, not its token).
fn located(value: &Value, located: bool, message: String) -> ConfError {
    if located {
        value.error(message)
    } else {
        ConfError::new(message)
    }
}

/// A permissions map (`parseUserPermissions`). `located` is false where the reference
/// reports a non-map and bad subject lists without a position (cluster permissions).
/// `None` when the value is not a map.
pub(super) fn parse_permissions(
    out: &mut Collector,
    value: &Value,
    is_located: bool,
) -> Option<Permissions> {
    let Kind::Map(map) = &value.kind else {
        let got = get::go_text(&value.kind);
        let message = format!("Expected permissions to be a map/struct, got {got}");
        out.error(located(value, is_located, message));
        return None;
    };
    let mut permissions = Permissions::default();
    for entry in map {
        let value = &entry.value;
        let target = match entry.key.to_lowercase().as_str() {
            "pub" | "publish" | "import" => &mut permissions.publish,
            "sub" | "subscribe" | "export" => &mut permissions.subscribe,
            "publish_allow_responses" | "allow_responses" => {
                match value.kind {
                    Kind::Bool(true) => {
                        permissions.allow_responses = Some(ResponsePermission::default());
                    }
                    Kind::Bool(false) => {}
                    _ => permissions.allow_responses = parse_allow_responses(out, value),
                }
                continue;
            }
            _ => {
                unknown_permission_field(out, entry);
                continue;
            }
        };
        match value_permission(out, value) {
            Ok(subjects) => *target = subjects,
            Err(err) => out.error(err),
        }
    }
    if permissions.allow_responses.is_some() {
        // Responses only: without an explicit publish allow list, nothing else may be
        // published.
        let publish = permissions.publish.get_or_insert_with(Default::default);
        publish.allow.get_or_insert_with(Vec::new);
    }
    Some(permissions)
}

/// `publish`/`subscribe`: a subject, an array of subjects (allow list), or an
/// `{allow, deny}` map (`parseVariablePermissions`).
fn value_permission(
    out: &mut Collector,
    value: &Value,
) -> Result<Option<SubjectPermission>, ConfError> {
    match &value.kind {
        Kind::Map(map) => Ok(parse_subject_permission(out, map)),
        _ => Ok(Some(SubjectPermission {
            allow: parse_subjects(value, false)?,
            deny: None,
        })),
    }
}

/// An `{allow, deny}` map; `None` when empty (no restriction).
fn parse_subject_permission(out: &mut Collector, map: &Map) -> Option<SubjectPermission> {
    if map.is_empty() {
        return None;
    }
    let mut permission = SubjectPermission::default();
    for entry in map {
        let target = match entry.key.to_lowercase().as_str() {
            "allow" => &mut permission.allow,
            "deny" => &mut permission.deny,
            _ => {
                if !entry.used_as_variable {
                    let message = format!(
                        "Unknown field name {} parsing subject permissions, only 'allow' or 'deny' are permitted",
                        quote_str(&entry.key)
                    );
                    out.error(entry.value.error(message));
                }
                continue;
            }
        };
        match parse_subjects(&entry.value, true) {
            Ok(subjects) => *target = subjects,
            Err(err) => out.error(err),
        }
    }
    Some(permission)
}

/// A subject or an array of subjects, each a valid subject or `"subject queue"`
/// (`parsePermSubjects`). `None` for an empty array.
pub(super) fn parse_subjects(
    value: &Value,
    is_located: bool,
) -> Result<Option<Vec<String>>, ConfError> {
    let subjects = match &value.kind {
        Kind::String(subject) => vec![subject.clone()],
        Kind::Array(items) => items
            .iter()
            .map(|item| match &item.kind {
                Kind::String(subject) => Ok(subject.clone()),
                _ => Err(item.error("Subject in permissions array cannot be cast to string")),
            })
            .collect::<Result<_, _>>()?,
        other => {
            let message = format!(
                "Expected subject permissions to be a subject, or array of subjects, got {}",
                other.type_name()
            );
            return Err(located(value, is_located, message));
        }
    };
    if let Some(bad) = subjects.iter().find_map(|s| invalid_subject(s)) {
        let message = format!("subject {} is not a valid subject", quote_str(bad));
        return Err(located(value, is_located, message));
    }
    Ok((!subjects.is_empty()).then_some(subjects))
}

/// The subject to name when `subject` is not valid in a permission: the whole text, or the
/// subject of a queue-qualified `"subject queue"`.
fn invalid_subject(subject: &str) -> Option<&str> {
    let valid = |s: &str| crate::subject::is_valid_subject(s.as_bytes());
    if valid(subject) {
        return None;
    }
    let fields: Vec<&str> = subject.split_whitespace().collect();
    match fields[..] {
        [name, _queue] if valid(name) => None,
        [name, _queue] => Some(name),
        _ => Some(subject),
    }
}

/// Reports a key a permissions map does not know, unless it only holds a variable.
fn unknown_permission_field(out: &mut Collector, entry: &Entry) {
    if !entry.used_as_variable {
        let message = format!(
            "Unknown field {} parsing permissions",
            quote_str(&entry.key)
        );
        out.error(entry.value.error(message));
    }
}

/// `allow_responses = { max, expires }`; `None` after an error.
fn parse_allow_responses(out: &mut Collector, value: &Value) -> Option<ResponsePermission> {
    let Kind::Map(map) = &value.kind else {
        out.error(value.error("error parsing response permissions, expected a boolean or a map"));
        return None;
    };
    let mut permission = ResponsePermission::default();
    for entry in map {
        let value = &entry.value;
        match entry.key.to_lowercase().as_str() {
            // 0 keeps the default; negative means unlimited.
            "max" | "max_msgs" | "max_messages" | "max_responses" => match get::int(value) {
                Ok(0) => {}
                Ok(n) => permission.max_msgs = u64::try_from(n).ok(),
                Err(err) => {
                    out.error(err);
                    return None;
                }
            },
            // 0 keeps the default; negative means no expiry.
            "expires" | "expiration" | "ttl" => {
                let Kind::String(text) = &value.kind else {
                    out.error(value.error("error parsing expires, not a duration string"));
                    return None;
                };
                match parse_duration(text) {
                    Ok(0) => {}
                    Ok(nanos) => permission.expires = positive(nanos),
                    Err(err) => {
                        out.error(value.error(format!("error parsing expires: {err}")));
                        return None;
                    }
                }
            }
            _ => {
                unknown_permission_field(out, entry);
            }
        }
    }
    Some(permission)
}
