//! Judging candidates: what OpenSSL decodes (`x509.rs`), is trusted for TLS
//! servers by its OpenSSL trust settings if it has any (`trust.rs`), has not
//! expired, and is a CA or a self-signed server certificate is kept, once;
//! everything else is dropped with its reason.

use std::collections::HashSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};
use x509_cert::der::Decode;
use x509_cert::ext::pkix::BasicConstraints;
use x509_cert::name::Name;

use crate::pem;
use crate::roots::{Candidate, Source};
use crate::self_signed::{self, SelfSignature};
use crate::trust;
use crate::x509::{self, Certificate};

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
    /// What `info()` should say about a kept root (a self-signed server certificate).
    pub notes: Vec<String>,
}

/// What `info()` says of a self-signed server certificate that is kept.
pub const SELF_SIGNED_NOTE: &str = "self-signed server certificate, trusted for itself only";

/// Keeps candidates in their order, skipping any certificate already in `seen`.
/// A candidate's DER may carry OpenSSL trust settings after the certificate
/// (see `roots::Candidate`); the bundle gets the certificate alone.
pub fn select(
    candidates: Vec<Candidate>,
    now: SystemTime,
    seen: &mut HashSet<[u8; 32]>,
) -> Selection {
    let mut out = Selection::default();
    let now = unix_seconds(now) as i64;
    for candidate in candidates {
        let (der, aux) = match pem::first_element(&candidate.der) {
            Some(cert) => (cert.to_vec(), &candidate.der[cert.len()..]),
            None => (candidate.der.clone(), &[][..]),
        };
        let sha256: [u8; 32] = Sha256::digest(&der).into();
        let drop = |reason: String, subject: Option<String>| Dropped {
            source: candidate.source.clone(),
            reason,
            subject,
            sha256,
        };
        let judged = x509::parse(&der).map(|cert| {
            let not_after = cert.not_after.unix.max(0) as u64;
            (display_name(&cert), not_after, judge(&cert, aux, now))
        });
        let (subject, not_after, verdict) = match judged {
            Ok(judged) => judged,
            Err(refusal) => {
                out.dropped.push(drop(refusal.to_string(), None));
                continue;
            }
        };
        let verdict = verdict.and_then(|note| {
            if seen.insert(sha256) {
                Ok(note)
            } else {
                Err("duplicate of a root already kept".to_owned())
            }
        });
        match verdict {
            Ok(note) => {
                if let Some(note) = note {
                    out.notes.push(format!("{subject}: {note}"));
                }
                out.kept.push(Root {
                    der,
                    source: candidate.source,
                    subject,
                    sha256,
                    not_after,
                })
            }
            Err(reason) => out.dropped.push(drop(reason, Some(subject))),
        }
    }
    out
}

/// Whether a decoded certificate is kept (with a note for `info()`), or why not.
fn judge(cert: &Certificate<'_>, aux: &[u8], now: i64) -> Result<Option<&'static str>, String> {
    if !aux.is_empty() {
        if let Some(why) = trust::server_auth_refusal(aux) {
            return Err(why);
        }
    }
    if cert.not_after.unix < now {
        return Err(format!("expired on {}", cert.not_after.text));
    }
    // A certificate not valid yet is kept: OpenSSL refuses it until its
    // notBefore, and keeping it means no rebuild is needed at that moment.
    let constraints = cert.extensions.iter().find(|e| e.oid == BASIC_CONSTRAINTS);
    let Some(extension) = constraints else {
        return Ok(None); // a v1 root, or a v3 one without the extension: a CA to OpenSSL
    };
    let constraints = BasicConstraints::from_der(extension.value)
        .map_err(|err| format!("unreadable basicConstraints: {err}"))?;
    if constraints.ca {
        return Ok(None);
    }
    let not_a_ca = "not a CA: basicConstraints has cA=false";
    if cert.subject.whole != cert.issuer.whole {
        return Err(not_a_ca.to_owned());
    }
    match self_signed::check(cert) {
        SelfSignature::Verifies => Ok(Some(SELF_SIGNED_NOTE)),
        SelfSignature::DoesNotVerify => Err(format!(
            "{not_a_ca}, and its signature does not verify with its own key (not self-signed)"
        )),
        SelfSignature::Unsupported(what) => Err(format!(
            "{not_a_ca}; self-issued, but {what} is not one certifi-native can verify \
             (RSA PKCS #1 v1.5, ECDSA P-256/P-384, Ed25519)"
        )),
    }
}

const BASIC_CONSTRAINTS: &[u8] = &[0x55, 0x1d, 0x13];

/// The subject as text (RFC 4514), for comments and `info()`.
fn display_name(cert: &Certificate<'_>) -> String {
    Name::from_der(cert.subject.whole)
        .map(|name| name.to_string())
        .unwrap_or_else(|_| "(a name that cannot be printed)".to_owned())
}

pub fn unix_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs()
}
