//! Windows' AuthRoot certificate trust list (CTL): the roots of Microsoft's
//! program that Windows trusts without having them in its Root store yet (it
//! fetches them on first use). Windows caches the list in the registry as a
//! PKCS#7 SignedData whose content is a CertificateTrustList; each entry names a
//! root by its SHA-1 thumbprint, with certificate properties as attributes.
//!
//! Read with the project's DER walker (`x509.rs`), and compiled on every
//! platform so that its tests run everywhere: the parse, and the choice of
//! Mozilla's roots it makes (`select_mozilla`). Only the reading of the
//! registry is Windows-only (`roots/windows.rs`).
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

use crate::roots::distrust::thumbprint;
use crate::roots::{Distrust, Gathered, Problem, Source};
use crate::x509::{
    self, Element, GENERALIZED_TIME, INTEGER, OCTET_STRING, SEQUENCE, SET, UTC_TIME,
};

/// Where Windows caches the list, and the value holding it.
pub const AUTHROOT_LIST_KEY: &str =
    r"HKLM\SOFTWARE\Microsoft\SystemCertificates\AuthRoot\AutoUpdate";
pub const AUTHROOT_LIST_VALUE: &str = "EncodedCtl";

const SIGNED_DATA: &str = "1.2.840.113549.1.7.2";
/// szOID_CTL
const CTL: &str = "1.3.6.1.4.1.311.10.1";
/// szOID_ROOT_LIST_SIGNER: the usage of the AuthRoot list (and of no other CTL).
const ROOT_LIST_SIGNER: &str = "1.3.6.1.4.1.311.10.3.9";
const SHA1: &str = "1.3.14.3.2.26";
/// szOID_PKIX_KP_SERVER_AUTH
pub const SERVER_AUTH: &str = "1.3.6.1.5.5.7.3.1";
/// szOID_CERT_PROP_ID_PREFIX: an attribute `1.3.6.1.4.1.311.10.11.<id>` holds property `<id>`.
const PROPERTY_PREFIX: &str = "1.3.6.1.4.1.311.10.11.";
/// CERT_ENHKEY_USAGE_PROP_ID: the usages the root is trusted for.
pub const ENHKEY_USAGE_PROP_ID: u32 = 9;
/// CERT_DISALLOWED_FILETIME_PROP_ID: from when the root is disabled.
pub const DISALLOWED_FILETIME_PROP_ID: u32 = 104;
/// CERT_DISALLOWED_ENHKEY_USAGE_PROP_ID: the usages that date disables (all when absent).
pub const DISALLOWED_ENHKEY_USAGE_PROP_ID: u32 = 122;
/// `[0] EXPLICIT`, constructed.
const EXPLICIT_0: u8 = 0xa0;

/// Why a root the list disables is dropped (`info()`: "distrusted: ...").
pub const DISABLED_BY_LIST: &str = "disabled for servers by Windows' AuthRoot list";

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
    /// The usages (dotted OIDs) the root is trusted for; `None`: the list does
    /// not restrict them.
    pub usages: Option<Vec<String>>,
    /// Seconds since the Unix epoch from which the root is disabled.
    pub disallowed_from: Option<i64>,
    /// The usages (dotted OIDs) that date disables; `None`: all of them.
    pub disallowed_usages: Option<Vec<String>>,
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
        let covers = |usages: &Option<Vec<String>>| {
            usages
                .as_ref()
                .is_none_or(|u| u.iter().any(|oid| oid == SERVER_AUTH))
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

/// How the list's entries fell, at the time of a selection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ListCounts {
    pub entries: usize,
    /// Distinct thumbprints trusted for servers.
    pub trusted: usize,
    pub not_for_servers: usize,
    pub disabled: usize,
    /// Mozilla's roots among the trusted: the size of the part.
    pub mozilla_trusted: usize,
}

/// The part of `system` mode that stands for the roots Windows trusts
/// without having them in its Root store yet.
pub struct MozillaPart {
    /// `AuthRoot`: the Mozilla roots the list trusts for servers; `Mozilla`:
    /// the whole set, when there is no usable list.
    pub source: Source,
    pub gathered: Gathered,
    /// `None` when there is no usable list.
    pub counts: Option<ListCounts>,
    /// What `info()` says about the part.
    pub note: String,
}

