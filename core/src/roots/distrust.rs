//! Certificates the OS distrusts (Windows: the Disallowed store, roots the
//! AuthRoot list disables), by SHA-1 thumbprint as Windows names them. They
//! are removed before judging, each drop kept with its reason for `info()`.

use std::collections::HashMap;

use sha1::{Digest, Sha1};
use sha2::Sha256;
use x509_cert::certificate::{CertificateInner, Raw};
use x509_cert::der::Decode;

use super::Gathered;
use crate::select::Dropped;

/// SHA-1 thumbprint -> why it is distrusted.
#[derive(Default, Debug)]
pub struct Distrust(HashMap<[u8; 20], String>);

impl Distrust {
    /// Records `sha1` as distrusted; the first reason given is kept.
    pub fn insert(&mut self, sha1: [u8; 20], why: &str) {
        self.0.entry(sha1).or_insert_with(|| why.to_owned());
    }

    /// Takes the distrusted candidates out of `gathered`, as drops.
    pub fn remove_from(&self, gathered: &mut Gathered) -> Vec<Dropped> {
        if self.0.is_empty() {
            return Vec::new();
        }
        let mut removed = Vec::new();
        gathered.candidates.retain(|candidate| {
            let Some(why) = self.0.get(&thumbprint(&candidate.der)) else {
                return true;
            };
            let subject = CertificateInner::<Raw>::from_der(&candidate.der)
                .ok()
                .map(|cert| cert.tbs_certificate().subject().to_string());
            removed.push(Dropped {
                source: candidate.source.clone(),
                reason: format!("distrusted: {why}"),
                subject,
                sha256: Sha256::digest(&candidate.der).into(),
            });
            false
        });
        removed
    }
}

/// The SHA-1 of a certificate's DER: Windows' thumbprint.
pub fn thumbprint(der: &[u8]) -> [u8; 20] {
    Sha1::digest(der).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::roots::{mozilla, Source};

    #[test]
    fn distrusted_candidates_are_removed_with_their_reason() {
        let mut gathered = mozilla();
        let count = gathered.candidates.len();
        let target = gathered.candidates[3].der.clone();
        let mut distrust = Distrust::default();
        assert!(distrust.remove_from(&mut gathered).is_empty());
        distrust.insert(thumbprint(&target), "in the Windows Disallowed store");
        distrust.insert(thumbprint(&target), "a second reason is not kept");
        let removed = distrust.remove_from(&mut gathered);
        assert_eq!(gathered.candidates.len(), count - 1);
        assert!(gathered.candidates.iter().all(|c| c.der != target));
        assert_eq!(removed.len(), 1);
        assert_eq!(removed[0].source, Source::Mozilla);
        assert_eq!(
            removed[0].reason,
            "distrusted: in the Windows Disallowed store"
        );
        assert!(removed[0].subject.is_some());
    }
}
