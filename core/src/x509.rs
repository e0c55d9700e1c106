//! The certificate as OpenSSL's `d2i_X509` reads it, in DER: a strict walk
//! that refuses what OpenSSL refuses, because one certificate OpenSSL cannot
//! decode makes it reject the whole bundle file (`[X509] PEM lib`).
//!
//! What OpenSSL checks while decoding, and so what this checks: the shape of
//! every field; INTEGERs non-empty and without padding; OBJECT IDENTIFIERs
//! well formed; BIT STRINGs with at most 7 unused bits; BOOLEANs one byte;
//! name values of the types its `ASN1_PRINTABLE` accepts, and the string
//! types it canonicalizes decoding to Unicode (what `x509_name_canon` needs).
//! Beyond OpenSSL, lengths must be DER (definite and minimal): a certificate
//! that is not DER is not one a store should hold. Tests compare this with
//! OpenSSL itself (tests/test_openssl_agreement.py, fuzz/).

/// One DER element: its tag byte, its whole encoding, its contents.
#[derive(Clone, Copy, Debug)]
pub struct Element<'a> {
    pub tag: u8,
    pub whole: &'a [u8],
    pub contents: &'a [u8],
}

const BOOLEAN: u8 = 0x01;
pub const INTEGER: u8 = 0x02;
const BIT_STRING: u8 = 0x03;
pub const OCTET_STRING: u8 = 0x04;
const OID: u8 = 0x06;
const UTF8_STRING: u8 = 0x0c;
pub const UTC_TIME: u8 = 0x17;
pub const GENERALIZED_TIME: u8 = 0x18;
const UNIVERSAL_STRING: u8 = 0x1c;
const BMP_STRING: u8 = 0x1e;
pub const SEQUENCE: u8 = 0x30;
pub const SET: u8 = 0x31;

/// Reads the first element of `input`; returns it and what follows.
pub fn element(input: &[u8]) -> Result<(Element<'_>, &[u8]), String> {
    let tag = *input.first().ok_or("an element is missing")?;
    if tag & 0x1f == 0x1f {
        return Err(format!("a high tag number (tag byte {tag:#04x})"));
    }
    let first = *input.get(1).ok_or("an element is cut short")?;
    let (header, len) = if first < 0x80 {
        (2, first as usize)
    } else {
        let count = (first & 0x7f) as usize;
        if count == 0 {
            return Err("an indefinite length (BER, not DER)".to_owned());
        }
        if count > 4 {
            return Err("a length too large".to_owned());
        }
        let bytes = input.get(2..2 + count).ok_or("an element is cut short")?;
        let len = bytes.iter().fold(0usize, |n, b| n << 8 | *b as usize);
        if bytes[0] == 0 || len < 0x80 {
            return Err("a length not in its shortest form (BER, not DER)".to_owned());
        }
        (2 + count, len)
    };
    let end = header
        .checked_add(len)
        .filter(|end| *end <= input.len())
        .ok_or("an element longer than what holds it")?;
    Ok((
        Element {
            tag,
            whole: &input[..end],
            contents: &input[header..end],
        },
        &input[end..],
    ))
}

/// Every element of `input`, which must hold nothing else.
pub fn elements(mut input: &[u8]) -> Result<Vec<Element<'_>>, String> {
    let mut out = Vec::new();
    while !input.is_empty() {
        let (next, rest) = element(input)?;
        out.push(next);
        input = rest;
    }
    Ok(out)
}

/// Reads the fields of a SEQUENCE in order.
struct Fields<'a> {
    rest: &'a [u8],
    what: &'static str,
}

impl<'a> Fields<'a> {
    fn of(seq: Element<'a>, what: &'static str) -> Result<Self, String> {
        expect(seq, SEQUENCE, what)?;
        Ok(Fields {
            rest: seq.contents,
            what,
        })
    }

    fn next(&mut self, field: &str) -> Result<Element<'a>, String> {
        if self.rest.is_empty() {
            return Err(format!("{} has no {field}", self.what));
        }
        let (el, rest) = element(self.rest).map_err(|e| format!("{field}: {e}"))?;
        self.rest = rest;
        Ok(el)
    }

    /// The next field if it has `tag` (an OPTIONAL field).
    fn optional(&mut self, tag: u8, field: &str) -> Result<Option<Element<'a>>, String> {
        match self.rest.first() {
            Some(&t) if t == tag => self.next(field).map(Some),
            _ => Ok(None),
        }
    }

    fn end(&self) -> Result<(), String> {
        match self.rest.is_empty() {
            true => Ok(()),
            false => Err(format!("{} holds more than its fields", self.what)),
        }
    }
}

