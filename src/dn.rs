//! Distinguished names as nats-server 2.9's `internal/ldap` package (from go-ldap) reads and
//! compares them, for `tls { verify_and_map }`: a user whose name parses as a DN
//! (`CN=alice,OU=dev,O=natsd`) is the user of a certificate whose subject is that DN,
//! compared RDN by RDN in order ([`Dn::equal`]) or, failing that, in any order
//! ([`Dn::rdns_match`]).
//!
//! * [`Dn::parse`] is go-ldap's RFC 4514 reader as the reference has it: `\`-escapes of
//!   special characters or two hex digits, unescaped spaces trimmed around types and values,
//!   `+` within an RDN, no `#` (BER) values; it accepts what it accepts (`CN=` is a DN with
//!   no RDN) and refuses the rest (`alice` is not a DN).
//! * [`Dn::from_subject`] is its `FromRawCertSubject`: the subject's RDNs from last to
//!   first (the order of the string form), the attributes of each reversed too; a subject
//!   with an attribute type outside `CN SERIALNUMBER C L ST STREET O OU POSTALCODE DC` has no
//!   DN (`UID=…`, `emailAddress=…` make the reference fall back to string forms).
//!
//! Types compare case-blind as Go's `strings.EqualFold` compares them with an ASCII name;
//! values compare byte for byte (no case folding, no whitespace rules).

use crate::x509::{Attribute, DOMAIN_COMPONENT};

