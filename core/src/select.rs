//! Judging candidates: what parses as an X.509 CA certificate that has not
//! expired is kept, once; everything else is dropped with its reason.

use std::collections::HashSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};
use x509_cert::certificate::{CertificateInner, Raw};
use x509_cert::der::Decode;
use x509_cert::ext::pkix::BasicConstraints;

use crate::roots::{Candidate, Source};

/// A root that goes into the bundle, with the original DER (never re-encoded).
pub struct Root {
    pub der: Vec<u8>,
    pub source: Source,
    pub subject: String,
    pub sha256: [u8; 32],
    /// Seconds since the Unix epoch.
    pub not_after: u64,
}

/// A candidate that was left out, and why.
#[derive(Clone, Debug)]
pub struct Dropped {
    pub source: Source,
    pub reason: String,
    pub subject: Option<String>,
    pub sha256: [u8; 32],
}

/// The outcome for a list of candidates.
#[derive(Default)]
pub struct Selection {
    pub kept: Vec<Root>,
    pub dropped: Vec<Dropped>,
}

/// Keeps candidates in their order, skipping any DER already in `seen`.
/// The `Raw` profile parses leniently: old roots with odd serials still count.
pub fn select(
    candidates: Vec<Candidate>,
    now: SystemTime,
    seen: &mut HashSet<[u8; 32]>,
) -> Selection {
    let mut out = Selection::default();
    let now = unix_seconds(now);
    for candidate in candidates {
        let sha256: [u8; 32] = Sha256::digest(&candidate.der).into();
        let drop = |reason: String, subject: Option<String>| Dropped {
            source: candidate.source.clone(),
            reason,
            subject,
            sha256,
        };
        let cert = match CertificateInner::<Raw>::from_der(&candidate.der) {
            Ok(cert) => cert,
            Err(err) => {
                out.dropped
                    .push(drop(format!("not an X.509 certificate: {err}"), None));
                continue;
            }
        };
        let tbs = cert.tbs_certificate();
        let subject = tbs.subject().to_string();
        let not_after = tbs.validity().not_after.to_unix_duration().as_secs();
        let verdict = if not_after < now {
            Err(format!("expired on {}", tbs.validity().not_after))
        } else {
            match tbs.get_extension::<BasicConstraints>() {
                Ok(Some((_, constraints))) if !constraints.ca => {
                    Err("not a CA: basicConstraints has cA=false".to_owned())
                }
                Err(err) => Err(format!("unreadable basicConstraints: {err}")),
                _ if !seen.insert(sha256) => Err("duplicate of a root already kept".to_owned()),
                _ => Ok(()),
            }
        };
        match verdict {
            Ok(()) => out.kept.push(Root {
                der: candidate.der,
                source: candidate.source,
                subject,
                sha256,
                not_after,
            }),
            Err(reason) => out.dropped.push(drop(reason, Some(subject))),
        }
    }
    out
}

pub fn unix_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs()
}