/// That `el` has `tag`, or why not (worded with `what`, the field).
pub fn expect(el: Element<'_>, tag: u8, what: &str) -> Result<(), String> {
    match el.tag == tag {
        true => Ok(()),
        false => Err(format!(
            "{what} has tag {:#04x} where {tag:#04x} belongs",
            el.tag
        )),
    }
}

/// An AlgorithmIdentifier: the OID's contents and the parameters, if any.
#[derive(Clone, Copy, Debug)]
pub struct Algorithm<'a> {
    pub oid: &'a [u8],
    pub parameters: Option<Element<'a>>,
}

/// One extension: its OID's contents, criticality, and the OCTET STRING's contents.
#[derive(Clone, Copy, Debug)]
pub struct Extension<'a> {
    pub oid: &'a [u8],
    pub critical: bool,
    pub value: &'a [u8],
}

/// A validity date: seconds since the Unix epoch (before 1970 is negative),
/// and its text for messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Time {
    pub unix: i64,
    pub text: String,
}

/// A certificate that OpenSSL decodes, borrowed from its DER.
#[derive(Clone, Debug)]
pub struct Certificate<'a> {
    /// The whole `tbsCertificate` encoding: what the signature covers.
    pub tbs: &'a [u8],
    pub signature_algorithm: Algorithm<'a>,
    /// The signature's bytes (a BIT STRING with no unused bits).
    pub signature: &'a [u8],
    pub issuer: Element<'a>,
    pub subject: Element<'a>,
    pub not_before: Time,
    pub not_after: Time,
    pub key_algorithm: Algorithm<'a>,
    /// The subjectPublicKey's bytes.
    pub public_key: &'a [u8],
    pub extensions: Vec<Extension<'a>>,
}

/// Why a certificate is refused, worded for `info()`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Not even the outline of a certificate.
    NotACertificate(String),
    /// A certificate OpenSSL would fail to decode.
    OpenSslWouldRefuse(String),
    /// Decodable by OpenSSL, but not DER (a length or string in BER form).
    NotDer(String),
    /// Decodable, but its validity dates cannot be read in DER form.
    UnreadableValidity(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::NotACertificate(why) => write!(f, "not an X.509 certificate: {why}"),
            Refusal::OpenSslWouldRefuse(why) => write!(f, "OpenSSL would refuse it: {why}"),
            Refusal::NotDer(why) => write!(f, "not DER: {why}"),
            Refusal::UnreadableValidity(why) => write!(f, "unreadable validity: {why}"),
        }
    }
}

/// Reads `der` as OpenSSL would, or says why OpenSSL would not.
pub fn parse(der: &[u8]) -> Result<Certificate<'_>, Refusal> {
    use Refusal::{NotACertificate, UnreadableValidity};
    // BER forms OpenSSL would still decode are refused as what they are.
    #[allow(non_snake_case)]
    let OpenSslWouldRefuse = |why: String| match why.contains("not DER") {
        true => Refusal::NotDer(why),
        false => Refusal::OpenSslWouldRefuse(why),
    };
    let (cert, rest) = element(der).map_err(NotACertificate)?;
    if !rest.is_empty() {
        return Err(NotACertificate("bytes after the certificate".to_owned()));
    }
    let mut outer = Fields::of(cert, "the certificate").map_err(NotACertificate)?;
    let tbs = outer.next("tbsCertificate").map_err(NotACertificate)?;
    if tbs.tag != SEQUENCE {
        return Err(NotACertificate("no tbsCertificate".to_owned()));
    }
    let signature_algorithm = outer
        .next("signatureAlgorithm")
        .and_then(|el| algorithm(el, "signatureAlgorithm"))
        .map_err(OpenSslWouldRefuse)?;
    let signature = outer
        .next("signatureValue")
        .and_then(|el| bit_string(el, "signatureValue"))
        .map_err(OpenSslWouldRefuse)?;
    outer.end().map_err(OpenSslWouldRefuse)?;
    let mut cert = read_tbs(tbs, signature_algorithm, signature).map_err(OpenSslWouldRefuse)?;
    let validity = cert.1;
    cert.0.not_before = time(validity.0, "notBefore").map_err(UnreadableValidity)?;
    cert.0.not_after = time(validity.1, "notAfter").map_err(UnreadableValidity)?;
    Ok(cert.0)
}

