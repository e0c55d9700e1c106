//! Windows: `system` mode is what Windows trusts for TLS servers.
//!
//! - the Root store, as rustls-native-certs enumerates it (`system`);
//! - plus each root of Mozilla's set that the AuthRoot list trusts for server
//!   authentication: Windows materializes those roots in its store only when
//!   its own verifier first needs one, so a fresh machine's Root store is short;
//! - minus every certificate in the Disallowed stores and every root the
//!   AuthRoot list disables.
//!
//! All of it lives in the registry, and each store is a key whose last-write
//! time moves when a certificate is added or removed: those keys are the stamp.

use std::collections::HashSet;
use std::time::SystemTime;

use schannel::cert_store::CertStoreBuilder;

use super::distrust::thumbprint;
use super::{mozilla, system, Distrust, OsStore, Problem, Source, Watched};
use crate::authroot::{self, AUTHROOT_LIST_KEY, AUTHROOT_LIST_VALUE};
use crate::registry;

/// The registry trees that hold system stores: the machine's, group policy's,
/// the enterprise's, the user's and the user's policy.
const STORE_TREES: [&str; 5] = [
    r"HKLM\SOFTWARE\Microsoft\SystemCertificates",
    r"HKLM\SOFTWARE\Policies\Microsoft\SystemCertificates",
    r"HKLM\SOFTWARE\Microsoft\EnterpriseCertificates",
    r"HKCU\SOFTWARE\Microsoft\SystemCertificates",
    r"HKCU\SOFTWARE\Policies\Microsoft\SystemCertificates",
];
const STORES: [&str; 3] = ["Root", "AuthRoot", "Disallowed"];

const DISALLOWED_STORE: &str = "in the Windows Disallowed store";

/// Each store's `Certificates` key (a certificate added or removed is a
/// subkey added or removed), and the AuthRoot list's key.
pub fn watched_paths() -> Option<Vec<Watched>> {
    let mut keys: Vec<Watched> = STORE_TREES
        .iter()
        .flat_map(|tree| {
            STORES
                .iter()
                .map(move |store| Watched::RegistryKey(format!(r"{tree}\{store}\Certificates")))
        })
        .collect();
    keys.push(Watched::RegistryKey(AUTHROOT_LIST_KEY.to_owned()));
    Some(keys)
}

pub fn os_store() -> OsStore {
    let mut out = OsStore::default();
    let mut root_store = system();
    let count = read_disallowed(&mut out.distrust, &mut root_store.problems);
    out.notes.push(format!(
        "Windows' Disallowed store: {count} certificates, removed from every source but your extra files"
    ));
    out.parts.push((Source::System, root_store));
    let now = crate::select::unix_seconds(SystemTime::now()) as i64;
    // Which of Mozilla's roots the list adds is decided in authroot.rs, on every platform.
    let part = authroot::select_mozilla(
        registry::read_binary(AUTHROOT_LIST_KEY, AUTHROOT_LIST_VALUE),
        mozilla(),
        &mut out.distrust,
        now,
    );
    out.parts.push((part.source, part.gathered));
    out.notes.push(part.note);
    out
}

/// Adds the thumbprints of the user's and the machine's Disallowed stores
/// (each opened read-only) to `distrust`; returns how many certificates they hold.
fn read_disallowed(distrust: &mut Distrust, problems: &mut Vec<Problem>) -> usize {
    let mut seen = HashSet::new();
    let mut builder = CertStoreBuilder::new();
    builder.read_only();
    let stores = [
        ("user", builder.open_current_user("Disallowed")),
        ("machine", builder.open_local_machine("Disallowed")),
    ];
    for (whose, store) in stores {
        match store {
            Ok(store) => {
                for cert in store.certs() {
                    let sha1 = thumbprint(cert.to_der());
                    distrust.insert(sha1, DISALLOWED_STORE);
                    seen.insert(sha1);
                }
            }
            Err(err) => problems.push(Problem {
                source: Source::System,
                reason: format!("cannot open the {whose}'s Disallowed store: {err}"),
            }),
        }
    }
    seen.len()
}

