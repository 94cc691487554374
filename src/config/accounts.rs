//! `accounts {}` (`parseAccounts` and what it calls: `parseAccountExports`/`Imports`,
//! `parseExportStreamOrService`, `parseImportStreamOrService`, `parseAccount`,
//! `parseAccountMappings`, `parseAccountMapDest`, `parseAccountLimits`) and the top-level
//! `mappings {}` of `$G`.
//!
//! As in the reference, in two phases. The parse phase reads every account, reporting at
//! the offending key or element. Then, only if it found no error in the block, the
//! resolution phase checks exports and imports against the accounts and each other (the
//! reference's `addStreamExport…`, `AddStreamImport`, `AddMappedStreamImport`,
//! `AddServiceImport`): the accounts named by stream exports, by service exports, then
//! stream imports, then service imports, each in file order (the reference: Go map order),
//! every error at the `accounts` key. Imports are added one by one, so a cycle is reported
//! for the import that closes it. Where several wildcard exports cover an import, the
//! reference asks one of them (map order); natsd authorizes if any does.
//!
//! Users of accounts join `authorization`'s users with their account set, user names and
//! nkeys unique across all of them (a duplicate is reported where the later one in the file
//! is). Whether a single `authorization` user or token conflicts with account users is
//! checked once all keys are read ([`check_auth_conflicts`]), so the error reads the same
//! whichever block comes first.
//!
//! natsd refuses `jetstream` in an account (unless it turns it off), an export's `latency`
//! and `account_token_position`, and mapping functions (`natsd does not support …`).

use std::collections::HashSet;
use std::mem::discriminant;
use std::time::Duration;

use super::{
    apply_entry, auth, get, jetstream, key, parse_duration, positive, Apply, Collector, Key, Step,
};
use crate::conf::{ConfError, Entry, Kind, Map, Pos, Value};
use crate::gofmt::quote_str;
use crate::nkeys;
use crate::options::{
    AccountLimits, AccountOptions, AuthOptions, ExportKind, ExportOptions, ImportKind,
    ImportOptions, MappingDestination, MappingOptions, NkeyUser, Options, Permissions,
    ResponseType, User,
};
use crate::subject;
use crate::transform::{ImportMapping, TransformError, WeightedMapping};

/// The global account, which `accounts` may not define.
const GLOBAL_ACCOUNT: &str = "$G";

/// How long a service response mapping lives unless the export says otherwise.
const DEFAULT_RESPONSE_THRESHOLD: Duration = Duration::from_secs(120);

/// How many accounts a cycle search visits at most (`MaxAccountCycleSearchDepth`).
const MAX_CYCLE_SEARCH_DEPTH: usize = 1024;

/// An account being read: its options, and what the checks after its keys and the
/// resolution phase need.
#[derive(Default)]
struct Draft {
    options: AccountOptions,
    users: Vec<User>,
    nkeys: Vec<NkeyUser>,
    /// Where `users` is: errors about the account's users are reported there.
    users_at: Option<Pos>,
    default_permissions: Option<Permissions>,
    /// The imports; they become `options.imports`.
    imports: Vec<Import>,
}

/// An import as read.
struct Import {
    options: ImportOptions,
    /// A stream import's `prefix`, checked in the resolution phase.
    prefix: Option<String>,
}

impl Draft {
    fn named(name: &str) -> Draft {
        let options = AccountOptions {
            name: name.to_string(),
            ..AccountOptions::default()
        };
        Draft {
            options,
            ..Draft::default()
        }
    }

    fn into_options(self) -> AccountOptions {
        let imports = self.imports.into_iter().map(|import| import.options);
        AccountOptions {
            imports: imports.collect(),
            ..self.options
        }
    }

