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
use crate::record;
use crate::roots::{self, Gathered, OsStore, Problem, Source, Watched};
use crate::select::{self, Dropped, Root};
use crate::settings::{absolute, Mode, Settings};

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

impl Report {
    /// Nothing gathered yet for `settings` (with the note on an unknown mode).
    fn empty(settings: &Settings) -> Report {
        Report {
            mode_requested: settings.mode_requested.clone(),
            mode: settings.mode,
            mozilla_fallback: false,
            sources: Vec::new(),
            dropped: Vec::new(),
            problems: Vec::new(),
            notes: settings.mode_note().into_iter().collect(),
            total: 0,
        }
    }
}

/// The roots for `settings`, in a stable order: OS store, Mozilla, extras,
/// then the certificates appended to bundles of the cache `folder`.
pub fn assemble(
    settings: &Settings,
    now: SystemTime,
    folder: Option<&Path>,
) -> (Vec<Root>, Report) {
    let mut report = Report::empty(settings);
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
        report.notes.extend(selection.notes);
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

/// Which file `where()` names this time, and so what `info()` describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A bundle this call built (its report is `Served::report`).
    Built,
    /// A current bundle from a cache folder, built earlier.
    Cache,
    /// No cache folder could serve: the OS's own bundle file, as it is.
    OsFile,
    /// Nothing else could serve: the packaged Mozilla file.
    Packaged,
}

impl Origin {
    /// The name `info()["cache"]["served_from"]` gives it.
    pub fn name(self) -> &'static str {
        match self {
            Origin::Built => "build",
            Origin::Cache => "cache",
            Origin::OsFile => "os-file",
            Origin::Packaged => "packaged",
        }
    }
}

/// Where the bundle came from this time.
pub struct Served {
    pub path: PathBuf,
    pub origin: Origin,
    /// Why the OS's file or the packaged one is served instead of a bundle of ours.
    pub degraded: Option<String>,
    /// Cache folders that were refused or failed, and why.
    pub refused: Vec<String>,
    /// Set when this call built the bundle it serves.
    pub report: Option<Report>,
}

/// The file name shared by every process with the same settings.
fn bundle_name(settings: &Settings) -> String {
    let digest = Sha256::digest(settings.identity());
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
/// else a fresh build. Falls back to the OS's own bundle file or to
/// `packaged` (never to an error or an empty file) when no cache folder can
/// serve.
pub fn serve(settings: &Settings, packaged: &Path, force: bool) -> Served {
    let dirs = cache::candidate_dirs(settings);
    let wanted = if force {
        Wanted::Reread
    } else {
        Wanted::Current
    };
    serve_in(settings, &dirs, Folders::Private, wanted)
        .unwrap_or_else(|(why, refused)| fallback(settings, packaged, why, refused))
}

/// How `serve_in` treats the cache folders it is given.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Folders {
    /// `where()`'s: created `cache::PRIVATE`.
    Private,
    /// `build --cache-dir`'s: created, or opened up, `cache::SHARED`, for other users to read.
    Shared,
}

/// What `serve_in` must do with a bundle whose stamp matches.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Wanted {
    /// `where()`: serve it.
    Current,
    /// `refresh()`: rebuild it; where that cannot be written (a read-only
    /// folder, root's), serve it still: it is current as far as the stamp tells.
    Reread,
    /// `build`: rebuild and write it, or fail.
    Written,
}

/// A bundle assembled and rendered, not yet written.
pub struct Build {
    pub text: String,
    pub roots: usize,
    /// When its first root expires (Unix seconds).
    pub valid_until: u64,
    pub report: Report,
}

impl Build {
    /// The bundle for `settings` in the cache `folder` (with the certificates
    /// appended to that folder's bundles).
    pub fn new(settings: &Settings, now: SystemTime, folder: Option<&Path>) -> Build {
        let (roots, report) = assemble(settings, now, folder);
        Build {
            text: render(&roots, &report),
            roots: roots.len(),
            valid_until: roots.iter().map(|r| r.not_after).min().unwrap_or(u64::MAX),
            report,
        }
    }
}

