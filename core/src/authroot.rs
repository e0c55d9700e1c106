//! Windows' AuthRoot certificate trust list (CTL): the roots of Microsoft's
//! program that Windows trusts without having them in its Root store yet (it
//! fetches them on first use). Windows caches the list in the registry as a
//! PKCS#7 SignedData whose content is a CertificateTrustList; each entry names a
//! root by its SHA-1 thumbprint, with certificate properties as attributes.
//!
//! Compiled on every platform so that its tests run everywhere: only the
//! reading of the registry is Windows-only (`roots/windows.rs`).
//!
//! ```text
//! ContentInfo ::= SEQUENCE { contentType (signedData), content [0] EXPLICIT SignedData }
//! SignedData ::= SEQUENCE { version, digestAlgorithms SET, encapContentInfo, ... }
//! encapContentInfo ::= SEQUENCE { eContentType (szOID_CTL), eContent [0] EXPLICIT CTL }
//! CertificateTrustList ::= SEQUENCE {
//!   version INTEGER OPTIONAL, subjectUsage SEQUENCE OF OID,
//!   listIdentifier OCTET STRING OPTIONAL, sequenceNumber INTEGER OPTIONAL,
//!   thisUpdate Time, nextUpdate Time OPTIONAL, subjectAlgorithm AlgorithmIdentifier,
//!   trustedSubjects SEQUENCE OF TrustedSubject OPTIONAL, ctlExtensions [0] OPTIONAL }
//! TrustedSubject ::= SEQUENCE { subjectIdentifier OCTET STRING, subjectAttributes SET OF Attribute OPTIONAL }
//! ```
//!
//! The list's signature is not checked: Windows checked it before caching it
//! in HKLM, and whoever can write there can add roots to the Root store anyway.

use x509_cert::der::asn1::{AnyRef, ObjectIdentifier};
use x509_cert::der::{Decode, Reader, SliceReader, Tag, TagNumber, Tagged};

const SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
/// szOID_CTL
const CTL: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.311.10.1");
/// szOID_ROOT_LIST_SIGNER: the usage of the AuthRoot list (and of no other CTL).
const ROOT_LIST_SIGNER: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.311.10.3.9");
const SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
/// szOID_PKIX_KP_SERVER_AUTH
pub const SERVER_AUTH: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.1");
/// szOID_CERT_PROP_ID_PREFIX: an attribute `1.3.6.1.4.1.311.10.11.<id>` holds property `<id>`.
const PROPERTY_PREFIX: &str = "1.3.6.1.4.1.311.10.11.";
/// CERT_ENHKEY_USAGE_PROP_ID: the usages the root is trusted for.
pub const ENHKEY_USAGE_PROP_ID: u32 = 9;
/// CERT_DISALLOWED_FILETIME_PROP_ID: from when the root is disabled.
pub const DISALLOWED_FILETIME_PROP_ID: u32 = 104;
/// CERT_DISALLOWED_ENHKEY_USAGE_PROP_ID: the usages that date disables (all when absent).
pub const DISALLOWED_ENHKEY_USAGE_PROP_ID: u32 = 122;

/// The list, as far as `system` mode needs it.
#[derive(Debug)]
pub struct TrustList {
    /// The list's sequence number (hex), when it has one: which list this is.
    pub sequence_number: Option<String>,
    pub entries: Vec<Entry>,
    /// Entries that could not be read, and why; the others still count.
    pub problems: Vec<String>,
}

/// One root the list names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub sha1: [u8; 20],
    /// The usages the root is trusted for; `None`: the list does not restrict them.
    pub usages: Option<Vec<ObjectIdentifier>>,
    /// Seconds since the Unix epoch from which the root is disabled.
    pub disallowed_from: Option<i64>,
    /// The usages that date disables; `None`: all of them.
    pub disallowed_usages: Option<Vec<ObjectIdentifier>>,
}

/// What an entry means for a TLS server's root, at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerTrust {
    Trusted,
    /// Listed, but not for server authentication (e.g. code signing only).
    NotForServers,
    /// Disabled for server authentication: distrusted, like the Disallowed store.
    Disallowed,
}

impl Entry {
    pub fn server_trust(&self, now_unix: i64) -> ServerTrust {
        let covers = |usages: &Option<Vec<ObjectIdentifier>>| {
            usages.as_ref().is_none_or(|u| u.contains(&SERVER_AUTH))
        };
        if self.disallowed_from.is_some_and(|from| from <= now_unix)
            && covers(&self.disallowed_usages)
        {
            ServerTrust::Disallowed
        } else if covers(&self.usages) {
            ServerTrust::Trusted
        } else {
            ServerTrust::NotForServers
        }
    }
}

