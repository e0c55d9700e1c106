"""Self-signed server certificates in the store or the extra files (subject ==
issuer, signed by their own key, cA=false) are kept: OpenSSL trusts such a
certificate for itself when it is in the store, and it can vouch for nothing
else. Other non-CA certificates are still dropped."""

from __future__ import annotations

import datetime
import json
import shutil
import ssl
import sys
from pathlib import Path
from typing import Any, cast

import pytest
import trustme
from conftest import (
    PrivateKey,
    build_cert,
    bundle_ders,
    colon_sha256,
    clean_env,
    https_server,
    probe,
    run,
    run_namespaced,
    write_pem,
    x509_name,
)
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

NOTE = "self-signed server certificate, trusted for itself only"


def self_signed_server(key: PrivateKey, name: str = "localhost") -> bytes:
    cert = build_cert(
        x509_name(name),
        key,
        ca=False,
        valid_from=datetime.timedelta(hours=-1),
        valid_until=datetime.timedelta(days=30),
        extensions=[(x509.SubjectAlternativeName([x509.DNSName(name)]), False)],
    )
    return cert.public_bytes(serialization.Encoding.DER)


def pem(der: bytes) -> bytes:
    return ssl.DER_cert_to_PEM_cert(der).encode("ascii")


def test_self_signed_server_certificates_are_kept_and_others_dropped(tmp_path: Path, home: Path, ca: trustme.CA) -> None:
    kept = {
        "RSA": self_signed_server(rsa.generate_private_key(65537, 2048), "rsa.example"),
        "P-256": self_signed_server(ec.generate_private_key(ec.SECP256R1()), "p256.example"),
        "P-384": self_signed_server(ec.generate_private_key(ec.SECP384R1()), "p384.example"),
        "Ed25519": self_signed_server(ed25519.Ed25519PrivateKey.generate(), "ed25519.example"),
    }
    forged = bytearray(self_signed_server(ec.generate_private_key(ec.SECP256R1()), "forged.example"))
    forged[-5] ^= 0x01  # inside the signature: self-issued, but its key does not sign it
    dropped = {  # name: (DER, the reason it is dropped)
        "forged.example": (bytes(forged), "not a CA: basicConstraints has cA=false, and its signature does not verify with its own key (not self-signed)"),
        "p521.example": (
            self_signed_server(ec.generate_private_key(ec.SECP521R1()), "p521.example"),
            "not a CA: basicConstraints has cA=false; self-issued, but ECDSA on a curve other than P-256 and P-384 "
            "is not one certifi-native can verify (RSA PKCS #1 v1.5, ECDSA P-256/P-384, Ed25519)",
        ),
        "leaf.example": (
            ssl.PEM_cert_to_DER_cert(ca.issue_cert("leaf.example").cert_chain_pems[0].bytes().decode()),
            "not a CA: basicConstraints has cA=false",
        ),
    }
    extra = write_pem(tmp_path / "servers.pem", *[pem(d) for d in kept.values()], *[pem(d) for d, _ in dropped.values()])
    store = write_pem(tmp_path / "store.pem", ca.cert_pem.bytes())
    seen = probe(clean_env(home, SSL_CERT_FILE=str(store), CERTIFI_NATIVE_EXTRA_CA_CERTS=str(extra)))
    ders = bundle_ders(Path(seen["where"]).read_text("ascii"))
    assert ders[1:] == list(kept.values())
    report = seen["info"]
    for name in ("rsa", "p256", "p384", "ed25519"):
        assert f"CN={name}.example: {NOTE}" in report["notes"], report["notes"]
    reasons = {d["sha256"]: d["reason"] for d in report["dropped"]}
    assert reasons == {colon_sha256(der): why for der, why in dropped.values()}


class _Files:
    """A server certificate and key from files, for conftest.https_server."""

    def __init__(self, cert: Path, key: Path) -> None:
        self.cert, self.key = cert, key

    def configure_cert(self, context: ssl.SSLContext) -> None:
        context.load_cert_chain(self.cert, self.key)


CLIENT = r"""
import json, sys, certifi_native, requests
url, out = sys.argv[1], {}
for name, verify in [("where", certifi_native.where()), ("capath", certifi_native.capath())]:
    try:
        out[name] = requests.get(url, verify=verify, timeout=60).text
    except Exception as err:
        out[name] = repr(err)
out["notes"] = certifi_native.info()["notes"]
print(json.dumps(out))
"""


@pytest.mark.usefixtures("namespaces")
@pytest.mark.skipif(shutil.which("update-ca-certificates") is None, reason="not a Debian-like system")
def test_a_self_signed_server_added_with_update_ca_certificates(tmp_path: Path, env: dict[str, str]) -> None:
    # The admin's recipe: cp server.crt /usr/local/share/ca-certificates && update-ca-certificates.
    cert, key = tmp_path / "server.crt", tmp_path / "server.key"
    run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
            "-subj", "/CN=localhost", "-days", "30",
            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-addext", "basicConstraints=critical,CA:FALSE",
            "-addext", "extendedKeyUsage=serverAuth",
        ],
        env,
    )
    store, local, no_hooks = tmp_path / "store", tmp_path / "local", tmp_path / "hooks"
    for folder in (store, local, no_hooks):
        folder.mkdir()
    shutil.copy(cert, local / "internal-server.crt")
    setup = " && ".join(
        [
            f"mount --bind {store} /etc/ssl/certs",
            f"mount --bind {local} /usr/local/share/ca-certificates",
            f"mount --bind {no_hooks} /etc/ca-certificates/update.d",
            "update-ca-certificates >/dev/null",
            # OpenSSL's own view of that store: the certificate verifies.
            f"openssl verify -CApath /etc/ssl/certs {cert} >/dev/null",
        ]
    )
    with https_server(cast(Any, _Files(cert, key))) as url:
        proc = run_namespaced(setup, [sys.executable, "-c", CLIENT, url], env)
    seen = json.loads(proc.stdout)
    greeting = "hello from certifi-native tests\n"
    assert seen["where"] == greeting and seen["capath"] == greeting, seen
    assert f"CN=localhost: {NOTE}" in seen["notes"]
