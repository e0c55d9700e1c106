//! Reads this OS's trust store the way certifi-native does (rustls-native-certs)
//! and says how many roots it found. `scripts/release wine` runs it for
//! x86_64-pc-windows-gnu under wine64, so the Windows (schannel) path runs for
//! real on a Linux machine; on any OS it is a quick look at what the store gives.

fn main() {
    let result = rustls_native_certs::load_native_certs();
    for error in &result.errors {
        eprintln!("error: {error}");
    }
    println!("{} roots from the OS store", result.certs.len());
    if result.certs.is_empty() {
        std::process::exit(1);
    }
}