type Validity<'a> = (Element<'a>, Element<'a>);

fn read_tbs<'a>(
    tbs: Element<'a>,
    signature_algorithm: Algorithm<'a>,
    signature: &'a [u8],
) -> Result<(Certificate<'a>, Validity<'a>), String> {
    let mut fields = Fields::of(tbs, "tbsCertificate")?;
    // Any INTEGER: OpenSSL decodes a version it does not know (v4 and up).
    if let Some(explicit) = fields.optional(0xa0, "version")? {
        let (inner, rest) = element(explicit.contents)?;
        if !rest.is_empty() {
            return Err("version holds more than an INTEGER".to_owned());
        }
        expect(inner, INTEGER, "version")?;
        integer(inner.contents, "version")?;
    }
    let serial = fields.next("serialNumber")?;
    expect(serial, INTEGER, "serialNumber")?;
    integer(serial.contents, "serialNumber")?;
    let inner_algorithm = algorithm(fields.next("signature")?, "signature")?;
    let _ = inner_algorithm; // OpenSSL compares the two only when verifying
    let issuer = fields.next("issuer")?;
    name(issuer, "issuer")?;
    let mut validity = Fields::of(fields.next("validity")?, "validity")?;
    let not_before = validity.next("notBefore")?;
    let not_after = validity.next("notAfter")?;
    validity.end()?;
    for (el, what) in [(not_before, "notBefore"), (not_after, "notAfter")] {
        if el.tag != UTC_TIME && el.tag != GENERALIZED_TIME {
            return Err(format!("{what} is not a UTCTime or GeneralizedTime"));
        }
    }
    let subject = fields.next("subject")?;
    name(subject, "subject")?;
    let mut spki = Fields::of(fields.next("subjectPublicKeyInfo")?, "subjectPublicKeyInfo")?;
    let key_algorithm = algorithm(spki.next("algorithm")?, "the key's algorithm")?;
    let public_key = bit_string(spki.next("subjectPublicKey")?, "subjectPublicKey")?;
    spki.end()?;
    for (tag, what) in [(0x81, "issuerUniqueID"), (0x82, "subjectUniqueID")] {
        if let Some(id) = fields.optional(tag, what)? {
            bit_string_contents(id.contents, what)?;
        }
    }
    let mut extensions = Vec::new();
    if let Some(explicit) = fields.optional(0xa3, "extensions")? {
        let (list, rest) = element(explicit.contents)?;
        if !rest.is_empty() {
            return Err("extensions hold more than one SEQUENCE".to_owned());
        }
        expect(list, SEQUENCE, "extensions")?;
        for el in elements(list.contents)? {
            extensions.push(extension(el)?);
        }
    }
    fields.end()?;
    let placeholder = Time {
        unix: 0,
        text: String::new(),
    };
    Ok((
        Certificate {
            tbs: tbs.whole,
            signature_algorithm,
            signature,
            issuer,
            subject,
            not_before: placeholder.clone(),
            not_after: placeholder,
            key_algorithm,
            public_key,
            extensions,
        },
        (not_before, not_after),
    ))
}

/// `c2i_ASN1_INTEGER`: non-empty, and no padding byte that changes nothing.
fn integer(contents: &[u8], what: &str) -> Result<(), String> {
    match contents {
        [] => Err(format!("{what} is an empty INTEGER")),
        [0x00, next, ..] if next & 0x80 == 0 => Err(format!("{what} is a padded INTEGER")),
        [0xff, next, ..] if next & 0x80 != 0 => Err(format!("{what} is a padded INTEGER")),
        _ => Ok(()),
    }
}

/// `c2i_ASN1_OBJECT`: non-empty, every sub-identifier minimal and complete.
pub fn object_identifier(el: Element<'_>, what: &str) -> Result<(), String> {
    expect(el, OID, what)?;
    let bytes = el.contents;
    let bad = bytes.is_empty()
        || bytes.last().is_some_and(|b| b & 0x80 != 0)
        || bytes
            .iter()
            .enumerate()
            .any(|(i, b)| *b == 0x80 && (i == 0 || bytes[i - 1] & 0x80 == 0));
    match bad {
        true => Err(format!("{what} is a malformed OBJECT IDENTIFIER")),
        false => Ok(()),
    }
}

