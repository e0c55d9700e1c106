//! The cache folder: where bundles live, how they are written (never partial:
//! temp file, fsync, rename) and how a process tells that a bundle is current
//! without re-reading the store (the stamp: a few `stat`s).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::settings::Settings;

/// Where to try to keep bundles, best first: the user's setting, the user's
/// cache folder, a per-user folder in the temp dir.
pub fn candidate_dirs(settings: &Settings) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = settings.cache_dir.iter().cloned().collect();
    dirs.extend(dirs::cache_dir().map(|d| d.join("certifi-native")));
    dirs.push(std::env::temp_dir().join(per_user_temp_name()));
    dirs
}

#[cfg(unix)]
fn per_user_temp_name() -> String {
    // SAFETY: geteuid has no preconditions and cannot fail.
    format!("certifi-native-{}", unsafe { libc::geteuid() })
}

#[cfg(not(unix))]
fn per_user_temp_name() -> String {
    "certifi-native".to_owned() // the temp dir is per-user already
}

/// Creates `dir` (0700) if needed and checks that it is safe to trust what is
/// in it: a real folder, not a symlink, owned by us, not writable by others.
pub fn prepare_dir(dir: &Path) -> Result<(), String> {
    create_private_dir(dir).map_err(|err| format!("cannot create it: {err}"))?;
    let meta = fs::symlink_metadata(dir).map_err(|err| format!("cannot inspect it: {err}"))?;
    if meta.file_type().is_symlink() {
        return Err("it is a symbolic link".to_owned());
    }
    if !meta.is_dir() {
        return Err("it is not a folder".to_owned());
    }
    check_owner(&meta)
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)
}

#[cfg(unix)]
fn check_owner(meta: &fs::Metadata) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me {
        return Err(format!(
            "it is owned by uid {}, not by uid {me}",
            meta.uid()
        ));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(format!(
            "other users can write to it (mode {:o})",
            meta.mode() & 0o777
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_owner(_: &fs::Metadata) -> Result<(), String> {
    Ok(()) // per-user profile folders; ACLs are the OS's business
}

/// Writes `bytes` to `target` so that readers see the old file or the new one,
/// never a partial one. On any error the temp file is removed.
pub fn write_atomic(target: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = target.parent().unwrap_or(Path::new("."));
    let name = target.file_name().unwrap_or_default().to_string_lossy();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let temp = dir.join(format!(".{name}.{}.{nanos}.tmp", process::id()));
    let result = (|| {
        let mut file = create_new(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&temp, target)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

#[cfg(unix)]
fn create_new(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(path)
}

#[cfg(not(unix))]
fn create_new(path: &Path) -> io::Result<File> {
    OpenOptions::new().write(true).create_new(true).open(path)
}

/// The stamp of a bundle: the package version, the time the first root
/// expires, then one line per watched path and one for the bundle itself.
/// `watched` is `None` where the store cannot be watched: such a stamp never
/// matches, so each process re-reads the store once.
pub fn stamp_text(valid_until: u64, watched: Option<&[PathBuf]>, bundle: &Path) -> String {
    let mut text = format!(
        "certifi-native {} valid-until {valid_until}\n",
        env!("CARGO_PKG_VERSION")
    );
    match watched {
        Some(paths) => {
            for path in paths {
                let line = fingerprint(fs::metadata(path));
                text.push_str(&format!("{line} {}\n", path.display()));
            }
        }
        None => text.push_str(&format!("unwatchable store, process {}\n", process::id())),
    }
    // lstat: a symlink planted where the bundle should be never matches.
    text.push_str(&format!(
        "bundle {}\n",
        fingerprint(fs::symlink_metadata(bundle).and_then(regular_file))
    ));
    text
}

/// Whether the stamp at `stamp` still describes the bundle and its sources.
pub fn is_fresh(stamp: &Path, watched: Option<&[PathBuf]>, bundle: &Path, now: u64) -> bool {
    let Ok(stored) = fs::read_to_string(stamp) else {
        return false;
    };
    let valid_until = stored
        .lines()
        .next()
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|n| n.parse::<u64>().ok());
    match valid_until {
        Some(until) if now < until => stamp_text(until, watched, bundle) == stored,
        _ => false,
    }
}

fn regular_file(meta: fs::Metadata) -> io::Result<fs::Metadata> {
    if meta.is_file() {
        Ok(meta)
    } else {
        Err(io::Error::other("not a regular file"))
    }
}

/// `dev:ino:len:mtime_ns`, or `missing`; the start-up hook (_activate.py) reads it.
fn fingerprint(meta: io::Result<fs::Metadata>) -> String {
    let Ok(meta) = meta else {
        return "missing".to_owned();
    };
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    format!("{}:{}:{mtime}", identity(&meta), meta.len())
}

#[cfg(unix)]
fn identity(meta: &fs::Metadata) -> String {
    use std::os::unix::fs::MetadataExt;
    format!("{}:{}", meta.dev(), meta.ino())
}

#[cfg(not(unix))]
fn identity(_: &fs::Metadata) -> String {
    "-".to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("cn-cache-test-{name}-{}", process::id()));
        let _ = fs::remove_dir_all(&dir);
        prepare_dir(&dir).unwrap();
        dir
    }

    #[test]
    fn stamp_goes_stale_when_a_watched_file_or_the_bundle_changes() {
        let dir = scratch("stamp");
        let (watched, bundle, stamp) = (dir.join("w"), dir.join("b.pem"), dir.join("b.stamp"));
        fs::write(&watched, "one").unwrap();
        write_atomic(&bundle, b"bundle").unwrap();
        let paths = vec![watched.clone()];
        write_atomic(&stamp, stamp_text(100, Some(&paths), &bundle).as_bytes()).unwrap();
        assert!(is_fresh(&stamp, Some(&paths), &bundle, 99));
        assert!(
            !is_fresh(&stamp, Some(&paths), &bundle, 100),
            "past the first expiry"
        );
        assert!(
            !is_fresh(&stamp, None, &bundle, 99),
            "an unwatchable store never matches"
        );
        fs::write(&watched, "two!").unwrap();
        assert!(!is_fresh(&stamp, Some(&paths), &bundle, 99));
        write_atomic(&stamp, stamp_text(100, Some(&paths), &bundle).as_bytes()).unwrap();
        fs::write(&bundle, "bund").unwrap();
        assert!(
            !is_fresh(&stamp, Some(&paths), &bundle, 99),
            "truncated bundle"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn refuses_symlinks_and_shared_folders() {
        use std::os::unix::fs::PermissionsExt;
        let dir = scratch("refuse");
        let link = dir.join("link");
        std::os::unix::fs::symlink(&dir, &link).unwrap();
        assert!(prepare_dir(&link).unwrap_err().contains("symbolic link"));
        let shared = dir.join("shared");
        fs::create_dir(&shared).unwrap();
        fs::set_permissions(&shared, fs::Permissions::from_mode(0o777)).unwrap();
        assert!(prepare_dir(&shared).unwrap_err().contains("other users"));
        fs::remove_dir_all(&dir).unwrap();
    }
}
