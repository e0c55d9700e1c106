//! Windows: the store lives in the registry and group policy, with no file to
//! watch cheaply, so it is re-read at the first `where()` of each process.

use std::path::PathBuf;

pub fn watched_paths() -> Option<Vec<PathBuf>> {
    None
}