/// X509_ALGOR: an OID and any one element of parameters.
fn algorithm<'a>(el: Element<'a>, what: &'static str) -> Result<Algorithm<'a>, String> {
    let mut fields = Fields::of(el, what)?;
    let oid = fields.next("algorithm")?;
    object_identifier(oid, what)?;
    let parameters = match fields.rest.is_empty() {
        true => None,
        false => Some(fields.next("parameters")?),
    };
    fields.end()?;
    if let Some(value) = parameters {
        any_value(value, what)?;
    }
    Ok(Algorithm {
        oid: oid.contents,
        parameters,
    })
}

/// An ANY (algorithm parameters): OpenSSL decodes the universal types it
/// knows by their rules, and takes SEQUENCE, SET, strings and other classes as they are.
fn any_value(value: Element<'_>, what: &str) -> Result<(), String> {
    let what = format!("the parameters of {what}");
    match value.tag {
        0x00 => Err(format!("{what} are an end-of-contents marker")),
        BOOLEAN if value.contents.len() != 1 => Err(format!("{what}: a BOOLEAN not one byte")),
        INTEGER | 0x0a => integer(value.contents, &what),
        BIT_STRING => bit_string_contents(value.contents, &what).map(|_| ()),
        0x05 if !value.contents.is_empty() => Err(format!("{what}: a NULL with contents")),
        OID => object_identifier(value, &what),
        0x10 | 0x11 => Err(format!("{what}: a SEQUENCE or SET not constructed")),
        tag if tag & 0xe0 == 0x20 && tag != SEQUENCE && tag != SET => Err(format!(
            "{what}: a constructed universal type {tag:#04x} (BER, not DER)"
        )),
        _ => Ok(()),
    }
}

fn bit_string<'a>(el: Element<'a>, what: &str) -> Result<&'a [u8], String> {
    expect(el, BIT_STRING, what)?;
    bit_string_contents(el.contents, what)
}

/// `c2i_ASN1_BIT_STRING`: the unused-bits byte, at most 7, then the bits.
fn bit_string_contents<'a>(contents: &'a [u8], what: &str) -> Result<&'a [u8], String> {
    match contents.split_first() {
        Some((unused, bits)) if *unused <= 7 => Ok(bits),
        Some(_) => Err(format!("{what} claims more than 7 unused bits")),
        None => Err(format!("{what} is an empty BIT STRING")),
    }
}

fn extension(el: Element<'_>) -> Result<Extension<'_>, String> {
    let mut fields = Fields::of(el, "an extension")?;
    let oid = fields.next("extnID")?;
    object_identifier(oid, "an extension's extnID")?;
    let critical = match fields.optional(BOOLEAN, "critical")? {
        None => false,
        Some(flag) => match flag.contents {
            [byte] => *byte != 0,
            _ => return Err("an extension's critical flag is not one byte".to_owned()),
        },
    };
    let value = fields.next("extnValue")?;
    expect(value, OCTET_STRING, "an extension's extnValue")?;
    fields.end()?;
    Ok(Extension {
        oid: oid.contents,
        critical,
        value: value.contents,
    })
}

/// A Name: a SEQUENCE of SETs of (OID, value), each value of a type
/// OpenSSL's `X509_NAME_ENTRY` takes and, for the string types it
/// canonicalizes, one that decodes to Unicode.
fn name(el: Element<'_>, what: &str) -> Result<(), String> {
    expect(el, SEQUENCE, what)?;
    for rdn in elements(el.contents)? {
        expect(rdn, SET, what)?;
        for attribute in elements(rdn.contents)? {
            let mut fields = Fields::of(attribute, "a name attribute")?;
            let oid = fields.next("type")?;
            object_identifier(oid, "a name attribute's type")?;
            let value = fields.next("value")?;
            fields.end()?;
            name_value(value).map_err(|why| format!("{what}: {why}"))?;
        }
    }
    Ok(())
}

/// The universal tags `ASN1_PRINTABLE` takes (measured against OpenSSL
/// 3.0: tests/test_openssl_agreement.py) besides the checked strings.
const OTHER_NAME_VALUE_TAGS: [u8; 9] = [0x07, 0x08, 0x09, 0x0b, 0x0d, 0x0e, 0x0f, 0x12, 0x1d];

fn name_value(value: Element<'_>) -> Result<(), String> {
    let tag = value.tag;
    if tag == SEQUENCE || OTHER_NAME_VALUE_TAGS.contains(&tag) {
        return Ok(());
    }
    if tag == BIT_STRING {
        // OpenSSL zeroes the unused bits when it decodes, so its subject hash
        // is of other bytes than these: a BER form, refused as such.
        let bits = bit_string_contents(value.contents, "a name value")?;
        let unused = value.contents[0];
        let padding = bits
            .last()
            .map_or(unused, |last| last & ((1u8 << unused) - 1));
        if padding != 0 {
            return Err(
                "a BIT STRING value whose unused bits are not zero (BER, not DER)".to_owned(),
            );
        }
        return Ok(());
    }
    match string_text(tag, value.contents) {
        Some(Some(_)) => Ok(()),
        Some(None) => Err(format!(
            "a {} value that does not decode to Unicode",
            string_type_name(tag)
        )),
        None => Err(format!(
            "a value of tag {tag:#04x} ({}) where a string belongs",
            tag_name(tag)
        )),
    }
}

/// The text of the string types OpenSSL canonicalizes (`ASN1_MASK_CANON`
/// less VisibleString, which names do not take), decoded as
/// `ASN1_STRING_to_UTF8` does: `None` for other tags, `Some(None)` for a
/// string that does not decode to Unicode.
pub fn string_text(tag: u8, bytes: &[u8]) -> Option<Option<String>> {
    let chars = |width: usize| -> Option<String> {
        if !bytes.len().is_multiple_of(width) {
            return None;
        }
        bytes
            .chunks(width)
            .map(|unit| char::from_u32(unit.iter().fold(0u32, |n, b| n << 8 | *b as u32)))
            .collect()
    };
    Some(match tag {
        UTF8_STRING => std::str::from_utf8(bytes).ok().map(str::to_owned),
        // PrintableString, T61String, IA5String: one byte a character, read
        // as Latin-1 (OpenSSL does not decode T.61).
        0x13 | 0x14 | 0x16 => chars(1),
        UNIVERSAL_STRING => chars(4), // UCS-4 big-endian
        BMP_STRING => chars(2),       // UCS-2 big-endian
        _ => return None,
    })
}

fn string_type_name(tag: u8) -> &'static str {
    match tag {
        UTF8_STRING => "UTF8String",
        UNIVERSAL_STRING => "UniversalString",
        BMP_STRING => "BMPString",
        _ => "string",
    }
}