    /// After the account's keys: its users get its default permissions and its name, and
    /// join the users of `auth` unless their name (or nkey) is taken; `names` holds the taken
    /// ones.
    fn add_users(
        &mut self,
        out: &mut Collector,
        names: &mut HashSet<String>,
        auth: &mut AuthOptions,
    ) {
        let Some(at) = self.users_at.clone() else {
            return;
        };
        if self.users.is_empty() && self.nkeys.is_empty() {
            return;
        }
        out.account_users.push(at.clone());
        if let Some(defaults) = &self.default_permissions {
            auth::apply_default_permissions(defaults, &mut self.users, &mut self.nkeys);
        }
        let account = Some(self.options.name.clone());
        for user in &mut self.nkeys {
            if !names.insert(user.nkey.clone()) {
                let message = format!("Duplicate nkey {} detected", quote_str(&user.nkey));
                out.error(ConfError::at(at.clone(), message));
            }
            user.account = account.clone();
        }
        for user in &mut self.users {
            if !names.insert(user.username.clone()) {
                let message = format!("Duplicate user {} detected", quote_str(&user.username));
                out.error(ConfError::at(at.clone(), message));
            }
            user.account = account.clone();
        }
        auth.nkeys.append(&mut self.nkeys);
        auth.users.append(&mut self.users);
    }
}

/// The `accounts` key: a map of accounts, or an array of account names; any other value
/// is ignored, as the reference does.
pub(super) fn apply(out: &mut Collector, entry: &Entry, opts: &mut Options) -> Step {
    let at = &entry.value;
    let errors = out.report.errors.len();
    let drafts = match &at.kind {
        Kind::Map(map) => map_form(out, map, opts)?,
        Kind::Array(items) => array_form(out, items)?,
        _ => return Ok(()),
    };
    if out.report.errors.len() == errors {
        Resolver::new(&drafts).resolve(out, at);
    }
    opts.accounts
        .extend(drafts.into_iter().map(Draft::into_options));
    Ok(())
}

/// `accounts: [A, B]`: accounts with nothing but a name.
fn array_form(out: &mut Collector, items: &[Value]) -> Result<Vec<Draft>, ConfError> {
    let mut drafts: Vec<Draft> = Vec::new();
    for item in items {
        let name = get::string(item)?;
        if name == GLOBAL_ACCOUNT {
            out.error(item.error(format!("{} is a Reserved Account", quote_str(name))));
        } else if drafts.iter().any(|draft| draft.options.name == name) {
            out.error(item.error(format!("Duplicate Account Entry: {name}")));
        } else {
            drafts.push(Draft::named(name));
        }
    }
    Ok(drafts)
}

/// `accounts { A { … } B { … } }`.
fn map_form(out: &mut Collector, map: &Map, opts: &mut Options) -> Result<Vec<Draft>, ConfError> {
    let auth = &mut opts.auth;
    let users = auth.users.iter().map(|user| user.username.clone());
    let mut names: HashSet<String> = users
        .chain(auth.nkeys.iter().map(|user| user.nkey.clone()))
        .collect();
    let mut drafts = Vec::new();
    for entry in map.iter().filter(|entry| !entry.used_as_variable) {
        let at = &entry.value;
        let Kind::Map(keys) = &at.kind else {
            out.error(at.error("Expected map entries for accounts"));
            continue;
        };
        if entry.key == GLOBAL_ACCOUNT {
            out.error(at.error(format!("{} is a Reserved Account", quote_str(&entry.key))));
            continue;
        }
        let mut draft = Draft::named(&entry.key);
        for entry in keys {
            apply_entry(out, ACCOUNT, entry, &mut draft)?;
        }
        draft.add_users(out, &mut names, auth);
        drafts.push(draft);
    }
    Ok(drafts)
}

/// The keys of an account.
#[rustfmt::skip]
static ACCOUNT: &[Key<Draft>] = &[
    key(&["nkey"],                Apply::With(account_nkey)),
    key(&["imports"],             Apply::With(imports)),
    key(&["exports"],             Apply::With(exports)),
    key(&["jetstream"],           Apply::With(jetstream)),
    key(&["users"],               Apply::With(users)),
    key(&["default_permissions"], Apply::With(default_permissions)),
    key(&["mappings", "maps"],    Apply::With(|out, e, draft| apply_mappings_to(out, e, &mut draft.options.mappings))),
    key(&["limits"],              Apply::With(limits)),
];

/// `nkey`: the account's public key, validated only.
fn account_nkey(out: &mut Collector, entry: &Entry, draft: &mut Draft) -> Step {
    let value = &entry.value;
    match &value.kind {
        Kind::String(key) if nkeys::is_valid_public_account_key(key) => {
            draft.options.nkey = Some(key.clone());
        }
        other => {
            let got = get::go_quote(other);
            out.error(value.error(format!("Not a valid public nkey for an account: {got}")));
        }
    }
    Ok(())
}

