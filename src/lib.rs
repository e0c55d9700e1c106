//! certifi-native: certifi's `where()` and `contents()`, with the roots taken
//! from the operating system's trust store and Mozilla's set compiled in.
//!
//! This crate is only the Python facade; each job lives in its own module of
//! the core crate (core/), which knows no Python.

use std::ffi::OsString;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use certifi_native_core::bundle::{self, Origin, Report, Served};
use certifi_native_core::check::Facts;
use certifi_native_core::settings::Settings;
use certifi_native_core::{appended, cache, hashed_dir, pem, record};

/// The bundle for the current settings (`force`: re-read every source). A
/// panic (a bug of ours) degrades to the packaged file instead of reaching
/// the caller, because `where()` must never raise.
fn served_or_packaged(packaged: &Path, force: bool) -> Served {
    let job = || bundle::current(packaged, force);
    panic::catch_unwind(AssertUnwindSafe(job)).unwrap_or_else(|_| Served {
        path: packaged.to_owned(),
        origin: Origin::Packaged,
        degraded: Some("internal error while building the bundle".to_owned()),
        refused: Vec::new(),
        report: None,
    })
}

// No GIL needed (free-threaded builds keep it off): the core's shared state is
// behind its own locks (the memos in bundle.rs and hashed_dir.rs), taken only
// while attached, never across `py.detach`.
#[pymodule(gil_used = false)]
#[pyo3(name = "_native")]
mod native {
    use super::*;

