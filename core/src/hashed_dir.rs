//! `capath()`: the bundle's roots as a folder in OpenSSL's hashed layout
//! (`<subject hash>.<n>`, one PEM certificate a file), beside the bundle.
//!
//! OpenSSL looks a folder up by subject hash and reads only the roots a chain
//! needs, instead of parsing the whole bundle for every new context: that is
//! the speed-up. The folder is derived from the bundle file alone, so it holds
//! exactly the bundle's roots. It is built as a temp folder and then renamed
//! (or, where it exists already, atomically exchanged) into place: readers
//! never see it partial. A stamp beside it fingerprints every file it holds
//! and the bundle; when the stamp does not match, the folder's contents are
//! checked and the folder is rebuilt if they are wrong (a file deleted, added
//! or changed).

use std::collections::HashMap;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::cache;
use crate::pem;
use crate::subject_hash;

/// Where the folder of `bundle` lives: `cacert-...-xxxx.pem` gives `cacert-...-xxxx.capath`.
pub fn folder_for(bundle: &Path) -> PathBuf {
    bundle.with_extension("capath")
}

fn stamp_for(bundle: &Path) -> PathBuf {
    bundle.with_extension("capath.stamp")
}

/// The last folder served in this process, for the bundle as it was then
/// (`cache::file_fingerprint`, as the bundle's own memo checks it).
/// Locked for the whole of a `capath()` and only by an attached thread, like
/// the bundle's memo (see bundle.rs), so `fork()` never copies it locked.
struct Memo {
    bundle: PathBuf,
    bundle_fingerprint: String,
    folder: PathBuf,
}

static MEMO: Mutex<Option<Memo>> = Mutex::new(None);

/// The folder for `bundle`, checked (and repaired) once per process and
/// bundle; later calls only check that the bundle and the folder are there.
pub fn current(bundle: &Path) -> Result<PathBuf, String> {
    let bundle_fingerprint = cache::file_fingerprint(bundle)
        .ok_or_else(|| format!("cannot read {}: not a regular file", bundle.display()))?;
    let mut memo = MEMO.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(m) = memo.as_ref() {
        let there = fs::symlink_metadata(&m.folder).is_ok_and(|meta| meta.is_dir());
        if m.bundle == bundle && m.bundle_fingerprint == bundle_fingerprint && there {
            return Ok(m.folder.clone());
        }
    }
    let folder = ensure(bundle)
        .map_err(|err| format!("cannot build {}: {err}", folder_for(bundle).display()))?;
    *memo = Some(Memo {
        bundle: bundle.to_owned(),
        bundle_fingerprint,
        folder: folder.clone(),
    });
    Ok(folder)
}

/// Called when `bundle` was (re)written: brings its folder up to date if one
/// was ever asked for, so users of the bundle alone never pay for it.
pub fn follow(bundle: &Path) {
    if fs::symlink_metadata(folder_for(bundle)).is_ok() {
        let _ = ensure(bundle); // on failure, the next capath() retries and reports
    }
}

/// Makes the folder of `bundle` hold exactly its roots; returns its path.
/// The folder has the mode that suits the cache folder (`cache::mode_inside`)
/// and its files `cache::FILE_MODE`, whatever the umask; a folder or file
/// that is not so (made under another umask, or by another user) is rebuilt:
/// OpenSSL reads the folder at each handshake, so whoever can write to it
/// could add a root to every context made from it.
fn ensure(bundle: &Path) -> io::Result<PathBuf> {
    let folder = folder_for(bundle);
    let stamp = stamp_for(bundle);
    let mode = bundle.parent().map_or(cache::PRIVATE, cache::mode_inside);
    let sound = || sound_folder(&folder, mode);
    // valid-until is the bundle's business: its rewrite changes our stamp.
    if let Some(files) = listing(&folder).filter(|_| sound()) {
        if cache::is_fresh(&stamp, &cache::paths_stamp(&files), bundle, 0) {
            return Ok(folder);
        }
    }
    let expected = expected_files(bundle)?;
    if !(sound() && holds_exactly(&folder, &expected)) {
        install(&folder, &expected, mode)?;
    }
    let files = listing(&folder).ok_or_else(|| io::Error::other("the folder vanished"))?;
    let sources = cache::paths_stamp(&files);
    cache::write_atomic_unsynced(
        &stamp,
        cache::stamp_text(0, u64::MAX, &sources, bundle).as_bytes(),
    )?;
    Ok(folder)
}

