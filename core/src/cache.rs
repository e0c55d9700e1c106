//! The cache folder: where bundles live, how they are written (never partial:
//! temp file, fsync, rename) and how a process tells that a bundle is current
//! without re-reading the store (the stamp: a few `stat`s).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::registry;
use crate::roots::Watched;
use crate::settings::{absolute, Settings};

/// Where to try to keep bundles, best first: the user's setting, the user's
/// cache folder, a per-user folder in the temp dir.
pub fn candidate_dirs(settings: &Settings) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = settings.cache_dir.iter().cloned().collect();
    dirs.extend(dirs::cache_dir().map(|d| d.join("certifi-native")));
    dirs.push(std::env::temp_dir().join(per_user_temp_name()));
    // A relative setting, HOME or TMPDIR must not make where() relative.
    dirs.into_iter().map(absolute).collect()
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
/// never a partial one, even after a crash. On any error the temp file is removed.
pub fn write_atomic(target: &Path, bytes: &[u8]) -> io::Result<()> {
    replace(target, bytes, true)
}

/// `write_atomic` without the fsync (about 4 ms here), for a file whose loss
/// or garbling in a crash only costs a rebuild: the stamp, which never matches
/// a bundle it does not describe.
pub fn write_atomic_unsynced(target: &Path, bytes: &[u8]) -> io::Result<()> {
    replace(target, bytes, false)
}