/// Decides which of `mozilla`'s roots `system` mode adds, from the list as
/// read from the registry (`Ok(None)`: no such value), at `now_unix`; the
/// roots the list disables for servers go into `distrust`. No list, or an
/// unreadable one: all of `mozilla`, said so (a short store is worse than a
/// few roots Windows would not fetch). Windows' `roots/windows.rs` reads the
/// registry; this runs, and is tested, everywhere.
pub fn select_mozilla(
    read: std::io::Result<Option<Vec<u8>>>,
    mut mozilla: Gathered,
    distrust: &mut Distrust,
    now_unix: i64,
) -> MozillaPart {
    let place = format!(r"{AUTHROOT_LIST_KEY}\{AUTHROOT_LIST_VALUE}");
    let list = match read {
        Ok(Some(blob)) => parse(&blob).map_err(|why| format!("unreadable ({why})")),
        Ok(None) => Err("absent".to_owned()),
        Err(err) => Err(format!("unreadable ({err})")),
    };
    let list = match list {
        Ok(list) => list,
        Err(why) => {
            return MozillaPart {
                source: Source::Mozilla,
                gathered: mozilla,
                counts: None,
                note: format!(
                    "Windows' AuthRoot list ({place}) is {why}: added Mozilla's set instead, \
                     minus the Disallowed store"
                ),
            };
        }
    };
    let mut trusted = std::collections::HashSet::new();
    let mut counts = ListCounts {
        entries: list.entries.len(),
        ..ListCounts::default()
    };
    for entry in &list.entries {
        match entry.server_trust(now_unix) {
            ServerTrust::Trusted => {
                trusted.insert(entry.sha1);
            }
            ServerTrust::NotForServers => counts.not_for_servers += 1,
            ServerTrust::Disallowed => {
                distrust.insert(entry.sha1, DISABLED_BY_LIST);
                counts.disabled += 1;
            }
        }
    }
    mozilla
        .candidates
        .retain(|candidate| trusted.contains(&thumbprint(&candidate.der)));
    for candidate in &mut mozilla.candidates {
        candidate.source = Source::AuthRoot;
    }
    mozilla
        .problems
        .extend(list.problems.into_iter().map(|reason| Problem {
            source: Source::AuthRoot,
            reason: format!("AuthRoot list: {reason}"),
        }));
    counts.trusted = trusted.len();
    counts.mozilla_trusted = mozilla.candidates.len();
    let note = format!(
        "Windows' AuthRoot list (sequence {}): {} entries, {} trusted for servers, {} \
         not for servers, {} disabled; {} of Mozilla's roots are among the trusted",
        list.sequence_number.as_deref().unwrap_or("none"),
        counts.entries,
        counts.trusted,
        counts.not_for_servers,
        counts.disabled,
        counts.mozilla_trusted
    );
    MozillaPart {
        source: Source::AuthRoot,
        gathered: mozilla,
        counts: Some(counts),
        note,
    }
}

fn children(el: Element<'_>) -> Result<Vec<Element<'_>>, String> {
    x509::elements(el.contents)
}

/// Exactly one element in `bytes`.
fn single<'a>(bytes: &'a [u8], what: &str) -> Result<Element<'a>, String> {
    match x509::element(bytes) {
        Ok((el, [])) => Ok(el),
        Ok(_) => Err(format!("{what}: bytes after it")),
        Err(why) => Err(format!("{what}: {why}")),
    }
}

fn expect<'a>(el: Option<Element<'a>>, tag: u8, what: &str) -> Result<Element<'a>, String> {
    let el = el.ok_or_else(|| format!("{what}: missing"))?;
    x509::expect(el, tag, what)?;
    Ok(el)
}

/// An OBJECT IDENTIFIER, checked as OpenSSL checks one, as dotted text.
fn oid(el: Option<Element<'_>>, what: &str) -> Result<String, String> {
    let el = el.ok_or_else(|| format!("{what}: missing"))?;
    x509::object_identifier(el, what)?;
    Ok(crate::self_signed::dotted(el.contents))
}

fn oids(el: Element<'_>, what: &str) -> Result<Vec<String>, String> {
    children(expect(Some(el), SEQUENCE, what)?)?
        .into_iter()
        .map(|item| oid(Some(item), what))
        .collect()
}

fn explicit0<'a>(el: Option<Element<'a>>, what: &str) -> Result<Element<'a>, String> {
    let wrapper = expect(el, EXPLICIT_0, what)?;
    match children(wrapper)?[..] {
        [value] => Ok(value),
        _ => Err(format!("{what}: [0] must hold exactly one value")),
    }
}