/// `users`: as in `authorization`.
fn users(out: &mut Collector, entry: &Entry, draft: &mut Draft) -> Step {
    draft.users_at = Some(entry.value.pos.clone());
    if let Some((users, nkeys)) = auth::parse_users(out, &entry.value) {
        (draft.users, draft.nkeys) = (users, nkeys);
    }
    Ok(())
}

/// `default_permissions`: for the account's users without permissions of their own.
fn default_permissions(out: &mut Collector, entry: &Entry, draft: &mut Draft) -> Step {
    if let Some(permissions) = auth::parse_permissions(out, &entry.value, true) {
        draft.default_permissions = Some(permissions);
    }
    Ok(())
}

/// `limits {}`. A wrong value type ends the block.
fn limits(out: &mut Collector, entry: &Entry, draft: &mut Draft) -> Step {
    let value = &entry.value;
    let Kind::Map(map) = &value.kind else {
        let got = get::go_text(&value.kind);
        out.error(value.error(format!(
            "Expected account limits to be a map/struct, got {got}"
        )));
        return Ok(());
    };
    if let Err(err) = read_limits(out, map, &mut draft.options.limits) {
        out.error(err);
    }
    Ok(())
}

fn read_limits(
    out: &mut Collector,
    map: &Map,
    limits: &mut AccountLimits,
) -> Result<(), ConfError> {
    for entry in map {
        let target = match entry.key.to_lowercase().as_str() {
            "max_connections" | "max_conn" => &mut limits.max_connections,
            "max_subscriptions" | "max_subs" => &mut limits.max_subscriptions,
            "max_payload" | "max_pay" => &mut limits.max_payload,
            "max_leafnodes" | "max_leafs" => {
                get::int(&entry.value)?;
                continue;
            }
            _ => {
                if !entry.used_as_variable {
                    let message = format!(
                        "Unknown field {} parsing account limits",
                        quote_str(&entry.key)
                    );
                    out.error(entry.value.error(message));
                }
                continue;
            }
        };
        // The reference keeps the low 32 bits.
        *target = i64::from(get::int(&entry.value)? as i32);
    }
    Ok(())
}

/// `exports = [ {stream: S, accounts: [...]}, {service: S, response_type: …}, … ]`.
fn exports(out: &mut Collector, entry: &Entry, draft: &mut Draft) -> Step {
    let value = &entry.value;
    let Kind::Array(items) = &value.kind else {
        let got = value.kind.type_name();
        out.error(value.error(format!("Exports should be an array, got {got}")));
        return Ok(());
    };
    for item in items {
        match parse_export(out, item) {
            Ok(Some(export)) => merge_export(&mut draft.options.exports, export),
            Ok(None) => {}
            Err(err) => out.error(err),
        }
    }
    Ok(())
}

/// Adds `export`, or merges it into an export of the same subject and kind as the
/// reference does (`addStreamExportWithAccountPos`, `addServiceExportWithResponse…`): the
/// approved accounts add up, a service keeps the last non-singleton response type and the
/// last threshold.
fn merge_export(exports: &mut Vec<ExportOptions>, export: ExportOptions) {
    let same = |e: &&mut ExportOptions| {
        e.subject == export.subject && discriminant(&e.kind) == discriminant(&export.kind)
    };
    let Some(known) = exports.iter_mut().find(same) else {
        exports.push(export);
        return;
    };
    for name in export.accounts {
        if !known.accounts.contains(&name) {
            known.accounts.push(name);
        }
    }
    if let (
        ExportKind::Service {
            response,
            threshold,
        },
        ExportKind::Service {
            response: new_response,
            threshold: new_threshold,
        },
    ) = (&mut known.kind, export.kind)
    {
        if new_response != ResponseType::Singleton {
            *response = new_response;
        }
        *threshold = new_threshold;
    }
}