fn replace(target: &Path, bytes: &[u8], sync: bool) -> io::Result<()> {
    let temp = temp_sibling(target);
    let result = (|| {
        let mut file = create_new(&temp)?;
        file.write_all(bytes)?;
        if sync {
            file.sync_all()?;
        }
        fs::rename(&temp, target)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

const TEMP_SUFFIX: &str = ".tmp";

/// How old a temp file must be before it counts as left by a killed writer;
/// a live writer renames its temp file within moments.
const STALE_TEMP_AGE: Duration = Duration::from_secs(3600);

/// Whether `name` has the shape `temp_sibling` gives temp files and folders:
/// `.{target}.{pid}.{nanos}.tmp`.
fn is_temp_name(name: &str) -> bool {
    let Some(stem) = name
        .strip_prefix('.')
        .and_then(|n| n.strip_suffix(TEMP_SUFFIX))
    else {
        return false;
    };
    let mut fields = stem.rsplit('.');
    let mut numeric = || {
        fields
            .next()
            .is_some_and(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
    };
    numeric() && numeric() && fields.next().is_some_and(|target| !target.is_empty())
}

/// Removes the temp files and folders (`temp_sibling` names) that writers killed
/// mid-write left in `dir`: never an entry of another shape, nor a recent one
/// (its writer may still be at work).
pub fn remove_stale_temps(dir: &Path, now: SystemTime) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let Ok(meta) = entry.metadata() else { continue };
        let stale = entry.file_name().to_str().is_some_and(is_temp_name)
            && meta
                .modified()
                .is_ok_and(|t| now.duration_since(t).is_ok_and(|age| age > STALE_TEMP_AGE));
        if stale && meta.is_dir() {
            let _ = fs::remove_dir_all(entry.path());
        } else if stale && meta.is_file() {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// A name beside `target`, hidden and unique to this process and moment,
/// for building something that is then renamed into place.
pub fn temp_sibling(target: &Path) -> PathBuf {
    let dir = target.parent().unwrap_or(Path::new("."));
    let name = target.file_name().unwrap_or_default().to_string_lossy();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    dir.join(format!(".{name}.{}.{nanos}{TEMP_SUFFIX}", process::id()))
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

/// The sources' part of a stamp: one line per watched path (`<fingerprint>
/// <path>`) or registry key (`reg <fingerprint> <key>`). Taken before the
/// sources are read, so a change made while a bundle is built leaves a stamp
/// that no longer matches. `watched` is `None` where the store cannot be
/// watched: such a stamp never matches, so each process re-reads the store once.
pub fn sources_stamp(watched: Option<&[Watched]>) -> String {
    match watched {
        Some(entries) => entries
            .iter()
            .map(|entry| match entry {
                Watched::Path(path) => path_line(path),
                Watched::RegistryKey(key) => {
                    format!("reg {} {key}\n", registry::key_fingerprint(key))
                }
            })
            .collect(),
        None => format!("unwatchable store, process {}\n", process::id()),
    }
}

/// `sources_stamp` of files alone.
pub fn paths_stamp(paths: &[PathBuf]) -> String {
    paths.iter().map(|path| path_line(path)).collect()
}

fn path_line(path: &Path) -> String {
    let seen = fs::metadata(path).map_or_else(|_| MISSING.to_owned(), |m| fingerprint(&m));
    format!("{seen} {}\n", path.display())
}

/// The stamp of a bundle: the package version, the time the first root
/// expires, the sources' lines, then one line for the bundle itself.
pub fn stamp_text(valid_until: u64, sources: &str, bundle: &Path) -> String {
    format!(
        "certifi-native {} valid-until {valid_until}\n{sources}bundle {}\n",
        env!("CARGO_PKG_VERSION"),
        file_fingerprint(bundle).unwrap_or_else(|| MISSING.to_owned())
    )
}

/// Whether the stamp at `stamp` still describes the bundle and its sources.
pub fn is_fresh(stamp: &Path, sources: &str, bundle: &Path, now: u64) -> bool {
    let Ok(stored) = fs::read_to_string(stamp) else {
        return false;
    };
    let valid_until = stored
        .lines()
        .next()
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|n| n.parse::<u64>().ok());
    match valid_until {
        // A root is valid through its notAfter second (as `select` judges it).
        Some(until) if now <= until => stamp_text(until, sources, bundle) == stored,
        _ => false,
    }
}

/// Identity, size and times of the regular file at `path`, `None` if there is
/// none (`lstat`: a symlink planted there never matches a recorded fingerprint).
pub fn file_fingerprint(path: &Path) -> Option<String> {
    let meta = fs::symlink_metadata(path).ok()?;
    meta.is_file().then(|| fingerprint(&meta))
}

const MISSING: &str = "missing";

/// `dev:ino:ctime:len:mtime_ns`; the start-up hook replays it (`_fingerprint`
/// in _activate.py): change both together.
fn fingerprint(meta: &fs::Metadata) -> String {
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    format!("{}:{}:{mtime}", identity(meta), meta.len())
}

/// Device, inode and ctime. The kernel sets ctime on every write and no call
/// can set it back, so a same-size rewrite with its mtime restored still shows.
#[cfg(unix)]
fn identity(meta: &fs::Metadata) -> String {
    use std::os::unix::fs::MetadataExt;
    format!(
        "{}:{}:{}.{:09}",
        meta.dev(),
        meta.ino(),
        meta.ctime(),
        meta.ctime_nsec()
    )
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
        let paths = vec![Watched::Path(watched.clone())];
        let sources = || sources_stamp(Some(&paths));
        write_atomic(&stamp, stamp_text(100, &sources(), &bundle).as_bytes()).unwrap();
        assert!(is_fresh(&stamp, &sources(), &bundle, 100));
        assert!(
            !is_fresh(&stamp, &sources(), &bundle, 101),
            "past the first expiry"
        );
        assert!(
            !is_fresh(&stamp, &sources_stamp(None), &bundle, 99),
            "an unwatchable store never matches"
        );
        fs::write(&watched, "two!").unwrap();
        assert!(!is_fresh(&stamp, &sources(), &bundle, 99));
        write_atomic(&stamp, stamp_text(100, &sources(), &bundle).as_bytes()).unwrap();
        fs::write(&bundle, "bund").unwrap();
        assert!(
            !is_fresh(&stamp, &sources(), &bundle, 99),
            "rewritten bundle"
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

    #[test]
    fn only_old_temp_files_of_our_shape_are_removed() {
        assert!(is_temp_name(".cacert-system-0a.pem.4242.17.tmp"));
        assert!(!is_temp_name("cacert.pem.4242.17.tmp"));
        assert!(!is_temp_name(".notes.tmp"));
        assert!(!is_temp_name("..4242.17.tmp"));
        let dir = scratch("temps");
        let (old, fresh) = (dir.join(".b.pem.1.2.tmp"), dir.join(".b.pem.3.4.tmp"));
        fs::write(&old, "x").unwrap();
        fs::write(&fresh, "x").unwrap();
        let later = SystemTime::now() + STALE_TEMP_AGE + Duration::from_secs(1);
        File::options()
            .write(true)
            .open(&fresh)
            .and_then(|f| f.set_modified(later))
            .unwrap();
        remove_stale_temps(&dir, later);
        assert!(!old.exists() && fresh.exists());
        fs::remove_dir_all(&dir).unwrap();
    }
}
