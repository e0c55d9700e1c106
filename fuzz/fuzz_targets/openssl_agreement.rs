//! The strict parse against OpenSSL itself (linked through the `openssl`
//! crate): whatever certifi-native accepts, OpenSSL's `d2i_X509` decodes, and
//! the subject hash is OpenSSL's. (The reverse need not hold: BER forms that
//! OpenSSL tolerates are refused as not DER.)
#![no_main]

use certifi_native_core::{subject_hash, x509};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if x509::parse(data).is_err() {
        return;
    }
    let theirs = openssl::x509::X509::from_der(data)
        .unwrap_or_else(|err| panic!("accepted here, refused by OpenSSL: {err}"));
    assert_eq!(
        subject_hash::of_certificate(data),
        Some(theirs.subject_name_hash()),
        "the subject hash differs from OpenSSL's"
    );
});