/// A bundle of ours from the first of `dirs` that can serve one; else why
/// not, and the folders refused.
fn serve_in(
    settings: &Settings,
    dirs: &[PathBuf],
    folders: Folders,
    wanted: Wanted,
) -> Result<Served, (String, Vec<String>)> {
    let now = SystemTime::now();
    let unix_now = select::unix_seconds(now);
    let name = bundle_name(settings);
    let watched: Option<Vec<Watched>> = roots::watched_paths(settings).map(|mut paths| {
        paths.extend(settings.extra_files.iter().cloned().map(Watched::Path));
        paths
    });
    let sources = cache::sources_stamp(watched.as_deref());
    let mut refused = Vec::new();
    let mut built: Option<Build> = None;
    let mode = match folders {
        Folders::Private => cache::PRIVATE,
        Folders::Shared => cache::SHARED,
    };
    for dir in dirs {
        let prepared = cache::prepare_dir(dir, mode).and_then(|()| match folders {
            Folders::Shared => {
                cache::share_dir(dir).map_err(|err| format!("cannot open it to other users: {err}"))
            }
            Folders::Private => Ok(()),
        });
        if let Err(why) = prepared {
            refused.push(format!("{}: {why}", dir.display()));
            continue;
        }
        let bundle = dir.join(format!("{name}.pem"));
        let stamp = dir.join(format!("{name}.stamp"));
        let current = || cache::is_fresh(&stamp, &sources, &bundle, unix_now);
        let cached = |refused| Served {
            path: bundle.clone(),
            origin: Origin::Cache,
            degraded: None,
            refused,
            report: None,
        };
        if wanted == Wanted::Current && current() {
            return Ok(cached(refused));
        }
        if built.is_none() {
            built = appended::absorb(settings, &bundle, now);
        }
        let build = built.get_or_insert_with(|| Build::new(settings, now, Some(dir)));
        if build.roots == 0 {
            break; // never published: see `fallback`
        }
        cache::remove_stale_temps(dir, now);
        match publish(&bundle, &stamp, build, unix_now, &sources) {
            Ok(()) => {
                hashed_dir::follow(&bundle);
                return Ok(Served {
                    path: bundle,
                    origin: Origin::Built,
                    degraded: None,
                    refused,
                    report: built.map(|b| b.report),
                });
            }
            Err(err) => {
                refused.push(format!("{}: cannot write: {err}", dir.display()));
                if wanted == Wanted::Reread && current() {
                    return Ok(cached(refused));
                }
            }
        }
    }
    let why = match &built {
        // Every candidate dropped: a clock far ahead (or far behind) judges
        // them so. Published, such a bundle would fail every connection of
        // every later process until the store changed.
        Some(build) if build.roots == 0 => format!(
            "no usable root: all {} candidates were dropped (is the clock right? it says {})",
            build.report.dropped.len(),
            utc_text(unix_now)
        ),
        _ => format!("no usable cache folder ({})", refused.join("; ")),
    };
    Err((why, refused))
}

/// What is served when no cache folder can: in `system` mode with no extra
/// files, the OS's own bundle file, which is what OpenSSL itself trusts (a
/// read-only container keeps the CAs baked into its image); else, or when
/// that file cannot be served as it is, the packaged Mozilla file.
fn fallback(settings: &Settings, packaged: &Path, why: String, refused: Vec<String>) -> Served {
    if settings.mode == Mode::System && settings.extra_files.is_empty() {
        if let Some((path, count)) = os_bundle_file(settings, SystemTime::now()) {
            let not_all = match settings.ssl_cert_dir {
                Some(_) => " (without the SSL_CERT_DIR folders)",
                None => "",
            };
            return Served {
                degraded: Some(format!(
                    "{why}: serving the OS's bundle file {} as it is{not_all}, {count} usable roots",
                    path.display()
                )),
                path,
                origin: Origin::OsFile,
                refused,
                report: None,
            };
        }
    }
    Served {
        path: packaged.to_owned(),
        origin: Origin::Packaged,
        degraded: Some(format!("{why}: serving the packaged Mozilla bundle")),
        refused,
        report: None,
    }
}

