//! Linux and the BSDs: the store is files, found where OpenSSL looks for them.

use super::StorePaths;
use std::path::PathBuf;

/// The cert file and folders that openssl-probe finds (the ones rustls-native-certs
/// would read), read by `files.rs`.
pub fn store_paths() -> StorePaths {
    let probe = openssl_probe::probe();
    StorePaths {
        file: probe.cert_file,
        dirs: probe.cert_dir,
    }
}

/// A folder's own mtime moves when an entry is added or removed, which is
/// what `update-ca-certificates` does.
pub fn watched_paths() -> Option<Vec<PathBuf>> {
    Some(store_paths().watched())
}