fn tag_name(tag: u8) -> &'static str {
    match tag {
        BOOLEAN => "BOOLEAN",
        INTEGER => "INTEGER",
        OCTET_STRING => "OCTET STRING",
        0x05 => "NULL",
        OID => "OBJECT IDENTIFIER",
        0x0a => "ENUMERATED",
        SET => "SET",
        UTC_TIME | GENERALIZED_TIME => "a time",
        0x1a => "VisibleString",
        t if t & 0xc0 != 0 => "not a universal type",
        t if t & 0x20 != 0 => "a constructed string: BER, not DER",
        _ => "a type OpenSSL does not take in a name",
    }
}

/// A UTCTime (years 1950 to 2049) or GeneralizedTime in DER form: seconds,
/// `Z`, nothing else.
fn time(el: Element<'_>, what: &str) -> Result<Time, String> {
    let text = std::str::from_utf8(el.contents).unwrap_or_default();
    let bad = || {
        format!(
            "{what} {:?} is not a DER time",
            String::from_utf8_lossy(el.contents)
        )
    };
    let digits = text.strip_suffix('Z').ok_or_else(bad)?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let number = |range: std::ops::Range<usize>| -> i64 { digits[range].parse().unwrap_or(-1) };
    let (year, rest) = match (el.tag, digits.len()) {
        (UTC_TIME, 12) => {
            let yy = number(0..2);
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, 2)
        }
        (GENERALIZED_TIME, 14) => (number(0..4), 4),
        _ => return Err(bad()),
    };
    let field = |i: usize| number(rest + 2 * i..rest + 2 * i + 2);
    let (month, day, hour, minute, second) = (field(0), field(1), field(2), field(3), field(4));
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&month)
        || day < 1
        || day > month_days[(month - 1) as usize]
        || hour > 23
        || minute > 59
        || second > 59
    {
        return Err(bad());
    }
    let days = days_from_civil(year, month, day);
    Ok(Time {
        unix: days * 86_400 + hour * 3600 + minute * 60 + second,
        text: format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02} UTC"),
    })
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mozilla_root_parses() {
        for root in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
            let cert = parse(root.as_ref()).unwrap();
            assert!(cert.not_after.unix > cert.not_before.unix);
        }
    }

    #[test]
    fn times_before_1970_and_leap_days() {
        let utc = |s: &[u8]| {
            let mut der = vec![UTC_TIME, s.len() as u8];
            der.extend(s);
            time(element(&der).unwrap().0, "t")
        };
        assert_eq!(utc(b"500101000000Z").unwrap().unix, -631_152_000);
        assert_eq!(utc(b"700101000000Z").unwrap().unix, 0);
        assert_eq!(
            utc(b"491231235959Z").unwrap().text,
            "2049-12-31 23:59:59 UTC"
        );
        assert!(utc(b"000229000000Z").is_ok(), "2000 is a leap year");
        assert!(utc(b"010229000000Z").is_err());
        assert!(utc(b"5001010000Z").is_err(), "seconds are required in DER");
        assert!(utc(b"500101000000+0100").is_err());
    }

    #[test]
    fn integers_and_oids_as_openssl_reads_them() {
        assert!(integer(&[0x00, 0x80], "x").is_ok());
        assert!(integer(&[0x00, 0x7f], "x").is_err());
        assert!(integer(&[0xff, 0x00], "x").is_ok());
        assert!(integer(&[0xff, 0x80], "x").is_err());
        assert!(integer(&[], "x").is_err());
        let oid = |c: &[u8]| {
            let mut der = vec![OID, c.len() as u8];
            der.extend(c);
            object_identifier(element(&der).unwrap().0, "x")
        };
        assert!(oid(&[0x55, 0x04, 0x03]).is_ok());
        assert!(oid(&[0x55, 0x80, 0x03]).is_err(), "a padded sub-identifier");
        assert!(oid(&[0x55, 0x84]).is_err(), "an unfinished sub-identifier");
        assert!(oid(&[]).is_err());
    }

    #[test]
    fn algorithm_parameters_are_decoded_by_type() {
        let params = |der: &[u8]| any_value(element(der).unwrap().0, "x");
        assert!(params(&[0x05, 0x00]).is_ok());
        assert!(params(&[0x05, 0x01, 0x00]).is_err());
        assert!(params(&[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22]).is_ok());
        // Found by fuzz/openssl_agreement: an unfinished OID in the key's parameters.
        assert!(params(&[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x8f]).is_err());
        assert!(params(&[0x02, 0x02, 0x00, 0x01]).is_err());
        assert!(params(&[0x30, 0x00]).is_ok());
        assert!(params(&[0x24, 0x00]).is_err(), "a constructed OCTET STRING");
        assert!(params(&[0xa0, 0x00]).is_ok(), "another class, as it is");
    }

    #[test]
    fn lengths_must_be_der() {
        assert!(element(&[0x04, 0x81, 0x01, 0x00]).is_err());
        assert!(element(&[0x30, 0x80, 0x00, 0x00]).is_err());
        assert!(element(&[0x04, 0x02, 0x00]).is_err());
        let mut long = vec![0x04, 0x81, 0x80];
        long.extend([0u8; 0x80]);
        assert_eq!(element(&long).unwrap().0.contents.len(), 0x80);
    }

    #[test]
    fn name_values_follow_openssl() {
        let value = |der: &[u8]| name_value(element(der).unwrap().0);
        assert!(value(b"\x13\x02ab").is_ok());
        assert!(
            value(b"\x12\x02\xff\xff").is_ok(),
            "NumericString is not decoded"
        );
        assert!(value(b"\x02\x01\x05").unwrap_err().contains("INTEGER"));
        assert!(value(b"\x1a\x02ab").is_err(), "VisibleString is refused");
        assert!(value(b"\x0c\x02\xc3\x28").is_err(), "invalid UTF-8");
        assert!(value(b"\x1e\x02\xd8\x00").is_err(), "a lone surrogate");
        assert!(
            value(b"\x1c\x04\x00\x11\x00\x00").is_err(),
            "beyond U+10FFFF"
        );
        assert!(value(b"\x03\x02\x08\x00").is_err(), "8 unused bits");
        assert!(value(b"\x03\x02\x02\x50").is_ok(), "2 unused bits, zero");
        // Found by fuzz/openssl_agreement: OpenSSL hashes 0x50 for this 0x53.
        assert!(value(b"\x03\x02\x02\x53").unwrap_err().contains("not DER"));
        assert!(
            value(b"\x03\x01\x03").unwrap_err().contains("not DER"),
            "no bits, 3 unused"
        );
        assert!(
            value(b"\x2c\x04\x0c\x02ab").is_err(),
            "constructed: not DER"
        );
    }
}