/// The files the folder must hold, by name: every certificate of the bundle
/// under its subject hash, collisions numbered from 0 in the bundle's order.
/// A certificate whose subject OpenSSL could not parse is left out: OpenSSL
/// could never look it up.
fn expected_files(bundle: &Path) -> io::Result<Vec<(String, String)>> {
    let text = fs::read(bundle)?;
    let mut taken: HashMap<u32, usize> = HashMap::new();
    let mut files = Vec::new();
    for der in pem::parse(&text).into_iter().flatten() {
        let Some(hash) = subject_hash::of_certificate(&der) else {
            continue;
        };
        let n = taken.entry(hash).or_insert(0);
        files.push((format!("{}.{n}", subject_hash::hex(hash)), pem::block(&der)));
        *n += 1;
    }
    Ok(files)
}

/// Every entry of `folder`, sorted; `None` unless it is a real folder.
fn listing(folder: &Path) -> Option<Vec<PathBuf>> {
    if !fs::symlink_metadata(folder).ok()?.is_dir() {
        return None;
    }
    let mut files = fs::read_dir(folder)
        .ok()?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<io::Result<Vec<_>>>()
        .ok()?;
    files.sort();
    Some(files)
}

/// Whether `folder` holds the `expected` regular files, each sound
/// (`cache::is_sound`), and nothing else.
fn holds_exactly(folder: &Path, expected: &[(String, String)]) -> bool {
    let Some(files) = listing(folder) else {
        return false;
    };
    let mut wanted: Vec<PathBuf> = expected.iter().map(|(n, _)| folder.join(n)).collect();
    wanted.sort();
    files == wanted
        && expected.iter().all(|(name, text)| {
            let path = folder.join(name);
            fs::symlink_metadata(&path)
                .is_ok_and(|m| m.is_file() && cache::is_sound(&m, cache::FILE_MODE))
                && fs::read(&path).is_ok_and(|bytes| bytes == text.as_bytes())
        })
}

/// Builds the folder (mode `mode`) under a temp name, then puts it in place
/// of whatever `folder` is. Files are not fsync'd one by one: after a crash,
/// a truncated file no longer matches the stamp, and the folder is rebuilt.
fn install(folder: &Path, expected: &[(String, String)], mode: u32) -> io::Result<()> {
    let temp = cache::temp_sibling(folder);
    let built = cache::create_dir(&temp, mode).and_then(|()| {
        expected.iter().try_for_each(|(name, text)| {
            cache::create_new(&temp.join(name))?.write_all(text.as_bytes())
        })
    });
    let placed = built.and_then(|()| match fs::rename(&temp, folder) {
        Err(_) if holds_exactly(folder, expected) && sound_folder(folder, mode) => Ok(()), // another process won
        Err(_) if fs::symlink_metadata(folder).is_ok() => replace(&temp, folder),
        other => other,
    });
    remove(&temp); // our build, if it was not used
    placed
}

fn sound_folder(folder: &Path, mode: u32) -> bool {
    fs::symlink_metadata(folder).is_ok_and(|m| m.is_dir() && cache::is_sound(&m, mode))
}

/// Puts the folder `new` in place of `old` (a damaged folder, or a file) and
/// removes `old`: one atomic exchange where the OS and the file system offer
/// it, else two renames.
fn replace(new: &Path, old: &Path) -> io::Result<()> {
    if exchange(new, old).is_ok() {
        remove(new); // now the old one
        return Ok(());
    }
    replace_in_two_steps(new, old)
}

/// The old one aside, the new one in: for a moment there is no folder.
fn replace_in_two_steps(new: &Path, old: &Path) -> io::Result<()> {
    let aside = cache::temp_sibling(old);
    fs::rename(old, &aside)?;
    match fs::rename(new, old) {
        Ok(()) => {
            remove(&aside);
            Ok(())
        }
        Err(err) => {
            let _ = fs::rename(&aside, old); // put it back
            Err(err)
        }
    }
}