/// One element of `exports`. `Err` is a wrong value type, which drops the element.
fn parse_export(out: &mut Collector, item: &Value) -> Result<Option<ExportOptions>, ConfError> {
    let Kind::Map(map) = &item.kind else {
        let got = item.kind.type_name();
        out.error(item.error(format!(
            "Export Items should be a map with type entry, got {got}"
        )));
        return Ok(None);
    };
    // The subject, and whether it is a service.
    let mut exported: Option<(String, bool)> = None;
    let mut accounts = Vec::new();
    let (mut response, mut response_at): (_, Option<&Value>) = (ResponseType::Singleton, None);
    let (mut threshold, mut threshold_seen) = (DEFAULT_RESPONSE_THRESHOLD, false);
    for entry in map {
        let value = &entry.value;
        let stream = matches!(exported, Some((_, false)));
        let non_service = || value.error("Detected response directive on non-service");
        match entry.key.to_lowercase().as_str() {
            kind @ ("stream" | "service") => {
                let service = kind == "service";
                if exported.as_ref().is_some_and(|(_, seen)| *seen != service) {
                    let (other, got) = (
                        if service { "stream" } else { "service" },
                        get::go_quote(&value.kind),
                    );
                    out.error(
                        value.error(format!("Detected {kind} {got} but already saw a {other}")),
                    );
                    continue;
                }
                if let (false, Some(at)) = (service, response_at) {
                    out.error(at.error("Detected response directive on non-service"));
                    continue;
                }
                let Kind::String(subject) = &value.kind else {
                    let got = value.kind.type_name();
                    out.error(value.error(format!("Expected {kind} name to be string, got {got}")));
                    continue;
                };
                exported = Some((subject.clone(), service));
            }
            "response" | "response_type" => {
                if response_at.is_some() {
                    out.error(value.error("Duplicate response type definition"));
                    continue;
                }
                response_at = Some(value);
                let Kind::String(text) = &value.kind else {
                    let got = value.kind.type_name();
                    out.error(
                        value.error(format!("Expected response type to be string, got {got}")),
                    );
                    continue;
                };
                response = match text.to_lowercase().as_str() {
                    "single" | "singleton" => ResponseType::Singleton,
                    "stream" => ResponseType::Streamed,
                    "chunk" | "chunked" => ResponseType::Chunked,
                    _ => {
                        let message = format!("Unknown response type: {}", quote_str(text));
                        out.error(value.error(message));
                        continue;
                    }
                };
                if stream {
                    out.error(non_service());
                }
            }
            "threshold" | "response_threshold" | "response_max_time" | "response_time" => {
                if threshold_seen {
                    out.error(value.error("Duplicate response threshold detected"));
                    continue;
                }
                threshold_seen = true;
                const WANT: &str = "Expected response threshold to be a parseable time duration";
                let Kind::String(text) = &value.kind else {
                    let got = value.kind.type_name();
                    out.error(value.error(format!("{WANT}, got {got}")));
                    continue;
                };
                let Ok(nanos) = parse_duration(text) else {
                    out.error(value.error(format!("{WANT}, got {}", quote_str(text))));
                    continue;
                };
                threshold = positive(nanos).unwrap_or(DEFAULT_RESPONSE_THRESHOLD);
                if stream {
                    out.error(non_service());
                }
            }
            "accounts" => {
                for name in get::array(value)? {
                    accounts.push(get::string(name)?.to_string());
                }
            }
            "latency" | "account_token_position" => {
                out.error(value.error(format!("natsd does not support {}", entry.key)));
            }
            _ => out.unknown(entry),
        }
    }
    Ok(exported.map(|(subject, service)| ExportOptions {
        subject,
        kind: if service {
            ExportKind::Service {
                response,
                threshold,
            }
        } else {
            ExportKind::Stream
        },
        accounts,
    }))
}

/// `imports = [ {stream: {account: A, subject: S}, prefix: P}, {service: {…}, to: T}, … ]`.
fn imports(out: &mut Collector, entry: &Entry, draft: &mut Draft) -> Step {
    let value = &entry.value;
    let Kind::Array(items) = &value.kind else {
        let got = value.kind.type_name();
        out.error(value.error(format!("Imports should be an array, got {got}")));
        return Ok(());
    };
    for item in items {
        let import = match parse_import(out, item) {
            Ok(Some(import)) => import,
            Ok(None) => continue,
            Err(err) => {
                out.error(err);
                continue;
            }
        };
        if let ImportKind::Service { .. } = import.options.kind {
            let local = &import.options.local;
            let dup = draft.imports.iter().find(|earlier| {
                matches!(earlier.options.kind, ImportKind::Service { .. })
                    && earlier.options.local == *local
            });
            if let Some(dup) = dup {
                let message = format!(
                    "Duplicate service import subject {}, previously used in import for account {}, subject {}",
                    quote_str(local),
                    quote_str(&dup.options.account),
                    quote_str(&dup.options.subject)
                );
                out.error(item.error(message));
                continue;
            }
        }
        draft.imports.push(import);
    }
    Ok(())
}