/// Parses the list as Windows caches it (the registry value `EncodedCtl`).
/// Any structural problem is an `Err` with the reason; never a panic.
pub fn parse(blob: &[u8]) -> Result<TrustList, String> {
    let content_info = match x509::element(blob) {
        Ok((el, [])) => el,
        Ok(_) => return Err("not DER: bytes after the list".to_owned()),
        Err(why) => return Err(format!("not DER: {why}")),
    };
    let mut fields = children(expect(Some(content_info), SEQUENCE, "ContentInfo")?)?.into_iter();
    if oid(fields.next(), "ContentInfo type")? != SIGNED_DATA {
        return Err("not a PKCS#7 SignedData".to_owned());
    }
    let signed = explicit0(fields.next(), "SignedData")?;
    let mut fields = children(expect(Some(signed), SEQUENCE, "SignedData")?)?.into_iter();
    expect(fields.next(), INTEGER, "SignedData version")?;
    expect(fields.next(), SET, "SignedData digestAlgorithms")?;
    let encap = expect(fields.next(), SEQUENCE, "encapContentInfo")?;
    let mut fields = children(encap)?.into_iter();
    if oid(fields.next(), "eContentType")? != CTL {
        return Err("the SignedData does not hold a certificate trust list".to_owned());
    }
    let mut list = explicit0(fields.next(), "eContent")?;
    if list.tag == OCTET_STRING {
        // PKCS#7 v1.5 puts the content itself here; CMS wraps it in an OCTET STRING.
        list = single(list.contents, "eContent")?;
    }
    trust_list(list)
}

fn trust_list(list: Element<'_>) -> Result<TrustList, String> {
    let mut fields = children(expect(Some(list), SEQUENCE, "CertificateTrustList")?)?
        .into_iter()
        .peekable();
    let mut next_if = |tag: u8| fields.next_if(|f| f.tag == tag);
    next_if(INTEGER); // version
    let usage = expect(next_if(SEQUENCE), SEQUENCE, "subjectUsage")?;
    if !oids(usage, "subjectUsage")?
        .iter()
        .any(|u| u == ROOT_LIST_SIGNER)
    {
        return Err("not the AuthRoot list (its usage is not szOID_ROOT_LIST_SIGNER)".to_owned());
    }
    next_if(OCTET_STRING); // listIdentifier
    let sequence_number = next_if(INTEGER).map(|n| crate::pem::hex(n.contents));
    let is_time = |f: &Element<'_>| matches!(f.tag, UTC_TIME | GENERALIZED_TIME);
    fields
        .next_if(is_time)
        .ok_or("thisUpdate: missing or not a time")?;
    fields.next_if(is_time); // nextUpdate
    let algorithm = expect(fields.next(), SEQUENCE, "subjectAlgorithm")?;
    if oid(children(algorithm)?.first().copied(), "subjectAlgorithm")? != SHA1 {
        return Err("subjects are not named by SHA-1 thumbprints".to_owned());
    }
    let mut out = TrustList {
        sequence_number,
        entries: Vec::new(),
        problems: Vec::new(),
    };
    if let Some(subjects) = fields.next_if(|f| f.tag == SEQUENCE) {
        for (index, subject) in children(subjects)?.into_iter().enumerate() {
            match entry(subject) {
                Ok(entry) => out.entries.push(entry),
                Err(why) => out.problems.push(format!("entry {index}: {why}")),
            }
        }
    }
    Ok(out)
}

