//! macOS: the store is the keychains plus the admin/user trust settings; these
//! are the files that change when a root is added or its trust edited.

use std::path::PathBuf;

pub fn watched_paths() -> Option<Vec<PathBuf>> {
    let mut paths: Vec<PathBuf> = [
        "/System/Library/Keychains/SystemRootCertificates.keychain",
        "/Library/Keychains/System.keychain",
        "/Library/Security/Trust Settings/Admin.plist",
    ]
    .iter()
    .map(PathBuf::from)
    .collect();
    if let Some(home) = dirs::home_dir() {
        paths.push(home.join("Library/Keychains/login.keychain-db"));
        paths.push(home.join("Library/Preferences/com.apple.security.trust-settings.plist"));
    }
    Some(paths)
}
