//! NATS nkeys for users, as the Go `github.com/nats-io/nkeys` library encodes them: a
//! public key `U…` is base32 (RFC 4648, no padding) of the prefix byte 20 << 3, the 32
//! Ed25519 public key bytes and a little-endian CRC-16/XMODEM of both; a seed `SU…` is the
//! same with two prefix bytes (seed 18 << 3 and user 20 << 3 packed) and the 32 seed bytes.
//! Account keys (`A…`, prefix byte 0) are only validated.
//! Plus what nkey authentication needs around them: the INFO `nonce`, the CONNECT `sig`
//! encodings (base64 by hand) and Ed25519 signing and verification (ring).
//!
//! A leaf: no I/O but the OS random source.

use ring::signature::{self, Ed25519KeyPair, KeyPair};

/// The prefix byte of a user key (`'U'` once encoded): 20 << 3.
const PREFIX_USER: u8 = 20 << 3;

/// The prefix byte of an account key (`'A'` once encoded): 0 << 3.
const PREFIX_ACCOUNT: u8 = 0;

/// The prefix byte of a seed (`'S'` once encoded): 18 << 3.
const PREFIX_SEED: u8 = 18 << 3;

/// The bits of a prefix byte that name its kind (the rest belong to the next byte).
const PREFIX_MASK: u8 = 0b1111_1000;

/// Ed25519 public keys and seeds are 32 bytes.
const KEY_LEN: usize = 32;

/// Random bytes in a nonce (nats-server's `nonceRawLen`).
const NONCE_RAW_LEN: usize = 11;

/// Whether `key` is a valid public user nkey ("U…"): base32, prefix byte 20<<3, CRC-16 LE.
///
/// As Go's `nkeys.IsValidPublicUserKey`: only the kind bits of the prefix byte are checked
/// and not the length, so a key this accepts may still fail [`decode_public_user_key`].
pub fn is_valid_public_user_key(key: &str) -> bool {
    decode_checked(key.as_bytes()).is_some_and(|data| data[0] & PREFIX_MASK == PREFIX_USER)
}

/// Whether `key` is a valid public account nkey ("A…"), checked as
/// [`is_valid_public_user_key`] (Go's `nkeys.IsValidPublicAccountKey`).
pub fn is_valid_public_account_key(key: &str) -> bool {
    decode_checked(key.as_bytes()).is_some_and(|data| data[0] & PREFIX_MASK == PREFIX_ACCOUNT)
}

/// The 32 Ed25519 public key bytes of a valid public user nkey.
///
/// As Go's `nkeys.FromPublicKey` for a user: the whole prefix byte must be 20 << 3, and the
/// key exactly 32 bytes (where Go's `ed25519.Verify` would panic on another length).
pub fn decode_public_user_key(key: &str) -> Option<[u8; 32]> {
    let data = decode_checked(key.as_bytes())?;
    match data.split_first() {
        Some((&PREFIX_USER, public)) => public.try_into().ok(),
        _ => None,
    }
}

/// A CONNECT `sig`: base64url without padding, else standard base64 (as nats-server 2.9 falls back).
///
/// As Go's decoders (`base64.RawURLEncoding`, then `base64.StdEncoding`): `\r` and `\n` are
/// skipped, standard base64 needs its `=` padding, and unused low bits of the last
/// character are not checked.
pub fn decode_signature(sig: &str) -> Option<Vec<u8>> {
    base64_decode(sig.as_bytes(), &URL_DECODE, false)
        .or_else(|| base64_decode(sig.as_bytes(), &STD_DECODE, true))
}

/// Whether `sig` is `public`'s Ed25519 signature of `message` (ring's ED25519 verification).
pub fn verify(public: &[u8; 32], message: &[u8], sig: &[u8]) -> bool {
    signature::UnparsedPublicKey::new(&signature::ED25519, public)
        .verify(message, sig)
        .is_ok()
}

/// A fresh nonce for INFO, as nats-server 2.9 makes it: 11 random bytes (getrandom), base64url without padding (15 chars).
pub fn new_nonce() -> String {
    let mut raw = [0u8; NONCE_RAW_LEN];
    getrandom::getrandom(&mut raw).expect("the OS random source works");
    base64_encode(&raw, URL_ALPHABET)
}

