//! Judging one candidate (with or without OpenSSL trust settings after it):
//! never panics, and whatever is kept can also be named in a hashed folder.
#![no_main]

use std::collections::HashSet;
use std::time::SystemTime;

use certifi_native_core::roots::{Candidate, Source};
use certifi_native_core::{select, subject_hash, x509};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let candidates = vec![Candidate {
        der: data.to_vec(),
        source: Source::System,
    }];
    let selection = select::select(candidates, SystemTime::now(), &mut HashSet::new());
    assert_eq!(selection.kept.len() + selection.dropped.len(), 1);
    for root in &selection.kept {
        assert!(x509::parse(&root.der).is_ok());
        assert!(
            subject_hash::of_certificate(&root.der).is_some(),
            "a kept root has a subject hash"
        );
    }
});