#[cfg(test)]
mod tests {
    //! These change the machine's stores and registry: they run under wine
    //! (`scripts/release wine`, a throwaway prefix) or where
    //! CERTIFI_NATIVE_TEST_REAL_STORE=1 says the machine may be changed (the
    //! workflow's runners, as administrator); elsewhere they say so and pass.
    use std::sync::Mutex;

    use schannel::cert_context::CertContext;
    use schannel::cert_store::{CertAdd, CertStore};

    use super::*;
    use crate::authroot::tests::{crafted_ctl, filetime, Listed};
    use crate::bundle::{assemble, Report};
    use crate::cache::sources_stamp;
    use crate::select::Root;
    use crate::settings::{Mode, Settings};

    /// One store-changing test at a time.
    static STORES_LOCK: Mutex<()> = Mutex::new(());

    const TEST_ROOT: &[u8] = include_bytes!("../../tests/data/windows-root.der");
    const TEST_DISALLOWED: &[u8] = include_bytes!("../../tests/data/windows-disallowed.der");
    const SERVER: &str = "1.3.6.1.5.5.7.3.1";
    const CODE_SIGNING: &str = "1.3.6.1.5.5.7.3.3";

    fn system_mode() -> Settings {
        Settings {
            mode: Mode::System,
            ..Settings::mozilla_only()
        }
    }

    /// The stores to themselves, and the machine's AuthRoot list put back
    /// when done; `None` (said on stderr) where the machine may not be changed.
    struct Changing {
        authroot_list: Option<Vec<u8>>,
        _lock: std::sync::MutexGuard<'static, ()>,
    }

    impl Drop for Changing {
        fn drop(&mut self) {
            set_authroot_list(self.authroot_list.as_deref());
        }
    }

    fn changing_the_stores() -> Option<Changing> {
        let wine = registry::key_fingerprint(r"HKLM\Software\Wine") != "missing";
        if !wine && std::env::var("CERTIFI_NATIVE_TEST_REAL_STORE").as_deref() != Ok("1") {
            eprintln!("not run: changes the machine's stores (CERTIFI_NATIVE_TEST_REAL_STORE=1 allows it)");
            return None;
        }
        // The variables replace the Windows store in rustls-native-certs.
        std::env::remove_var("SSL_CERT_FILE");
        std::env::remove_var("SSL_CERT_DIR");
        let lock = STORES_LOCK.lock().unwrap_or_else(|p| p.into_inner());
        Some(Changing {
            authroot_list: registry::read_binary(AUTHROOT_LIST_KEY, AUTHROOT_LIST_VALUE).unwrap(),
            _lock: lock,
        })
    }

    fn add(store: &str, der: &[u8]) {
        let mut store = CertStore::open_local_machine(store).unwrap();
        store
            .add_cert(&CertContext::new(der).unwrap(), CertAdd::ReplaceExisting)
            .unwrap();
    }

    fn remove(store: &str, der: &[u8]) {
        // Through the registry: wine's crypt32 defers a deletion to the store's
        // last close, which contexts still alive elsewhere can postpone.
        let name: String = thumbprint(der).iter().map(|b| format!("{b:02X}")).collect();
        let tree = STORE_TREES[0];
        registry::delete_tree(&format!(r"{tree}\{store}\Certificates\{name}")).unwrap();
    }

    fn kept(roots: &[Root], der: &[u8]) -> Option<Source> {
        roots
            .iter()
            .find(|r| r.der == der)
            .map(|r| r.source.clone())
    }

    fn dropped_reason(report: &Report, der: &[u8]) -> Option<String> {
        use sha2::{Digest, Sha256};
        let sha256: [u8; 32] = Sha256::digest(der).into();
        report
            .dropped
            .iter()
            .find(|d| d.sha256 == sha256)
            .map(|d| d.reason.clone())
    }

    fn set_authroot_list(blob: Option<&[u8]>) {
        match blob {
            Some(blob) => registry::write_binary(AUTHROOT_LIST_KEY, AUTHROOT_LIST_VALUE, blob),
            None => registry::delete_value(AUTHROOT_LIST_KEY, AUTHROOT_LIST_VALUE),
        }
        .unwrap();
    }

