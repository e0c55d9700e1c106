//! Records which version of Mozilla's set (the webpki-root-certs crate) is compiled in.

fn main() {
    // The workspace's lock file; an sdist may also keep one beside this crate.
    let lock = ["../Cargo.lock", "Cargo.lock"]
        .iter()
        .find_map(|path| {
            println!("cargo:rerun-if-changed={path}");
            std::fs::read_to_string(path).ok()
        })
        .unwrap_or_default();
    let version = lock
        .split("[[package]]")
        .find(|entry| entry.contains("name = \"webpki-root-certs\""))
        .and_then(|entry| entry.lines().find_map(|l| l.strip_prefix("version = \"")))
        .map(|v| v.trim_end_matches('"').to_owned())
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=WEBPKI_ROOT_CERTS_VERSION={version}");
}