/// One element of `imports`. `Err` is a wrong value type, which drops the element.
fn parse_import(out: &mut Collector, item: &Value) -> Result<Option<Import>, ConfError> {
    let Kind::Map(map) = &item.kind else {
        let got = item.kind.type_name();
        out.error(item.error(format!(
            "Import Items should be a map with type entry, got {got}"
        )));
        return Ok(None);
    };
    // Whether it is a stream, the account and the subject.
    let mut imported: Option<(bool, String, String)> = None;
    let (mut prefix, mut to, mut share) = (String::new(), String::new(), false);
    for entry in map {
        let value = &entry.value;
        match entry.key.to_lowercase().as_str() {
            kind @ ("stream" | "service") => {
                let stream = kind == "stream";
                if imported.as_ref().is_some_and(|(seen, ..)| *seen != stream) {
                    let other = if stream { "service" } else { "stream" };
                    out.error(value.error(format!("Detected {kind} but already saw a {other}")));
                    continue;
                }
                let Kind::Map(names) = &value.kind else {
                    let (kind, got) = (
                        if stream { "Stream" } else { "Service" },
                        value.kind.type_name(),
                    );
                    out.error(
                        value.error(format!("{kind} entry should be an account map, got {got}")),
                    );
                    continue;
                };
                let (account, subject) = match read_account_and_subject(out, names) {
                    Ok(names) => names,
                    Err(err) => {
                        out.error(err);
                        Default::default()
                    }
                };
                if account.is_empty() || subject.is_empty() {
                    out.error(value.error("Expect an account name and a subject"));
                    continue;
                }
                imported = Some((stream, account, subject));
            }
            "prefix" => prefix = get::string(value)?.to_string(),
            "to" => {
                to = get::string(value)?.to_string();
                if matches!(imported, Some((true, ..))) && !prefix.is_empty() {
                    out.error(
                        value.error("Stream import can not have a 'prefix' and a 'to' property"),
                    );
                }
            }
            "share" => share = get::boolean(value)?,
            _ => out.unknown(entry),
        }
    }
    let Some((stream, account, subject)) = imported else {
        return Ok(None);
    };
    let (local, kind, prefix) = if !stream {
        let local = if to.is_empty() { subject.clone() } else { to };
        (local, ImportKind::Service { share }, None)
    } else if !prefix.is_empty() {
        let dot = if prefix.ends_with('.') { "" } else { "." };
        (
            format!("{prefix}{dot}{subject}"),
            ImportKind::Stream,
            Some(prefix),
        )
    } else {
        let local = if to.is_empty() { subject.clone() } else { to };
        (local, ImportKind::Stream, None)
    };
    let options = ImportOptions {
        account,
        subject,
        local,
        kind,
    };
    Ok(Some(Import { options, prefix }))
}

/// `{account: A, subject: S}` of an import (`parseAccount`). A wrong value type loses both.
fn read_account_and_subject(out: &mut Collector, map: &Map) -> Result<(String, String), ConfError> {
    let (mut account, mut subject) = (String::new(), String::new());
    for entry in map {
        match entry.key.to_lowercase().as_str() {
            "account" => account = get::string(&entry.value)?.to_string(),
            "subject" => subject = get::string(&entry.value)?.to_string(),
            _ => out.unknown(entry),
        }
    }
    Ok((account, subject))
}

/// The top-level `mappings`/`maps` key: the mappings of `$G`.
pub(super) fn apply_mappings(out: &mut Collector, entry: &Entry, opts: &mut Options) -> Step {
    apply_mappings_to(out, entry, &mut opts.mappings)
}

/// A `mappings {}` block (`parseAccountMappings`) added to `target`, where a source given
/// again replaces its mapping in place. A wrong value type, or a weighted mapping the
/// reference cannot add (it then panics), ends the block.
fn apply_mappings_to(out: &mut Collector, entry: &Entry, target: &mut Vec<MappingOptions>) -> Step {
    if let Err(err) = read_mappings(out, &entry.value, target) {
        out.error(err);
    }
    Ok(())
}