/// The file the OS store is (`SSL_CERT_FILE`, else the one openssl-probe
/// finds, as rustls-native-certs reads them), if the store has one.
fn os_bundle_path(settings: &Settings) -> Option<PathBuf> {
    if let Some(file) = &settings.ssl_cert_file {
        return (!file.is_empty()).then(|| absolute(file));
    }
    if settings.ssl_cert_dir.is_some() {
        return None; // the store is folders alone
    }
    #[cfg(all(unix, not(target_os = "macos")))]
    return openssl_probe::probe().cert_file;
    #[cfg(not(all(unix, not(target_os = "macos"))))]
    None
}

/// The OS's bundle file (its real path) and how many usable roots it holds,
/// if it can be served as it is: a regular file of bounded size whose every
/// PEM block is a certificate that parses (one that does not could make
/// OpenSSL refuse the whole file) and which holds at least one usable root.
///
/// `TRUSTED CERTIFICATE` blocks are judged with their trust settings, so a
/// file whose only roots are rejected for serverAuth has none (the packaged
/// file is served). A file that mixes them is served as it is, trust settings
/// and all, and that is safe: OpenSSL applies them itself when it loads the
/// file, and a TLS client verifies with the ssl_server purpose and trust, so
/// a root rejected for serverAuth vouches for no server (`openssl verify
/// -purpose sslserver -CAfile FILE` fails for its server, as a handshake does;
/// a plain `openssl verify` checks the default trust, anyExtendedKeyUsage).
fn os_bundle_file(settings: &Settings, now: SystemTime) -> Option<(PathBuf, usize)> {
    let path = fs::canonicalize(os_bundle_path(settings)?).ok()?;
    // A regular file of bounded size, opened without blocking (never a FIFO).
    let bytes = roots::read_regular(&path).ok()?;
    let candidates = file_candidates(&bytes, &Source::System)
        .into_iter()
        .collect::<Result<_, _>>()
        .ok()?;
    let selection = select::select(candidates, now, &mut HashSet::new());
    let unreadable = selection
        .dropped
        .iter()
        .any(|d| d.subject.is_none() || d.reason.starts_with("OpenSSL would refuse"));
    (!unreadable && !selection.kept.is_empty()).then_some((path, selection.kept.len()))
}

/// Puts the build at `bundle` unless an identical regular file is there
/// already (other processes may have it open), then records the stamp.
fn publish(
    bundle: &Path,
    stamp: &Path,
    build: &Build,
    built_at: u64,
    sources: &str,
) -> std::io::Result<()> {
    let text = build.text.as_bytes();
    let same = fs::symlink_metadata(bundle).is_ok_and(|m| m.is_file())
        && fs::read(bundle).is_ok_and(|old| old == text);
    if !same {
        cache::write_atomic(bundle, text)?;
    }
    let stamp_text = cache::stamp_text(built_at, build.valid_until, sources, bundle);
    cache::write_atomic_unsynced(stamp, stamp_text.as_bytes())
}

/// `certifi-native build`: a fresh bundle for `settings`, with its stamp,
/// its hashed folder and the start-up record, in `dir` alone when given
/// (made readable by other users: the image's run-time user), else in the
/// first usable cache folder. `Err` says why no bundle could be written.
pub fn build(settings: &Settings, dir: Option<&Path>) -> Result<PathBuf, String> {
    let served = match dir {
        Some(dir) => serve_in(settings, &[absolute(dir)], Folders::Shared, Wanted::Written),
        None => serve_in(
            settings,
            &cache::candidate_dirs(settings),
            Folders::Private,
            Wanted::Written,
        ),
    }
    .map_err(|(why, _)| why)?;
    hashed_dir::current(&served.path)?;
    record::write(&served.path, dir);
    Ok(served.path)
}

/// `unix` seconds as `2026-12-01T08:00:00Z`, for messages.
fn utc_text(unix: u64) -> String {
    x509_cert::der::DateTime::from_unix_duration(std::time::Duration::from_secs(unix))
        .map_or_else(|_| format!("{unix} s after 1970"), |t| t.to_string())
}