/// Swaps two paths atomically (`renameat2` with `RENAME_EXCHANGE`).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn exchange(a: &Path, b: &Path) -> io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let c = |p: &Path| CString::new(p.as_os_str().as_bytes()).map_err(io::Error::other);
    let (a, b) = (c(a)?, c(b)?);
    // The raw system call: glibc's renameat2 wrapper would pin glibc >= 2.28.
    // SAFETY: both paths are NUL-terminated and outlive the call.
    let done = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if done == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn exchange(_: &Path, _: &Path) -> io::Result<()> {
    Err(io::ErrorKind::Unsupported.into())
}

fn remove(path: &Path) {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => {
            let _ = fs::remove_dir_all(path);
        }
        Ok(_) => {
            let _ = fs::remove_file(path);
        }
        Err(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("cn-hashed-dir-test-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        cache::prepare_dir(&dir, cache::PRIVATE).unwrap();
        dir
    }

    fn bundle_of(dir: &Path, ders: &[&[u8]]) -> PathBuf {
        let text: String = ders.iter().map(|der| pem::block(der)).collect();
        let bundle = dir.join("cacert-test.pem");
        cache::write_atomic(&bundle, text.as_bytes()).unwrap();
        bundle
    }

    fn names(folder: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(folder)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn builds_repairs_and_follows_the_bundle() {
        let dir = scratch("build");
        let roots: Vec<&[u8]> = webpki_root_certs::TLS_SERVER_ROOT_CERTS[..3]
            .iter()
            .map(|c| c.as_ref())
            .collect();
        let bundle = bundle_of(&dir, &roots);
        let folder = ensure(&bundle).unwrap();
        assert_eq!(folder, dir.join("cacert-test.capath"));
        let built = names(&folder);
        assert_eq!(built.len(), 3);
        for der in &roots {
            let name = format!(
                "{}.0",
                subject_hash::hex(subject_hash::of_certificate(der).unwrap())
            );
            let text = fs::read(folder.join(&name)).unwrap();
            assert_eq!(pem::parse(&text), vec![Ok(der.to_vec())]);
        }
        // Damage: a file gone and a stranger added.
        fs::remove_file(folder.join(&built[0])).unwrap();
        fs::write(folder.join("extra.0"), "x").unwrap();
        ensure(&bundle).unwrap();
        assert_eq!(names(&folder), built);
        // A new bundle: the folder follows it.
        let bundle = bundle_of(&dir, &roots[..1]);
        follow(&bundle);
        assert_eq!(names(&folder).len(), 1);
        let leftovers = fs::read_dir(&dir).unwrap().count();
        assert_eq!(leftovers, 3, "bundle, folder and stamp only");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn replacing_in_two_steps_leaves_only_the_new_folder() {
        let dir = scratch("two-steps");
        let (new, old) = (dir.join("new"), dir.join("old"));
        fs::create_dir(&new).unwrap();
        fs::write(new.join("b.0"), "b").unwrap();
        fs::create_dir(&old).unwrap();
        fs::write(old.join("a.0"), "a").unwrap();
        replace_in_two_steps(&new, &old).unwrap();
        assert_eq!(names(&old), ["b.0"]);
        assert_eq!(names(&dir), ["old"]);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn collisions_are_numbered_in_bundle_order() {
        let dir = scratch("collide");
        let root: &[u8] = webpki_root_certs::TLS_SERVER_ROOT_CERTS[0].as_ref();
        // The same subject twice: a second copy with a changed signature byte.
        let mut twin = root.to_vec();
        *twin.last_mut().unwrap() ^= 1;
        let bundle = bundle_of(&dir, &[root, &twin]);
        let folder = ensure(&bundle).unwrap();
        let stem = subject_hash::hex(subject_hash::of_certificate(root).unwrap());
        assert_eq!(names(&folder), [format!("{stem}.0"), format!("{stem}.1")]);
        let second = fs::read(folder.join(format!("{stem}.1"))).unwrap();
        assert_eq!(pem::parse(&second), vec![Ok(twin)]);
        fs::remove_dir_all(&dir).unwrap();
    }
}
