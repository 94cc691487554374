//! Public nkey checks (`nkeys.IsValidPublicUserKey`): base32 (RFC 4648, no padding) of a
//! prefix byte, the key and a little-endian CRC-16/XMODEM of both.

/// The prefix byte of a user key (`'U'` once encoded): 20 << 3.
const PREFIX_USER: u8 = 20 << 3;

/// Whether `key` is a valid public user nkey (`U...`).
pub(super) fn is_valid_public_user_key(key: &str) -> bool {
    let Some(raw) = base32_decode(key.as_bytes()) else {
        return false;
    };
    if raw.len() < 4 {
        return false;
    }
    let (data, checksum) = raw.split_at(raw.len() - 2);
    crc16(data) == u16::from_le_bytes([checksum[0], checksum[1]])
        && data[0] & 0b1111_1000 == PREFIX_USER
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A user key nats-server 2.9.10 accepts (✓ref).
    const USER: &str = "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4";

    #[test]
    fn user_keys() {
        assert!(is_valid_public_user_key(USER));
        assert!(!is_valid_public_user_key("x"));
        assert!(!is_valid_public_user_key(""));
        // One character changed: checksum mismatch.
        assert!(!is_valid_public_user_key(&USER.replace("UDXU", "UDXV")));
        // Lower case is not base32.
        assert!(!is_valid_public_user_key(&USER.to_lowercase()));
        // An account key (prefix 'A') is not a user key.
        let mut account = vec![0u8; 32];
        account.insert(0, 0 << 3);
        let crc = crc16(&account).to_le_bytes();
        account.extend_from_slice(&crc);
        assert!(!is_valid_public_user_key(&base32_encode(&account)));
        account[0] = PREFIX_USER;
        account.truncate(33);
        let crc = crc16(&account).to_le_bytes();
        account.extend_from_slice(&crc);
        assert!(is_valid_public_user_key(&base32_encode(&account)));
    }

    #[test]
    fn crc_xmodem_check_value() {
        assert_eq!(crc16(b"123456789"), 0x31C3);
    }

    fn base32_encode(data: &[u8]) -> String {
        const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        let (mut out, mut buffer, mut bits) = (String::new(), 0u32, 0u32);
        for &byte in data {
            buffer = (buffer << 8) | u32::from(byte);
            bits += 8;
            while bits >= 5 {
                bits -= 5;
                out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
            }
            buffer &= (1 << bits) - 1;
        }
        if bits > 0 {
            out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
        }
        out
    }
}
