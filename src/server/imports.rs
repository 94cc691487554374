//! What an account imports from others, as the runtime uses it.
//!
//! * A **stream import** makes messages published in the exporter reach the importer's
//!   subscribers under a local subject. Each matching client subscription gets a *shadow*
//!   subscription in the exporter's sublist, on the exporter's side of the subject, which
//!   delivers with the local subject (and is what routes are told about, so messages from
//!   other servers come too).
//! * A **service import** makes a client's publication on a local subject a request in the
//!   exporter (`service`): see that module for the request and response path.
//!
//! Built from the configuration when the accounts are (re)configured; an account's imports
//! are replaced whole.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use log::debug;

use super::account::{Account, Accounts};
use super::conn::{SubRef, Subscription};
use super::turn::Turn;
use crate::options::{AccountOptions, ExportKind, ImportKind, Options, ResponseType};
use crate::subject;
use crate::transform::ImportMapping;

/// An account's imports.
#[derive(Default)]
pub struct Imports {
    pub streams: Vec<Arc<StreamImport>>,
    pub services: Vec<Arc<ServiceImport>>,
}

impl Imports {
    /// The imports `account` configures, resolved against the registry (imports of
    /// accounts that do not exist are left out: the configuration was checked).
    pub fn build(account: &AccountOptions, opts: &Options, accounts: &Accounts) -> Imports {
        let mut imports = Imports::default();
        for import in &account.imports {
            let Some(exporter) = accounts.get(import.account.as_bytes()) else {
                continue;
            };
            let Ok(mapping) = ImportMapping::new(&import.subject, &import.local) else {
                continue;
            };
            match import.kind {
                ImportKind::Stream => {
                    imports
                        .streams
                        .push(Arc::new(StreamImport { exporter, mapping }));
                }
                ImportKind::Service { share } => {
                    let (response, threshold) =
                        service_export(opts, &import.account, &import.subject);
                    imports.services.push(Arc::new(ServiceImport {
                        exporter,
                        mapping,
                        response,
                        threshold,
                        share,
                    }));
                }
            }
        }
        imports
    }

    /// The service import a client publication on `subject` goes to, if any.
    pub fn service_for(&self, subject: &[u8]) -> Option<&Arc<ServiceImport>> {
        self.services.iter().find(|s| s.takes(subject))
    }
}

/// The response settings of the service export of `account` that covers `subject`
/// (the defaults when none does).
fn service_export(opts: &Options, account: &str, subject: &str) -> (ResponseType, Duration) {
    let exports = opts.accounts.iter().filter(|a| a.name == account);
    exports
        .flat_map(|a| a.exports.iter().rev())
        .find_map(|e| match e.kind {
            ExportKind::Service {
                response,
                threshold,
            } if subject::is_subset_match(subject.as_bytes(), e.subject.as_bytes()) => {
                Some((response, threshold))
            }
            _ => None,
        })
        .unwrap_or((ResponseType::Singleton, DEFAULT_THRESHOLD))
}

/// How long a response mapping lives by default (`response_threshold`).
const DEFAULT_THRESHOLD: Duration = Duration::from_secs(120);

/// One stream import: messages on the exporter's subject reach the importer under the
/// local one.
pub struct StreamImport {
    pub exporter: Arc<Account>,
    pub mapping: ImportMapping,
}

impl StreamImport {
    /// The subject the importer sees for a message published in the exporter on
    /// `subject`.
    pub fn local_subject(&self, subject: &[u8]) -> Vec<u8> {
        self.mapping.to_local(subject)
    }

    /// The exporter-side subject of the shadow a subscription on `subscribed` (in the
    /// importer) needs, or `None` when the subscription and the import do not meet.
    pub fn shadow_subject(&self, subscribed: &[u8]) -> Option<Vec<u8>> {
        self.mapping.exporter_interest(subscribed)
    }
}

/// Gives a new client subscription of `importer` its shadows: one in each exporter whose
/// stream import it meets, on the exporter's side of the subject (told to the routes like
/// any interest of the exporter).
pub fn add_shadows(turn: &Turn, importer: &Account, sub: &SubRef) {
    let imports = importer.imports();
    let mut shadows = Vec::new();
    for import in &imports.streams {
        let Some(subject) = import.shadow_subject(&sub.subject) else {
            continue;
        };
        debug!(
            "{}Creating import subscription on {:?} from account {:?}",
            sub.conn.prefix(),
            String::from_utf8_lossy(&subject),
            &*import.exporter.name
        );
        let shadow = SubRef(Arc::new(Subscription {
            conn: sub.conn.clone(),
            account: import.exporter.clone(),
            subject: subject.into(),
            queue: sub.queue.clone(),
            sid: sub.sid.clone(),
            max: AtomicU64::new(0),
            deny: None,
            delivered: AtomicU64::new(0),
            weight: AtomicU64::new(1),
            import: Some(import.clone()),
            shadows: Mutex::default(),
        }));
        let exporter = &shadow.account;
        exporter
            .sublist
            .insert(&shadow.subject, shadow.queue.as_deref(), shadow.clone());
        turn.interest_changed(&shadow, true);
        shadows.push(shadow);
    }
    *sub.shadows.lock().unwrap_or_else(|e| e.into_inner()) = shadows;
}