/// The last answer of `where()` in this process. Locked for the whole of a
/// `where()`, so concurrent callers (free-threaded Python has no GIL to
/// serialise them) wait and then reuse one answer. Locked only by a thread
/// attached to the interpreter, never across `py.detach`: Python's `fork()`
/// holds the GIL, or on free-threaded builds stops every attached thread at a
/// safe point first, so a child process cannot inherit it locked.
struct Memo {
    settings: Settings,
    path: PathBuf,
    origin: Origin,
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
                origin: m.origin,
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
        // Served again, a bundle built now comes from the cache.
        origin: match served.origin {
            Origin::Built => Origin::Cache,
            other => other,
        },
        fingerprint,
        degraded: served.degraded.clone(),
        refused: served.refused.clone(),
    });
    served
}

/// What the served file holds, for `info()`: the build's own report when
/// this call built it; else a fresh assembly if it renders the very bytes
/// served (a current bundle from the cache); else the file's own certificates
/// judged as a source's are (the OS's file, the packaged one, or a cached
/// bundle the sources no longer match), never what another build would have
/// held: its count is what OpenSSL trusts for TLS servers in that file.
pub fn served_report(served: &mut Served, settings: &Settings) -> Report {
    if let (Origin::Built, Some(report)) = (served.origin, served.report.take()) {
        return report;
    }
    let text = fs::read(&served.path).unwrap_or_default();
    let now = SystemTime::now();
    let mut note = None;
    if served.origin == Origin::Cache {
        let (roots, report) = assemble(settings, now, served.path.parent());
        // The same roots, by DER: a bundle kept as it is with certificates
        // appended after our text (see appended.rs) holds them in another order.
        let in_file: HashSet<Vec<u8>> = pem::parse(&text).into_iter().flatten().collect();
        if in_file == roots.iter().map(|r| r.der.clone()).collect() {
            return report;
        }
        note = Some(format!(
            "the bundle was built from an earlier state of the sources, which now give {} roots \
             (a file edited inside a watched folder?): refresh() rebuilds it",
            report.total
        ));
    }
    let default_source = match served.origin {
        Origin::OsFile => Source::System,
        _ => Source::Mozilla,
    };
    let mut report = Report::empty(settings);
    report.notes.extend(note);
    let mut candidates = Vec::new();
    for block in file_candidates(&text, &default_source) {
        match block {
            Ok(candidate) => {
                match report
                    .sources
                    .iter_mut()
                    .find(|s| s.source == candidate.source)
                {
                    Some(counts) => counts.loaded += 1,
                    None => report.sources.push(SourceReport {
                        source: candidate.source.clone(),
                        loaded: 1,
                        kept: 0,
                    }),
                }
                candidates.push(candidate);
            }
            Err(reason) => report.problems.push(Problem {
                source: default_source.clone(),
                reason,
            }),
        }
    }
    let selection = select::select(candidates, now, &mut HashSet::new());
    for root in &selection.kept {
        if let Some(counts) = report.sources.iter_mut().find(|s| s.source == root.source) {
            counts.kept += 1;
        }
    }
    report.total = selection.kept.len();
    report.dropped = selection.dropped;
    report.notes.extend(selection.notes);
    report.mozilla_fallback = settings.mode == Mode::System
        && served.origin == Origin::Cache
        && report.sources.iter().all(|s| s.source != Source::System);
    report
}