fn read_mappings(
    out: &mut Collector,
    value: &Value,
    target: &mut Vec<MappingOptions>,
) -> Result<(), ConfError> {
    for entry in get::map(value)? {
        let source = entry.key.as_str();
        if !subject::is_valid_subject(source.as_bytes()) {
            let message = format!("Subject {} is not a valid subject", quote_str(source));
            out.error(value.error(message));
            continue;
        }
        let at = &entry.value;
        // The destinations, and for the weighted forms where the reference's panic is
        // located: the last element of the array, or the key.
        let (destinations, weighted_at) = match &at.kind {
            Kind::String(subject) => {
                let destination = MappingDestination {
                    subject: subject.clone(),
                    weight: 100,
                    cluster: None,
                };
                (vec![destination], None)
            }
            Kind::Array(items) => {
                let mut destinations = Vec::with_capacity(items.len());
                for item in items {
                    destinations.extend(read_destination(out, item)?);
                }
                (destinations, Some(items.last().unwrap_or(at)))
            }
            _ => match read_destination(out, at)? {
                Some(destination) => (vec![destination], Some(at)),
                None => continue,
            },
        };
        let quoted = quote_str(source);
        match (WeightedMapping::new(source, &destinations), weighted_at) {
            (Ok(_), _) => {
                let mapping = MappingOptions {
                    source: source.to_string(),
                    destinations,
                };
                match target.iter_mut().find(|known| known.source == source) {
                    Some(known) => *known = mapping,
                    None => target.push(mapping),
                }
            }
            (Err(err @ TransformError::Function(_)), _) => out.error(at.error(err.to_string())),
            (Err(err), None) => {
                let to = quote_str(&destinations[0].subject);
                out.error(at.error(format!("Error adding mapping for {quoted} to {to} : {err}")));
            }
            (Err(err), Some(last)) => {
                return Err(last.error(format!("Error adding mapping for {quoted} : {err}")));
            }
        }
    }
    Ok(())
}

/// One weighted destination `{destination, weight, cluster}` at `item` (an array element,
/// or the mapping's own value): `None` after an error about it. A wrong value type is
/// located at `item`, as the reference's panic is.
fn read_destination(
    out: &mut Collector,
    item: &Value,
) -> Result<Option<MappingDestination>, ConfError> {
    let Kind::Map(map) = &item.kind else {
        out.error(item.error("Expected an entry for the mapping destination"));
        return Ok(None);
    };
    let string = |value: &Value| match &value.kind {
        Kind::String(text) => Ok(text.clone()),
        _ => Err(item.error(get::type_error(value, "string").message)),
    };
    let (mut subject, mut weight, mut cluster) = (String::new(), None, None);
    for entry in map {
        let value = &entry.value;
        match entry.key.to_lowercase().as_str() {
            "dest" | "destination" => subject = string(value)?,
            "weight" => {
                let percent = match &value.kind {
                    Kind::String(text) => {
                        let digits = text.strip_suffix('%').unwrap_or(text);
                        let Ok(n) = digits.parse::<i64>() else {
                            let message = format!(
                                "Invalid weight {} for mapping destination",
                                quote_str(digits)
                            );
                            out.error(value.error(message));
                            return Ok(None);
                        };
                        n
                    }
                    Kind::Int(n) => *n,
                    other => {
                        let got = get::go_text(other);
                        out.error(value.error(format!("Unknown entry type for weight of {got}\n")));
                        return Ok(None);
                    }
                };
                let Ok(percent @ 0..=100) = u8::try_from(percent) else {
                    out.error(
                        value.error(format!("Invalid weight {percent} for mapping destination")),
                    );
                    return Ok(None);
                };
                weight = Some(percent);
            }
            "cluster" => cluster = Some(string(value)?).filter(|name| !name.is_empty()),
            _ => {
                let message = format!(
                    "Unknown field {} for mapping destination",
                    quote_str(&entry.key)
                );
                out.error(value.error(message));
                return Ok(None);
            }
        }
    }
    let Some(weight) = weight else {
        let message = format!(
            "Missing weight for mapping destination {}",
            quote_str(&subject)
        );
        out.error(item.error(message));
        return Ok(None);
    };
    Ok(Some(MappingDestination {
        subject,
        weight,
        cluster,
    }))
}

