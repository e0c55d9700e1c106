//! Gathering candidate roots from each source. Nothing is filtered here; every
//! problem met while reading is kept as data beside the results.
//!
//! The platform seams (which files to watch for changes) are one file each.
//! A file-based store (Linux and the BSDs, and `SSL_CERT_FILE`/`SSL_CERT_DIR`
//! everywhere) is read here (`files.rs`), safely and with `TRUSTED CERTIFICATE`
//! blocks; the macOS and Windows stores through rustls-native-certs.

use std::env;
use std::path::{Path, PathBuf};

use crate::pem;
use crate::settings::Settings;

mod files;
pub use files::{read_regular, StorePaths, MAX_FILE_BYTES};

#[cfg(all(unix, not(target_os = "macos")))]
#[path = "unix.rs"]
mod platform;

#[cfg(target_os = "macos")]
#[path = "macos.rs"]
mod platform;

#[cfg(windows)]
#[path = "windows.rs"]
mod platform;

#[cfg(not(any(unix, windows)))]
mod platform {
    pub fn watched_paths() -> Option<Vec<super::Watched>> {
        None
    }
}

pub mod distrust;
pub use distrust::Distrust;

/// Where a certificate came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    System,
    /// Windows: the roots of Mozilla's set that Windows' AuthRoot list trusts
    /// for servers (Windows has them without having them in its Root store yet).
    AuthRoot,
    Mozilla,
    Extra(PathBuf),
    /// Appended to a bundle we served, kept in the cache folder (see appended.rs).
    Appended(PathBuf),
}

impl Source {
    /// The short name used in `info()` and in the bundle's comments.
    pub fn name(&self) -> &'static str {
        match self {
            Source::System => "system",
            Source::AuthRoot => "authroot",
            Source::Mozilla => "mozilla",
            Source::Extra(_) => "extra",
            Source::Appended(_) => "appended",
        }
    }

    /// The name plus the file, where there is one.
    pub fn label(&self) -> String {
        match self {
            Source::Extra(path) => format!("extra ({})", path.display()),
            Source::Appended(path) => format!("appended ({})", path.display()),
            other => other.name().to_owned(),
        }
    }
}

/// A certificate as found, not yet judged.
pub struct Candidate {
    /// The certificate's DER; from a `TRUSTED CERTIFICATE` block, followed by
    /// OpenSSL's trust settings (`X509_AUX`), which `select` judges.
    pub der: Vec<u8>,
    pub source: Source,
}

/// Something that went wrong while reading a source (a file, a PEM block, an OS call).
#[derive(Clone, Debug)]
pub struct Problem {
    pub source: Source,
    pub reason: String,
}

/// What one source yielded.
#[derive(Default)]
pub struct Gathered {
    pub candidates: Vec<Candidate>,
    pub problems: Vec<Problem>,
}

impl Gathered {
    fn problem(&mut self, source: &Source, reason: String) {
        self.problems.push(Problem {
            source: source.clone(),
            reason,
        });
    }
}

/// What `system` mode takes from the OS: its parts, one source each, and the
/// certificates the OS distrusts (removed from every part and from Mozilla's
/// set, never from the user's extra files).
#[derive(Default)]
pub struct OsStore {
    pub parts: Vec<(Source, Gathered)>,
    pub distrust: Distrust,
    /// What `info()` should say about how the parts were made.
    pub notes: Vec<String>,
}

/// The OS store: on Windows the Root store, the AuthRoot list and the
/// Disallowed store (`windows.rs`); elsewhere, or when `SSL_CERT_FILE` or
/// `SSL_CERT_DIR` replace the store, `system()` alone.
pub fn os_store(settings: &Settings) -> OsStore {
    #[cfg(windows)]
    if settings.ssl_cert_file.is_none() && settings.ssl_cert_dir.is_none() {
        return platform::os_store();
    }
    OsStore {
        parts: vec![(Source::System, system_for(settings))],
        notes: store_note(settings).into_iter().collect(),
        ..OsStore::default()
    }
}

/// The OS trust store for the current environment.
pub fn system() -> Gathered {
    system_for(&Settings::from_env())
}

/// The OS trust store for `settings`: `SSL_CERT_FILE` and `SSL_CERT_DIR`
/// replace it on every OS, as in OpenSSL; a file-based store is read by
/// `files.rs`; the macOS and Windows stores by rustls-native-certs.
pub fn system_for(settings: &Settings) -> Gathered {
    if let Some(paths) = store_paths(settings) {
        return files::read_store(&paths);
    }
    let result = rustls_native_certs::load_native_certs();
    let mut out = Gathered::default();
    for cert in result.certs {
        out.candidates.push(Candidate {
            der: cert.as_ref().to_vec(),
            source: Source::System,
        });
    }
    for error in result.errors {
        out.problem(&Source::System, error.to_string());
    }
    out
}

