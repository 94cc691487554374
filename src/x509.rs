//! A small X.509 reader for `tls { verify_and_map }`: what nats-server 2.9 looks at in a
//! client's certificate to find its user, read from the DER the TLS handshake received.
//!
//! * the subject, as its attributes (RDNs in DER order), with each value decoded as Go 1.19's
//!   `crypto/x509` decodes it (the Go build of nats-server 2.9.10);
//! * the subjectAltName extension's email addresses (rfc822Name), DNS names and URIs;
//! * the subject's string forms the reference compares with user names: Go's
//!   `pkix.Name.ToRDNSequence().String()` ([`Certificate::subject_string`]) and the
//!   reference's list of domain components ([`Certificate::domain_components`]).
//!
//! rustls has verified the certificate by the time it gets here; rustls-webpki, which did
//! that, exposes the subject only as raw DER, the DNS names only when they are valid host
//! names, and no email addresses. This reader re-reads just those fields: TBSCertificate
//! down to the subject, then the extensions. It is bounds-checked throughout and returns
//! [`Error`] for anything malformed or that Go would refuse (an attribute value that is not
//! a string, a non-ASCII email address…): it never panics, whatever the input.

use std::fmt;

const BOOLEAN: u8 = 0x01;
const INTEGER: u8 = 0x02;
const OCTET_STRING: u8 = 0x04;
const OID: u8 = 0x06;
const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;

const UTF8_STRING: u8 = 0x0c;
const NUMERIC_STRING: u8 = 0x12;
const PRINTABLE_STRING: u8 = 0x13;
const T61_STRING: u8 = 0x14;
const IA5_STRING: u8 = 0x16;
const BMP_STRING: u8 = 0x1e;

/// `[0] EXPLICIT Version`, `[1]`/`[2]` unique ids, `[3] EXPLICIT Extensions`.
const VERSION: u8 = 0xa0;
const ISSUER_UNIQUE_ID: u8 = 0x81;
const SUBJECT_UNIQUE_ID: u8 = 0x82;
const EXTENSIONS: u8 = 0xa3;

/// GeneralName choices kept from the subjectAltName (`[1]`, `[2]`, `[6]`, IMPLICIT IA5String).
const RFC822_NAME: u8 = 0x81;
const DNS_NAME: u8 = 0x82;
const URI: u8 = 0x86;

/// The encoded OID of subjectAltName, 2.5.29.17.
const SUBJECT_ALT_NAME: &[u8] = &[0x55, 0x1d, 0x11];

/// The encoded OID of domainComponent, 0.9.2342.19200300.100.1.25.
pub const DOMAIN_COMPONENT: &[u8] = &[0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19];

/// The last arc of the attribute types Go's `pkix.Name` keeps in fields (2.5.4.X).
const COMMON_NAME: u8 = 3;
const SERIAL_NUMBER: u8 = 5;
const COUNTRY: u8 = 6;
const LOCALITY: u8 = 7;
const PROVINCE: u8 = 8;
const STREET_ADDRESS: u8 = 9;
const ORGANIZATION: u8 = 10;
const ORGANIZATIONAL_UNIT: u8 = 11;
const POSTAL_CODE: u8 = 17;

/// A certificate's DER could not be read (or holds what Go's parser refuses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Error(&'static str);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed certificate: {}", self.0)
    }
}

impl std::error::Error for Error {}

const TRUNCATED: Error = Error("truncated");

/// One attribute of the subject: its type (the OID's encoded contents) and its value as the
/// bytes of the Go string Go's parser makes of it (UTF-8, except a T61String's raw bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    oid: Vec<u8>,
    value: Vec<u8>,
}

impl Attribute {
    /// The type's OID, encoded (without tag and length): `55 04 03` for 2.5.4.3.
    pub fn oid(&self) -> &[u8] {
        &self.oid
    }

    /// The value (a Go string: UTF-8, but for a T61String's raw bytes).
    pub fn value(&self) -> &[u8] {
        &self.value
    }

    /// `X` for the attribute type 2.5.4.X (X < 128), which Go's `pkix.Name` names.
    fn x500_arc(&self) -> Option<u8> {
        match self.oid[..] {
            [0x55, 0x04, arc] if arc < 0x80 => Some(arc),
            _ => None,
        }
    }
}

