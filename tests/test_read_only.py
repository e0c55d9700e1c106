"""Read-only environments (issue 10, part 1): a container whose HOME and temp
dirs are read-only still trusts the CAs of its image's store; a cache built at
image-build time (`certifi-native build --cache-dir`) serves another uid as it
is; info() describes the file served."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path
from typing import Any

import pytest
import trustme
from conftest import (
    as_user,
    require_user_python,
    bundle_ders,
    clean_env,
    der_of,
    https_server,
    make_store,
    openssl_roots,
    probe,
    run,
    run_namespaced,
    run_with_store,
    write_pem,
)
from test_cache import PACKAGED
from test_trusted_certificates import SETTINGS, handshake_ok, trusted_block

# where(), info(), capath(), and whether requests (through the variable the
# start-up hook set) verified the server at argv[1]; after refresh() if argv[2] says so.
CLIENT = r"""
import json, os, sys, requests, certifi_native as c
if sys.argv[2:] == ["refresh"]:
    c.refresh()
seen = {"where": c.where(), "info": c.info(), "capath": c.capath(),
        "exported": os.environ.get("REQUESTS_CA_BUNDLE"), "uid": os.geteuid()}
try:
    seen["status"] = requests.get(sys.argv[1], timeout=30).status_code
except Exception as error:
    seen["status"] = type(error).__name__
