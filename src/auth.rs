//! Client authentication as nats-server 2.9 does it in static configuration: a token, a
//! single user, or a list of users and nkey users (each bound to an account), with secrets
//! in plain text (compared in constant time) or as bcrypt hashes; `no_auth_user` for
//! clients that give no credentials.
//!
//! With `tls { verify_and_map }`, a listed user is found from the client's TLS certificate
//! instead of CONNECT's `user`, in the reference's order: the email addresses, DNS names
//! and URIs of its subjectAltName, then its subject as a DN (`x509`, `dn`), then the
//! subject's string forms; the mapped user's password, if it has one, must still be sent.
//!
//! bcrypt is deliberately slow (a cost-11 check is ~100 ms of CPU), so [`Authenticator::check`]
//! never runs it: it returns a [`Pending`] check for the server's verifier threads, and
//! verified (hash, password) pairs are remembered by a keyed digest, so a client that
//! reconnects with the same credentials costs one hash lookup.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex};

use crate::dn::Dn;
use crate::gofmt::{quote, quote_str};
use crate::nkeys;
use crate::options::{is_bcrypt, AuthOptions, User};
use crate::permissions::UserPermissions;
use crate::x509;

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
    /// The certificates of the client's TLS handshake (`None`: not a TLS client), which
    /// `verify_and_map` maps to a user.
    pub tls: Option<&'a PeerCertificates>,
}

/// What a client showed of itself in its TLS handshake, read once when the handshake
/// completes: how many certificates it sent, and the first (its own) read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerCertificates {
    /// The number of certificates sent (the leaf and any intermediates).
    pub count: usize,
    /// The leaf certificate, read; `None` when none was sent.
    pub leaf: Option<Result<x509::Certificate, x509::Error>>,
}

impl PeerCertificates {
    /// Reads a certificate chain (DER, leaf first) as the TLS session received it.
    pub fn read<C: AsRef<[u8]>>(chain: &[C]) -> PeerCertificates {
        PeerCertificates {
            count: chain.len(),
            leaf: chain
                .first()
                .map(|der| x509::Certificate::from_der(der.as_ref())),
        }
    }
}

/// A line for the server log about a client's authentication, which the caller writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// A debug line about the client (the caller prefixes it with the client's name).
    Debug(String),
    /// A server warning, without the client's prefix (the reference's `s.Warnf`).
    Warn(String),
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
    /// The user's account (`None`: `$G`).
    pub account: Option<Arc<str>>,
    /// The user was found from the client's certificate (`verify_and_map`): the reference
    /// takes its name as the client's CONNECT user from then on.
    pub mapped: bool,
}

/// A configured user: its secret and permissions.
#[derive(Debug)]
struct UserEntry {
    secret: Option<String>,
    permissions: Option<Arc<UserPermissions>>,
    /// The account the user is bound to (`None`: `$G`).
    account: Option<Arc<str>>,
    /// Its `allowed_connection_types` admit natsd's clients (`STANDARD`).
    standard: bool,
}

/// A configured nkey user.
#[derive(Debug)]
struct NkeyEntry {
    permissions: Option<Arc<UserPermissions>>,
    /// As [`UserEntry::account`].
    account: Option<Arc<str>>,
    /// As [`UserEntry::standard`].
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
        users: HashMap<String, UserEntry>,
        /// Nkey users by public key.
        nkeys: HashMap<String, NkeyEntry>,
        listed: bool,
    },
}

/// Checks CONNECT credentials against the configuration.
#[derive(Debug)]
pub struct Authenticator {
    mode: Mode,
    no_auth_user: Option<String>,
    /// `tls { verify_and_map }`: listed users are found from client certificates.
    certificate_map: Option<CertificateMap>,
    verified: VerifiedPairs,
    /// `no_auth_user` is the user the server invented for `$G` (see
    /// [`Authenticator::with_invented_guest`]): INFO still says credentials are required.
    invented_guest: bool,
}

