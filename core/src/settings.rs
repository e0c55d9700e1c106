//! The `CERTIFI_NATIVE_*` settings, read from the environment at each call.

use std::env;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

/// Which sources make up the bundle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The OS store; Mozilla's set only when the OS store yields no usable root.
    System,
    /// The OS store plus Mozilla's set.
    Merged,
    /// Mozilla's set alone (what certifi ships, kept current).
    Mozilla,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::System => "system",
            Mode::Merged => "merged",
            Mode::Mozilla => "mozilla",
        }
    }

    fn parse(text: &str) -> Option<Mode> {
        match text.trim().to_ascii_lowercase().as_str() {
            "" | "system" => Some(Mode::System),
            "merged" => Some(Mode::Merged),
            "mozilla" => Some(Mode::Mozilla),
            _ => None,
        }
    }
}

/// One snapshot of the settings; two equal snapshots describe the same bundle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// The raw `CERTIFI_NATIVE_MODE`, as the user wrote it.
    pub mode_requested: Option<String>,
    pub mode: Mode,
    /// `CERTIFI_NATIVE_EXTRA_CA_CERTS`, split on the OS path-list separator.
    pub extra_files: Vec<PathBuf>,
    pub cache_dir: Option<PathBuf>,
    /// `SSL_CERT_FILE` / `SSL_CERT_DIR`: they replace the OS store, as in OpenSSL.
    pub ssl_cert_file: Option<OsString>,
    pub ssl_cert_dir: Option<OsString>,
}

pub const ENV_MODE: &str = "CERTIFI_NATIVE_MODE";
pub const ENV_EXTRA: &str = "CERTIFI_NATIVE_EXTRA_CA_CERTS";
pub const ENV_CACHE_DIR: &str = "CERTIFI_NATIVE_CACHE_DIR";

fn non_empty(name: &str) -> Option<OsString> {
    env::var_os(name).filter(|v| !v.is_empty())
}

/// `path` against the current folder: a relative path names another file in
/// another folder, so it must not name the same bundle (and `where()` is absolute).
pub fn absolute(path: impl Into<PathBuf>) -> PathBuf {
    let path = path.into();
    std::path::absolute(&path).unwrap_or(path)
}

impl Settings {
    pub fn from_env() -> Settings {
        let mode_requested = non_empty(ENV_MODE).map(|v| v.to_string_lossy().into_owned());
        let mode = mode_requested
            .as_deref()
            .map_or(Some(Mode::System), Mode::parse)
            .unwrap_or(Mode::System);
        let extra_files = non_empty(ENV_EXTRA)
            .map(|v| {
                env::split_paths(&v)
                    .filter(|p| !p.as_os_str().is_empty())
                    .map(absolute)
                    .collect()
            })
            .unwrap_or_default();
        Settings {
            mode_requested,
            mode,
            extra_files,
            cache_dir: non_empty(ENV_CACHE_DIR).map(PathBuf::from),
            // As rustls-native-certs reads them: an empty SSL_CERT_FILE still
            // replaces the store (with nothing); an SSL_CERT_DIR naming no folder does not.
            ssl_cert_file: env::var_os("SSL_CERT_FILE"),
            ssl_cert_dir: env::var_os("SSL_CERT_DIR")
                .filter(|v| env::split_paths(v).any(|p| !p.as_os_str().is_empty())),
        }
    }

    /// Mozilla's set alone, whatever the environment says.
    pub fn mozilla_only() -> Settings {
        Settings {
            mode_requested: None,
            mode: Mode::Mozilla,
            extra_files: Vec::new(),
            cache_dir: None,
            ssl_cert_file: None,
            ssl_cert_dir: None,
        }
    }

    /// A note for `info()` when the requested mode was not understood.
    pub fn mode_note(&self) -> Option<String> {
        let asked = self.mode_requested.as_deref()?;
        match Mode::parse(asked) {
            Some(_) => None,
            None => Some(format!(
                "{ENV_MODE}={asked:?} is not one of system, merged, mozilla; using system"
            )),
        }
    }

    /// The bytes that name this configuration's bundle: everything that changes
    /// which roots are gathered, and nothing that changes from run to run.
    /// Paths go in as the OS gives them (not `display()`, which would turn two
    /// non-UTF-8 names differing only in their invalid bytes into one).
    pub fn identity(&self) -> Vec<u8> {
        let mut id = format!("mode={}\n", self.mode.name()).into_bytes();
        let mut line = |key: &str, path: &Path| {
            id.extend_from_slice(key.as_bytes());
            id.push(b'=');
            id.extend_from_slice(&os_bytes(path.as_os_str()));
            id.push(b'\n');
        };
        for extra in &self.extra_files {
            line("extra", extra);
        }
        if let Some(file) = &self.ssl_cert_file {
            line("ssl_cert_file", &absolute(file));
        }
        for dir in self.ssl_cert_dir.iter().flat_map(env::split_paths) {
            line("ssl_cert_dir", &absolute(dir));
        }
        id
    }
}

/// The OS's own bytes for `text`: on Unix, the bytes of the name; on Windows,
/// its UTF-16 units (which may be unpaired surrogates), little-endian. For a
/// valid UTF-8 name on Unix this is its UTF-8, so such names hash as before.
#[cfg(unix)]
fn os_bytes(text: &OsStr) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    text.as_bytes().to_vec()
}

#[cfg(windows)]
fn os_bytes(text: &OsStr) -> Vec<u8> {
    use std::os::windows::ffi::OsStrExt;
    match text.to_str() {
        Some(valid) => valid.as_bytes().to_vec(),
        None => text.encode_wide().flat_map(u16::to_le_bytes).collect(),
    }
}

#[cfg(not(any(unix, windows)))]
fn os_bytes(text: &OsStr) -> Vec<u8> {
    text.to_string_lossy().into_owned().into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_case_insensitively_and_unknown_is_none() {
        assert_eq!(Mode::parse("Merged"), Some(Mode::Merged));
        assert_eq!(Mode::parse(" mozilla "), Some(Mode::Mozilla));
        assert_eq!(Mode::parse(""), Some(Mode::System));
        assert_eq!(Mode::parse("os"), None);
    }

    #[cfg(unix)]
    #[test]
    fn names_differing_only_in_invalid_bytes_give_two_identities() {
        use std::os::unix::ffi::OsStringExt;
        let with = |name: &[u8]| Settings {
            ssl_cert_file: Some(OsString::from_vec(name.to_vec())),
            ..Settings::mozilla_only()
        };
        let (one, two) = (with(b"/x/\xff.pem"), with(b"/x/\xfe.pem"));
        assert_ne!(one.identity(), two.identity());
        assert!(one.identity().ends_with(b"ssl_cert_file=/x/\xff.pem\n"));
    }
}
