//! OpenSSL's trust settings: the `X509_AUX` that follows the certificate in a
//! `TRUSTED CERTIFICATE` block (`openssl x509 -addtrust/-addreject`, p11-kit's
//! `ca-bundle.trust.crt`), judged for TLS servers as OpenSSL judges them.

use crate::self_signed::dotted;
use crate::x509::{element, elements, Element, SEQUENCE};

const SERVER_AUTH: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01];
const ANY_EXTENDED_KEY_USAGE: &[u8] = &[0x55, 0x1d, 0x25, 0x00];

/// `X509_CERT_AUX ::= SEQUENCE { trust SEQUENCE OF OID OPTIONAL, reject [0]
/// SEQUENCE OF OID OPTIONAL, alias UTF8String OPTIONAL, ... }`: why a
/// certificate with these settings is not trusted for TLS servers, if it is not.
pub fn server_auth_refusal(aux: &[u8]) -> Option<String> {
    let (trust, reject) = match lists(aux) {
        Ok(lists) => lists,
        Err(why) => return Some(format!("unreadable OpenSSL trust settings: {why}")),
    };
    let for_servers = |oid: &[u8]| oid == SERVER_AUTH || oid == ANY_EXTENDED_KEY_USAGE;
    if let Some(oid) = reject.iter().find(|oid| for_servers(oid)) {
        return Some(format!(
            "OpenSSL trust settings reject it for {}",
            purpose(oid)
        ));
    }
    if !trust.is_empty() && !trust.iter().any(|oid| for_servers(oid)) {
        let listed: Vec<String> = trust.iter().map(|oid| purpose(oid)).collect();
        return Some(format!(
            "OpenSSL trust settings trust it only for {}, not serverAuth",
            listed.join(", ")
        ));
    }
    None
}

type Lists<'a> = (Vec<&'a [u8]>, Vec<&'a [u8]>);

fn lists(aux: &[u8]) -> Result<Lists<'_>, String> {
    let (seq, rest) = element(aux)?;
    if seq.tag != SEQUENCE || !rest.is_empty() {
        return Err("not one SEQUENCE".to_owned());
    }
    let mut trust = Vec::new();
    let mut reject = Vec::new();
    for field in elements(seq.contents)? {
        match field.tag {
            SEQUENCE => trust = oids(field)?,
            0xa0 => reject = oids(field)?,
            _ => {} // alias, key id, other: no bearing on trust
        }
    }
    Ok((trust, reject))
}

fn oids(list: Element<'_>) -> Result<Vec<&[u8]>, String> {
    elements(list.contents)?
        .into_iter()
        .map(|oid| match oid.tag {
            0x06 => Ok(oid.contents),
            tag => Err(format!("tag {tag:#04x} in a list of purposes")),
        })
        .collect()
}

fn purpose(oid: &[u8]) -> String {
    match dotted(oid).as_str() {
        "1.3.6.1.5.5.7.3.1" => "serverAuth".to_owned(),
        "1.3.6.1.5.5.7.3.2" => "clientAuth".to_owned(),
        "1.3.6.1.5.5.7.3.3" => "codeSigning".to_owned(),
        "1.3.6.1.5.5.7.3.4" => "emailProtection".to_owned(),
        "1.3.6.1.5.5.7.3.8" => "timeStamping".to_owned(),
        "2.5.29.37.0" => "anyExtendedKeyUsage".to_owned(),
        other => other.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seq(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
        let body = parts.concat();
        let mut out = vec![tag, body.len() as u8];
        out.extend(body);
        out
    }

    fn oid(contents: &[u8]) -> Vec<u8> {
        seq(0x06, &[contents])
    }

    const EMAIL: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x04];

    #[test]
    fn trust_and_reject_lists_as_openssl_reads_them() {
        let trusted = seq(0x30, &[&seq(0x30, &[&oid(SERVER_AUTH)])]);
        assert_eq!(server_auth_refusal(&trusted), None);
        let rejected = seq(0x30, &[&seq(0xa0, &[&oid(SERVER_AUTH)])]);
        assert!(server_auth_refusal(&rejected)
            .unwrap()
            .contains("reject it for serverAuth"));
        let any_rejected = seq(0x30, &[&seq(0xa0, &[&oid(ANY_EXTENDED_KEY_USAGE)])]);
        assert!(server_auth_refusal(&any_rejected).is_some());
        let email_only = seq(0x30, &[&seq(0x30, &[&oid(EMAIL)])]);
        assert!(server_auth_refusal(&email_only)
            .unwrap()
            .contains("only for emailProtection"));
        let email_rejected = seq(0x30, &[&seq(0xa0, &[&oid(EMAIL)])]);
        assert_eq!(server_auth_refusal(&email_rejected), None);
        assert_eq!(server_auth_refusal(&seq(0x30, &[])), None, "no lists");
        assert!(server_auth_refusal(&[0x30, 0x05]).is_some());
    }
}
