"""What goes into the bundle and how it is written: CERTIFI_NATIVE_EXTRA_CA_CERTS,
every drop with its reason and source, de-duplication, modes, rendering."""

from __future__ import annotations

import datetime
import hashlib
import os
import re
import ssl
import time
from pathlib import Path
from typing import Any

import certifi_native
import pytest
import trustme
from certifi_native import _native
from conftest import bundle_ders, clean_env, der_of, openssl_roots, probe, self_signed_ca, write_pem
from cryptography import x509
from cryptography.x509.oid import NameOID


def expiring_ca_pem(expires_in: datetime.timedelta, name: str = "certifi-native expired test CA") -> bytes:
    """A self-signed CA certificate whose notAfter is ``expires_in`` from now."""
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    der = self_signed_ca(subject, valid_from=datetime.timedelta(days=-30), valid_until=expires_in)
    return ssl.DER_cert_to_PEM_cert(der).encode("ascii")


def extra_env(home: Path, *files: Path, **settings: str) -> dict[str, str]:
    # A fixed OS store (one file), so the host's store plays no part.
    return clean_env(home, CERTIFI_NATIVE_EXTRA_CA_CERTS=os.pathsep.join(map(str, files)), **settings)


@pytest.fixture
def os_store(tmp_path: Path, other_ca: trustme.CA) -> Path:
    return write_pem(tmp_path / "os-store.pem", other_ca.cert_pem.bytes())


def extra_source(report: dict[str, Any], path: Path) -> dict[str, Any]:
    matching: list[dict[str, Any]] = [s for s in report["sources"] if s["label"] == f"extra ({path})"]
    (source,) = matching
    return source


@pytest.mark.parametrize("mode", ["system", "merged", "mozilla"])
def test_extra_ca_is_appended_in_every_mode(
    mode: str, tmp_path: Path, home: Path, ca: trustme.CA, os_store: Path
) -> None:
    extra = write_pem(tmp_path / "extra.pem", ca.cert_pem.bytes())
    seen = probe(extra_env(home, extra, CERTIFI_NATIVE_MODE=mode, SSL_CERT_FILE=str(os_store)))
    ders = bundle_ders(Path(seen["where"]).read_text("ascii"))
    assert ders[-1] == der_of(ca.cert_pem.bytes()), "extras come last"
    assert extra_source(seen["info"], extra) == {
        "name": "extra",
        "label": f"extra ({extra})",
        "loaded": 1,
        "kept": 1,
        "dropped": 0,
        "errors": 0,
    }


def test_bad_entries_are_dropped_with_reasons_and_the_rest_kept(
    tmp_path: Path, home: Path, ca: trustme.CA, other_ca: trustme.CA, os_store: Path
) -> None:
    leaf = ca.issue_cert("leaf.example")
    good = ca.cert_pem.bytes()
    second_good = trustme.CA(organization_name="certifi-native second extra CA").cert_pem.bytes()
    truncated_body = b"".join(good.splitlines(keepends=True)[:4]) + b"-----END CERTIFICATE-----\n"
    mixed = write_pem(
        tmp_path / "mixed.pem",
        b"garbage before the first block\n",
        good,
        b"garbage \x00\xff between blocks\n",
        leaf.cert_chain_pems[0].bytes(),
        expiring_ca_pem(datetime.timedelta(days=-1)),
        leaf.private_key_pem.bytes(),
        truncated_body,
        second_good,
        other_ca.cert_pem.bytes(),  # already in the OS store: a duplicate
        good,  # twice in one file: a duplicate
        b"-----BEGIN CERTIFICATE-----\nMAMCAQU=\n-----END CERTIFICATE-----\n",  # DER, not X.509
        b"-----BEGIN CERTIFICATE-----\nMIIB\n",  # cut off: no END line
    )
    missing = tmp_path / "missing.pem"
    folder = tmp_path / "a-folder"
    folder.mkdir()
    seen = probe(extra_env(home, mixed, missing, folder, SSL_CERT_FILE=str(os_store)))
    report = seen["info"]
    ders = bundle_ders(Path(seen["where"]).read_text("ascii"))
    assert ders == [der_of(other_ca.cert_pem.bytes()), der_of(good), der_of(second_good)]

    label = f"extra ({mixed})"
    dropped = sorted(d["reason"].split(":")[0].split(" on ")[0] for d in report["dropped"] if d["source"] == label)
    assert dropped == sorted(
        [
            "not a CA",
            "expired",
            "not an X.509 certificate",
            "duplicate of a root already kept",
            "duplicate of a root already kept",
        ]
    ), report["dropped"]
    errors = [e["reason"] for e in report["errors"] if e["source"] == label]
    assert len(errors) == 3, errors
    assert re.fullmatch(r'PEM block "(EC )?PRIVATE KEY" at line \d+ is not a certificate', errors[0]), errors
    assert re.fullmatch(r'PEM block "CERTIFICATE" at line \d+ is cut short or not DER', errors[1]), errors
    assert re.fullmatch(r'truncated PEM block "CERTIFICATE" at line \d+: no END line', errors[2]), errors
    assert extra_source(report, mixed) == {
        "name": "extra",
        "label": label,
        "loaded": 7,
        "kept": 2,
        "dropped": 5,
        "errors": 3,
    }
    for path in (missing, folder):
        (problem,) = [e["reason"] for e in report["errors"] if e["source"] == f"extra ({path})"]
        assert problem.startswith("cannot read the file: "), problem
        assert extra_source(report, path)["loaded"] == 0
    assert any("expired test CA" in (d["subject"] or "") for d in report["dropped"])
    assert all(re.fullmatch(r"([0-9A-F]{2}:){31}[0-9A-F]{2}", d["sha256"]) for d in report["dropped"])


