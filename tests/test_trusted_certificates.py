"""OpenSSL's TRUSTED CERTIFICATE blocks (a certificate followed by trust and
reject lists: ``openssl x509 -addtrust/-addreject``, Fedora's
ca-bundle.trust.crt) are read, and judged for TLS servers as OpenSSL judges
them: what OpenSSL would refuse to trust for serverAuth is left out."""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import ssl
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit

import pytest
import trustme
from conftest import bundle_ders, clean_env, colon_sha256, der_of, https_server, probe, run, run_with_store, write_pem
from test_subject_hash import openssl_hash

# (trust options for `openssl x509`, kept by certifi-native and by OpenSSL?)
SETTINGS = {
    "trust serverAuth": (["-addtrust", "serverAuth"], True),
    "reject serverAuth": (["-addreject", "serverAuth"], False),
    "trust emailProtection": (["-addtrust", "emailProtection"], False),
    "trust anyExtendedKeyUsage": (["-addtrust", "anyExtendedKeyUsage"], True),
    "reject anyExtendedKeyUsage": (["-addreject", "anyExtendedKeyUsage"], False),
    "reject emailProtection only": (["-addreject", "emailProtection"], True),
    "trust clientAuth and serverAuth": (["-addtrust", "clientAuth", "-addtrust", "serverAuth"], True),
}


def trusted_block(ca: trustme.CA, options: list[str], home: Path) -> bytes:
    proc = run(["openssl", "x509", *options, "-trustout"], clean_env(home), input=ca.cert_pem.bytes().decode("ascii"))
    assert proc.stdout.startswith("-----BEGIN TRUSTED CERTIFICATE-----"), proc.stdout
    return proc.stdout.encode("ascii")


def handshake_ok(cafile: str | None, url: str) -> bool:
    """Whether OpenSSL (Python's ssl), trusting only ``cafile`` (None: OpenSSL's
    default file and folder, the OS store), accepts the server at ``url``."""
    context = ssl.create_default_context(cafile=cafile)
    port = urlsplit(url).port
    assert port is not None
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        try:
            with context.wrap_socket(sock, server_hostname="localhost"):
                return True
        except ssl.SSLCertVerificationError:
            return False


@contextlib.contextmanager
def servers(cas: list[trustme.CA]) -> Iterator[list[str]]:
    with contextlib.ExitStack() as stack:
        yield [stack.enter_context(https_server(ca.issue_cert("localhost"))) for ca in cas]


@pytest.fixture(scope="module")
def cas() -> dict[str, trustme.CA]:
    return {label: trustme.CA(organization_name=f"certifi-native {label} CA") for label in SETTINGS}


def test_trust_settings_decide_as_openssl_does(cas: dict[str, trustme.CA], tmp_path: Path, home: Path) -> None:
    blocks = [trusted_block(cas[label], options, home) for label, (options, _) in SETTINGS.items()]
    store = write_pem(tmp_path / "trusted.pem", *blocks)
    seen = probe(clean_env(home, SSL_CERT_FILE=str(store)))
    where = seen["where"]
    ders = bundle_ders(Path(where).read_text("ascii"))
    expected = [der_of(cas[label].cert_pem.bytes()) for label, (_, kept) in SETTINGS.items() if kept]
    assert sorted(ders) == sorted(expected), "the kept ones, as plain CERTIFICATE blocks"
    assert "TRUSTED" not in Path(where).read_text("ascii")
    report = seen["info"]
    assert not report["mozilla_fallback"] and report["errors"] == []
    reasons = [d["reason"] for d in report["dropped"]]
    assert sorted(reasons) == sorted(
        [
            "OpenSSL trust settings reject it for serverAuth",
            "OpenSSL trust settings trust it only for emailProtection, not serverAuth",
            "OpenSSL trust settings reject it for anyExtendedKeyUsage",
        ]
    )
    # A server signed by each CA: through where() exactly as through OpenSSL with the file.
    with servers(list(cas.values())) as urls:
        for (label, (_, kept)), url in zip(SETTINGS.items(), urls):
            assert handshake_ok(where, url) is kept, label
            assert handshake_ok(str(store), url) is kept, f"{label}: OpenSSL disagrees"


