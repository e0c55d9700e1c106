//! certifi-native: certifi's `where()` and `contents()`, with the roots taken
//! from the operating system's trust store and Mozilla's set compiled in.
//!
//! This file is only the Python facade; each job lives in its own module.

mod bundle;
mod cache;
mod pem;
mod record;
mod roots;
mod select;
mod settings;

use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use bundle::{Report, Served};
use settings::Settings;

/// Runs `job`; a panic (a bug of ours) degrades to the packaged file instead
/// of reaching the caller, because `where()` must never raise.
fn served_or_packaged(packaged: &Path, job: impl FnOnce() -> Served) -> Served {
    panic::catch_unwind(AssertUnwindSafe(job)).unwrap_or_else(|_| Served {
        path: packaged.to_owned(),
        degraded: Some("internal error while building the bundle".to_owned()),
        refused: Vec::new(),
        report: None,
    })
}

#[pymodule]
#[pyo3(name = "_native")]
mod native {
    use super::*;

    #[pymodule_init]
    fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
        m.add("__version__", env!("CARGO_PKG_VERSION"))?;
        m.add("MOZILLA_SET_VERSION", bundle::MOZILLA_SET_VERSION)
    }

    /// The path of a complete bundle for the current settings (`packaged` if none can be built).
    #[pyfunction]
    #[pyo3(name = "where")]
    fn where_(packaged: PathBuf) -> String {
        let served = served_or_packaged(&packaged, || bundle::current(&packaged, false));
        served.path.to_string_lossy().into_owned()
    }

    /// Re-reads every source and rewrites the bundle if it changed.
    #[pyfunction]
    fn refresh(packaged: PathBuf) -> String {
        let served = served_or_packaged(&packaged, || bundle::current(&packaged, true));
        served.path.to_string_lossy().into_owned()
    }

    /// What the bundle holds, where it came from, and what was left out.
    #[pyfunction]
    fn info<'py>(py: Python<'py>, packaged: PathBuf) -> PyResult<Bound<'py, PyDict>> {
        let served = served_or_packaged(&packaged, || bundle::current(&packaged, false));
        let settings = Settings::from_env();
        let report = match served.report {
            Some(ref report) => report,
            None => &bundle::assemble(&settings, SystemTime::now()).1,
        };
        report_dict(py, report, &served, &settings)
    }

    /// `where()` for the start-up hook, which also leaves the record that
    /// lets the next start-up skip loading this module (see record.rs).
    #[pyfunction]
    fn startup_where(packaged: PathBuf) -> String {
        let served = served_or_packaged(&packaged, || bundle::current(&packaged, false));
        if served.degraded.is_none() {
            record::write(&served.path);
        }
        served.path.to_string_lossy().into_owned()
    }

    /// Whether `path` is named like a bundle of ours (any settings).
    #[pyfunction]
    fn is_bundle_path(path: PathBuf) -> bool {
        bundle::is_bundle_path(&path)
    }

    /// The text of the packaged `cacert.pem` (for the release check).
    #[pyfunction]
    fn packaged_mozilla_text() -> String {
        bundle::packaged_mozilla_text()
    }
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
    let cache = PyDict::new(py);
    cache.set_item("path", served.path.to_string_lossy())?;
    cache.set_item("degraded", served.degraded.is_some())?;
    cache.set_item("degraded_reason", served.degraded.as_deref())?;
    cache.set_item("refused", &served.refused)?;
    let dirs: Vec<String> = cache::candidate_dirs(settings)
        .iter()
        .map(|d| d.to_string_lossy().into_owned())
        .collect();
    cache.set_item("candidates", dirs)?;
    out.set_item("cache", cache)?;
    Ok(out)
}
