//! Linux and the BSDs: the store is files, found as rustls-native-certs finds them.

use std::path::PathBuf;

/// The cert file and folders that openssl-probe finds (rustls-native-certs reads
/// the same). A folder's own mtime moves when an entry is added or removed,
/// which is what `update-ca-certificates` does.
pub fn watched_paths() -> Option<Vec<PathBuf>> {
    let probe = openssl_probe::probe();
    let mut paths: Vec<PathBuf> = probe.cert_file.into_iter().collect();
    paths.extend(probe.cert_dir);
    Some(paths)
}
