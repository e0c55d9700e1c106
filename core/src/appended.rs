//! Certificates a user appended to a bundle we served: the recipe TLS-inspection
//! vendors give (`cat corp-root.pem >> "$(python -m certifi)"`), and start-up
//! hooks that append their CA when it is missing.
//!
//! Every bundle we write is sealed: a comment line gives the length and SHA-256
//! of what follows it. Before a bundle is rebuilt (its stamp no longer matches),
//! `absorb` tells what was appended after our text from a change to our text.
//! Appended certificates that pass the usual judging are kept in the cache
//! folder's `appended.pem`, a source of every later bundle of that folder;
//! anything else is left out, and each finding goes to `repairs.log` for `info()`.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};
use x509_cert::der::DateTime;

use crate::bundle::Build;
use crate::cache;
use crate::pem;
use crate::roots::{Candidate, Gathered, Problem, Source};
use crate::select;
use crate::settings::Settings;

/// In the cache folder: the kept certificates, and what was found and done.
pub const FILE_NAME: &str = "appended.pem";
pub const LOG_NAME: &str = "repairs.log";
const SEAL: &str = "# Sealed by certifi-native: the next ";
const SEAL_MIDDLE: &str = " bytes have SHA-256 ";
const SEAL_END: &str = "; anything after them was appended";
/// Larger files are not looked into (ours are a few hundred KiB).
const MAX_LOOKED_AT: u64 = 16 << 20;
const LOG_LINES: usize = 20;

/// `text` (a header of `# ` lines, then the body) with the seal line after
/// the header.
pub fn sealed(text: &str) -> String {
    let header_len: usize = text
        .split_inclusive('\n')
        .take_while(|line| line.starts_with("# "))
        .map(str::len)
        .sum();
    let (header, body) = text.split_at(header_len);
    let digest = pem::hex(&Sha256::digest(body.as_bytes()));
    format!(
        "{header}{SEAL}{}{SEAL_MIDDLE}{digest}{SEAL_END}\n{body}",
        body.len()
    )
}

/// What a bundle file holds besides our sealed text.
#[derive(Debug, PartialEq)]
enum Found<'a> {
    /// Our text alone, or no seal at all (written by an older version).
    Intact,
    /// Our text, unchanged, then these bytes.
    Appended(&'a [u8]),
    /// Our text itself was changed.
    Changed(&'static str),
}

fn examine(bytes: &[u8]) -> Found<'_> {
    let at = bytes
        .windows(SEAL.len())
        .position(|w| w == SEAL.as_bytes())
        .filter(|&at| at == 0 || bytes[at - 1] == b'\n');
    let Some(at) = at else {
        return Found::Intact;
    };
    let after = &bytes[at + SEAL.len()..];
    let line_len = after
        .iter()
        .position(|&b| b == b'\n')
        .unwrap_or(after.len());
    let seal = std::str::from_utf8(&after[..line_len])
        .ok()
        .and_then(|line| line.strip_suffix(SEAL_END))
        .and_then(|line| line.split_once(SEAL_MIDDLE))
        .and_then(|(len, digest)| Some((len.parse::<usize>().ok()?, digest)));
    let Some((len, digest)) = seal else {
        return Found::Changed("its seal line was changed");
    };
    let start = at + SEAL.len() + line_len + 1;
    let Some(body) = start.checked_add(len).and_then(|end| bytes.get(start..end)) else {
        return Found::Changed("it is shorter than its seal says (cut, or changed)");
    };
    if pem::hex(&Sha256::digest(body)) != digest {
        return Found::Changed("its text was changed, not only appended to");
    }
    match &bytes[start + len..] {
        [] => Found::Intact,
        tail => Found::Appended(tail),
    }
}

