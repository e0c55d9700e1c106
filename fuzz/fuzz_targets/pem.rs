//! The tolerant PEM reader: never panics, and every certificate it yields
//! survives the writer and the reader again unchanged.
#![no_main]

use certifi_native_core::pem;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let plain = pem::parse(data);
    let with_trust = pem::parse_keeping_trust(data);
    assert_eq!(plain.len(), with_trust.len(), "one answer per block");
    for (block, kept) in plain.iter().zip(&with_trust) {
        let (Ok(der), Ok(kept)) = (block, kept) else {
            assert_eq!(block.is_ok(), kept.is_ok());
            continue;
        };
        assert!(
            kept.starts_with(der),
            "the trust settings only follow the certificate"
        );
        assert_eq!(pem::first_element(der), Some(&der[..]));
        assert_eq!(
            pem::parse(pem::block(der).as_bytes()),
            vec![Ok(der.clone())]
        );
    }
});
