//! The cache folder: where bundles live, how they are written (never partial:
//! temp file, fsync, rename) and how a process tells that a bundle is current
//! without re-reading the store (the stamp: a few `stat`s).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process;
use std::sync::atomic::{AtomicU64, Ordering};
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
    format!("certifi-native-{}", effective_uid())
}

#[cfg(not(unix))]
fn per_user_temp_name() -> String {
    "certifi-native".to_owned() // the temp dir is per-user already
}

/// The mode of the folders certifi-native creates for its own use.
pub const PRIVATE: u32 = 0o700;
/// The mode of a folder prepared for other users to read (`build --cache-dir`).
pub const SHARED: u32 = 0o755;
/// The mode of every file certifi-native writes: bundles are public data.
pub const FILE_MODE: u32 = 0o644;

/// Creates `dir` (with `mode`, whatever the umask) if needed and checks that
/// it is safe to trust what is in it: a real folder, not a symlink, owned by
/// us or by root (root's folder is trusted for reading: a bundle built there
/// at image-build time is served as is), not writable by others, and reached
/// only through folders that pass OpenSSH's StrictModes rules (see `check_path`).
pub fn prepare_dir(dir: &Path, mode: u32) -> Result<(), String> {
    let meta = match inspect(dir)? {
        Some(meta) => meta,
        None => {
            create_dirs(dir, mode).map_err(|err| format!("cannot create it: {err}"))?;
            inspect(dir)?.ok_or_else(|| "it vanished once created".to_owned())?
        }
    };
    judge(&meta)
}

/// `prepare_dir`'s checks alone, creating nothing: whether a folder (say, one
/// an inherited variable names) may be trusted as a cache folder.
pub fn check_dir(dir: &Path) -> Result<(), String> {
    judge(&inspect(dir)?.ok_or_else(|| "it does not exist".to_owned())?)
}

/// The `lstat` of `dir` once its path passed `check_path`; `None` if it, or
/// a folder on its way, does not exist.
fn inspect(dir: &Path) -> Result<Option<fs::Metadata>, String> {
    if !check_path(dir)? {
        return Ok(None);
    }
    match fs::symlink_metadata(dir) {
        Ok(meta) => Ok(Some(meta)),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(format!("cannot inspect it: {err}")),
    }
}

fn judge(meta: &fs::Metadata) -> Result<(), String> {
    if meta.file_type().is_symlink() {
        return Err("it is a symbolic link".to_owned());
    }
    if !meta.is_dir() {
        return Err("it is not a folder".to_owned());
    }
    check_owner(meta)
}

/// Gives a folder of ours `SHARED` access, for `build --cache-dir`: other
/// users (the image's run-time user) must be able to read it.
#[cfg(unix)]
pub fn share_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let meta = fs::symlink_metadata(dir)?;
    if meta.uid() == effective_uid() && meta.mode() & 0o777 != SHARED {
        fs::set_permissions(dir, fs::Permissions::from_mode(SHARED))?;
    }
    Ok(())
}

#[cfg(not(unix))]
pub fn share_dir(_: &Path) -> io::Result<()> {
    Ok(())
}

/// Creates `dir` and its missing parents, each with exactly `mode`.
fn create_dirs(dir: &Path, mode: u32) -> io::Result<()> {
    let missing: Vec<&Path> = dir
        .ancestors()
        .take_while(|d| fs::symlink_metadata(d).is_err())
        .collect();
    for folder in missing.into_iter().rev() {
        match create_dir(folder, mode) {
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {} // another process won
            other => other?,
        }
    }
    Ok(())
}

#[cfg(unix)]
fn effective_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Who may own a folder we trust: us, or root (who could replace anything anyway).
#[cfg(unix)]
fn trusted_owner(uid: u32) -> bool {
    uid == 0 || uid == effective_uid()
}