/// A distinguished name: RDNs, each a set of (type, value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dn {
    rdns: Vec<Rdn>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Rdn {
    attributes: Vec<TypeAndValue>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct TypeAndValue {
    /// The type as written (a user's DN) or its short name (a certificate's).
    kind: String,
    /// The value's bytes (a Go string).
    value: Vec<u8>,
}

/// The short names go-ldap gives attribute types, by encoded OID.
const TYPE_NAMES: [(&[u8], &str); 10] = [
    (&[0x55, 0x04, 0x03], "CN"),
    (&[0x55, 0x04, 0x05], "SERIALNUMBER"),
    (&[0x55, 0x04, 0x06], "C"),
    (&[0x55, 0x04, 0x07], "L"),
    (&[0x55, 0x04, 0x08], "ST"),
    (&[0x55, 0x04, 0x09], "STREET"),
    (&[0x55, 0x04, 0x0a], "O"),
    (&[0x55, 0x04, 0x0b], "OU"),
    (&[0x55, 0x04, 0x11], "POSTALCODE"),
    (DOMAIN_COMPONENT, "DC"),
];

impl Dn {
    /// Reads a DN the way go-ldap's `ParseDN` does; `None` where it fails.
    pub fn parse(text: &str) -> Option<Dn> {
        let bytes = text.as_bytes();
        let mut rdns = Vec::new();
        let mut rdn = Vec::new();
        let mut buffer: Vec<u8> = Vec::new();
        let mut kind: Vec<u8> = Vec::new();
        let mut escaping = false;
        // Unescaped spaces at the end of the buffer, dropped when it is taken.
        let mut trailing_spaces = 0;
        let take = |buffer: &mut Vec<u8>, trailing_spaces: &mut usize| {
            let keep = buffer.len().saturating_sub(*trailing_spaces);
            *trailing_spaces = 0;
            let taken = buffer[..keep].to_vec();
            buffer.clear();
            taken
        };
        let mut i = 0;
        while i < bytes.len() {
            let c = bytes[i];
            i += 1;
            if escaping {
                trailing_spaces = 0;
                escaping = false;
                if b" \"#+,;<=>\\".contains(&c) {
                    buffer.push(c);
                    continue;
                }
                // Not a special character: two hex digits.
                let high = hex_digit(c)?;
                let low = hex_digit(*bytes.get(i)?)?;
                buffer.push(high << 4 | low);
                i += 1;
                continue;
            }
            match c {
                b'\\' => {
                    trailing_spaces = 0;
                    escaping = true;
                }
                b'=' => {
                    kind = take(&mut buffer, &mut trailing_spaces);
                    // A `#` value is BER, which go-ldap does not read.
                    if bytes.get(i) == Some(&b'#') {
                        return None;
                    }
                }
                b',' | b'+' => {
                    if kind.is_empty() {
                        return None;
                    }
                    let value = take(&mut buffer, &mut trailing_spaces);
                    rdn.push(TypeAndValue::new(std::mem::take(&mut kind), value));
                    if c == b',' {
                        rdns.push(Rdn {
                            attributes: std::mem::take(&mut rdn),
                        });
                    }
                }
                // Unescaped leading spaces are skipped.
                b' ' if buffer.is_empty() => {}
                _ => {
                    if c == b' ' {
                        trailing_spaces += 1;
                    } else {
                        trailing_spaces = 0;
                    }
                    buffer.push(c);
                }
            }
        }
        // As go-ldap: the last pair counts only if its value is not empty.
        if !buffer.is_empty() {
            if kind.is_empty() {
                return None;
            }
            let value = take(&mut buffer, &mut trailing_spaces);
            rdn.push(TypeAndValue::new(kind, value));
            rdns.push(Rdn { attributes: rdn });
        }
        Some(Dn { rdns })
    }

    /// The DN of a certificate subject (RDNs in DER order), as go-ldap's
    /// `FromRawCertSubject` makes it: `None` when an attribute type has no short name.
    pub fn from_subject(subject: &[Vec<Attribute>]) -> Option<Dn> {
        let mut rdns = Vec::with_capacity(subject.len());
        for rdn in subject.iter().rev().filter(|rdn| !rdn.is_empty()) {
            let mut attributes = Vec::with_capacity(rdn.len());
            for attribute in rdn.iter().rev() {
                let (_, name) = TYPE_NAMES.iter().find(|(oid, _)| *oid == attribute.oid())?;
                attributes.push(TypeAndValue {
                    kind: name.to_string(),
                    value: attribute.value().to_vec(),
                });
            }
            rdns.push(Rdn { attributes });
        }
        Some(Dn { rdns })
    }

    /// Equal as go-ldap's `DN.Equal` (distinguishedNameMatch): as many RDNs, equal in
    /// order; within an RDN, the attributes in any order.
    pub fn equal(&self, other: &Dn) -> bool {
        self.rdns.len() == other.rdns.len()
            && self.rdns.iter().zip(&other.rdns).all(|(a, b)| a.equal(b))
    }

    /// go-ldap's `DN.RDNsMatch`: as many RDNs, and each of these has an equal one in
    /// `other`, in any order.
    pub fn rdns_match(&self, other: &Dn) -> bool {
        self.rdns.len() == other.rdns.len()
            && self
                .rdns
                .iter()
                .all(|mine| other.rdns.iter().any(|theirs| mine.equal(theirs)))
    }
}

impl Rdn {
    /// Same number of attributes, each found in the other (go-ldap's `RelativeDN.Equal`).
    fn equal(&self, other: &Rdn) -> bool {
        self.attributes.len() == other.attributes.len()
            && self.has_all(&other.attributes)
            && other.has_all(&self.attributes)
    }

    fn has_all(&self, attributes: &[TypeAndValue]) -> bool {
        attributes
            .iter()
            .all(|wanted| self.attributes.iter().any(|mine| mine.equal(wanted)))
    }
}

impl TypeAndValue {
    fn new(kind: Vec<u8>, value: Vec<u8>) -> Self {
        TypeAndValue {
            kind: String::from_utf8_lossy(&kind).into_owned(),
            value,
        }
    }

    fn equal(&self, other: &TypeAndValue) -> bool {
        self.value == other.value && equal_fold(&self.kind, &other.kind)
    }
}

/// Go's `strings.EqualFold` where one side is an ASCII attribute name (always the case
/// here: a certificate's types are short names): ASCII letters match either case, and the
/// two non-ASCII letters whose simple case folding reaches ASCII do too (`K` KELVIN SIGN
/// with `k`, `ſ` LONG S with `s`).
fn equal_fold(a: &str, b: &str) -> bool {
    let fold = |c: char| match c {
        '\u{212a}' => 'k',
        '\u{17f}' => 's',
        c => c.to_ascii_lowercase(),
    };
    a.chars().map(fold).eq(b.chars().map(fold))
}

fn hex_digit(c: u8) -> Option<u8> {
    char::from(c).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::x509::Certificate;

    fn dn(text: &str) -> Dn {
        Dn::parse(text).unwrap_or_else(|| panic!("{text:?} is a DN"))
    }

    /// `(type, value)` pairs per RDN.
    fn pairs(dn: &Dn) -> Vec<Vec<(String, String)>> {
        dn.rdns
            .iter()
            .map(|rdn| {
                rdn.attributes
                    .iter()
                    .map(|a| {
                        let value = String::from_utf8_lossy(&a.value).into_owned();
                        (a.kind.clone(), value)
                    })
                    .collect()
            })
            .collect()
    }

    fn pair(kind: &str, value: &str) -> (String, String) {
        (kind.to_string(), value.to_string())
    }

    #[test]
    fn parse_reads_rdns_and_multi_valued_rdns() {
        assert_eq!(
            pairs(&dn("CN=alice,OU=dev+OU=ops,O=natsd")),
            [
                vec![pair("CN", "alice")],
                vec![pair("OU", "dev"), pair("OU", "ops")],
                vec![pair("O", "natsd")],
            ]
        );
    }

    #[test]
    fn parse_trims_unescaped_spaces_and_unescapes() {
        assert_eq!(
            pairs(&dn("  cn =  a b  , O=x\\,y\\ ")),
            [vec![pair("cn", "a b")], vec![pair("O", "x,y ")]]
        );
        assert_eq!(
            pairs(&dn(r"CN=\41\6c\E9")),
            [vec![(
                "CN".to_string(),
                String::from_utf8_lossy(b"Al\xe9").into_owned()
            )]]
        );
        assert_eq!(pairs(&dn(r#"CN=a\=b\#\+\;\<\>\""#))[0][0].1, "a=b#+;<>\"");
        // A second `=` starts the type again, as in go-ldap.
        assert_eq!(pairs(&dn("CN=a=b")), [vec![pair("a", "b")]]);
    }

    #[test]
    fn parse_refuses_what_go_ldap_refuses() {
        for bad in [
            "alice",
            "alice@natsd.test",
            "=x",
            "CN=a,=b",
            "CN=#04024869",
            r"CN=\4",
            r"CN=\zz",
            "CN=a,b",
        ] {
            assert_eq!(Dn::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn parse_accepts_what_go_ldap_accepts() {
        // An empty last value drops the pair; a lone `CN=` is a DN of no RDN.
        assert_eq!(pairs(&dn("CN=")), Vec::<Vec<(String, String)>>::new());
        assert_eq!(pairs(&dn("CN=a,OU=")), [vec![pair("CN", "a")]]);
        assert_eq!(pairs(&dn("")), Vec::<Vec<(String, String)>>::new());
        assert_eq!(
            pairs(&dn("CN=,O=x")),
            [vec![pair("CN", "")], vec![pair("O", "x")]]
        );
        // A trailing backslash is dropped.
        assert_eq!(pairs(&dn("CN=a\\")), [vec![pair("CN", "a")]]);
    }

    #[test]
    fn equal_is_ordered_rdns_with_unordered_attributes() {
        let a = dn("CN=alice,OU=dev+OU=ops,O=natsd");
        assert!(a.equal(&dn("cn=alice,ou=ops+ou=dev,o=natsd")));
        assert!(
            !a.equal(&dn("CN=Alice,OU=dev+OU=ops,O=natsd")),
            "values are exact"
        );
        assert!(!a.equal(&dn("O=natsd,OU=dev+OU=ops,CN=alice")));
        assert!(a.rdns_match(&dn("O=natsd,OU=dev+OU=ops,CN=alice")));
        assert!(!a.rdns_match(&dn("O=natsd,OU=dev,CN=alice")));
        assert!(!a.rdns_match(&dn("CN=alice,OU=dev+OU=ops")));
        assert!(dn("\u{17f}t=x").equal(&dn("ST=x")), "EqualFold's long s");
        assert!(
            dn("\u{212a}=x").equal(&dn("k=x")),
            "EqualFold's Kelvin sign"
        );
        assert!(!dn("\u{e9}=x").equal(&dn("E=x")));
    }

    #[test]
    fn certificate_subjects_read_last_rdn_first() {
        let der = |name: &str| {
            use rustls::pki_types::pem::PemObject;
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("configs/certs")
                .join(name);
            rustls::pki_types::CertificateDer::from_pem_file(path)
                .unwrap()
                .to_vec()
        };
        // Issued as /O=natsd/OU=dev/CN=carol.
        let carol = Certificate::from_der(&der("map-subject-cert.pem")).unwrap();
        let subject = Dn::from_subject(carol.subject()).expect("known types");
        assert!(dn("CN=carol,OU=dev,O=natsd").equal(&subject));
        assert!(!dn("O=natsd,OU=dev,CN=carol").equal(&subject));
        assert!(dn("O=natsd,OU=dev,CN=carol").rdns_match(&subject));
        // UID has no short name: no DN at all.
        let erin = Certificate::from_der(&der("map-dc-cert.pem")).unwrap();
        assert_eq!(Dn::from_subject(erin.subject()), None);
        let server = Certificate::from_der(&der("server-cert.pem")).unwrap();
        let subject = Dn::from_subject(server.subject()).unwrap();
        assert!(dn("CN=localhost,OU=server,O=natsd test").equal(&subject));
    }
}
