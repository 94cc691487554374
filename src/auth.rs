//! Client authentication as nats-server 2.9 does it without nkeys or accounts: a token, a
//! single user, or a list of users, with secrets in plain text (compared in constant time)
//! or as bcrypt hashes; `no_auth_user` for clients that give no credentials.
//!
//! bcrypt is deliberately slow (a cost-11 check is ~100 ms of CPU), so [`Authenticator::check`]
//! never runs it: it returns a [`Pending`] check for the server's verifier threads, and
//! verified (hash, password) pairs are remembered by a keyed digest, so a client that
//! reconnects with the same credentials costs one hash lookup.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex};

use crate::nkeys;
use crate::options::{is_bcrypt, AuthOptions};
use crate::permissions::UserPermissions;

/// What a client presented in CONNECT, and the nonce its INFO carried.
#[derive(Debug, Clone, Copy, Default)]
pub struct Credentials<'a> {
    pub user: &'a str,
    pub pass: &'a str,
    pub token: &'a str,
    /// A public user nkey (`U…`).
    pub nkey: &'a str,
    /// The nkey's signature of `nonce`, base64.
    pub sig: &'a str,
    /// The nonce sent in this client's INFO (empty when none was sent).
    pub nonce: &'a str,
}

impl Credentials<'_> {
    /// Nothing that `no_auth_user` would stand in for (as the reference: no user, password
    /// or token).
    fn is_empty(&self) -> bool {
        self.user.is_empty() && self.pass.is_empty() && self.token.is_empty()
    }
}

/// Who an authenticated client is.
#[derive(Debug, Clone, Default)]
pub struct Identity {
    /// The user name, when users are configured.
    pub user: Option<String>,
    /// The user's permissions; `None` = everything allowed.
    pub permissions: Option<Arc<UserPermissions>>,
}

/// A configured user: its secret and permissions.
#[derive(Debug)]
struct Account {
    secret: Option<String>,
    permissions: Option<Arc<UserPermissions>>,
    /// Its `allowed_connection_types` admit natsd's clients (`STANDARD`).
    standard: bool,
}

/// A configured nkey user.
#[derive(Debug)]
struct NkeyAccount {
    permissions: Option<Arc<UserPermissions>>,
    /// As [`Account::standard`].
    standard: bool,
}

/// Whether `allowed_connection_types` admit a plain NATS client, the only kind natsd
/// serves: when empty (any kind) or naming `STANDARD`, as the reference's
/// `connectionTypeAllowed`.
fn admits_standard(types: &std::collections::BTreeSet<String>) -> bool {
    types.is_empty() || types.contains("STANDARD")
}

/// The way clients must authenticate.
#[derive(Debug)]
enum Mode {
    Open,
    Token(String),
    /// A single user (`--user/--pass`), or the `users` list with its nkey users.
    Users {
        accounts: HashMap<String, Account>,
        /// Nkey users by public key.
        nkeys: HashMap<String, NkeyAccount>,
        listed: bool,
    },
}

/// Checks CONNECT credentials against the configuration.
#[derive(Debug)]
pub struct Authenticator {
    mode: Mode,
    no_auth_user: Option<String>,
    verified: VerifiedPairs,
}

/// bcrypt (hash, password) pairs already verified, remembered by a keyed digest (never the
/// password itself), so the same credentials cost one bcrypt run, not one per connection.
#[derive(Debug, Default)]
pub struct VerifiedPairs {
    key: RandomState,
    digests: Mutex<HashSet<u64>>,
}

impl VerifiedPairs {
    /// The digest that stands for the pair.
    pub fn digest(&self, hash: &str, password: &str) -> u64 {
        self.key.hash_one((hash, password))
    }

    /// Whether the pair of `digest` was verified before.
    pub fn contains(&self, digest: u64) -> bool {
        self.lock().contains(&digest)
    }