    #[test]
    fn system_mode_keeps_the_root_store_and_drops_the_disallowed_store() {
        let Some(_changing) = changing_the_stores() else {
            return;
        };
        let mozilla_root = webpki_root_certs::TLS_SERVER_ROOT_CERTS[0]
            .as_ref()
            .to_vec();
        set_authroot_list(None); // Mozilla's whole set: mozilla_root is a candidate
        let already = read_disallowed(&mut Distrust::default(), &mut Vec::new());
        add("Root", TEST_ROOT);
        add("Root", TEST_DISALLOWED);
        add("Disallowed", TEST_DISALLOWED);
        add("Disallowed", &mozilla_root);
        let (roots, report) = assemble(&system_mode(), SystemTime::now(), None);
        remove("Root", TEST_ROOT);
        remove("Root", TEST_DISALLOWED);
        remove("Disallowed", TEST_DISALLOWED);
        remove("Disallowed", &mozilla_root);

        assert_eq!(kept(&roots, TEST_ROOT), Some(Source::System));
        assert_eq!(kept(&roots, TEST_DISALLOWED), None);
        assert_eq!(kept(&roots, &mozilla_root), None);
        let distrusted = Some(format!("distrusted: {DISALLOWED_STORE}"));
        assert_eq!(dropped_reason(&report, TEST_DISALLOWED), distrusted);
        assert_eq!(dropped_reason(&report, &mozilla_root), distrusted);
        let count = format!("Windows' Disallowed store: {} certificates", already + 2);
        assert!(
            report.notes.iter().any(|n| n.starts_with(&count)),
            "{count}: {:?}",
            report.notes
        );
        // Out of the Disallowed store, the Mozilla root is back (from wine's
        // Root store, which holds the host's roots, or from Mozilla's set).
        let (roots, _) = assemble(&system_mode(), SystemTime::now(), None);
        assert!(kept(&roots, &mozilla_root).is_some());
    }

    /// `report.sources` of an assembled `system` mode: the parts of `os` in
    /// their order, each loaded whole, and kept but for what `info()` says
    /// was dropped from it.
    fn assert_sources_are_the_parts(os: &OsStore, roots: &[Root], report: &Report) {
        let parts: Vec<(Source, usize)> = os
            .parts
            .iter()
            .map(|(source, part)| (source.clone(), part.candidates.len()))
            .collect();
        let loaded: Vec<(Source, usize)> = report
            .sources
            .iter()
            .map(|s| (s.source.clone(), s.loaded))
            .collect();
        assert_eq!(loaded, parts);
        for s in &report.sources {
            let dropped = report.dropped.iter().filter(|d| d.source == s.source);
            assert_eq!(s.kept, s.loaded - dropped.count(), "{:?}", s.source);
            let in_bundle = roots.iter().filter(|r| r.source == s.source).count();
            assert_eq!(s.kept, in_bundle, "{:?}", s.source);
        }
    }

    /// Three roots of Mozilla's set within their dates, those not in wine's
    /// Root store first (it holds the host's roots): what the list adds then
    /// shows in the bundle as the list's.
    fn three_mozilla_roots(in_root_store: &HashSet<[u8; 20]>) -> [&'static [u8]; 3] {
        let now = crate::select::unix_seconds(SystemTime::now()) as i64;
        let mut roots: Vec<&'static [u8]> = webpki_root_certs::TLS_SERVER_ROOT_CERTS
            .iter()
            .map(|c| c.as_ref())
            .filter(|der| crate::x509::parse(der).is_ok_and(|c| c.not_after.unix > now + 86_400))
            .collect();
        roots.sort_by_key(|der| in_root_store.contains(&thumbprint(der)));
        [roots[0], roots[1], roots[2]]
    }

