//! Reads this OS's trust store the way certifi-native does and says what it
//! found: rustls-native-certs' own read, then the parts `system` mode takes
//! (on Windows also the AuthRoot list and the Disallowed stores).
//! `scripts/release wine` runs it for x86_64-pc-windows-gnu under wine64, so
//! the Windows (schannel) path runs for real on a Linux machine; on any OS it
//! is a quick look at what the store gives.

use certifi_native_core::roots;
use certifi_native_core::settings::Settings;

fn main() {
    let result = rustls_native_certs::load_native_certs();
    for error in &result.errors {
        eprintln!("error: {error}");
    }
    println!("{} roots from the OS store", result.certs.len());
    let store = roots::os_store(&Settings::from_env());
    for (source, part) in &store.parts {
        println!("  {}: {} candidates", source.label(), part.candidates.len());
    }
    for note in &store.notes {
        println!("  {note}");
    }
    if result.certs.is_empty() {
        std::process::exit(1);
    }
}