/// The certificates of a bundle's text as the PEM reader finds them (every
/// certificate label; OpenSSL's trust settings kept for `select`), each with
/// its source: the `# Source:` line a bundle of ours puts before it, else
/// `default`. A block that is not a certificate gives why.
fn file_candidates(text: &[u8], default: &Source) -> Vec<Result<roots::Candidate, String>> {
    let lossy = String::from_utf8_lossy(text);
    let mut labels = lossy
        .lines()
        .enumerate()
        .filter_map(|(index, line)| Some((index + 1, line.trim().strip_prefix("# Source: ")?)))
        .peekable();
    let mut previous_block = 0;
    let mut out = Vec::new();
    for (line, block) in pem::parse_with_lines(text) {
        // The last label between the previous block and this one.
        let mut label = None;
        while let Some((at, text)) = labels.next_if(|(at, _)| *at < line) {
            if at > previous_block {
                label = Some(text);
            }
        }
        previous_block = line;
        let source = match label {
            Some("system") => Source::System,
            Some("mozilla") => Source::Mozilla,
            Some(other) => match other
                .strip_prefix("extra (")
                .and_then(|r| r.strip_suffix(')'))
            {
                Some(path) => Source::Extra(PathBuf::from(path)),
                None => default.clone(),
            },
            None => default.clone(),
        };
        out.push(block.map(|der| roots::Candidate { der, source }));
    }
    out
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
    fn a_bundle_tells_the_source_of_each_root() {
        let (mut roots, report) = assemble(&Settings::mozilla_only(), SystemTime::now(), None);
        roots.truncate(3);
        roots[1].source = Source::Extra(PathBuf::from("/x/extra (1).pem"));
        roots[2].source = Source::System;
        let text = render(&roots, &report);
        let expected: Vec<Source> = roots.iter().map(|r| r.source.clone()).collect();
        let sources = |text: &str, default: &Source| -> Vec<Source> {
            file_candidates(text.as_bytes(), default)
                .into_iter()
                .map(|c| c.unwrap().source)
                .collect()
        };
        assert_eq!(sources(&text, &Source::System), expected);
        // A file without our comments: every certificate from the default source.
        let bare: String = roots.iter().map(|r| pem::block(&r.der)).collect();
        assert_eq!(sources(&bare, &Source::Mozilla), vec![Source::Mozilla; 3]);
    }

    /// A PEM block of `label` holding `der` (a certificate, then any trust settings).
    fn block_of(label: &str, der: &[u8]) -> String {
        pem::block(der).replace("CERTIFICATE", label)
    }

    /// `X509_CERT_AUX` with one purpose, serverAuth, in its trust (`0x30`) or reject (`0xa0`) list.
    fn server_auth_aux(list: u8) -> Vec<u8> {
        let oid = [0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01];
        let mut out = vec![0x30, 12, list, 10];
        out.extend(oid);
        out
    }

    #[test]
    fn a_served_file_counts_what_openssl_trusts_for_servers() {
        let (roots, _) = assemble(&Settings::mozilla_only(), SystemTime::now(), None);
        let with_aux = |root: &Root, list: u8| [root.der.clone(), server_auth_aux(list)].concat();
        let text = [
            block_of("X509 CERTIFICATE", &roots[0].der),
            block_of("TRUSTED CERTIFICATE", &with_aux(&roots[1], 0x30)),
            block_of("TRUSTED CERTIFICATE", &with_aux(&roots[2], 0xa0)),
            pem::block(&roots[0].der), // the same root again: OpenSSL holds it once
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n".to_owned(),
        ]
        .concat();
        let path =
            std::env::temp_dir().join(format!("certifi-native-served-{}.pem", std::process::id()));
        fs::write(&path, &text).unwrap();
        let mut served = Served {
            path: path.clone(),
            origin: Origin::OsFile,
            degraded: None,
            refused: Vec::new(),
            report: None,
        };
        let report = served_report(&mut served, &Settings::mozilla_only());
        fs::remove_file(&path).unwrap();
        assert_eq!(
            report.total, 2,
            "the plain root and the one trusted for serverAuth"
        );
        let counts: Vec<_> = report
            .sources
            .iter()
            .map(|s| (&s.source, s.loaded, s.kept))
            .collect();
        assert_eq!(counts, [(&Source::System, 4, 2)]);
        let reasons: Vec<&str> = report.dropped.iter().map(|d| d.reason.as_str()).collect();
        assert_eq!(
            reasons,
            [
                "OpenSSL trust settings reject it for serverAuth",
                "duplicate of a root already kept"
            ]
        );
        assert_eq!(report.problems.len(), 1, "the key block is reported");
        assert!(report.problems[0].reason.contains("is not a certificate"));
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
