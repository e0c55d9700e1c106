//! The core of certifi-native, with no Python in it: one module per job. The
//! PyO3 facade (the crate at the workspace root) is the only caller; keeping
//! Python out lets this crate build and run its tests on every target,
//! Windows under wine included.

pub mod appended;
pub mod authroot;
pub mod bundle;
pub mod cache;
pub mod check;
pub mod hashed_dir;
pub mod pem;
pub mod record;
pub mod registry;
pub mod roots;
pub mod select;
pub mod self_signed;
pub mod settings;
pub mod subject_hash;
pub mod trust;
pub mod x509;