/// What `verify_and_map` reads from a client certificate.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Certificate {
    /// The subject's relative distinguished names, in DER order.
    subject: Vec<Vec<Attribute>>,
    /// subjectAltName rfc822Name entries, in order.
    pub emails: Vec<String>,
    /// subjectAltName dNSName entries, in order.
    pub dns_names: Vec<String>,
    /// subjectAltName uniformResourceIdentifier entries, in order, as written.
    pub uris: Vec<String>,
    /// The subjectPublicKeyInfo element, whole (tag and length included), as Go's
    /// `RawSubjectPublicKeyInfo`.
    pub public_key_info: Vec<u8>,
}

impl Certificate {
    /// Reads a DER certificate.
    pub fn from_der(der: &[u8]) -> Result<Certificate, Error> {
        let mut outer = Der::new(der);
        let mut cert = Der::new(outer.expect(SEQUENCE)?);
        if !outer.is_empty() {
            return Err(Error("trailing data"));
        }
        let mut tbs = Der::new(cert.expect(SEQUENCE)?);
        let version = match tbs.optional(VERSION)? {
            Some(explicit) => small_integer(Der::new(explicit).expect(INTEGER)?)?,
            None => 0,
        };
        if version > 2 {
            return Err(Error("unknown version"));
        }
        tbs.expect(INTEGER)?; // serialNumber
        tbs.expect(SEQUENCE)?; // signature
        tbs.expect(SEQUENCE)?; // issuer
        tbs.expect(SEQUENCE)?; // validity
        let subject = read_name(tbs.expect(SEQUENCE)?)?;
        let public_key_info = tbs.whole(SEQUENCE)?.to_vec();
        let mut certificate = Certificate {
            subject,
            public_key_info,
            ..Certificate::default()
        };
        if version >= 1 {
            tbs.optional(ISSUER_UNIQUE_ID)?;
            tbs.optional(SUBJECT_UNIQUE_ID)?;
        }
        if version == 2 {
            if let Some(extensions) = tbs.optional(EXTENSIONS)? {
                if let Some(names) = subject_alt_name(extensions)? {
                    certificate.read_alt_names(names)?;
                }
            }
        }
        Ok(certificate)
    }

    /// The subject's relative distinguished names, in DER order.
    pub fn subject(&self) -> &[Vec<Attribute>] {
        &self.subject
    }

    /// Whether Go's `Subject.String()` is not empty: any attribute but an empty common name
    /// or serial number (Go keeps only the last of each, and drops it when empty).
    pub fn has_subject(&self) -> bool {
        let (mut common_name, mut serial_number, mut others) = (false, false, false);
        for attribute in self.subject.iter().flatten() {
            match attribute.x500_arc() {
                Some(COMMON_NAME) => common_name = !attribute.value.is_empty(),
                Some(SERIAL_NUMBER) => serial_number = !attribute.value.is_empty(),
                _ => others = true,
            }
        }
        common_name || serial_number || others
    }

    /// The subject as Go's `pkix.Name.ToRDNSequence().String()` prints it (what the reference
    /// looks up as a user name): only the attribute types `pkix.Name` has fields for, grouped
    /// by type into one RDN each and printed in the fixed order `SERIALNUMBER, CN, OU, O,
    /// POSTALCODE, STREET, L, ST, C` whatever the certificate's order, values of one type
    /// joined with `+`, the last common name and serial number only, and RFC 2253 escapes
    /// as Go writes them: `CN=alice,OU=dev+OU=ops,O=natsd`.
    pub fn subject_string(&self) -> String {
        let mut last_common_name: &[u8] = &[];
        let mut last_serial_number: &[u8] = &[];
        for attribute in self.subject.iter().flatten() {
            match attribute.x500_arc() {
                Some(COMMON_NAME) => last_common_name = &attribute.value,
                Some(SERIAL_NUMBER) => last_serial_number = &attribute.value,
                _ => {}
            }
        }
        let of_type = |arc: u8| -> Vec<&[u8]> {
            match arc {
                COMMON_NAME if last_common_name.is_empty() => Vec::new(),
                COMMON_NAME => vec![last_common_name],
                SERIAL_NUMBER if last_serial_number.is_empty() => Vec::new(),
                SERIAL_NUMBER => vec![last_serial_number],
                _ => self
                    .subject
                    .iter()
                    .flatten()
                    .filter(|a| a.x500_arc() == Some(arc))
                    .map(|a| &a.value[..])
                    .collect(),
            }
        };
        // ToRDNSequence's order is C, ST, L, STREET, POSTALCODE, O, OU, CN, SERIALNUMBER;
        // String() prints the sequence backwards.
        let printed = [
            (SERIAL_NUMBER, "SERIALNUMBER"),
            (COMMON_NAME, "CN"),
            (ORGANIZATIONAL_UNIT, "OU"),
            (ORGANIZATION, "O"),
            (POSTAL_CODE, "POSTALCODE"),
            (STREET_ADDRESS, "STREET"),
            (LOCALITY, "L"),
            (PROVINCE, "ST"),
            (COUNTRY, "C"),
        ];
        let mut out = String::new();
        for (arc, name) in printed {
            let values = of_type(arc);
            if values.is_empty() {
                continue;
            }
            if !out.is_empty() {
                out.push(',');
            }
            for (i, value) in values.into_iter().enumerate() {
                if i > 0 {
                    out.push('+');
                }
                out.push_str(name);
                out.push('=');
                push_escaped(&mut out, value);
            }
        }
        out
    }

