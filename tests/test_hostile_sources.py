"""Sources that are not certificate files: a FIFO, a link to /dev/zero, a huge
file, named by SSL_CERT_FILE, SSL_CERT_DIR, the OS store or
CERTIFI_NATIVE_EXTRA_CA_CERTS. None may hang or abort an interpreter start
(the start-up hook calls where()); each is reported and the rest is kept."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
import trustme
from conftest import PROBE, bundle_ders, clean_env, der_of, make_store, openssl_roots, probe, run, run_with_store, write_pem

# A hanging read is the bug: fail fast instead of waiting for the default timeout.
TIMEOUT = 60


def hostile(folder: Path) -> dict[str, Path]:
    """A FIFO, a symbolic link to /dev/zero and a 17 MiB file in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    fifo, zero, huge = folder / "fifo.pem", folder / "zero.pem", folder / "huge.pem"
    os.mkfifo(fifo)
    zero.symlink_to("/dev/zero")
    with open(huge, "wb") as out:
        out.truncate(17 << 20)
    return {"a FIFO": fifo, "a character device": zero, "larger than 16 MiB": huge}


def start(env: dict[str, str], store: Path | None = None) -> dict[str, Any]:
    """A fresh interpreter (the start-up hook runs first), then where() and info()."""
    argv = [sys.executable, "-c", PROBE]
    proc = run_with_store(store, argv, env, timeout=TIMEOUT) if store else run(argv, env, timeout=TIMEOUT)
    seen: dict[str, Any] = json.loads(proc.stdout)
    assert openssl_roots(seen["where"]) == len(bundle_ders(Path(seen["where"]).read_text("ascii"))) > 0
    return seen


def reasons_for(report: dict[str, Any], path: Path) -> list[str]:
    return [e["reason"] for e in report["errors"] if str(path) in e["reason"] or str(path) in e["source"]]


@pytest.mark.parametrize("kind", ["a FIFO", "a character device", "larger than 16 MiB"])
def test_ssl_cert_file(kind: str, tmp_path: Path, home: Path) -> None:
    path = hostile(tmp_path / "bad")[kind]
    seen = start(clean_env(home, SSL_CERT_FILE=str(path)))
    assert seen["info"]["mozilla_fallback"] is True
    (reason,) = reasons_for(seen["info"], path)
    assert reason.startswith(f"{path}: cannot read the file: ") and kind in reason, reason


def test_extra_files(tmp_path: Path, home: Path, ca: trustme.CA) -> None:
    bad = hostile(tmp_path / "bad")
    good = write_pem(tmp_path / "ca.pem", ca.cert_pem.bytes())
    store = write_pem(tmp_path / "store.pem", trustme.CA().cert_pem.bytes())
    extras = os.pathsep.join(map(str, [*bad.values(), good]))
    seen = start(clean_env(home, SSL_CERT_FILE=str(store), CERTIFI_NATIVE_EXTRA_CA_CERTS=extras))
    assert der_of(ca.cert_pem.bytes()) in bundle_ders(Path(seen["where"]).read_text("ascii"))
    for kind, path in bad.items():
        (reason,) = reasons_for(seen["info"], path)
        assert reason.startswith("cannot read the file: ") and kind in reason, reason


def test_ssl_cert_dir(tmp_path: Path, home: Path, ca: trustme.CA) -> None:
    folder = tmp_path / "certs"
    bad = hostile(folder)
    write_pem(folder / "ca.pem", ca.cert_pem.bytes())
    seen = start(clean_env(home, SSL_CERT_DIR=str(folder)))
    assert bundle_ders(Path(seen["where"]).read_text("ascii")) == [der_of(ca.cert_pem.bytes())]
    for kind, path in bad.items():
        (reason,) = reasons_for(seen["info"], path)
        assert kind in reason, reason


@pytest.mark.usefixtures("namespaces")
def test_the_os_store(tmp_path: Path, home: Path, ca: trustme.CA) -> None:
    store = make_store(tmp_path / "store", ca.cert_pem.bytes(), with_host=True)
    bad = hostile(store)
    seen = start(clean_env(home), store)
    assert der_of(ca.cert_pem.bytes()) in bundle_ders(Path(seen["where"]).read_text("ascii"))
    for kind, path in bad.items():
        name = f"/etc/ssl/certs/{path.name}"
        (reason,) = [e["reason"] for e in seen["info"]["errors"] if e["reason"].startswith(name)]
        assert kind in reason, reason
    # The next start is served from the cache with the same answer.
    assert start(clean_env(home), store)["where"] == seen["where"]


def test_other_pem_blocks_in_the_store_are_reported(tmp_path: Path, home: Path, ca: trustme.CA) -> None:
    leaf = ca.issue_cert("leaf.example")
    store = write_pem(tmp_path / "store.pem", ca.cert_pem.bytes(), leaf.private_key_pem.bytes(), b"-----BEGIN X509 CRL-----\nMAA=\n-----END X509 CRL-----\n")
    report = probe(clean_env(home, SSL_CERT_FILE=str(store)))["info"]
    errors = [e["reason"] for e in report["errors"]]
    assert len(errors) == 2 and all(r.startswith(f"{store}: PEM block ") and "is not a certificate" in r for r in errors), errors
    assert "X509 CRL" in errors[1]