/// base64url without padding, as clients send `sig`.
pub fn encode_signature(sig: &[u8]) -> String {
    base64_encode(sig, URL_ALPHABET)
}

/// A user seed ("SU…"): the private key of a user nkey.
///
/// Its bytes are overwritten when it is dropped, and `Debug` shows the public key only.
pub struct UserSeed {
    seed: [u8; KEY_LEN],
}

impl UserSeed {
    /// A new random seed (getrandom).
    pub fn generate() -> UserSeed {
        let mut seed = [0u8; KEY_LEN];
        getrandom::getrandom(&mut seed).expect("the OS random source works");
        UserSeed { seed }
    }

    /// Decodes "SU…" (surrounding whitespace trimmed): checks the CRC, the seed and user
    /// prefixes and the length (32 seed bytes).
    pub fn from_text(text: &str) -> Option<UserSeed> {
        let mut data = decode_checked(text.trim().as_bytes())?;
        let seed = match data.as_slice() {
            [b1, b2, seed @ ..] if seed.len() == KEY_LEN => {
                let kind = b1 & PREFIX_MASK;
                let public = (b1 & 0b111) << 5 | (b2 & PREFIX_MASK) >> 3;
                (kind == PREFIX_SEED && public == PREFIX_USER).then(|| UserSeed {
                    seed: seed.try_into().expect("32 bytes"),
                })
            }
            _ => None,
        };
        wipe(&mut data);
        seed
    }

    /// Encodes "SU…".
    pub fn to_text(&self) -> String {
        let mut raw = Vec::with_capacity(2 + KEY_LEN + 2);
        raw.push(PREFIX_SEED | PREFIX_USER >> 5);
        raw.push((PREFIX_USER & 0b1_1111) << 3);
        raw.extend_from_slice(&self.seed);
        let text = encode_checked(&mut raw);
        wipe(&mut raw);
        text
    }

    /// The public key, "U…".
    pub fn public_key(&self) -> String {
        let mut raw = Vec::with_capacity(1 + KEY_LEN + 2);
        raw.push(PREFIX_USER);
        raw.extend_from_slice(self.key_pair().public_key().as_ref());
        encode_checked(&mut raw)
    }

    /// The Ed25519 signature (64 bytes) of `message`.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.key_pair().sign(message).as_ref().to_vec()
    }

    fn key_pair(&self) -> Ed25519KeyPair {
        Ed25519KeyPair::from_seed_unchecked(&self.seed).expect("any 32 bytes are an Ed25519 seed")
    }
}

impl Drop for UserSeed {
    fn drop(&mut self) {
        wipe(&mut self.seed);
    }
}

impl std::fmt::Debug for UserSeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserSeed")
            .field("public_key", &self.public_key())
            .finish_non_exhaustive()
    }
}

/// Overwrites secret bytes (volatile writes, so they are not optimised away).
pub(crate) fn wipe(bytes: &mut [u8]) {
    for byte in bytes.iter_mut() {
        // SAFETY: `byte` is a valid, aligned, exclusive reference.
        unsafe { std::ptr::write_volatile(byte, 0) };
    }
}

/// nkeys' `decode`: base32, at least 4 bytes, and a CRC-16 over all but the last two bytes
/// that matches them (little-endian). Returns the bytes before the CRC (never empty).
fn decode_checked(text: &[u8]) -> Option<Vec<u8>> {
    let mut raw = base32_decode(text)?;
    if raw.len() < 4 {
        return None;
    }
    let at = raw.len() - 2;
    let crc = u16::from_le_bytes([raw[at], raw[at + 1]]);
    raw.truncate(at);
    (crc16(&raw) == crc).then_some(raw)
}

/// Appends the CRC-16 (little-endian) to `raw` and encodes it in base32.
fn encode_checked(raw: &mut Vec<u8>) -> String {
    let crc = crc16(raw).to_le_bytes();
    raw.extend_from_slice(&crc);
    base32_encode(raw)
}