    /// The subject's domain components in DER order, `DC=org,DC=example` (values as they
    /// are, unescaped), which the reference appends to [`Self::subject_string`] for one more
    /// lookup (its `getTLSAuthDCs`). Bytes: a T61String value need not be UTF-8.
    pub fn domain_components(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for attribute in self.subject.iter().flatten() {
            if attribute.oid == DOMAIN_COMPONENT {
                if !out.is_empty() {
                    out.push(b',');
                }
                out.extend_from_slice(b"DC=");
                out.extend_from_slice(&attribute.value);
            }
        }
        out
    }

    /// Reads the GeneralNames of the subjectAltName extension (the extension's value).
    fn read_alt_names(&mut self, value: &[u8]) -> Result<(), Error> {
        // As Go: the SEQUENCE, ignoring anything after it.
        let mut names = Der::new(Der::new(value).expect(SEQUENCE)?);
        while !names.is_empty() {
            let (tag, name) = names.any()?;
            let list = match tag {
                RFC822_NAME => &mut self.emails,
                DNS_NAME => &mut self.dns_names,
                URI => &mut self.uris,
                _ => continue,
            };
            // IA5String: ASCII, which Go requires of these three.
            if !name.is_ascii() {
                return Err(Error("subjectAltName name is not ASCII"));
            }
            list.push(String::from_utf8_lossy(name).into_owned());
        }
        Ok(())
    }
}

/// The value of the subjectAltName extension, if any, among `extensions` (the contents of
/// `[3]`). Go refuses a certificate that has it twice.
fn subject_alt_name(extensions: &[u8]) -> Result<Option<&[u8]>, Error> {
    let mut list = Der::new(Der::new(extensions).expect(SEQUENCE)?);
    let mut found = None;
    while !list.is_empty() {
        let mut extension = Der::new(list.expect(SEQUENCE)?);
        let oid = extension.expect(OID)?;
        check_oid(oid)?;
        extension.optional(BOOLEAN)?; // critical
        let value = extension.expect(OCTET_STRING)?;
        if oid == SUBJECT_ALT_NAME {
            if found.is_some() {
                return Err(Error("duplicate subjectAltName extension"));
            }
            found = Some(value);
        }
    }
    Ok(found)
}

/// The RDNs of a Name (the contents of its SEQUENCE), as Go 1.19's `parseName` reads them.
fn read_name(name: &[u8]) -> Result<Vec<Vec<Attribute>>, Error> {
    let mut rdns = Der::new(name);
    let mut out = Vec::new();
    while !rdns.is_empty() {
        let mut set = Der::new(rdns.expect(SET)?);
        let mut rdn = Vec::new();
        while !set.is_empty() {
            let mut pair = Der::new(set.expect(SEQUENCE)?);
            let oid = pair.expect(OID)?;
            check_oid(oid)?;
            let (tag, raw) = pair.any()?;
            rdn.push(Attribute {
                oid: oid.to_vec(),
                value: string_value(tag, raw)?,
            });
        }
        out.push(rdn);
    }
    Ok(out)
}