def test_the_three_cas_of_the_issue(cas: dict[str, trustme.CA], tmp_path: Path, home: Path) -> None:
    labels = ["trust serverAuth", "reject serverAuth", "trust emailProtection"]
    store = write_pem(tmp_path / "three.pem", *[trusted_block(cas[label], SETTINGS[label][0], home) for label in labels])
    seen = probe(clean_env(home, SSL_CERT_FILE=str(store)))
    assert bundle_ders(Path(seen["where"]).read_text("ascii")) == [der_of(cas[labels[0]].cert_pem.bytes())]
    with servers([cas[label] for label in labels[:2]]) as (first, second):
        assert handshake_ok(seen["where"], first) and handshake_ok(str(store), first)
        assert not handshake_ok(seen["where"], second) and not handshake_ok(str(store), second)


def test_trusted_blocks_in_a_folder_and_an_extra_file(cas: dict[str, trustme.CA], tmp_path: Path, home: Path) -> None:
    folder = tmp_path / "certs"
    write_pem(folder / "ok.pem", trusted_block(cas["trust serverAuth"], SETTINGS["trust serverAuth"][0], home))
    write_pem(folder / "rejected.pem", trusted_block(cas["reject serverAuth"], SETTINGS["reject serverAuth"][0], home))
    extra = write_pem(
        tmp_path / "extra.pem", trusted_block(cas["trust emailProtection"], SETTINGS["trust emailProtection"][0], home)
    )
    seen = probe(clean_env(home, SSL_CERT_DIR=str(folder), CERTIFI_NATIVE_EXTRA_CA_CERTS=str(extra)))
    assert bundle_ders(Path(seen["where"]).read_text("ascii")) == [der_of(cas["trust serverAuth"].cert_pem.bytes())]
    sources = sorted((d["source"], d["reason"].split(" for ")[0]) for d in seen["info"]["dropped"])
    assert sources == [
        (f"extra ({extra})", "OpenSSL trust settings trust it only"),
        ("system", "OpenSSL trust settings reject it"),
    ]


# In the OS store: where() and info(), and for each server URL of argv[1]
# whether OpenSSL accepts it through where() and through the store itself.
STORE_PROBE = r"""
import json, sys, certifi_native as c
from test_trusted_certificates import handshake_ok
urls = json.loads(sys.argv[1])
print(json.dumps({"where": c.where(), "info": c.info(),
                  "through_where": [handshake_ok(c.where(), url) for url in urls],
                  "through_store": [handshake_ok(None, url) for url in urls]}))
"""


@pytest.mark.usefixtures("namespaces")
def test_trusted_blocks_in_the_os_store(cas: dict[str, trustme.CA], tmp_path: Path, home: Path) -> None:
    # Debian's layout: the bundle file holds two blocks, and hashed files (the
    # names OpenSSL looks up by subject) one block each, in their own store.
    in_bundle = ["trust serverAuth", "reject serverAuth"]
    in_hashed_files = ["trust emailProtection", "trust anyExtendedKeyUsage", "reject anyExtendedKeyUsage"]
    store = tmp_path / "store"
    write_pem(store / "ca-certificates.crt", *[trusted_block(cas[label], SETTINGS[label][0], home) for label in in_bundle])
    for label in in_hashed_files:
        write_pem(store / f"{openssl_hash(der_of(cas[label].cert_pem.bytes()), home)}.0", trusted_block(cas[label], SETTINGS[label][0], home))
    labels = in_bundle + in_hashed_files
    with servers([cas[label] for label in labels]) as urls:
        argv = [sys.executable, "-c", STORE_PROBE, json.dumps(urls)]
        seen = json.loads(run_with_store(store, argv, clean_env(home), cwd=Path(__file__).parent).stdout)
    kept = [SETTINGS[label][1] for label in labels]
    assert seen["through_store"] == kept, "OpenSSL's own judgement of the store"
    assert seen["through_where"] == kept, "where() trusts what the store trusts, no more, no less"
    ders = bundle_ders(Path(seen["where"]).read_text("ascii"))
    assert sorted(ders) == sorted(der_of(cas[label].cert_pem.bytes()) for label in labels if SETTINGS[label][1])
    report = seen["info"]
    assert not report["mozilla_fallback"] and report["errors"] == []
    assert [(s["name"], s["loaded"], s["kept"]) for s in report["sources"]] == [("system", 5, 2)]
    reasons = {
        "reject serverAuth": "OpenSSL trust settings reject it for serverAuth",
        "trust emailProtection": "OpenSSL trust settings trust it only for emailProtection, not serverAuth",
        "reject anyExtendedKeyUsage": "OpenSSL trust settings reject it for anyExtendedKeyUsage",
    }
    dropped = sorted((d["sha256"], d["reason"]) for d in report["dropped"])
    assert dropped == sorted((colon_sha256(der_of(cas[label].cert_pem.bytes())), why) for label, why in reasons.items())