/// Once all keys are read: accounts with users cannot have a single `authorization` user
/// or token beside them (reported at each such account's `users` key).
pub(super) fn check_auth_conflicts(out: &mut Collector, opts: &Options) {
    let conflict = if opts.auth.user.is_some() {
        "Can not have a single user/pass and accounts"
    } else if opts.auth.token.is_some() {
        "Can not have a token and accounts"
    } else {
        return;
    };
    for at in std::mem::take(&mut out.account_users) {
        out.error(ConfError::at(at, conflict));
    }
}

/// An import added in the resolution phase, as the cycle checks see it.
struct Added {
    /// The exporting account (index in the block).
    exporter: usize,
    /// The subject on the exporter's side.
    exporter_subject: String,
    /// The subject on the importer's side (wildcards as `*`).
    local: String,
}

/// The resolution phase: the block's accounts, and the imports added so far per account.
struct Resolver<'a> {
    drafts: &'a [Draft],
    streams: Vec<Vec<Added>>,
    services: Vec<Vec<Added>>,
}

impl<'a> Resolver<'a> {
    fn new(drafts: &'a [Draft]) -> Resolver<'a> {
        let none = || drafts.iter().map(|_| Vec::new()).collect();
        Resolver {
            drafts,
            streams: none(),
            services: none(),
        }
    }

    /// Checks every export and import; the errors are located at `at`.
    fn resolve(mut self, out: &mut Collector, at: &Value) {
        for kind in ["stream", "service"] {
            let exports = self.drafts.iter().flat_map(|draft| &draft.options.exports);
            for export in exports.filter(|export| kind_name(&export.kind) == kind) {
                for name in export
                    .accounts
                    .iter()
                    .filter(|name| self.find(name).is_none())
                {
                    let message =
                        format!("{} account not defined for {kind} export", quote_str(name));
                    out.error(at.error(message));
                }
            }
        }
        let drafts = self.drafts;
        for stream in [true, false] {
            for (importer, draft) in drafts.iter().enumerate() {
                let imports = draft.imports.iter();
                for import in
                    imports.filter(|i| matches!(i.options.kind, ImportKind::Stream) == stream)
                {
                    let added = if stream {
                        self.add_stream_import(importer, import)
                    } else {
                        self.add_service_import(importer, &import.options)
                    };
                    if let Err(message) = added {
                        out.error(at.error(message));
                    }
                }
            }
        }
    }

    fn find(&self, name: &str) -> Option<usize> {
        self.drafts
            .iter()
            .position(|draft| draft.options.name == name)
    }

    /// The exporter of `import`, or the reference's error when it is not in the block.
    fn exporter(&self, import: &ImportOptions, kind: &str) -> Result<usize, String> {
        let name = &import.account;
        self.find(name)
            .ok_or_else(|| format!("{} account not defined for {kind} import", quote_str(name)))
    }

    /// `AddStreamImport` / `AddMappedStreamImport`.
    fn add_stream_import(&mut self, importer: usize, import: &Import) -> Result<(), String> {
        let options = &import.options;
        let exporter = self.exporter(options, "stream")?;
        let subject = &options.subject;
        let fail = |err: &str| format!("Error adding stream import {}: {err}", quote_str(subject));
        if !self.authorized(exporter, importer, subject, true) {
            return Err(fail("stream import not authorized"));
        }
        if import
            .prefix
            .as_ref()
            .is_some_and(|prefix| !subject::is_literal(prefix.as_bytes()))
        {
            return Err(fail("stream import prefix can not contain wildcard tokens"));
        }
        let local = &options.local;
        self.stream_cycle(exporter, local, &mut HashSet::from([importer]))
            .map_err(fail)?;
        let mapping = ImportMapping::new(subject, local).map_err(|err| {
            fail(&format!(
                "failed to create mapping transform for stream import subject {} to {}: {err}",
                quote_str(subject),
                quote_str(local)
            ))
        })?;
        let added = &mut self.streams[importer];
        if added
            .iter()
            .any(|a| a.exporter == exporter && a.exporter_subject == *subject)
        {
            return Err(fail("stream import already exists"));
        }
        added.push(Added {
            exporter,
            exporter_subject: subject.clone(),
            local: mapping.local().to_string(),
        });
        Ok(())
    }

    /// `AddServiceImport`.
    fn add_service_import(
        &mut self,
        importer: usize,
        import: &ImportOptions,
    ) -> Result<(), String> {
        let exporter = self.exporter(import, "service")?;
        let (subject, local) = (&import.subject, &import.local);
        let fail = |err: &str| format!("Error adding service import {}: {err}", quote_str(subject));
        let valid = |s: &String| subject::is_valid_subject(s.as_bytes());
        if !valid(subject) || !valid(local) {
            return Err(fail("sublist: invalid subject"));
        }
        if !self.authorized(exporter, importer, subject, false) {
            return Err(fail("service import not authorized"));
        }
        self.service_cycle(exporter, local, &mut HashSet::from([importer]))
            .map_err(fail)?;
        let mapping = ImportMapping::new(subject, local).map_err(|err| {
            fail(&format!(
                "failed to create mapping transform for service import subject {} to {}: {err}",
                quote_str(local),
                quote_str(subject)
            ))
        })?;
        self.services[importer].push(Added {
            exporter,
            exporter_subject: mapping.exporter().to_string(),
            local: mapping.local().to_string(),
        });
        Ok(())
    }

    /// Whether `exporter` lets `importer` import `subject` (`checkStreamImportAuthorized`,
    /// `checkServiceImportAuthorized`): an export of exactly that subject decides, else any
    /// export covering it. A stream subject must be valid.
    fn authorized(&self, exporter: usize, importer: usize, subject: &str, stream: bool) -> bool {
        if stream && !subject::is_valid_subject(subject.as_bytes()) {
            return false;
        }
        let importer = &self.drafts[importer].options.name;
        let kind = if stream { "stream" } else { "service" };
        let exports = &self.drafts[exporter].options.exports;
        let mut exports = exports
            .iter()
            .filter(|export| kind_name(&export.kind) == kind);
        let allows = |export: &ExportOptions| {
            export.accounts.is_empty() || export.accounts.contains(importer)
        };
        match exports.clone().find(|export| export.subject == subject) {
            Some(export) => allows(export),
            None => exports.any(|export| {
                subject::is_subset_match(subject.as_bytes(), export.subject.as_bytes())
                    && allows(export)
            }),
        }
    }

    /// Whether importing a service as local subject `from` from `account` closes a cycle
    /// (`checkServiceImportsForCycles`): `account`'s own service imports of colliding
    /// subjects lead, in turn, to an account already visited.
    fn service_cycle(
        &self,
        account: usize,
        from: &str,
        visited: &mut HashSet<usize>,
    ) -> Result<(), &'static str> {
        if visited.len() >= MAX_CYCLE_SEARCH_DEPTH {
            return Err("search cycle depth exhausted");
        }
        let mut from = from.to_string();
        for import in &self.services[account] {
            if !subject::subjects_collide(from.as_bytes(), import.exporter_subject.as_bytes()) {
                continue;
            }
            if visited.contains(&import.exporter) {
                return Err("import forms a cycle");
            }
            visited.insert(account);
            if subject::is_subset_match(import.local.as_bytes(), from.as_bytes()) {
                from.clone_from(&import.local);
            }
            self.service_cycle(import.exporter, &from, visited)?;
        }
        Ok(())
    }