/// An attribute value as Go 1.19's `parseASN1String` decodes it: the six string types it
/// knows, each checked as it checks them; any other type is refused.
fn string_value(tag: u8, raw: &[u8]) -> Result<Vec<u8>, Error> {
    match tag {
        T61_STRING => Ok(raw.to_vec()),
        PRINTABLE_STRING if raw.iter().all(|&b| is_printable(b)) => Ok(raw.to_vec()),
        PRINTABLE_STRING => Err(Error("invalid PrintableString")),
        UTF8_STRING if std::str::from_utf8(raw).is_ok() => Ok(raw.to_vec()),
        UTF8_STRING => Err(Error("invalid UTF8String")),
        BMP_STRING if raw.len().is_multiple_of(2) => {
            let units = raw.strip_suffix(&[0, 0]).unwrap_or(raw);
            let decoded: String = char::decode_utf16(
                units
                    .chunks_exact(2)
                    .map(|pair| u16::from_be_bytes([pair[0], pair[1]])),
            )
            .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect();
            Ok(decoded.into_bytes())
        }
        BMP_STRING => Err(Error("invalid BMPString")),
        IA5_STRING if raw.is_ascii() => Ok(raw.to_vec()),
        IA5_STRING => Err(Error("invalid IA5String")),
        NUMERIC_STRING if raw.iter().all(|&b| b.is_ascii_digit() || b == b' ') => Ok(raw.to_vec()),
        NUMERIC_STRING => Err(Error("invalid NumericString")),
        _ => Err(Error("unsupported attribute value type")),
    }
}

/// The PrintableString characters, with the `*` and `&` Go's parser also lets through.
fn is_printable(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b" '()+,-./:=?*&".contains(&b)
}

/// Checks an OID's encoding as Go's parser does (cryptobyte's `readBase128Int`): not empty,
/// each arc minimal (no leading 0x80 byte), at most 5 bytes and below 2^31, the last one
/// complete.
fn check_oid(oid: &[u8]) -> Result<(), Error> {
    if oid.is_empty() {
        return Err(Error("empty OID"));
    }
    let (mut arc_len, mut value) = (0, 0u32);
    for &byte in oid {
        if arc_len == 5 || value >= 1 << 24 {
            return Err(Error("OID arc too large"));
        }
        if arc_len == 0 && byte == 0x80 {
            return Err(Error("non-minimal OID"));
        }
        value = (value << 7) | u32::from(byte & 0x7f);
        arc_len += 1;
        if byte & 0x80 == 0 {
            (arc_len, value) = (0, 0);
        }
    }
    if arc_len != 0 {
        return Err(Error("truncated OID"));
    }
    Ok(())
}

/// A small non-negative INTEGER (the version).
fn small_integer(contents: &[u8]) -> Result<u8, Error> {
    match contents {
        [value] if *value < 0x80 => Ok(*value),
        _ => Err(Error("bad version")),
    }
}

/// Appends a value as Go's `RDNSequence.String` escapes it: `,+"\<>;` everywhere, a space
/// first or last, `#` first; it walks the value as Go ranges over a string (an invalid
/// UTF-8 byte is one U+FFFD, at its byte offset).
fn push_escaped(out: &mut String, value: &[u8]) {
    let mut offset = 0;
    let push = |out: &mut String, at: usize, c: char| {
        let escape = match c {
            ',' | '+' | '"' | '\\' | '<' | '>' | ';' => true,
            ' ' => at == 0 || at == value.len() - 1,
            '#' => at == 0,
            _ => false,
        };
        if escape {
            out.push('\\');
        }
        out.push(c);
    };
    for chunk in value.utf8_chunks() {
        for c in chunk.valid().chars() {
            push(out, offset, c);
            offset += c.len_utf8();
        }
        for _ in chunk.invalid() {
            push(out, offset, char::REPLACEMENT_CHARACTER);
            offset += 1;
        }
    }
}

/// A reader over DER: one TLV at a time, definite lengths only, everything bounds-checked.
struct Der<'a> {
    rest: &'a [u8],
}