    #[test]
    fn the_authroot_list_adds_the_mozilla_roots_it_trusts_for_servers() {
        let Some(_changing) = changing_the_stores() else {
            return;
        };
        let set = webpki_root_certs::TLS_SERVER_ROOT_CERTS;
        let in_root_store: HashSet<[u8; 20]> = system()
            .candidates
            .iter()
            .map(|c| thumbprint(&c.der))
            .collect();
        let [for_servers, code_signing_only, disabled] = three_mozilla_roots(&in_root_store);
        let was_in_root_store = |der: &[u8]| in_root_store.contains(&thumbprint(der));
        let now = crate::select::unix_seconds(SystemTime::now()) as i64;
        let list = crafted_ctl(&[
            Listed {
                sha1: thumbprint(for_servers),
                usages: &[SERVER, CODE_SIGNING],
                disallowed: None,
            },
            Listed {
                sha1: thumbprint(code_signing_only),
                usages: &[CODE_SIGNING],
                disallowed: None,
            },
            Listed {
                sha1: thumbprint(disabled),
                usages: &[SERVER],
                disallowed: Some((filetime(now - 86_400), &[])),
            },
        ]);
        // In the Root store, the disabled root is a candidate the list must remove.
        add("Root", disabled);
        set_authroot_list(Some(&list));
        let with_list = os_store();
        let (roots, report) = assemble(&system_mode(), SystemTime::now(), None);
        set_authroot_list(Some(b"not a trust list"));
        let unreadable = os_store();
        set_authroot_list(None);
        let absent = os_store();
        let (absent_roots, absent_report) = assemble(&system_mode(), SystemTime::now(), None);
        if !was_in_root_store(disabled) {
            remove("Root", disabled);
        }

        let (source, part) = &with_list.parts[1];
        assert_eq!(*source, Source::AuthRoot);
        let added: Vec<&[u8]> = part.candidates.iter().map(|c| c.der.as_slice()).collect();
        assert_eq!(added, [for_servers], "exactly the root trusted for servers");
        assert!(
            with_list.notes[1]
                .contains("3 entries, 1 trusted for servers, 1 not for servers, 1 disabled"),
            "{}",
            with_list.notes[1]
        );
        let for_servers_from = kept(&roots, for_servers);
        match was_in_root_store(for_servers) {
            true => assert!(for_servers_from.is_some()),
            false => assert_eq!(for_servers_from, Some(Source::AuthRoot)),
        }
        if !was_in_root_store(code_signing_only) {
            assert_eq!(kept(&roots, code_signing_only), None);
        }
        assert_eq!(kept(&roots, disabled), None);
        assert_eq!(
            dropped_reason(&report, disabled),
            Some(format!("distrusted: {}", authroot::DISABLED_BY_LIST))
        );
        assert_sources_are_the_parts(&with_list, &roots, &report);
        // Without the list nothing disables it: the Root store's copy stays.
        assert_eq!(kept(&absent_roots, disabled), Some(Source::System));
        assert_sources_are_the_parts(&absent, &absent_roots, &absent_report);
        for (store, why) in [(&unreadable, "is unreadable"), (&absent, "is absent")] {
            assert_eq!(store.parts[1].0, Source::Mozilla);
            assert_eq!(store.parts[1].1.candidates.len(), set.len());
            assert!(store.notes[1].contains(why), "{}", store.notes[1]);
        }
    }

    #[test]
    fn a_registry_change_flips_the_stamp() {
        let Some(_changing) = changing_the_stores() else {
            return;
        };
        let watched = watched_paths().unwrap();
        let stamp = || sources_stamp(Some(&watched));
        let before = stamp();
        assert_eq!(before.lines().count(), watched.len());
        assert!(before.lines().all(|l| l.starts_with("reg ")), "{before}");
        assert_eq!(stamp(), before, "nothing changed, nothing moved");
        add("Root", TEST_ROOT);
        let added = stamp();
        remove("Root", TEST_ROOT);
        let removed = stamp();
        set_authroot_list(Some(b"another list"));
        let new_list = stamp();
        set_authroot_list(None);
        assert_ne!(added, before, "a root added");
        assert_ne!(removed, added, "a root removed");
        assert_ne!(new_list, removed, "a new AuthRoot list");
    }
}
