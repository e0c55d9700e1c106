//! The native half of `certifi-native check`: the roots one source holds on
//! its own, and plain facts about certificates for the diagnoses. Parsing
//! here keeps the package free of Python dependencies (no `cryptography`).

use std::collections::HashSet;
use std::net::IpAddr;
use std::time::SystemTime;

use sha2::{Digest, Sha256};
use x509_cert::certificate::{CertificateInner, Raw};
use x509_cert::der::Decode;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, SubjectAltName, SubjectKeyIdentifier,
};

use crate::pem;
use crate::roots;
use crate::select;

/// The PEM text of the usable roots of one source alone: `"system"` (the OS
/// store, without the Mozilla fallback or extra files) or `"mozilla"`;
/// `None` for any other name.
pub fn source_bundle(name: &str) -> Option<String> {
    let gather = match name {
        "system" => roots::system,
        "mozilla" => roots::mozilla,
        _ => return None,
    };
    let kept = select::select(gather().candidates, SystemTime::now(), &mut HashSet::new()).kept;
    let header = format!(
        "certifi-native {}: the {name} roots alone ({} roots)",
        env!("CARGO_PKG_VERSION"),
        kept.len()
    );
    Some(pem::render(&header, &kept))
}

/// Facts about each PEM block of `pem`, in order; a block that is not a
/// readable certificate gives `Err(why)` so positions still match.
pub fn describe_certs(pem: &str) -> Vec<Result<Facts, String>> {
    pem::parse(pem.as_bytes())
        .into_iter()
        .map(|block| block.and_then(|der| Facts::read(&der)))
        .collect()
}

/// What `check` needs to know about one certificate.
pub struct Facts {
    pub subject: String,
    pub issuer: String,
    pub sha256: [u8; 32],
    /// Seconds since the Unix epoch.
    pub not_before: u64,
    pub not_after: u64,
    /// basicConstraints as (critical, cA), when present.
    pub basic_constraints: Option<(bool, bool)>,
    pub subject_key_id: Option<Vec<u8>>,
    /// `Some` when the extension is present; the inner key id may still be absent.
    pub authority_key_id: Option<Option<Vec<u8>>>,
    pub dns_names: Vec<String>,
    pub ip_addresses: Vec<String>,
}

impl Facts {
    /// Lenient like `select`: the `Raw` profile reads old roots with odd serials.
    pub fn read(der: &[u8]) -> Result<Facts, String> {
        let cert = CertificateInner::<Raw>::from_der(der)
            .map_err(|err| format!("not an X.509 certificate: {err}"))?;
        let tbs = cert.tbs_certificate();
        let unreadable = |what: &str| format!("unreadable {what} extension");
        let basic_constraints = tbs
            .get_extension::<BasicConstraints>()
            .map_err(|_| unreadable("basicConstraints"))?
            .map(|(critical, bc)| (critical, bc.ca));
        let subject_key_id = tbs
            .get_extension::<SubjectKeyIdentifier>()
            .map_err(|_| unreadable("subjectKeyIdentifier"))?
            .map(|(_, ski)| ski.0.as_bytes().to_vec());
        let authority_key_id = tbs
            .get_extension::<AuthorityKeyIdentifier>()
            .map_err(|_| unreadable("authorityKeyIdentifier"))?
            .map(|(_, aki)| aki.key_identifier.map(|id| id.as_bytes().to_vec()));
        let mut dns_names = Vec::new();
        let mut ip_addresses = Vec::new();
        let san = tbs
            .get_extension::<SubjectAltName>()
            .map_err(|_| unreadable("subjectAltName"))?;
        for name in san.map(|(_, san)| san.0).unwrap_or_default() {
            match name {
                GeneralName::DnsName(dns) => dns_names.push(dns.as_str().to_owned()),
                GeneralName::IpAddress(ip) => ip_addresses.push(ip_text(ip.as_bytes())),
                _ => {}
            }
        }
        let validity = tbs.validity();
        Ok(Facts {
            subject: tbs.subject().to_string(),
            issuer: tbs.issuer().to_string(),
            sha256: Sha256::digest(der).into(),
            not_before: validity.not_before.to_unix_duration().as_secs(),
            not_after: validity.not_after.to_unix_duration().as_secs(),
            basic_constraints,
            subject_key_id,
            authority_key_id,
            dns_names,
            ip_addresses,
        })
    }
}

/// An iPAddress SAN as text; any length but 4 or 16 bytes is shown as hex.
fn ip_text(bytes: &[u8]) -> String {
    match bytes.len() {
        4 => IpAddr::from(<[u8; 4]>::try_from(bytes).unwrap_or_default()).to_string(),
        16 => IpAddr::from(<[u8; 16]>::try_from(bytes).unwrap_or_default()).to_string(),
        _ => pem::colon_hex(bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mozilla_root_is_described() {
        for root in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
            let facts = Facts::read(root.as_ref()).unwrap();
            assert!(!facts.subject.is_empty());
            assert!(facts.not_before < facts.not_after, "{}", facts.subject);
        }
    }

    #[test]
    fn ip_addresses_read_as_text() {
        assert_eq!(ip_text(&[127, 0, 0, 1]), "127.0.0.1");
        let mut v6 = [0u8; 16];
        v6[15] = 1;
        assert_eq!(ip_text(&v6), "::1");
        assert_eq!(ip_text(&[1, 2]), "01:02");
    }
}
