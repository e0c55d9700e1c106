//! The start-up record: lets the activation hook (Python, run at every
//! interpreter start) reuse the last answer of `where()` without loading this
//! library. This side decides what the answer depends on and writes it down;
//! the hook only replays the checks: the same variables, the same file
//! fingerprints (the bundle's stamp, copied), not past the first expiry.
//! Any doubt on the hook's side means a miss, and a miss means the slow path.
//!
//! One record per cache folder, whichever venv wrote it: venvs sharing a cache
//! share bundles. After an upgrade the record still names the bundle built by
//! the previous version until a `where()` (e.g. `import certifi`) sees the
//! stamp's version differ and rebuilds it, which invalidates the record.

use std::env;
use std::ffi::OsString;
use std::fs;
use std::path::Path;

use crate::cache;
use crate::settings::ENV_CACHE_DIR;

/// Kept beside the bundle it names.
pub const FILE_NAME: &str = "startup-record";
const HEADER: &str = "certifi-native startup-record 1";
/// Read by the hook alone: they do not change the bundle (the second is the
/// marker of the `REQUESTS_CA_BUNDLE` value activation set).
const HOOK_VARS: &[&str] = &[
    "CERTIFI_NATIVE_AUTO",
    "CERTIFI_NATIVE_SET_REQUESTS_CA_BUNDLE",
];
/// Besides every `CERTIFI_NATIVE_*` setting: the store overrides, and what the
/// cache folders are derived from.
const OTHER_VARS: &[&str] = &[
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "HOME",
    "XDG_CACHE_HOME",
    "TMPDIR",
    "LOCALAPPDATA",
];

/// The record for `bundle` (just served for the current settings, or built
/// by `build` for `cache_dir`, which stands for `CERTIFI_NATIVE_CACHE_DIR`),
/// or `None` when something cannot be written down plainly (a newline,
/// non-UTF-8: the hook then takes the slow path).
pub fn text(bundle: &Path, cache_dir: Option<&Path>) -> Option<String> {
    let stamp = fs::read_to_string(bundle.with_extension("stamp")).ok()?;
    let mut vars: Vec<(String, String)> = Vec::new();
    let overridden =
        cache_dir.map(|dir| (OsString::from(ENV_CACHE_DIR), dir.as_os_str().to_owned()));
    let replaced = overridden.is_some();
    let settings = env::vars_os().filter(|(name, _)| !replaced || name != ENV_CACHE_DIR);
    for (name, value) in settings.chain(overridden) {
        let name = name.into_string().ok()?;
        if name.starts_with("CERTIFI_NATIVE_") && !HOOK_VARS.contains(&name.as_str()) {
            vars.push((name, value.into_string().ok()?));
        }
    }
    vars.sort();
    for name in OTHER_VARS {
        let value = env::var_os(name).unwrap_or_default().into_string().ok()?;
        vars.push(((*name).to_owned(), value));
    }
    let mut text = format!("{HEADER}\n");
    for (name, value) in &vars {
        text.push_str(&format!("env {name}={value}\n"));
    }
    text.push_str(&format!("path {}\n", bundle.to_str()?));
    let fields = vars.iter().flat_map(|(n, v)| [n.as_str(), v.as_str()]);
    if fields.chain([bundle.to_str()?]).any(|f| f.contains('\n')) {
        return None;
    }
    text.push_str(&stamp);
    Some(text)
}

/// Writes the record beside `bundle` unless the same one is there already.
/// Best effort: a missing record only costs the next start-up some time.
pub fn write(bundle: &Path, cache_dir: Option<&Path>) {
    let (Some(text), Some(dir)) = (text(bundle, cache_dir), bundle.parent()) else {
        return;
    };
    let target = dir.join(FILE_NAME);
    if fs::read(&target).is_ok_and(|old| old == text.as_bytes()) {
        return;
    }
    let _ = cache::write_atomic(&target, text.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_names_the_bundle_and_copies_its_stamp() {
        let dir = env::temp_dir().join(format!("cn-record-test-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let bundle = dir.join("cacert-system-0123456789abcdef.pem");
        fs::write(&bundle, "bundle").unwrap();
        assert!(text(&bundle, None).is_none(), "no stamp, no record");
        let stamp = "certifi-native 0 valid-until 9\nbundle 1:2:3:4\n";
        fs::write(bundle.with_extension("stamp"), stamp).unwrap();
        let record = text(&bundle, None).unwrap();
        assert!(record.starts_with(HEADER));
        assert!(record.contains(&format!("\npath {}\n", bundle.display())));
        assert!(record.ends_with(stamp));
        for name in OTHER_VARS {
            assert!(record.contains(&format!("\nenv {name}=")), "{name}");
        }
        write(&bundle, None);
        assert_eq!(fs::read_to_string(dir.join(FILE_NAME)).unwrap(), record);
        let built = text(&bundle, Some(Path::new("/opt/c"))).unwrap();
        assert!(
            built.contains("\nenv CERTIFI_NATIVE_CACHE_DIR=/opt/c\n"),
            "{built}"
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