print(json.dumps(seen))
"""


def read_only(*folders: Path | str) -> str:
    """Shell commands (for run_namespaced) that make each folder read-only."""
    # --rbind keeps what is mounted below (a checkout bound into a chroot's /tmp):
    # only the folder itself turns read-only.
    return " && ".join(f"mount --rbind {f} {f} && mount -o remount,bind,ro {f}" for f in folders)


def read_only_container(env: dict[str, str]) -> str:
    """Shell commands that make /tmp, and HOME and TMPDIR wherever they are, read-only."""
    return read_only("/tmp", env["HOME"], env["TMPDIR"])


def bind_store(store: Path) -> str:
    return f"mount --bind {store} /etc/ssl/certs"


def client(
    setup: str, env: dict[str, str], url: str, user: tuple[int, int] | None = None, *more: str
) -> dict[str, Any]:
    argv: list[Any] = [sys.executable, "-c", CLIENT, url, *more]
    if user:
        require_user_python(user)
    proc = run_namespaced(setup, as_user(user, argv) if user else argv, env)
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


@pytest.mark.usefixtures("namespaces")
def test_a_read_only_container_serves_the_os_bundle_file(tmp_path: Path, home: Path, ca: trustme.CA) -> None:
    # The image's store holds a test CA; HOME, TMPDIR and /tmp are read-only.
    store = make_store(tmp_path / "store", ca.cert_pem.bytes())
    env = clean_env(home)
    with https_server(ca.issue_cert("localhost", "127.0.0.1")) as url:
        seen = client(f"{bind_store(store)} && {read_only_container(env)}", env, url)
    cache = seen["info"]["cache"]
    assert seen["where"] == "/etc/ssl/certs/ca-certificates.crt" == seen["exported"] == seen["capath"]
    assert cache["served_from"] == "os-file" and cache["degraded"] is True
    assert "Read-only file system" in cache["degraded_reason"]
    assert "serving the OS's bundle file /etc/ssl/certs/ca-certificates.crt as it is" in cache["degraded_reason"]
    assert seen["status"] == 200, "requests verified the server through the CA of the image"
    # info() counts what the served file holds (here: the one CA), not another build.
    assert seen["info"]["roots"] == 1 == openssl_roots(store / "ca-certificates.crt")
    assert [(s["name"], s["kept"]) for s in seen["info"]["sources"]] == [("system", 1)]


@pytest.mark.usefixtures("namespaces")
@pytest.mark.parametrize("why", ["extra files", "an OS file that does not parse"])
def test_a_read_only_container_serves_the_packaged_file_otherwise(
    why: str, tmp_path: Path, home: Path, ca: trustme.CA
) -> None:
    env = clean_env(home)
    store_pems = [ca.cert_pem.bytes()]
    if why == "extra files":  # the OS's file would leave them out
        env["CERTIFI_NATIVE_EXTRA_CA_CERTS"] = str(write_pem(tmp_path / "extra.pem", ca.cert_pem.bytes()))
    else:  # one block OpenSSL could not load would fail the whole file
        store_pems.append(b"-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n")
    store = make_store(tmp_path / "store", *store_pems)
    with https_server(ca.issue_cert("localhost", "127.0.0.1")) as url:
        seen = client(f"{bind_store(store)} && {read_only_container(env)}", env, url)
    assert seen["where"] == str(PACKAGED) and seen["info"]["cache"]["served_from"] == "packaged"
    # What the packaged file holds, not what a build would have held.
    assert seen["info"]["roots"] == openssl_roots(PACKAGED) == len(bundle_ders(PACKAGED.read_text("ascii")))
    assert [s["name"] for s in seen["info"]["sources"]] == ["mozilla"]
    assert seen["status"] == "SSLError", "the packaged Mozilla set does not hold the test CA"


@pytest.mark.usefixtures("namespaces")
def test_a_read_only_container_counts_trusted_blocks_of_the_os_file(
    tmp_path: Path, home: Path, ca: trustme.CA, other_ca: trustme.CA
) -> None:
    # SSL_CERT_FILE holds OpenSSL's TRUSTED CERTIFICATE blocks: one CA trusted
    # for serverAuth, one rejected for it. Nothing can be cached: it is served as it is.
    trusted, rejected = "trust serverAuth", "reject serverAuth"
    cert_file = write_pem(
        tmp_path / "trusted.pem",
        trusted_block(ca, SETTINGS[trusted][0], home),
        trusted_block(other_ca, SETTINGS[rejected][0], home),
    )
    env = clean_env(home, SSL_CERT_FILE=str(cert_file))
    with https_server(ca.issue_cert("localhost")) as good, https_server(other_ca.issue_cert("localhost")) as bad:
        seen = client(read_only_container(env), env, good)
        refused = client(read_only_container(env), env, bad)
        # What OpenSSL trusts for TLS servers in the file: it loads both, and
        # applies the trust settings when it verifies.
        openssl_trusts = sum(handshake_ok(str(cert_file), url) for url in (good, bad))
    assert seen["where"] == str(cert_file) == seen["exported"]
    assert seen["info"]["cache"]["served_from"] == "os-file"
    assert "Read-only file system" in seen["info"]["cache"]["degraded_reason"]
    assert seen["info"]["roots"] == openssl_trusts == 1 and openssl_roots(cert_file) == 2
    assert [(s["name"], s["loaded"], s["kept"]) for s in seen["info"]["sources"]] == [("system", 2, 1)]
    assert [d["reason"] for d in seen["info"]["dropped"]] == ["OpenSSL trust settings reject it for serverAuth"]
    assert seen["status"] == 200, "the CA trusted for serverAuth vouches for its server"
    assert refused["status"] == "SSLError", "the CA rejected for serverAuth does not"


@pytest.mark.usefixtures("namespaces")
def test_a_read_only_container_never_serves_an_os_file_of_rejected_roots(
    tmp_path: Path, home: Path, other_ca: trustme.CA
) -> None:
    cert_file = write_pem(tmp_path / "rejected.pem", trusted_block(other_ca, SETTINGS["reject serverAuth"][0], home))
    env = clean_env(home, SSL_CERT_FILE=str(cert_file))
    with https_server(other_ca.issue_cert("localhost")) as url:
        seen = client(read_only_container(env), env, url)
        assert not handshake_ok(str(cert_file), url)
    assert seen["where"] == str(PACKAGED) and seen["info"]["cache"]["served_from"] == "packaged"
    assert seen["info"]["roots"] == openssl_roots(PACKAGED)
    assert seen["status"] == "SSLError"


def build_as_root(store: Path, cache: Path, env: dict[str, str]) -> Path:
    proc = run_with_store(store, [sys.executable, "-m", "certifi_native", "build", "--cache-dir", cache], env)
    return Path(proc.stdout.strip())


def snapshot(folder: Path) -> dict[str, tuple[int, int, int, int]]:
    """Every entry of the cache folder: inode, size, mtime and ctime (a rewrite moves them)."""
    out = {}
    for path in sorted(folder.rglob("*")):
        meta = path.lstat()
        out[str(path.relative_to(folder))] = (meta.st_ino, meta.st_size, meta.st_mtime_ns, meta.st_ctime_ns)
    return out


@pytest.mark.usefixtures("namespaces")
def test_a_cache_built_as_root_serves_another_uid_read_only(
    shared_dir: Path, ca: trustme.CA, second_user: tuple[int, int]
) -> None:
    store = make_store(shared_dir / "store", ca.cert_pem.bytes(), with_host=True)
    cache = shared_dir / "opt" / "certifi-native"
    built = build_as_root(store, cache, clean_env(shared_dir / "root-home"))
    assert built.parent == cache and der_of(ca.cert_pem.bytes()) in bundle_ders(built.read_text("ascii"))
    # Readable by all: created 0755 (whatever the umask), files 0644.
    capath = built.with_suffix(".capath")
    assert [stat.S_IMODE(p.stat().st_mode) for p in (cache.parent, cache, capath)] == [0o755] * 3
    assert {stat.S_IMODE(p.stat().st_mode) for p in [built, *capath.iterdir()]} == {0o644}
    assert (cache / "startup-record").is_file()
    before = snapshot(cache)

    # At run time: another uid, the whole of /tmp (its HOME and the cache) read-only.
    home = shared_dir / "user-home"
    env = clean_env(home, CERTIFI_NATIVE_CACHE_DIR=str(cache))
    with https_server(ca.issue_cert("localhost", "127.0.0.1")) as url:
        seen = client(f"{bind_store(store)} && {read_only_container(env)}", env, url, second_user)
        # refresh() cannot rewrite it: the bundle, current by its stamp, is still served.
        refreshed = client(f"{bind_store(store)} && {read_only_container(env)}", env, url, second_user, "refresh")
    assert refreshed["where"] == str(built) and refreshed["info"]["cache"]["served_from"] == "cache"
    assert refreshed["info"]["cache"]["refused"][0].startswith(f"{cache}: cannot write: Read-only file system")
    assert seen["uid"] == second_user[0] and seen["where"] == str(built) == seen["exported"]
    assert seen["info"]["cache"]["served_from"] == "cache" and seen["info"]["cache"]["degraded"] is False
    assert seen["capath"] == str(capath), "the hashed folder built with it is trusted too"
    assert seen["status"] == 200
    assert seen["info"]["roots"] == len(bundle_ders(built.read_text("ascii")))
    assert snapshot(cache) == before, "served as it is: nothing rebuilt"


@pytest.mark.usefixtures("namespaces")
@pytest.mark.parametrize("how", ["group-writable", "owned by another non-root uid"])
def test_a_built_cache_others_could_change_is_refused(
    how: str, shared_dir: Path, ca: trustme.CA, second_user: tuple[int, int]
) -> None:
    store = make_store(shared_dir / "store", ca.cert_pem.bytes(), with_host=True)
    cache = shared_dir / "certifi-native"
    built = build_as_root(store, cache, clean_env(shared_dir / "root-home"))
    if how == "group-writable":
        cache.chmod(0o775)
        why = "other users can write to it (mode 775)"
    else:
        os.chown(cache, 4321, 4321)
        why = f"it is owned by uid 4321, neither by uid {second_user[0]} nor by root"
    env = clean_env(shared_dir / "user-home", CERTIFI_NATIVE_CACHE_DIR=str(cache))
    with https_server(ca.issue_cert("localhost", "127.0.0.1")) as url:
        seen = client(f"{bind_store(store)} && {read_only_container(env)}", env, url, second_user)
    assert seen["info"]["cache"]["refused"][0] == f"{cache}: {why}"
    assert seen["where"] != str(built) and seen["info"]["cache"]["served_from"] == "os-file"
    assert seen["status"] == 200, "the OS's own file still holds the CA"


def test_build_names_its_folder_or_fails_with_the_reason(tmp_path: Path, home: Path) -> None:
    env = clean_env(home)
    proc = run([sys.executable, "-m", "certifi_native", "build", "--cache-dir", "/dev/null/cache"], env, check=False)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.startswith("certifi-native build: no usable cache folder (/dev/null/cache: /dev/null ")
    assert proc.stderr.count("\n") == 1
    # Without a folder: where where() would put it, and where() then serves it.
    code = "import json, certifi_native as c; print(json.dumps([c.build(), c.where()]))"
    built, where = json.loads(run([sys.executable, "-c", code], env).stdout)
    assert built == where and Path(where).parent == home / ".cache" / "certifi-native"
    assert Path(where).with_suffix(".capath").is_dir() and (home / ".cache/certifi-native/startup-record").is_file()


def test_info_describes_the_served_bundle_not_a_fresh_build(
    tmp_path: Path, home: Path, ca: trustme.CA, other_ca: trustme.CA
) -> None:
    # A file edited in place inside a watched folder is not noticed (the
    # folder's mtime does not move): the bundle served still holds one root.
    folder = tmp_path / "certs"
    pem = write_pem(folder / "ca.pem", ca.cert_pem.bytes())
    env = clean_env(home, SSL_CERT_DIR=str(folder))
    first = probe(env)
    assert first["info"]["roots"] == 1 and first["info"]["notes"] == []
    with open(pem, "ab") as file:
        file.write(other_ca.cert_pem.bytes())
    seen = probe(env)
    assert seen["where"] == first["where"] and seen["info"]["cache"]["served_from"] == "cache"
    assert len(bundle_ders(Path(seen["where"]).read_text("ascii"))) == seen["info"]["roots"] == 1
    assert [(s["name"], s["kept"]) for s in seen["info"]["sources"]] == [("system", 1)]
    assert any("now give 2 roots" in note and "refresh()" in note for note in seen["info"]["notes"])