/// Removes the shadows of a client subscription that is going.
pub fn remove_shadows(turn: &Turn, sub: &Subscription) {
    let shadows = std::mem::take(&mut *sub.shadows.lock().unwrap_or_else(|e| e.into_inner()));
    for shadow in shadows {
        let queue = shadow.queue.as_deref();
        if shadow
            .account
            .sublist
            .remove(&shadow.subject, queue, &shadow)
        {
            turn.interest_changed(&shadow, false);
        }
    }
}

/// One service import: client publications on the local subject become requests on the
/// exporter's subject.
pub struct ServiceImport {
    pub exporter: Arc<Account>,
    pub mapping: ImportMapping,
    pub response: ResponseType,
    /// How long a response mapping lives (`response_threshold`).
    pub threshold: Duration,
    /// Responders get the requester's details in `Nats-Request-Info`.
    pub share: bool,
}

impl ServiceImport {
    /// The subject in the exporter of a request published on `subject`.
    pub fn remote_subject(&self, subject: &[u8]) -> Vec<u8> {
        self.mapping.to_exporter(subject)
    }

    /// Whether a client publication on `subject` is a request for this import.
    fn takes(&self, subject: &[u8]) -> bool {
        subject::matches(self.mapping.local().as_bytes(), subject)
    }

    /// Whether this import leads into `account`'s export (a loop guard for chains).
    pub fn exports_from(&self, account: &Account) -> bool {
        self.exporter.index == account.index
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn import(from: &str, to: &str) -> StreamImport {
        let accounts = Accounts::new(&Options::default()).unwrap();
        StreamImport {
            exporter: accounts.global().clone(),
            mapping: ImportMapping::new(from, to).unwrap(),
        }
    }

    fn shadow(im: &StreamImport, subscribed: &str) -> Option<String> {
        im.shadow_subject(subscribed.as_bytes())
            .map(|s| String::from_utf8(s).unwrap())
    }

    /// A exports `events.>` and `private.>`; B imports them (prefix `fromA`, `to:
    /// priv.x`); users `a`, `b`.
    fn streams() -> Options {
        use crate::options::{ExportKind, ExportOptions, ImportOptions, User};
        let export = |subject: &str| ExportOptions {
            subject: subject.into(),
            kind: ExportKind::Stream,
            accounts: Vec::new(),
        };
        let import = |subject: &str, local: &str| ImportOptions {
            account: "A".into(),
            subject: subject.into(),
            local: local.into(),
            kind: ImportKind::Stream,
        };
        let user = |name: &str, account: &str| User {
            username: name.into(),
            password: Some(name.into()),
            account: Some(account.into()),
            ..User::default()
        };
        let accounts = vec![
            AccountOptions {
                name: "A".into(),
                exports: vec![export("events.>"), export("private.>")],
                ..AccountOptions::default()
            },
            AccountOptions {
                name: "B".into(),
                imports: vec![
                    import("events.>", "fromA.events.>"),
                    import("private.x", "priv.x"),
                ],
                ..AccountOptions::default()
            },
        ];
        let mut opts = Options {
            accounts,
            ..Options::default()
        };
        opts.auth.users = vec![user("a", "A"), user("b", "B")];
        opts
    }

    #[test]
    fn stream_imports_deliver_under_the_local_subject() {
        let mut bed = super::super::testbed::TestBed::new(streams());
        let (a, b) = (bed.user_client("a"), bed.user_client("b"));
        bed.feed(
            b,
            "SUB fromA.events.> 2\r\nSUB events.> 3\r\nSUB priv.x 4\r\nSUB private.> 5\r\n\
             SUB fromA.> 6\r\n",
        );
        bed.feed(
            a,
            "PUB events.x r.1 3\r\nev1\r\nPUB private.x 4\r\npriv\r\nPUB private.y 5\r\npriv2\r\n",
        );
        assert_eq!(
            bed.take_output(b),
            "MSG fromA.events.x 2 r.1 3\r\nev1\r\nMSG fromA.events.x 6 r.1 3\r\nev1\r\n\
             MSG priv.x 4 4\r\npriv\r\n"
        );
        // Unsubscribed, the shadow goes too.
        bed.feed(b, "UNSUB 2\r\nUNSUB 6\r\n");
        bed.feed(a, "PUB events.y 1\r\nx\r\nPUB private.x 1\r\ny\r\n");
        assert_eq!(bed.take_output(b), "MSG priv.x 4 1\r\ny\r\n");
    }

    #[test]
    fn shadows_of_prefixed_and_literal_imports() {
        let im = import("events.>", "fromA.events.>");
        assert_eq!(shadow(&im, "fromA.events.>").as_deref(), Some("events.>"));
        assert_eq!(shadow(&im, "fromA.events.x").as_deref(), Some("events.x"));
        assert_eq!(shadow(&im, "fromA.>").as_deref(), Some("events.>"));
        assert_eq!(shadow(&im, "events.>"), None);
        assert_eq!(im.local_subject(b"events.9"), b"fromA.events.9");
        let literal = import("private.x", "priv.x");
        assert_eq!(shadow(&literal, "priv.x").as_deref(), Some("private.x"));
        assert_eq!(shadow(&literal, "private.x"), None);
        assert_eq!(literal.local_subject(b"private.x"), b"priv.x");
    }
}