/// Before `bundle` is rebuilt: keeps in its folder's `appended.pem` the
/// certificates appended to it that pass the judging (once each), and logs
/// what else was found (the rebuild leaves it out: that is the repair).
///
/// When the file may be served as it is (our text is what `settings` give
/// now, and everything appended was kept), returns what `Build::new`
/// would, with the file's own text: it is then only stamped, not rewritten, so
/// a hook that checks for its CA's bytes at the end finds them.
pub fn absorb(settings: &Settings, bundle: &Path, now: SystemTime) -> Option<Build> {
    let (Some(dir), Ok(meta)) = (bundle.parent(), fs::symlink_metadata(bundle)) else {
        return None; // no bundle yet
    };
    let name = bundle
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let mut notes = Vec::new();
    let mut as_is = None;
    if !meta.is_file() {
        notes.push(format!("{name} was not a regular file: replaced"));
    } else if meta.len() > MAX_LOOKED_AT {
        notes.push(format!(
            "{name} had grown to {} bytes: rebuilt without looking",
            meta.len()
        ));
    } else if let Ok(bytes) = fs::read(bundle) {
        match examine(&bytes) {
            Found::Intact => {}
            Found::Changed(why) => notes.push(format!("{name}: {why}: rebuilt")),
            Found::Appended(tail) => {
                let ours = Build::new(settings, now, Some(dir));
                let current = bytes[..bytes.len() - tail.len()] == *ours.text.as_bytes();
                let kept_until = keep(dir, &name, tail, now, &mut notes);
                if let (true, Some(kept_until), Ok(text)) =
                    (current, kept_until, std::str::from_utf8(&bytes))
                {
                    // Judged again with what was just kept, for the report.
                    let kept = Build::new(settings, now, Some(dir));
                    as_is = Some(Build {
                        text: text.to_owned(),
                        roots: kept.roots,
                        valid_until: ours.valid_until.min(kept_until),
                        report: kept.report,
                    });
                }
            }
        }
    }
    log(dir, now, &notes);
    as_is
}

/// Keeps the good certificates of `tail`; returns when the first of them
/// expires if `tail` held nothing else (nothing left out, no duplicate).
fn keep(
    dir: &Path,
    name: &str,
    tail: &[u8],
    now: SystemTime,
    notes: &mut Vec<String>,
) -> Option<u64> {
    let target = dir.join(FILE_NAME);
    let source = Source::Appended(target.clone());
    let mut clean = true;
    let mut candidates = Vec::new();
    for block in pem::parse(tail) {
        match block {
            Ok(der) => candidates.push(Candidate {
                der,
                source: source.clone(),
            }),
            Err(reason) => {
                clean = false;
                notes.push(format!("appended to {name}: {reason}: left out"));
            }
        }
    }
    if has_text_outside_blocks(tail) {
        clean = false;
        notes.push(format!(
            "appended to {name}: text that is not a PEM block: left out"
        ));
    }
    let (mut text, kept_before) = match gather(dir) {
        Some((_, gathered, _)) => (
            fs::read_to_string(&target).unwrap_or_default(),
            gathered.candidates,
        ),
        None => (String::new(), Vec::new()),
    };
    let mut seen: HashSet<[u8; 32]> = kept_before
        .iter()
        .map(|c| Sha256::digest(&c.der).into())
        .collect();
    let selection = select::select(candidates, now, &mut seen);
    for dropped in selection.dropped {
        clean = false; // a duplicate too: the rebuild lists each root once
        if !dropped.reason.starts_with("duplicate") {
            let what = dropped
                .subject
                .unwrap_or_else(|| pem::colon_hex(&dropped.sha256));
            notes.push(format!(
                "appended to {name}: {}: {what}: left out",
                dropped.reason
            ));
        }
    }
    let until = selection.kept.iter().map(|r| r.not_after).min();
    if selection.kept.is_empty() {
        return clean.then_some(u64::MAX);
    }
    let when = timestamp(now);
    for root in &selection.kept {
        text.push_str(&format!(
            "# Subject: {}\n# Appended to {name}, found {when}\n{}",
            root.subject.escape_default(),
            pem::block(&root.der)
        ));
        notes.push(format!(
            "appended to {name}: {}: kept in {} (the durable way: CERTIFI_NATIVE_EXTRA_CA_CERTS)",
            root.subject,
            target.display()
        ));
    }
    if let Err(err) = cache::write_atomic(&target, text.as_bytes()) {
        notes.push(format!("cannot write {}: {err}", target.display()));
        return None;
    }
    until.filter(|_| clean)
}

/// Whether `tail` holds anything but PEM blocks, `#` comments and blank lines.
fn has_text_outside_blocks(tail: &[u8]) -> bool {
    let mut inside = false;
    String::from_utf8_lossy(tail).lines().any(|line| {
        let line = line.trim();
        if line.starts_with("-----BEGIN ") {
            inside = true;
        } else if line.starts_with("-----END ") {
            inside = false;
            return false;
        }
        !inside && !line.is_empty() && !line.starts_with('#')
    })
}