fn entry(subject: Element<'_>) -> Result<Entry, String> {
    let mut fields = children(expect(Some(subject), SEQUENCE, "TrustedSubject")?)?.into_iter();
    let id = expect(fields.next(), OCTET_STRING, "subjectIdentifier")?;
    let sha1: [u8; 20] = id.contents.try_into().map_err(|_| {
        format!(
            "subjectIdentifier: {} bytes, not a SHA-1",
            id.contents.len()
        )
    })?;
    let mut entry = Entry {
        sha1,
        usages: None,
        disallowed_from: None,
        disallowed_usages: None,
    };
    let Some(attributes) = fields.next() else {
        return Ok(entry);
    };
    for attribute in children(expect(Some(attributes), SET, "subjectAttributes")?)? {
        let mut parts = children(expect(Some(attribute), SEQUENCE, "attribute")?)?.into_iter();
        let kind = oid(parts.next(), "attribute type")?;
        let values = children(expect(parts.next(), SET, "attribute values")?)?;
        let Some(id) = kind
            .strip_prefix(PROPERTY_PREFIX)
            .and_then(|id| id.parse::<u32>().ok())
        else {
            continue; // not a certificate property
        };
        let value = expect(values.into_iter().next(), OCTET_STRING, "property value")?.contents;
        let usages = || single(value, "usages").and_then(|u| oids(u, "usages"));
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

    /// An OBJECT IDENTIFIER's DER, from its dotted text.
    fn oid_der(dotted: &str) -> Vec<u8> {
        let arcs: Vec<u64> = dotted.split('.').map(|a| a.parse().unwrap()).collect();
        let mut content = Vec::new();
        for arc in [arcs[0] * 40 + arcs[1]]
            .into_iter()
            .chain(arcs[2..].iter().copied())
        {
            let mut groups = vec![(arc & 0x7f) as u8];
            let mut rest = arc >> 7;
            while rest > 0 {
                groups.push(0x80 | (rest & 0x7f) as u8);
                rest >>= 7;
            }
            content.extend(groups.into_iter().rev());
        }
        tlv(0x06, &content)
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
        signed_data(&ctl)
    }

    /// A ContentInfo holding a SignedData holding `ctl`.
    fn signed_data(ctl: &[u8]) -> Vec<u8> {
        let signed = seq(&[
            tlv(0x02, &[1]),
            set(&[seq(&[oid_der("2.16.840.1.101.3.4.2.1"), tlv(0x05, &[])])]),
            seq(&[oid_der("1.3.6.1.4.1.311.10.1"), tlv(0xa0, ctl)]),
            set(&[]),
        ]);
        seq(&[oid_der("1.2.840.113549.1.7.2"), tlv(0xa0, &signed)])
    }

    /// A CTL with only the fields it must have, and `subjects`.
    fn minimal_ctl(subjects: &[Vec<u8>]) -> Vec<u8> {
        seq(&[
            seq(&[oid_der("1.3.6.1.4.1.311.10.3.9")]),
            tlv(0x17, b"261201000000Z"),
            seq(&[oid_der("1.3.14.3.2.26")]),
            seq(subjects),
        ])
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
        // As CMS does: [0] { OCTET STRING { CTL } }.
        let ctl = minimal_ctl(&[seq(&[tlv(0x04, &[7; 20])])]);
        let blob = signed_data(&tlv(0x04, &ctl));
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
        let ctl = minimal_ctl(&[short, good]);
        let list = trust_list(x509::element(&ctl).unwrap().0).unwrap();
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

    /// A time for the selections below: the disabled entries are disabled by then.
    const NOW: i64 = 1_800_000_000;

    /// The wine test's list (two of Mozilla's roots by thumbprint, one without
    /// server authentication) plus two roots disabled from a day before `NOW`:
    /// for every usage, and for server authentication.
    fn mozilla_list() -> (Vec<u8>, [&'static [u8]; 4]) {
        let set = webpki_root_certs::TLS_SERVER_ROOT_CERTS;
        let roots = [
            set[1].as_ref(),
            set[2].as_ref(),
            set[3].as_ref(),
            set[4].as_ref(),
        ];
        let a_day_before = filetime(NOW - 86_400);
        let list = crafted_ctl(&[
            Listed {
                sha1: thumbprint(roots[0]),
                usages: &[SERVER, CODE_SIGNING],
                disallowed: None,
            },
            Listed {
                sha1: thumbprint(roots[1]),
                usages: &[CODE_SIGNING],
                disallowed: None,
            },
            Listed {
                sha1: thumbprint(roots[2]),
                usages: &[SERVER],
                disallowed: Some((a_day_before, &[])),
            },
            Listed {
                sha1: thumbprint(roots[3]),
                usages: &[SERVER],
                disallowed: Some((a_day_before, &[SERVER])),
            },
        ]);
        (list, roots)
    }

    #[test]
    fn the_list_selects_the_mozilla_roots_trusted_for_servers() {
        let (list, [for_servers, code_signing_only, disabled, disabled_for_servers]) =
            mozilla_list();
        let mut distrust = Distrust::default();
        let part = select_mozilla(Ok(Some(list)), crate::roots::mozilla(), &mut distrust, NOW);
        assert_eq!(part.source, Source::AuthRoot);
        let added: Vec<&[u8]> = part
            .gathered
            .candidates
            .iter()
            .map(|c| &c.der[..])
            .collect();
        assert_eq!(added, [for_servers], "exactly the root trusted for servers");
        assert!(part
            .gathered
            .candidates
            .iter()
            .all(|c| c.source == Source::AuthRoot));
        let counts = ListCounts {
            entries: 4,
            trusted: 1,
            not_for_servers: 1,
            disabled: 2,
            mozilla_trusted: 1,
        };
        assert_eq!(part.counts, Some(counts));
        assert_eq!(
            part.note,
            "Windows' AuthRoot list (sequence 015f): 4 entries, 1 trusted for servers, \
             1 not for servers, 2 disabled; 1 of Mozilla's roots are among the trusted"
        );
        // The disabled roots are distrusted wherever they come from (the Root
        // store, Mozilla's set in `merged` mode), with the reason; no other is.
        let mut whole_set = crate::roots::mozilla();
        let dropped = distrust.remove_from(&mut whole_set);
        let dropped: Vec<([u8; 32], &str)> = dropped
            .iter()
            .map(|d| (d.sha256, d.reason.as_str()))
            .collect();
        let reason = format!("distrusted: {DISABLED_BY_LIST}");
        let sha256 = |der: &[u8]| -> [u8; 32] { sha2::Sha256::digest(der).into() };
        use sha2::Digest;
        assert_eq!(
            dropped,
            [
                (sha256(disabled), reason.as_str()),
                (sha256(disabled_for_servers), reason.as_str())
            ]
        );
        // Listed without server authentication: neither added nor distrusted.
        assert!(whole_set
            .candidates
            .iter()
            .any(|c| c.der == code_signing_only));
        // Before the date, the two are trusted for servers.
        let mut distrust = Distrust::default();
        let (list, _) = mozilla_list();
        let earlier = select_mozilla(
            Ok(Some(list)),
            crate::roots::mozilla(),
            &mut distrust,
            NOW - 2 * 86_400,
        );
        assert_eq!(earlier.gathered.candidates.len(), 3);
        assert_eq!(earlier.counts.map(|c| c.disabled), Some(0));
        assert!(distrust
            .remove_from(&mut crate::roots::mozilla())
            .is_empty());
    }

    #[test]
    fn without_a_usable_list_the_whole_mozilla_set_is_added_and_said() {
        let (list, _) = mozilla_list();
        let whole = webpki_root_certs::TLS_SERVER_ROOT_CERTS.len();
        let cases: [(std::io::Result<Option<Vec<u8>>>, &str); 4] = [
            (Ok(None), "is absent:"),
            (
                Ok(Some(b"not a trust list".to_vec())),
                "is unreadable (not DER: an element longer than what holds it):",
            ),
            (
                Ok(Some(list[..list.len() / 2].to_vec())),
                "is unreadable (not DER:",
            ),
            (
                Err(std::io::Error::other("access denied")),
                "is unreadable (access denied):",
            ),
        ];
        for (read, why) in cases {
            let mut distrust = Distrust::default();
            let part = select_mozilla(read, crate::roots::mozilla(), &mut distrust, NOW);
            assert_eq!(part.source, Source::Mozilla);
            assert_eq!(part.gathered.candidates.len(), whole);
            assert_eq!(part.counts, None);
            let place = format!(r"{AUTHROOT_LIST_KEY}\{AUTHROOT_LIST_VALUE}");
            assert!(
                part.note
                    .starts_with(&format!("Windows' AuthRoot list ({place}) {why}")),
                "{}",
                part.note
            );
            assert!(part
                .note
                .ends_with("added Mozilla's set instead, minus the Disallowed store"));
            assert!(distrust
                .remove_from(&mut crate::roots::mozilla())
                .is_empty());
        }
    }

    #[test]
    fn a_bad_entry_is_a_problem_of_the_authroot_part() {
        let mozilla_set = webpki_root_certs::TLS_SERVER_ROOT_CERTS;
        let good = seq(&[tlv(0x04, &thumbprint(mozilla_set[0].as_ref()))]);
        let short = seq(&[tlv(0x04, &[9; 19])]);
        let blob = signed_data(&minimal_ctl(&[good, short]));
        let part = select_mozilla(
            Ok(Some(blob)),
            crate::roots::mozilla(),
            &mut Distrust::default(),
            NOW,
        );
        assert_eq!(part.gathered.candidates.len(), 1);
        let problems: Vec<(&Source, &str)> = part
            .gathered
            .problems
            .iter()
            .map(|p| (&p.source, p.reason.as_str()))
            .collect();
        assert_eq!(
            problems,
            [(
                &Source::AuthRoot,
                "AuthRoot list: entry 1: subjectIdentifier: 19 bytes, not a SHA-1"
            )]
        );
    }
}