type Der<'a> = AnyRef<'a>;

fn children(any: Der<'_>) -> Result<Vec<Der<'_>>, String> {
    let mut reader = SliceReader::new(any.value()).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    while !reader.is_finished() {
        out.push(Der::decode(&mut reader).map_err(|e| e.to_string())?);
    }
    Ok(out)
}

fn expect<'a>(any: Option<Der<'a>>, tag: Tag, what: &str) -> Result<Der<'a>, String> {
    match any {
        Some(any) if any.tag() == tag => Ok(any),
        Some(any) => Err(format!("{what}: expected {tag}, found {}", any.tag())),
        None => Err(format!("{what}: missing")),
    }
}

fn oid(any: Der<'_>, what: &str) -> Result<ObjectIdentifier, String> {
    any.decode_as::<ObjectIdentifier>()
        .map_err(|e| format!("{what}: {e}"))
}

fn oids(any: Der<'_>, what: &str) -> Result<Vec<ObjectIdentifier>, String> {
    children(expect(Some(any), Tag::Sequence, what)?)?
        .into_iter()
        .map(|item| oid(expect(Some(item), Tag::ObjectIdentifier, what)?, what))
        .collect()
}

fn explicit0<'a>(any: Option<Der<'a>>, what: &str) -> Result<Der<'a>, String> {
    let tag = Tag::ContextSpecific {
        constructed: true,
        number: TagNumber(0),
    };
    let wrapper = expect(any, tag, what)?;
    let mut inner = children(wrapper)?.into_iter();
    match (inner.next(), inner.next()) {
        (Some(value), None) => Ok(value),
        _ => Err(format!("{what}: [0] must hold exactly one value")),
    }
}

/// Parses the list as Windows caches it (the registry value `EncodedCtl`).
/// Any structural problem is an `Err` with the reason; never a panic.
pub fn parse(blob: &[u8]) -> Result<TrustList, String> {
    let content_info = Der::from_der(blob).map_err(|e| format!("not DER: {e}"))?;
    let mut fields =
        children(expect(Some(content_info), Tag::Sequence, "ContentInfo")?)?.into_iter();
    let kind = expect(fields.next(), Tag::ObjectIdentifier, "ContentInfo type")?;
    if oid(kind, "ContentInfo type")? != SIGNED_DATA {
        return Err("not a PKCS#7 SignedData".to_owned());
    }
    let signed = explicit0(fields.next(), "SignedData")?;
    let mut fields = children(expect(Some(signed), Tag::Sequence, "SignedData")?)?.into_iter();
    expect(fields.next(), Tag::Integer, "SignedData version")?;
    expect(fields.next(), Tag::Set, "SignedData digestAlgorithms")?;
    let encap = expect(fields.next(), Tag::Sequence, "encapContentInfo")?;
    let mut fields = children(encap)?.into_iter();
    let kind = expect(fields.next(), Tag::ObjectIdentifier, "eContentType")?;
    if oid(kind, "eContentType")? != CTL {
        return Err("the SignedData does not hold a certificate trust list".to_owned());
    }
    let mut list = explicit0(fields.next(), "eContent")?;
    if list.tag() == Tag::OctetString {
        // PKCS#7 v1.5 puts the content itself here; CMS wraps it in an OCTET STRING.
        list = Der::from_der(list.value()).map_err(|e| format!("eContent: {e}"))?;
    }
    trust_list(list)
}