#[cfg(unix)]
fn check_owner(meta: &fs::Metadata) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    if !trusted_owner(meta.uid()) {
        return Err(format!(
            "it is owned by uid {}, neither by uid {} nor by root",
            meta.uid(),
            effective_uid()
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

/// Whether a folder or file that certifi-native made may be trusted as it is:
/// owned by us with exactly `mode`, or owned by root and writable by root alone.
#[cfg(unix)]
pub fn is_sound(meta: &fs::Metadata, mode: u32) -> bool {
    use std::os::unix::fs::MetadataExt;
    check_owner(meta).is_ok() && (meta.uid() != effective_uid() || meta.mode() & 0o7777 == mode)
}

#[cfg(not(unix))]
pub fn is_sound(_: &fs::Metadata, _: u32) -> bool {
    true
}

/// The mode for a folder made inside `dir`: `SHARED` if other users can
/// reach into `dir` (a cache prepared for them), else `PRIVATE`.
#[cfg(unix)]
pub fn mode_inside(dir: &Path) -> u32 {
    use std::os::unix::fs::MetadataExt;
    match fs::metadata(dir) {
        Ok(meta) if meta.mode() & 0o001 != 0 => SHARED,
        _ => PRIVATE,
    }
}

#[cfg(not(unix))]
pub fn mode_inside(_: &Path) -> u32 {
    PRIVATE
}

/// Creates the folder `dir` with exactly `mode`, whatever the umask.
#[cfg(unix)]
pub fn create_dir(dir: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    fs::DirBuilder::new().mode(mode).create(dir)?;
    fs::set_permissions(dir, fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
pub fn create_dir(dir: &Path, _: u32) -> io::Result<()> {
    fs::create_dir(dir)
}

/// Checks every folder that the path to `dir` runs through, by OpenSSH's
/// StrictModes rules: owned by root or us, and not writable by others unless
/// sticky (as /tmp is: others may add entries there but not move ours);
/// every symbolic link on the way is followed, and must be ours or root's.
/// Whoever could write to such a folder could swap `dir` for their own after
/// it was checked. `Ok(false)` when a folder on the way does not exist yet
/// (the ones before it passed); `dir` itself is `prepare_dir`'s business.
/// As the kernel's limit on links followed in one lookup.
#[cfg(unix)]
const MAX_LINKS: usize = 40;

#[cfg(unix)]
fn check_path(dir: &Path) -> Result<bool, String> {
    use std::os::unix::fs::MetadataExt;
    use std::path::Component;
    let above = |path: &Path, why: String| format!("{} (on its path) {why}", path.display());
    let check = |path: &Path, meta: &fs::Metadata| {
        if !trusted_owner(meta.uid()) {
            return Err(above(path, format!("is owned by uid {}", meta.uid())));
        }
        let sticky = meta.mode() & 0o1000 != 0; // S_ISVTX
        if meta.mode() & 0o022 != 0 && !sticky {
            let mode = meta.mode() & 0o7777;
            return Err(above(
                path,
                format!("can be written by other users (mode {mode:o}, not sticky)"),
            ));
        }
        Ok(())
    };
    let Some(parent) = dir.parent() else {
        return Ok(true);
    };
    let mut real = PathBuf::from("/");
    let root = fs::metadata(&real).map_err(|err| above(&real, err.to_string()))?;
    check(&real, &root)?;
    // Components still to walk, last first, as owned paths (a link's target is pushed back).
    let mut pending: Vec<PathBuf> = parent
        .components()
        .rev()
        .map(|c| PathBuf::from(c.as_os_str()))
        .collect();
    let mut links = 0;
    while let Some(part) = pending.pop() {
        match part.components().next() {
            Some(Component::RootDir) => real = PathBuf::from("/"),
            Some(Component::ParentDir) => {
                real.pop();
            }
            Some(Component::Normal(name)) => {
                let next = real.join(name);
                let meta = match fs::symlink_metadata(&next) {
                    Ok(meta) => meta,
                    Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(false),
                    Err(err) => return Err(above(&next, format!("cannot be inspected: {err}"))),
                };
                if meta.file_type().is_symlink() {
                    if !trusted_owner(meta.uid()) {
                        let why = format!("is a symbolic link owned by uid {}", meta.uid());
                        return Err(above(&next, why));
                    }
                    links += 1;
                    if links > MAX_LINKS {
                        return Err(above(&next, "is one symbolic link too many".to_owned()));
                    }
                    let target =
                        fs::read_link(&next).map_err(|err| above(&next, err.to_string()))?;
                    pending.extend(
                        target
                            .components()
                            .rev()
                            .map(|c| PathBuf::from(c.as_os_str())),
                    );
                } else if meta.is_dir() {
                    check(&next, &meta)?;
                    real = next;
                } else {
                    return Err(above(&next, "is not a folder".to_owned()));
                }
            }
            _ => {} // `.`, or a prefix (none on Unix)
        }
    }
    Ok(true)
}

#[cfg(not(unix))]
fn check_path(dir: &Path) -> Result<bool, String> {
    Ok(dir.is_dir())
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
/// `.{target}.{pid}.{sequence}{nanos}.tmp`.
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
/// for building something that is then renamed into place. The sequence
/// number keeps two threads of one process (free-threaded Python runs them at
/// once) apart within the same nanosecond.
pub fn temp_sibling(target: &Path) -> PathBuf {
    static SEQUENCE: AtomicU64 = AtomicU64::new(0);
    let dir = target.parent().unwrap_or(Path::new("."));
    let name = target.file_name().unwrap_or_default().to_string_lossy();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let sequence = SEQUENCE.fetch_add(1, Ordering::Relaxed);
    dir.join(format!(
        ".{name}.{}.{sequence}{nanos:09}{TEMP_SUFFIX}",
        process::id()
    ))
}

/// A new file at `path`, mode `FILE_MODE` whatever the umask (a bundle in a
/// shared folder must be readable by its other users).
#[cfg(unix)]
pub fn create_new(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(path)?;
    file.set_permissions(fs::Permissions::from_mode(FILE_MODE))?;
    Ok(file)
}

#[cfg(not(unix))]
pub fn create_new(path: &Path) -> io::Result<File> {
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

/// The stamp of a bundle: the package version, when it was built, the time
/// the first root expires, the sources' lines, then one line for the bundle
/// itself. `valid-until` stays the first line's last field: the start-up
/// hook reads it there.
pub fn stamp_text(built_at: u64, valid_until: u64, sources: &str, bundle: &Path) -> String {
    format!(
        "certifi-native {} built-at {built_at} valid-until {valid_until}\n{sources}bundle {}\n",
        env!("CARGO_PKG_VERSION"),
        file_fingerprint(bundle).unwrap_or_else(|| MISSING.to_owned())
    )
}

/// Whether the stamp at `stamp` still describes the bundle and its sources,
/// at `now`: not past the first expiry, and not before the build (a clock
/// set back, or a build made under a clock far ahead, which judged roots
/// expired that are not): such a bundle is rebuilt.
pub fn is_fresh(stamp: &Path, sources: &str, bundle: &Path, now: u64) -> bool {
    let Ok(stored) = fs::read_to_string(stamp) else {
        return false;
    };
    let first: Vec<&str> = stored
        .lines()
        .next()
        .unwrap_or_default()
        .split(' ')
        .collect();
    let field = |name: &str| {
        let at = first.iter().position(|f| *f == name)?;
        first.get(at + 1)?.parse::<u64>().ok()
    };
    match (field("built-at"), field("valid-until")) {
        // A root is valid through its notAfter second (as `select` judges it).
        (Some(built_at), Some(until)) if built_at <= now && now <= until => {
            stamp_text(built_at, until, sources, bundle) == stored
        }
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
        prepare_dir(&dir, PRIVATE).unwrap();
        dir
    }

    #[cfg(unix)]
    fn chmod(path: &Path, mode: u32) {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    }

    /// Asserts that `prepare_dir` refuses `path`, saying `why`.
    #[cfg(unix)]
    fn assert_refused(path: &Path, why: &str) {
        let refused = prepare_dir(path, PRIVATE).unwrap_err();
        assert!(refused.contains(why), "{refused}");
    }

    #[test]
    fn stamp_goes_stale_when_a_watched_file_or_the_bundle_changes() {
        let dir = scratch("stamp");
        let (watched, bundle, stamp) = (dir.join("w"), dir.join("b.pem"), dir.join("b.stamp"));
        fs::write(&watched, "one").unwrap();
        write_atomic(&bundle, b"bundle").unwrap();
        let paths = vec![Watched::Path(watched.clone())];
        let sources = || sources_stamp(Some(&paths));
        write_atomic(&stamp, stamp_text(50, 100, &sources(), &bundle).as_bytes()).unwrap();
        assert!(is_fresh(&stamp, &sources(), &bundle, 100));
        assert!(
            !is_fresh(&stamp, &sources(), &bundle, 101),
            "past the first expiry"
        );
        assert!(
            !is_fresh(&stamp, &sources(), &bundle, 49),
            "a clock before the build"
        );
        assert!(
            !is_fresh(&stamp, &sources_stamp(None), &bundle, 99),
            "an unwatchable store never matches"
        );
        fs::write(&watched, "two!").unwrap();
        assert!(!is_fresh(&stamp, &sources(), &bundle, 99));
        write_atomic(&stamp, stamp_text(50, 100, &sources(), &bundle).as_bytes()).unwrap();
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
        let dir = scratch("refuse");
        let link = dir.join("link");
        std::os::unix::fs::symlink(&dir, &link).unwrap();
        assert_refused(&link, "symbolic link");
        let shared = dir.join("shared");
        fs::create_dir(&shared).unwrap();
        chmod(&shared, 0o777);
        assert_refused(&shared, "other users");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn folders_on_the_path_follow_strict_modes() {
        let dir = scratch("ancestors");
        let open = dir.join("open");
        fs::create_dir(&open).unwrap();
        chmod(&open, 0o777);
        assert_refused(
            &open.join("cache"),
            "(on its path) can be written by other users (mode 777, not sticky)",
        );
        assert!(
            !open.join("cache").exists(),
            "nothing is created below such a folder"
        );
        assert!(check_dir(&open.join("cache")).is_err());
        chmod(&open, 0o1777); // sticky, as /tmp
        assert_eq!(
            check_dir(&open.join("cache")).unwrap_err(),
            "it does not exist"
        );
        prepare_dir(&open.join("cache"), PRIVATE).unwrap();
        check_dir(&open.join("cache")).unwrap();
        // Through a link of ours to the open folder: the folder it names is checked.
        let link = dir.join("link");
        std::os::unix::fs::symlink(&open, &link).unwrap();
        prepare_dir(&link.join("cache"), PRIVATE).unwrap();
        chmod(&open, 0o777);
        assert_refused(&link.join("../link/cache"), "not sticky");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn created_folders_get_their_mode_and_shared_ones_open_up() {
        use std::os::unix::fs::PermissionsExt;
        let dir = scratch("modes");
        let mode = |path: &Path| fs::metadata(path).unwrap().permissions().mode() & 0o7777;
        let nested = dir.join("a/b");
        prepare_dir(&nested, SHARED).unwrap();
        assert_eq!((mode(&dir.join("a")), mode(&nested)), (SHARED, SHARED));
        let private = dir.join("private");
        prepare_dir(&private, PRIVATE).unwrap();
        assert_eq!(mode(&private), PRIVATE);
        share_dir(&private).unwrap();
        assert_eq!(mode(&private), SHARED);
        write_atomic(&private.join("f"), b"x").unwrap();
        assert_eq!(mode(&private.join("f")), FILE_MODE);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn temp_names_differ_between_threads_and_keep_their_shape() {
        let target = Path::new("/nowhere/cacert.pem");
        let names: Vec<PathBuf> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..8)
                .map(|_| scope.spawn(|| (0..500).map(|_| temp_sibling(target)).collect::<Vec<_>>()))
                .collect();
            workers
                .into_iter()
                .flat_map(|w| w.join().unwrap())
                .collect()
        });
        let distinct: std::collections::HashSet<_> = names.iter().collect();
        assert_eq!(distinct.len(), names.len());
        let name = names[0].file_name().unwrap().to_str().unwrap();
        assert!(is_temp_name(name), "{name}");
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
