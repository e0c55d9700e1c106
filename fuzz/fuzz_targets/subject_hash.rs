//! OpenSSL's subject hash in Rust: never panics on any bytes, as a
//! certificate or as a name.
#![no_main]

use certifi_native_core::subject_hash;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = subject_hash::of_certificate(data);
    let _ = subject_hash::of_name(data);
});