fn trust_list(list: Der<'_>) -> Result<TrustList, String> {
    let mut fields = children(expect(Some(list), Tag::Sequence, "CertificateTrustList")?)?
        .into_iter()
        .peekable();
    let mut next_if = |tag: Tag| fields.next_if(|f| f.tag() == tag);
    next_if(Tag::Integer); // version
    let usage = expect(next_if(Tag::Sequence), Tag::Sequence, "subjectUsage")?;
    if !oids(usage, "subjectUsage")?.contains(&ROOT_LIST_SIGNER) {
        return Err("not the AuthRoot list (its usage is not szOID_ROOT_LIST_SIGNER)".to_owned());
    }
    next_if(Tag::OctetString); // listIdentifier
    let sequence_number = next_if(Tag::Integer).map(|n| hex(n.value()));
    let is_time = |f: &Der<'_>| matches!(f.tag(), Tag::UtcTime | Tag::GeneralizedTime);
    fields
        .next_if(is_time)
        .ok_or("thisUpdate: missing or not a time")?;
    fields.next_if(is_time); // nextUpdate
    let algorithm = expect(fields.next(), Tag::Sequence, "subjectAlgorithm")?;
    let algorithm = expect(
        children(algorithm)?.into_iter().next(),
        Tag::ObjectIdentifier,
        "subjectAlgorithm",
    )?;
    if oid(algorithm, "subjectAlgorithm")? != SHA1 {
        return Err("subjects are not named by SHA-1 thumbprints".to_owned());
    }
    let mut out = TrustList {
        sequence_number,
        entries: Vec::new(),
        problems: Vec::new(),
    };
    if let Some(subjects) = fields.next_if(|f| f.tag() == Tag::Sequence) {
        for (index, subject) in children(subjects)?.into_iter().enumerate() {
            match entry(subject) {
                Ok(entry) => out.entries.push(entry),
                Err(why) => out.problems.push(format!("entry {index}: {why}")),
            }
        }
    }
    Ok(out)
}

fn entry(subject: Der<'_>) -> Result<Entry, String> {
    let mut fields = children(expect(Some(subject), Tag::Sequence, "TrustedSubject")?)?.into_iter();
    let id = expect(fields.next(), Tag::OctetString, "subjectIdentifier")?;
    let sha1: [u8; 20] = id
        .value()
        .try_into()
        .map_err(|_| format!("subjectIdentifier: {} bytes, not a SHA-1", id.value().len()))?;
    let mut entry = Entry {
        sha1,
        usages: None,
        disallowed_from: None,
        disallowed_usages: None,
    };
    let Some(attributes) = fields.next() else {
        return Ok(entry);
    };
    for attribute in children(expect(Some(attributes), Tag::Set, "subjectAttributes")?)? {
        let mut parts = children(expect(Some(attribute), Tag::Sequence, "attribute")?)?.into_iter();
        let kind = oid(
            expect(parts.next(), Tag::ObjectIdentifier, "attribute type")?,
            "attribute type",
        )?;
        let values = children(expect(parts.next(), Tag::Set, "attribute values")?)?;
        let Some(id) = kind
            .to_string()
            .strip_prefix(PROPERTY_PREFIX)
            .and_then(|id| id.parse::<u32>().ok())
        else {
            continue; // not a certificate property
        };
        let value = expect(
            values.into_iter().next(),
            Tag::OctetString,
            "property value",
        )?
        .value();
        let usages = || {
            Der::from_der(value)
                .map_err(|e| e.to_string())
                .and_then(|u| oids(u, "usages"))
        };
        match id {
            ENHKEY_USAGE_PROP_ID => entry.usages = Some(usages()?),
            DISALLOWED_ENHKEY_USAGE_PROP_ID => entry.disallowed_usages = Some(usages()?),
            // Empty in Microsoft's list where a root was disabled and then
            // restored with a NotBefore date: cleared, not disabled.
            DISALLOWED_FILETIME_PROP_ID if value.is_empty() => {}
            DISALLOWED_FILETIME_PROP_ID => {
                let filetime: [u8; 8] = value.try_into().map_err(|_| {
                    format!("disallowed time: {} bytes, not a FILETIME", value.len())
                })?;
                entry.disallowed_from = Some(filetime_to_unix(u64::from_le_bytes(filetime)));
            }
            _ => {}
        }
    }
    Ok(entry)
}

