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
use super::{mozilla, system, Distrust, Gathered, OsStore, Problem, Source, Watched};
use crate::authroot::{self, ServerTrust};
use crate::registry;

/// Where Windows caches the AuthRoot list, and the value holding it.
pub const AUTHROOT_LIST_KEY: &str =
    r"HKLM\SOFTWARE\Microsoft\SystemCertificates\AuthRoot\AutoUpdate";
pub const AUTHROOT_LIST_VALUE: &str = "EncodedCtl";

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
const DISABLED_BY_LIST: &str = "disabled for servers by Windows' AuthRoot list";

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
    let (part, note) = authroot_part(
        registry::read_binary(AUTHROOT_LIST_KEY, AUTHROOT_LIST_VALUE),
        &mut out.distrust,
        now,
    );
    out.parts.push(part);
    out.notes.push(note);
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

/// The part the AuthRoot list adds, from the list as read from the registry,
/// and what to say about it. No list, or an unreadable one: Mozilla's whole
/// set, said so (a short store is worse than a few roots Windows would not fetch).
fn authroot_part(
    blob: std::io::Result<Option<Vec<u8>>>,
    distrust: &mut Distrust,
    now: i64,
) -> ((Source, Gathered), String) {
    let place = format!(r"{AUTHROOT_LIST_KEY}\{AUTHROOT_LIST_VALUE}");
    let list = match blob {
        Ok(Some(blob)) => authroot::parse(&blob).map_err(|why| format!("unreadable ({why})")),
        Ok(None) => Err("absent".to_owned()),
        Err(err) => Err(format!("unreadable ({err})")),
    };
    let list = match list {
        Ok(list) => list,
        Err(why) => {
            let note = format!(
                "Windows' AuthRoot list ({place}) is {why}: added Mozilla's set instead, \
                 minus the Disallowed store"
            );
            return ((Source::Mozilla, mozilla()), note);
        }
    };
    let mut trusted = HashSet::new();
    let (mut not_for_servers, mut disabled) = (0, 0);
    for entry in &list.entries {
        match entry.server_trust(now) {
            ServerTrust::Trusted => {
                trusted.insert(entry.sha1);
            }
            ServerTrust::NotForServers => not_for_servers += 1,
            ServerTrust::Disallowed => {
                distrust.insert(entry.sha1, DISABLED_BY_LIST);
                disabled += 1;
            }
        }
    }
    let mut part = mozilla();
    part.candidates
        .retain(|candidate| trusted.contains(&thumbprint(&candidate.der)));
    for candidate in &mut part.candidates {
        candidate.source = Source::AuthRoot;
    }
    part.problems = list
        .problems
        .into_iter()
        .map(|reason| Problem {
            source: Source::AuthRoot,
            reason: format!("AuthRoot list: {reason}"),
        })
        .collect();
    let note = format!(
        "Windows' AuthRoot list (sequence {}): {} entries, {} trusted for servers, {not_for_servers} \
         not for servers, {disabled} disabled; {} of Mozilla's roots are among the trusted",
        list.sequence_number.as_deref().unwrap_or("none"),
        list.entries.len(),
        trusted.len(),
        part.candidates.len()
    );
    ((Source::AuthRoot, part), note)
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
    use crate::authroot::tests::{crafted_ctl, Listed};
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

    #[test]
    fn the_authroot_list_adds_the_mozilla_roots_it_trusts_for_servers() {
        let Some(_changing) = changing_the_stores() else {
            return;
        };
        let set = webpki_root_certs::TLS_SERVER_ROOT_CERTS;
        let (for_servers, code_signing_only) = (set[1].as_ref(), set[2].as_ref());
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
        ]);
        set_authroot_list(Some(&list));
        let with_list = os_store();
        set_authroot_list(Some(b"not a trust list"));
        let unreadable = os_store();
        set_authroot_list(None);
        let absent = os_store();

        let (source, part) = &with_list.parts[1];
        assert_eq!(*source, Source::AuthRoot);
        let added: Vec<&[u8]> = part.candidates.iter().map(|c| c.der.as_slice()).collect();
        assert_eq!(added, [for_servers], "exactly the root trusted for servers");
        assert!(
            with_list.notes[1].contains("2 entries, 1 trusted for servers, 1 not for servers"),
            "{}",
            with_list.notes[1]
        );
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
