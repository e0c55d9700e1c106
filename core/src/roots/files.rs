//! Reading certificate files without trusting what they are: only regular
//! files of bounded size are read, checked before the open (so a device is
//! never opened) and again on the opened descriptor (so a swap in between is
//! seen); the open never blocks, so a FIFO cannot hang a start-up.

use std::fs::{self, File, Metadata};
use std::io::Read;
use std::path::{Path, PathBuf};

use super::{Candidate, Gathered, Source};
use crate::pem;

/// The largest certificate file read: Fedora's `ca-bundle.trust.crt`, the
/// largest store file known, is about 0.5 MB.
pub const MAX_FILE_BYTES: u64 = 16 << 20;

/// The bytes of the regular file at `path` (symbolic links followed), or why
/// it was not read.
pub fn read_regular(path: &Path) -> Result<Vec<u8>, String> {
    let bytes = read_at_most(path, MAX_FILE_BYTES + 1)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_large());
    }
    Ok(bytes)
}

/// Whether the regular file at `path` begins with `prefix` (reads no more).
pub fn starts_with(path: &Path, prefix: &[u8]) -> bool {
    read_at_most(path, prefix.len() as u64).is_ok_and(|head| head == prefix)
}

fn read_at_most(path: &Path, limit: u64) -> Result<Vec<u8>, String> {
    let cannot = |err: std::io::Error| format!("cannot read the file: {err}");
    check_kind(&fs::metadata(path).map_err(cannot)?)?;
    let mut file = open_nonblocking(path).map_err(cannot)?;
    let opened = file.metadata().map_err(cannot)?;
    check_kind(&opened)?;
    let mut bytes = Vec::with_capacity(opened.len().min(limit) as usize);
    (&mut file)
        .take(limit)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    Ok(bytes)
}

fn too_large() -> String {
    format!(
        "cannot read the file: larger than {} MiB, too large for a certificate file",
        MAX_FILE_BYTES >> 20
    )
}

/// A regular file of bounded size passes; anything else says what it is.
fn check_kind(meta: &Metadata) -> Result<(), String> {
    let kind = meta.file_type();
    if kind.is_file() {
        return if meta.len() > MAX_FILE_BYTES {
            Err(too_large())
        } else {
            Ok(())
        };
    }
    Err(format!(
        "cannot read the file: it is {}, not a regular file",
        kind_name(meta)
    ))
}

fn kind_name(meta: &Metadata) -> &'static str {
    let kind = meta.file_type();
    if kind.is_dir() {
        return "a folder";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a FIFO";
        }
        if kind.is_char_device() {
            return "a character device";
        }
        if kind.is_block_device() {
            return "a block device";
        }
        if kind.is_socket() {
            return "a socket";
        }
    }
    "a special file"
}

#[cfg(unix)]
fn open_nonblocking(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
}

#[cfg(not(unix))]
fn open_nonblocking(path: &Path) -> std::io::Result<File> {
    File::open(path)
}

/// The files and folders a file-based OS store is read from, as OpenSSL
/// (and rustls-native-certs) read them: one bundle file, then each folder's files.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StorePaths {
    pub file: Option<PathBuf>,
    pub dirs: Vec<PathBuf>,
}

impl StorePaths {
    /// Every path whose change means the store may have changed.
    pub fn watched(&self) -> Vec<PathBuf> {
        self.file.iter().chain(&self.dirs).cloned().collect()
    }
}

/// Reads a file-based store: each file once (by identity: a folder holds the
/// same certificate under several links), only PEM, with every bad file or
/// block reported. The certificates come sorted and once each, as
/// rustls-native-certs gives them, so the order does not depend on the folder's.
pub fn read_store(paths: &StorePaths) -> Gathered {
    let mut out = Gathered::default();
    let mut seen = SeenFiles::default();
    let mut ders = Vec::new();
    if let Some(file) = &paths.file {
        if let Ok(meta) = fs::metadata(file) {
            seen.first_visit(&meta);
        }
        read_store_file(file, &mut ders, &mut out);
    }
    for dir in &paths.dirs {
        let entries = match fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(err) => {
                out.problem(
                    &Source::System,
                    format!("{}: cannot read the folder: {err}", dir.display()),
                );
                continue;
            }
        };
        let mut names: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        names.sort();
        for path in names {
            // A dangling link is skipped, as OpenSSL never finds it either;
            // sub-folders (Debian's java/) are not part of a CA folder.
            let Ok(meta) = fs::metadata(&path) else {
                continue;
            };
            if meta.is_dir() || !seen.first_visit(&meta) {
                continue;
            }
            read_store_file(&path, &mut ders, &mut out);
        }
    }
    ders.sort_unstable();
    ders.dedup();
    out.candidates = ders
        .into_iter()
        .map(|der| Candidate {
            der,
            source: Source::System,
        })
        .collect();
    out
}

fn read_store_file(path: &Path, ders: &mut Vec<Vec<u8>>, out: &mut Gathered) {
    let mut problem = |reason: String| {
        out.problem(&Source::System, format!("{}: {reason}", path.display()));
    };
    let bytes = match read_regular(path) {
        Ok(bytes) => bytes,
        Err(reason) => return problem(reason),
    };
    for block in pem::parse_keeping_trust(&bytes) {
        match block {
            Ok(der) => ders.push(der),
            Err(reason) => problem(reason),
        }
    }
}

/// Files already read, by identity (device and inode) where the OS has one.
#[derive(Default)]
struct SeenFiles {
    #[cfg(unix)]
    ids: std::collections::HashSet<(u64, u64)>,
}

impl SeenFiles {
    fn first_visit(&mut self, meta: &Metadata) -> bool {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            self.ids.insert((meta.dev(), meta.ino()))
        }
        #[cfg(not(unix))]
        {
            let _ = meta;
            true
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn fifos_devices_and_folders_are_refused_without_blocking() {
        let dir = std::env::temp_dir().join(format!("certifi-native-files-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let fifo = dir.join("fifo");
        let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        let _ = fs::remove_file(&fifo);
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
        let link = dir.join("zero");
        let _ = fs::remove_file(&link);
        std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
        assert!(read_regular(&fifo).unwrap_err().contains("a FIFO"));
        assert!(read_regular(&link)
            .unwrap_err()
            .contains("a character device"));
        assert!(read_regular(&dir).unwrap_err().contains("a folder"));
        let store = read_store(&StorePaths {
            file: Some(fifo.clone()),
            dirs: vec![dir.clone()],
        });
        assert!(store.candidates.is_empty());
        assert_eq!(store.problems.len(), 2, "the FIFO once, /dev/zero once");
        fs::remove_dir_all(&dir).unwrap();
    }
}