/// The files the OS store is read from, or `None` where it is not files.
pub fn store_paths(settings: &Settings) -> Option<StorePaths> {
    if settings.ssl_cert_file.is_none() && settings.ssl_cert_dir.is_none() {
        return platform_store_paths();
    }
    let mut paths = StorePaths {
        file: settings.ssl_cert_file.as_ref().map(PathBuf::from),
        dirs: settings
            .ssl_cert_dir
            .iter()
            .flat_map(env::split_paths)
            .filter(|p| !p.as_os_str().is_empty())
            .collect(),
    };
    if paths.file.as_deref().is_some_and(is_a_bundle_of_ours) {
        // SSL_CERT_FILE=$(python -m certifi) names our own bundle: reading it
        // would freeze the set at that build; read what it was built from
        // (where the store is files: elsewhere the bundle is all there is).
        if !paths.dirs.is_empty() {
            paths.file = None;
        } else if let Some(mut platform) = platform_store_paths() {
            if platform.file == paths.file {
                platform.file = None; // openssl-probe takes SSL_CERT_FILE too
            }
            return Some(platform);
        }
    }
    Some(paths)
}

#[cfg(all(unix, not(target_os = "macos")))]
fn platform_store_paths() -> Option<StorePaths> {
    Some(platform::store_paths())
}

#[cfg(not(all(unix, not(target_os = "macos"))))]
fn platform_store_paths() -> Option<StorePaths> {
    None
}

/// The first bytes of every bundle certifi-native writes, packaged or built.
const BUNDLE_HEADER: &[u8] = b"# certifi-native ";

/// Whether `path` is a bundle certifi-native wrote (by its first line).
fn is_a_bundle_of_ours(path: &Path) -> bool {
    files::starts_with(path, BUNDLE_HEADER)
}

/// Whether `path` looks like certifi's own `cacert.pem` (certifi's package,
/// pip's vendored copy): a frozen copy of Mozilla's set.
fn is_certifis_cacert(path: &Path) -> bool {
    path.file_name().is_some_and(|n| n == "cacert.pem")
        && path
            .parent()
            .and_then(Path::file_name)
            .is_some_and(|n| n == "certifi")
}

/// A note for `info()` when `SSL_CERT_FILE` points back at a bundle.
pub fn store_note(settings: &Settings) -> Option<String> {
    let file = PathBuf::from(settings.ssl_cert_file.as_ref()?);
    if is_a_bundle_of_ours(&file) {
        if platform_store_paths().is_none() && settings.ssl_cert_dir.is_none() {
            // macOS, Windows: the store is not files; the bundle is read.
            return Some(format!(
                "SSL_CERT_FILE names a certifi-native bundle ({}): it is read as \
                 the store, so the set is that bundle's until it is rebuilt",
                file.display()
            ));
        }
        return Some(format!(
            "SSL_CERT_FILE names a certifi-native bundle ({}): the OS store it \
             was built from is read instead, so the set neither grows nor freezes",
            file.display()
        ));
    }
    is_certifis_cacert(&file).then(|| {
        format!(
            "SSL_CERT_FILE names certifi's cacert.pem ({}): Mozilla's set as frozen \
             in that certifi release, not the OS store; it is used as the store, \
             as OpenSSL uses it (unset SSL_CERT_FILE to use the OS store)",
            file.display()
        )
    })
}

/// Mozilla's roots, compiled in from the `webpki-root-certs` crate.
pub fn mozilla() -> Gathered {
    let candidates = webpki_root_certs::TLS_SERVER_ROOT_CERTS
        .iter()
        .map(|cert| Candidate {
            der: cert.as_ref().to_vec(),
            source: Source::Mozilla,
        })
        .collect();
    Gathered {
        candidates,
        problems: Vec::new(),
    }
}

/// A user's extra file: PEM (any number of blocks) or a single DER certificate.
pub fn extra(path: &Path) -> Gathered {
    let source = Source::Extra(path.to_owned());
    let mut out = Gathered::default();
    let bytes = match read_regular(path) {
        Ok(bytes) => bytes,
        Err(reason) => {
            out.problem(&source, reason);
            return out;
        }
    };
    let blocks = pem::parse_keeping_trust(&bytes);
    if blocks.is_empty() {
        if let Some(der) = pem::first_element(&bytes) {
            out.candidates.push(Candidate {
                der: der.to_vec(),
                source,
            });
        } else {
            out.problem(&source, "no PEM certificate in the file".to_owned());
        }
        return out;
    }
    for block in blocks {
        match block {
            Ok(der) => out.candidates.push(Candidate {
                der,
                source: source.clone(),
            }),
            Err(reason) => out.problem(&source, reason),
        }
    }
    out
}

/// Something the stamp watches: a file or folder, or (Windows) a registry key
/// (`HKLM\...`, `HKCU\...`, see `registry.rs`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Watched {
    Path(PathBuf),
    RegistryKey(String),
}

impl From<PathBuf> for Watched {
    fn from(path: PathBuf) -> Self {
        Watched::Path(path)
    }
}

/// The files, folders and registry keys whose change means the OS store may
/// have changed, or `None` where the platform offers no cheap way to tell
/// (re-read each process). For a file-based store these are exactly the
/// paths `system` reads.
pub fn watched_paths(settings: &Settings) -> Option<Vec<Watched>> {
    match store_paths(settings) {
        Some(paths) => Some(paths.watched().into_iter().map(Watched::Path).collect()),
        // macos.rs lists paths, windows.rs registry keys.
        #[allow(clippy::useless_conversion)] // the identity on Windows
        None => platform::watched_paths().map(|w| w.into_iter().map(Watched::from).collect()),
    }
}