    /// Remembers a verified pair by its digest.
    pub fn remember(&self, digest: u64) {
        self.lock().insert(digest);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<u64>> {
        self.digests.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Whether `given` matches a configured `secret` here and now: in constant time for plain
/// text, with bcrypt (remembered in `verified`) for a hash. For route connections, which
/// are few; clients go through [`Authenticator::check`], which leaves bcrypt to the
/// verifier threads.
pub fn secret_matches(secret: &str, given: &str, verified: &VerifiedPairs) -> bool {
    if !is_bcrypt(secret) {
        return constant_time_eq(secret.as_bytes(), given.as_bytes());
    }
    let digest = verified.digest(secret, given);
    if verified.contains(digest) {
        return true;
    }
    let matched = verify_bcrypt(given, secret);
    if matched {
        verified.remember(digest);
    }
    matched
}

/// The result of [`Authenticator::check`].
#[derive(Debug)]
pub enum Outcome {
    /// Decided without bcrypt.
    Done(Result<Identity, Refused>),
    /// A bcrypt comparison decides; run [`verify_bcrypt`] off the reactor, then
    /// [`Pending::resolve`].
    Verify(Pending),
}

/// A bcrypt comparison still to be made, and what it decides.
#[derive(Debug)]
pub struct Pending {
    /// The configured bcrypt hash.
    pub hash: String,
    /// What the client sent.
    pub password: String,
    /// Keyed digest of the pair: identical checks in flight share one computation, and a
    /// success is remembered under it ([`Authenticator::remember`]).
    pub digest: u64,
    identity: Identity,
    refused: Refused,
}

impl Pending {
    /// The verdict once [`verify_bcrypt`] has answered.
    pub fn resolve(self, matched: bool) -> Result<Identity, Refused> {
        if matched {
            Ok(self.identity)
        } else {
            Err(self.refused)
        }
    }
}

/// The slow comparison: does `password` match the bcrypt `hash`?
pub fn verify_bcrypt(password: &str, hash: &str) -> bool {
    bcrypt::verify(password, hash).unwrap_or(false)
}

/// Why a client was refused; `Display` is the server's log line (without the client prefix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// Who the log line names: the nkey the client sent when nkey users are configured,
    /// else the user it sent when users are listed (as the reference's `authViolation`).
    who: Who,
    /// Why an nkey was refused, for the debug log (the reference's `Signature missing`, …).
    pub detail: Option<&'static str>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Who {
    Unnamed,
    User(String),
    Nkey(String),
}

impl Refused {
    fn new(who: Who) -> Refused {
        Refused { who, detail: None }
    }
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.who {
            Who::User(user) => write!(f, "authentication error - User {user:?}"),
            Who::Nkey(nkey) => write!(f, "authentication error - Nkey {nkey:?}"),
            Who::Unnamed => f.write_str("authentication error"),
        }
    }
}

impl Authenticator {
    /// The authenticator for an `authorization` configuration.
    pub fn new(opts: &AuthOptions) -> Self {
        let mode = if let Some(token) = &opts.token {
            Mode::Token(token.clone())
        } else if let Some(user) = &opts.user {
            let account = Account {
                secret: opts.password.clone(),
                permissions: None,
                standard: true,
            };
            Mode::Users {
                accounts: HashMap::from([(user.clone(), account)]),
                nkeys: HashMap::new(),
                listed: false,
            }
        } else if !opts.users.is_empty() || !opts.nkeys.is_empty() {
            let permissions = |p: &Option<crate::options::Permissions>| {
                p.as_ref().map(|p| Arc::new(UserPermissions::new(p)))
            };
            let nkeys = opts
                .nkeys
                .iter()
                .map(|u| {
                    let account = NkeyAccount {
                        permissions: permissions(&u.permissions),
                        standard: admits_standard(&u.allowed_connection_types),
                    };
                    (u.nkey.clone(), account)
                })
                .collect();
            let accounts = opts
                .users
                .iter()
                .map(|u| {
                    let account = Account {
                        secret: u.password.clone(),
                        permissions: permissions(&u.permissions),
                        standard: admits_standard(&u.allowed_connection_types),
                    };
                    (u.username.clone(), account)
                })
                .collect();
            Mode::Users {
                accounts,
                nkeys,
                listed: true,
            }
        } else {
            Mode::Open
        };
        Authenticator {
            mode,
            no_auth_user: opts.no_auth_user.clone(),
            verified: VerifiedPairs::default(),
        }
    }

    /// Clients must send CONNECT with credentials first (INFO `auth_required`).
    pub fn required(&self) -> bool {
        !matches!(self.mode, Mode::Open) && self.no_auth_user.is_none()
    }

    /// Clients get a nonce in INFO to sign (nkey users are configured).
    pub fn needs_nonce(&self) -> bool {
        matches!(&self.mode, Mode::Users { nkeys, .. } if !nkeys.is_empty())
    }

    /// Whether any authentication is configured at all.
    pub fn enabled(&self) -> bool {
        !matches!(self.mode, Mode::Open)
    }

