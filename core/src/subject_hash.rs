//! OpenSSL's subject hash (`X509_NAME_hash_ex`, what `openssl x509
//! -subject_hash` prints and what names the files of a hashed CA folder).
//!
//! OpenSSL hashes a canonical form of the name, not its DER: every RDN's SET
//! is re-encoded from its attributes, where string values become UTF8String,
//! lower-cased (ASCII only), trimmed and with inner white space collapsed;
//! the outer SEQUENCE header is left out. The hash is SHA-1 over that, the
//! first four bytes read little-endian. A small DER walker does the reading,
//! so any tag OpenSSL accepts (UniversalString too) can be handled.

use sha1::{Digest, Sha1};

use crate::x509::{element, elements, string_text, Element, SEQUENCE, SET};

const UTF8_STRING: u8 = 0x0c;

/// The hash of the subject of the certificate `der`, or `None` if it is not
/// a certificate or its subject holds a string OpenSSL would refuse.
pub fn of_certificate(der: &[u8]) -> Option<u32> {
    let (cert, _) = element(der).ok()?;
    let (tbs, _) = element(cert.contents).ok()?;
    let mut fields = elements(tbs.contents).ok()?.into_iter();
    let mut field = fields.next()?;
    if field.tag == 0xa0 {
        field = fields.next()?; // the optional [0] version; the serial follows
    }
    // serial, signature algorithm, issuer, validity: the subject is next.
    let subject = fields.nth(3)?;
    if field.tag != 0x02 || subject.tag != SEQUENCE {
        return None;
    }
    of_name(subject.contents)
}

/// The hash of a Name, given the contents of its SEQUENCE.
pub fn of_name(rdns: &[u8]) -> Option<u32> {
    let digest = Sha1::digest(canonical_name(rdns)?);
    Some(u32::from_le_bytes([
        digest[0], digest[1], digest[2], digest[3],
    ]))
}

/// The file stem OpenSSL looks up in a hashed folder: 8 lower-case hex digits.
pub fn hex(hash: u32) -> String {
    format!("{hash:08x}")
}

/// `x509_name_canon`: each non-empty RDN as a SET of canonical attributes,
/// one after the other. An empty name is the empty string.
fn canonical_name(rdns: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    for rdn in elements(rdns).ok()? {
        if rdn.tag != SET {
            return None;
        }
        let mut attributes = Vec::new();
        for attribute in elements(rdn.contents).ok()? {
            let parts = elements(attribute.contents).ok()?;
            let [oid, value] = parts.as_slice() else {
                return None;
            };
            if attribute.tag != SEQUENCE || oid.tag != 0x06 {
                return None;
            }
            let mut body = oid.whole.to_vec();
            body.extend(canonical_value(value)?);
            attributes.push(encode(SEQUENCE, &body));
        }
        if attributes.is_empty() {
            continue; // OpenSSL groups entries by RDN: an empty one leaves no trace
        }
        // DER orders a SET OF by the encodings, and OpenSSL re-encodes it so.
        attributes.sort();
        out.extend(encode(SET, &attributes.concat()));
    }
    Some(out)
}

/// A string value as canonical UTF8String; any other value as it is.
fn canonical_value(value: &Element<'_>) -> Option<Vec<u8>> {
    let Some(text) = string_text(value.tag, value.contents) else {
        return Some(value.whole.to_vec());
    };
    Some(encode(UTF8_STRING, &canonical_text(text?.as_bytes())))
}

/// `asn1_string_canon` on UTF-8 bytes: white space trimmed at both ends,
/// inner runs of it made one space, ASCII letters lower-cased; bytes of
/// non-ASCII characters copied as they are.
fn canonical_text(text: &[u8]) -> Vec<u8> {
    // OpenSSL's isspace: space, \t, \n, \v, \f, \r (Rust's leaves out \v).
    let space = |b: &u8| matches!(b, b' ' | b'\t'..=b'\r');
    let start = text.iter().position(|b| !space(b)).unwrap_or(text.len());
    let end = text
        .iter()
        .rposition(|b| !space(b))
        .map_or(start, |i| i + 1);
    let mut out = Vec::with_capacity(end - start);
    let mut in_space = false;
    for b in &text[start..end] {
        if space(b) {
            if !in_space {
                out.push(b' ');
            }
            in_space = true;
        } else {
            out.push(b.to_ascii_lowercase());
            in_space = false;
        }
    }
    out
}

/// A DER element with a one-byte `tag` around `contents`.
fn encode(tag: u8, contents: &[u8]) -> Vec<u8> {
    let len = contents.len();
    let mut out = vec![tag];
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend(&bytes[skip..]);
    }
    out.extend(contents);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mozilla_root(needle: &str) -> &'static [u8] {
        webpki_root_certs::TLS_SERVER_ROOT_CERTS
            .iter()
            .find(|cert| {
                cert.as_ref()
                    .windows(needle.len())
                    .any(|w| w == needle.as_bytes())
            })
            .map(|cert| cert.as_ref())
            .unwrap_or_else(|| panic!("no Mozilla root mentions {needle}"))
    }

    /// Values printed by `openssl x509 -noout -subject_hash` (OpenSSL 3.0).
    #[test]
    fn matches_openssl_on_known_roots() {
        assert_eq!(
            of_certificate(mozilla_root("ISRG Root X1")).map(hex),
            Some("4042bcee".to_owned())
        );
        assert_eq!(
            of_certificate(mozilla_root("DigiCert Global Root G2")).map(hex),
            Some("607986c7".to_owned())
        );
    }

    #[test]
    fn the_empty_name_hashes_the_empty_string() {
        // SHA-1("") starts da 39 a3 ee.
        assert_eq!(of_name(&[]), Some(0xeea339da));
    }

    #[test]
    fn text_is_trimmed_collapsed_and_lower_cased_in_ascii_only() {
        assert_eq!(
            canonical_text(b" \t Foo \x0b\x0c BAR\r\n "),
            b"foo bar".to_vec()
        );
        assert_eq!(canonical_text("ÉCOLE  É".as_bytes()), "École É".as_bytes());
        assert_eq!(canonical_text(b"   "), Vec::<u8>::new());
    }

    #[test]
    fn string_types_decode_to_the_same_text() {
        let utf8 = canonical_value(&element(b"\x0c\x02Ab").unwrap().0);
        let printable = canonical_value(&element(b"\x13\x02Ab").unwrap().0);
        let bmp = canonical_value(&element(b"\x1e\x04\x00A\x00b").unwrap().0);
        assert_eq!(utf8, Some(b"\x0c\x02ab".to_vec()));
        assert_eq!(printable, utf8);
        assert_eq!(bmp, utf8);
        // T61String bytes are Latin-1; a lone BMP surrogate is refused.
        let t61 = canonical_value(&element(b"\x14\x01\xc9").unwrap().0);
        assert_eq!(t61, Some("\x0c\x02É".as_bytes().to_vec()));
        assert_eq!(
            canonical_value(&element(b"\x1e\x02\xd8\x00").unwrap().0),
            None
        );
        // NumericString is not canonicalized.
        let numeric = canonical_value(&element(b"\x12\x03 1 ").unwrap().0);
        assert_eq!(numeric, Some(b"\x12\x03 1 ".to_vec()));
    }
}