/// The certificates kept in `dir`, as a source of a bundle, with a note for `info()`.
pub fn gather(dir: &Path) -> Option<(Source, Gathered, String)> {
    let path: PathBuf = dir.join(FILE_NAME);
    let meta = fs::symlink_metadata(&path).ok()?;
    let source = Source::Appended(path.clone());
    let mut out = Gathered::default();
    let bytes = match (meta.is_file() && meta.len() <= MAX_LOOKED_AT).then(|| fs::read(&path)) {
        Some(Ok(bytes)) => bytes,
        _ => {
            out.problems.push(Problem {
                source: source.clone(),
                reason: "not a regular file of a sane size, or unreadable".to_owned(),
            });
            Vec::new()
        }
    };
    for block in pem::parse(&bytes) {
        match block {
            Ok(der) => out.candidates.push(Candidate {
                der,
                source: source.clone(),
            }),
            Err(reason) => out.problems.push(Problem {
                source: source.clone(),
                reason,
            }),
        }
    }
    let note = format!(
        "{} certificate(s) appended to a bundle of this cache folder are kept in {} and in every bundle \
         built here; the durable way is CERTIFI_NATIVE_EXTRA_CA_CERTS={}",
        out.candidates.len(),
        path.display(),
        path.display()
    );
    Some((source, out, note))
}

/// What `absorb` found in `dir`, most recent last, each line stamped with its time.
pub fn repairs(dir: &Path) -> Vec<String> {
    let path = dir.join(LOG_NAME);
    let small = fs::symlink_metadata(&path).is_ok_and(|m| m.is_file() && m.len() <= 1 << 16);
    let text = if small {
        fs::read_to_string(&path).unwrap_or_default()
    } else {
        String::new()
    };
    text.lines().map(str::to_owned).collect()
}

/// Adds `notes` to the folder's log, keeping the last `LOG_LINES`. Best effort.
fn log(dir: &Path, now: SystemTime, notes: &[String]) {
    if notes.is_empty() {
        return;
    }
    let when = timestamp(now);
    let mut lines = repairs(dir);
    lines.extend(
        notes
            .iter()
            .map(|note| format!("{when} {}", note.replace('\n', " "))),
    );
    let first = lines.len().saturating_sub(LOG_LINES);
    let text: String = lines[first..].iter().map(|l| format!("{l}\n")).collect();
    let _ = cache::write_atomic_unsynced(&dir.join(LOG_NAME), text.as_bytes());
}

fn timestamp(now: SystemTime) -> String {
    now.duration_since(UNIX_EPOCH)
        .ok()
        .and_then(|d| DateTime::from_unix_duration(d).ok())
        .map_or_else(|| "?".to_owned(), |t| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# certifi-native: 1 root\n# second line\n\n# Subject: x\n-----BEGIN CERTIFICATE-----\nMAMCAQU=\n-----END CERTIFICATE-----\n";

    #[test]
    fn the_seal_tells_appended_from_changed() {
        let ours = sealed(TEXT);
        assert!(ours.starts_with(
            "# certifi-native: 1 root\n# second line\n# Sealed by certifi-native: the next "
        ));
        assert!(ours.ends_with(TEXT.split_at(40).1));
        assert_eq!(examine(ours.as_bytes()), Found::Intact);
        assert_eq!(
            examine(TEXT.as_bytes()),
            Found::Intact,
            "unsealed: an older version's"
        );
        let appended = format!("{ours}\nextra");
        assert_eq!(examine(appended.as_bytes()), Found::Appended(b"\nextra"));
        let changed = ours.replace("MAMCAQU=", "MAMCAQY=");
        assert!(matches!(examine(changed.as_bytes()), Found::Changed(_)));
        let cut = &ours[..ours.len() - 3];
        assert!(matches!(examine(cut.as_bytes()), Found::Changed(_)));
        let bad_seal = ours.replace(" bytes have", " bytes had");
        assert!(matches!(examine(bad_seal.as_bytes()), Found::Changed(_)));
    }

    #[test]
    fn comments_and_blank_lines_are_not_garbage() {
        assert!(!has_text_outside_blocks(
            b"\n# my CA\n-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
        ));
        assert!(has_text_outside_blocks(b"\nhello\n"));
        assert!(has_text_outside_blocks(
            b"-----BEGIN CERTIFICATE-----\nAA\n-----END CERTIFICATE-----\nzz"
        ));
    }
}