/// A FILETIME (100 ns since 1601-01-01 UTC) as Unix seconds.
pub fn filetime_to_unix(filetime: u64) -> i64 {
    (filetime / 10_000_000) as i64 - 11_644_473_600
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A DER tag-length-value, for building test lists by hand (independently
    /// of the parser above).
    pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        let len = content.len();
        if len < 0x80 {
            out.push(len as u8);
        } else {
            let bytes: Vec<u8> = len
                .to_be_bytes()
                .into_iter()
                .skip_while(|b| *b == 0)
                .collect();
            out.push(0x80 | bytes.len() as u8);
            out.extend(bytes);
        }
        out.extend_from_slice(content);
        out
    }

    fn seq(items: &[Vec<u8>]) -> Vec<u8> {
        tlv(0x30, &items.concat())
    }

    fn set(items: &[Vec<u8>]) -> Vec<u8> {
        tlv(0x31, &items.concat())
    }

    fn oid_der(dotted: &str) -> Vec<u8> {
        use x509_cert::der::Encode;
        ObjectIdentifier::new_unwrap(dotted).to_der().unwrap()
    }

    fn property(id: u32, value: &[u8]) -> Vec<u8> {
        seq(&[
            oid_der(&format!("{PROPERTY_PREFIX}{id}")),
            set(&[tlv(0x04, value)]),
        ])
    }

    /// How a crafted entry is listed.
    pub struct Listed<'a> {
        pub sha1: [u8; 20],
        pub usages: &'a [&'a str],
        /// (FILETIME, disabled usages: empty for all); FILETIME 0 writes the
        /// empty value Microsoft's list has for a cleared date.
        pub disallowed: Option<(u64, &'a [&'a str])>,
    }

    /// A CTL shaped like Windows' authroot.stl: ContentInfo, SignedData (no
    /// certificates, an empty signerInfos: the parser does not check them),
    /// the CTL with one TrustedSubject per entry and its properties.
    pub fn crafted_ctl(entries: &[Listed<'_>]) -> Vec<u8> {
        let usages = |list: &[&str]| seq(&list.iter().map(|o| oid_der(o)).collect::<Vec<_>>());
        let subjects: Vec<Vec<u8>> = entries
            .iter()
            .map(|e| {
                let mut attributes = vec![
                    // CERT_FRIENDLY_NAME_PROP_ID (11) and a SHA-256 (98): properties the parser skips.
                    property(11, b"T\0e\0s\0t\0\0\0"),
                    property(98, &[0xab; 32]),
                    property(ENHKEY_USAGE_PROP_ID, &usages(e.usages)),
                ];
                if let Some((filetime, disabled)) = e.disallowed {
                    let value = if filetime == 0 {
                        Vec::new()
                    } else {
                        filetime.to_le_bytes().to_vec()
                    };
                    attributes.push(property(DISALLOWED_FILETIME_PROP_ID, &value));
                    if !disabled.is_empty() {
                        attributes
                            .push(property(DISALLOWED_ENHKEY_USAGE_PROP_ID, &usages(disabled)));
                    }
                }
                seq(&[tlv(0x04, &e.sha1), set(&attributes)])
            })
            .collect();
        let ctl = seq(&[
            seq(&[oid_der("1.3.6.1.4.1.311.10.3.9")]),
            tlv(0x02, &[0x01, 0x5f]),
            tlv(0x17, b"261201000000Z"),
            seq(&[oid_der("1.3.14.3.2.26"), tlv(0x05, &[])]),
            seq(&subjects),
        ]);
        let signed = seq(&[
            tlv(0x02, &[1]),
            set(&[seq(&[oid_der("2.16.840.1.101.3.4.2.1"), tlv(0x05, &[])])]),
            seq(&[oid_der("1.3.6.1.4.1.311.10.1"), tlv(0xa0, &ctl)]),
            set(&[]),
        ]);
        seq(&[oid_der("1.2.840.113549.1.7.2"), tlv(0xa0, &signed)])
    }

    /// A FILETIME for a Unix time.
    pub fn filetime(unix: i64) -> u64 {
        (unix + 11_644_473_600) as u64 * 10_000_000
    }

    const CODE_SIGNING: &str = "1.3.6.1.5.5.7.3.3";
    const SERVER: &str = "1.3.6.1.5.5.7.3.1";

    fn sample() -> Vec<u8> {
        crafted_ctl(&[
            Listed {
                sha1: [1; 20],
                usages: &[SERVER, CODE_SIGNING],
                disallowed: None,
            },
            Listed {
                sha1: [2; 20],
                usages: &[CODE_SIGNING],
                disallowed: None,
            },
            Listed {
                sha1: [3; 20],
                usages: &[SERVER],
                disallowed: Some((filetime(1_000), &[])),
            },
            Listed {
                sha1: [4; 20],
                usages: &[SERVER],
                disallowed: Some((filetime(1_000), &[CODE_SIGNING])),
            },
            Listed {
                sha1: [5; 20],
                usages: &[SERVER],
                disallowed: Some((filetime(9_000), &[SERVER])),
            },
            Listed {
                sha1: [6; 20],
                usages: &[SERVER],
                disallowed: Some((0, &[])),
            },
        ])
    }

    #[test]
    fn reads_each_entry_and_its_server_trust() {
        let list = parse(&sample()).unwrap();
        assert!(list.problems.is_empty(), "{:?}", list.problems);
        assert_eq!(list.sequence_number.as_deref(), Some("015f"));
        let trust: Vec<([u8; 20], ServerTrust)> = list
            .entries
            .iter()
            .map(|e| (e.sha1, e.server_trust(5_000)))
            .collect();
        assert_eq!(
            trust,
            [
                ([1; 20], ServerTrust::Trusted),
                ([2; 20], ServerTrust::NotForServers),
                ([3; 20], ServerTrust::Disallowed),
                ([4; 20], ServerTrust::Trusted), // disabled for code signing only
                ([5; 20], ServerTrust::Trusted), // disabled from a later date
                ([6; 20], ServerTrust::Trusted), // an empty date: cleared
            ]
        );
        assert_eq!(list.entries[4].server_trust(9_000), ServerTrust::Disallowed);
        assert_eq!(list.entries[2].disallowed_from, Some(1_000));
    }

    #[test]
    fn the_content_may_come_wrapped_in_an_octet_string() {
        // Re-wrap the CTL of the sample as CMS does: [0] { OCTET STRING { CTL } }.
        let plain = crafted_ctl(&[Listed {
            sha1: [7; 20],
            usages: &[SERVER],
            disallowed: None,
        }]);
        let content = Der::from_der(&plain).unwrap();
        let signed = explicit0(children(content).unwrap().get(1).copied(), "").unwrap();
        let fields = children(signed).unwrap();
        let encap = children(fields[2]).unwrap();
        let ctl = explicit0(Some(encap[1]), "").unwrap();
        use x509_cert::der::Encode;
        let wrapped_encap = seq(&[
            oid_der("1.3.6.1.4.1.311.10.1"),
            tlv(0xa0, &tlv(0x04, &ctl.to_der().unwrap())),
        ]);
        let rest: Vec<Vec<u8>> = [fields[0], fields[1]]
            .iter()
            .map(|f| f.to_der().unwrap())
            .collect();
        let signed = seq(&[rest[0].clone(), rest[1].clone(), wrapped_encap, set(&[])]);
        let blob = seq(&[oid_der("1.2.840.113549.1.7.2"), tlv(0xa0, &signed)]);
        assert_eq!(parse(&blob).unwrap().entries[0].sha1, [7; 20]);
    }

    #[test]
    fn truncated_and_garbage_blobs_are_reported_never_a_panic() {
        let blob = sample();
        for len in 0..blob.len() {
            assert!(parse(&blob[..len]).is_err(), "truncated to {len} bytes");
        }
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for round in 0..2_000 {
            // xorshift: garbage, and the sample with bytes flipped.
            let mut noise = || {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state
            };
            let mut bytes = if round % 2 == 0 {
                (0..noise() % 300)
                    .map(|_| noise() as u8)
                    .collect::<Vec<u8>>()
            } else {
                blob.clone()
            };
            for _ in 0..1 + noise() % 4 {
                let at = (noise() as usize) % bytes.len().max(1);
                if let Some(b) = bytes.get_mut(at) {
                    *b = noise() as u8;
                }
            }
            let _ = parse(&bytes); // Ok or Err, both fine: no panic
        }
    }

    #[test]
    fn other_lists_and_shapes_are_refused_with_a_reason() {
        let not_signed = seq(&[oid_der("1.2.840.113549.1.7.1"), tlv(0xa0, &seq(&[]))]);
        assert_eq!(parse(&not_signed).unwrap_err(), "not a PKCS#7 SignedData");
        let mut trailing = sample();
        trailing.push(0);
        assert!(parse(&trailing).unwrap_err().starts_with("not DER"));
        assert!(parse(b"certificates").is_err());
    }

    #[test]
    fn a_bad_entry_is_reported_and_the_others_kept() {
        let good = seq(&[tlv(0x04, &[9; 20])]);
        let short = seq(&[tlv(0x04, &[9; 19])]);
        let ctl = seq(&[
            seq(&[oid_der("1.3.6.1.4.1.311.10.3.9")]),
            tlv(0x17, b"261201000000Z"),
            seq(&[oid_der("1.3.14.3.2.26")]),
            seq(&[short, good]),
        ]);
        let list = trust_list(Der::from_der(&ctl).unwrap()).unwrap();
        assert_eq!(list.entries.len(), 1);
        assert_eq!(
            list.entries[0].server_trust(0),
            ServerTrust::Trusted,
            "no usage property: not restricted"
        );
        assert_eq!(
            list.problems,
            ["entry 0: subjectIdentifier: 19 bytes, not a SHA-1"]
        );
    }
}