/// What `verify_and_map` needs beyond the users by name: the users whose names read as
/// DNs, parsed once, in configuration order (those whose connection types leave out plain
/// clients are left out, as the reference skips them).
#[derive(Debug, Default)]
struct CertificateMap {
    dn_users: Vec<(Dn, String)>,
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
        Self::build(opts, false)
    }

    /// The authenticator for an `authorization` configuration with
    /// `tls { verify_and_map: true }`: listed users are found from client certificates.
    pub fn mapping_certificates(opts: &AuthOptions) -> Self {
        Self::build(opts, true)
    }

    fn build(opts: &AuthOptions, map_certificates: bool) -> Self {
        let mode = if let Some(token) = &opts.token {
            Mode::Token(token.clone())
        } else if let Some(user) = &opts.user {
            let entry = UserEntry {
                secret: opts.password.clone(),
                permissions: None,
                account: None,
                standard: true,
            };
            Mode::Users {
                users: HashMap::from([(user.clone(), entry)]),
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
                    let entry = NkeyEntry {
                        permissions: permissions(&u.permissions),
                        account: u.account.as_deref().map(Into::into),
                        standard: admits_standard(&u.allowed_connection_types),
                    };
                    (u.nkey.clone(), entry)
                })
                .collect();
            let users = opts
                .users
                .iter()
                .map(|u| {
                    let entry = UserEntry {
                        secret: u.password.clone(),
                        permissions: permissions(&u.permissions),
                        account: u.account.as_deref().map(Into::into),
                        standard: admits_standard(&u.allowed_connection_types),
                    };
                    (u.username.clone(), entry)
                })
                .collect();
            Mode::Users {
                users,
                nkeys,
                listed: true,
            }
        } else {
            Mode::Open
        };
        let certificate_map = map_certificates.then(|| CertificateMap::new(&opts.users));
        Authenticator {
            mode,
            no_auth_user: opts.no_auth_user.clone(),
            certificate_map,
            verified: VerifiedPairs::default(),
            invented_guest: false,
        }
    }

    /// The reference's quirk when the only configured account is the system account:
    /// anonymous clients are admitted into `$G` as the invented `no_auth_user` of the
    /// options, although INFO says `auth_required` (and CONNECT must come first).
    pub fn with_invented_guest(mut self) -> Self {
        self.invented_guest = true;
        self
    }

    /// Whether client certificates are read at the handshake, to be mapped to users.
    pub fn maps_certificates(&self) -> bool {
        self.certificate_map.is_some()
    }

    /// Clients must send CONNECT with credentials first (INFO `auth_required`).
    pub fn required(&self) -> bool {
        (!matches!(self.mode, Mode::Open) && self.no_auth_user.is_none()) || self.invented_guest
    }

    /// Whether a user (or nkey) of this name is configured.
    pub fn has_user(&self, name: &str) -> bool {
        match &self.mode {
            Mode::Users { users, nkeys, .. } => {
                users.contains_key(name) || nkeys.contains_key(name)
            }
            Mode::Open | Mode::Token(_) => false,
        }
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
        self.check_noted(creds, &mut Vec::new())
    }

    /// As [`Self::check`], adding the log lines the reference writes on the way (those of
    /// the certificate mapping) to `notes`.
    pub fn check_noted(&self, creds: Credentials<'_>, notes: &mut Vec<Note>) -> Outcome {
        match &self.mode {
            Mode::Open => Outcome::Done(Ok(Identity::default())),
            Mode::Token(token) => self.compare(
                token,
                creds.token,
                Identity::default(),
                Refused::new(Who::Unnamed),
            ),
            Mode::Users {
                users,
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
                if let Some(map) = &self.certificate_map {
                    if *listed && !users.is_empty() {
                        return self.check_certificate(map, users, creds, refused, notes);
                    }
                }
                let (user, anonymous) = match &self.no_auth_user {
                    Some(default) if creds.is_empty() => (default.as_str(), true),
                    _ => (creds.user, false),
                };
                let Some(entry) = users.get(user).filter(|a| a.standard) else {
                    return Outcome::Done(Err(refused));
                };
                let identity = Identity {
                    user: listed.then(|| user.to_string()),
                    permissions: entry.permissions.clone(),
                    account: entry.account.clone(),
                    mapped: false,
                };
                if anonymous {
                    return Outcome::Done(Ok(identity));
                }
                let secret = entry.secret.as_deref().unwrap_or("");
                self.compare(secret, creds.pass, identity, refused)
            }
        }
    }

    /// `verify_and_map`: the user of the client's certificate, whatever CONNECT names (the
    /// reference warns when it names one); its password, if it has one, must match. A
    /// refusal names the mapped user from then on, as the reference's log does (unless nkey
    /// users are configured: then it names CONNECT's nkey, as always).
    fn check_certificate(
        &self,
        map: &CertificateMap,
        users: &HashMap<String, UserEntry>,
        creds: Credentials<'_>,
        mut refused: Refused,
        notes: &mut Vec<Note>,
    ) -> Outcome {
        let Some((name, entry)) = map.user_of(users, creds.tls, notes) else {
            return Outcome::Done(Err(refused));
        };
        if let Who::User(user) = &mut refused.who {
            name.clone_into(user);
        }
        if !creds.user.is_empty() {
            notes.push(Note::Warn(format!(
                "User {} found in connect proto, but user required from cert",
                quote_str(creds.user)
            )));
        }
        let identity = Identity {
            user: Some(name.to_string()),
            permissions: entry.permissions.clone(),
            account: entry.account.clone(),
            mapped: true,
        };
        let secret = entry.secret.as_deref().unwrap_or("");
        self.compare(secret, creds.pass, identity, refused)
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
    nkeys: &HashMap<String, NkeyEntry>,
    creds: Credentials<'_>,
    mut refused: Refused,
) -> Result<Identity, Refused> {
    let Some(entry) = nkeys.get(creds.nkey).filter(|a| a.standard) else {
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
            permissions: entry.permissions.clone(),
            account: entry.account.clone(),
            mapped: false,
        }),
        Err(detail) => {
            refused.detail = Some(detail);
            Err(refused)
        }
    }
}

