//! The bundle for the current settings: assembled from the sources, served
//! from the cache while it is current, rebuilt when it is not.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use sha2::{Digest, Sha256};

use crate::appended;
use crate::cache;
use crate::hashed_dir;
use crate::pem;
use crate::roots::{self, Gathered, OsStore, Problem, Source, Watched};
use crate::select::{self, Dropped, Root};
use crate::settings::{Mode, Settings};

/// Counts for one source.
pub struct SourceReport {
    pub source: Source,
    pub loaded: usize,
    pub kept: usize,
}

/// What went into a bundle and what was left out, for `info()`.
pub struct Report {
    pub mode_requested: Option<String>,
    pub mode: Mode,
    /// `system` mode found no usable OS root and used Mozilla's set.
    pub mozilla_fallback: bool,
    pub sources: Vec<SourceReport>,
    pub dropped: Vec<Dropped>,
    pub problems: Vec<Problem>,
    pub notes: Vec<String>,
    pub total: usize,
}

/// The roots for `settings`, in a stable order: OS store, Mozilla, extras,
/// then the certificates appended to bundles of the cache `folder`.
pub fn assemble(
    settings: &Settings,
    now: SystemTime,
    folder: Option<&Path>,
) -> (Vec<Root>, Report) {
    let mut report = Report {
        mode_requested: settings.mode_requested.clone(),
        mode: settings.mode,
        mozilla_fallback: false,
        sources: Vec::new(),
        dropped: Vec::new(),
        problems: Vec::new(),
        notes: settings.mode_note().into_iter().collect(),
        total: 0,
    };
    let os = match settings.mode {
        Mode::Mozilla => OsStore::default(),
        _ => roots::os_store(settings),
    };
    report.notes.extend(os.notes);
    let distrust = os.distrust;
    let mut seen = HashSet::new();
    let mut kept = Vec::new();
    let mut take = |mut gathered: Gathered, source: Source, report: &mut Report| {
        // What the OS distrusts goes, except from the user's own files.
        let removed = match source {
            Source::Extra(_) => Vec::new(),
            _ => distrust.remove_from(&mut gathered),
        };
        let loaded = gathered.candidates.len() + removed.len();
        let selection = select::select(gathered.candidates, now, &mut seen);
        report.sources.push(SourceReport {
            source,
            loaded,
            kept: selection.kept.len(),
        });
        report.dropped.extend(removed);
        report.dropped.extend(selection.dropped);
        report.problems.extend(gathered.problems);
        kept.extend(selection.kept);
    };
    for (source, gathered) in os.parts {
        take(gathered, source, &mut report);
    }
    let no_os_root = settings.mode == Mode::System && report.sources.iter().all(|s| s.kept == 0);
    // Windows' OS store may hold Mozilla's set already (no AuthRoot list to gate it).
    let has_mozilla = report.sources.iter().any(|s| s.source == Source::Mozilla);
    if !has_mozilla && (settings.mode != Mode::System || no_os_root) {
        if settings.mode == Mode::System {
            report.mozilla_fallback = true;
            report
                .notes
                .push("the OS store yielded no usable root: using Mozilla's set".to_owned());
        }
        take(roots::mozilla(), Source::Mozilla, &mut report);
    }
    for path in &settings.extra_files {
        take(roots::extra(path), Source::Extra(path.clone()), &mut report);
    }
    if let Some((source, gathered, note)) = folder.and_then(appended::gather) {
        report.notes.push(note);
        take(gathered, source, &mut report);
    }
    report.total = kept.len();
    (kept, report)
}

/// The header line of a bundle.
fn header(report: &Report) -> String {
    let counts: Vec<String> = report
        .sources
        .iter()
        .map(|s| format!("{} {}", s.source.label(), s.kept))
        .collect();
    format!(
        "certifi-native {}: {} roots, mode {} ({})",
        env!("CARGO_PKG_VERSION"),
        report.total,
        report.mode.name(),
        counts.join(", ")
    )
}

/// The PEM text of `roots` with comments, as written to the cache.
pub fn render(roots: &[Root], report: &Report) -> String {
    appended::sealed(&pem::render(&header(report), roots))
}

