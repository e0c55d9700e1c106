//! Gathering candidate roots from each source. Nothing is filtered here; every
//! problem met while reading is kept as data beside the results.
//!
//! The platform seams (which files to watch for changes) are one file each,
//! like rustls-native-certs, which does the actual reading of the OS store.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};

use crate::pem;
use crate::settings::Settings;

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
    let _ = settings;
    OsStore {
        parts: vec![(Source::System, system())],
        ..OsStore::default()
    }
}

/// The OS trust store, read by rustls-native-certs (which honours `SSL_CERT_FILE`
/// and `SSL_CERT_DIR` as replacements of the platform store, as OpenSSL does).
pub fn system() -> Gathered {
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
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(err) => {
            out.problem(&source, format!("cannot read the file: {err}"));
            return out;
        }
    };
    let blocks = pem::parse(&bytes);
    if blocks.is_empty() {
        if bytes.first() == Some(&0x30) {
            out.candidates.push(Candidate { der: bytes, source });
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
/// (re-read each process).
pub fn watched_paths(settings: &Settings) -> Option<Vec<Watched>> {
    if settings.ssl_cert_file.is_none() && settings.ssl_cert_dir.is_none() {
        // unix.rs and macos.rs list paths, windows.rs registry keys.
        #[allow(clippy::useless_conversion)] // the identity on Windows
        return platform::watched_paths().map(|w| w.into_iter().map(Watched::from).collect());
    }
    // The variables replace the platform store on every OS, as in rustls-native-certs.
    let mut paths: Vec<PathBuf> = settings.ssl_cert_file.iter().map(PathBuf::from).collect();
    if let Some(dirs) = &settings.ssl_cert_dir {
        paths.extend(env::split_paths(dirs).filter(|p| !p.as_os_str().is_empty()));
    }
    Some(paths.into_iter().map(Watched::Path).collect())
}