const BASE32_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// Go's `base32.StdEncoding.WithPadding(NoPadding)` encoding.
fn base32_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity((data.len() * 8).div_ceil(5));
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &byte in data {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(
                BASE32_ALPHABET[((buffer >> bits) & 31) as usize],
            ));
        }
        buffer &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(char::from(
            BASE32_ALPHABET[((buffer << (5 - bits)) & 31) as usize],
        ));
    }
    out
}

/// Go's `base32.StdEncoding.WithPadding(NoPadding)` decoding (which skips `\r` and `\n`).
fn base32_decode(text: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let (mut buffer, mut bits, mut chars) = (0u32, 0u32, 0usize);
    for &c in text.iter().filter(|&&c| c != b'\r' && c != b'\n') {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'2'..=b'7' => c - b'2' + 26,
            _ => return None,
        };
        buffer = (buffer << 5) | u32::from(value);
        bits += 5;
        chars += 1;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    // A final group of 1, 3 or 6 characters cannot come from whole bytes.
    (!matches!(chars % 8, 1 | 3 | 6)).then_some(out)
}

/// CRC-16/XMODEM (polynomial 0x1021, initial 0), as nkeys computes it.
fn crc16(data: &[u8]) -> u16 {
    data.iter().fold(0u16, |mut crc, &byte| {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
        crc
    })
}

const STD_ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL_ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// A character's 6-bit value, [`INVALID`] for a character outside the alphabet.
const STD_DECODE: [u8; 256] = decode_table(STD_ALPHABET);
const URL_DECODE: [u8; 256] = decode_table(URL_ALPHABET);
const INVALID: u8 = 0xFF;

const fn decode_table(alphabet: &[u8; 64]) -> [u8; 256] {
    let mut table = [INVALID; 256];
    let mut i = 0;
    while i < 64 {
        table[alphabet[i] as usize] = i as u8;
        i += 1;
    }
    table
}

/// base64 of `data` in `alphabet`, without padding.
fn base64_encode(data: &[u8], alphabet: &[u8; 64]) -> String {
    let mut out = String::with_capacity((data.len() * 4).div_ceil(3));
    for chunk in data.chunks(3) {
        let group = chunk
            .iter()
            .enumerate()
            .fold(0u32, |group, (i, &b)| group | u32::from(b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(alphabet[(group >> (18 - 6 * i) & 63) as usize]));
        }
    }
    out
}

