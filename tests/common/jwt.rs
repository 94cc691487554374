//! Operator-mode identities made by hand, as the Go `nkeys` and `jwt/v2` libraries (v2.3.0,
//! the one nats-server 2.9.10 uses) make them: nkeys of any kind, the operator → account →
//! user JWT chain, and credentials files. Written independently of `natsd::nkeys` (which
//! only knows user keys), so a nats-server hub is the judge of both.
//!
//! An nkey is base32 (RFC 4648, no padding) of its prefix, the 32 Ed25519 bytes and a
//! CRC-16/XMODEM of both, little-endian. A public key has one prefix byte (its kind); a seed
//! packs the seed kind and the key's kind into two. A JWT is
//! `b64(header).b64(claims).b64(Ed25519 signature of the first two parts by the issuer)`,
//! base64url without padding.

use std::time::{SystemTime, UNIX_EPOCH};

use ring::digest;
use ring::signature::{Ed25519KeyPair, KeyPair as _};
use serde_json::{json, Value};

/// What an nkey identifies: its prefix byte (Go's `nkeys.PrefixByte*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `O…`: 14 << 3.
    Operator = 14 << 3,
    /// `A…`: 0.
    Account = 0,
    /// `U…`: 20 << 3.
    User = 20 << 3,
}

/// The prefix byte of a seed (`S…`): 18 << 3.
const PREFIX_SEED: u8 = 18 << 3;

/// An nkey pair: a random Ed25519 seed of one [`Kind`].
pub struct KeyPair {
    kind: Kind,
    seed: [u8; 32],
    pair: Ed25519KeyPair,
}

impl KeyPair {
    /// A new random key of `kind`.
    pub fn generate(kind: Kind) -> KeyPair {
        let mut seed = [0u8; 32];
        getrandom::getrandom(&mut seed).expect("OS random source");
        let pair = Ed25519KeyPair::from_seed_unchecked(&seed).expect("any 32 bytes are a seed");
        KeyPair { kind, seed, pair }
    }

    /// The public key: `O…`, `A…` or `U…`.
    pub fn public_key(&self) -> String {
        let mut raw = vec![self.kind as u8];
        raw.extend_from_slice(self.pair.public_key().as_ref());
        encode_checked(raw)
    }

    /// The seed: `SO…`, `SA…` or `SU…`.
    pub fn seed(&self) -> String {
        let kind = self.kind as u8;
        let mut raw = vec![PREFIX_SEED | kind >> 5, (kind & 0b1_1111) << 3];
        raw.extend_from_slice(&self.seed);
        encode_checked(raw)
    }

    /// The Ed25519 signature of `message`, base64url without padding (a JWT's third part
    /// and a CONNECT `sig`).
    pub fn sign(&self, message: &[u8]) -> String {
        b64(self.pair.sign(message).as_ref())
    }
}

/// A self-signed operator JWT.
pub fn operator_jwt(operator: &KeyPair) -> String {
    encode(
        operator,
        operator,
        "OP",
        json!({"type": "operator", "version": 2}),
    )
}

/// An account JWT for `account` signed by `operator`, with no limits (`-1` everywhere: a
/// missing limit is 0, and an account with `conn: 0` admits nobody).
pub fn account_jwt(account: &KeyPair, operator: &KeyPair) -> String {
    let nats = json!({
        "limits": {
            "subs": -1, "data": -1, "payload": -1,
            "imports": -1, "exports": -1, "wildcards": true, "conn": -1, "leaf": -1,
        },
        "default_permissions": {"pub": {}, "sub": {}},
        "type": "account",
        "version": 2,
    });
    encode(operator, account, "ACC", nats)
}

/// A user JWT for `user` signed by `account`: no permissions, no limits (what
/// `nsc add user` writes).
pub fn user_jwt(user: &KeyPair, account: &KeyPair) -> String {
    let nats = json!({
        "pub": {}, "sub": {},
        "subs": -1, "data": -1, "payload": -1,
        "type": "user",
        "version": 2,
    });
    encode(account, user, "USR", nats)
}

/// A credentials file as `nsc` writes it.
pub fn creds(jwt: &str, user: &KeyPair) -> String {
    format!(
        "-----BEGIN NATS USER JWT-----\n{jwt}\n------END NATS USER JWT------\n\n\
         ************************* IMPORTANT *************************\n\
         NKEY Seed printed below can be used to sign and prove identity.\n\
         NKEYs are sensitive and should be treated as secrets.\n\n\
         -----BEGIN USER NKEY SEED-----\n{}\n------END USER NKEY SEED------\n\n\
         *************************************************************\n",
        user.seed()
    )
}

/// `jwt.ClaimsData.doEncode`: the claims of `subject` issued now by `issuer`, with `nats`,
/// signed. The `jti` is computed as the library does (base32 of SHA-512/256 of the claims
/// data without it), though `jwt.Decode` does not check it.
fn encode(issuer: &KeyPair, subject: &KeyPair, name: &str, nats: Value) -> String {
    let iat = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    let (iss, sub) = (issuer.public_key(), subject.public_key());
    // Go's field order: aud, exp, jti, iat, iss, name, nbf, sub (empty ones left out).
    let data = format!(r#""iat":{iat},"iss":"{iss}","name":"{name}","sub":"{sub}""#);
    let jti =
        base32(digest::digest(&digest::SHA512_256, format!("{{{data}}}").as_bytes()).as_ref());
    let claims = format!(r#"{{"jti":"{jti}",{data},"nats":{nats}}}"#);
    let header = b64(br#"{"typ":"JWT","alg":"ed25519-nkey"}"#);
    let signed = format!("{header}.{}", b64(claims.as_bytes()));
    let sig = issuer.sign(signed.as_bytes());
    format!("{signed}.{sig}")
}

/// Appends the CRC-16/XMODEM (little-endian) and encodes in base32.
fn encode_checked(mut raw: Vec<u8>) -> String {
    let crc = raw.iter().fold(0u16, |mut crc, &byte| {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                crc << 1 ^ 0x1021
            } else {
                crc << 1
            };
        }
        crc
    });
    raw.extend_from_slice(&crc.to_le_bytes());
    base32(&raw)
}

/// RFC 4648 base32, standard alphabet, no padding.
fn base32(data: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    encode_bits(data, 5, ALPHABET)
}

/// base64url without padding.
fn b64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    encode_bits(data, 6, ALPHABET)
}

/// `data` as characters of `width` bits each (the last one zero-padded), no padding.
fn encode_bits(data: &[u8], width: u32, alphabet: &[u8]) -> String {
    let mut out = String::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &byte in data {
        buffer = buffer << 8 | u32::from(byte);
        bits += 8;
        while bits >= width {
            bits -= width;
            out.push(char::from(
                alphabet[(buffer >> bits) as usize & ((1 << width) - 1)],
            ));
        }
    }
    if bits > 0 {
        out.push(char::from(
            alphabet[(buffer << (width - bits)) as usize & ((1 << width) - 1)],
        ));
    }
    out
}