    /// Checks a client's credentials, deferring a bcrypt comparison that is not remembered.
    pub fn check(&self, creds: Credentials<'_>) -> Outcome {
        match &self.mode {
            Mode::Open => Outcome::Done(Ok(Identity::default())),
            Mode::Token(token) => self.compare(
                token,
                creds.token,
                Identity::default(),
                Refused::new(Who::Unnamed),
            ),
            Mode::Users {
                accounts,
                nkeys,
                listed,
            } => {
                let refused = Refused::new(match () {
                    _ if !nkeys.is_empty() => Who::Nkey(creds.nkey.to_string()),
                    _ if *listed => Who::User(creds.user.to_string()),
                    _ => Who::Unnamed,
                });
                if !nkeys.is_empty() && !creds.nkey.is_empty() {
                    return Outcome::Done(check_nkey(nkeys, creds, refused));
                }
                let (user, anonymous) = match &self.no_auth_user {
                    Some(default) if creds.is_empty() => (default.as_str(), true),
                    _ => (creds.user, false),
                };
                let Some(account) = accounts.get(user).filter(|a| a.standard) else {
                    return Outcome::Done(Err(refused));
                };
                let identity = Identity {
                    user: listed.then(|| user.to_string()),
                    permissions: account.permissions.clone(),
                };
                if anonymous {
                    return Outcome::Done(Ok(identity));
                }
                let secret = account.secret.as_deref().unwrap_or("");
                self.compare(secret, creds.pass, identity, refused)
            }
        }
    }

    /// A configured secret against what the client sent: a constant-time comparison, a
    /// remembered bcrypt success, or a bcrypt comparison still to make.
    fn compare(&self, secret: &str, given: &str, identity: Identity, refused: Refused) -> Outcome {
        if !is_bcrypt(secret) {
            let matched = constant_time_eq(secret.as_bytes(), given.as_bytes());
            return Outcome::Done(if matched { Ok(identity) } else { Err(refused) });
        }
        let digest = self.verified.digest(secret, given);
        if self.verified.contains(digest) {
            return Outcome::Done(Ok(identity));
        }
        Outcome::Verify(Pending {
            hash: secret.to_string(),
            password: given.to_string(),
            digest,
            identity,
            refused,
        })
    }

    /// Remembers a verified bcrypt pair by its digest.
    pub fn remember(&self, digest: u64) {
        self.verified.remember(digest);
    }
}

/// An nkey user's CONNECT: a configured key, and its signature of the INFO nonce.
fn check_nkey(
    nkeys: &HashMap<String, NkeyAccount>,
    creds: Credentials<'_>,
    mut refused: Refused,
) -> Result<Identity, Refused> {
    let Some(account) = nkeys.get(creds.nkey).filter(|a| a.standard) else {
        return Err(refused);
    };
    let verdict = match () {
        _ if creds.sig.is_empty() || creds.nonce.is_empty() => Err("Signature missing"),
        _ => match nkeys::decode_signature(creds.sig) {
            None => Err("Signature not valid base64"),
            Some(sig) => match nkeys::decode_public_user_key(creds.nkey) {
                None => Err("User nkey not valid"),
                Some(public) if !nkeys::verify(&public, creds.nonce.as_bytes(), &sig) => {
                    Err("Signature not verified")
                }
                Some(_) => Ok(()),
            },
        },
    };
    match verdict {
        Ok(()) => Ok(Identity {
            user: Some(creds.nkey.to_string()),
            permissions: account.permissions.clone(),
        }),
        Err(detail) => {
            refused.detail = Some(detail);
            Err(refused)
        }
    }
}

/// Compares without an early exit on the first difference.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::{Permissions, User};

    /// `bcrypt` of "T0pS3cr3t" at cost 4 (fast for tests).
    fn hash(password: &str) -> String {
        bcrypt::hash(password, 4).unwrap()
    }

