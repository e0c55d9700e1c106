//! Whether a certificate's signature verifies with its own key: what makes a
//! server certificate in the store self-signed (it can vouch only for itself),
//! rather than a leaf whose issuer happens to share its name.

use ed25519_dalek::Verifier as _;
use p256::ecdsa::signature::hazmat::PrehashVerifier as _;
use rsa::pkcs1::DecodeRsaPublicKey as _;
use sha2::{Digest, Sha256, Sha384, Sha512};

use crate::x509::Certificate;

/// The outcome of checking a certificate against its own key.
#[derive(Debug, PartialEq, Eq)]
pub enum SelfSignature {
    Verifies,
    DoesNotVerify,
    /// An algorithm this build does not verify, named.
    Unsupported(String),
}

// OBJECT IDENTIFIER contents of the algorithms verified here.
const RSA_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const RSA_SHA256: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b];
const RSA_SHA384: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c];
const RSA_SHA512: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d];
const EC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
const ECDSA_SHA256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02];
const ECDSA_SHA384: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03];
const ECDSA_SHA512: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04];
const ED25519: &[u8] = &[0x2b, 0x65, 0x70];

/// PKCS #1 v1.5 DigestInfo prefixes (RFC 8017, section 9.2, note 1).
const SHA256_INFO: &[u8] = &[
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];
const SHA384_INFO: &[u8] = &[
    0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05,
    0x00, 0x04, 0x30,
];
const SHA512_INFO: &[u8] = &[
    0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05,
    0x00, 0x04, 0x40,
];

/// Checks `cert`'s signature with `cert`'s own public key: RSA PKCS #1 v1.5,
/// ECDSA on P-256 and P-384 (SHA-2), Ed25519.
pub fn check(cert: &Certificate<'_>) -> SelfSignature {
    let alg = cert.signature_algorithm.oid;
    let key_alg = cert.key_algorithm.oid;
    let curve = cert
        .key_algorithm
        .parameters
        .filter(|p| p.tag == 0x06)
        .map(|p| p.contents);
    let digest = |tbs: &[u8]| -> Option<Vec<u8>> {
        Some(match alg {
            RSA_SHA256 | ECDSA_SHA256 => Sha256::digest(tbs).to_vec(),
            RSA_SHA384 | ECDSA_SHA384 => Sha384::digest(tbs).to_vec(),
            RSA_SHA512 | ECDSA_SHA512 => Sha512::digest(tbs).to_vec(),
            _ => return None,
        })
    };
    let verified = match (key_alg, alg) {
        (RSA_KEY, RSA_SHA256 | RSA_SHA384 | RSA_SHA512) => {
            let prefix = match alg {
                RSA_SHA256 => SHA256_INFO,
                RSA_SHA384 => SHA384_INFO,
                _ => SHA512_INFO,
            };
            let hashed = digest(cert.tbs).unwrap_or_default();
            let scheme = rsa::Pkcs1v15Sign {
                hash_len: Some(hashed.len()),
                prefix: prefix.into(),
            };
            rsa::PublicKey::from_pkcs1_der(cert.public_key)
                .is_ok_and(|key| key.verify(scheme, &hashed, cert.signature).is_ok())
        }
        (EC_KEY, ECDSA_SHA256 | ECDSA_SHA384 | ECDSA_SHA512) => {
            let hashed = digest(cert.tbs).unwrap_or_default();
            match curve {
                Some(P256) => {
                    let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(cert.public_key);
                    let sig = p256::ecdsa::Signature::from_der(cert.signature);
                    matches!((key, sig), (Ok(k), Ok(s)) if k.verify_prehash(&hashed, &s).is_ok())
                }
                Some(P384) => {
                    let key = p384::ecdsa::VerifyingKey::from_sec1_bytes(cert.public_key);
                    let sig = p384::ecdsa::Signature::from_der(cert.signature);
                    matches!((key, sig), (Ok(k), Ok(s)) if k.verify_prehash(&hashed, &s).is_ok())
                }
                _ => {
                    return SelfSignature::Unsupported(
                        "ECDSA on a curve other than P-256 and P-384".to_owned(),
                    )
                }
            }
        }
        (ED25519, ED25519) => {
            let key = <[u8; 32]>::try_from(cert.public_key)
                .ok()
                .and_then(|bytes| ed25519_dalek::VerifyingKey::from_bytes(&bytes).ok());
            let sig = ed25519_dalek::Signature::from_slice(cert.signature);
            matches!((key, sig), (Some(k), Ok(s)) if k.verify(cert.tbs, &s).is_ok())
        }
        _ => return SelfSignature::Unsupported(format!("the signature algorithm {}", dotted(alg))),
    };
    match verified {
        true => SelfSignature::Verifies,
        false => SelfSignature::DoesNotVerify,
    }
}

/// An OID's contents in dotted form, for messages.
pub fn dotted(oid: &[u8]) -> String {
    let mut arcs = Vec::new();
    let mut value: u64 = 0;
    for b in oid {
        value = value.saturating_mul(128) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            if arcs.is_empty() {
                let first = (value / 40).min(2);
                arcs.push(first);
                arcs.push(value - first * 40);
            } else {
                arcs.push(value);
            }
            value = 0;
        }
    }
    arcs.iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mozilla_roots_verify_with_their_own_keys() {
        // Roots are self-signed; those with these algorithms must verify,
        // and none may fail to.
        let mut verified = 0;
        for root in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
            let cert = crate::x509::parse(root.as_ref()).unwrap();
            match check(&cert) {
                SelfSignature::Verifies => verified += 1,
                SelfSignature::DoesNotVerify => panic!("a root does not verify"),
                SelfSignature::Unsupported(_) => {}
            }
        }
        assert!(verified > 80, "only {verified} verified");
    }

    #[test]
    fn a_changed_certificate_does_not_verify() {
        let mut der = webpki_root_certs::TLS_SERVER_ROOT_CERTS[0]
            .as_ref()
            .to_vec();
        let cert = crate::x509::parse(&der).unwrap();
        let at = cert.tbs.len() / 2 + 4;
        der[at] ^= 1;
        if let Ok(cert) = crate::x509::parse(&der) {
            assert_ne!(check(&cert), SelfSignature::Verifies);
        }
    }

    #[test]
    fn oids_print_dotted() {
        assert_eq!(dotted(RSA_SHA256), "1.2.840.113549.1.1.11");
        assert_eq!(dotted(P384), "1.3.132.0.34");
    }
}