def test_a_root_that_expires_is_dropped_by_the_next_process(tmp_path: Path, home: Path, os_store: Path) -> None:
    # The stamp keeps the first expiry; past it the cached bundle is rebuilt.
    expiring = expiring_ca_pem(datetime.timedelta(seconds=2), "certifi-native soon expired CA")
    extra = write_pem(tmp_path / "expiring.pem", expiring)
    env = extra_env(home, extra, SSL_CERT_FILE=str(os_store))
    first = probe(env)
    assert der_of(expiring) in bundle_ders(Path(first["where"]).read_text("ascii"))
    not_after = x509.load_pem_x509_certificate(expiring).not_valid_after_utc.timestamp()
    while time.time() < not_after + 1.5:  # waits past the expiry; asserts nothing about time
        time.sleep(0.25)
    second = probe(env)
    assert second["where"] == first["where"]
    assert der_of(expiring) not in bundle_ders(Path(second["where"]).read_text("ascii"))
    assert [d["reason"].split(" on ")[0] for d in second["info"]["dropped"]] == ["expired"]


def test_unknown_mode_is_a_note_and_system_behaviour(home: Path, os_store: Path, other_ca: trustme.CA) -> None:
    env = clean_env(home, CERTIFI_NATIVE_MODE="bogus", SSL_CERT_FILE=str(os_store))
    seen = probe(env)
    report = seen["info"]
    assert report["mode_requested"] == "bogus" and report["mode"] == "system"
    assert any("bogus" in note and "system" in note for note in report["notes"]), report["notes"]
    assert bundle_ders(Path(seen["where"]).read_text("ascii")) == [der_of(other_ca.cert_pem.bytes())]
    system = probe(clean_env(home, SSL_CERT_FILE=str(os_store)))
    assert system["where"] == seen["where"], "an unknown mode is the system bundle"


def test_rendering_is_certifi_style_ascii_and_lf(tmp_path: Path, home: Path, os_store: Path) -> None:
    accented = trustme.CA(organization_name="Caf\u00e9 \u00d1and\u00fa \u4e2d\u6587 test CA")
    extra = write_pem(tmp_path / "accented.pem", accented.cert_pem.bytes())
    seen = probe(extra_env(home, extra, CERTIFI_NATIVE_MODE="merged", SSL_CERT_FILE=str(os_store)))
    raw = Path(seen["where"]).read_bytes()
    raw.decode("ascii")  # pure ASCII
    assert b"\r" not in raw and raw.endswith(b"-----END CERTIFICATE-----\n")
    text = raw.decode("ascii")
    assert "Caf\\u{e9} \\u{d1}and\\u{fa} \\u{4e2d}\\u{6587} test CA" in text
    entries = text.split("\n\n")[1:]  # the header, then one entry per root
    assert len(entries) == seen["info"]["roots"] == openssl_roots(seen["where"]) > 100
    for entry in entries:
        lines = entry.splitlines()
        assert lines[0].startswith("# Subject: ") and lines[1].startswith("# Source: ")
        assert lines[2].startswith("# SHA256 Fingerprint: ")
        assert lines[3] == "-----BEGIN CERTIFICATE-----" and lines[-1] == "-----END CERTIFICATE-----"
        body = lines[4:-1]
        assert all(len(line) == 64 for line in body[:-1]) and 0 < len(body[-1]) <= 64
        (der,) = bundle_ders(entry + "\n")
        assert lines[2] == "# SHA256 Fingerprint: " + ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())
    assert entries[-1].splitlines()[1] == f"# Source: extra ({extra})"


def test_same_inputs_give_the_same_bytes(tmp_path: Path, home: Path, ca: trustme.CA, os_store: Path) -> None:
    extra = write_pem(tmp_path / "extra.pem", ca.cert_pem.bytes())
    builds = [
        Path(probe(extra_env(home, extra, SSL_CERT_FILE=str(os_store), CERTIFI_NATIVE_CACHE_DIR=str(tmp_path / d)))["where"])
        for d in ("cache-a", "cache-b")
    ]
    assert builds[0].parent != builds[1].parent
    assert builds[0].read_bytes() == builds[1].read_bytes()


REFRESH_KEEPS = """
import json, os, certifi_native as c
def state():
    path = c.where()
    st = os.stat(path)
    return [path, st.st_ino, st.st_mtime_ns, open(path, "rb").read().hex()]
before = state()
c.refresh()
print(json.dumps({"unchanged": before == state()}))
"""


def test_refresh_leaves_an_unchanged_bundle_alone(home: Path, os_store: Path) -> None:
    assert probe(clean_env(home, SSL_CERT_FILE=str(os_store)), code=REFRESH_KEEPS) == {"unchanged": True}


def test_packaged_cacert_is_the_compiled_in_mozilla_set() -> None:
    package = Path(certifi_native.__file__).parent
    assert (package / "cacert.pem").read_text("ascii") == _native.packaged_mozilla_text()
    assert openssl_roots(package / "cacert.pem") >= 100