    fn creds<'a>(user: &'a str, pass: &'a str, token: &'a str) -> Credentials<'a> {
        Credentials {
            user,
            pass,
            token,
            ..Credentials::default()
        }
    }

    /// Checks, running a deferred bcrypt comparison on the spot (as a verifier thread would).
    fn decide(auth: &Authenticator, creds: Credentials<'_>) -> Result<Identity, Refused> {
        match auth.check(creds) {
            Outcome::Done(verdict) => verdict,
            Outcome::Verify(pending) => {
                let matched = verify_bcrypt(&pending.password, &pending.hash);
                if matched {
                    auth.remember(pending.digest);
                }
                pending.resolve(matched)
            }
        }
    }

    #[test]
    fn open_server_needs_nothing() {
        let auth = Authenticator::new(&AuthOptions::default());
        assert!(!auth.required());
        assert!(decide(&auth, creds("", "", "")).is_ok());
    }

    #[test]
    fn token_plain_and_bcrypt() {
        for token in ["s3cr3t".to_string(), hash("s3cr3t")] {
            let auth = Authenticator::new(&AuthOptions {
                token: Some(token),
                ..AuthOptions::default()
            });
            assert!(auth.required());
            assert!(decide(&auth, creds("", "", "s3cr3t")).is_ok());
            // Remembered: a second check needs no bcrypt.
            let again = auth.check(creds("", "", "s3cr3t"));
            assert!(matches!(again, Outcome::Done(Ok(_))), "{again:?}");
            let refused = decide(&auth, creds("", "", "wrong")).unwrap_err();
            assert_eq!(refused.to_string(), "authentication error");
        }
    }

    #[test]
    fn single_user_is_not_named_in_the_log() {
        let auth = Authenticator::new(&AuthOptions {
            user: Some("derek".into()),
            password: Some(hash("T0pS3cr3t")),
            ..AuthOptions::default()
        });
        let derek = decide(&auth, creds("derek", "T0pS3cr3t", "")).unwrap();
        assert_eq!(derek.user, None);
        let refused = decide(&auth, creds("derek", "nope", "")).unwrap_err();
        assert_eq!(refused.to_string(), "authentication error");
        assert!(decide(&auth, creds("other", "T0pS3cr3t", "")).is_err());
    }

    #[test]
    fn users_carry_permissions_and_no_auth_user_fills_in() {
        let perms = Permissions::default();
        let auth = Authenticator::new(&AuthOptions {
            users: vec![
                User {
                    username: "alice".into(),
                    password: Some("pw".into()),
                    permissions: Some(perms.clone()),
                    ..User::default()
                },
                User {
                    username: "guest".into(),
                    password: Some("x".into()),
                    ..User::default()
                },
            ],
            no_auth_user: Some("guest".into()),
            ..AuthOptions::default()
        });
        assert!(!auth.required());
        let alice = decide(&auth, creds("alice", "pw", "")).unwrap();
        assert_eq!(alice.user.as_deref(), Some("alice"));
        assert!(alice.permissions.is_some());
        let guest = decide(&auth, creds("", "", "")).unwrap();
        assert_eq!(guest.user.as_deref(), Some("guest"));
        let refused = decide(&auth, creds("alice", "bad", "")).unwrap_err();
        assert_eq!(refused.to_string(), "authentication error - User \"alice\"");
    }

    #[test]
    fn connection_types_must_admit_standard_clients() {
        let user = |name: &str, types: &[&str]| User {
            username: name.into(),
            password: Some("pw".into()),
            allowed_connection_types: types.iter().map(|t| t.to_string()).collect(),
            ..User::default()
        };
        let auth = Authenticator::new(&AuthOptions {
            users: vec![
                user("ws", &["WEBSOCKET"]),
                user("std", &["STANDARD", "MQTT"]),
                user("any", &[]),
                user("guest", &["LEAFNODE"]),
            ],
            no_auth_user: Some("guest".into()),
            ..AuthOptions::default()
        });
        assert!(decide(&auth, creds("ws", "pw", "")).is_err());
        assert!(decide(&auth, creds("std", "pw", "")).is_ok());
        assert!(decide(&auth, creds("any", "pw", "")).is_ok());
        assert!(
            decide(&auth, creds("", "", "")).is_err(),
            "no_auth_user too"
        );
    }

    #[test]
    fn secrets_match_now_plain_or_bcrypt_remembered() {
        let verified = VerifiedPairs::default();
        assert!(secret_matches("s3cret", "s3cret", &verified));
        assert!(!secret_matches("s3cret", "s3cre", &verified));
        let hashed = hash("pw");
        assert!(!secret_matches(&hashed, "nope", &verified));
        assert!(secret_matches(&hashed, "pw", &verified));
        assert!(verified.contains(verified.digest(&hashed, "pw")));
        assert!(!verified.contains(verified.digest(&hashed, "nope")));
    }

    #[test]
    fn constant_time_comparison() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