    #[pymodule_init]
    fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
        m.add("__version__", env!("CARGO_PKG_VERSION"))?;
        m.add("MOZILLA_SET_VERSION", bundle::MOZILLA_SET_VERSION)
    }

    // Paths are returned as `OsString`: a `str` decoded as the OS's own
    // file-system encoding does (surrogateescape), so a non-UTF-8 folder
    // gives a path that exists, where a lossy `String` would not. (A
    // `PathBuf` would give a `pathlib.Path`, and import pathlib at start-up.)

    /// The path of a complete bundle for the current settings (`packaged` if none can be built).
    #[pyfunction]
    #[pyo3(name = "where")]
    fn where_(packaged: PathBuf) -> OsString {
        served_or_packaged(&packaged, false).path.into_os_string()
    }

    /// Re-reads every source and rewrites the bundle if it changed.
    #[pyfunction]
    fn refresh(packaged: PathBuf) -> OsString {
        served_or_packaged(&packaged, true).path.into_os_string()
    }

    /// `certifi-native build`: builds the bundle, its stamp, its hashed
    /// folder and the start-up record for the current settings, in
    /// `cache_dir` alone if given; raises `OSError` with the reasons when it
    /// cannot.
    #[pyfunction]
    #[pyo3(signature = (cache_dir=None))]
    fn build(cache_dir: Option<PathBuf>) -> PyResult<OsString> {
        let settings = Settings::from_env();
        let job = || bundle::build(&settings, cache_dir.as_deref());
        panic::catch_unwind(AssertUnwindSafe(job))
            .unwrap_or_else(|_| Err("internal error while building the bundle".to_owned()))
            .map(PathBuf::into_os_string)
            .map_err(PyOSError::new_err)
    }

    /// What the served bundle holds, where it came from, and what was left out.
    #[pyfunction]
    fn info<'py>(py: Python<'py>, packaged: PathBuf) -> PyResult<Bound<'py, PyDict>> {
        let mut served = served_or_packaged(&packaged, false);
        let settings = Settings::from_env();
        let job = || bundle::served_report(&mut served, &settings);
        let report = panic::catch_unwind(AssertUnwindSafe(job))
            .map_err(|_| PyOSError::new_err("internal error while describing the bundle"))?;
        report_dict(py, &report, &served, &settings)
    }

    /// The hashed CA folder of the current bundle; the bundle itself if no
    /// folder can be built (no cache folder, or the packaged file is served).
    #[pyfunction]
    fn capath(packaged: PathBuf) -> OsString {
        let served = served_or_packaged(&packaged, false);
        let path = match served.degraded {
            Some(_) => served.path,
            None => capath_of(&served.path).unwrap_or(served.path),
        };
        path.into_os_string()
    }

    /// OpenSSL's subject hash of the certificate `der`, as 8 hex digits.
    #[pyfunction]
    fn subject_hash(der: &[u8]) -> PyResult<String> {
        use certifi_native_core::subject_hash;
        subject_hash::of_certificate(der)
            .map(subject_hash::hex)
            .ok_or_else(|| {
                PyValueError::new_err("not a certificate, or a subject OpenSSL would refuse")
            })
    }

    /// `certifi-native check`: the PEM text of the usable roots of one source
    /// alone: `"system"` (the OS store, without the Mozilla fallback or extra
    /// files) or `"mozilla"`.
    #[pyfunction]
    fn source_bundle(py: Python<'_>, name: &str) -> PyResult<String> {
        let name = name.to_owned();
        py.detach(|| certifi_native_core::check::source_bundle(&name))
            .ok_or_else(|| {
                PyValueError::new_err(format!(
                    "unknown source {name:?}: expected \"system\" or \"mozilla\""
                ))
            })
    }

    /// Facts about each PEM block of `pem`, in order, for `check`'s diagnoses;
    /// a block that is not a readable certificate gives `{"error": why}` so
    /// positions still match.
    #[pyfunction]
    fn describe_certs<'py>(py: Python<'py>, pem: &str) -> PyResult<Bound<'py, PyList>> {
        let out = PyList::empty(py);
        for facts in certifi_native_core::check::describe_certs(pem) {
            let entry = PyDict::new(py);
            match facts {
                Ok(facts) => fill_facts(&facts, &entry)?,
                Err(why) => entry.set_item("error", why)?,
            }
            out.append(entry)?;
        }
        Ok(out)
    }

    /// `where()` for the start-up hook, which also leaves the record that
    /// lets the next start-up skip loading this module (see record.rs).
    #[pyfunction]
    fn startup_where(packaged: PathBuf) -> OsString {
        let served = served_or_packaged(&packaged, false);
        if served.degraded.is_none() {
            record::write(&served.path, None);
        }
        served.path.into_os_string()
    }

    /// Whether `path` is named like a bundle of ours (any settings).
    #[pyfunction]
    fn is_bundle_path(path: PathBuf) -> bool {
        bundle::is_bundle_path(&path)
    }

    /// Why a file named like a bundle of ours must not be trusted: its folder
    /// fails the checks `where()` makes of a cache folder. `None` when it
    /// passes, or is not named like ours.
    #[pyfunction]
    fn bundle_folder_problem(path: PathBuf) -> Option<String> {
        let folder = path.parent().filter(|_| bundle::is_bundle_path(&path))?;
        cache::check_dir(folder)
            .err()
            .map(|why| format!("{}: {why}", folder.display()))
    }

    /// The text of the packaged `cacert.pem` (for the release check).
    #[pyfunction]
    fn packaged_mozilla_text() -> String {
        bundle::packaged_mozilla_text()
    }
}

/// The hashed folder beside `bundle`, built or repaired if needed; a panic
/// or an error is an answer of `Err`, never an exception.
fn capath_of(bundle: &Path) -> Result<PathBuf, String> {
    panic::catch_unwind(|| hashed_dir::current(bundle))
        .unwrap_or_else(|_| Err("internal error while building the folder".to_owned()))
}