impl CertificateMap {
    fn new(users: &[User]) -> Self {
        let dn_users = users
            .iter()
            .filter(|user| admits_standard(&user.allowed_connection_types))
            .filter_map(|user| Some((Dn::parse(&user.username)?, user.username.clone())))
            .collect();
        CertificateMap { dn_users }
    }

    /// The user a client certificate maps to, as the reference's `checkClientTLSCertSubject`
    /// finds it (with its debug lines, in `notes`): the first of the subjectAltName's email
    /// addresses, DNS names and URIs that is a user's name; else the user whose name is the
    /// subject as a DN, in order, then in any order; else the subject's string form with
    /// its domain components, then without. Users whose connection types leave out plain
    /// clients are never found.
    fn user_of<'u>(
        &self,
        users: &'u HashMap<String, UserEntry>,
        tls: Option<&PeerCertificates>,
        notes: &mut Vec<Note>,
    ) -> Option<(&'u str, &'u UserEntry)> {
        let mut debug = |line: String| notes.push(Note::Debug(line));
        let Some(tls) = tls else {
            debug("User required in cert, no TLS connection state".into());
            return None;
        };
        let Some(leaf) = &tls.leaf else {
            debug("User required in cert, no peer certificates found".into());
            return None;
        };
        if tls.count > 1 {
            debug("Multiple peer certificates found, selecting first".into());
        }
        let cert = match leaf {
            Ok(cert) => cert,
            Err(err) => {
                // Go would have refused the handshake: natsd refuses the user.
                debug(format!("User required in cert, {err}"));
                return None;
            }
        };
        if cert.emails.is_empty() && !cert.has_subject() && cert.uris.is_empty() {
            debug("User required in cert, none found".into());
            return None;
        }
        let lookup = |name: &[u8]| {
            let name = std::str::from_utf8(name).ok().filter(|n| !n.is_empty())?;
            let (name, entry) = users.get_key_value(name)?;
            entry.standard.then_some((name.as_str(), entry))
        };
        let alt_names = [
            ("email", &cert.emails),
            ("SAN", &cert.dns_names),
            ("URI", &cert.uris),
        ];
        for (kind, names) in alt_names {
            if let Some(found) = names.iter().find_map(|name| lookup(name.as_bytes())) {
                debug(format!(
                    "Using {kind} found in cert for auth [{}]",
                    quote_str(found.0)
                ));
                return Some(found);
            }
        }
        let subject = cert.subject_string();
        if let Some(dn) = Dn::from_subject(cert.subject()) {
            let exact = self.dn_users.iter().find(|(user, _)| user.equal(&dn));
            let found = exact
                .or_else(|| self.dn_users.iter().find(|(user, _)| user.rdns_match(&dn)))
                .and_then(|(_, name)| lookup(name.as_bytes()));
            if let Some(found) = found {
                let name = quote_str(found.0);
                debug(format!("Using DistinguishedNameMatch for auth [{name}]"));
                return Some(found);
            }
            let subject = quote_str(&subject);
            debug(format!(
                "DistinguishedNameMatch could not be used for auth [{subject}]"
            ));
        }
        let domain_components = cert.domain_components();
        if !domain_components.is_empty() {
            let with_dcs = [subject.as_bytes(), b",", &domain_components].concat();
            if let Some(found) = lookup(&with_dcs) {
                debug(format!(
                    "Using RDNSequence for auth [{}]",
                    quote_str(found.0)
                ));
                return Some(found);
            }
            debug(format!(
                "RDNSequence could not be used for auth [{}]",
                quote(&with_dcs)
            ));
        }
        if let Some(found) = lookup(subject.as_bytes()) {
            let name = quote_str(found.0);
            debug(format!("Using certificate subject for auth [{name}]"));
            return Some(found);
        }
        debug(format!("User in cert [{}], not found", quote_str(&subject)));
        None
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
    use crate::options::Permissions;

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

/// `verify_and_map`, with the certificates of `configs/certs` (see `generate.sh`).
#[cfg(test)]
mod certificate_tests {
    use std::path::Path;

    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;

    use super::*;
    use crate::options::Permissions;

    /// What a TLS client with the test certificate `map-NAME-cert.pem` (or another file)
    /// presents.
    fn peer(file: &str) -> PeerCertificates {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("configs/certs")
            .join(file);
        let der = CertificateDer::from_pem_file(path).expect("a certificate");
        PeerCertificates::read(&[der])
    }

    fn user(name: &str) -> User {
        User {
            username: name.into(),
            permissions: Some(Permissions::default()),
            ..User::default()
        }
    }

    fn mapping(users: Vec<User>) -> Authenticator {
        Authenticator::mapping_certificates(&AuthOptions {
            users,
            ..AuthOptions::default()
        })
    }

    /// The verdict for a client with `peer`'s certificates and CONNECT's `user`/`pass`,
    /// and the log lines of the check.
    fn check(
        auth: &Authenticator,
        peer: Option<&PeerCertificates>,
        user: &str,
        pass: &str,
    ) -> (Result<Identity, Refused>, Vec<Note>) {
        let creds = Credentials {
            user,
            pass,
            tls: peer,
            ..Credentials::default()
        };
        let mut notes = Vec::new();
        let verdict = match auth.check_noted(creds, &mut notes) {
            Outcome::Done(verdict) => verdict,
            Outcome::Verify(pending) => {
                let matched = verify_bcrypt(&pending.password, &pending.hash);
                pending.resolve(matched)
            }
        };
        (verdict, notes)
    }

    /// The mapped user's name, checking the identity is marked as mapped.
    fn mapped(verdict: Result<Identity, Refused>) -> String {
        let identity = verdict.expect("mapped");
        assert!(identity.mapped);
        assert!(identity.permissions.is_some(), "the user's permissions");
        identity.user.expect("a user name")
    }

    fn debug(line: &str) -> Note {
        Note::Debug(line.to_string())
    }

    #[test]
    fn emails_come_before_dns_names() {
        let auth = mapping(vec![user("bob.natsd.test"), user("alice@natsd.test")]);
        let (verdict, notes) = check(&auth, Some(&peer("map-email-cert.pem")), "", "");
        assert_eq!(mapped(verdict), "alice@natsd.test");
        assert_eq!(
            notes,
            [debug(
                r#"Using email found in cert for auth ["alice@natsd.test"]"#
            )]
        );
        let (verdict, notes) = check(&auth, Some(&peer("map-dns-cert.pem")), "", "");
        assert_eq!(mapped(verdict), "bob.natsd.test");
        assert_eq!(
            notes,
            [debug(
                r#"Using SAN found in cert for auth ["bob.natsd.test"]"#
            )]
        );
        // Without alice, the email certificate's DNS name maps to bob.
        let auth = mapping(vec![user("bob.natsd.test")]);
        let (verdict, _) = check(&auth, Some(&peer("map-email-cert.pem")), "", "");
        assert_eq!(mapped(verdict), "bob.natsd.test");
    }

    #[test]
    fn subjects_match_users_named_as_dns_in_order_then_in_any_order() {
        let carol = peer("map-subject-cert.pem");
        let both = mapping(vec![
            user("O=natsd,OU=dev,CN=carol"),
            user("cn=carol, ou=dev, o=natsd"),
        ]);
        let (verdict, notes) = check(&both, Some(&carol), "", "");
        assert_eq!(
            mapped(verdict),
            "cn=carol, ou=dev, o=natsd",
            "in order first"
        );
        assert_eq!(
            notes,
            [debug(
                r#"Using DistinguishedNameMatch for auth ["cn=carol, ou=dev, o=natsd"]"#
            )]
        );
        let reordered = mapping(vec![user("O=natsd,OU=dev,CN=carol")]);
        let (verdict, _) = check(&reordered, Some(&carol), "", "");
        assert_eq!(mapped(verdict), "O=natsd,OU=dev,CN=carol");
    }

    #[test]
    fn subject_strings_with_and_without_domain_components() {
        let erin = peer("map-dc-cert.pem");
        let with_dcs = mapping(vec![user("CN=erin"), user("CN=erin,DC=org,DC=natsd")]);
        let (verdict, notes) = check(&with_dcs, Some(&erin), "", "");
        assert_eq!(mapped(verdict), "CN=erin,DC=org,DC=natsd");
        // UID leaves the subject without a DN: no DistinguishedNameMatch line.
        assert_eq!(
            notes,
            [debug(
                r#"Using RDNSequence for auth ["CN=erin,DC=org,DC=natsd"]"#
            )]
        );
        let plain = mapping(vec![user("CN=erin")]);
        let (verdict, notes) = check(&plain, Some(&erin), "", "");
        assert_eq!(mapped(verdict), "CN=erin");
        assert_eq!(
            notes,
            [
                debug(r#"RDNSequence could not be used for auth ["CN=erin,DC=org,DC=natsd"]"#),
                debug(r#"Using certificate subject for auth ["CN=erin"]"#),
            ]
        );
    }

    #[test]
    fn unmapped_certificates_and_plain_clients_are_refused() {
        let auth = mapping(vec![user("alice@natsd.test")]);
        let (verdict, notes) = check(&auth, Some(&peer("map-none-cert.pem")), "", "");
        let refused = verdict.expect_err("no such user");
        assert_eq!(refused.to_string(), "authentication error - User \"\"");
        assert_eq!(
            notes,
            [
                debug(
                    r#"DistinguishedNameMatch could not be used for auth ["CN=nobody,OU=map,O=natsd test"]"#
                ),
                debug(r#"User in cert ["CN=nobody,OU=map,O=natsd test"], not found"#),
            ]
        );
        // CONNECT's user does not stand in for the certificate.
        let (verdict, notes) = check(&auth, None, "alice@natsd.test", "");
        let refused = verdict.expect_err("not TLS");
        assert_eq!(
            refused.to_string(),
            "authentication error - User \"alice@natsd.test\""
        );
        assert_eq!(
            notes,
            [debug("User required in cert, no TLS connection state")]
        );
        let nothing = PeerCertificates::read::<&[u8]>(&[]);
        let (_, notes) = check(&auth, Some(&nothing), "", "");
        assert_eq!(
            notes,
            [debug("User required in cert, no peer certificates found")]
        );
        let garbage = PeerCertificates::read(&[b"\x30\x03\x02\x01".as_slice(), b"ca"]);
        let (verdict, notes) = check(&auth, Some(&garbage), "", "");
        assert!(verdict.is_err());
        assert_eq!(
            notes,
            [
                debug("Multiple peer certificates found, selecting first"),
                debug("User required in cert, malformed certificate: truncated"),
            ]
        );
    }

    #[test]
    fn connect_user_is_overruled_and_passwords_still_count() {
        let mut bob = user("bob.natsd.test");
        bob.password = Some("s3cret".into());
        let auth = mapping(vec![bob, user("zed")]);
        let dns = peer("map-dns-cert.pem");
        let (verdict, notes) = check(&auth, Some(&dns), "zed", "s3cret");
        assert_eq!(mapped(verdict), "bob.natsd.test");
        assert_eq!(
            notes[1],
            Note::Warn("User \"zed\" found in connect proto, but user required from cert".into())
        );
        let (verdict, _) = check(&auth, Some(&dns), "", "wrong");
        assert_eq!(
            verdict.expect_err("wrong password").to_string(),
            "authentication error - User \"bob.natsd.test\""
        );
        // A user without a password takes none.
        let auth = mapping(vec![user("bob.natsd.test")]);
        assert!(check(&auth, Some(&dns), "", "extra").0.is_err());
        // bcrypt hashes too.
        let mut bob = user("bob.natsd.test");
        bob.password = Some(bcrypt::hash("pw", 4).unwrap());
        let auth = mapping(vec![bob]);
        assert!(check(&auth, Some(&dns), "", "pw").0.is_ok());
        assert!(check(&auth, Some(&dns), "", "nope").0.is_err());
    }

    #[test]
    fn users_for_other_connection_types_are_passed_over() {
        let mut alice = user("alice@natsd.test");
        alice.allowed_connection_types = ["WEBSOCKET".to_string()].into();
        let mut carol = user("CN=email,OU=map,O=natsd test");
        carol.allowed_connection_types = ["MQTT".to_string()].into();
        let auth = mapping(vec![alice, carol, user("bob.natsd.test")]);
        let (verdict, _) = check(&auth, Some(&peer("map-email-cert.pem")), "", "");
        assert_eq!(mapped(verdict), "bob.natsd.test");
    }

    #[test]
    fn only_listed_users_are_mapped() {
        // A token (or a single user) is checked as without the map, as the reference.
        let token = Authenticator::mapping_certificates(&AuthOptions {
            token: Some("t".into()),
            ..AuthOptions::default()
        });
        let creds = Credentials {
            token: "t",
            ..Credentials::default()
        };
        assert!(matches!(token.check(creds), Outcome::Done(Ok(_))));
        // no_auth_user does not stand in for a certificate.
        let auth = Authenticator::mapping_certificates(&AuthOptions {
            users: vec![user("guest")],
            no_auth_user: Some("guest".into()),
            ..AuthOptions::default()
        });
        let (verdict, _) = check(&auth, Some(&peer("map-none-cert.pem")), "", "");
        assert!(verdict.is_err());
        assert!(!Authenticator::new(&AuthOptions::default()).maps_certificates());
        assert!(auth.maps_certificates());
    }

    #[test]
    fn nkey_users_still_sign_in_with_their_keys() {
        use crate::nkeys::{encode_signature, UserSeed};
        use crate::options::NkeyUser;
        let seed = UserSeed::generate();
        let public = seed.public_key();
        let auth = Authenticator::mapping_certificates(&AuthOptions {
            users: vec![user("alice@natsd.test")],
            nkeys: vec![NkeyUser {
                nkey: public.clone(),
                ..NkeyUser::default()
            }],
            ..AuthOptions::default()
        });
        let sig = encode_signature(&seed.sign(b"nonce"));
        let none = peer("map-none-cert.pem");
        let creds = Credentials {
            nkey: &public,
            sig: &sig,
            nonce: "nonce",
            tls: Some(&none),
            ..Credentials::default()
        };
        let Outcome::Done(Ok(identity)) = auth.check(creds) else {
            panic!("the nkey signs in");
        };
        assert_eq!(identity.user.as_deref(), Some(public.as_str()));
        assert!(!identity.mapped);
        let (verdict, _) = check(&auth, Some(&peer("map-email-cert.pem")), "", "");
        assert_eq!(mapped(verdict), "alice@natsd.test");
        // With nkey users configured, a refusal names CONNECT's (empty) nkey.
        let (verdict, _) = check(&auth, Some(&none), "bob", "");
        let refused = verdict.expect_err("no such user");
        assert_eq!(refused.to_string(), "authentication error - Nkey \"\"");
        let (verdict, _) = check(&auth, Some(&peer("map-email-cert.pem")), "", "pw");
        let refused = verdict.expect_err("alice has no password");
        assert_eq!(refused.to_string(), "authentication error - Nkey \"\"");
    }
}