impl<'a> Der<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Der { rest: bytes }
    }

    fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The next element: its tag and contents. Lengths must be minimal DER (up to 4 bytes);
    /// high tag numbers and indefinite lengths are refused, as Go's parser refuses them.
    fn any(&mut self) -> Result<(u8, &'a [u8]), Error> {
        let [tag, first, ..] = *self.rest else {
            return Err(TRUNCATED);
        };
        if tag & 0x1f == 0x1f {
            return Err(Error("high tag number"));
        }
        let (header, len) = if first < 0x80 {
            (2, usize::from(first))
        } else {
            let count = usize::from(first & 0x7f);
            if count == 0 || count > 4 {
                return Err(Error("unsupported length"));
            }
            let bytes = self.rest.get(2..2 + count).ok_or(TRUNCATED)?;
            if bytes[0] == 0 {
                return Err(Error("non-minimal length"));
            }
            let len = bytes.iter().fold(0u32, |len, &b| (len << 8) | u32::from(b));
            if len < 0x80 {
                return Err(Error("non-minimal length"));
            }
            let len = usize::try_from(len).map_err(|_| TRUNCATED)?;
            (2 + count, len)
        };
        let end = header.checked_add(len).ok_or(TRUNCATED)?;
        let contents = self.rest.get(header..end).ok_or(TRUNCATED)?;
        self.rest = &self.rest[end..];
        Ok((tag, contents))
    }

    /// The next element, which must have `tag`: its contents.
    fn expect(&mut self, tag: u8) -> Result<&'a [u8], Error> {
        match self.any()? {
            (found, contents) if found == tag => Ok(contents),
            _ => Err(Error("unexpected element")),
        }
    }

    /// The next element, which must have `tag`: all of it, tag and length included.
    fn whole(&mut self, tag: u8) -> Result<&'a [u8], Error> {
        let start = self.rest;
        self.expect(tag)?;
        Ok(&start[..start.len() - self.rest.len()])
    }

    /// The next element's contents if it has `tag`; nothing read otherwise.
    fn optional(&mut self, tag: u8) -> Result<Option<&'a [u8]>, Error> {
        if self.rest.first() == Some(&tag) {
            self.expect(tag).map(Some)
        } else {
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;

    use super::*;

    /// A test certificate of `configs/certs/`, as DER.
    fn der(name: &str) -> Vec<u8> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("configs/certs")
            .join(name);
        CertificateDer::from_pem_file(path)
            .expect("a PEM certificate")
            .to_vec()
    }

    fn read(name: &str) -> Certificate {
        Certificate::from_der(&der(name)).expect("a readable certificate")
    }

    /// `tag len contents` with a short or long length, for building DER by hand.
    fn tlv(tag: u8, contents: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        match contents.len() {
            len @ 0..=0x7f => out.push(len as u8),
            len @ 0x80..=0xff => out.extend_from_slice(&[0x81, len as u8]),
            len => out.extend_from_slice(&[0x82, (len >> 8) as u8, len as u8]),
        }
        out.extend_from_slice(contents);
        out
    }

    fn concat(parts: &[Vec<u8>]) -> Vec<u8> {
        parts.concat()
    }

    /// An attribute of type 2.5.4.`arc` with a value of string type `tag`.
    fn attribute(arc: u8, tag: u8, value: &[u8]) -> Vec<u8> {
        tlv(
            SEQUENCE,
            &concat(&[tlv(OID, &[0x55, 0x04, arc]), tlv(tag, value)]),
        )
    }

    /// A Name: one RDN per list of attributes.
    fn name(rdns: &[&[Vec<u8>]]) -> Vec<u8> {
        let sets: Vec<Vec<u8>> = rdns.iter().map(|rdn| tlv(SET, &rdn.concat())).collect();
        tlv(SEQUENCE, &sets.concat())
    }

    /// A v3 certificate with `subject` and, when given, these extensions (a dummy key and
    /// signature: only the reader's structure matters).
    fn certificate(subject: &[u8], extensions: Option<&[u8]>) -> Vec<u8> {
        let algorithm = tlv(
            SEQUENCE,
            &tlv(OID, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]),
        );
        let mut tbs = concat(&[
            tlv(VERSION, &tlv(INTEGER, &[2])),
            tlv(INTEGER, &[1]),
            algorithm.clone(),
            name(&[&[attribute(COMMON_NAME, UTF8_STRING, b"CA")]]),
            tlv(SEQUENCE, &[]),
            subject.to_vec(),
            tlv(SEQUENCE, &[]),
        ]);
        if let Some(extensions) = extensions {
            tbs.extend_from_slice(&tlv(EXTENSIONS, &tlv(SEQUENCE, extensions)));
        }
        tlv(
            SEQUENCE,
            &concat(&[tlv(SEQUENCE, &tbs), algorithm, tlv(0x03, &[0])]),
        )
    }

    /// A subjectAltName extension holding these GeneralNames.
    fn alt_names(names: &[Vec<u8>]) -> Vec<u8> {
        tlv(
            SEQUENCE,
            &concat(&[
                tlv(OID, SUBJECT_ALT_NAME),
                tlv(OCTET_STRING, &tlv(SEQUENCE, &names.concat())),
            ]),
        )
    }

    #[test]
    fn test_certificates_read_as_openssl_prints_them() {
        // openssl x509 -subject -nameopt RFC2253 agrees with Go's form for these.
        let email = read("map-email-cert.pem");
        assert_eq!(email.emails, ["alice@natsd.test"]);
        assert_eq!(email.dns_names, ["bob.natsd.test"]);
        assert!(email.uris.is_empty());
        assert_eq!(email.subject_string(), "CN=email,OU=map,O=natsd test");
        assert!(email.has_subject());

        let dns = read("map-dns-cert.pem");
        assert!(dns.emails.is_empty());
        assert_eq!(dns.dns_names, ["bob.natsd.test"]);

        let subject = read("map-subject-cert.pem");
        assert!(subject.emails.is_empty() && subject.dns_names.is_empty());
        assert_eq!(subject.subject_string(), "CN=carol,OU=dev,O=natsd");
        assert_eq!(subject.subject().len(), 3, "O, OU, CN: one RDN each");
        assert!(subject.domain_components().is_empty());

        // UID is not a pkix.Name field: Go's form leaves it out, and the DCs.
        let dc = read("map-dc-cert.pem");
        assert_eq!(dc.subject_string(), "CN=erin");
        assert_eq!(dc.domain_components(), b"DC=org,DC=natsd");

        let server = read("server-cert.pem");
        assert_eq!(server.dns_names, ["localhost"]);
        assert_eq!(
            server.subject_string(),
            "CN=localhost,OU=server,O=natsd test"
        );
        assert_eq!(
            read("ca.pem").subject_string(),
            "CN=natsd test CA,O=natsd test"
        );
    }

    #[test]
    fn go_orders_the_subject_by_type_not_by_position() {
        let subject = name(&[
            &[attribute(COMMON_NAME, UTF8_STRING, b"first")],
            &[attribute(COUNTRY, PRINTABLE_STRING, b"US")],
            &[attribute(ORGANIZATIONAL_UNIT, UTF8_STRING, b"a")],
            &[
                attribute(ORGANIZATIONAL_UNIT, UTF8_STRING, b"b"),
                attribute(SERIAL_NUMBER, PRINTABLE_STRING, b"42"),
            ],
            &[attribute(COMMON_NAME, UTF8_STRING, b"last")],
            &[attribute(PROVINCE, UTF8_STRING, b"CA")],
            &[attribute(LOCALITY, UTF8_STRING, b"SF")],
            &[attribute(STREET_ADDRESS, UTF8_STRING, b"Main")],
            &[attribute(POSTAL_CODE, UTF8_STRING, b"9")],
            &[attribute(ORGANIZATION, UTF8_STRING, b"o")],
            &[attribute(4, UTF8_STRING, b"surname is dropped")],
        ]);
        let cert = Certificate::from_der(&certificate(&subject, None)).unwrap();
        assert_eq!(
            cert.subject_string(),
            "SERIALNUMBER=42,CN=last,OU=a+OU=b,O=o,POSTALCODE=9,STREET=Main,L=SF,ST=CA,C=US"
        );
    }

    #[test]
    fn go_escapes_values() {
        let cases: [(&[u8], &str); 7] = [
            (b"a,b+c\"d\\e<f>g;h", r#"CN=a\,b\+c\"d\\e\<f\>g\;h"#),
            (b" padded ", r"CN=\ padded\ "),
            (b"in side", "CN=in side"),
            (b"#first#", r"CN=\#first#"),
            (b"=", "CN=="),
            ("caf\u{e9}".as_bytes(), "CN=caf\u{e9}"),
            (b" ", r"CN=\ "),
        ];
        for (value, want) in cases {
            let subject = name(&[&[attribute(COMMON_NAME, UTF8_STRING, value)]]);
            let cert = Certificate::from_der(&certificate(&subject, None)).unwrap();
            assert_eq!(cert.subject_string(), want, "{value:?}");
        }
        // A T61String is taken as raw bytes: an invalid byte prints as U+FFFD, and a
        // trailing space after it is still last.
        let subject = name(&[&[attribute(COMMON_NAME, T61_STRING, b"x\xe9 ")]]);
        let cert = Certificate::from_der(&certificate(&subject, None)).unwrap();
        assert_eq!(cert.subject_string(), "CN=x\u{fffd}\\ ");
    }

    #[test]
    fn string_types_decode_as_go() {
        let decode = |tag: u8, raw: &[u8]| string_value(tag, raw);
        assert_eq!(
            decode(BMP_STRING, &[0, b'h', 0, b'i', 0, 0]).unwrap(),
            b"hi"
        );
        assert_eq!(
            decode(BMP_STRING, &[0xd8, 0x3d, 0xde, 0x00]).unwrap(),
            "\u{1f600}".as_bytes()
        );
        assert_eq!(
            decode(BMP_STRING, &[0xd8, 0x3d, 0, b'x']).unwrap(),
            "\u{fffd}x".as_bytes(),
            "an unpaired surrogate"
        );
        assert!(decode(BMP_STRING, &[0]).is_err());
        assert!(decode(PRINTABLE_STRING, b"a*b&c").is_ok());
        assert!(decode(PRINTABLE_STRING, b"a@b").is_err());
        assert!(decode(UTF8_STRING, b"\xff").is_err());
        assert!(decode(IA5_STRING, b"a@b").is_ok());
        assert!(decode(IA5_STRING, b"\x80").is_err());
        assert!(decode(NUMERIC_STRING, b"12 3").is_ok());
        assert!(decode(NUMERIC_STRING, b"1a").is_err());
        assert_eq!(decode(T61_STRING, b"\xe9").unwrap(), b"\xe9");
        assert!(
            decode(0x1a, b"visible").is_err(),
            "VisibleString: Go refuses it"
        );
        assert!(decode(INTEGER, &[1]).is_err());
    }

    #[test]
    fn empty_common_names_make_no_subject() {
        let only = |attributes: &[Vec<u8>]| {
            let subject = name(&[attributes]);
            Certificate::from_der(&certificate(&subject, None)).unwrap()
        };
        assert!(!only(&[attribute(COMMON_NAME, UTF8_STRING, b"")]).has_subject());
        assert!(!only(&[
            attribute(COMMON_NAME, UTF8_STRING, b"x"),
            attribute(COMMON_NAME, UTF8_STRING, b"")
        ])
        .has_subject());
        assert!(only(&[attribute(ORGANIZATION, UTF8_STRING, b"")]).has_subject());
        assert_eq!(
            only(&[attribute(ORGANIZATION, UTF8_STRING, b"")]).subject_string(),
            "O="
        );
        assert!(only(&[attribute(4, UTF8_STRING, b"x")]).has_subject());
        assert!(!only(&[]).has_subject());
        let empty = Certificate::from_der(&certificate(&name(&[]), None)).unwrap();
        assert!(!empty.has_subject());
        assert_eq!(empty.subject_string(), "");
    }

    #[test]
    fn alt_names_keep_their_order_and_skip_other_kinds() {
        let names = alt_names(&[
            tlv(DNS_NAME, b"one.example"),
            tlv(0x87, &[127, 0, 0, 1]), // IP address
            tlv(RFC822_NAME, b"a@example"),
            tlv(0xa0, &tlv(OID, &[0x2b, 0x06])), // otherName
            tlv(URI, b"spiffe://example/a"),
            tlv(DNS_NAME, b"two.example"),
            tlv(RFC822_NAME, b"b@example"),
        ]);
        let subject = name(&[&[attribute(COMMON_NAME, UTF8_STRING, b"x")]]);
        let cert = Certificate::from_der(&certificate(&subject, Some(&names))).unwrap();
        assert_eq!(cert.dns_names, ["one.example", "two.example"]);
        assert_eq!(cert.emails, ["a@example", "b@example"]);
        assert_eq!(cert.uris, ["spiffe://example/a"]);
        let bad = alt_names(&[tlv(RFC822_NAME, "\u{e9}@example".as_bytes())]);
        assert!(Certificate::from_der(&certificate(&subject, Some(&bad))).is_err());
        let twice = concat(&[names.clone(), names]);
        assert_eq!(
            Certificate::from_der(&certificate(&subject, Some(&twice))),
            Err(Error("duplicate subjectAltName extension"))
        );
    }

    #[test]
    fn domain_components_keep_der_order_and_raw_values() {
        let dc = |value: &[u8]| {
            tlv(
                SEQUENCE,
                &concat(&[tlv(OID, DOMAIN_COMPONENT), tlv(IA5_STRING, value)]),
            )
        };
        let subject = name(&[
            &[dc(b"org")],
            &[dc(b"a,b")],
            &[attribute(COMMON_NAME, UTF8_STRING, b"x")],
        ]);
        let cert = Certificate::from_der(&certificate(&subject, None)).unwrap();
        assert_eq!(cert.domain_components(), b"DC=org,DC=a,b");
        assert_eq!(cert.subject_string(), "CN=x");
    }

    #[test]
    fn every_truncation_of_a_real_certificate_is_an_error() {
        for file in ["map-email-cert.pem", "server-cert.pem", "map-dc-cert.pem"] {
            let der = der(file);
            for len in 0..der.len() {
                assert!(Certificate::from_der(&der[..len]).is_err(), "{file}: {len}");
            }
            let mut longer = der.clone();
            longer.push(0);
            assert_eq!(Certificate::from_der(&longer), Err(Error("trailing data")));
        }
    }

    #[test]
    fn corrupted_certificates_never_panic() {
        // Every single-byte change of a real certificate, then pseudo-random garbage: the
        // reader answers (Ok or Err) and never panics or reads out of bounds.
        let der = der("map-email-cert.pem");
        for at in 0..der.len() {
            for value in [0x00, 0x7f, 0x80, 0x81, 0x84, 0x85, 0xff, der[at] ^ 0x20] {
                let mut bad = der.clone();
                bad[at] = value;
                let _ = Certificate::from_der(&bad);
            }
        }
        let mut rng = crate::rng::Rng::new(0x2545_f491_4f6c_dd1d);
        for round in 0..20_000 {
            let len = round % 96;
            let garbage: Vec<u8> = (0..len)
                .map(|_| {
                    let state = rng.next_u64();
                    // Mostly structure bytes, so the reader gets past the first element.
                    [0x30u8, 0x31, 0x06, 0xa0, 0xa3, 0x04, 0x82, 0x81][(state % 8) as usize]
                        .wrapping_add(if state.is_multiple_of(5) {
                            state as u8
                        } else {
                            0
                        })
                })
                .collect();
            let _ = Certificate::from_der(&garbage);
        }
    }

    #[test]
    fn der_lengths_must_be_minimal_and_definite() {
        let read = |bytes: &[u8]| Der::new(bytes).any().map(|(tag, c)| (tag, c.len()));
        assert_eq!(read(&[0x04, 0x00]), Ok((0x04, 0)));
        assert_eq!(read(&[0x04, 0x80]), Err(Error("unsupported length")));
        assert_eq!(read(&[0x04, 0x81, 0x05]), Err(Error("non-minimal length")));
        assert_eq!(
            read(&[0x04, 0x82, 0x00, 0x80]),
            Err(Error("non-minimal length"))
        );
        assert_eq!(
            read(&[0x04, 0x85, 1, 0, 0, 0, 0]),
            Err(Error("unsupported length"))
        );
        assert_eq!(read(&[0x04, 0x84, 0xff, 0xff, 0xff, 0xff]), Err(TRUNCATED));
        assert_eq!(read(&[0x1f, 0x01, 0x00]), Err(Error("high tag number")));
        assert_eq!(read(&[0x04]), Err(TRUNCATED));
        let mut long = vec![0x04, 0x81, 0x80];
        long.extend_from_slice(&[7; 0x80]);
        assert_eq!(read(&long), Ok((0x04, 0x80)));
    }

    #[test]
    fn oids_are_checked_as_go_checks_them() {
        assert!(check_oid(&[0x55, 0x04, 0x03]).is_ok());
        assert!(check_oid(DOMAIN_COMPONENT).is_ok());
        assert!(check_oid(&[]).is_err());
        assert!(check_oid(&[0x55, 0x80, 0x01]).is_err(), "non-minimal arc");
        assert!(check_oid(&[0x55, 0x84]).is_err(), "truncated arc");
        assert!(
            check_oid(&[0x87, 0xff, 0xff, 0xff, 0x7f]).is_ok(),
            "2^31 - 1"
        );
        assert!(check_oid(&[0x88, 0x80, 0x80, 0x80, 0x00]).is_err(), "2^31");
    }
}