/// One certificate's facts as the dict `check` reads.
fn fill_facts(facts: &Facts, entry: &Bound<'_, PyDict>) -> PyResult<()> {
    let hex = |id: &Vec<u8>| pem::colon_hex(id);
    entry.set_item("subject", &facts.subject)?;
    entry.set_item("issuer", &facts.issuer)?;
    entry.set_item("sha256", pem::colon_hex(&facts.sha256))?;
    entry.set_item("not_before", facts.not_before)?;
    entry.set_item("not_after", facts.not_after)?;
    entry.set_item("ca", facts.basic_constraints.map(|(_, ca)| ca))?;
    entry.set_item(
        "basic_constraints_critical",
        facts.basic_constraints.map(|(critical, _)| critical),
    )?;
    entry.set_item("subject_key_id", facts.subject_key_id.as_ref().map(hex))?;
    entry.set_item("has_authority_key_id", facts.authority_key_id.is_some())?;
    entry.set_item(
        "authority_key_id",
        facts
            .authority_key_id
            .as_ref()
            .and_then(|id| id.as_ref().map(hex)),
    )?;
    entry.set_item("dns_names", &facts.dns_names)?;
    entry.set_item("ip_addresses", &facts.ip_addresses)
}

fn report_dict<'py>(
    py: Python<'py>,
    report: &Report,
    served: &Served,
    settings: &Settings,
) -> PyResult<Bound<'py, PyDict>> {
    let out = PyDict::new(py);
    out.set_item("version", env!("CARGO_PKG_VERSION"))?;
    out.set_item("mozilla_set_version", bundle::MOZILLA_SET_VERSION)?;
    out.set_item("mode_requested", report.mode_requested.as_deref())?;
    out.set_item("mode", report.mode.name())?;
    out.set_item("mozilla_fallback", report.mozilla_fallback)?;
    out.set_item("roots", report.total)?;
    let sources = PyList::empty(py);
    for source in &report.sources {
        let entry = PyDict::new(py);
        entry.set_item("name", source.source.name())?;
        entry.set_item("label", source.source.label())?;
        let dropped = report
            .dropped
            .iter()
            .filter(|d| d.source == source.source)
            .count();
        let errors = report
            .problems
            .iter()
            .filter(|p| p.source == source.source)
            .count();
        entry.set_item("loaded", source.loaded)?;
        entry.set_item("kept", source.kept)?;
        entry.set_item("dropped", dropped)?;
        entry.set_item("errors", errors)?;
        sources.append(entry)?;
    }
    out.set_item("sources", sources)?;
    let dropped = PyList::empty(py);
    for item in &report.dropped {
        let entry = PyDict::new(py);
        entry.set_item("source", item.source.label())?;
        entry.set_item("reason", &item.reason)?;
        entry.set_item("subject", item.subject.as_deref())?;
        entry.set_item("sha256", pem::colon_hex(&item.sha256))?;
        dropped.append(entry)?;
    }
    out.set_item("dropped", dropped)?;
    let errors = PyList::empty(py);
    for problem in &report.problems {
        let entry = PyDict::new(py);
        entry.set_item("source", problem.source.label())?;
        entry.set_item("reason", &problem.reason)?;
        errors.append(entry)?;
    }
    out.set_item("errors", errors)?;
    out.set_item("notes", &report.notes)?;
    // What was found appended to (or changed in) bundles of this folder, and done.
    let repairs = match served.degraded {
        None => served
            .path
            .parent()
            .map(appended::repairs)
            .unwrap_or_default(),
        Some(_) => Vec::new(),
    };
    out.set_item("repairs", repairs)?;
    let cache = PyDict::new(py);
    cache.set_item("path", served.path.as_os_str())?;
    cache.set_item("served_from", served.origin.name())?;
    cache.set_item("degraded", served.degraded.is_some())?;
    cache.set_item("degraded_reason", served.degraded.as_deref())?;
    cache.set_item("refused", &served.refused)?;
    let dirs: Vec<OsString> = cache::candidate_dirs(settings)
        .into_iter()
        .map(PathBuf::into_os_string)
        .collect();
    cache.set_item("candidates", dirs)?;
    // Where capath() keeps the hashed folder; not built by info().
    let capath = served
        .degraded
        .is_none()
        .then(|| hashed_dir::folder_for(&served.path));
    cache.set_item("capath", capath.as_ref().map(|p| p.as_os_str()))?;
    cache.set_item("capath_built", capath.is_some_and(|p| p.is_dir()))?;
    out.set_item("cache", cache)?;
    Ok(out)
}