/// A bundle's text for `settings` in the cache `folder`, the time its first
/// root expires, and the report.
pub fn build(settings: &Settings, now: SystemTime, folder: &Path) -> (String, u64, Report) {
    let (roots, report) = assemble(settings, now, Some(folder));
    let until = roots.iter().map(|r| r.not_after).min().unwrap_or(u64::MAX);
    (render(&roots, &report), until, report)
}

/// Where the bundle came from this time.
pub struct Served {
    pub path: PathBuf,
    /// Why the packaged Mozilla file is served instead of a built bundle.
    pub degraded: Option<String>,
    /// Cache folders that were refused or failed, and why.
    pub refused: Vec<String>,
    /// Set when this call gathered the roots (the cache was stale or forced).
    pub report: Option<Report>,
}

/// The file name shared by every process with the same settings.
fn bundle_name(settings: &Settings) -> String {
    let digest = Sha256::digest(settings.identity().as_bytes());
    let short: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("cacert-{}-{short}", settings.mode.name())
}

/// Whether `path` is named like a bundle of ours, whatever its settings: the
/// activation repairs a variable naming one that a cache clean-up removed.
pub fn is_bundle_path(path: &Path) -> bool {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let stem = name
        .strip_prefix("cacert-")
        .and_then(|r| r.strip_suffix(".pem"));
    let Some((mode, short)) = stem.and_then(|s| s.rsplit_once('-')) else {
        return false;
    };
    [Mode::System, Mode::Merged, Mode::Mozilla]
        .iter()
        .any(|m| m.name() == mode)
        && short.len() == 16
        && short.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A current bundle for `settings`: the cached one if its stamp still matches,
/// else a fresh build. Falls back to `packaged` (never to an error or an
/// empty file) when no cache folder can be used.
pub fn serve(settings: &Settings, packaged: &Path, force: bool) -> Served {
    let now = SystemTime::now();
    let name = bundle_name(settings);
    let watched: Option<Vec<Watched>> = roots::watched_paths(settings).map(|mut paths| {
        paths.extend(settings.extra_files.iter().cloned().map(Watched::Path));
        paths
    });
    let sources = cache::sources_stamp(watched.as_deref());
    let mut refused = Vec::new();
    let mut built: Option<(String, u64, Report)> = None;
    for dir in cache::candidate_dirs(settings) {
        if let Err(why) = cache::prepare_dir(&dir) {
            refused.push(format!("{}: {why}", dir.display()));
            continue;
        }
        let bundle = dir.join(format!("{name}.pem"));
        let stamp = dir.join(format!("{name}.stamp"));
        let unix_now = select::unix_seconds(now);
        if !force && cache::is_fresh(&stamp, &sources, &bundle, unix_now) {
            return Served {
                path: bundle,
                degraded: None,
                refused,
                report: None,
            };
        }
        if built.is_none() {
            built = appended::absorb(settings, &bundle, now);
        }
        let (text, valid_until, _) = built.get_or_insert_with(|| build(settings, now, &dir));
        cache::remove_stale_temps(&dir, now);
        match publish(&bundle, &stamp, text, *valid_until, &sources) {
            Ok(()) => {
                hashed_dir::follow(&bundle);
                return Served {
                    path: bundle,
                    degraded: None,
                    refused,
                    report: built.map(|(_, _, report)| report),
                };
            }
            Err(err) => refused.push(format!("{}: cannot write: {err}", dir.display())),
        }
    }
    Served {
        path: packaged.to_owned(),
        degraded: Some(format!(
            "no usable cache folder, serving the packaged Mozilla bundle ({})",
            refused.join("; ")
        )),
        refused,
        report: built.map(|(_, _, report)| report),
    }
}

/// Puts `text` at `bundle` unless an identical regular file is there already
/// (other processes may have it open), then records the stamp.
fn publish(
    bundle: &Path,
    stamp: &Path,
    text: &str,
    valid_until: u64,
    sources: &str,
) -> std::io::Result<()> {
    let same = fs::symlink_metadata(bundle).is_ok_and(|m| m.is_file())
        && fs::read(bundle).is_ok_and(|old| old == text.as_bytes());
    if !same {
        cache::write_atomic(bundle, text.as_bytes())?;
    }
    cache::write_atomic_unsynced(
        stamp,
        cache::stamp_text(valid_until, sources, bundle).as_bytes(),
    )
}

/// The last answer of `where()` in this process. Held only with the GIL held
/// and never across a call that releases it, so a `fork()` cannot copy it locked.
struct Memo {
    settings: Settings,
    path: PathBuf,
    /// `cache::file_fingerprint` of `path` when it was served.
    fingerprint: String,
    degraded: Option<String>,
    refused: Vec<String>,
}

static MEMO: Mutex<Option<Memo>> = Mutex::new(None);

/// `where()`: the first call of a process checks the stamp; later calls with
/// the same settings only check (one `lstat`) that the file is still the one served.
pub fn current(packaged: &Path, force: bool) -> Served {
    let settings = Settings::from_env();
    let mut memo = MEMO.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let (false, Some(m)) = (force, memo.as_ref()) {
        if m.settings == settings
            && cache::file_fingerprint(&m.path).as_ref() == Some(&m.fingerprint)
        {
            return Served {
                path: m.path.clone(),
                degraded: m.degraded.clone(),
                refused: m.refused.clone(),
                report: None,
            };
        }
    }
    let served = serve(&settings, packaged, force);
    *memo = cache::file_fingerprint(&served.path).map(|fingerprint| Memo {
        settings,
        path: served.path.clone(),
        fingerprint,
        degraded: served.degraded.clone(),
        refused: served.refused.clone(),
    });
    served
}

/// The text of the packaged `cacert.pem`: every Mozilla root, none judged
/// expired (expiry is judged each time a bundle is built, not at release).
pub fn packaged_mozilla_text() -> String {
    let (roots, report) = assemble(&Settings::mozilla_only(), std::time::UNIX_EPOCH, None);
    pem::render(
        &format!(
            "{}\nMozilla's roots from webpki-root-certs {}; generated, do not edit",
            header(&report),
            MOZILLA_SET_VERSION
        ),
        &roots,
    )
}

/// The version of the `webpki-root-certs` crate compiled in (see build.rs).
pub const MOZILLA_SET_VERSION: &str = env!("WEBPKI_ROOT_CERTS_VERSION");

#[cfg(test)]
mod tests {
    use super::*;

    /// The generator and the guard in one: `CERTIFI_NATIVE_BLESS=1 cargo test`
    /// rewrites the packaged file; otherwise any difference fails.
    #[test]
    fn packaged_cacert_matches_the_compiled_in_set() {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../python/certifi_native/cacert.pem");
        let expected = packaged_mozilla_text();
        if std::env::var_os("CERTIFI_NATIVE_BLESS").is_some() {
            fs::write(&path, &expected).unwrap();
        }
        let committed = fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == expected,
            "{} differs from webpki-root-certs {MOZILLA_SET_VERSION}: run CERTIFI_NATIVE_BLESS=1 cargo test",
            path.display()
        );
    }

    #[test]
    fn bundle_paths_are_recognised_by_name() {
        let name = bundle_name(&Settings::mozilla_only());
        assert!(is_bundle_path(
            &Path::new("/any/where").join(format!("{name}.pem"))
        ));
        assert!(!is_bundle_path(Path::new("/x/cacert-system-1234.pem")));
        assert!(!is_bundle_path(Path::new("/x/ca-certificates.crt")));
        assert!(!is_bundle_path(
            &Path::new("/x").join(format!("{name}.stamp"))
        ));
    }

    #[test]
    fn every_mozilla_root_is_kept_today() {
        let (roots, report) = assemble(&Settings::mozilla_only(), SystemTime::now(), None);
        assert!(roots.len() >= 100, "only {} roots", roots.len());
        assert_eq!(
            report.sources[0].loaded,
            webpki_root_certs::TLS_SERVER_ROOT_CERTS.len()
        );
        assert!(report
            .dropped
            .iter()
            .all(|d| d.reason.starts_with("expired")));
    }
}