/// Go's non-strict base64 decoding: `\r` and `\n` skipped; with `padded`, the text (less
/// those) must come in groups of 4 with one or two final `=` for a short last group;
/// without, a final group of 2 or 3 characters; low bits left over are ignored.
fn base64_decode(text: &[u8], table: &[u8; 256], padded: bool) -> Option<Vec<u8>> {
    let mut chars: Vec<u8> = text
        .iter()
        .copied()
        .filter(|&c| c != b'\r' && c != b'\n')
        .collect();
    if padded {
        if !chars.len().is_multiple_of(4) {
            return None;
        }
        let pad = chars.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 {
            return None;
        }
        chars.truncate(chars.len() - pad);
    }
    if chars.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(chars.len() * 3 / 4);
    for group in chars.chunks(4) {
        let mut bits = 0u32;
        for (i, &c) in group.iter().enumerate() {
            let value = table[usize::from(c)];
            if value == INVALID {
                return None;
            }
            bits |= u32::from(value) << (18 - 6 * i);
        }
        out.extend_from_slice(&bits.to_be_bytes()[1..group.len()]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A user key nats-server 2.9.10 accepts in a configuration file (✓ref).
    const USER: &str = "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4";

    /// The Go library's own example (nkeys README and `nk/README.md`): a seed, its public key,
    /// and `nk -sign` of a file holding "Hello World!\n".
    const GO_SEED: &str = "SUAKYRHVIOREXV7EUZTBHUHL7NUMHPMAS7QMDU3GTIUWEI5LDNOXD43IZY";
    const GO_PUBLIC: &str = "UD466L6EBCM3YY5HEGHJANNTN4LSKTSUXTH7RILHCKEQMQHTBNLHJJXT";
    const GO_SIG: &str =
        "0CK1XmkxNfUGfudxliWTWeoETgIo23m9qowS9yTfYFSrjR8HgAW63jQ3NxPU_jG38hZPW61IZSun37N690CkDg";
    const GO_MESSAGE: &[u8] = b"Hello World!\n";

    /// Raw bytes with their CRC, in base32: a key of any prefix and length.
    fn encode_raw(data: &[u8]) -> String {
        encode_checked(&mut data.to_vec())
    }

    /// Standard base64 with `=` padding.
    fn std_padded(data: &[u8]) -> String {
        let mut text = base64_encode(data, STD_ALPHABET);
        while !text.len().is_multiple_of(4) {
            text.push('=');
        }
        text
    }

    #[test]
    fn account_keys() {
        // Accepted by nats-server 2.9.10 as an account `nkey` (✓ref).
        let account = "AAAQEAYEAUDAOCAJBIFQYDIOB4IBCEQTCQKRMFYYDENBWHA5DYPSAXJQ";
        assert!(is_valid_public_account_key(account));
        assert!(!is_valid_public_user_key(account));
        assert!(!is_valid_public_account_key(USER));
        assert!(!is_valid_public_account_key("ABAD"));
        let mut raw = vec![PREFIX_ACCOUNT | 0b111];
        raw.extend([7; 32]);
        assert!(
            is_valid_public_account_key(&encode_raw(&raw)),
            "only the kind bits of the prefix byte count, as in Go"
        );
    }

    #[test]
    fn go_library_vector() {
        let seed = UserSeed::from_text(GO_SEED).expect("the Go example seed");
        assert_eq!(seed.to_text(), GO_SEED);
        assert_eq!(seed.public_key(), GO_PUBLIC);
        // Ed25519 is deterministic: the same seed signs the same message the same way.
        assert_eq!(encode_signature(&seed.sign(GO_MESSAGE)), GO_SIG);
        let public = decode_public_user_key(GO_PUBLIC).unwrap();
        let sig = decode_signature(GO_SIG).unwrap();
        assert!(verify(&public, GO_MESSAGE, &sig));
        assert!(!verify(&public, b"Hello World!", &sig));
    }

    #[test]
    fn user_keys() {
        assert!(is_valid_public_user_key(USER));
        assert!(decode_public_user_key(USER).is_some());
        assert!(!is_valid_public_user_key("x"));
        assert!(!is_valid_public_user_key(""));
        // One character changed: checksum mismatch.
        assert!(!is_valid_public_user_key(&USER.replace("UDXU", "UDXV")));
        assert!(decode_public_user_key(&USER.replace("UDXU", "UDXV")).is_none());
        // Lower case is not base32; padding is not expected.
        assert!(!is_valid_public_user_key(&USER.to_lowercase()));
        assert!(!is_valid_public_user_key(&format!("{USER}====")));
        // Go's decoder skips line breaks.
        let broken = format!("{}\r\n{}\n", &USER[..20], &USER[20..]);
        assert!(is_valid_public_user_key(&broken));
        assert_eq!(
            decode_public_user_key(&broken),
            decode_public_user_key(USER)
        );
        // An account key (prefix 'A') is not a user key.
        let mut key = [0u8; 33];
        assert!(!is_valid_public_user_key(&encode_raw(&key)));
        key[0] = PREFIX_USER;
        assert!(is_valid_public_user_key(&encode_raw(&key)));
        assert_eq!(decode_public_user_key(&encode_raw(&key)), Some([0; 32]));
        // Low prefix bits set: a user key to IsValidPublicUserKey, not to FromPublicKey.
        key[0] = PREFIX_USER | 1;
        assert!(is_valid_public_user_key(&encode_raw(&key)));
        assert!(decode_public_user_key(&encode_raw(&key)).is_none());
        // The wrong length: valid to IsValidPublicUserKey, no Ed25519 key.
        for len in [2, 32, 34] {
            let mut short = vec![0u8; len];
            short[0] = PREFIX_USER;
            assert!(is_valid_public_user_key(&encode_raw(&short)), "{len}");
            assert!(
                decode_public_user_key(&encode_raw(&short)).is_none(),
                "{len}"
            );
        }
        // A user seed is not a public key.
        assert!(!is_valid_public_user_key(GO_SEED));
        assert!(decode_public_user_key(GO_SEED).is_none());
    }

    #[test]
    fn crc_xmodem_check_value() {
        assert_eq!(crc16(b"123456789"), 0x31C3);
    }

    #[test]
    fn base32_round_trip() {
        // RFC 4648 section 10, less the padding.
        for (data, text) in [
            ("", ""),
            ("f", "MY"),
            ("fo", "MZXQ"),
            ("foo", "MZXW6"),
            ("foob", "MZXW6YQ"),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI"),
        ] {
            assert_eq!(base32_encode(data.as_bytes()), text);
            assert_eq!(base32_decode(text.as_bytes()).unwrap(), data.as_bytes());
        }
        assert!(base32_decode(b"M").is_none());
        assert!(base32_decode(b"MZX").is_none());
        assert!(base32_decode(b"MZXW6Y").is_none());
        assert!(base32_decode(b"MY==").is_none());
    }

    #[test]
    fn base64_round_trip() {
        // RFC 4648 section 10, less the padding.
        for (data, text) in [
            ("", ""),
            ("f", "Zg"),
            ("fo", "Zm8"),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg"),
            ("fooba", "Zm9vYmE"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64_encode(data.as_bytes(), URL_ALPHABET), text);
            assert_eq!(decode_signature(text).unwrap(), data.as_bytes());
        }
        let all: Vec<u8> = (0..=255).collect();
        for len in 0..all.len() {
            let data = &all[..len];
            assert_eq!(decode_signature(&encode_signature(data)).unwrap(), data);
            assert_eq!(decode_signature(&std_padded(data)).unwrap(), data);
        }
    }

    #[test]
    fn signatures_in_both_encodings() {
        // Bytes that need '-' and '_' in base64url and '+' and '/' in standard base64.
        let sig: Vec<u8> = (0..64).map(|i| 0xF8 | (i % 8)).collect();
        let url = encode_signature(&sig);
        assert_eq!(url.len(), 86);
        assert!(url.contains('_') && !url.contains('='));
        let std = std_padded(&sig);
        assert!(std.contains('/') && std.ends_with("=="));
        assert_eq!(decode_signature(&url).unwrap(), sig);
        assert_eq!(decode_signature(&std).unwrap(), sig);
        // Line breaks are skipped by both of Go's decoders.
        assert_eq!(
            decode_signature(&format!("{}\r\n{}", &url[..40], &url[40..])).unwrap(),
            sig
        );
        assert_eq!(
            decode_signature(&format!("{}\n{}", &std[..40], &std[40..])).unwrap(),
            sig
        );
        // Standard base64 wants its padding; base64url must have none.
        assert!(decode_signature(std.trim_end_matches('=')).is_none());
        assert!(decode_signature(&std[..std.len() - 1]).is_none());
        assert!(decode_signature(&format!("{url}==")).is_none());
        assert!(decode_signature("Zg===").is_none());
        assert!(decode_signature("Z===").is_none());
        assert!(decode_signature("Zg=a").is_none());
        // Not base64 at all; a lone last character.
        assert!(decode_signature("Zm9v!").is_none());
        assert!(decode_signature("Zm9vY").is_none());
        assert!(decode_signature("Zm 9v").is_none());
        // Go's decoders are not strict: unused low bits of the last character are ignored.
        assert_eq!(decode_signature("Zh").unwrap(), b"f");
        assert_eq!(decode_signature("Zh==").unwrap(), b"f");
    }

    #[test]
    fn nonces() {
        let nonce = new_nonce();
        assert_eq!(nonce.len(), 15);
        assert_eq!(decode_signature(&nonce).unwrap().len(), NONCE_RAW_LEN);
        assert!(nonce.bytes().all(|c| URL_DECODE[usize::from(c)] != INVALID));
        assert_ne!(new_nonce(), nonce);
    }

    #[test]
    fn seed_round_trip() {
        let seed = UserSeed::generate();
        let text = seed.to_text();
        assert_eq!(text.len(), 58);
        assert!(text.starts_with("SU"), "{text}");
        let again = UserSeed::from_text(&format!("  {text}\n")).unwrap();
        assert_eq!(again.to_text(), text);
        let public = seed.public_key();
        assert_eq!(public.len(), 56);
        assert!(public.starts_with('U'), "{public}");
        assert!(is_valid_public_user_key(&public));
        assert_eq!(again.public_key(), public);
        assert_ne!(UserSeed::generate().to_text(), text);
        assert!(format!("{seed:?}").contains(&public));
        assert!(!format!("{seed:?}").contains(&text[2..]));
    }

    #[test]
    fn bad_seeds_refused() {
        assert!(UserSeed::from_text("").is_none());
        assert!(UserSeed::from_text("   \n").is_none());
        // A character changed: checksum mismatch.
        assert!(UserSeed::from_text(&GO_SEED.replace("SUAK", "SUAL")).is_none());
        // A public key is not a seed.
        assert!(UserSeed::from_text(GO_PUBLIC).is_none());
        let seed_bytes = [7u8; 32];
        let with = |b1: u8, b2: u8, seed: &[u8]| {
            let mut raw = vec![b1, b2];
            raw.extend_from_slice(seed);
            encode_raw(&raw)
        };
        let user = (PREFIX_SEED | PREFIX_USER >> 5, (PREFIX_USER & 31) << 3);
        assert!(UserSeed::from_text(&with(user.0, user.1, &seed_bytes)).is_some());
        // An account seed ("SA…"), a server seed ("SN…").
        assert!(UserSeed::from_text(&with(PREFIX_SEED, 0, &seed_bytes)).is_none());
        let server = 13 << 3;
        let server_seed = with(PREFIX_SEED | server >> 5, (server & 31) << 3, &seed_bytes);
        assert!(server_seed.starts_with("SN"), "{server_seed}");
        assert!(UserSeed::from_text(&server_seed).is_none());
        // Not a seed prefix ("P…" is a private key).
        assert!(
            UserSeed::from_text(&with((15 << 3) | (user.0 & 7), user.1, &seed_bytes)).is_none()
        );
        // Seed bytes of the wrong length.
        assert!(UserSeed::from_text(&with(user.0, user.1, &seed_bytes[..31])).is_none());
        assert!(UserSeed::from_text(&with(user.0, user.1, &[7u8; 33])).is_none());
    }

    #[test]
    fn tampering_refused() {
        let seed = UserSeed::generate();
        let nonce = new_nonce();
        let public = decode_public_user_key(&seed.public_key()).unwrap();
        let sig = decode_signature(&encode_signature(&seed.sign(nonce.as_bytes()))).unwrap();
        assert_eq!(sig.len(), 64);
        assert!(verify(&public, nonce.as_bytes(), &sig));
        // Each bit of the signature matters.
        for bit in 0..sig.len() * 8 {
            let mut bad = sig.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            assert!(!verify(&public, nonce.as_bytes(), &bad), "bit {bit}");
        }
        // Truncated, extended, empty.
        assert!(!verify(&public, nonce.as_bytes(), &sig[..63]));
        assert!(!verify(
            &public,
            nonce.as_bytes(),
            &[sig.as_slice(), &[0]].concat()
        ));
        assert!(!verify(&public, nonce.as_bytes(), &[]));
        // Another nonce, another key.
        assert!(!verify(&public, new_nonce().as_bytes(), &sig));
        let mut other_nonce = nonce.clone().into_bytes();
        other_nonce[0] ^= 1;
        assert!(!verify(&public, &other_nonce, &sig));
        let other = decode_public_user_key(&UserSeed::generate().public_key()).unwrap();
        assert!(!verify(&other, nonce.as_bytes(), &sig));
        let mut flipped = public;
        flipped[5] ^= 0x10;
        assert!(!verify(&flipped, nonce.as_bytes(), &sig));
    }
}