    /// The same for a stream imported as local subject `to` (`checkStreamImportsForCycles`),
    /// only through accounts that export a stream covering it.
    fn stream_cycle(
        &self,
        account: usize,
        to: &str,
        visited: &mut HashSet<usize>,
    ) -> Result<(), &'static str> {
        if visited.len() >= MAX_CYCLE_SEARCH_DEPTH {
            return Err("search cycle depth exhausted");
        }
        let exports = self.drafts[account].options.exports.iter();
        let mut streams = exports.filter(|export| export.kind == ExportKind::Stream);
        if !streams.any(|export| subject::is_subset_match(to.as_bytes(), export.subject.as_bytes()))
        {
            return Ok(());
        }
        let mut to = to.to_string();
        for import in &self.streams[account] {
            if !subject::subjects_collide(to.as_bytes(), import.local.as_bytes()) {
                continue;
            }
            if visited.contains(&import.exporter) {
                return Err("import forms a cycle");
            }
            visited.insert(account);
            if subject::is_subset_match(import.local.as_bytes(), to.as_bytes()) {
                to.clone_from(&import.local);
            }
            self.stream_cycle(import.exporter, &to, visited)?;
        }
        Ok(())
    }
}

/// `stream` or `service`, as messages name an export's kind.
fn kind_name(kind: &ExportKind) -> &'static str {
    match kind {
        ExportKind::Stream => "stream",
        ExportKind::Service { .. } => "service",
    }
}
